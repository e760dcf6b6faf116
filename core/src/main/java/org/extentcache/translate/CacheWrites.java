package org.extentcache.translate;

import java.io.IOException;
import java.nio.file.NoSuchFileException;

/**
 * The {@link Translator} write protocol of an {@link ExtentStore}, used by a cache writing files through itself:
 * {@link #checkWritable}, {@link #reserveBlock}, {@link #commitBlock}, {@link #releaseBlock} and {@link #extend}.
 * The contracts are {@link Translator}'s and {@link ExtentStore}'s.
 *
 * <h2>Reservations</h2>
 * A copy-on-write break in the cache reserves the lowest free block (one reference, held in the
 * {@link BlockLedger}'s reserved set), fills a frame for it, and then commits it to one page, which takes over that
 * reference, or releases it. None of these announce anything (the cache is the caller), and the reserved block is
 * never reported invalidated while reserved or when committed: the cache's dirty frame is its contents until the
 * cache writes it back. A persistent store notes each file the cache writes ({@link StoreDurability#markWritten}).
 *
 * <h2>Concurrency</h2>
 * Each operation holds the store's write lock ({@link StoreLock}) for its whole duration, except
 * {@link #checkWritable} on an in-memory store, which only reads the file's size under the read lock.
 *
 * <h2>Costs</h2>
 * {@code O(log64 B)} to find a free block; committing a page remaps one page: {@code O(log E)} plus one array move
 * of {@code O(E)} runs. {@link #commitBlock}, the cache's copy-on-write of one page, allocates nothing in steady
 * state: its run, the ledger's remapping lists and the store's notification are scratch objects reused under the
 * write lock (only the file's map itself grows, amortised, when it gains runs).
 *
 * <p><b>Thread safety:</b> safe for concurrent use.
 */
final class CacheWrites
{
    private final PageGeometry geometry;
    private final StoreLock lock;
    private final FileTable files;
    private final BlockLedger ledger;
    private final StoreListeners listeners;
    private final StoreDurability durability;
    /** Scratch for {@link #commitBlock}: the one committed run, reused under the write lock. */
    private final RunList committed = new RunList();

    CacheWrites(final PageGeometry geometry, final StoreLock lock, final FileTable files, final BlockLedger ledger,
        final StoreListeners listeners, final StoreDurability durability)
    {
        this.geometry = geometry;
        this.lock = lock;
        this.files = files;
        this.ledger = ledger;
        this.listeners = listeners;
        this.durability = durability;
    }

    /**
     * See {@link ExtentStore#checkWritable}.
     */
    void checkWritable(final long file) throws NoSuchFileException
    {
        if (!durability.isPersistent())
        {
            files.size(file);
            return;
        }
        lock.write().lock();
        try
        {
            lock.ensureOpen();
            files.get(file);
            durability.markWritten(file);
        }
        finally
        {
            lock.write().unlock();
        }
    }

    /**
     * See {@link ExtentStore#reserveBlock}.
     */
    long reserveBlock(final long file, final long page) throws IOException
    {
        PageGeometry.checkNotNegative("page", page);
        lock.write().lock();
        try
        {
            lock.ensureOpen();
            files.get(file);
            return ledger.reserve();
        }
        finally
        {
            lock.write().unlock();
        }
    }

    /**
     * See {@link ExtentStore#commitBlock}.
     */
    void commitBlock(final long file, final long page, final long block) throws NoSuchFileException
    {
        PageGeometry.checkNotNegative("page", page);
        lock.write().lock();
        try
        {
            lock.ensureOpen();
            final FileTable.FileState state = files.get(file);
            ledger.unreserve(block);
            durability.markWritten(file);
            committed.clear();
            committed.add(page, block, 1);
            final StoreListeners.Notification notification = listeners.notification();
            ledger.replacePages(state.map, page, 1, committed, notification);
            notification.pagesChanged(file, page, 1, state.size);
            notification.dispatch();
        }
        finally
        {
            lock.write().unlock();
        }
    }

    /**
     * See {@link ExtentStore#releaseBlock}.
     */
    void releaseBlock(final long block)
    {
        lock.write().lock();
        try
        {
            lock.ensureOpen();
            ledger.unreserve(block);
            final StoreListeners.Notification notification = listeners.notification();
            if (ledger.release(block))
            {
                notification.blocksInvalidated(block, 1);
            }
            notification.dispatch();
        }
        finally
        {
            lock.write().unlock();
        }
    }

    /**
     * See {@link ExtentStore#extend}.
     */
    void extend(final long file, final long size) throws NoSuchFileException
    {
        PageGeometry.checkNotNegative("size", size);
        lock.write().lock();
        try
        {
            lock.ensureOpen();
            final FileTable.FileState state = files.get(file);
            if (size <= state.size)
            {
                return;
            }
            durability.markWritten(file);
            final long oldSize = state.size;
            state.size = size;
            final long firstPage = oldSize >>> geometry.pageShift();
            final StoreListeners.Notification notification = listeners.notification();
            notification.pagesChanged(file, firstPage, geometry.pagesFor(size) - firstPage, size);
            notification.dispatch();
        }
        finally
        {
            lock.write().unlock();
        }
    }
}
