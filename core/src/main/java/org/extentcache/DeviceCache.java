package org.extentcache;

import org.agrona.UnsafeApi;
import org.extentcache.frame.FrameArena;
import org.extentcache.frame.Handle;
import org.extentcache.index.DeviceIndex;
import org.extentcache.translate.StaleTranslationException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

import static org.extentcache.frame.FrameDescriptor.*;

/**
 * The cache of device blocks: frames ({@link FrameArena}) found by device block ({@link DeviceIndex}), loaded from
 * the {@link org.extentcache.device.BlockDevice} (or through the files: {@link BlockIo}) at most once per block
 * however many files and threads miss it, and reclaimed by a CLOCK sweep that needs no file context. File mappings sit on top ({@link ExtentCache}).
 *
 * <h2>Frame states and transitions</h2>
 * <pre>
 *   FREE --claim (lock; release store)--------------------&gt; LOADING, pins=1 (the loader), indexed
 *   LOADING --device read ok (CAS)------------------------&gt; UPTODATE
 *   LOADING --device read failed (lock; CAS)--------------&gt; ORPHAN, unindexed, error recorded for waiters
 *   LOADING/UPTODATE --invalidate(block) (lock; CAS)------&gt; ORPHAN, unindexed
 *   UPTODATE, pins=0, unreferenced --sweep (lock; CAS)----&gt; ORPHAN --&gt; unindexed, freed or reused at once
 *   ORPHAN, last unpin (CAS, then lock)--------------------&gt; FREE, generation + 1 (RETIRED if used up)
 *   UPTODATE, only the writer's pin --beginWrite (CAS)-----&gt; WRITING, no pins (readers wait, pins refused)
 *   WRITING --endWrite (release store)---------------------&gt; UPTODATE|DIRTY, generation + 1
 *   FREE --claimPrivate (lock)-----------------------------&gt; WRITING, unindexed: a frame being filled
 *   WRITING, unindexed --publish (lock)--------------------&gt; UPTODATE|DIRTY, indexed; any older frame of the
 *                                                              block is orphaned
 *   UPTODATE|DIRTY --writeback done (CAS)-------------------&gt; UPTODATE
 *   any frame: pin/unpin = CAS of the pin count at an unchanged generation and state
 * </pre>
 * Freeing always bumps the generation, so every handle to the frame goes stale at once. An in-place write bumps it
 * too: that is how an optimistic reader that copied while the writer wrote notices and reads again. Only the
 * writing file's mapping holds a valid handle to an unshared page's frame, and the writer refreshes it.
 *
 * <h2>Dirty frames</h2>
 * A dirty frame is never reclaimed (the sweep skips it) and never shared: the translator reports the page unshared
 * before the cache writes in place, and announces a clone with {@code beforeChange} so the cache writes the range
 * back first. Dirtiness changes only through {@link #casState}, which keeps {@link #dirtyFrames} exact.
 *
 * <h2>Concurrency</h2>
 * One allocation lock serializes index mutations, the free list, the CLOCK hand and invalidation: roughly 100 ns
 * of bookkeeping per miss. The device read itself runs outside the lock. Lookups take no lock: {@link #acquire}
 * first tries the index lock-free and pins the frame with one CAS; only a miss (or a lost race) takes the lock.
 * Threads that miss a block while another thread loads it pin the loading frame and wait on it alone
 * ({@link FrameWaiters}); the device is read once, and if the read fails every waiter gets the error.
 *
 * <h2>Reclaim</h2>
 * When the free list is empty a miss runs the CLOCK sweep under the lock: unpinned {@code UPTODATE} frames whose
 * reference bit is clear are reclaimed; referenced ones get a second chance. A frame is loaded with its bit clear
 * and earns it on its next hit, so a scan of pages read once does not force the sweep to clear every frame's bit
 * before it can evict one (the sweep stays O(1) per miss under a scan, and scans do not flush hot pages). Pinned and loading frames are skipped.
 * If nothing is reclaimable (every frame pinned, loading or dirty) the miss releases the lock, asks the
 * {@link RoomMaker} to write dirty frames back (any file's whose writer lock is free: written, synced, then
 * reclaimable) and tries again, backing off while nothing frees up; it fails after the claim timeout.
 *
 * <h2>Close</h2>
 * {@link #close()} frees the device index at once. The arena (frames and their records) is freed at once only if no
 * frame is pinned; otherwise every pinned frame is counted, and the unpin that releases the last of them frees the
 * arena, so a view over a pinned frame never points at freed memory. Holes are pinned to the JVM's one
 * {@link ZeroPage}, which is never freed.
 *
 * <h2>Costs</h2>
 * Found in the index: a hash, ~2.5 slot loads, two CASes (pin and unpin). Miss: the above, the lock, a free-list pop
 * or a sweep (amortized ~2 frames examined), a device read, a CAS and a monitor notify.
 */
final class DeviceCache implements AutoCloseable
{
    /** How long a miss waits for a reclaimable frame before giving up, unless the builder says otherwise. */
    static final long CLAIM_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(10);

    /** Writes dirty frames back when a claim finds nothing to reclaim. */
    interface RoomMaker
    {
        /**
         * Writes back (and syncs) the dirty pages of files whose writer lock can be had without waiting.
         *
         * @return true if any page was written back, so reclaim may find a frame now.
         */
        boolean makeRoom();
    }

    private final BlockIo io;
    private final FrameArena arena;
    private final DeviceIndex index;
    private final FrameWaiters waiters = new FrameWaiters(256);
    private final ReentrantLock lock = new ReentrantLock();
    /** Failed loads by handle, for the threads that waited on them; removed by the frame's last unpin. */
    private final ConcurrentHashMap<Long, LoadError> loadErrors = new ConcurrentHashMap<>();
    private final long claimTimeoutNanos;
    private final RoomMaker roomMaker;
    private final int[] victim = new int[1];
    /** Set under {@link #lock} by {@link #close()}; checked under it by callers that may race a close. */
    private volatile boolean closed;
    /** Set when the cache starts closing: a claim waiting for a frame gives up instead of holding close up. */
    private volatile boolean closing;
    /** Device syncs, one at a time, and the count of those that failed. */
    private final DeviceSync syncs;
    /** Frames still pinned when the cache closed; under {@link #lock}. The last one's unpin frees the arena. */
    private java.util.BitSet pinnedAtClose;

    final LongAdder sharingHits = new LongAdder();
    final LongAdder deviceReads = new LongAdder();
    final LongAdder reclaims = new LongAdder();
    final LongAdder invalidations = new LongAdder();
    final LongAdder loadFailures = new LongAdder();
    final LongAdder writebacks = new LongAdder();
    final LongAdder copyOnWrites = new LongAdder();
    final LongAdder writebackFailures = new LongAdder();
    final AtomicInteger dirtyFrames = new AtomicInteger();

    /**
     * @param onDeviceSyncFailure told of every failed sync of the whole device, once it is counted.
     */
    DeviceCache(final BlockIo io, final int pageSize, final int capacity, final long claimTimeoutNanos,
        final RoomMaker roomMaker, final java.util.function.Consumer<Throwable> onDeviceSyncFailure)
    {
        this.io = io;
        this.syncs = new DeviceSync(io, onDeviceSyncFailure);
        this.claimTimeoutNanos = claimTimeoutNanos;
        this.roomMaker = roomMaker;
        this.arena = new FrameArena(pageSize, capacity);
        try
        {
            this.index = new DeviceIndex(capacity, arena.metadata());
        }
        catch (final RuntimeException | OutOfMemoryError ex)
        {
            arena.close();
            throw ex;
        }
    }

    FrameArena arena()
    {
        return arena;
    }

    /**
     * Finds or loads a block's frame and pins it.
     *
     * @param block device block.
     * @param file  the file whose page maps the block (where a file-backed cache reads it).
     * @param page  that page.
     * @return a pinned handle to an {@code UPTODATE} frame holding the block; the caller must {@link #unpin} it.
     * @throws IOException if the device read failed (for this thread's load or the load it waited for).
     */
    long acquire(final long block, final long file, final long page) throws IOException
    {
        return acquire(block, file, page, Scratch.get());
    }

    /**
     * {@link #acquire(long, long, long)}, also telling the caller whether this thread read the device for it.
     *
     * @param block   device block.
     * @param file    the file whose page maps the block.
     * @param page    that page.
     * @param scratch this thread's scratch: {@code loaded} is set to whether the block was read from the device.
     * @return a pinned handle, as for {@link #acquire(long, long, long)}.
     * @throws IOException if the device read failed.
     */
    long acquire(final long block, final long file, final long page, final Scratch scratch) throws IOException
    {
        scratch.loaded = false;
        while (true)
        {
            ensureNotClosed();
            final int found = index.find(block);
            if (NO_FRAME != found)
            {
                final long handle = tryPin(found, block);
                if (Handle.NONE != handle)
                {
                    if (awaitUpToDate(handle, block, file))
                    {
                        sharingHits.increment();
                        arena.markReferenced(found);
                        return handle;
                    }
                    continue;
                }
            }

            final long[] claim = findOrClaim(block, true);
            final long handle = claim[0];
            if (BUSY == claim[1])
            {
                awaitChange(Handle.frame(handle), claim[2]);
                continue;
            }
            if (FOUND == claim[1])
            {
                if (awaitUpToDate(handle, block, file))
                {
                    sharingHits.increment();
                    arena.markReferenced(Handle.frame(handle));
                    return handle;
                }
                continue;
            }
            final long loaded = load(handle, block, file, page);
            if (Handle.NONE != loaded)
            {
                scratch.loaded = true;
                return loaded;
            }
        }
    }

    /**
     * Releases a pin taken by {@link #acquire}; frees the frame if it was orphaned and this was its last pin.
     *
     * @param handle the pinned handle.
     * @throws IllegalStateException if the handle holds no pin.
     */
    void unpin(final long handle)
    {
        final int frame = Handle.frame(handle);
        while (true)
        {
            final long word = arena.stateWord(frame);
            if (!Handle.matches(handle, word) || pins(word) == 0)
            {
                throw new IllegalStateException("unpin of a frame not pinned: " + Handle.toString(handle) +
                    " state=" + stateName(state(word)) + " pins=" + pins(word));
            }
            final long unpinned = word - 1;
            if (arena.casStateWord(frame, word, unpinned))
            {
                if (pins(unpinned) == 0 && state(unpinned) == ORPHAN)
                {
                    lock.lock();
                    try
                    {
                        loadErrors.remove(handle);
                        if (closed)
                        {
                            lastUnpinAfterCloseLocked(frame);
                        }
                        else
                        {
                            arena.free(frame, unpinned);
                        }
                    }
                    finally
                    {
                        lock.unlock();
                    }
                }
                return;
            }
        }
    }

    /**
     * Drops the cached copy of a block, if any: the block's contents changed on the device behind the cache, or the
     * block was freed. A frame still loading is orphaned so its bytes are never served; a pinned frame is orphaned
     * and freed by its last unpin.
     *
     * @param block device block.
     */
    void invalidate(final long block)
    {
        lock.lock();
        try
        {
            if (closed)
            {
                return;
            }
            final int frame = index.findLocked(block);
            if (NO_FRAME == frame)
            {
                return;
            }
            invalidations.increment();
            orphanLocked(block, frame);
        }
        finally
        {
            lock.unlock();
        }
    }

    /** For tests: the allocation lock, to show what does not wait for it. */
    ReentrantLock allocationLock()
    {
        return lock;
    }

    /**
     * Counts without the lock, for statistics and the books tests keep (see {@link FrameBooks#counts}).
     *
     * @return {@code {resident frames, free frames, retired frames, index entries}}.
     */
    int[] counts()
    {
        // no lock: each count is read opaquely, so statistics never wait for a miss (exact under the lock)
        return FrameBooks.counts(arena, index);
    }

    /**
     * Walks every frame under the lock and checks the books ({@link FrameBooks#check}).
     *
     * @return the first discrepancy, or {@code null}.
     */
    String checkBooks()
    {
        lock.lock();
        try
        {
            return FrameBooks.check(arena, index, dirtyFrames.get());
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * @return off-heap bytes of metadata reserved besides the frame records: the device index.
     */
    long indexBytesReserved()
    {
        return index.bytesReserved();
    }

    /**
     * Frees the device index, and the arena unless a frame is still pinned: then every pinned frame is orphaned and
     * counted, and the last of their unpins frees the arena (see the class comment). Idempotent.
     */
    @Override
    public void close()
    {
        lock.lock();
        try
        {
            if (closed)
            {
                return;
            }
            closed = true;
            index.close();
            final java.util.BitSet pinned = new java.util.BitSet();
            for (int frame = 0; frame < arena.capacity(); frame++)
            {
                while (true)
                {
                    final long word = arena.stateWord(frame);
                    if (pins(word) == 0)
                    {
                        break;
                    }
                    // orphaned in the same CAS that sees the pins: the unpin that takes the count to zero sees ORPHAN
                    // and comes to lastUnpinAfterCloseLocked
                    if (arena.casStateWord(frame, word, withState(word, ORPHAN)))
                    {
                        pinned.set(frame);
                        break;
                    }
                }
            }
            pinnedAtClose = pinned;
            if (pinned.isEmpty())
            {
                arena.close();
            }
        }
        finally
        {
            lock.unlock();
        }
    }

    /** The last pin of {@code frame} went after close; caller holds the lock. Frees the arena after the last one. */
    private void lastUnpinAfterCloseLocked(final int frame)
    {
        if (pinnedAtClose.get(frame))
        {
            pinnedAtClose.clear(frame);
            if (pinnedAtClose.isEmpty())
            {
                arena.close();
            }
        }
    }

    /**
     * Pins a frame found without the lock, if it still holds {@code block} and is loading or up to date (dirty or
     * not).
     *
     * @return the pinned handle, or {@link Handle#NONE} if the frame changed hands or is being written (take the
     * locked path).
     */
    private long tryPin(final int frame, final long block)
    {
        while (true)
        {
            final long word = arena.stateWord(frame);
            final int state = baseState(word);
            if ((state != UPTODATE && state != LOADING) || pins(word) == MAX_PINS || arena.deviceBlock(frame) != block)
            {
                return Handle.NONE;
            }
            if (arena.casStateWord(frame, word, word + 1))
            {
                return Handle.handle(frame, generation(word));
            }
        }
    }

    /** {@link #findOrClaim} outcome: an indexed frame, pinned. */
    private static final long FOUND = 0;
    /** {@link #findOrClaim} outcome: a frame claimed and indexed as LOADING with the caller's pin; load it. */
    private static final long CLAIMED = 1;
    /** {@link #findOrClaim} outcome: the indexed frame is being written; wait for its word to change. */
    private static final long BUSY = 2;
    /** {@link #findOrClaim} outcome: not indexed, and the caller did not ask to claim. */
    private static final long ABSENT = 3;

    /**
     * Under the lock: pins the block's indexed frame, or (if asked) claims a free frame and indexes it as
     * {@code LOADING} with the caller's pin.
     *
     * @return {@code {handle, outcome, stateWord}}; the outcome is {@link #FOUND}, {@link #CLAIMED}, {@link #BUSY}
     * (handle and word name the busy frame) or {@link #ABSENT}. Allocates: for miss paths only.
     */
    private long[] findOrClaim(final long block, final boolean claim)
    {
        final long deadline = System.nanoTime() + claimTimeoutNanos;
        int attempt = 0;
        while (true)
        {
            lock.lock();
            try
            {
                ensureIndexOpenLocked();
                final int found = index.findLocked(block);
                if (NO_FRAME != found)
                {
                    final long handle = tryPin(found, block);
                    if (Handle.NONE != handle)
                    {
                        return new long[]{handle, FOUND, 0};
                    }
                    // not pinnable: a writer holds it (beginWrite takes no lock, so it may have begun just now), or
                    // its pin count is full
                    final long word = arena.stateWord(found);
                    if (baseState(word) == WRITING)
                    {
                        return new long[]{Handle.handle(found, generation(word)), BUSY, word};
                    }
                    if (pins(word) == MAX_PINS)
                    {
                        throw new IllegalStateException("pin count overflow on frame " + found +
                            " for device block " + block + ": more than " + MAX_PINS + " pins");
                    }
                    continue; // the write ended between the two looks: look again
                }
                if (!claim)
                {
                    return new long[]{Handle.NONE, ABSENT, 0};
                }
                final int frame = claimLocked();
                if (NO_FRAME != frame)
                {
                    final long generation = generation(arena.stateWord(frame));
                    arena.deviceBlock(frame, block);
                    arena.putStateWordRelease(frame, packStateWord(generation, LOADING, 1));
                    index.insert(block, frame);
                    return new long[]{Handle.handle(frame, generation), CLAIMED, 0};
                }
            }
            finally
            {
                lock.unlock();
            }
            backOff(attempt++, deadline, block);
        }
    }

    /**
     * Claims a frame for a writer to fill before publishing it with {@link #publishDirty}: off the free list or
     * reclaimed, in state {@code WRITING}, unindexed, so neither readers nor the sweep can see it.
     *
     * @param block the device block it will hold (for messages).
     * @return the frame's handle (not pinned: the writer owns the frame outright).
     */
    long claimPrivate(final long block)
    {
        final long deadline = System.nanoTime() + claimTimeoutNanos;
        int attempt = 0;
        while (true)
        {
            lock.lock();
            try
            {
                ensureIndexOpenLocked();
                final int frame = claimLocked();
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
            backOff(attempt++, deadline, block);
        }
    }

    /**
     * Publishes a frame filled by its writer as the block's dirty frame. Any frame already indexed for the block is
     * orphaned: it holds older bytes (a copy-on-write of a pinned frame) or stale ones (a fresh block that somebody
     * loaded before it was reallocated).
     *
     * @param block  the device block.
     * @param handle a frame from {@link #claimPrivate}.
     */
    void publishDirty(final long block, final long handle)
    {
        final int frame = Handle.frame(handle);
        lock.lock();
        try
        {
            final int older = index.findLocked(block);
            if (NO_FRAME != older)
            {
                orphanLocked(block, older);
            }
            final long word = arena.stateWord(frame);
            index.insert(block, frame);
            casState(frame, word, packStateWord(generation(handle), UPTODATE | DIRTY, 0));
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
     * Finds a block's frame without loading it: the cached-or-nothing half of {@link #acquire}.
     *
     * @param block device block.
     * @return a pinned handle to the up-to-date frame, or {@link Handle#NONE} if the block is not cached.
     * @throws IOException if the block was loading and the load failed.
     */
    long lookup(final long block) throws IOException
    {
        while (true)
        {
            final long[] found = findOrClaim(block, false);
            if (ABSENT == found[1])
            {
                return Handle.NONE;
            }
            if (BUSY == found[1])
            {
                awaitChange(Handle.frame(found[0]), found[2]);
                continue;
            }
            if (awaitUpToDate(found[0], block, ANY_FILE))
            {
                return found[0];
            }
        }
    }

    /**
     * Takes a pinned frame for writing in place, if the caller's pin is the only one.
     *
     * @param handle a pinned handle from {@link #acquire} or {@link #lookup}.
     * @return true if the frame is now {@code WRITING} and the caller's pin became its ownership; false if others hold
     * pins too (the caller still holds its pin and must write to a new frame instead), or its generations are
     * nearly used up.
     */
    boolean beginWrite(final long handle)
    {
        final int frame = Handle.frame(handle);
        while (true)
        {
            final long word = arena.stateWord(frame);
            if (!Handle.matches(handle, word) || baseState(word) != UPTODATE || pins(word) != 1 ||
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
            if (casState(frame, word, packStateWord(generation, UPTODATE | DIRTY, 0)))
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
                if (casState(frame, current, withState(current, state(current) & ~DIRTY)))
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
                unpin(handle);
            }
        }
    }

    /**
     * Looks a block up without pinning or loading: a handle to its up-to-date frame as of now, for fault-around. The
     * handle may go stale at once; whoever uses it checks its generation.
     *
     * @param block device block.
     * @return a handle, or {@link Handle#NONE} if the block is not cached and up to date.
     */
    long peek(final long block)
    {
        final int frame = index.find(block);
        if (NO_FRAME == frame)
        {
            return Handle.NONE;
        }
        final long word = arena.stateWord(frame);
        if (baseState(word) != UPTODATE || arena.deviceBlock(frame) != block || arena.stateWord(frame) != word)
        {
            return Handle.NONE;
        }
        return Handle.handle(frame, generation(word));
    }

    /**
     * Pins the frame a file mapping's handle names, if the handle is still valid and the frame up to date: the
     * pinning counterpart of the optimistic file hit. One CAS.
     *
     * @param handle a handle from a file mapping.
     * @return true if pinned.
     */
    boolean pinHandle(final long handle)
    {
        final int frame = Handle.frame(handle);
        while (true)
        {
            final long word = arena.stateWord(frame);
            if (!Handle.matches(handle, word) || baseState(word) != UPTODATE || pins(word) == MAX_PINS)
            {
                return false;
            }
            if (arena.casStateWord(frame, word, word + 1))
            {
                return true;
            }
        }
    }

    /**
     * Takes one more pin on a frame the caller already pins, whatever its state now (a frame orphaned by a
     * copy-on-write or an invalidation while pinned keeps its bytes until its last unpin): for a view that outlives
     * the pin it was made from, such as a retained Netty buffer. Released with {@link #unpin}.
     *
     * @param handle a handle the caller holds a pin on.
     * @throws IllegalStateException if the handle holds no pin, or the frame's pin count is full.
     */
    void retain(final long handle)
    {
        final int frame = Handle.frame(handle);
        while (true)
        {
            final long word = arena.stateWord(frame);
            if (!Handle.matches(handle, word) || pins(word) == 0)
            {
                throw new IllegalStateException("retain of a frame not pinned: " + Handle.toString(handle) +
                    " state=" + stateName(state(word)) + " pins=" + pins(word));
            }
            if (pins(word) == MAX_PINS)
            {
                throw new IllegalStateException("pin count overflow on frame " + frame + ": more than " + MAX_PINS +
                    " pins");
            }
            if (arena.casStateWord(frame, word, word + 1))
            {
                return;
            }
        }
    }

    /**
     * @param handle a pinned handle, or {@link Handle#NONE} for the zero page.
     * @param length bytes to cover.
     * @return a new read-only buffer over the frame (or the zero page).
     */
    ByteBuffer pageView(final long handle, final int length)
    {
        return Handle.NONE == handle ? ZeroPage.view(length) :
            arena.frameBuffer(Handle.frame(handle)).limit(length).asReadOnlyBuffer();
    }

    /**
     * @return the address of a page of zeros that holes are pinned to; never written.
     */
    long zeroPageAddress()
    {
        return ZeroPage.ADDRESS;
    }

    /**
     * Counts frames with pins, for reporting leaks at close; takes the lock.
     *
     * @return frames whose pin count is not zero.
     */
    int pinnedFrames()
    {
        lock.lock();
        try
        {
            return FrameBooks.pinnedFrames(arena);
        }
        finally
        {
            lock.unlock();
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
            if (isDirty(word) || casState(frame, word, withState(word, state(word) | DIRTY)))
            {
                return true;
            }
        }
    }

    /**
     * Makes every completed device write durable, unless a sync failed since it was made (see
     * {@link #syncFailures()}).
     *
     * @throws IOException if the device cannot; the failure is counted.
     */
    void sync() throws IOException
    {
        syncs.sync();
    }

    /**
     * Makes the pages written back for {@code file} durable: a device sync shared with concurrent callers over a
     * block device, the file's own sync over files ({@link DeviceSync#syncFile}).
     *
     * @param file the file.
     * @return {@link #syncFailures()} as the sync that covered the caller completed.
     * @throws IOException if the sync fails; the failure is counted first.
     */
    long syncFile(final long file) throws IOException
    {
        return syncs.syncFile(file);
    }

    /**
     * @return syncs that failed so far. A write made when this read {@code n} is durable after a successful sync only
     * if this still reads {@code n} after that sync.
     */
    long syncFailures()
    {
        return syncs.failures();
    }

    /**
     * @return syncs that failed so far and may have dropped {@code file}'s written pages
     * ({@link DeviceSync#failuresCovering}): what a write-back of the file compares.
     */
    long syncFailuresCovering(final long file)
    {
        return syncs.failuresCovering(file);
    }

    /**
     * @return the most recent sync failure, or {@code null}.
     */
    Throwable lastSyncFailure()
    {
        return syncs.lastFailure();
    }

    /** The cache is closing: claims stop waiting for frames. */
    void closing()
    {
        closing = true;
    }

    /** Under the lock: {@link #close()} sets {@link #closed} under it, then frees the index. */
    private void ensureIndexOpenLocked()
    {
        if (closed)
        {
            throw new IllegalStateException("cache is closed");
        }
    }

    private void ensureNotClosed()
    {
        if (closing)
        {
            throw new IllegalStateException("cache is closed");
        }
    }

    /**
     * @param handle a handle.
     * @return the device block its frame holds, if the handle is still valid; else -1.
     */
    long blockOf(final long handle)
    {
        final int frame = Handle.frame(handle);
        final long word = arena.stateWord(frame);
        final long block = arena.deviceBlock(frame);
        return Handle.matches(handle, word) && arena.stateWord(frame) == word ? block : -1;
    }

    /**
     * Waits for a frame's state word to change from {@code word}: a writer is in it.
     */
    private void awaitChange(final int frame, final long word)
    {
        waiters.awaitChange(arena, frame, word);
    }

    /**
     * The one place a frame's state changes by CAS when dirtiness may change; keeps {@link #dirtyFrames} exact.
     */
    private boolean casState(final int frame, final long expected, final long update)
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

    /** Takes a frame out of the index for good; freed now if unpinned, else by its last unpin. Caller holds lock. */
    private void orphanLocked(final long block, final int frame)
    {
        index.remove(block, frame);
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

    private void backOff(final int attempt, final long deadline, final long block)
    {
        ensureNotClosed();
        if (roomMaker.makeRoom())
        {
            return; // dirty frames became clean: the sweep may take one now
        }
        if (System.nanoTime() - deadline > 0)
        {
            final int[] counts = counts();
            throw new IllegalStateException("no frame can be reclaimed for device block " + block +
                ": every one of " + arena.capacity() + " frames is pinned, loading or dirty (resident=" + counts[0] +
                " free=" + counts[1] + " retired=" + counts[2] + " dirty=" + dirtyFrames.get() +
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

    /** Free list first, else a CLOCK victim; caller holds the lock. */
    private int claimLocked()
    {
        int frame = arena.popFree();
        while (NO_FRAME == frame)
        {
            final long orphan = arena.sweep(2 * arena.capacity(), victim);
            if (-1 == orphan)
            {
                return NO_FRAME;
            }
            final int reclaimed = victim[0];
            index.remove(arena.deviceBlock(reclaimed), reclaimed);
            arena.free(reclaimed, orphan);
            reclaims.increment();
            frame = arena.popFree();
        }
        return frame;
    }

    /**
     * Reads the block into a frame this thread claimed, then publishes it.
     *
     * @return the pinned handle, or {@link Handle#NONE} if the block was invalidated meanwhile (try again).
     */
    private long load(final long handle, final long block, final long file, final long page) throws IOException
    {
        final int frame = Handle.frame(handle);
        UnsafeApi.storeFence(); // the claim's word change is visible before any byte the device read stores
        try
        {
            io.read(file, page, block, arena.transferBuffer(frame));
        }
        catch (final StaleTranslationException | ClosedByInterruptException ex)
        {
            // not the block's fault (the caller translates again, or this thread was interrupted): nothing recorded,
            // so waiters retry their own loads
            failLoad(handle, block, file, null);
            throw ex;
        }
        catch (final Throwable ex)
        {
            failLoad(handle, block, file, ex);
            if (ex instanceof IOException)
            {
                throw new IOException("reading device block " + block + " failed: " + ex.getMessage(), ex);
            }
            throw ex;
        }
        deviceReads.increment();
        while (true)
        {
            final long word = arena.stateWord(frame);
            if (baseState(word) != LOADING)
            {
                waiters.wakeAll(frame);
                unpin(handle);
                return Handle.NONE;
            }
            if (arena.casStateWord(frame, word, withState(word, UPTODATE)))
            {
                break;
            }
        }
        waiters.wakeAll(frame);
        return handle; // not marked referenced: the load is the first use; a later hit earns the second chance
    }

    /** Orphans a frame whose load failed ({@code cause}) or was abandoned ({@code cause == null}: nothing recorded). */
    private void failLoad(final long handle, final long block, final long file, final Throwable cause)
    {
        final int frame = Handle.frame(handle);
        if (null != cause)
        {
            loadFailures.increment();
            loadErrors.put(handle, new LoadError(file, cause instanceof IOException ?
                (IOException)cause : new IOException("device read raised " + cause, cause)));
        }
        lock.lock();
        try
        {
            while (true)
            {
                final long word = arena.stateWord(frame);
                if (baseState(word) != LOADING)
                {
                    break;
                }
                if (arena.casStateWord(frame, word, withState(word, ORPHAN)))
                {
                    index.remove(block, frame);
                    break;
                }
            }
        }
        finally
        {
            lock.unlock();
        }
        waiters.wakeAll(frame);
        unpin(handle);
    }

    /** {@link #awaitUpToDate}'s file for a waiter that reads through no file of its own ({@link #lookup}). */
    private static final long ANY_FILE = Long.MIN_VALUE;

    /**
     * A load's failure as its waiters see it. Read through one file ({@link BlockIo#readsThroughFiles()}), a failure
     * may be that file's own (closed, deleted, its descriptor failed): waiters missing the block through another
     * file then read it themselves instead of failing with it.
     */
    private record LoadError(long file, IOException failure)
    {
    }

    /**
     * Waits for a pinned frame to leave {@code LOADING}.
     *
     * @param file the file this waiter reads the block through, or {@link #ANY_FILE}.
     * @return true if it is up to date (the pin stays); false if it was invalidated, or its load failed through
     * another file whose failure may be its own (the pin is released; retry).
     * @throws IOException if its load failed (the pin is released).
     */
    private boolean awaitUpToDate(final long handle, final long block, final long file) throws IOException
    {
        final int frame = Handle.frame(handle);
        long word = arena.stateWord(frame);
        if (baseState(word) == LOADING)
        {
            waiters.awaitLoaded(arena, handle);
            word = arena.stateWord(frame);
        }
        if (baseState(word) == UPTODATE)
        {
            return true;
        }
        final LoadError failure = loadErrors.get(handle);
        unpin(handle);
        if (null == failure || ANY_FILE == file || (io.readsThroughFiles() && failure.file != file))
        {
            return false;
        }
        throw new IOException("reading device block " + block + " failed (in another thread's load): " +
            failure.failure.getMessage(), failure.failure);
    }
}
