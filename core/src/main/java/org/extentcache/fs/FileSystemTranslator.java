package org.extentcache.fs;

import org.extentcache.translate.Extent;
import org.extentcache.translate.FileBackedTranslator;
import org.extentcache.translate.StaleTranslationException;
import org.extentcache.translate.TranslationListener;

import java.io.Closeable;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Ordinary files on a Linux file system, cached by the physical blocks they share: the translator behind
 * {@code ExtentCache} for files users already have. It asks the kernel where each file's extents are
 * ({@code FS_IOC_FIEMAP}, see {@link Fiemap}) and names each page by its physical block on its file system, so
 * files that share extents on XFS or btrfs ({@code cp --reflink}, {@code FICLONE}, snapshots) share cached frames.
 *
 * <h2>The parts</h2>
 * <ul>
 *   <li>{@link BlockKeys}: the keys it answers, physical (file system, block) or private (file, page);
 *       {@link Layout}: a file's pages as runs of holes, private pages and physical blocks, from its extents.</li>
 *   <li>{@link ExtentReader}: a file's attributes and extents, and whether it can share at all (files on tmpfs, on
 *       file systems without shared extents, or not known to give one physical address space per {@code st_dev},
 *       work the same way without sharing; {@link #sharingUnavailableReason} says why). XFS realtime files report
 *       addresses on the realtime device under the same {@code st_dev}: keep them out of a cache that also holds
 *       data-device files. On btrfs each subvolume has its own {@code st_dev}, so reflinks across subvolumes
 *       (snapshots) do not share frames.</li>
 *   <li>{@link BlockTrust}: which cached blocks may be served to which files: trust follows the file system's
 *       current extents, not attributes, so a block freed by a dedupe or a defragmentation and reused by another
 *       file is never served to it with the old file's bytes; and which frames to drop when a file changes.</li>
 *   <li>{@link OpenFile}, {@link InodeAnchor}, {@link FileAttributes}: one open file, the inode it holds, and the
 *       attributes that tell it changed. {@link FileIo}: its reads ({@code O_DIRECT} or buffered), write-backs and
 *       syncs, surviving interrupts. {@link Listeners}: the cache's listener and the announcements made to it.</li>
 * </ul>
 * This class keeps the registry of open files and runs the operations: opening, revalidating and closing files,
 * translating, reading and writing back pages, copy-on-write remaps and resizes.
 *
 * <h2>I/O</h2>
 * A missed block is read through the file whose page missed, at that page's offset; bytes past end-of-file read as
 * zeros. A write through the cache to a physical page makes the page private to its file (the cache copies it on
 * write); write-back writes it through the file, and the file system does its own copy-on-write of shared extents,
 * so other files keep their bytes on disk and in the cache. {@link #sync()} forces every file written since the
 * last sync. Each open file holds a descriptor of the inode it opened and opens its channels, reads its extents and
 * checks its own changes through {@code /proc/self/fd}, so a path renamed over or removed while open never
 * redirects them to another file (only {@link #revalidate} moves to what the path names). An open file uses two
 * descriptors, three with {@code O_DIRECT} reads.
 *
 * <h2>Consistency: close-to-open, as NFS</h2>
 * A file is compared with the file system when it is {@link #open}ed (again) and when {@link #revalidate} is called:
 * its attributes (inode, size, modification and change time) and, if they are unchanged, its extents, which must
 * still map every page it vouches for to the same physical block. If either changed, its dirty pages are written
 * back, its extents are read again and every frame it may have made stale is dropped: those loaded through it, and
 * its written pages. Between those checks the cache trusts what it has: <b>while a file is open here, other
 * processes must not change its bytes</b> (nor those of any file it shares extents with). If they do, reads of that
 * file may return old bytes until it is revalidated, and because a block is read through one file and then served to
 * every file that maps it, a block read after such a change can carry the changed file's new bytes to the files
 * sharing it (until a file that maps the block is next opened, which finds the change and drops what was loaded
 * through the changed file). Timestamps have the file system's granularity (often a clock tick): a change in the same
 * tick that keeps the size, the inode and the extents (an overwrite in place) is not seen. Writes made through the
 * cache are this translator's own and are not reported as changes; a change by another process between one of those
 * writes and the next check is not seen. Moves of extents that keep every attribute (dedupe, defragmentation) are
 * not changes of bytes, and are safe: {@link BlockTrust} says exactly what is guaranteed.
 *
 * <h2>Costs</h2>
 * Opening or reloading a file reads its own extents (one FIEMAP) outside the translator's lock, then, under it, the
 * attributes of every other open file vouching for one of its blocks and the extents of as few of them as cover its
 * blocks (usually one): opening the n-th reflink clone of a file reads two extent lists, not n. {@link #revalidate}
 * of a file whose attributes are unchanged reads its extents once, outside the locks (none if it vouches for no
 * block). Truncating or reloading a file drops what was loaded through it, in proportion to that and never to the
 * file's size: a 1 TiB sparse file with three pages cached announces three blocks. {@link BlockTrust} details both.
 *
 * <h2>Lifecycle</h2>
 * Open files with {@link #open}, build one cache over this translator ({@code ExtentCache.builder().translator(t)},
 * no device), then read them with {@code cache.file(id)}. Opens are counted ({@link #open(Path, boolean)}):
 * {@link #close(long, boolean)} releases one, and the last writes the file's dirty pages back, syncs it and forgets
 * it. Close the cache (after flushing it) before {@link #close()} closes the translator's
 * files.
 *
 * <p><b>Thread safety:</b> safe for concurrent use. Translations and reads of a file share its read lock; opening,
 * reloading, committing a write and truncating take the translator's lock, then the file's write lock.
 */
public final class FileSystemTranslator implements FileBackedTranslator, Closeable
{
    private final int pageSize;
    private final int pageShift;
    private final FileIo io;
    private final ExtentReader reader;
    private final Listeners listeners = new Listeners();
    /** Under the translator's lock ({@link OpenFiles#lock}). */
    private final BlockTrust trust;
    private final OpenFiles openFiles;
    /** The translator's lock: {@link OpenFiles#lock}. */
    private final Object lock;
    /** Per thread: the extent {@link #readBlock} checks its block against (the caller's is not passed down). */
    private final ThreadLocal<Extent> checkExtent = ThreadLocal.withInitial(Extent::new);

    /**
     * A translator whose misses read through the kernel's page cache (with its readahead); the kernel then keeps its
     * own copy of each block read, besides the cache's frame. {@link #FileSystemTranslator(int, boolean)} with
     * {@code directReads = false}.
     *
     * @param pageSize bytes per page (the cache's page size), a power of two from 4 KiB to 64 KiB.
     * @throws IllegalArgumentException if it is not.
     */
    public FileSystemTranslator(final int pageSize)
    {
        this(pageSize, false);
    }

    /**
     * @param pageSize    bytes per page (the cache's page size), a power of two from 4 KiB to 64 KiB.
     * @param directReads true to read misses with {@code O_DIRECT}, bypassing the kernel's page cache, so a block
     *                    is held once (in the cache) rather than twice; each miss then costs a device read with no
     *                    kernel readahead. Files whose file system refuses {@code O_DIRECT} (or whose block size is
     *                    larger than a page) are read through the page cache. Writes always go through the page
     *                    cache.
     * @throws IllegalArgumentException if the page size is not a power of two from 4 KiB to 64 KiB.
     */
    public FileSystemTranslator(final int pageSize, final boolean directReads)
    {
        if (pageSize < 4096 || pageSize > 65536 || Integer.bitCount(pageSize) != 1)
        {
            throw new IllegalArgumentException("pageSize must be a power of two from 4096 to 65536: pageSize=" +
                pageSize);
        }
        this.pageSize = pageSize;
        this.pageShift = Integer.numberOfTrailingZeros(pageSize);
        this.io = new FileIo(pageSize, directReads);
        this.reader = new ExtentReader(pageSize);
        this.trust = new BlockTrust(pageSize, reader, listeners);
        this.openFiles = new OpenFiles(pageShift, io, reader, trust, listeners);
        this.lock = openFiles.lock;
    }

    /**
     * Opens a file for reading through the cache; {@link #open(Path, boolean)} with {@code writable = false}.
     *
     * @param path the file.
     * @return its id, for {@code cache.file(id)}.
     * @throws IOException as {@link #open(Path, boolean)}.
     */
    public long open(final Path path) throws IOException
    {
        return open(path, false);
    }

    /**
     * Opens a file, or counts another open of it and revalidates it if it is already open (close-to-open: a file
     * changed since it was opened is reloaded, see the class comment). The same file (by its real path, or its
     * inode: hard links are one file) always has the same id while open. Opens are counted, read-only and writable
     * apart: writes are allowed while a writable open is outstanding (the first writable open of a file opened
     * read-only reopens its channel for writing), and the file is closed when its last open is released with
     * {@link #close(long, boolean)}. An open racing the last close of the same file waits for that close, then opens
     * the file anew (with a new id).
     *
     * @param path     a regular file.
     * @param writable true to allow writes through the cache (the file is opened for reading and writing).
     * @return its id, for {@code cache.file(id)}.
     * @throws NoSuchFileException      if the file does not exist.
     * @throws IllegalArgumentException if it is not a regular file.
     * @throws java.nio.file.AccessDeniedException if {@code writable} and the file cannot be opened for writing.
     * @throws IOException              if it cannot be opened, or is larger than 2^36 pages; the open is then not
     *                                  counted.
     * @throws IllegalStateException    if the translator is closed.
     */
    public long open(final Path path, final boolean writable) throws IOException
    {
        return openFiles.open(path, writable);
    }

    /**
     * Compares an open file with the file system; if its inode, size, modification or change time differ from what
     * the translator last saw, or its extents no longer map every block it vouches for (a dedupe or a
     * defragmentation moved them), writes its dirty pages back (through the cache's listener), reads its extents
     * again and drops every frame it may have made stale. Reads the file's extents (one FIEMAP) even if its
     * attributes are unchanged, unless it vouches for no block.
     *
     * @param file the file's id.
     * @return true if the file had changed or moved, and was reloaded.
     * @throws NoSuchFileException if the id is not open, or its path no longer names a file (the file stays open
     *                             with its old contents; close it).
     * @throws IOException         if the write-back or the reload fails; the file is then left as it was.
     */
    public boolean revalidate(final long file) throws IOException
    {
        return openFiles.revalidate(file);
    }

    /**
     * Releases one open of a file: a read-only one if it has any, else a writable one;
     * {@link #close(long, boolean)} says which.
     *
     * @param file the file's id.
     * @throws NoSuchFileException if the id is not open.
     * @throws IOException         as {@link #close(long, boolean)}.
     */
    public void close(final long file) throws IOException
    {
        openFiles.close(file);
    }

    /**
     * Releases one open of a file, of the kind given. On its last open, writes the file's dirty pages back (through
     * the cache's listener), syncs it and forgets it; its id is not reused, and the cache drops its view of the file.
     *
     * @param file     the file's id.
     * @param writable the kind of open released: as it was passed to {@link #open(Path, boolean)}.
     * @throws NoSuchFileException   if the id is not open, or its last close is running.
     * @throws IllegalStateException if the file has no open of that kind outstanding.
     * @throws IOException           if the write-back or the sync of a last close fails; the file then stays open
     *                               and the open is still counted, so the close can be retried.
     */
    public void close(final long file, final boolean writable) throws IOException
    {
        openFiles.close(file, writable);
    }

    /**
     * Tells the translator that {@code source} (a file or a directory) was renamed to {@code target} by the caller:
     * files open under {@code source} are then opened by their new paths (and keep their ids), and files open under
     * {@code target} before, which the rename replaced, stay open by their inodes but are no longer reached by path.
     * Without this, an open of the new path would open the file a second time, and one of the old path would fail.
     *
     * @param source the real path renamed.
     * @param target its real path now.
     */
    public void renamed(final Path source, final Path target)
    {
        openFiles.renamed(source, target);
    }

    /**
     * Tells the translator that {@code path} (a file or a directory) was deleted by the caller: files open under it
     * stay open by their inodes (readable and writable until their last close, as POSIX keeps an unlinked file),
     * and a later open of the path opens what it names then as a new file, rather than revalidating the deleted one
     * onto it.
     *
     * @param path the real path deleted.
     */
    public void unlinked(final Path path)
    {
        openFiles.unlinked(path);
    }

    /** @return direct memory its bounce pages and run buffers took, beside the cache's (freed by the GC). */
    public long directBytesAllocated()
    {
        return io.directBytesAllocated();
    }

    /**
     * @param file the file's id.
     * @return true if the file's misses are read with {@code O_DIRECT} (see
     * {@link #FileSystemTranslator(int, boolean)}).
     * @throws NoSuchFileException if the id is not open.
     */
    public boolean readsDirectly(final long file) throws NoSuchFileException
    {
        return null != state(file).direct;
    }

    /**
     * @param file the file's id.
     * @return the file's real path.
     * @throws NoSuchFileException if the id is not open.
     */
    public Path path(final long file) throws NoSuchFileException
    {
        return state(file).path;
    }

    /**
     * @param path a regular file.
     * @return the id of the open file its real path reaches now, or -1 if none: a file deleted or renamed over while
     * open is no longer reached by its old path (see {@link #unlinked}, {@link #renamed}).
     */
    public long openIdOf(final Path path)
    {
        return openFiles.idOf(path);
    }

    /**
     * Something to do with the inode an open file holds (not what its path names now: the file may have been
     * deleted or renamed over).
     *
     * @param <T> what the action returns.
     */
    @FunctionalInterface
    public interface InodeAction<T>
    {
        /**
         * @param inode a path that names the file's inode while the action runs ({@code /proc/self/fd/N} of the
         *              descriptor the translator holds; the file's path where it holds none).
         * @return the action's result.
         * @throws IOException as the action fails.
         */
        T apply(Path inode) throws IOException;
    }

    /**
     * Runs an action on the inode an open file holds, under the translator's lock, so that no close or reload lets
     * the inode's descriptor go meanwhile: opening another descriptor of a deleted file, for one.
     *
     * @param file   the file's id.
     * @param action what to do; it should be short (it holds the translator's lock).
     * @param <T>    what the action returns.
     * @return the action's result.
     * @throws NoSuchFileException if the id is not open.
     * @throws IOException         as the action fails.
     */
    public <T> T withInode(final long file, final InodeAction<T> action) throws IOException
    {
        synchronized (lock)
        {
            final OpenFile state = openFiles.get(file);
            openFiles.ensureStillOpen(file, state);
            return action.apply(state.anchor.handle());
        }
    }

    /**
     * @param file the file's id.
     * @return null if the file's pages are keyed by physical block (it can share frames with other files), else why
     * not (no FIEMAP on this platform or file system, or the file was found changed and awaits revalidation).
     * @throws NoSuchFileException if the id is not open.
     */
    public String sharingUnavailableReason(final long file) throws NoSuchFileException
    {
        final OpenFile state = state(file);
        state.layoutLock.readLock().lock();
        try
        {
            return state.stale ? "changed or moved outside the cache; revalidate it" : state.noSharing;
        }
        finally
        {
            state.layoutLock.readLock().unlock();
        }
    }

    /**
     * @return ids of the open files.
     */
    public long[] openFiles()
    {
        return openFiles.ids();
    }

    @Override
    public int pageSize()
    {
        return pageSize;
    }

    @Override
    public long size(final long file) throws NoSuchFileException
    {
        return state(file).size;
    }

    @Override
    public void translate(final long file, final long page, final Extent extent) throws NoSuchFileException
    {
        if (page < 0)
        {
            throw new IllegalArgumentException("page must be >= 0: page=" + page);
        }
        final OpenFile state = state(file);
        state.layoutLock.readLock().lock();
        try
        {
            state.translate(page, extent);
        }
        finally
        {
            state.layoutLock.readLock().unlock();
        }
    }

    @Override
    public void readBlock(final long file, final long page, final long block, final ByteBuffer dst) throws IOException
    {
        if (dst.remaining() != pageSize)
        {
            throw new IllegalArgumentException("readBlock needs exactly one page of room: remaining=" +
                dst.remaining() + " pageSize=" + pageSize);
        }
        final OpenFile state = state(file);
        final Extent current = checkExtent.get();
        state.layoutLock.readLock().lock();
        try
        {
            if (!state.loadingAs(page, block, current))
            {
                throw new StaleTranslationException(file, page, block);
            }
            io.read(state, page, dst);
        }
        finally
        {
            state.layoutLock.readLock().unlock();
        }
    }

    /**
     * One read of the whole run through the file, at the run's offset ({@code O_DIRECT} into an aligned bounce
     * buffer where the file reads directly), after checking every page of it against the file's current layout under
     * the file's read lock, as {@link #readBlock} checks its page: a page that translates to another block now is
     * not read, and every page read is recorded as loaded through the file before the read.
     */
    @Override
    public void readBlocks(final long file, final long firstPage, final long[] blocks, final ByteBuffer[] dsts,
        final int count) throws IOException
    {
        if (count < 1 || count > blocks.length || count > dsts.length)
        {
            throw new IllegalArgumentException("count must be 1.." + Math.min(blocks.length, dsts.length) +
                ": count=" + count);
        }
        for (int i = 0; i < count; i++)
        {
            if (Extent.HOLE != blocks[i] && dsts[i].remaining() != pageSize)
            {
                throw new IllegalArgumentException("readBlocks needs exactly one page of room per page: " +
                    "remaining=" + dsts[i].remaining() + " pageSize=" + pageSize + " i=" + i);
            }
        }
        final OpenFile state = state(file);
        final Extent current = checkExtent.get();
        state.layoutLock.readLock().lock();
        try
        {
            int first = -1;
            int last = -1;
            for (int i = 0; i < count; i++)
            {
                if (Extent.HOLE != blocks[i] && !state.loadingAs(firstPage + i, blocks[i], current))
                {
                    blocks[i] = Extent.HOLE;
                }
                else if (Extent.HOLE != blocks[i])
                {
                    first = -1 == first ? i : first;
                    last = i;
                }
            }
            if (-1 != first)
            {
                io.readRun(state, firstPage + first, blocks, dsts, first, last - first + 1);
            }
        }
        finally
        {
            state.layoutLock.readLock().unlock();
        }
    }

    @Override
    public void writeBlock(final long block, final ByteBuffer src) throws IOException
    {
        if (!BlockKeys.isPrivate(block))
        {
            throw new IllegalArgumentException("block " + block + " is not private to a file: the cache must copy " +
                "a shared block on write");
        }
        if (src.remaining() != pageSize)
        {
            throw new IllegalArgumentException("writeBlock needs exactly one page: remaining=" + src.remaining() +
                " pageSize=" + pageSize);
        }
        final long file = BlockKeys.fileOf(block);
        final long page = BlockKeys.pageOf(block);
        final OpenFile state = openFiles.find(file);
        if (null == state)
        {
            throw new NoSuchFileException("file " + file, null, "closed or never opened: cannot write page " + page);
        }
        state.layoutLock.readLock().lock();
        try
        {
            state.loaded.add(page); // its frame holds the file's bytes under the file's private key
            final long offset = page << pageShift;
            final long length = Math.min(pageSize, state.size - offset);
            if (length <= 0)
            {
                src.position(src.limit()); // past end-of-file: nothing of the page is in the file
                return;
            }
            final ByteBuffer bytes = src.duplicate();
            bytes.limit(bytes.position() + (int)length);
            while (bytes.hasRemaining())
            {
                io.write(state, bytes, offset + (bytes.position() - src.position()));
            }
            state.writes.incrementAndGet(); // after the write: a sync that reads this count forces after it
            src.position(src.limit());
            state.ownChange();
        }
        finally
        {
            state.layoutLock.readLock().unlock();
        }
    }

    @Override
    public void sync() throws IOException
    {
        IOException failure = null;
        for (final OpenFile state : openFiles.all())
        {
            try
            {
                io.sync(state);
            }
            catch (final IOException ex)
            {
                failure = null == failure ? new IOException("sync failed: " + ex.getMessage(), ex) :
                    FileIo.firstOf(failure, ex);
            }
        }
        if (null != failure)
        {
            throw failure;
        }
    }

    /** For tests: whether a write-back of {@code file} completed since its last successful force. */
    boolean hasUnsyncedWrites(final long file) throws NoSuchFileException
    {
        final OpenFile state = openFiles.get(file);
        synchronized (state.syncLock)
        {
            return state.writes.get() > state.synced;
        }
    }

    @Override
    public void syncFile(final long file) throws IOException
    {
        final OpenFile state = openFiles.find(file);
        if (null != state) // a file closed since: its close wrote its pages back and synced them
        {
            io.sync(state);
        }
    }

    /**
     * @param file the file's id.
     * @throws NoSuchFileException   if the id is not open.
     * @throws AccessDeniedException if the file has no writable open outstanding.
     */
    @Override
    public void checkWritable(final long file) throws IOException
    {
        openFiles.writable(file);
    }

    @Override
    public long reserveBlock(final long file, final long page) throws IOException
    {
        final OpenFile state = openFiles.writable(file);
        if (page < 0 || page >= BlockKeys.PAGE_MASK)
        {
            throw new IllegalArgumentException("page out of range: page=" + page);
        }
        synchronized (lock)
        {
            state.layoutLock.writeLock().lock();
            try
            {
                if (!state.reserved.add(page))
                {
                    throw new IllegalStateException("page " + page + " of " + state.path + " is already reserved");
                }
            }
            finally
            {
                state.layoutLock.writeLock().unlock();
            }
        }
        return BlockKeys.privateKey(state.id, page);
    }

    @Override
    public void commitBlock(final long file, final long page, final long block) throws NoSuchFileException
    {
        final OpenFile state = state(file);
        final List<long[]> stale = new ArrayList<>();
        synchronized (lock)
        {
            final long physical;
            state.layoutLock.writeLock().lock();
            try
            {
                if (block != BlockKeys.privateKey(state.id, page) || !state.reserved.remove(page))
                {
                    throw new IllegalArgumentException("block " + block + " is not reserved for page " + page +
                        " of " + state.path);
                }
                final Extent extent = new Extent();
                state.translate(page, extent);
                physical = extent.isHole() || (extent.deviceBlock() & BlockKeys.PRIVATE) != 0 ? -1 :
                    extent.blockOf(page);
                state.written.add(page);
                if (physical >= 0)
                {
                    // the file system overwrites a block in place if no other file shares it: drop the block's frame
                    // unless another open file still vouches for it (then the file system copies on write)
                    trust.withdraw(state, physical, stale);
                }
            }
            finally
            {
                state.layoutLock.writeLock().unlock();
            }
            listeners.pagesChanged(file, page, 1, state.size);
            listeners.invalidate(stale);
        }
    }

    @Override
    public void releaseBlock(final long block)
    {
        final long file = BlockKeys.fileOf(block);
        final long page = BlockKeys.pageOf(block);
        final OpenFile state = openFiles.find(file);
        synchronized (lock)
        {
            if (null == state || !BlockKeys.isPrivate(block))
            {
                throw new IllegalArgumentException("block " + block + " is not a reserved block");
            }
            state.layoutLock.writeLock().lock();
            try
            {
                if (!state.reserved.remove(page))
                {
                    throw new IllegalArgumentException("block " + block + " is not reserved");
                }
            }
            finally
            {
                state.layoutLock.writeLock().unlock();
            }
            listeners.blocksInvalidated(block, 1); // the frame the cache filled for it holds nothing of the file
        }
    }

    @Override
    public void extend(final long file, final long size) throws IOException
    {
        final OpenFile state = openFiles.writable(file);
        reader.checkSize(state.path, size);
        synchronized (lock)
        {
            openFiles.ensureStillOpen(file, state);
            final long old;
            final List<long[]> stale = new ArrayList<>();
            state.layoutLock.writeLock().lock();
            try
            {
                old = state.size;
                if (size <= old)
                {
                    return;
                }
                trust.privatizeOldTail(state, old, stale);
                state.size = size;
            }
            finally
            {
                state.layoutLock.writeLock().unlock();
            }
            final long firstPage = old >> pageShift;
            // pages past the old end were holes: only the old tail page and the new ones change
            listeners.pagesChanged(file, firstPage, reader.pagesOf(size) - firstPage, size);
            listeners.invalidate(stale);
        }
    }

    @Override
    public void truncate(final long file, final long size) throws IOException
    {
        final OpenFile state = openFiles.writable(file);
        reader.checkSize(state.path, size);
        final long tail = size >> pageShift;
        try (Listeners.Announcement change = listeners.announce(file))
        {
            change.before(tail, Long.MAX_VALUE - tail, false);
            synchronized (lock)
            {
                // close(file) or close() may have run since state(): its anchor's number may name another file now
                openFiles.ensureStillOpen(file, state);
                final List<long[]> stale = new ArrayList<>();
                final long firstChanged;
                state.layoutLock.writeLock().lock();
                try
                {
                    firstChanged = Math.min(tail, state.size >> pageShift); // growing: the old tail page changed too
                    if (size > state.size)
                    {
                        trust.privatizeOldTail(state, state.size, stale);
                    }
                    final long onDisk = Files.size(state.anchor.handle());
                    if (size < onDisk)
                    {
                        io.truncate(state, size);
                    }
                    else if (size > onDisk)
                    {
                        try (RandomAccessFile grow = new RandomAccessFile(state.anchor.handle().toFile(), "rw"))
                        {
                            grow.setLength(size);
                        }
                    }
                    state.writes.incrementAndGet();
                    // pages from the tail on lose their blocks; a partial tail page becomes private (read through
                    // the file, which now has zeros past the new end)
                    trust.unvouch(state, tail, null);
                    trust.dropLoaded(state, tail, true, true, stale);
                    state.written.tailSet(tail).clear();
                    state.layout = state.layout.clip(tail);
                    if ((size & (pageSize - 1)) != 0)
                    {
                        state.written.add(tail);
                    }
                    state.size = size;
                    state.ownChange();
                }
                finally
                {
                    state.layoutLock.writeLock().unlock();
                }
                listeners.pagesChanged(file, firstChanged, Long.MAX_VALUE - firstChanged, size);
                listeners.invalidate(stale);
            }
        }
    }

    @Override
    public void addListener(final TranslationListener listener)
    {
        listeners.add(listener);
    }

    @Override
    public void removeListener(final TranslationListener listener)
    {
        listeners.remove(listener);
    }

    /**
     * Closes every open file's channel without writing anything back: close the cache, after flushing it, first.
     * Later calls do nothing.
     *
     * @throws IOException if a channel fails to close (the others are still closed).
     */
    @Override
    public void close() throws IOException
    {
        openFiles.closeAll();
    }

    /**
     * @return segments in the registry of physical blocks vouched for by open files (metadata accounting, tests).
     */
    public int ownedSegments()
    {
        synchronized (lock)
        {
            return trust.ownedSegments();
        }
    }

    /** @return FIEMAP calls made so far (the costs the class comment states; tests). */
    long extentReads()
    {
        return reader.extentReads();
    }

    @Override
    public String toString()
    {
        return "FileSystemTranslator{pageSize=" + pageSize + ", files=" + openFiles.count() + '}';
    }

    private OpenFile state(final long file) throws NoSuchFileException
    {
        return openFiles.get(file);
    }
}
