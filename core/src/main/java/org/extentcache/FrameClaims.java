package org.extentcache;

import org.extentcache.frame.FrameArena;
import org.extentcache.frame.Handle;
import org.extentcache.index.DeviceIndex;
import org.extentcache.merge.AliasTable;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

import static org.extentcache.frame.FrameDescriptor.*;

/**
 * Who holds a frame, as the allocation lock decides it: claiming a frame for a block (free list first, else the
 * CLOCK sweep), backing off while nothing is reclaimable, and orphaning a frame out of the device index. Also the one
 * place a frame's state changes by CAS when its dirtiness may change ({@link #casState}), which keeps
 * {@link #dirtyFrames} exact.
 *
 * <h2>Transitions</h2>
 * <pre>
 *   FREE --claim (lock; release store)--------------------&gt; LOADING, pins=1 (the loader), indexed
 *   UPTODATE, pins=0, unreferenced --sweep (lock; CAS)----&gt; ORPHAN --&gt; unindexed, freed or reused at once
 *   indexed frame --orphan (lock; CAS)--------------------&gt; ORPHAN, unindexed; freed now if unpinned and not
 *                                                           WRITING, else by its last unpin or its writer
 * </pre>
 * The claim's release store of the state word pairs with the acquire load of the word in
 * {@link PinCounts#tryPin} by a thread that found the frame in the index: it sees the block and the LOADING state
 * before it pins.
 *
 * <h2>Reclaim</h2>
 * When the free list is empty a claim runs the CLOCK sweep under the lock (see {@link DeviceCache}). If nothing is
 * reclaimable (every frame pinned, loading or dirty) the claim releases the lock, asks the
 * {@link DeviceCache.RoomMaker} to write dirty frames back and tries again, yielding and then parking with an
 * exponential back-off while nothing frees up; it fails after the claim timeout, or at once when the cache starts
 * closing.
 *
 * <h2>Costs</h2>
 * A claim: the lock, a free-list pop or a sweep (amortized ~2 frames examined), an index insert. {@link #findOrClaim}
 * allocates its three-long answer: miss paths only. A back-off round: a {@code makeRoom} pass over the files, then
 * a yield or a park of 50 µs doubling up to ~50 ms.
 *
 * <p>Thread-safe. Owned by its {@link DeviceCache}.
 */
final class FrameClaims
{
    /** {@link #findOrClaim} outcome: an indexed frame, pinned. */
    static final long FOUND = 0;
    /** {@link #findOrClaim} outcome: a frame claimed and indexed as LOADING with the caller's pin; load it. */
    static final long CLAIMED = 1;
    /** {@link #findOrClaim} outcome: the indexed frame is being written; wait for its word to change. */
    static final long BUSY = 2;
    /** {@link #findOrClaim} outcome: not indexed, and the caller did not ask to claim. */
    static final long ABSENT = 3;

    private final FrameArena arena;
    private final DeviceIndex index;
    private final ReentrantLock lock;
    private final PinCounts pins;
    private final long claimTimeoutNanos;
    private final DeviceCache.RoomMaker roomMaker;
    private final int[] victim = new int[1];
    private final LongAdder reclaims;
    private final AtomicInteger dirtyFrames;
    /** Merged frames whose remaining blocks moved to a copy when one of their blocks left ({@link #orphanLocked}). */
    final LongAdder rehomes = new LongAdder();
    /** Blocks served by a merged frame indexed under another block; null unless merging is on. */
    final AliasTable aliases;
    /** The cache's content merging, told of re-homes; null unless merging is on. Set once, before any claim. */
    private PageMerger merger;
    /** Set when the cache starts closing: a claim waiting for a frame gives up instead of holding close up. */
    private volatile boolean closing;

    FrameClaims(final FrameArena arena, final DeviceIndex index, final ReentrantLock lock, final PinCounts pins,
        final long claimTimeoutNanos, final DeviceCache.RoomMaker roomMaker, final LongAdder reclaims,
        final AtomicInteger dirtyFrames, final AliasTable aliases)
    {
        this.aliases = aliases;
        this.arena = arena;
        this.index = index;
        this.lock = lock;
        this.pins = pins;
        this.claimTimeoutNanos = claimTimeoutNanos;
        this.roomMaker = roomMaker;
        this.reclaims = reclaims;
        this.dirtyFrames = dirtyFrames;
    }

    /**
     * Under the lock: pins the block's indexed frame, or (if asked) claims a free frame and indexes it as
     * {@code LOADING} with the caller's pin.
     *
     * @param out receives {@code {handle, outcome, stateWord}}: the outcome is {@link #FOUND}, {@link #CLAIMED},
     *            {@link #BUSY} (handle and word name the busy frame) or {@link #ABSENT}. A thread's
     *            {@link Scratch#claim}, so the miss path allocates nothing.
     * @return the outcome.
     * @throws IllegalStateException if the cache is closed, no frame could be reclaimed before the claim timeout, or
     *                               the frame's pin count is full.
     */
    long findOrClaim(final long block, final boolean claim, final long[] out)
    {
        final long deadline = System.nanoTime() + claimTimeoutNanos;
        int attempt = 0;
        while (true)
        {
            lock.lock();
            try
            {
                pins.ensureOpenLocked();
                final int found = index.findLocked(block);
                if (NO_FRAME != found)
                {
                    final long handle = PinCounts.tryPin(arena, found, block);
                    if (Handle.NONE != handle)
                    {
                        return answer(out, handle, FOUND, 0);
                    }
                    // not pinnable: a writer holds it (beginWrite takes no lock, so it may have begun just now), or
                    // its pin count is full
                    final long word = arena.stateWord(found);
                    if (baseState(word) == WRITING)
                    {
                        return answer(out, Handle.handle(found, generation(word)), BUSY, word);
                    }
                    if (pins(word) == MAX_PINS)
                    {
                        throw new IllegalStateException("pin count overflow on frame " + found +
                            " for device block " + block + ": more than " + MAX_PINS + " pins");
                    }
                    continue; // the write ended between the two looks: look again
                }
                final long aliased = pinAliasLocked(block);
                if (Handle.NONE != aliased)
                {
                    return answer(out, aliased, FOUND, 0);
                }
                if (!claim)
                {
                    return answer(out, Handle.NONE, ABSENT, 0);
                }
                final int frame = claimLocked();
                if (NO_FRAME != frame)
                {
                    return answer(out, indexLoadingLocked(frame, block), CLAIMED, 0);
                }
            }
            finally
            {
                lock.unlock();
            }
            backOff(attempt++, deadline, block);
        }
    }

    private static long answer(final long[] out, final long handle, final long outcome, final long word)
    {
        out[0] = handle;
        out[1] = outcome;
        out[2] = word;
        return outcome;
    }

    /**
     * @return the deadline for a claim starting now.
     */
    long deadline()
    {
        return System.nanoTime() + claimTimeoutNanos;
    }

    /**
     * Free list first, else a CLOCK victim (unindexed and freed, then popped); caller holds the lock.
     *
     * @return the claimed frame, still FREE in its state word, or {@code NO_FRAME} if nothing is reclaimable.
     */
    int claimLocked()
    {
        int frame = arena.popFree();
        while (NO_FRAME == frame)
        {
            if (!reclaimOneLocked())
            {
                return NO_FRAME;
            }
            frame = arena.popFree();
        }
        return frame;
    }

    /**
     * Reclaims one frame the CLOCK sweep finds (unindexed and freed: on the free list, or parked if the arena is
     * over its limit); caller holds the lock.
     *
     * @return false if nothing is reclaimable.
     */
    boolean reclaimOneLocked()
    {
        final long orphan = arena.sweep(2 * arena.capacity(), victim);
        if (-1 == orphan)
        {
            return false;
        }
        final int reclaimed = victim[0];
        dropAliasesLocked(reclaimed);
        index.remove(arena.deviceBlock(reclaimed), reclaimed);
        arena.free(reclaimed, orphan);
        reclaims.increment();
        return true;
    }

    /**
     * Lowers or raises the frames in service ({@link FrameArena#limit(int)}), reclaiming frames over a lower limit
     * as the sweep finds them, and having dirty frames written back ({@link DeviceCache.RoomMaker}) while that
     * frees some.
     *
     * Never takes a pinned frame: pinned frames over the limit stay until their last unpin frees them. Pins are not
     * refused here, for the cache pins frames of its own (a load, a write-back until its sync returns) that the
     * caller cannot see.
     *
     * @param frames the new limit.
     * @return frames still in service over the limit (pinned, loading, dirty or being written): each is parked when
     * it is freed.
     * @throws IllegalArgumentException if {@code frames} is out of range.
     */
    int limit(final int frames)
    {
        int over;
        lock.lock();
        try
        {
            pins.ensureOpenLocked();
            over = arena.limit(frames);
        }
        finally
        {
            lock.unlock();
        }
        boolean wrote = true;
        while (over > 0 && wrote)
        {
            lock.lock();
            try
            {
                pins.ensureOpenLocked();
                over = arena.overLimit(); // frames freed meanwhile are parked already
                while (over > 0 && reclaimOneLocked())
                {
                    over = arena.overLimit();
                }
            }
            finally
            {
                lock.unlock();
            }
            wrote = over > 0 && roomMaker.makeRoom();
        }
        return over;
    }

    /**
     * A claim for a page nobody asked for yet (readahead), caller holds the lock: the free list, else a frame the
     * CLOCK sweep would take with its reference bit already clear ({@link FrameArena#sweepUnreferenced}); never a
     * frame used since the hand last passed, never a wait, never a write-back.
     *
     * @param budget frames the sweep may still examine, in element 0; decremented by those it examines.
     * @return the claimed frame, still FREE in its state word, or {@code NO_FRAME} if none can be had so.
     */
    int claimSpeculativeLocked(final int[] budget)
    {
        int frame = arena.popFree();
        if (NO_FRAME == frame)
        {
            final long orphan = arena.sweepUnreferenced(budget, victim);
            if (-1 == orphan)
            {
                return NO_FRAME;
            }
            final int reclaimed = victim[0];
            dropAliasesLocked(reclaimed);
            index.remove(arena.deviceBlock(reclaimed), reclaimed);
            arena.free(reclaimed, orphan);
            reclaims.increment();
            frame = arena.popFree();
        }
        return frame;
    }

    /**
     * Under the lock: indexes a frame just claimed ({@link #claimLocked}, {@link #claimSpeculativeLocked}) as
     * {@code LOADING} for {@code block}, with the loader's pin. The release store of the state word pairs with the
     * acquire load in {@link PinCounts#tryPin}, as in {@link #findOrClaim}.
     *
     * @return the pinned handle.
     */
    long indexLoadingLocked(final int frame, final long block)
    {
        final long generation = generation(arena.stateWord(frame));
        arena.deviceBlock(frame, block);
        arena.putStateWordRelease(frame, packStateWord(generation, LOADING, 1));
        index.insert(block, frame);
        return Handle.handle(frame, generation);
    }

    /**
     * Waits before a claim tries again (without the lock): has dirty frames written back, else yields or parks.
     *
     * @param attempt  the claim's attempts so far.
     * @param deadline from {@link #deadline()}.
     * @param block    the block being claimed for (for the message).
     * @throws IllegalStateException if the cache is closing, or the deadline passed with nothing reclaimable.
     */
    void backOff(final int attempt, final long deadline, final long block)
    {
        ensureNotClosing();
        if (roomMaker.makeRoom())
        {
            return; // dirty frames became clean: the sweep may take one now
        }
        if (System.nanoTime() - deadline > 0)
        {
            final int[] counts = FrameBooks.counts(arena, index);
            throw new IllegalStateException("no frame can be reclaimed for device block " + block +
                ": every one of " + (counts[0] + counts[1]) + " frames in service (capacity " + arena.limit() +
                " of " + arena.capacity() + " reserved) is pinned, loading or dirty (resident=" + counts[0] +
                " free=" + counts[1] + " retired=" + counts[2] + " parked=" + counts[4] + " dirty=" +
                dirtyFrames.get() +
                "); the cache is too small for the pins held, or the dirty pages' files stay locked by writers, " +
                "or their write-back fails (see writebackFailures)");
        }
        if (attempt < 10)
        {
            Thread.yield();
        }
        else
        {
            LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(50L << Math.min(attempt - 10, 10)));
        }
    }

    /**
     * Takes a frame out of the index for good, with every alias it had; freed now if unpinned, else by its last
     * unpin. Caller holds lock.
     */
    void orphanLocked(final long block, final int frame)
    {
        index.remove(block, frame);
        if (null != aliases && aliases.hasAliases(frame))
        {
            rehomeAliasesLocked(block, frame);
        }
        while (true)
        {
            final long word = arena.stateWord(frame);
            final long orphan = withState(word, ORPHAN);
            if (casState(frame, word, orphan))
            {
                if (pins(orphan) == 0 && baseState(word) != WRITING)
                {
                    arena.free(frame, orphan);
                }
                return;
            }
        }
    }

    /**
     * Under the lock: pins the frame {@code block} is an alias of, if it is one.
     *
     * @return the pinned handle, or {@link Handle#NONE} if {@code block} is no alias (or merging is off).
     * @throws IllegalStateException if the frame's pin count is full.
     */
    private long pinAliasLocked(final long block)
    {
        if (null == aliases)
        {
            return Handle.NONE;
        }
        final int frame = aliases.find(block);
        if (NO_FRAME == frame)
        {
            return Handle.NONE;
        }
        // a merged frame is clean and up to date while it has aliases: they are dropped before it leaves the index
        final long handle = PinCounts.tryPin(arena, frame, arena.deviceBlock(frame));
        if (Handle.NONE == handle)
        {
            throw new IllegalStateException("pin count overflow on merged frame " + frame + " for device block " +
                block + " (or the merged frame left its state: state=" +
                stateName(state(arena.stateWord(frame))) + ")");
        }
        return handle;
    }

    /**
     * Under the lock: the block is no longer an alias, if it was. Its merged frame is orphaned with its other
     * aliases, because a file may hold a handle to that frame for this block and only orphaning the frame makes such
     * a handle stale (see {@link PageMerger}).
     *
     * @param block device block.
     * @return true if it was an alias.
     */
    boolean invalidateAliasLocked(final long block)
    {
        if (null == aliases)
        {
            return false;
        }
        final int frame = aliases.remove(block);
        if (NO_FRAME == frame)
        {
            return false;
        }
        // the frame's own block still holds these bytes: it moves to the copy with the other aliases (the add cannot
        // fail, a record was just freed)
        final long own = arena.deviceBlock(frame);
        aliases.add(own, frame);
        orphanLocked(own, frame);
        return true;
    }

    /**
     * Under the lock, for a merged frame leaving the index for one of its blocks: moves the blocks it still serves
     * (its aliases) to a copy of it, so that they go on being served from memory, and only the block that left loses
     * it. The frame itself must be orphaned, because a file may hold a handle to it for the block that left; the copy
     * gets a new handle, found through the index. If no frame can be claimed for the copy, the aliases are dropped
     * instead (they read from the device again). The frame is out of the index already and stays up to date until
     * the caller orphans it; it is pinned while the copy is claimed, so the sweep cannot take it.
     */
    private void rehomeAliasesLocked(final long block, final int frame)
    {
        final long pin = PinCounts.tryPin(arena, frame, block);
        int copy = NO_FRAME;
        if (Handle.NONE != pin)
        {
            try
            {
                copy = claimLocked();
            }
            finally
            {
                pins.unpin(pin); // still up to date: the unpin frees nothing and takes no lock
            }
        }
        if (NO_FRAME == copy)
        {
            aliases.removeAll(frame);
            return;
        }
        final long key = aliases.popAlias(frame);
        org.agrona.UnsafeApi.copyMemory(arena.address(frame), arena.address(copy), arena.pageSize());
        for (long alias = aliases.popAlias(frame); AliasTable.NO_BLOCK != alias; alias = aliases.popAlias(frame))
        {
            aliases.add(alias, copy);
        }
        final long generation = generation(arena.stateWord(copy));
        arena.deviceBlock(copy, key);
        // the release store publishes the copied bytes and the block with the state; the index insert comes after
        arena.putStateWordRelease(copy, packStateWord(generation, aliases.hasAliases(copy) ? UPTODATE | MERGED :
            UPTODATE, 0));
        index.insert(key, copy);
        if (null != merger)
        {
            merger.rehomedLocked(frame, generation(arena.stateWord(frame)), copy, generation);
        }
        rehomes.increment();
    }

    /**
     * Under the lock: a write gave the block a frame of its own ({@link FrameWrites#publishDirty}), so it is no longer
     * an alias; the merged frame keeps serving the others. The writer's file is the only one that maps an unshared
     * block, and the writer replaces its own handle.
     *
     * @param block device block.
     * @return true if it was an alias.
     */
    boolean unaliasLocked(final long block)
    {
        return null != aliases && NO_FRAME != aliases.remove(block);
    }

    private void dropAliasesLocked(final int frame)
    {
        if (null != aliases)
        {
            aliases.removeAll(frame);
        }
    }

    /**
     * The one place a frame's state changes by CAS when dirtiness may change; keeps {@link #dirtyFrames} exact.
     *
     * @return true if the CAS succeeded.
     */
    boolean casState(final int frame, final long expected, final long update)
    {
        if (!arena.casStateWord(frame, expected, update))
        {
            return false;
        }
        if (isDirty(expected) != isDirty(update))
        {
            dirtyFrames.addAndGet(isDirty(update) ? 1 : -1);
        }
        return true;
    }

    /** Set by the {@link PageMerger} it serves, before the cache is in use. */
    void merger(final PageMerger merger)
    {
        this.merger = merger;
    }

    /** The cache is closing: claims stop waiting for frames. */
    void closing()
    {
        closing = true;
    }

    /**
     * @throws IllegalStateException if the cache started closing.
     */
    void ensureNotClosing()
    {
        if (closing)
        {
            throw new IllegalStateException("cache is closed");
        }
    }
}
