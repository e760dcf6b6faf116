package org.extentcache.translate;

import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The one lock of an {@link ExtentStore} and its closed flag, shared by every piece of the store.
 *
 * <h2>Concurrency</h2>
 * One {@link ReentrantReadWriteLock} guards all the store's state: its files and their extent maps
 * ({@link FileTable}), the block reference counts and reservations ({@link BlockLedger}) and its durable state
 * ({@link StoreDurability}). Queries hold the read lock, mutations hold the write lock for their whole duration,
 * device I/O included. Each piece takes the lock itself in the methods that stand for a store operation; its other
 * methods say that the caller holds it. {@link #ensureOpen} is called holding either lock. {@link #close} sets the
 * flag under the write lock, so it waits for the operations in flight and every later one sees it; the flag is
 * also volatile, so {@link #isClosed} may be read without the lock.
 *
 * <h2>Costs</h2>
 * Nothing beyond the lock: {@code ReentrantReadWriteLock} may allocate a small per-thread hold counter when several
 * reader threads interleave.
 *
 * <p><b>Thread safety:</b> safe for concurrent use.
 */
final class StoreLock
{
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private volatile boolean closed;

    /**
     * @return the read lock: held by queries.
     */
    ReentrantReadWriteLock.ReadLock read()
    {
        return lock.readLock();
    }

    /**
     * @return the write lock: held by mutations for their whole duration.
     */
    ReentrantReadWriteLock.WriteLock write()
    {
        return lock.writeLock();
    }

    /**
     * @return the lock itself, for the {@link SnapshotCommitter}.
     */
    ReentrantReadWriteLock readWriteLock()
    {
        return lock;
    }

    /**
     * Called holding the read or the write lock.
     *
     * @throws IllegalStateException {@code "extent store is closed"} once {@link #close} ran.
     */
    void ensureOpen()
    {
        if (closed)
        {
            throw new IllegalStateException("extent store is closed");
        }
    }

    /**
     * @return true once {@link #close} ran; may be called without the lock.
     */
    boolean isClosed()
    {
        return closed;
    }

    /**
     * Marks the store closed under the write lock, so it waits for operations in flight. Idempotent.
     */
    void close()
    {
        lock.writeLock().lock();
        try
        {
            closed = true;
        }
        finally
        {
            lock.writeLock().unlock();
        }
    }
}
