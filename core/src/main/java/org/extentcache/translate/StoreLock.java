package org.extentcache.translate;

import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.concurrent.locks.StampedLock;

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
 * <h2>Optimistic reads</h2>
 * The hottest queries ({@link FileTable#translate}, {@link FileTable#size}) first read without any lock, under a
 * {@link StampedLock} stamp: {@link #tryOptimisticRead}, read, {@link #validate}. The stamped lock is a version
 * counter for the writers: {@link WriteLock#lock} takes it in write mode right after the outermost acquisition of
 * the reentrant write lock, and {@link WriteLock#unlock} releases it right before the outermost release, so a
 * stamp validates exactly when no write-lock hold overlapped the read. Only threads holding the reentrant write lock
 * ever take the stamped lock, one at a time, so taking it never blocks; nobody takes it in read mode (the
 * fallback of an optimistic read that fails validation is the reentrant read lock). The memory-order pair is
 * {@code StampedLock}'s own: its write acquisition (a CAS, a full fence) comes before the writer's first change, and
 * its release (a release store) after the last; {@code validate} issues an acquire fence before it re-reads the
 * state, so every plain read made after {@code tryOptimisticRead} (an acquire load) is ordered between the two
 * state reads. What a reader may see between them, and why it must never act on it before validating, is the
 * reader's business: see {@link FileTable}.
 *
 * <p>Reentrancy and everything else a writer relies on are the {@code ReentrantReadWriteLock}'s, unchanged: a
 * write-lock holder may take the write lock again or the read lock (a nested hold does not touch the stamped lock),
 * and an optimistic read by a write-lock holder finds the stamped lock held and falls back to the read lock.
 *
 * <h2>Costs</h2>
 * An optimistic read costs two volatile reads of the stamped lock's state and no write to shared memory, so
 * readers on different cores do not bounce a cache line. A mutation pays one uncontended CAS and one store more
 * than before. {@code ReentrantReadWriteLock} may allocate a small per-thread hold counter when several reader
 * threads interleave on the read lock.
 *
 * <p><b>Thread safety:</b> safe for concurrent use.
 */
final class StoreLock
{
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final StampedLock versions = new StampedLock();
    private final WriteLock writeLock = new WriteLock();
    private volatile boolean closed;

    /**
     * The store's write lock: the reentrant write lock, and the stamped lock for its outermost hold.
     *
     * <p><b>Thread safety:</b> safe for concurrent use; the write stamp is guarded by the reentrant write lock.
     */
    final class WriteLock
    {
        /** The stamped lock's write stamp while the outermost hold lasts; written and read by the holder only. */
        private long stamp;

        /**
         * Takes the write lock, waiting for it; the outermost hold also invalidates every optimistic read in flight.
         * Release it with {@link #unlock} in a {@code finally}.
         */
        void lock()
        {
            lock.writeLock().lock();
            if (lock.getWriteHoldCount() == 1)
            {
                stamp = versions.writeLock();
            }
        }

        /**
         * Releases one hold of the write lock.
         *
         * @throws IllegalMonitorStateException if the current thread does not hold it.
         */
        void unlock()
        {
            if (lock.getWriteHoldCount() == 1)
            {
                versions.unlockWrite(stamp);
            }
            lock.writeLock().unlock();
        }
    }

    /**
     * @return the read lock: held by queries, and by optimistic reads that failed validation.
     */
    ReentrantReadWriteLock.ReadLock read()
    {
        return lock.readLock();
    }

    /**
     * @return the write lock: held by mutations for their whole duration.
     */
    WriteLock write()
    {
        return writeLock;
    }

    /**
     * Starts an optimistic read; may be called without the lock.
     *
     * @return a stamp for {@link #validate}, or 0 if a writer holds the write lock now (then take the read lock).
     */
    long tryOptimisticRead()
    {
        return versions.tryOptimisticRead();
    }

    /**
     * Ends an optimistic read: what was read since {@code stamp} was taken is a consistent view of the store if and
     * only if this returns true.
     *
     * @param stamp the stamp from {@link #tryOptimisticRead}; 0 never validates.
     * @return true if no write-lock hold began since the stamp was taken.
     */
    boolean validate(final long stamp)
    {
        return versions.validate(stamp);
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
        writeLock.lock();
        try
        {
            closed = true;
        }
        finally
        {
            writeLock.unlock();
        }
    }
}
