package org.extentcache;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Device syncs, shared by the callers that wait for them at the same time (group commit), and the count of those
 * that failed: what tells a write-back whether a sync that succeeded vouches for its pages.
 *
 * <h2>Why count failures</h2>
 * A sync that succeeds proves nothing about a write made before a sync that failed: Linux reports a failed
 * {@code fsync} once and may have dropped the pages with it, so the next {@code fsync} succeeds without them. A
 * write-back therefore reads {@link #failuresCovering} before it writes and trusts its sync only if the count has
 * not moved by the time the sync returned ({@link FileWriteback}). Over files that count is of the syncs that could
 * have dropped the file's pages: whole syncs and those of its stripe, not another file's.
 *
 * <h2>Why one at a time</h2>
 * So that a sync that fails is counted before any other sync's success can be read: two overlapping syncs could
 * otherwise see the second succeed, and be trusted, before the first's failure is counted. Over a block device every
 * sync is of the whole device, so they run one at a time. Over files ({@link BlockIo#readsThroughFiles()}) a
 * file's sync covers only that file, whose failure cannot drop another file's pages: syncs of one file run one at a
 * time (a lock stripe per file), syncs of different files overlap, and a sync of every file excludes them all.
 *
 * <h2>Group commit</h2>
 * A caller takes a ticket once its writes are done. A sync that starts after the ticket was taken covers those
 * writes, so a caller that finds one such sync just finished, while it waited for the lock, returns its result
 * instead of syncing again: N files flushed together over one device cost one device sync, not N. A caller
 * covered only by an older sync (another one ran since) syncs again rather than guess that older one's result.
 */
final class DeviceSync
{
    private static final int FILE_STRIPES = 64;

    private final BlockIo io;
    /** Told of every failed whole sync, after it is counted: the translator ({@code Translator#deviceSyncFailed}). */
    private final java.util.function.Consumer<Throwable> onDeviceSyncFailure;
    private final AtomicLong failures = new AtomicLong();
    /** Whole syncs ({@link #sync()}) that failed. */
    private final AtomicLong deviceFailures = new AtomicLong();
    /** Over files: per stripe, syncs of a file of that stripe that failed. */
    private final AtomicLongArray stripeFailures;
    private final AtomicLong tickets = new AtomicLong();
    /** Whole-device syncs (and, over files, syncs of every file) take it exclusively. */
    private final ReentrantReadWriteLock devices = new ReentrantReadWriteLock();
    private final ReentrantLock[] fileStripes;
    /** The last device sync covered the tickets in {@code (lastFrom, lastTo]}; guarded by the write lock. */
    private long lastFrom;
    private long lastTo;
    private Throwable lastRangeFailure;
    /** {@link #failures} when the last device sync succeeded; guarded by the write lock. */
    private long lastRangeFailures;
    /** The last sync's failure, for the callers whose writes it may have dropped. */
    private volatile Throwable lastFailure;

    DeviceSync(final BlockIo io, final java.util.function.Consumer<Throwable> onDeviceSyncFailure)
    {
        this.io = io;
        this.onDeviceSyncFailure = onDeviceSyncFailure;
        this.fileStripes = new ReentrantLock[io.readsThroughFiles() ? FILE_STRIPES : 0];
        this.stripeFailures = new AtomicLongArray(fileStripes.length);
        for (int i = 0; i < fileStripes.length; i++)
        {
            fileStripes[i] = new ReentrantLock();
        }
    }

    /**
     * Makes every completed write durable, unless a sync failed since it was made.
     *
     * @return {@link #failuresCovering} (whole syncs that failed) as the sync that covered the caller completed: a
     * write made when the count read
     * the same is durable. A later sync's failure cannot drop what this one made durable.
     * @throws IOException if the device cannot; the failure is counted first.
     */
    long sync() throws IOException
    {
        final long ticket = tickets.incrementAndGet();
        devices.writeLock().lock();
        try
        {
            if (ticket > lastFrom && ticket <= lastTo)
            {
                if (null != lastRangeFailure)
                {
                    // a fresh exception per caller: one thrown object must not be shared by several threads
                    throw new IOException("device sync failed: " + lastRangeFailure, lastRangeFailure);
                }
                return lastRangeFailures; // a sync that started after this caller's writes has just succeeded
            }
            final long upTo = tickets.get();
            lastFrom = lastTo;
            lastTo = upTo;
            lastRangeFailure = null;
            try
            {
                io.sync();
            }
            catch (final Throwable ex)
            {
                lastRangeFailure = ex;
                failed(ex, -1);
                throw ex;
            }
            lastRangeFailures = deviceFailures.get();
            return lastRangeFailures;
        }
        finally
        {
            devices.writeLock().unlock();
        }
    }

    /**
     * Makes the completed writes of {@code file} durable, unless a sync failed since they were made: a whole device
     * sync ({@link #sync()}) over a block device, that file's own sync over files.
     *
     * @param file the file whose pages were written back.
     * @return {@link #failuresCovering} of {@code file} as the sync completed, as for {@link #sync()}.
     * @throws IOException if the sync fails; the failure is counted first.
     */
    long syncFile(final long file) throws IOException
    {
        if (0 == fileStripes.length)
        {
            return sync();
        }
        if (!io.syncsFileAlone(file))
        {
            return syncFileOfDevice(file);
        }
        final int index = stripeOf(file);
        final ReentrantLock stripe = fileStripes[index];
        devices.readLock().lock();
        stripe.lock();
        try
        {
            io.syncFile(file);
            return failuresCovering(file);
        }
        catch (final Throwable ex)
        {
            failed(ex, index);
            throw ex;
        }
        finally
        {
            stripe.unlock();
            devices.readLock().unlock();
        }
    }

    /**
     * A file whose sync is its device's ({@link BlockIo#syncsFileAlone} false, among files that otherwise sync
     * alone): excludes every other sync, as {@link #sync()} does, and counts a failure as a whole sync's.
     */
    private long syncFileOfDevice(final long file) throws IOException
    {
        devices.writeLock().lock();
        try
        {
            io.syncFile(file);
            return failuresCovering(file);
        }
        catch (final Throwable ex)
        {
            failed(ex, -1);
            throw ex;
        }
        finally
        {
            devices.writeLock().unlock();
        }
    }

    private static int stripeOf(final long file)
    {
        return (int)((file ^ (file >>> 32)) * 0x9E3779B9L >>> 26) & (FILE_STRIPES - 1);
    }

    /** @param stripe the failed file sync's stripe, or -1 for a whole sync. */
    private void failed(final Throwable ex, final int stripe)
    {
        // an Error too (a mapped device's I/O fault raises InternalError): whatever the sync did is unknown
        lastFailure = ex;
        if (stripe < 0)
        {
            deviceFailures.incrementAndGet();
        }
        else
        {
            stripeFailures.incrementAndGet(stripe);
        }
        failures.incrementAndGet();
        if (stripe < 0)
        {
            try
            {
                onDeviceSyncFailure.accept(ex);
            }
            catch (final RuntimeException notified)
            {
                ex.addSuppressed(notified);
            }
        }
    }

    /**
     * @return failed syncs that may have dropped {@code file}'s written pages: every failed sync over a block device;
     * over files, failed whole syncs and failed syncs of files of its stripe (its own among them). A write of the
     * file made when this read {@code n} is durable after a successful sync of it only if this still reads {@code n}.
     */
    long failuresCovering(final long file)
    {
        final long device = deviceFailures.get();
        return 0 == fileStripes.length ? device : device + stripeFailures.get(stripeOf(file));
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
