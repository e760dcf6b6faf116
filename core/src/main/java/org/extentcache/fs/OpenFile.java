package org.extentcache.fs;

import org.extentcache.translate.Extent;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * One file open in a {@link FileSystemTranslator}: its identity, its layout (how its pages are keyed), the pages
 * written through the cache, the pages loaded through it, and its channels. It translates its pages from those.
 *
 * <p><b>Thread safety:</b> {@link #layoutLock} guards {@link #layout}, {@link #written}, {@link #reserved},
 * {@link #noSharing}, {@link #deviceBits} and {@link #stale}: read under its read lock (translations, reads and
 * write-backs), changed under its write lock and, always, under the translator's lock too, so code holding only the
 * translator's lock may read them. The channels and the anchor are swapped under this object's monitor;
 * {@link #loaded} is added to under the read lock and drained under the write lock.
 */
final class OpenFile
{
    final long id;
    /** The real path it was opened by; moved by {@link OpenFiles#renamed} under the translator's lock. */
    volatile Path path;
    /**
     * The channels are opened for writing: from the first writable open on, until the file is closed (a file's
     * dirty pages are written back through them even after its last writable open closed). Set, under the
     * translator's lock and the write lock, before {@link #writers} counts the open that asked for it.
     */
    volatile boolean writable;
    /** Read-only opens outstanding; under the translator's lock. */
    int readers;
    /**
     * Writable opens outstanding: writes are allowed while it is positive. Changed under the translator's lock,
     * read without it ({@code checkWritable} on every write).
     */
    volatile int writers;
    /** The last open was released and the close (write-back, sync) runs: opens wait for it; under the lock. */
    boolean closing;
    /**
     * The read-only channel a writable open replaced, kept open until the file closes: closing a descriptor drops
     * every {@code fcntl} lock this process holds on the file, including other channels' locks.
     */
    FileChannel retired;
    private final int pageShift;
    /** Read: translate, readBlock, writeBlock. Write: publishing a layout, commit, truncate, extend. */
    final ReentrantReadWriteLock layoutLock = new ReentrantReadWriteLock();
    volatile FileChannel channel;
    /** The opened inode, which the channels are opened through; replaced only by a revalidation. */
    volatile InodeAnchor anchor;
    /** Opened with {@code O_DIRECT} for reads, or null (not asked for, refused, or closed by an interrupt). */
    volatile FileChannel direct;
    /** The alignment {@link #direct} transfers need (the file system's block size). */
    int directAlign = 4096;
    volatile FileAttributes attrs;
    volatile long size;
    volatile boolean closed;
    Layout layout = Layout.allPrivate(0);
    /** Writes completed (write-backs and truncations). */
    final AtomicLong writes = new AtomicLong();
    /** {@link #writes} as it was before the last successful force; guarded by {@link #syncLock}. */
    long synced;
    final Object syncLock = new Object();
    /** Pages written through the cache: private to the file until it is reloaded. */
    final TreeSet<Long> written = new TreeSet<>();
    /**
     * Pages whose frames were filled through this file (read in {@code readBlock}, written back in
     * {@code writeBlock}) and not yet dropped: with {@link #written}, every page the cache may hold under a key
     * this file's bytes went into. Added to under the read lock; drained under the write lock.
     */
    final PageSet loaded = new PageSet();
    /** Pages with a block reserved for a write in progress. */
    final Set<Long> reserved = new HashSet<>();
    String noSharing;
    /** The file system's index, shifted into place, that {@link #layout}'s physical keys carry. */
    long deviceBits;
    /**
     * Found changed, or its extents moved, by another file's open: all its pages are private until it is
     * revalidated.
     */
    boolean stale;

    OpenFile(final long id, final Path path, final boolean writable, final int pageShift, final FileChannel channel,
        final InodeAnchor anchor)
    {
        this.id = id;
        this.path = path;
        this.writable = writable;
        this.pageShift = pageShift;
        this.channel = channel;
        this.anchor = anchor;
    }

    /** @return true if what the path names now has the attributes last recorded (size, times, inode). */
    boolean unchangedOnDisk()
    {
        try
        {
            return FileAttributes.of(path).equals(attrs);
        }
        catch (final IOException ex)
        {
            return false; // gone or unreadable: it cannot vouch for anything
        }
    }

    /**
     * Before a page is read through this file for the cache: checks that it still translates to the block the cache
     * asked for, and if so records it as loaded through the file (before the read: a failed read may still leave
     * bytes in the frame). Caller holds the read lock.
     *
     * @param page    the page.
     * @param block   the block the cache translated it to.
     * @param scratch an extent to translate into.
     * @return false if the page translates to another block now (it must not be read for {@code block}).
     */
    boolean loadingAs(final long page, final long block, final Extent scratch)
    {
        translate(page, scratch);
        if (scratch.blockOf(page) != block)
        {
            return false;
        }
        loaded.add(page);
        return true;
    }

    /**
     * Translates a page: its key and the run of pages from it that translate alike. Caller holds the read or the
     * write lock.
     */
    void translate(final long page, final Extent extent)
    {
        final long pages = (size + (1L << pageShift) - 1) >>> pageShift;
        if (page >= pages)
        {
            extent.set(page, 1, Extent.HOLE, false);
            return;
        }
        final boolean privateShared = !writable; // a read-only file's writes must reach reserveBlock to fail
        long end = pages;
        if (!written.isEmpty()) // checked first: the set boxes its keys, and most files are never written
        {
            if (written.contains(page))
            {
                extent.set(page, 1, BlockKeys.privateKey(id, page), privateShared);
                return;
            }
            final Long nextWritten = written.higher(page);
            end = null == nextWritten ? pages : Math.min(pages, nextWritten);
        }
        final Layout current = layout;
        final int run = current.find(page);
        if (run < 0)
        {
            extent.set(page, end - page, Extent.HOLE, false); // grown past the extents read at open
            return;
        }
        end = Math.min(end, current.start[run] + current.count[run]);
        final long key = current.key[run];
        if (Layout.RUN_HOLE == key)
        {
            extent.set(page, end - page, Extent.HOLE, false);
        }
        else if (Layout.RUN_PRIVATE == key)
        {
            extent.set(page, end - page, BlockKeys.privateKey(id, page), privateShared);
        }
        else
        {
            extent.set(page, end - page, key + (page - current.start[run]), true);
        }
    }

    /**
     * Records the opened file's attributes (read through its anchor) after a change of the translator's own (a
     * write-back, a truncation), so it is not taken for a change from outside. A path that names another file now,
     * or none, is still seen by a revalidation, which compares what the path names with these attributes.
     */
    void ownChange()
    {
        try
        {
            final FileAttributes now = FileAttributes.of(anchor.handle());
            if (now.sameFile(attrs))
            {
                attrs = now;
            }
        }
        catch (final IOException ex)
        {
            // the path is gone; the file stays open with its contents (revalidate says so)
        }
    }

    @Override
    public String toString()
    {
        return "file " + id + " (" + path + ')';
    }
}
