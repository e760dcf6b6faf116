package org.extentcache.translate;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import org.agrona.collections.LongArrayList;
import org.extentcache.device.BlockDevice;

/**
 * Writes a persistent {@link ExtentStore}'s metadata snapshots, one at a time, and lets concurrent commits share
 * them (group commit).
 *
 * <h2>One snapshot write, in order</h2>
 * <ol>
 *   <li>Under the store's write lock: {@link DurableState#begin} holds every existing file's latest capture and
 *       notes the tickets it covers. Only {@code O(files)}: captures are immutable, so the rest runs unlocked.</li>
 *   <li>Encode the payload ({@link SnapshotCodec}); under the lock, allocate its chain (the lowest free blocks).</li>
 *   <li>Write the chain; <b>sync the device</b>. This sync also makes durable every data block the captures map
 *       that is not yet synced: blocks the store wrote itself, and blocks another file's write-back put there.
 *       The data and the chain reach the device before the superblock that points at them.</li>
 *   <li>Write the superblock to the slot not holding the live one; <b>sync the device</b>.</li>
 *   <li>Under the lock: {@link DurableState#applied} (or {@link DurableState#failed}), and tell the listeners of
 *       every block that freed.</li>
 * </ol>
 *
 * <h2>A failed device sync ends snapshots</h2>
 * A device sync that fails may drop the writes it was to make durable, and the next sync then succeeds without them
 * (Linux reports a failed {@code fsync} once): a data block the store or the cache wrote before it, or a chain block.
 * No later snapshot can vouch for what was written before, so once a sync fails, its own or one the cache reports
 * ({@link #poison}), the committer writes no more snapshots: every later one fails, naming the first failure, and
 * the last synced snapshot stands on the device until the store is reopened ({@link ExtentStore#open} recovers it).
 * A snapshot under way when the failure is reported is not applied: if its superblock was issued it stays
 * uncertain, which is safe because nothing is freed for it and no later snapshot follows.
 *
 * <h2>Group commit</h2>
 * {@link #await} returns once a synced snapshot covers the caller's ticket. If one is being written, the caller
 * waits for it (its ticket may be covered); otherwise it writes one itself, covering every ticket issued so far.
 * A caller whose ticket a failed snapshot covered gets that failure; the others go on and write the next one.
 *
 * <h2>Costs</h2>
 * Each snapshot encodes every file's runs ({@code 24} bytes per run) and writes them, plus two device syncs. So a
 * commit costs {@code O(all metadata)}, not {@code O(the file's changes)}: fine for thousands of files and runs, a
 * limit beyond. Waiting callers park on a condition; nothing spins.
 *
 * <p><b>Thread safety:</b> safe for concurrent use; {@link #await} must not be called holding the store's lock.
 */
final class SnapshotCommitter
{
    /** What the committer needs of its store, each called under the store's write lock. */
    interface Host
    {
        /**
         * @return every existing file id, ascending.
         */
        long[] fileIds();

        /**
         * @return the store's next file id.
         */
        long nextFileId();

        /**
         * Tells the listeners that these blocks were freed.
         *
         * @param blocks the blocks.
         */
        void invalidate(LongArrayList blocks);
    }

    private final BlockDevice device;
    private final ReentrantReadWriteLock storeLock;
    private final DurableState state;
    private final Host host;
    private final ReentrantLock mutex = new ReentrantLock();
    private final Condition finished = mutex.newCondition();
    private boolean writing;
    private long durableTicket;
    private long failures;
    private long failedCovered;
    private Throwable failure;
    /** The first failed device sync, after which no snapshot is written; null while none failed. */
    private volatile Throwable poisoned;
    /** The tickets the attempt in progress covers; written and read by the writing thread only. */
    private long attemptCovers;

    /**
     * @param device    the store's device.
     * @param storeLock the store's lock.
     * @param state     the store's durable state.
     * @param host      the store.
     */
    SnapshotCommitter(final BlockDevice device, final ReentrantReadWriteLock storeLock, final DurableState state,
        final Host host)
    {
        this.device = device;
        this.storeLock = storeLock;
        this.state = state;
        this.host = host;
    }

    /**
     * Returns once a synced snapshot covers {@code ticket}, writing one if none is on its way.
     *
     * @param ticket a ticket from {@link DurableState}.
     * @throws IOException naming the step that failed, if the snapshot that covered the ticket failed; the previous
     *                     durable state stands and a later call retries.
     */
    void await(final long ticket) throws IOException
    {
        mutex.lock();
        try
        {
            final long failuresSeen = failures;
            while (durableTicket < ticket)
            {
                if (writing)
                {
                    finished.awaitUninterruptibly();
                    if (failures != failuresSeen && failedCovered >= ticket && durableTicket < ticket)
                    {
                        throw new IOException("the metadata snapshot covering this commit failed; the previous " +
                            "durable state stands", failure);
                    }
                    continue;
                }
                writing = true;
                mutex.unlock();
                Throwable thrown = null;
                RuntimeException listenerFailure = null;
                try
                {
                    listenerFailure = writeSnapshot();
                }
                catch (final IOException | RuntimeException | Error ex)
                {
                    thrown = ex;
                }
                finally
                {
                    mutex.lock();
                    writing = false;
                    if (null == thrown)
                    {
                        durableTicket = Math.max(durableTicket, attemptCovers);
                    }
                    else
                    {
                        failures++;
                        failedCovered = attemptCovers;
                        failure = thrown;
                    }
                    finished.signalAll();
                }
                if (thrown instanceof IOException)
                {
                    throw (IOException)thrown;
                }
                if (thrown instanceof RuntimeException)
                {
                    throw (RuntimeException)thrown;
                }
                if (null != thrown)
                {
                    throw (Error)thrown;
                }
                if (null != listenerFailure)
                {
                    throw listenerFailure; // the snapshot is durable; a listener failed on a freed block
                }
            }
        }
        finally
        {
            mutex.unlock();
        }
    }

    /**
     * A device sync failed: writes made before it may be lost however later syncs end, so no snapshot is written any
     * more (see the class comment). Idempotent; keeps the first failure.
     *
     * @param failure what the sync threw.
     */
    void poison(final Throwable failure)
    {
        mutex.lock();
        try
        {
            if (null == poisoned)
            {
                poisoned = failure;
            }
        }
        finally
        {
            mutex.unlock();
        }
    }

    private IOException poisonedFailure()
    {
        return new IOException("a device sync failed earlier and may have dropped writes made before it, so no " +
            "metadata snapshot can vouch for them; the last synced snapshot stands: reopen the store (" + poisoned +
            ")", poisoned);
    }

    private void syncDevice() throws IOException
    {
        try
        {
            device.sync();
        }
        catch (final IOException | RuntimeException | Error ex)
        {
            poison(ex);
            throw ex;
        }
    }

    /**
     * @return what a listener threw while hearing of freed blocks after the snapshot synced, or null.
     */
    private RuntimeException writeSnapshot() throws IOException
    {
        if (null != poisoned)
        {
            throw poisonedFailure();
        }
        final DurableState.Attempt attempt;
        storeLock.writeLock().lock();
        try
        {
            attempt = state.begin(host.fileIds(), host.nextFileId());
        }
        finally
        {
            storeLock.writeLock().unlock();
        }
        attemptCovers = attempt.coveredTicket;
        final int blockSize = device.blockSize();
        boolean synced = false;
        Throwable failed = null;
        String step = "encoding it";
        try
        {
            final byte[] payload = SnapshotCodec.encode(attempt.sequence, attempt.nextFileId, attempt.attachment,
                attempt.ids, attempt.captures);
            step = "allocating its chain";
            storeLock.writeLock().lock();
            try
            {
                state.allocateChain(attempt, payload.length, blockSize);
            }
            finally
            {
                storeLock.writeLock().unlock();
            }
            step = "writing its chain";
            SnapshotChain.write(device, attempt.chain, payload);
            step = "syncing its chain and the data it maps";
            syncDevice();
            if (null != poisoned)
            {
                throw poisonedFailure(); // a sync failed since the chain was written: this one cannot vouch for it
            }
            final ByteBuffer block = ByteBuffer.allocate(blockSize);
            new Superblock(attempt.slot, attempt.sequence, blockSize, device.blockCount(), attempt.chain[0],
                payload.length, SnapshotChain.crc(payload)).encode(block);
            step = "writing its superblock to slot " + attempt.slot;
            attempt.superblockIssued = true;
            device.write(attempt.slot, block);
            step = "syncing its superblock";
            syncDevice();
            if (null != poisoned)
            {
                throw poisonedFailure(); // reported meanwhile: the chain or the data may be lost; keep it uncertain
            }
            synced = true;
        }
        catch (final IOException ex)
        {
            failed = new IOException("metadata snapshot " + attempt.sequence + " failed " + step + "; the previous " +
                "durable state stands: " + ex.getMessage(), ex);
        }
        catch (final RuntimeException | Error ex)
        {
            failed = ex;
        }
        RuntimeException listenerFailure = null;
        final LongArrayList freed = new LongArrayList();
        storeLock.writeLock().lock();
        try
        {
            if (synced)
            {
                state.applied(attempt, freed);
            }
            else
            {
                state.failed(attempt, freed);
            }
            if (!freed.isEmpty())
            {
                host.invalidate(freed);
            }
        }
        catch (final RuntimeException ex)
        {
            listenerFailure = ex;
        }
        finally
        {
            storeLock.writeLock().unlock();
        }
        if (null != failed)
        {
            if (null != listenerFailure)
            {
                failed.addSuppressed(listenerFailure);
            }
            if (failed instanceof IOException)
            {
                throw (IOException)failed;
            }
            if (failed instanceof RuntimeException)
            {
                throw (RuntimeException)failed;
            }
            throw (Error)failed;
        }
        return listenerFailure;
    }
}
