package org.extentcache;

import org.extentcache.device.BlockDevice;
import org.extentcache.frame.FrameArena;
import org.extentcache.frame.Handle;
import org.extentcache.index.DeviceIndex;

import java.io.IOException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

import static org.extentcache.frame.FrameDescriptor.*;

/**
 * The cache of device blocks: frames ({@link FrameArena}) found by device block ({@link DeviceIndex}), loaded from
 * the {@link BlockDevice} at most once per block however many files and threads miss it, and reclaimed by a CLOCK
 * sweep that needs no file context. File mappings sit on top ({@link ExtentCache}).
 *
 * <h2>Frame states and transitions</h2>
 * <pre>
 *   FREE --claim (lock; release store)--------------------&gt; LOADING, pins=1 (the loader), indexed
 *   LOADING --device read ok (CAS)------------------------&gt; UPTODATE
 *   LOADING --device read failed (lock; CAS)--------------&gt; ORPHAN, unindexed, error recorded for waiters
 *   LOADING/UPTODATE --invalidate(block) (lock; CAS)------&gt; ORPHAN, unindexed
 *   UPTODATE, pins=0, unreferenced --sweep (lock; CAS)----&gt; ORPHAN --&gt; unindexed, freed or reused at once
 *   ORPHAN, last unpin (CAS, then lock)--------------------&gt; FREE, generation + 1 (RETIRED if used up)
 *   any frame: pin/unpin = CAS of the pin count at an unchanged generation and state
 * </pre>
 * Freeing always bumps the generation, so every handle to the frame goes stale at once.
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
 * reference bit is clear are reclaimed; referenced ones get a second chance. Pinned and loading frames are skipped.
 * If nothing is reclaimable (every frame pinned or loading) the miss releases the lock and backs off until a frame
 * frees up, failing after {@link #CLAIM_TIMEOUT_NANOS}.
 *
 * <h2>Costs</h2>
 * Found in the index: a hash, ~2.5 slot loads, two CASes (pin and unpin). Miss: the above, the lock, a free-list pop
 * or a sweep (amortized ~2 frames examined), a device read, a CAS and a monitor notify.
 */
final class DeviceCache implements AutoCloseable
{
    /** How long a miss waits for a reclaimable frame before giving up. */
    static final long CLAIM_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final BlockDevice device;
    private final FrameArena arena;
    private final DeviceIndex index;
    private final FrameWaiters waiters = new FrameWaiters(256);
    private final ReentrantLock lock = new ReentrantLock();
    private final ConcurrentHashMap<Long, IOException> loadErrors = new ConcurrentHashMap<>();
    private final int[] victim = new int[1];

    final LongAdder sharingHits = new LongAdder();
    final LongAdder deviceReads = new LongAdder();
    final LongAdder reclaims = new LongAdder();
    final LongAdder invalidations = new LongAdder();
    final LongAdder loadFailures = new LongAdder();

    DeviceCache(final BlockDevice device, final int pageSize, final int capacity)
    {
        this.device = device;
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
     * @return a pinned handle to an {@code UPTODATE} frame holding the block; the caller must {@link #unpin} it.
     * @throws IOException if the device read failed (for this thread's load or the load it waited for).
     */
    long acquire(final long block) throws IOException
    {
        while (true)
        {
            final int found = index.find(block);
            if (NO_FRAME != found)
            {
                final long handle = tryPin(found, block);
                if (Handle.NONE != handle)
                {
                    if (awaitUpToDate(handle, block))
                    {
                        sharingHits.increment();
                        arena.markReferenced(found);
                        return handle;
                    }
                    continue;
                }
            }

            final long[] claim = findOrClaim(block);
            final long handle = claim[0];
            if (0 == claim[1])
            {
                if (awaitUpToDate(handle, block))
                {
                    sharingHits.increment();
                    arena.markReferenced(Handle.frame(handle));
                    return handle;
                }
                continue;
            }
            final long loaded = load(handle, block);
            if (Handle.NONE != loaded)
            {
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
                        arena.free(frame, unpinned);
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
            final int frame = index.findLocked(block);
            if (NO_FRAME == frame)
            {
                return;
            }
            index.remove(block, frame);
            invalidations.increment();
            while (true)
            {
                final long word = arena.stateWord(frame);
                final long orphan = withState(word, ORPHAN);
                if (arena.casStateWord(frame, word, orphan))
                {
                    if (pins(orphan) == 0)
                    {
                        arena.free(frame, orphan);
                    }
                    return;
                }
            }
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * Counts under the lock, for statistics and the books tests keep.
     *
     * @return {@code {resident frames, free frames, retired frames, index entries}}.
     */
    int[] counts()
    {
        lock.lock();
        try
        {
            final int free = arena.freeCount();
            final int retired = arena.retiredCount();
            return new int[]{arena.capacity() - free - retired, free, retired, index.size()};
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * Walks every frame under the lock and checks the books.
     *
     * @return the first discrepancy, or {@code null}.
     */
    String checkBooks()
    {
        lock.lock();
        try
        {
            int free = 0;
            int retired = 0;
            int indexed = 0;
            for (int frame = 0; frame < arena.capacity(); frame++)
            {
                final long word = arena.stateWord(frame);
                final int state = state(word);
                if (pins(word) != 0)
                {
                    return "frame " + frame + " still pinned: pins=" + pins(word) + " state=" + stateName(state);
                }
                switch (state)
                {
                    case FREE:
                        free++;
                        break;
                    case RETIRED:
                        retired++;
                        break;
                    case UPTODATE:
                        indexed++;
                        final long block = arena.deviceBlock(frame);
                        if (index.findLocked(block) != frame)
                        {
                            return "frame " + frame + " holds block " + block + " but the index maps it to frame " +
                                index.findLocked(block);
                        }
                        break;
                    default:
                        return "frame " + frame + " left in state " + stateName(state) + " with no pin";
                }
            }
            if (free != arena.freeCount())
            {
                return "free frames " + free + " but the free list counts " + arena.freeCount();
            }
            if (retired != arena.retiredCount())
            {
                return "retired frames " + retired + " but the arena counts " + arena.retiredCount();
            }
            if (indexed != index.size())
            {
                return "up-to-date frames " + indexed + " but the index holds " + index.size() + " entries";
            }
            return null;
        }
        finally
        {
            lock.unlock();
        }
    }

    long indexBytesReserved()
    {
        return index.bytesReserved();
    }

    @Override
    public void close()
    {
        lock.lock();
        try
        {
            index.close();
            arena.close();
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * Pins a frame found without the lock, if it still holds {@code block} and is loading or up to date.
     *
     * @return the pinned handle, or {@link Handle#NONE} if the frame changed hands (take the locked path).
     */
    private long tryPin(final int frame, final long block)
    {
        while (true)
        {
            final long word = arena.stateWord(frame);
            final int state = state(word);
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

    /**
     * Under the lock: pins the block's indexed frame, or claims a free frame, indexes it as {@code LOADING} with the
     * caller's pin, and returns it for the caller to load.
     *
     * @return {@code {pinned handle, 0}} for a frame already indexed, or {@code {pinned handle, 1}} for a frame the
     * caller claimed and must load. Allocates: for the miss path only.
     */
    private long[] findOrClaim(final long block)
    {
        final long deadline = System.nanoTime() + CLAIM_TIMEOUT_NANOS;
        int backoff = 0;
        while (true)
        {
            lock.lock();
            try
            {
                final int found = index.findLocked(block);
                if (NO_FRAME != found)
                {
                    final long handle = tryPin(found, block);
                    if (Handle.NONE == handle)
                    {
                        throw new IllegalStateException("pin count overflow on frame " + found +
                            " for device block " + block + ": more than " + MAX_PINS + " pins");
                    }
                    return new long[]{handle, 0};
                }
                final int frame = claimLocked();
                if (NO_FRAME != frame)
                {
                    final long generation = generation(arena.stateWord(frame));
                    arena.deviceBlock(frame, block);
                    arena.putStateWordRelease(frame, packStateWord(generation, LOADING, 1));
                    index.insert(block, frame);
                    return new long[]{Handle.handle(frame, generation), 1};
                }
            }
            finally
            {
                lock.unlock();
            }
            if (System.nanoTime() - deadline > 0)
            {
                final int[] counts = counts();
                throw new IllegalStateException("no frame can be reclaimed for device block " + block +
                    ": every one of " + arena.capacity() + " frames is pinned or loading (resident=" + counts[0] +
                    " free=" + counts[1] + " retired=" + counts[2] + "); the cache is too small for the pins held");
            }
            backoff = Math.min(backoff + 1, 20);
            if (backoff < 10)
            {
                Thread.yield();
            }
            else
            {
                LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(50L << (backoff - 10)));
            }
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
    private long load(final long handle, final long block) throws IOException
    {
        final int frame = Handle.frame(handle);
        try
        {
            device.read(block, arena.frameBuffer(frame));
        }
        catch (final IOException | RuntimeException ex)
        {
            failLoad(handle, block, ex);
            if (ex instanceof RuntimeException)
            {
                throw (RuntimeException)ex;
            }
            throw new IOException("reading device block " + block + " failed: " + ex.getMessage(), ex);
        }
        deviceReads.increment();
        while (true)
        {
            final long word = arena.stateWord(frame);
            if (state(word) != LOADING)
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
        arena.markReferenced(frame);
        return handle;
    }

    private void failLoad(final long handle, final long block, final Exception cause)
    {
        final int frame = Handle.frame(handle);
        loadFailures.increment();
        loadErrors.put(handle, cause instanceof IOException ?
            (IOException)cause : new IOException("device read raised " + cause, cause));
        lock.lock();
        try
        {
            while (true)
            {
                final long word = arena.stateWord(frame);
                if (state(word) != LOADING)
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

    /**
     * Waits for a pinned frame to leave {@code LOADING}.
     *
     * @return true if it is up to date (the pin stays); false if it was invalidated (the pin is released; retry).
     * @throws IOException if its load failed (the pin is released).
     */
    private boolean awaitUpToDate(final long handle, final long block) throws IOException
    {
        final int frame = Handle.frame(handle);
        long word = arena.stateWord(frame);
        if (state(word) == LOADING)
        {
            waiters.awaitLoaded(arena, handle);
            word = arena.stateWord(frame);
        }
        if (state(word) == UPTODATE)
        {
            return true;
        }
        final IOException failure = loadErrors.get(handle);
        unpin(handle);
        if (null != failure)
        {
            throw new IOException("reading device block " + block + " failed (in another thread's load): " +
                failure.getMessage(), failure);
        }
        return false;
    }
}
