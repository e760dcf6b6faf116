package org.extentcache;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Device syncs, one at a time, and the count of those that failed: what tells a write-back whether a sync that
 * succeeded vouches for its pages.
 *
 * <h2>Why count failures</h2>
 * A sync that succeeds proves nothing about a write made before a sync that failed: Linux reports a failed
 * {@code fsync} once and may have dropped the pages with it, so the next {@code fsync} succeeds without them. A
 * write-back therefore reads {@link #failures()} before it writes and trusts its sync only if the count has not
 * moved by the time the sync returned ({@link FileWriteback}).
 *
 * <h2>Why one at a time</h2>
 * So that a sync that fails is counted before any other sync's success can be read: two overlapping syncs could
 * otherwise see the second succeed, and be trusted, before the first's failure is counted. Syncs are expensive and
 * rare next to writes; serializing them costs the overlap of concurrent syncs, nothing on any other path.
 */
final class DeviceSync
{
    private final BlockIo io;
    private final ReentrantLock lock = new ReentrantLock();
    private final AtomicLong failures = new AtomicLong();
    /** The last sync's failure, for the callers whose writes it may have dropped. */
    private volatile Throwable lastFailure;

    DeviceSync(final BlockIo io)
    {
        this.io = io;
    }

    /**
     * Makes every completed device write durable, unless a sync failed since it was made.
     *
     * @throws IOException if the device cannot; the failure is counted first.
     */
    void sync() throws IOException
    {
        lock.lock();
        try
        {
            io.sync();
        }
        catch (final Throwable ex)
        {
            // an Error too (a mapped device's I/O fault raises InternalError): whatever the sync did is unknown
            lastFailure = ex;
            failures.incrementAndGet();
            throw ex;
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * @return syncs that failed so far. A write made when this read {@code n} is durable after a successful sync only
     * if this still reads {@code n} after that sync.
     */
    long failures()
    {
        return failures.get();
    }

    /**
     * @return the most recent sync failure, or {@code null} if none: the cause to give a caller whose writes an
     * earlier failed sync may have dropped.
     */
    Throwable lastFailure()
    {
        return lastFailure;
    }
}
