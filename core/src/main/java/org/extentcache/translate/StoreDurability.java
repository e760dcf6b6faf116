package org.extentcache.translate;

import java.io.IOException;
import java.util.Objects;

import org.agrona.collections.LongArrayList;
import org.extentcache.device.BlockDevice;

/**
 * The durability of an {@link ExtentStore}: capturing files for the next metadata snapshot ({@link #commit},
 * {@link #sync}), the attachment, and rebuilding the store from a recovered snapshot ({@link #restore}). The
 * contracts are {@link ExtentStore}'s; the format and the recovery rules are in its class comment.
 *
 * <h2>Pieces it drives</h2>
 * {@link DurableState} holds each file's durable and pending captures and the references they keep on blocks;
 * {@link SnapshotCommitter} writes the snapshots, one at a time, and lets concurrent commits share one (group
 * commit). An in-memory store has neither: its commits and syncs do nothing and its attachment lives here.
 *
 * <h2>Concurrency</h2>
 * Guarded by the store's {@link StoreLock}. A commit or sync captures under the write lock (telling the listeners
 * of blocks the capture freed), releases it, and only then waits for the snapshot
 * ({@link SnapshotCommitter#await}), which takes the write lock itself for its short bookkeeping steps. The
 * queries take the read lock. {@link #markWritten} and {@link #restore} are called holding the write lock (or,
 * for restore, before the store is shared).
 *
 * <h2>Costs</h2>
 * A capture is {@code O(runs of the file)} under the lock; a snapshot rewrites all the metadata,
 * {@code O(files + runs)}, plus two device syncs, outside the lock. {@link #restore}: one reference-count update
 * per mapped page.
 *
 * <p><b>Thread safety:</b> safe for concurrent use.
 */
final class StoreDurability
{
    private final StoreLock lock;
    private final FileTable files;
    private final BlockLedger ledger;
    private final StoreListeners listeners;
    /** The durable state of a persistent store; null for an in-memory one. */
    private final DurableState durable;
    private final SnapshotCommitter committer;
    private byte[] memoryAttachment = new byte[0];

    /**
     * @param device     the store's device.
     * @param persistent true for a store made by {@link ExtentStore#format} or {@link ExtentStore#open}.
     */
    StoreDurability(final BlockDevice device, final StoreLock lock, final FileTable files, final BlockLedger ledger,
        final StoreListeners listeners, final boolean persistent)
    {
        this.lock = lock;
        this.files = files;
        this.ledger = ledger;
        this.listeners = listeners;
        if (persistent)
        {
            this.durable = new DurableState(ledger.counts());
            this.committer = new SnapshotCommitter(device, lock.readWriteLock(), durable, new Host());
        }
        else
        {
            this.durable = null;
            this.committer = null;
        }
    }

    boolean isPersistent()
    {
        return null != durable;
    }

    /**
     * Notes a freshly formatted, empty store; the store is not shared yet.
     */
    void formatted()
    {
        durable.formatted();
    }

    /**
     * Rebuilds a persistent store's files, reference counts and allocator from a recovered snapshot; the store is not
     * shared yet.
     */
    void restore(final StoreRecovery.Recovered recovered)
    {
        durable.recovered(recovered.superblock, recovered.chain, recovered.highestSequence,
            recovered.snapshot.attachment);
        for (final SnapshotCodec.FileRecord record : recovered.snapshot.files)
        {
            final ExtentMap map = new ExtentMap();
            map.replace(0, Long.MAX_VALUE, record.runs);
            for (int run = 0; run < map.runCount(); run++)
            {
                final long first = map.deviceBlock(run);
                for (long block = first; block < first + map.pageCount(run); block++)
                {
                    ledger.restoreReference(block);
                }
            }
            files.restore(record.id, record.size, map);
            durable.restored(record.id, record.size, map);
        }
        files.restoreNextFileId(recovered.snapshot.nextFileId);
    }

    /**
     * Notes that the cache is writing {@code file}, so {@link #sync} leaves its durable state alone until its next
     * commit; nothing in an in-memory store. The caller holds the write lock.
     */
    void markWritten(final long file)
    {
        if (null != durable)
        {
            durable.markWritten(file);
        }
    }

    /**
     * See {@link ExtentStore#deviceSyncFailed}.
     */
    void deviceSyncFailed(final Throwable failure)
    {
        if (null != committer)
        {
            committer.poison(failure);
        }
    }

    /**
     * See {@link ExtentStore#commit(long)}.
     */
    void commit(final long file) throws IOException
    {
        if (null == durable)
        {
            return;
        }
        final long ticket;
        lock.write().lock();
        try
        {
            lock.ensureOpen();
            final FileTable.FileState state = files.get(file);
            final LongArrayList freed = new LongArrayList();
            ticket = durable.commit(file, state.size, state.map, freed);
            listeners.blocksFreed(freed);
        }
        finally
        {
            lock.write().unlock();
        }
        if (ticket > 0)
        {
            committer.await(ticket);
        }
    }

    /**
     * See {@link ExtentStore#commit(long[])}.
     */
    void commit(final long[] ids) throws IOException
    {
        if (null == durable)
        {
            return;
        }
        long ticket = 0;
        lock.write().lock();
        try
        {
            lock.ensureOpen();
            final LongArrayList freed = new LongArrayList();
            for (final long file : ids)
            {
                final FileTable.FileState state = files.find(file);
                if (null != state)
                {
                    ticket = Math.max(ticket, durable.commit(file, state.size, state.map, freed));
                }
            }
            listeners.blocksFreed(freed);
        }
        finally
        {
            lock.write().unlock();
        }
        if (ticket > 0)
        {
            committer.await(ticket);
        }
    }

    /**
     * See {@link ExtentStore#sync}.
     */
    void sync() throws IOException
    {
        final long ticket;
        lock.write().lock();
        try
        {
            lock.ensureOpen();
            if (null == durable)
            {
                return;
            }
            final LongArrayList freed = new LongArrayList();
            files.forEach((id, state) ->
            {
                if (!durable.isWritten(id))
                {
                    durable.commit(id, state.size, state.map, freed);
                }
            });
            ticket = durable.newTicket();
            listeners.blocksFreed(freed);
        }
        finally
        {
            lock.write().unlock();
        }
        committer.await(ticket);
    }

    /**
     * See {@link ExtentStore#setAttachment}.
     */
    void setAttachment(final byte[] bytes)
    {
        Objects.requireNonNull(bytes, "bytes");
        if (bytes.length > SnapshotDescriptor.MAX_ATTACHMENT)
        {
            throw new IllegalArgumentException("attachment too large: length=" + bytes.length + " max=" +
                SnapshotDescriptor.MAX_ATTACHMENT);
        }
        final byte[] copy = bytes.clone();
        lock.write().lock();
        try
        {
            lock.ensureOpen();
            if (null == durable)
            {
                memoryAttachment = copy;
            }
            else
            {
                durable.attachment(copy);
            }
        }
        finally
        {
            lock.write().unlock();
        }
    }

    /**
     * See {@link ExtentStore#attachment}.
     */
    byte[] attachment()
    {
        lock.read().lock();
        try
        {
            lock.ensureOpen();
            return (null == durable ? memoryAttachment : durable.attachment()).clone();
        }
        finally
        {
            lock.read().unlock();
        }
    }

    /**
     * See {@link ExtentStore#snapshotSequence}.
     */
    long snapshotSequence()
    {
        lock.read().lock();
        try
        {
            lock.ensureOpen();
            return null == durable ? 0 : durable.liveSequence();
        }
        finally
        {
            lock.read().unlock();
        }
    }

    /**
     * @return how many held durable or pending captures map {@code block}, under the read lock.
     */
    int durableRefCount(final long block)
    {
        lock.read().lock();
        try
        {
            return null == durable ? 0 : durable.durableRefCount(block);
        }
        finally
        {
            lock.read().unlock();
        }
    }

    /**
     * @return blocks holding metadata (the slots and the snapshots' chains), under the read lock; 0 in memory.
     */
    long metadataBlocks()
    {
        lock.read().lock();
        try
        {
            return null == durable ? 0 : durable.metadataBlocks();
        }
        finally
        {
            lock.read().unlock();
        }
    }

    /** What the snapshot committer needs of the store, called under the write lock. */
    private final class Host implements SnapshotCommitter.Host
    {
        @Override
        public long[] fileIds()
        {
            return files.sortedIds();
        }

        @Override
        public long nextFileId()
        {
            return files.peekNextFileId();
        }

        @Override
        public void invalidate(final LongArrayList blocks)
        {
            listeners.blocksFreed(blocks);
        }
    }
}
