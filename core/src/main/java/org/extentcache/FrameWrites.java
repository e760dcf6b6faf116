package org.extentcache;

import org.agrona.UnsafeApi;
import org.extentcache.frame.FrameArena;
import org.extentcache.frame.Handle;
import org.extentcache.index.DeviceIndex;

import java.io.IOException;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;

import static org.extentcache.frame.FrameDescriptor.*;

/**
 * The write path's frame transitions: writing a frame in place, filling a private frame and publishing it as the
 * block's dirty frame (copy-on-write), writing a dirty frame back to its block, and marking it dirty again when the
 * sync after that write fails. Which page goes where, and under which writer lock, is {@link PageWriter}'s and
 * {@link FileWriteback}'s business; this class only moves frames between states.
 *
 * <h2>Transitions</h2>
 * <pre>
 *   UPTODATE, only the writer's pin --beginWrite (CAS)------&gt; WRITING, no pins (readers wait, pins refused)
 *   WRITING --endWrite (CAS)---------------------------------&gt; UPTODATE|DIRTY, generation + 1; waiters woken
 *   WRITING, orphaned meanwhile --endWrite (lock)-----------&gt; FREE; the write is dropped
 *   FREE --claimPrivate (lock; release store)---------------&gt; WRITING, unindexed: a frame being filled
 *   WRITING, unindexed --publishDirty (lock; CAS)-----------&gt; UPTODATE|DIRTY, indexed; any older frame of the
 *                                                               block is orphaned
 *   WRITING, unindexed --discardPrivate (lock)--------------&gt; FREE
 *   UPTODATE|DIRTY --writeback: pin (CAS), write, CAS-------&gt; UPTODATE (dirtyFrames - 1)
 *   UPTODATE --redirty (CAS)---------------------------------&gt; UPTODATE|DIRTY (dirtyFrames + 1)
 * </pre>
 * Memory orders: the store fence after {@code beginWrite}'s CAS (and after {@code claimPrivate}'s release store)
 * pairs with the optimistic reader's load fence before it re-reads the state word: a reader that copied a byte of
 * the write sees WRITING, or the later generation, and reads again. {@code endWrite}'s CAS to the next generation is
 * the release that the reader's re-read acquires. Every change of dirtiness goes through
 * {@link FrameClaims#casState}, which keeps the dirty count exact.
 *
 * <h2>Costs</h2>
 * An in-place write: two CASes and a wake-up, no lock. A copy-on-write: a claim (see {@link FrameClaims}), the lock
 * again to publish. A write-back: a pin CAS, a device write, a CAS, an unpin.
 *
 * <p>Thread-safe; each method's caller holds the writer lock of the file that owns the page. Owned by its
 * {@link DeviceCache}.
 */
final class FrameWrites
{
    private final BlockIo io;
    private final FrameArena arena;
    private final DeviceIndex index;
    private final ReentrantLock lock;
    private final FrameWaiters waiters;
    private final PinCounts pins;
    private final FrameClaims claims;
    private final LongAdder writebacks;
    private final LongAdder writebackFailures;

    FrameWrites(final BlockIo io, final FrameArena arena, final DeviceIndex index, final ReentrantLock lock,
        final FrameWaiters waiters, final PinCounts pins, final FrameClaims claims, final LongAdder writebacks,
        final LongAdder writebackFailures)
    {
        this.io = io;
        this.arena = arena;
        this.index = index;
        this.lock = lock;
        this.waiters = waiters;
        this.pins = pins;
        this.claims = claims;
        this.writebacks = writebacks;
        this.writebackFailures = writebackFailures;
    }

    /**
     * Claims a frame for a writer to fill before publishing it with {@link #publishDirty}: off the free list or
     * reclaimed, in state {@code WRITING}, unindexed, so neither readers nor the sweep can see it.
     *
     * @param block the device block it will hold (for messages).
     * @return the frame's handle (not pinned: the writer owns the frame outright, and must publish or
     * {@link #discardPrivate} it).
     * @throws IllegalStateException if the cache is closed, or no frame could be reclaimed before the claim timeout.
     */
    long claimPrivate(final long block)
    {
        final long deadline = claims.deadline();
        int attempt = 0;
        while (true)
        {
            lock.lock();
            try
            {
                pins.ensureOpenLocked();
                final int frame = claims.claimLocked();
                if (NO_FRAME != frame)
                {
                    final long generation = generation(arena.stateWord(frame));
                    arena.deviceBlock(frame, block);
                    arena.putStateWordRelease(frame, packStateWord(generation, WRITING, 0));
                    UnsafeApi.storeFence(); // pairs with the optimistic reader's loadFence: word first, then bytes
                    return Handle.handle(frame, generation);
                }
            }
            finally
            {
                lock.unlock();
            }
            claims.backOff(attempt++, deadline, block);
        }
    }

    /**
     * Publishes a frame filled by its writer as the block's dirty frame. Any frame already indexed for the block is
     * orphaned: it holds older bytes (a copy-on-write of a pinned frame) or stale ones (a fresh block that somebody
     * loaded before it was reallocated).
     *
     * @param block  the device block.
     * @param handle a frame from {@link #claimPrivate}.
     * @return true if the block was an alias of a merged frame until now: the merged frame stays valid for its other
     * blocks, so a reader of the writer's file that found it for this block may still install its handle; the writer
     * must make such an install fail (bump its mapping's version) before it installs its own.
     */
    boolean publishDirty(final long block, final long handle)
    {
        final int frame = Handle.frame(handle);
        lock.lock();
        try
        {
            final int older = index.findLocked(block);
            final boolean unaliased;
            if (NO_FRAME != older)
            {
                claims.orphanLocked(block, older);
                unaliased = false;
            }
            else
            {
                unaliased = claims.unaliasLocked(block);
            }
            final long word = arena.stateWord(frame);
            index.insert(block, frame);
            claims.casState(frame, word, packStateWord(generation(handle), UPTODATE | DIRTY, 0));
            return unaliased;
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * Frees a frame from {@link #claimPrivate} that will not be published.
     *
     * @param handle the frame.
     */
    void discardPrivate(final long handle)
    {
        final int frame = Handle.frame(handle);
        lock.lock();
        try
        {
            final long orphan = packStateWord(generation(handle), ORPHAN, 0);
            arena.putStateWordRelease(frame, orphan);
            arena.free(frame, orphan);
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * Takes a pinned frame for writing in place, if the caller's pin is the only one.
     *
     * @param handle a pinned handle from {@link DeviceCache#acquire} or {@link DeviceCache#lookup}.
     * @return true if the frame is now {@code WRITING} and the caller's pin became its ownership (end it with
     * {@link #endWrite}); false if others hold pins too (the caller still holds its pin and must write to a new
     * frame instead), or its generations are nearly used up.
     */
    boolean beginWrite(final long handle)
    {
        final int frame = Handle.frame(handle);
        while (true)
        {
            final long word = arena.stateWord(frame);
            if (!Handle.matches(handle, word) || baseState(word) != UPTODATE || pins(word) != 1 || isMerged(word) ||
                generation(word) + 1 >= MAX_GENERATION - 1)
            {
                return false;
            }
            final long writing = (word & ~(STATE_MASK << STATE_SHIFT) & ~PINS_MASK) |
                ((long)(WRITING | (state(word) & DIRTY)) << STATE_SHIFT);
            if (arena.casStateWord(frame, word, writing))
            {
                UnsafeApi.storeFence(); // readers that see a byte of the write see WRITING or later first
                return true;
            }
        }
    }

    /**
     * Ends an in-place write begun by {@link #beginWrite}: the frame becomes dirty at the next generation, so every
     * optimistic reader that copied during the write sees the word change and reads again.
     *
     * @param handle the handle given to {@link #beginWrite}.
     * @return the frame's new handle (not pinned), or {@link Handle#NONE} if the block was invalidated during the
     * write (its frame is freed and the write dropped with it, as if it had come just before the invalidation).
     */
    long endWrite(final long handle)
    {
        final int frame = Handle.frame(handle);
        final long generation = generation(handle) + 1;
        while (true)
        {
            final long word = arena.stateWord(frame);
            if (baseState(word) == ORPHAN)
            {
                lock.lock();
                try
                {
                    arena.free(frame, word);
                }
                finally
                {
                    lock.unlock();
                }
                waiters.wakeAll(frame);
                return Handle.NONE;
            }
            if (claims.casState(frame, word, packStateWord(generation, UPTODATE | DIRTY, 0)))
            {
                waiters.wakeAll(frame);
                return Handle.handle(frame, generation);
            }
        }
    }

    /**
     * Writes a dirty frame back to its block. The caller holds the writer lock of the file that owns the page, so no
     * write changes the frame meanwhile; readers may pin it.
     *
     * A concurrent pin or unpin of the frame only makes the pin CAS retry; the answer "nothing to do" is given only
     * for a frame that is really not a dirty, up-to-date copy of the handle's page any more.
     *
     * @param handle  the handle the file's dirty set holds.
     * @param keepPin true to return with the frame still pinned when it was written (the caller unpins it after the
     *                device sync, so the clean frame cannot be reclaimed before it is durable or dirty again).
     * @return true if the frame was written back; false if there was nothing to do (the handle went stale: the page
     * was remapped, punched or invalidated and its dirty bytes dropped with it; or the frame is clean).
     * @throws IOException if the device write failed; the frame stays dirty and is not left pinned.
     */
    boolean writeback(final long handle, final boolean keepPin) throws IOException
    {
        final int frame = Handle.frame(handle);
        while (true)
        {
            final long word = arena.stateWord(frame);
            if (!Handle.matches(handle, word) || baseState(word) != UPTODATE || !isDirty(word))
            {
                return false;
            }
            if (pins(word) == MAX_PINS)
            {
                Thread.onSpinWait();
                continue;
            }
            if (arena.casStateWord(frame, word, word + 1))
            {
                break;
            }
        }
        boolean written = false;
        try
        {
            io.write(arena.deviceBlock(frame), arena.transferBuffer(frame));
            writebacks.increment();
            while (true)
            {
                final long current = arena.stateWord(frame);
                if (claims.casState(frame, current, withState(current, state(current) & ~DIRTY)))
                {
                    written = true;
                    return true;
                }
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            writebackFailures.increment();
            throw ex;
        }
        finally
        {
            if (!written || !keepPin)
            {
                pins.unpin(handle);
            }
        }
    }

    /**
     * Marks a frame dirty again after its writeback could not be made durable (the device sync failed).
     *
     * @param handle the handle written back.
     * @return true if the frame was still valid and is dirty again.
     */
    boolean redirty(final long handle)
    {
        final int frame = Handle.frame(handle);
        while (true)
        {
            final long word = arena.stateWord(frame);
            if (!Handle.matches(handle, word) || baseState(word) != UPTODATE)
            {
                return false;
            }
            if (isDirty(word) || claims.casState(frame, word, withState(word, state(word) | DIRTY)))
            {
                return true;
            }
        }
    }
}
