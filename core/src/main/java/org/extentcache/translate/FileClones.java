package org.extentcache.translate;

import java.io.IOException;

/**
 * The reflink mutations of an {@link ExtentStore}: {@link #cloneFile} and {@link #cloneRange}. They copy no data:
 * they copy runs of an extent map and add a reference to every block they share. Their contracts are
 * {@link ExtentStore}'s.
 *
 * <h2>Order</h2>
 * Check the arguments, announce both files (in file-id order for a range clone) outside the lock, then under the
 * write lock: check the files and the range, add the references ({@link BlockLedger#retainAll}, which undoes its
 * own work if a count would overflow, so nothing has changed when it throws), remap the destination
 * ({@link BlockLedger#replacePages}), and tell the listeners. The range cloned <em>from</em> is reported as
 * changed too: its pages turned shared, and a cache that kept a "not shared" answer would write into a shared
 * block.
 *
 * <h2>Concurrency</h2>
 * Each operation holds the store's write lock ({@link StoreLock}) for its whole duration and makes and closes its
 * announcement outside it.
 *
 * <h2>Costs</h2>
 * {@link #cloneFile}: {@code O(E)} to copy the map plus one reference-count update per mapped page.
 * {@link #cloneRange} of {@code k} pages: {@code O(log E + k)} plus one array move of {@code O(E)} runs in the
 * destination's map.
 *
 * <p><b>Thread safety:</b> safe for concurrent use; mutations run one at a time.
 */
final class FileClones
{
    private final PageGeometry geometry;
    private final StoreLock lock;
    private final FileTable files;
    private final BlockLedger ledger;
    private final StoreListeners listeners;

    FileClones(final PageGeometry geometry, final StoreLock lock, final FileTable files, final BlockLedger ledger,
        final StoreListeners listeners)
    {
        this.geometry = geometry;
        this.lock = lock;
        this.files = files;
        this.ledger = ledger;
        this.listeners = listeners;
    }

    /**
     * See {@link ExtentStore#cloneFile}.
     */
    long cloneFile(final long src) throws IOException
    {
        try (StoreListeners.Announcement change = listeners.announce())
        {
            change.add(src, 0, Long.MAX_VALUE, false);
            lock.write().lock();
            try
            {
                lock.ensureOpen();
                final FileTable.FileState source = files.get(src);
                final RunList runs = new RunList();
                source.map.collect(0, Long.MAX_VALUE, runs);
                ledger.retainAll(runs);
                final long file = files.add(source.size, new ExtentMap(source.map));
                if (!runs.isEmpty())
                {
                    final StoreListeners.Notification notification = listeners.notification();
                    notifySharedRange(src, runs, source.size, notification);
                    notification.dispatch();
                }
                return file;
            }
            finally
            {
                lock.write().unlock();
            }
        }
    }

    /**
     * See {@link ExtentStore#cloneRange}.
     */
    void cloneRange(final long src, final long srcPos, final long dst, final long dstPos, final long length)
        throws IOException
    {
        PageGeometry.checkRange("srcPos", srcPos, "length", length);
        PageGeometry.checkRange("dstPos", dstPos, "length", length);
        geometry.checkAligned("srcPos", srcPos);
        geometry.checkAligned("dstPos", dstPos);
        final int pageShift = geometry.pageShift();
        try (StoreListeners.Announcement change = listeners.announce())
        {
            final long pages = geometry.pagesFor(length);
            if (src <= dst)
            {
                change.add(src, srcPos >>> pageShift, pages, false);
                change.add(dst, dstPos >>> pageShift, pages, true);
            }
            else
            {
                change.add(dst, dstPos >>> pageShift, pages, true);
                change.add(src, srcPos >>> pageShift, pages, false);
            }
            lock.write().lock();
            try
            {
                lock.ensureOpen();
                final FileTable.FileState source = files.get(src);
                final FileTable.FileState target = files.get(dst);
                checkClone(src, srcPos, dst, dstPos, length, source.size, target.size);
                if (length == 0)
                {
                    return;
                }

                final long pageCount = geometry.pagesFor(length);
                final long srcPage = srcPos >>> pageShift;
                final long dstPage = dstPos >>> pageShift;
                final RunList runs = new RunList();
                source.map.collect(srcPage, pageCount, runs);
                ledger.retainAll(runs);

                final StoreListeners.Notification notification = listeners.notification();
                ledger.replacePages(target.map, dstPage, pageCount, runs.shifted(dstPage - srcPage), notification);
                final long oldSize = target.size;
                final long end = dstPos + length;
                final long changedFirst = end > oldSize ? Math.min(dstPage, oldSize >>> pageShift) : dstPage;
                target.size = Math.max(oldSize, end);
                notification.pagesChanged(dst, changedFirst, dstPage + pageCount - changedFirst, target.size);
                if (!runs.isEmpty())
                {
                    notifySharedRange(src, runs, source.size, notification);
                }
                notification.dispatch();
            }
            finally
            {
                lock.write().unlock();
            }
        }
    }

    /**
     * Checks a range clone against the files' sizes; see {@link ExtentStore#cloneRange}.
     *
     * @throws IllegalArgumentException naming the values.
     */
    private void checkClone(
        final long src, final long srcPos, final long dst, final long dstPos, final long length,
        final long srcSize, final long dstSize)
    {
        if (srcPos + length > srcSize)
        {
            throw new IllegalArgumentException("source range past end of file: srcPos=" + srcPos +
                " length=" + length + " size=" + srcSize);
        }
        if ((length & geometry.pageMask()) != 0)
        {
            if (srcPos + length != srcSize)
            {
                throw new IllegalArgumentException("length must be page-aligned unless the range ends at the " +
                    "source's end of file: length=" + length + " srcPos=" + srcPos + " size=" + srcSize +
                    " pageSize=" + geometry.pageSize());
            }
            if (dstPos + length < dstSize)
            {
                throw new IllegalArgumentException("an unaligned tail must end at or past the destination's end " +
                    "of file: dstPos=" + dstPos + " length=" + length + " dstSize=" + dstSize);
            }
        }
        if (src == dst && srcPos < dstPos + length && dstPos < srcPos + length)
        {
            throw new IllegalArgumentException("source and destination ranges overlap in file " + src +
                ": src=[" + srcPos + ", " + (srcPos + length) + ") dst=[" + dstPos + ", " + (dstPos + length) + ")");
        }
    }

    private static void notifySharedRange(
        final long file, final RunList runs, final long size, final StoreListeners.Notification notification)
    {
        final long first = runs.filePage(0);
        final int last = runs.size() - 1;
        notification.pagesChanged(file, first, runs.filePage(last) + runs.pageCount(last) - first, size);
    }
}
