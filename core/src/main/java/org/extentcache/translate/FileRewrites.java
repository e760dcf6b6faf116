package org.extentcache.translate;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * The mutations of an {@link ExtentStore} that rewrite or unmap a file's pages: {@link #write},
 * {@link #punchHole}, {@link #truncate} and {@link #delete}. Their contracts are {@link ExtentStore}'s.
 *
 * <h2>Copy-on-write, in order</h2>
 * Each runs the same steps, so that a failure before the last leaves the store exactly as it was:
 * <ol>
 *   <li>check the arguments ({@link PageGeometry}), then announce the change to the listeners
 *       ({@link StoreListeners.Announcement}) outside the lock;</li>
 *   <li>under the write lock: check the file and the free space ({@code "device full: ..."});</li>
 *   <li>pick free blocks without taking them ({@link BlockLedger}) and write the new pages there
 *       ({@link FileData}): whole pages from the caller, partial pages merged with the old page's bytes, edge pages
 *       with a range zeroed;</li>
 *   <li>take the new blocks and remap the range ({@link BlockLedger#replacePages}), dropping the old blocks'
 *       references; set the size;</li>
 *   <li>still under the lock, tell the listeners ({@link StoreListeners.Notification}).</li>
 * </ol>
 *
 * <h2>Concurrency</h2>
 * Each operation holds the store's write lock ({@link StoreLock}) for its whole duration, device writes included,
 * and makes and closes its announcement outside it.
 *
 * <h2>Costs</h2>
 * A change of {@code k} pages: {@code O(log E + k)} plus one array move of {@code O(E)} runs in the file's map, and
 * {@code k} pages written; a partial page costs one page read and a page-size heap buffer.
 *
 * <p><b>Thread safety:</b> safe for concurrent use; mutations run one at a time.
 */
final class FileRewrites
{
    private final PageGeometry geometry;
    private final StoreLock lock;
    private final FileTable files;
    private final BlockLedger ledger;
    private final FileData data;
    private final StoreListeners listeners;

    FileRewrites(final PageGeometry geometry, final StoreLock lock, final FileTable files, final BlockLedger ledger,
        final FileData data, final StoreListeners listeners)
    {
        this.geometry = geometry;
        this.lock = lock;
        this.files = files;
        this.ledger = ledger;
        this.data = data;
        this.listeners = listeners;
    }

    /**
     * See {@link ExtentStore#write}.
     */
    void write(final long file, final long position, final ByteBuffer src) throws IOException
    {
        Objects.requireNonNull(src, "src");
        final int length = src.remaining();
        PageGeometry.checkRange("position", position, "length", length);
        final int pageShift = geometry.pageShift();
        try (StoreListeners.Announcement change = listeners.announce())
        {
            if (length > 0)
            {
                final long firstPage = position >>> pageShift;
                change.add(file, firstPage, ((position + length - 1) >>> pageShift) - firstPage + 1, false);
            }
            lock.write().lock();
            try
            {
                lock.ensureOpen();
                final FileTable.FileState state = files.get(file);
                if (length == 0)
                {
                    return;
                }
                final long end = position + length;
                final long firstPage = position >>> pageShift;
                final long pageCount = ((end - 1) >>> pageShift) - firstPage + 1;
                ledger.checkFree(pageCount);
                final RunList fresh = ledger.pickFreeBlocks(firstPage, pageCount);
                data.writeNewPages(state, position, src, fresh);

                final StoreListeners.Notification notification = listeners.notification();
                ledger.takeBlocks(fresh, notification);
                ledger.replacePages(state.map, firstPage, pageCount, fresh, notification);
                final long oldSize = state.size;
                final long changedFirst = end > oldSize ? Math.min(firstPage, oldSize >>> pageShift) : firstPage;
                state.size = Math.max(oldSize, end);
                src.position(src.limit());
                notification.pagesChanged(file, changedFirst, firstPage + pageCount - changedFirst, state.size);
                notification.dispatch();
            }
            finally
            {
                lock.write().unlock();
            }
        }
    }

    /**
     * See {@link ExtentStore#punchHole}.
     */
    void punchHole(final long file, final long position, final long length) throws IOException
    {
        PageGeometry.checkRange("position", position, "length", length);
        final int pageShift = geometry.pageShift();
        try (StoreListeners.Announcement change = listeners.announce())
        {
            change.add(file, position >>> pageShift,
                geometry.pagesFor(position + length) - (position >>> pageShift), false);
            lock.write().lock();
            try
            {
                lock.ensureOpen();
                final FileTable.FileState state = files.get(file);
                final long end = Math.min(position + length, state.size);
                if (position >= end)
                {
                    return;
                }
                final long firstPage = position >>> pageShift;
                final long lastPage = (end - 1) >>> pageShift;
                final long pageCount = lastPage - firstPage + 1;
                final RunList old = new RunList();
                state.map.collect(firstPage, pageCount, old);
                if (old.isEmpty())
                {
                    return;
                }

                final boolean rewriteHead = !geometry.isWholePage(state.size, firstPage, position, end) &&
                    state.map.blockAt(firstPage) != Extent.HOLE;
                final boolean rewriteTail = lastPage != firstPage &&
                    !geometry.isWholePage(state.size, lastPage, position, end) &&
                    state.map.blockAt(lastPage) != Extent.HOLE;
                ledger.checkFree((rewriteHead ? 1 : 0) + (rewriteTail ? 1 : 0));
                final RunList fresh = new RunList();
                long nextBlock = 0;
                if (rewriteHead)
                {
                    nextBlock = rewriteZeroed(state, firstPage, position, end, nextBlock, fresh) + 1;
                }
                if (rewriteTail)
                {
                    rewriteZeroed(state, lastPage, position, end, nextBlock, fresh);
                }

                final StoreListeners.Notification notification = listeners.notification();
                ledger.takeBlocks(fresh, notification);
                ledger.replacePages(state.map, firstPage, pageCount, fresh, notification);
                notification.pagesChanged(file, firstPage, pageCount, state.size);
                notification.dispatch();
            }
            finally
            {
                lock.write().unlock();
            }
        }
    }

    /**
     * See {@link ExtentStore#truncate}.
     */
    void truncate(final long file, final long size) throws IOException
    {
        PageGeometry.checkNotNegative("size", size);
        final int pageShift = geometry.pageShift();
        final int pageSize = geometry.pageSize();
        try (StoreListeners.Announcement change = listeners.announce())
        {
            change.add(file, size >>> pageShift, Long.MAX_VALUE - (size >>> pageShift), false);
            lock.write().lock();
            try
            {
                lock.ensureOpen();
                final FileTable.FileState state = files.get(file);
                final long oldSize = state.size;
                if (size == oldSize)
                {
                    return;
                }
                final StoreListeners.Notification notification = listeners.notification();
                if (size > oldSize)
                {
                    state.size = size;
                    final long firstPage = oldSize >>> pageShift;
                    notification.pagesChanged(file, firstPage, geometry.pagesFor(size) - firstPage, size);
                    notification.dispatch();
                    return;
                }

                final long lastPage = size >>> pageShift;
                final int tailOffset = (int)(size & geometry.pageMask());
                long firstUnmapped = geometry.pagesFor(size);
                final RunList fresh = new RunList();
                final long lastBlock = tailOffset == 0 ? Extent.HOLE : state.map.blockAt(lastPage);
                if (lastBlock != Extent.HOLE)
                {
                    final ByteBuffer page = data.readPage(state, lastPage);
                    if (!FileData.isZero(page, tailOffset, pageSize))
                    {
                        ledger.checkFree(1);
                        page.clear().put(tailOffset, geometry.zeros(), 0, pageSize - tailOffset);
                        final long block = ledger.nextFree(0);
                        data.writePage(block, page);
                        fresh.add(lastPage, block, 1);
                        firstUnmapped = lastPage;
                    }
                }

                ledger.takeBlocks(fresh, notification);
                ledger.replacePages(state.map, firstUnmapped, Long.MAX_VALUE - firstUnmapped, fresh, notification);
                state.size = size;
                notification.pagesChanged(file, lastPage, geometry.pagesFor(oldSize) - lastPage, size);
                notification.dispatch();
            }
            finally
            {
                lock.write().unlock();
            }
        }
    }

    /**
     * See {@link ExtentStore#delete}.
     */
    void delete(final long file) throws IOException
    {
        try (StoreListeners.Announcement change = listeners.announce())
        {
            change.add(file, 0, Long.MAX_VALUE, true);
            lock.write().lock();
            try
            {
                lock.ensureOpen();
                final FileTable.FileState state = files.get(file);
                final StoreListeners.Notification notification = listeners.notification();
                ledger.replacePages(state.map, 0, Long.MAX_VALUE, new RunList(), notification);
                files.remove(file);
                notification.fileDeleted(file);
                notification.dispatch();
            }
            finally
            {
                lock.write().unlock();
            }
        }
    }

    /**
     * Writes page {@code page} with {@code [position, end)} zeroed to the lowest free block at or after
     * {@code fromBlock}, and adds it to {@code fresh}.
     *
     * @return the block written.
     */
    private long rewriteZeroed(
        final FileTable.FileState state, final long page, final long position, final long end, final long fromBlock,
        final RunList fresh) throws IOException
    {
        final long block = ledger.nextFree(fromBlock);
        data.writeZeroed(state, page, position, end, block);
        fresh.add(page, block, 1);
        return block;
    }
}
