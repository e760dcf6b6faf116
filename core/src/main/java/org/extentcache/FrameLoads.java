package org.extentcache;

import org.agrona.UnsafeApi;
import org.extentcache.frame.FrameArena;
import org.extentcache.frame.Handle;
import org.extentcache.index.DeviceIndex;
import org.extentcache.translate.StaleTranslationException;

import java.io.IOException;
import java.nio.channels.ClosedByInterruptException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;

import static org.extentcache.frame.FrameDescriptor.*;

/**
 * The miss path's second half: reading a block into the frame a miss claimed ({@link FrameClaims#findOrClaim}),
 * failing the load for its waiters, and waiting for a frame another thread loads. The device is read once per block
 * however many threads and files miss it meanwhile; they wait on that frame alone ({@link FrameWaiters}).
 *
 * <h2>Transitions</h2>
 * <pre>
 *   LOADING --device read ok (CAS)-------------------------&gt; UPTODATE; waiters woken
 *   LOADING --device read failed (lock; CAS)---------------&gt; ORPHAN, unindexed, error recorded for waiters
 *   LOADING --read abandoned: stale translation or interrupt-&gt; ORPHAN, unindexed, nothing recorded (waiters retry)
 * </pre>
 * The loader's store fence before the read pairs with the optimistic reader's load fence: a reader that sees a byte
 * of the block sees the claim's state word first. The loader's CAS to UPTODATE, then {@link FrameWaiters#wakeAll}
 * under the bucket's monitor, pairs with the waiter's re-read of the state word under that monitor.
 *
 * <h2>Load errors</h2>
 * A failed load records its error by handle, so every thread that waited on the frame gets it; the frame's last unpin
 * drops the record ({@link PinCounts#unpin}). Read through files ({@link BlockIo#readsThroughFiles()}), the failure
 * may be the loading file's own, so a waiter missing through another file retries with a load of its own.
 *
 * <h2>Costs</h2>
 * A load: a device read, a CAS and a monitor notify. A failed load: the lock, a map insert, a wake-up. A waiter: a
 * park on its frame's bucket until the loader's notify.
 *
 * <p>Thread-safe. Owned by its {@link DeviceCache}.
 */
final class FrameLoads
{
    /** {@link #awaitUpToDate}'s file for a waiter reading through no file of its own ({@link DeviceCache#lookup}). */
    static final long ANY_FILE = Long.MIN_VALUE;

    /**
     * A load's failure as its waiters see it. Read through one file ({@link BlockIo#readsThroughFiles()}), a failure
     * may be that file's own (closed, deleted, its descriptor failed): waiters missing the block through another
     * file then read it themselves instead of failing with it.
     */
    record LoadError(long file, IOException failure)
    {
    }

    private final BlockIo io;
    private final FrameArena arena;
    private final DeviceIndex index;
    private final ReentrantLock lock;
    private final FrameWaiters waiters;
    private final PinCounts pins;
    /** Failed loads by handle, for the threads that waited on them; removed by the frame's last unpin. */
    private final ConcurrentHashMap<Long, LoadError> loadErrors;
    private final LongAdder deviceReads;
    private final LongAdder loadFailures;

    FrameLoads(final BlockIo io, final FrameArena arena, final DeviceIndex index, final ReentrantLock lock,
        final FrameWaiters waiters, final PinCounts pins, final ConcurrentHashMap<Long, LoadError> loadErrors,
        final LongAdder deviceReads, final LongAdder loadFailures)
    {
        this.io = io;
        this.arena = arena;
        this.index = index;
        this.lock = lock;
        this.waiters = waiters;
        this.pins = pins;
        this.loadErrors = loadErrors;
        this.deviceReads = deviceReads;
        this.loadFailures = loadFailures;
    }

    /**
     * Reads the block into a frame this thread claimed, then publishes it.
     *
     * @param handle the claimed frame, pinned once by this thread.
     * @return the pinned handle, or {@link Handle#NONE} if the block was invalidated meanwhile (try again; the pin
     * is released).
     * @throws IOException if the device read failed (the frame is orphaned and the pin released).
     */
    long load(final long handle, final long block, final long file, final long page) throws IOException
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
                pins.unpin(handle);
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
    void failLoad(final long handle, final long block, final long file, final Throwable cause)
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
        pins.unpin(handle);
    }

    /**
     * Waits for a pinned frame to leave {@code LOADING}.
     *
     * @param file the file this waiter reads the block through, or {@link #ANY_FILE}.
     * @return true if it is up to date (the pin stays); false if it was invalidated, or its load failed through
     * another file whose failure may be its own (the pin is released; retry).
     * @throws IOException if its load failed (the pin is released).
     * @throws IllegalStateException if the cache began closing while the frame was loading (the pin is released).
     */
    boolean awaitUpToDate(final long handle, final long block, final long file) throws IOException
    {
        final int frame = Handle.frame(handle);
        long word = arena.stateWord(frame);
        if (baseState(word) == LOADING)
        {
            waiters.awaitLoaded(arena, handle);
            word = arena.stateWord(frame);
            if (baseState(word) == LOADING && Handle.matches(handle, word))
            {
                pins.unpin(handle); // given up: the cache is closing, and the loader may be the closing thread
                throw new IllegalStateException("cache is closed");
            }
        }
        if (baseState(word) == UPTODATE)
        {
            return true;
        }
        final LoadError failure = loadErrors.get(handle);
        pins.unpin(handle);
        if (null == failure || ANY_FILE == file || (io.readsThroughFiles() && failure.file != file))
        {
            return false;
        }
        throw new IOException("reading device block " + block + " failed (in another thread's load): " +
            failure.failure.getMessage(), failure.failure);
    }

    /** The cache is closing: waits for a load give up ({@link FrameWaiters#closing}). */
    void closing()
    {
        waiters.closing();
    }

    /**
     * Waits for a frame's state word to change from {@code word}: a writer is in it.
     */
    void awaitChange(final int frame, final long word)
    {
        waiters.awaitChange(arena, frame, word);
    }
}
