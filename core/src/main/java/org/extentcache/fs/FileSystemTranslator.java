package org.extentcache.fs;

import org.extentcache.translate.Extent;
import org.extentcache.translate.FileBackedTranslator;
import org.extentcache.translate.StaleTranslationException;
import org.extentcache.translate.TranslationListener;

import java.io.Closeable;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Ordinary files on a Linux file system, cached by the physical blocks they share: the translator behind
 * {@code ExtentCache} for files users already have. It asks the kernel where each file's extents are
 * ({@code FS_IOC_FIEMAP}, see {@link Fiemap}) and names each page by its physical block on its file system, so
 * files that share extents on XFS or btrfs ({@code cp --reflink}, {@code FICLONE}, snapshots) share cached frames.
 *
 * <h2>Block keys</h2>
 * The "device blocks" this translator answers are keys: a page whose extent the kernel reports at a stable physical
 * address (not delayed-allocation, unknown, inline, encoded, encrypted, unwritten or unaligned) is keyed by
 * (file system, physical block) and reported shared, so the cache never writes it in place; any other page is
 * <em>private</em> to its file, keyed by (file, page). Pages the kernel reports no extent for are holes. Files on
 * file systems without FIEMAP (tmpfs) or without shared extents (ext4) work the same way, without sharing, and so do
 * files on file systems not known to give one physical address space per {@code st_dev} (only xfs, btrfs, ext2/3/4
 * and f2fs are trusted; overlayfs and FUSE pass FIEMAP through to the file systems below them):
 * {@link #sharingUnavailableReason} says why a file cannot share. XFS realtime files report addresses on the realtime
 * device under the same {@code st_dev}: keep them out of a cache that also holds data-device files. On btrfs each
 * subvolume has its own {@code st_dev}, so reflinks across subvolumes (snapshots) do not share frames.
 *
 * <h2>I/O</h2>
 * A missed block is read through the file whose page missed, at that page's offset, with the file's own channel;
 * bytes past end-of-file read as zeros. A write through the cache to a physical page makes the page private to its
 * file (the cache copies it on write); write-back writes it through the file, and the file system does its own
 * copy-on-write of shared extents, so other files keep their bytes on disk and in the cache. {@link #sync()} forces
 * every file written since the last sync. Each open file holds a descriptor of the inode it opened and opens its
 * channels, reads its extents and checks its own changes through {@code /proc/self/fd}, so a path renamed over or
 * removed while open never redirects them to another file (only {@link #revalidate} moves to what the path names).
 * An open file uses two descriptors, three with {@code O_DIRECT} reads.
 *
 * <h2>Consistency: close-to-open, as NFS</h2>
 * A file is compared with the file system when it is {@link #open}ed (again) and when {@link #revalidate} is called:
 * its attributes (inode, size, modification and change time) and, if they are unchanged, its extents, which must
 * still map every page it vouches for (below) to the same physical block. If either changed, its dirty pages are
 * written back, its extents are read again and every frame it may have made stale is dropped: its private pages, and
 * the physical blocks that no other open, unchanged file still maps. Between those checks the cache trusts what it
 * has: <b>while a file is open here, other processes must not change its bytes</b> (nor those of any file it shares
 * extents with). If they do, reads of that file may return old bytes until it is revalidated, and because a block is
 * read through one file and then served to every file that maps it, a block read after such a change can carry the
 * changed file's new bytes to the files sharing it. Timestamps have the file system's granularity (often a clock
 * tick): a change in the same tick that keeps the size, the inode and the extents (an overwrite in place) is not
 * seen. Writes made through the cache are this translator's own and are not reported as changes; a change by another
 * process between one of those writes and the next check is not seen.
 *
 * <h2>Trust follows the extents, not the attributes</h2>
 * The file system may also move a file's extents without changing a byte of it or any attribute: dedupe
 * ({@code FIDEDUPERANGE}, duperemove), defragmentation ({@code xfs_fsr}); and it then frees the old blocks and may
 * give them to another file. A move never changes what the moved file itself reads (a missed page is read through
 * the file at its offset), so it needs no check on the moved file's reads; the danger is the freed block. An open
 * file <em>vouches</em> for the physical blocks its layout maps (less the pages written through the cache, which are
 * private), and a frame keyed by a physical block is served only to files whose layout maps that block. What is
 * guaranteed:
 * <ul>
 *   <li>A layout is published (a file opened or reloaded) only after each block it maps is either vouched for by no
 *       other open file, and then its frame is dropped first; or vouched for by at least one other open file whose
 *       extents were read (FIEMAP) during this publication and still map, page for page, every block it vouches
 *       for. Every other file vouching for one of the blocks has its attributes checked. A file found changed
 *       (attributes) or moved (extents) stops vouching for anything and stops sharing: its pages all become private
 *       and the frames of all its physical blocks are dropped (they may have been loaded through it after the
 *       change) until it is revalidated.</li>
 *   <li>So a block freed by a move, or by a punch, a truncation or a reflink over it, and then given to another file
 *       is never served to that file with the bytes it held for the file that moved: that file's vouch is found
 *       stale when the new owner is published, and the frame is dropped.</li>
 *   <li>{@link #revalidate} reloads a file whose extents moved though its attributes did not, so it shares again by
 *       the blocks it maps now.</li>
 * </ul>
 * Not guaranteed: a move that runs while the checks themselves run (between the new file's FIEMAP and a vouching
 * file's) is seen at the next check; a content change the attributes do not show (same clock tick) and that moves
 * no extent is not seen, as above.
 *
 * <h2>Costs</h2>
 * Opening or reloading a file reads its own extents (one FIEMAP) outside the translator's lock; under that lock it
 * reads the attributes of every other open file vouching for one of its blocks (one {@code stat} each) and the
 * extents (one FIEMAP each, with {@code FIEMAP_FLAG_SYNC}) of as few of them as cover its blocks: one per distinct
 * group of sharers, usually one, so opening the n-th reflink clone of a file reads two extent lists, not n. A moved
 * file costs one more FIEMAP per owner tried. {@link #revalidate} of a file whose attributes are unchanged reads its
 * extents once, outside the locks (none if it vouches for no block). The extent comparison costs
 * {@code O(runs + written pages)} binary searches; FIEMAP itself costs one ioctl per 256 extents.
 *
 * <p>Dropping what a file may have made stale (a truncation from a page on, a reload, a sharer found changed or
 * moved) names only the pages whose frames were filled through that file, each by its key: the pages read or
 * written back through it since it was last published ({@link PageSet}), and its written pages. That costs
 * {@code O(layout runs + those pages)} under the translator's lock, and as many blocks announced to the cache (each
 * a device-index lookup), never the file's size: truncating a 1 TiB sparse file with three pages cached announces
 * three blocks, where naming its key range announced 2^28. Frames of the file's blocks filled through other files
 * are not named: an open file that filled one vouches for it, and one filled through a file closed since is dropped
 * when the block next has no owner as a layout that maps it is published. The set keeps a page until it is
 * dropped, also after the cache reclaimed its frame, so it is a superset of what the cache holds: up to one bit per
 * page read through the file (a 528-byte leaf per 4096-page region touched).
 *
 * <h2>Lifecycle</h2>
 * Open files with {@link #open}, build one cache over this translator ({@code ExtentCache.builder().translator(t)},
 * no device), then read them with {@code cache.file(id)}. {@link #close(long)} writes a file's dirty pages back,
 * syncs it and forgets it. Close the cache (after flushing it) before {@link #close()} closes the translator's
 * files.
 *
 * <p><b>Thread safety:</b> safe for concurrent use. Translations and reads of a file share its read lock; opening,
 * reloading, committing a write and truncating take the translator's lock, then the file's write lock.
 */
public final class FileSystemTranslator implements FileBackedTranslator, Closeable
{
    /** Marks a private key: {@code PRIVATE | file << PAGE_BITS | page}. */
    static final long PRIVATE = 1L << 62;
    /** Bits of a page index in a private key: files up to 2^36 pages. */
    static final int PAGE_BITS = 36;
    /** Bits of a file id in a private key. */
    static final int FILE_BITS = 26;
    /** Bits of a physical block in a physical key: {@code deviceIndex << BLOCK_BITS | block}. */
    static final int BLOCK_BITS = 48;
    /** Bits of a file system's index in a physical key. */
    static final int DEVICE_BITS = 14;

    private static final long PAGE_MASK = (1L << PAGE_BITS) - 1;
    private static final long FILE_MASK = (1L << FILE_BITS) - 1;
    private static final long RUN_HOLE = -1;
    private static final long RUN_PRIVATE = -2;
    private static final int MAX_ATTEMPTS = 5;
    private static final int NO_CHANNEL = Integer.MIN_VALUE;
    /**
     * File systems whose FIEMAP physical addresses name one address space per {@code st_dev}, so equal keys are the
     * same bytes. Others (overlayfs and FUSE pass FIEMAP through to file systems below them, possibly several under
     * one {@code st_dev}) keep every page private.
     */
    private static final Set<String> ONE_ADDRESS_SPACE = Set.of("xfs", "btrfs", "ext2", "ext3", "ext4", "f2fs");

    private final int pageSize;
    private final int pageShift;
    private final boolean directReads;
    /** Per thread: the extent {@link #readBlock} checks its block against (the caller's is not passed down). */
    private final ThreadLocal<Extent> checkExtent = ThreadLocal.withInitial(Extent::new);
    /** Per thread: a page-aligned page for {@code O_DIRECT} reads (frames are not aligned). */
    private final ThreadLocal<ByteBuffer> bounce;
    private final Object lock = new Object();
    private final ConcurrentHashMap<Long, FileState> files = new ConcurrentHashMap<>();
    /** Under {@link #lock}. */
    private final Map<Path, FileState> byPath = new HashMap<>();
    /** File system type by {@code st_dev}. */
    private final Map<Long, String> fileSystemTypes = new ConcurrentHashMap<>();
    /** Open files by inode, so hard links to one file share its id; under {@link #lock}. */
    private final Map<Object, FileState> byInode = new HashMap<>();
    /** File system ({@code st_dev}) to its index in physical keys; under {@link #lock}. */
    private final Map<Long, Integer> devices = new HashMap<>();
    /** Under {@link #lock}. */
    private final BlockOwners owners = new BlockOwners();
    private final CopyOnWriteArrayList<TranslationListener> listeners = new CopyOnWriteArrayList<>();
    /** FIEMAP calls made, for the costs the class comment states (tests). */
    private final java.util.concurrent.atomic.LongAdder extentReads = new java.util.concurrent.atomic.LongAdder();
    /** Under {@link #lock}. */
    private long nextId = 1;
    /** Under {@link #lock}. */
    private boolean closed;

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
        this.directReads = directReads;
        this.bounce = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(2 * pageSize - 1).alignedSlice(pageSize));
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
     * Opens a file, or revalidates it if it is already open (close-to-open: a file changed since it was opened is
     * reloaded, see the class comment). The same file (by its real path, or its inode: hard links are one file)
     * always has the same id while open.
     *
     * @param path     a regular file.
     * @param writable true to allow writes through the cache (the file is opened for reading and writing).
     * @return its id, for {@code cache.file(id)}.
     * @throws NoSuchFileException      if the file does not exist.
     * @throws IllegalArgumentException if it is not a regular file, or is open read-only and {@code writable} is
     *                                  asked for (close it first).
     * @throws IOException              if it cannot be opened, or is larger than 2^36 pages.
     * @throws IllegalStateException    if the translator is closed.
     */
    public long open(final Path path, final boolean writable) throws IOException
    {
        final Path real = path.toRealPath();
        if (!Files.isRegularFile(real))
        {
            throw new IllegalArgumentException("not a regular file: " + real);
        }
        FileState existing;
        synchronized (lock)
        {
            ensureOpen();
            existing = byPath.get(real);
        }
        if (null != existing)
        {
            return reopen(existing, real, writable);
        }

        final Anchor anchor = Anchor.open(real);
        final FileChannel channel;
        try
        {
            channel = openChannel(anchor.handle(), writable);
        }
        catch (final IOException | RuntimeException ex)
        {
            anchor.closeQuietly(ex);
            throw ex;
        }
        try
        {
            final Loaded loaded = load(anchor.handle(), real);
            synchronized (lock)
            {
                ensureOpen();
                existing = byPath.get(real);
                if (null == existing)
                {
                    existing = byInode.get(loaded.attrs.inodeKey()); // another hard link to an open file
                }
                if (null == existing)
                {
                    if (nextId > FILE_MASK)
                    {
                        throw new IOException("too many files opened over this translator's life: " + nextId);
                    }
                    final FileState file = new FileState(nextId++, real, writable, channel, anchor);
                    file.layoutLock.writeLock().lock();
                    try
                    {
                        publish(file, loaded);
                    }
                    finally
                    {
                        file.layoutLock.writeLock().unlock();
                    }
                    file.direct = openDirect(file, anchor.handle());
                    files.put(file.id, file);
                    byPath.put(real, file);
                    byInode.put(loaded.attrs.inodeKey(), file);
                    return file.id;
                }
            }
        }
        catch (final IOException | RuntimeException | Error ex)
        {
            closeQuietly(channel, ex);
            anchor.closeQuietly(ex);
            throw ex;
        }
        try
        {
            channel.close(); // open already: under another name, or another thread opened it meanwhile
        }
        finally
        {
            anchor.close();
        }
        return reopen(existing, real, writable);
    }

    /** {@link #open} of a file already open (by this path or another hard link): revalidates it. */
    private long reopen(final FileState existing, final Path real, final boolean writable) throws IOException
    {
        if (writable && !existing.writable)
        {
            throw new IllegalArgumentException(real + " is open read-only" + (real.equals(existing.path) ? "" :
                " as " + existing.path) + "; close it before opening it writable");
        }
        revalidate(existing.id);
        return existing.id;
    }

    /**
     * Compares an open file with the file system; if its inode, size, modification or change time differ from what
     * the translator last saw, writes its dirty pages back (through the cache's listener), reads its extents again
     * and drops every frame it may have made stale.
     *
     * @param file the file's id.
     * @return true if the file had changed and was reloaded.
     * @throws NoSuchFileException if the id is not open, or its path no longer names a file (the file stays open
     *                             with its old contents; close it).
     * @throws IOException         if the write-back or the reload fails; the file is then left as it was.
     */
    public boolean revalidate(final long file) throws IOException
    {
        while (true)
        {
            try
            {
                return revalidateOnce(file);
            }
            catch (final RevalidateAgain again)
            {
                // another revalidation replaced the anchor this one read through: start again
            }
        }
    }

    /**
     * Whether a file whose attributes are unchanged no longer maps every block it vouches for (dedupe,
     * defragmentation): one FIEMAP, outside the locks, compared under the file's read lock. A file that vouches for
     * nothing (no sharing, or no physical pages) is not read.
     */
    private boolean extentsMoved(final FileState state) throws IOException
    {
        final Layout layout;
        state.layoutLock.readLock().lock();
        try
        {
            layout = state.layout;
        }
        finally
        {
            state.layoutLock.readLock().unlock();
        }
        if (!layout.hasPhysical())
        {
            return false;
        }
        final Layout now = currentLayout(state);
        state.layoutLock.readLock().lock();
        try
        {
            return state.stale || !state.layout.keepsBlocks(now, state.written);
        }
        finally
        {
            state.layoutLock.readLock().unlock();
        }
    }

    /** Thrown (after the Announcement closed) when a revalidation must start again. */
    private static final class RevalidateAgain extends RuntimeException
    {
        private static final long serialVersionUID = 1L;

        RevalidateAgain()
        {
            super(null, null, false, false);
        }
    }

    private boolean revalidateOnce(final long file) throws IOException
    {
        final FileState state = state(file);
        final Attrs now = Attrs.of(state.path);
        if (now.equals(state.attrs) && !state.stale && !extentsMoved(state))
        {
            return false;
        }
        try (Announcement change = new Announcement(file))
        {
            change.before(0, Long.MAX_VALUE, false);
            final boolean replaced = !Attrs.of(state.path).sameFile(state.attrs);
            // the path names another file now: hold the new one's inode, and read it through that
            Anchor anchor = replaced ? Anchor.open(state.path) : null;
            FileChannel channel = null;
            FileChannel direct = null;
            try
            {
                final Anchor reading = replaced ? anchor : state.anchor;
                final Loaded loaded = load(reading.handle(), state.path);
                if (replaced)
                {
                    syncFile(state); // the write-backs just made went to the old file: durable before it is let go
                }
                synchronized (lock)
                {
                    ensureOpen();
                    if (files.get(file) != state)
                    {
                        throw new NoSuchFileException(state.path.toString(), null, "closed during revalidation");
                    }
                    if (reading.isClosed())
                    {
                        // a concurrent revalidate let it go during the load: what was read may be another file's
                        throw new RevalidateAgain();
                    }
                    final Attrs old = state.attrs;
                    if (replaced)
                    {
                        channel = openChannel(anchor.handle(), state.writable);
                        direct = openDirect(state, anchor.handle());
                    }
                    state.layoutLock.writeLock().lock();
                    try
                    {
                        final List<long[]> stale = new ArrayList<>();
                        unvouch(state, 0, null);
                        // loaded through the changed file: may hold its new bytes, or its old ones
                        dropLoaded(state, 0, true, true, stale);
                        publish(state, loaded);
                        if (replaced)
                        {
                            // no reader is in readBlock now: none reads the new file under the old layout's keys
                            synchronized (state)
                            {
                                final FileChannel oldChannel = state.channel;
                                final FileChannel oldDirect = state.direct;
                                final Anchor oldAnchor = state.anchor;
                                state.channel = channel;
                                state.direct = direct;
                                state.anchor = anchor;
                                channel = oldChannel; // closed below
                                direct = oldDirect;
                                anchor = oldAnchor;
                            }
                            byInode.remove(old.inodeKey(), state);
                            byInode.putIfAbsent(loaded.attrs.inodeKey(), state);
                        }
                        invalidate(stale);
                    }
                    finally
                    {
                        state.layoutLock.writeLock().unlock();
                    }
                    for (final TranslationListener listener : listeners)
                    {
                        listener.pagesChanged(file, 0, Long.MAX_VALUE, state.size);
                    }
                }
            }
            finally
            {
                // the replaced channels and anchor, or new ones never installed
                try
                {
                    if (null != direct)
                    {
                        direct.close();
                    }
                }
                finally
                {
                    try
                    {
                        if (null != channel)
                        {
                            channel.close();
                        }
                    }
                    finally
                    {
                        if (null != anchor)
                        {
                            anchor.close();
                        }
                    }
                }
            }
            return true;
        }
    }

    /**
     * Writes a file's dirty pages back (through the cache's listener), syncs it and forgets it; its id is not
     * reused. The cache drops its view of the file.
     *
     * @param file the file's id.
     * @throws NoSuchFileException if the id is not open.
     * @throws IOException         if the write-back or the sync fails; the file then stays open.
     */
    public void close(final long file) throws IOException
    {
        final FileState state = state(file);
        try (Announcement change = new Announcement(file))
        {
            change.before(0, Long.MAX_VALUE, false);
            syncFile(state);
            synchronized (lock)
            {
                if (files.remove(file, state))
                {
                    byPath.remove(state.path, state);
                    byInode.remove(state.attrs.inodeKey(), state);
                    state.layoutLock.writeLock().lock();
                    try
                    {
                        unvouch(state, 0, null);
                        state.closed = true;
                    }
                    finally
                    {
                        state.layoutLock.writeLock().unlock();
                    }
                    for (final TranslationListener listener : listeners)
                    {
                        listener.fileDeleted(file);
                    }
                }
            }
            closeChannels(state);
        }
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
     * @param file the file's id.
     * @return null if the file's pages are keyed by physical block (it can share frames with other files), else why
     * not (no FIEMAP on this platform or file system, or the file was found changed and awaits revalidation).
     * @throws NoSuchFileException if the id is not open.
     */
    public String sharingUnavailableReason(final long file) throws NoSuchFileException
    {
        final FileState state = state(file);
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
        return files.keySet().stream().mapToLong(Long::longValue).sorted().toArray();
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
        final FileState state = state(file);
        state.layoutLock.readLock().lock();
        try
        {
            translateLocked(state, page, extent);
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
        final FileState state = state(file);
        final Extent current = checkExtent.get();
        state.layoutLock.readLock().lock();
        try
        {
            translateLocked(state, page, current);
            if (current.blockOf(page) != block)
            {
                throw new StaleTranslationException(file, page, block);
            }
            state.loaded.add(page); // before the read: a failed read may still have left bytes in the frame
            final int start = dst.position();
            try
            {
                final long offset = page << pageShift;
                if (null != state.direct)
                {
                    readDirect(state, offset, dst);
                }
                while (dst.hasRemaining())
                {
                    if (channelRead(state, dst, offset + (dst.position() - start)) < 0)
                    {
                        while (dst.hasRemaining())
                        {
                            dst.put((byte)0);
                        }
                    }
                }
            }
            catch (final IOException | RuntimeException ex)
            {
                dst.position(start);
                throw new IOException("reading page " + page + " of " + state.path + ": " + ex, ex);
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
        if ((block & PRIVATE) == 0 || block < 0)
        {
            throw new IllegalArgumentException("block " + block + " is not private to a file: the cache must copy " +
                "a shared block on write");
        }
        if (src.remaining() != pageSize)
        {
            throw new IllegalArgumentException("writeBlock needs exactly one page: remaining=" + src.remaining() +
                " pageSize=" + pageSize);
        }
        final long file = (block >>> PAGE_BITS) & FILE_MASK;
        final long page = block & PAGE_MASK;
        final FileState state = files.get(file);
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
                channelWrite(state, bytes, offset + (bytes.position() - src.position()));
            }
            state.writes.incrementAndGet(); // after the write: a sync that reads this count forces after it
            src.position(src.limit());
            ownChange(state);
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
        for (final FileState state : files.values())
        {
            try
            {
                syncFile(state);
            }
            catch (final IOException ex)
            {
                failure = null == failure ? new IOException("sync failed: " + ex.getMessage(), ex) :
                    firstOf(failure, ex);
            }
        }
        if (null != failure)
        {
            throw failure;
        }
    }

    @Override
    public long reserveBlock(final long file, final long page) throws IOException
    {
        final FileState state = writableState(file);
        if (page < 0 || page >= PAGE_MASK)
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
        return privateKey(state.id, page);
    }

    @Override
    public void commitBlock(final long file, final long page, final long block) throws NoSuchFileException
    {
        final FileState state = state(file);
        final List<long[]> stale = new ArrayList<>();
        synchronized (lock)
        {
            final long physical;
            state.layoutLock.writeLock().lock();
            try
            {
                if (block != privateKey(state.id, page) || !state.reserved.remove(page))
                {
                    throw new IllegalArgumentException("block " + block + " is not reserved for page " + page +
                        " of " + state.path);
                }
                final Extent extent = new Extent();
                translateLocked(state, page, extent);
                physical = extent.isHole() || (extent.deviceBlock() & PRIVATE) != 0 ? -1 : extent.blockOf(page);
                state.written.add(page);
                if (physical >= 0)
                {
                    // the file system overwrites a block in place if no other file shares it: drop the block's frame
                    // unless another open file still vouches for it (then the file system copies on write)
                    owners.remove(state, physical, physical + 1, (start, end) -> stale.add(new long[] {start, end}));
                }
            }
            finally
            {
                state.layoutLock.writeLock().unlock();
            }
            for (final TranslationListener listener : listeners)
            {
                listener.pagesChanged(file, page, 1, state.size);
            }
            invalidate(stale);
        }
    }

    @Override
    public void releaseBlock(final long block)
    {
        final long file = (block >>> PAGE_BITS) & FILE_MASK;
        final long page = block & PAGE_MASK;
        final FileState state = files.get(file);
        synchronized (lock)
        {
            if (null == state || (block & PRIVATE) == 0 || block < 0)
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
            for (final TranslationListener listener : listeners)
            {
                listener.blocksInvalidated(block, 1); // the frame the cache filled for it holds nothing of the file
            }
        }
    }

    @Override
    public void extend(final long file, final long size) throws IOException
    {
        final FileState state = writableState(file);
        checkSize(state.path, size);
        synchronized (lock)
        {
            ensureStillOpen(file, state);
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
                privatizeOldTail(state, old, stale);
                state.size = size;
            }
            finally
            {
                state.layoutLock.writeLock().unlock();
            }
            final long firstPage = old >> pageShift;
            for (final TranslationListener listener : listeners)
            {
                // pages past the old end were holes: only the old tail page and the new ones change
                listener.pagesChanged(file, firstPage, pagesOf(size) - firstPage, size);
            }
            invalidate(stale);
        }
    }

    @Override
    public void truncate(final long file, final long size) throws IOException
    {
        final FileState state = writableState(file);
        checkSize(state.path, size);
        final long tail = size >> pageShift;
        try (Announcement change = new Announcement(file))
        {
            change.before(tail, Long.MAX_VALUE - tail, false);
            synchronized (lock)
            {
                // close(file) or close() may have run since state(): its anchor's number may name another file now
                ensureStillOpen(file, state);
                final List<long[]> stale = new ArrayList<>();
                final long firstChanged;
                state.layoutLock.writeLock().lock();
                try
                {
                    firstChanged = Math.min(tail, state.size >> pageShift); // growing: the old tail page changed too
                    if (size > state.size)
                    {
                        privatizeOldTail(state, state.size, stale);
                    }
                    final long onDisk = Files.size(state.anchor.handle());
                    if (size < onDisk)
                    {
                        transfer(state, false, channel ->
                        {
                            channel.truncate(size);
                            return 0;
                        });
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
                    unvouch(state, tail, null);
                    dropLoaded(state, tail, true, true, stale);
                    state.written.tailSet(tail).clear();
                    state.layout = state.layout.clip(tail);
                    if ((size & (pageSize - 1)) != 0)
                    {
                        state.written.add(tail);
                    }
                    state.size = size;
                    ownChange(state);
                }
                finally
                {
                    state.layoutLock.writeLock().unlock();
                }
                for (final TranslationListener listener : listeners)
                {
                    listener.pagesChanged(file, firstChanged, Long.MAX_VALUE - firstChanged, size);
                }
                invalidate(stale);
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
        final List<FileState> open;
        synchronized (lock)
        {
            if (closed)
            {
                return;
            }
            closed = true;
            open = new ArrayList<>(files.values());
            files.clear();
            byPath.clear();
            byInode.clear();
        }
        IOException failure = null;
        for (final FileState state : open)
        {
            state.closed = true;
            try
            {
                closeChannels(state);
            }
            catch (final IOException ex)
            {
                failure = firstOf(failure, ex);
            }
        }
        if (null != failure)
        {
            throw failure;
        }
    }

    /**
     * @return segments in the registry of physical blocks vouched for by open files (metadata accounting, tests).
     */
    public int ownedSegments()
    {
        synchronized (lock)
        {
            return owners.segmentCount();
        }
    }

    /** @return FIEMAP calls made so far (the costs the class comment states; tests). */
    long extentReads()
    {
        return extentReads.sum();
    }

    @Override
    public String toString()
    {
        return "FileSystemTranslator{pageSize=" + pageSize + ", files=" + files.size() + '}';
    }

    /**
     * Records the opened file's attributes (read through its anchor) after a change of our own (a write-back, a
     * truncation), so it is not taken for a change from outside. A path that names another file now, or none, is
     * still seen by {@link #revalidate}, which compares what the path names with these attributes.
     */
    private static void ownChange(final FileState state)
    {
        try
        {
            final Attrs now = Attrs.of(state.anchor.handle());
            if (now.sameFile(state.attrs))
            {
                state.attrs = now;
            }
        }
        catch (final IOException ex)
        {
            // the path is gone; the file stays open with its contents (revalidate says so)
        }
    }

    static long privateKey(final long file, final long page)
    {
        return PRIVATE | file << PAGE_BITS | page;
    }

    /**
     * The file is about to grow past a partial last page: the file system zeroes that page's block past the old end
     * (copying the block first if it is shared), so the page no longer maps it. Makes the page private and withdraws
     * the file's vouch for the block. Caller holds {@link #lock} and the file's write lock.
     */
    private void privatizeOldTail(final FileState state, final long oldSize, final List<long[]> stale)
    {
        if ((oldSize & (pageSize - 1)) == 0)
        {
            return;
        }
        final long tail = oldSize >> pageShift;
        final Extent extent = new Extent();
        translateLocked(state, tail, extent);
        if (!extent.isHole() && (extent.deviceBlock() & PRIVATE) == 0)
        {
            final long physical = extent.blockOf(tail);
            owners.remove(state, physical, physical + 1, (start, end) -> stale.add(new long[] {start, end}));
            state.written.add(tail);
        }
    }

    private void translateLocked(final FileState state, final long page, final Extent extent)
    {
        final long pages = pagesOf(state.size);
        if (page >= pages)
        {
            extent.set(page, 1, Extent.HOLE, false);
            return;
        }
        final boolean privateShared = !state.writable; // a read-only file's writes must reach reserveBlock to fail
        long end = pages;
        if (!state.written.isEmpty()) // checked first: the set boxes its keys, and most files are never written
        {
            if (state.written.contains(page))
            {
                extent.set(page, 1, privateKey(state.id, page), privateShared);
                return;
            }
            final Long nextWritten = state.written.higher(page);
            end = null == nextWritten ? pages : Math.min(pages, nextWritten);
        }
        final Layout layout = state.layout;
        final int run = layout.find(page);
        if (run < 0)
        {
            extent.set(page, end - page, Extent.HOLE, false); // grown past the extents read at open
            return;
        }
        end = Math.min(end, layout.start[run] + layout.count[run]);
        final long key = layout.key[run];
        if (RUN_HOLE == key)
        {
            extent.set(page, end - page, Extent.HOLE, false);
        }
        else if (RUN_PRIVATE == key)
        {
            extent.set(page, end - page, privateKey(state.id, page), privateShared);
        }
        else
        {
            extent.set(page, end - page, key + (page - layout.start[run]), true);
        }
    }

    /**
     * Installs a freshly read layout: vouches for its physical blocks (dropping frames of blocks no other open file
     * maps, after checking those files for changes) and publishes it. Caller holds {@link #lock} and the file's
     * write lock, and has withdrawn the file's old vouches.
     */
    private void publish(final FileState state, final Loaded loaded) throws IOException
    {
        final Layout layout;
        long deviceBits = 0;
        if (null == loaded.extents)
        {
            layout = Layout.allPrivate(pagesOf(loaded.attrs.size));
        }
        else
        {
            final Integer known = devices.get(loaded.attrs.dev);
            final int device = null != known ? known : devices.size();
            if (device >= 1 << DEVICE_BITS)
            {
                throw new IOException("too many file systems for the key space: " + device);
            }
            devices.putIfAbsent(loaded.attrs.dev, device);
            deviceBits = (long)device << BLOCK_BITS;
            layout = Layout.of(loaded.extents, loaded.attrs.size, pageSize, deviceBits);
        }
        final List<long[]> stale = new ArrayList<>();
        final Set<FileState> statted = new HashSet<>();
        final Set<FileState> confirmed = new HashSet<>();
        final Set<FileState> moved = new LinkedHashSet<>();
        for (int run = 0; run < layout.runs; run++)
        {
            final long key = layout.key[run];
            if (key < 0)
            {
                continue;
            }
            final long end = key + layout.count[run];
            for (final Object owner : owners.ownersIn(key, end))
            {
                final FileState other = (FileState)owner;
                if (other != state && statted.add(other) && !other.stale && !other.unchangedOnDisk())
                {
                    stopSharing(other, stale); // changed: what was loaded through it may be its new bytes
                }
            }
            owners.forEachSegment(key, end, (from, to, segmentOwners) ->
            {
                for (final Object owner : segmentOwners)
                {
                    if (owner == state || confirmed.contains(owner))
                    {
                        return; // checked for an earlier run of this layout, or by an owner already read
                    }
                }
                for (final Object owner : segmentOwners)
                {
                    final FileState other = (FileState)owner;
                    if (!moved.contains(other))
                    {
                        if (keepsItsBlocks(other))
                        {
                            confirmed.add(other);
                            return;
                        }
                        moved.add(other);
                    }
                }
            });
            for (final FileState other : moved)
            {
                if (!other.stale)
                {
                    stopSharing(other, stale); // moved: it vouches for blocks it may no longer hold
                }
            }
            owners.add(state, key, end, (start, stop) -> stale.add(new long[] {start, stop}));
        }
        invalidate(stale);
        state.layout = layout;
        state.deviceBits = deviceBits;
        state.written.clear();
        state.reserved.clear();
        state.size = loaded.attrs.size;
        state.attrs = loaded.attrs;
        state.noSharing = loaded.noSharing;
        state.stale = false;
    }

    /**
     * Reads an open file's extents (one FIEMAP) before another file trusts the blocks it vouches for: they must still
     * map every page it vouches for to the same block. Dedupe and defragmentation move extents without changing the
     * file's attributes, and free the old blocks. Caller holds {@link #lock} (every change to a file's layout and
     * written pages holds it too).
     *
     * @return false if the file moved, or its extents cannot be read: it must not vouch for anything.
     */
    private boolean keepsItsBlocks(final FileState state)
    {
        try
        {
            return state.layout.keepsBlocks(currentLayout(state), state.written);
        }
        catch (final IOException | RuntimeException ex)
        {
            return false; // gone, unreadable, or no longer reporting extents: it cannot vouch for anything
        }
    }

    /**
     * Reads the file's extents now (one FIEMAP through its anchor, so the opened inode whatever its path names) and
     * lays them out as its layout was, with the file system index its layout carries.
     */
    private Layout currentLayout(final FileState state) throws IOException
    {
        final Anchor anchor = state.anchor;
        extentReads.increment();
        final List<FiemapExtent> extents = Fiemap.extents(anchor.handle());
        if (anchor.isClosed())
        {
            throw new NoSuchFileException(state.path.toString(), null, "closed while its extents were read");
        }
        return Layout.of(extents, Math.max(state.size, state.layout.pages << pageShift), pageSize,
            state.deviceBits);
    }

    /**
     * A file that shares blocks with one being opened was changed outside the cache: its physical pages become
     * private (read through the file itself) until it is revalidated, so it never again loads its new bytes under a
     * shared block's key. Caller holds {@link #lock}.
     */
    private void stopSharing(final FileState other, final List<long[]> stale)
    {
        other.layoutLock.writeLock().lock();
        try
        {
            unvouch(other, 0, null);
            dropLoaded(other, 0, true, false, stale); // loaded through the changed file: may hold its new bytes
            other.layout = Layout.allPrivate(other.layout.pages);
            other.stale = true;
        }
        finally
        {
            other.layoutLock.writeLock().unlock();
        }
        for (final TranslationListener listener : listeners)
        {
            listener.pagesChanged(other.id, 0, Long.MAX_VALUE, other.size);
        }
    }

    /**
     * Withdraws the file's vouches for its physical pages from {@code firstPage} on; blocks left with no owner are
     * added to {@code orphaned} (unless null).
     */
    private void unvouch(final FileState state, final long firstPage, final List<long[]> orphaned)
    {
        final Layout layout = state.layout;
        for (int run = 0; run < layout.runs; run++)
        {
            final long start = Math.max(layout.start[run], firstPage);
            final long end = layout.start[run] + layout.count[run];
            if (start < end && layout.key[run] >= 0)
            {
                final long key = layout.key[run] + (start - layout.start[run]);
                owners.remove(state, key, key + (end - start), (from, to) ->
                {
                    if (null != orphaned)
                    {
                        orphaned.add(new long[] {from, to});
                    }
                });
            }
        }
    }

    /**
     * Adds to {@code stale} the keys of the file's pages from {@code firstPage} on whose frames were filled through
     * the file ({@link FileState#loaded}), each by the key the file's layout gives it, and forgets those pages: its
     * physical pages if {@code physical}; its private pages, holes and pages past the layout (all keyed privately) and
     * its written pages if {@code privately}. Costs {@code O(layout runs + loaded pages + written pages)} from
     * {@code firstPage} on, never the file's size: a 1 TiB file with three pages cached names three keys.
     *
     * <p>Frames of the file's blocks filled through other files are not named: an open file that fills one vouches
     * for the block (and is checked before another file trusts it), and those filled through files closed since are
     * dropped when a file that maps the block is next published, the block then having no owner.
     * Caller holds the file's write lock.
     */
    private void dropLoaded(final FileState state, final long firstPage, final boolean physical,
        final boolean privately, final List<long[]> stale)
    {
        final Layout layout = state.layout;
        final PageSet loaded = state.loaded;
        final long id = state.id;
        for (int run = layout.find(Math.min(firstPage, Math.max(0, layout.pages - 1))); run >= 0 && run < layout.runs;
            run++)
        {
            final long start = Math.max(layout.start[run], firstPage);
            final long end = layout.start[run] + layout.count[run];
            final long key = layout.key[run];
            if (start >= end)
            {
                continue;
            }
            if (key >= 0 && physical)
            {
                final long keyOfPageZero = key - layout.start[run];
                loaded.removeRuns(start, end, (from, to) ->
                    stale.add(new long[] {keyOfPageZero + from, keyOfPageZero + to}));
            }
            else if (key < 0 && privately)
            {
                loaded.removeRuns(start, end, (from, to) ->
                    stale.add(new long[] {privateKey(id, from), privateKey(id, from) + (to - from)}));
            }
        }
        if (privately)
        {
            // pages past the layout's end: the file grew through the cache, and they are keyed privately
            loaded.removeRuns(Math.max(firstPage, layout.pages), PageSet.LIMIT, (from, to) ->
                stale.add(new long[] {privateKey(id, from), privateKey(id, from) + (to - from)}));
            for (final Long page : state.written.tailSet(firstPage))
            {
                stale.add(new long[] {privateKey(id, page), privateKey(id, page) + 1});
            }
        }
    }

    private void invalidate(final List<long[]> ranges)
    {
        for (final long[] range : ranges)
        {
            for (final TranslationListener listener : listeners)
            {
                listener.blocksInvalidated(range[0], range[1] - range[0]);
            }
        }
        ranges.clear();
    }

    /** @return the file system type of the file's store ({@code /proc/mounts}), or null if it cannot be told. */
    private static String fileSystemType(final Path path)
    {
        try
        {
            return Files.getFileStore(path).type();
        }
        catch (final IOException | RuntimeException ex)
        {
            return null; // e.g. the file was renamed or removed just now
        }
    }

    /**
     * Reads a file's attributes and extents, retrying while the file changes under it.
     */
    private Loaded load(final Path handle, final Path path) throws IOException
    {
        for (int attempt = 1; ; attempt++)
        {
            final Attrs before = Attrs.of(handle);
            checkSize(path, before.size);
            List<FiemapExtent> extents = null;
            String noSharing = null;
            String type = fileSystemTypes.get(before.dev);
            if (null == type)
            {
                type = fileSystemType(path);
                if (null != type)
                {
                    fileSystemTypes.putIfAbsent(before.dev, type); // a failure (null) is asked again next time
                }
            }
            if (!Fiemap.isAvailable())
            {
                noSharing = "FIEMAP unavailable: " + Fiemap.unavailableReason();
            }
            else if (null == type || !ONE_ADDRESS_SPACE.contains(type))
            {
                noSharing = "file system type " + (null == type ? "unknown" : type) + ": its FIEMAP physical " +
                    "addresses are not known to name one address space per st_dev (known: " +
                    String.join(", ", new TreeSet<>(ONE_ADDRESS_SPACE)) + ")";
            }
            else
            {
                try
                {
                    extentReads.increment();
                    extents = Fiemap.extents(handle);
                }
                catch (final Fiemap.NotSupportedException ex)
                {
                    noSharing = "the file system does not report extents: " + ex.getMessage();
                }
            }
            final Attrs after = Attrs.of(handle);
            if (after.equals(before))
            {
                return new Loaded(after, extents, noSharing);
            }
            if (attempt == MAX_ATTEMPTS)
            {
                throw new IOException(path + " keeps changing while its extents are read (" + MAX_ATTEMPTS +
                    " attempts)");
            }
        }
    }

    /**
     * Brackets one change of a file for the listeners: {@link TranslationListener#beforeChange} to each listener
     * registered when it starts, then {@link TranslationListener#afterChange} on close to exactly those that were
     * told (also those whose {@code beforeChange} threw), in reverse order. Called without the translator's locks.
     */
    private final class Announcement implements AutoCloseable
    {
        private final TranslationListener[] told = listeners.toArray(new TranslationListener[0]);
        private final long file;
        private int count;

        Announcement(final long file)
        {
            this.file = file;
        }

        void before(final long firstPage, final long pageCount, final boolean discard) throws IOException
        {
            for (final TranslationListener listener : told)
            {
                count++;
                listener.beforeChange(file, firstPage, pageCount, discard);
            }
        }

        @Override
        public void close()
        {
            RuntimeException failure = null;
            for (int i = count - 1; i >= 0; i--)
            {
                try
                {
                    told[i].afterChange(file);
                }
                catch (final RuntimeException ex)
                {
                    failure = firstOf(failure, ex);
                }
            }
            if (null != failure)
            {
                throw failure;
            }
        }
    }

    /**
     * Forces the file if a write completed since its last successful force. Serialized per file, so a caller whose
     * write another thread's force may have missed waits for that force and then forces again itself.
     */
    private void syncFile(final FileState state) throws IOException
    {
        synchronized (state.syncLock)
        {
            final long target = state.writes.get();
            if (target <= state.synced)
            {
                return;
            }
            try
            {
                transfer(state, false, channel ->
                {
                    channel.force(true);
                    return 0;
                });
            }
            catch (final IOException | RuntimeException ex)
            {
                throw new IOException("syncing " + state.path + " failed: " + ex, ex);
            }
            state.synced = target;
        }
    }

    /**
     * Reads one page with {@code O_DIRECT} into this thread's aligned page and copies it into {@code dst}, zeros
     * past end-of-file. If the file's direct channel is gone, {@code dst} is left for the buffered channel to fill.
     */
    private void readDirect(final FileState state, final long offset, final ByteBuffer dst) throws IOException
    {
        final ByteBuffer page = bounce.get().clear().limit(pageSize); // the aligned slice may hold two pages
        while (page.hasRemaining())
        {
            final int read = transfer(state, true, channel -> channel.read(page, offset + page.position()));
            if (NO_CHANNEL == read)
            {
                return;
            }
            // a direct read stops short only at end-of-file, or (rarely) on a block boundary
            if (read <= 0 || page.position() % state.directAlign != 0)
            {
                break;
            }
        }
        while (page.hasRemaining())
        {
            page.put((byte)0);
        }
        dst.put(page.flip());
    }

    /**
     * A transfer an interrupt hits may complete, advance the buffer and still throw: a retry goes on from where the
     * buffer is, not from {@code position} again.
     */
    private int channelRead(final FileState state, final ByteBuffer dst, final long position) throws IOException
    {
        final int start = dst.position();
        return transfer(state, false, channel -> channel.read(dst, position + (dst.position() - start)));
    }

    private void channelWrite(final FileState state, final ByteBuffer src, final long position) throws IOException
    {
        final int start = src.position();
        transfer(state, false, channel -> channel.write(src, position + (src.position() - start)));
    }

    /** One positional transfer on a channel. */
    @FunctionalInterface
    private interface Transfer
    {
        int run(FileChannel channel) throws IOException;
    }

    /**
     * Runs a transfer on the file's buffered or direct channel. A FileChannel closes itself for every thread when a
     * thread blocked in it is interrupted: the transfer then reopens it and runs again with the interrupt status
     * cleared, and restores it afterwards, so an interrupt never costs the file or the cache above it (as
     * {@link org.extentcache.device.FileBlockDevice} does).
     *
     * @return the transfer's result, or {@link #NO_CHANNEL} if a direct channel was asked for and there is none.
     */
    private int transfer(final FileState state, final boolean direct, final Transfer transfer) throws IOException
    {
        boolean interrupted = false;
        try
        {
            for (int attempt = 1; ; attempt++)
            {
                final FileChannel channel = direct ? state.direct : state.channel;
                if (null == channel)
                {
                    return NO_CHANNEL;
                }
                try
                {
                    return transfer.run(channel);
                }
                catch (final ClosedChannelException ex)
                {
                    if (state.closed || attempt == MAX_ATTEMPTS)
                    {
                        throw ex;
                    }
                    interrupted |= Thread.interrupted();
                    reopen(state, channel, direct);
                }
            }
        }
        finally
        {
            if (interrupted)
            {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Replaces a channel that an interrupt closed, unless another thread did or the file was closed. The path is
     * opened again, so the new channel is checked to reach the file the layout describes: if the path was replaced
     * (a rename) or removed since, the file opened is unreachable and the transfer fails.
     */
    private void reopen(final FileState state, final FileChannel failed, final boolean direct) throws IOException
    {
        synchronized (state)
        {
            if (state.closed || (direct ? state.direct : state.channel) != failed)
            {
                return;
            }
            final Path handle = state.anchor.handle();
            final FileChannel fresh = direct ? openDirect(state, handle) : openChannel(handle, state.writable);
            boolean same = null == fresh || state.anchor.holdsInode();
            try
            {
                same = same || Attrs.of(state.path).sameFile(state.attrs);
            }
            finally
            {
                if (!same)
                {
                    fresh.close();
                }
            }
            if (!same)
            {
                throw new IOException(state.path + " names another file than the one opened here (replaced since): " +
                    "its channel, closed by an interrupt, cannot be reopened; revalidate or close it");
            }
            if (direct)
            {
                state.direct = fresh;
            }
            else
            {
                state.channel = fresh;
            }
        }
    }

    private static FileChannel openChannel(final Path handle, final boolean writable) throws IOException
    {
        return writable ?
            FileChannel.open(handle, StandardOpenOption.READ, StandardOpenOption.WRITE) :
            FileChannel.open(handle, StandardOpenOption.READ);
    }

    private FileState state(final long file) throws NoSuchFileException
    {
        final FileState state = files.get(file);
        if (null == state)
        {
            throw new NoSuchFileException("file " + file, null, "not open in this FileSystemTranslator");
        }
        return state;
    }

    private FileState writableState(final long file) throws IOException
    {
        final FileState state = state(file);
        if (!state.writable)
        {
            throw new AccessDeniedException(state.path.toString(), null,
                "opened read-only: open it with FileSystemTranslator.open(path, true) to write through the cache");
        }
        return state;
    }

    private void checkSize(final Path path, final long size) throws IOException
    {
        if (size < 0 || pagesOf(size) > PAGE_MASK)
        {
            throw new IOException(path + ": size " + size + " is out of range (at most 2^36 pages of " + pageSize +
                " bytes)");
        }
    }

    private long pagesOf(final long size)
    {
        return (size + pageSize - 1) >>> pageShift;
    }

    /** Caller holds {@link #lock}: the file was not closed since it was looked up, so its anchor is open. */
    private void ensureStillOpen(final long file, final FileState state) throws NoSuchFileException
    {
        ensureOpen();
        if (files.get(file) != state)
        {
            throw new NoSuchFileException(state.path.toString(), null, "closed meanwhile");
        }
    }

    private void ensureOpen()
    {
        if (closed)
        {
            throw new IllegalStateException("FileSystemTranslator is closed");
        }
    }

    /** {@code O_DIRECT} read channel for a file, or null if not asked for or the file system refuses it. */
    private FileChannel openDirect(final FileState state, final Path handle)
    {
        if (!directReads)
        {
            return null;
        }
        try
        {
            final long blockSize = Files.getFileStore(state.path).getBlockSize();
            if (blockSize > pageSize || pageSize % blockSize != 0)
            {
                return null;
            }
            state.directAlign = (int)blockSize;
            return FileChannel.open(handle, StandardOpenOption.READ, com.sun.nio.file.ExtendedOpenOption.DIRECT);
        }
        catch (final IOException | UnsupportedOperationException ex)
        {
            return null; // e.g. tmpfs on older kernels: EINVAL
        }
    }

    private static void closeChannels(final FileState state) throws IOException
    {
        final FileChannel direct;
        final FileChannel channel;
        final Anchor anchor;
        synchronized (state) // after state.closed is set: a reopen either ran before, or sees it and opens nothing
        {
            direct = state.direct;
            channel = state.channel;
            anchor = state.anchor;
            state.direct = null;
        }
        try
        {
            channel.close();
        }
        finally
        {
            try
            {
                if (null != direct)
                {
                    direct.close();
                }
            }
            finally
            {
                anchor.close();
            }
        }
    }

    /** @return {@code first}, with {@code next} added to its suppressed ones; or {@code next} if there is no first. */
    private static <T extends Exception> T firstOf(final T first, final T next)
    {
        if (null == first)
        {
            return next;
        }
        first.addSuppressed(next);
        return first;
    }

    private static void closeQuietly(final FileChannel channel, final Throwable failure)
    {
        try
        {
            channel.close();
        }
        catch (final IOException ex)
        {
            failure.addSuppressed(ex);
        }
    }

    /** One open file. */
    private static final class FileState
    {
        final long id;
        final Path path;
        final boolean writable;
        /** Read: translate, readBlock, writeBlock. Write: publishing a layout, commit, truncate, extend. */
        final ReentrantReadWriteLock layoutLock = new ReentrantReadWriteLock();
        volatile FileChannel channel;
        /** The opened inode, which the channels are opened through; replaced only by a revalidation. */
        volatile Anchor anchor;
        /** Opened with {@code O_DIRECT} for reads, or null (not asked for, refused, or closed by an interrupt). */
        volatile FileChannel direct;
        /** The alignment {@link #direct} transfers need (the file system's block size). */
        int directAlign = 4096;
        volatile Attrs attrs;
        volatile long size;
        volatile boolean closed;
        Layout layout = Layout.allPrivate(0);
        /** Writes completed (write-backs and truncations). */
        final java.util.concurrent.atomic.AtomicLong writes = new java.util.concurrent.atomic.AtomicLong();
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

        FileState(final long id, final Path path, final boolean writable, final FileChannel channel,
            final Anchor anchor)
        {
            this.id = id;
            this.path = path;
            this.writable = writable;
            this.channel = channel;
            this.anchor = anchor;
        }

        boolean unchangedOnDisk()
        {
            try
            {
                return Attrs.of(path).equals(attrs);
            }
            catch (final IOException ex)
            {
                return false; // gone or unreadable: it cannot vouch for anything
            }
        }

        @Override
        public String toString()
        {
            return "file " + id + " (" + path + ')';
        }
    }

    /**
     * Holds a file's inode: a read-only descriptor, through whose {@code /proc/self/fd/N} link the file's channels
     * are opened (and reopened after an interrupt) and its extents and attributes read, so they all describe the file
     * that was opened even if its path is renamed over or removed. Where there is no {@code /proc} or no FIEMAP
     * binding, the handle is the path itself ({@code fd == -1}).
     *
     * @param fd     the descriptor, or -1.
     * @param handle the path to open the file by.
     */
    static final class Anchor
    {
        private static final Path PROC_FDS = Path.of("/proc/self/fd");

        private final int fd;
        private final Path handle;
        /** Set before close(2): a raw descriptor's number is reused by the next open, so it is closed only once. */
        private final AtomicBoolean closed = new AtomicBoolean();

        Anchor(final int fd, final Path handle)
        {
            this.fd = fd;
            this.handle = handle;
        }

        int fd()
        {
            return fd;
        }

        Path handle()
        {
            return handle;
        }

        /** @return true once {@link #close} has started: {@link #handle} may name another file since. */
        boolean isClosed()
        {
            return closed.get();
        }

        static Anchor open(final Path path) throws IOException
        {
            if (!Fiemap.isAvailable() || !Files.isDirectory(PROC_FDS))
            {
                return new Anchor(-1, path);
            }
            final int fd = Fiemap.openDescriptor(path);
            return new Anchor(fd, PROC_FDS.resolve(Integer.toString(fd)));
        }

        /** @return true if the handle reaches the opened inode whatever the path names now. */
        boolean holdsInode()
        {
            return fd >= 0;
        }

        void close() throws IOException
        {
            if (fd >= 0 && closed.compareAndSet(false, true))
            {
                Fiemap.closeDescriptor(fd);
            }
        }

        void closeQuietly(final Throwable failure)
        {
            try
            {
                close();
            }
            catch (final IOException ex)
            {
                failure.addSuppressed(ex);
            }
        }
    }

    /** What {@link #load} read. */
    private record Loaded(Attrs attrs, List<FiemapExtent> extents, String noSharing)
    {
    }

    /** The attributes that tell a changed file: file system, inode, size, modification and change time. */
    record Attrs(long dev, Object inode, long size, long mtimeNanos, long ctimeNanos)
    {
        static Attrs of(final Path path) throws IOException
        {
            try
            {
                final Map<String, Object> unix = Files.readAttributes(path, "unix:dev,ino,size,lastModifiedTime,ctime");
                return new Attrs((Long)unix.get("dev"), unix.get("ino"), (Long)unix.get("size"),
                    nanos(unix.get("lastModifiedTime")), nanos(unix.get("ctime")));
            }
            catch (final UnsupportedOperationException ex)
            {
                final BasicFileAttributes basic = Files.readAttributes(path, BasicFileAttributes.class);
                return new Attrs(0, basic.fileKey(), basic.size(), basic.lastModifiedTime().to(TimeUnit.NANOSECONDS),
                    0);
            }
        }

        Object inodeKey()
        {
            return List.of(dev, inode);
        }

        boolean sameFile(final Attrs other)
        {
            return null != other && dev == other.dev && java.util.Objects.equals(inode, other.inode);
        }

        private static long nanos(final Object time)
        {
            return ((FileTime)time).to(TimeUnit.NANOSECONDS);
        }
    }

    /**
     * A file's pages as runs, from its extents: each run is a hole, private, or physical (its key is the physical
     * key of its first page). Immutable.
     */
    static final class Layout
    {
        final long[] start;
        final long[] count;
        final long[] key;
        final int runs;
        final long pages;

        private Layout(final long[] start, final long[] count, final long[] key, final int runs, final long pages)
        {
            this.start = start;
            this.count = count;
            this.key = key;
            this.runs = runs;
            this.pages = pages;
        }

        static Layout allPrivate(final long pages)
        {
            final Builder builder = new Builder();
            builder.add(0, pages, RUN_PRIVATE);
            return builder.build(pages);
        }

        /**
         * @param extents    the file's extents in logical order.
         * @param size       the file's size.
         * @param pageSize   bytes per page.
         * @param deviceBits the file system's index, shifted into place.
         */
        static Layout of(final List<FiemapExtent> extents, final long size, final int pageSize, final long deviceBits)
        {
            final long pages = (size + pageSize - 1) / pageSize;
            final Builder builder = new Builder();
            for (final FiemapExtent extent : extents)
            {
                final long lo = extent.logical();
                final long hiExtent = extent.logical() + extent.length();
                long touched = lo / pageSize;
                final long touchedEnd = Math.min(pages, (hiExtent + pageSize - 1) / pageSize);
                if (touched >= pages)
                {
                    break;
                }
                if (touched < builder.end)
                {
                    builder.lastPagePrivate(); // a page shared by two extents (blocks smaller than pages)
                    touched = builder.end;
                }
                if (touched > builder.end)
                {
                    builder.add(builder.end, touched - builder.end, RUN_HOLE);
                }
                if (touched >= touchedEnd)
                {
                    continue;
                }
                final long full = Math.max(touched, (lo + pageSize - 1) / pageSize);
                final long fullEnd = Math.min(touchedEnd, hiExtent / pageSize);
                final boolean keyed = extent.hasStablePhysical() &&
                    Math.floorMod(extent.physical() - lo, (long)pageSize) == 0 &&
                    (extent.physical() + (fullEnd * pageSize - lo)) / pageSize < 1L << BLOCK_BITS;
                if (!keyed || full >= fullEnd)
                {
                    builder.add(touched, touchedEnd - touched, RUN_PRIVATE);
                    continue;
                }
                if (touched < full)
                {
                    builder.add(touched, full - touched, RUN_PRIVATE);
                }
                builder.add(full, fullEnd - full, deviceBits | (extent.physical() + (full * pageSize - lo)) / pageSize);
                if (fullEnd < touchedEnd)
                {
                    builder.add(fullEnd, touchedEnd - fullEnd, RUN_PRIVATE);
                }
            }
            if (builder.end < pages)
            {
                builder.add(builder.end, pages - builder.end, RUN_HOLE);
            }
            return builder.build(pages);
        }

        /** @return the run holding {@code page}, or -1 past the layout's pages. */
        int find(final long page)
        {
            if (page >= pages)
            {
                return -1;
            }
            int lo = 0;
            int hi = runs - 1;
            while (lo < hi)
            {
                final int mid = (lo + hi + 1) >>> 1;
                if (start[mid] <= page)
                {
                    lo = mid;
                }
                else
                {
                    hi = mid - 1;
                }
            }
            return lo;
        }

        /** @return this layout cut to its first {@code keep} pages. */
        Layout clip(final long keep)
        {
            if (keep >= pages)
            {
                return this;
            }
            final Builder builder = new Builder();
            for (int run = 0; run < runs && start[run] < keep; run++)
            {
                builder.add(start[run], Math.min(count[run], keep - start[run]), key[run]);
            }
            return builder.build(keep);
        }

        /**
         * Whether {@code now} (read from the file system just now) still maps every page of this layout's physical
         * runs, except {@code skipped} ones, to the same block: the blocks the file vouches for are still its own.
         * Costs {@code O(runs + skipped)} binary searches; holes and private pages of either layout are not compared.
         *
         * @param now     the file's current layout, keyed with the same file system index.
         * @param skipped pages that no longer vouch for their block (written through the cache), ascending.
         */
        boolean keepsBlocks(final Layout now, final java.util.NavigableSet<Long> skipped)
        {
            for (int run = 0; run < runs; run++)
            {
                if (key[run] < 0)
                {
                    continue;
                }
                final long end = start[run] + count[run];
                long from = start[run];
                if (!skipped.isEmpty()) // checked first: most files are never written
                {
                    for (final long page : skipped.subSet(start[run], end))
                    {
                        if (!now.maps(from, page, key[run] + (from - start[run])))
                        {
                            return false;
                        }
                        from = page + 1;
                    }
                }
                if (!now.maps(from, end, key[run] + (from - start[run])))
                {
                    return false;
                }
            }
            return true;
        }

        /** @return true if pages {@code [from, to)} are physical here, keyed from {@code firstKey} on. */
        private boolean maps(final long from, final long to, final long firstKey)
        {
            long page = from;
            while (page < to)
            {
                final int run = find(page);
                if (run < 0 || key[run] < 0 || key[run] + (page - start[run]) != firstKey + (page - from))
                {
                    return false;
                }
                page = start[run] + count[run];
            }
            return true;
        }

        /** @return true if some run is physical (the file vouches for blocks). */
        boolean hasPhysical()
        {
            for (int run = 0; run < runs; run++)
            {
                if (key[run] >= 0)
                {
                    return true;
                }
            }
            return false;
        }

        /** Counts this layout's pages by kind: {@code [holes, private, physical]}. */
        long[] census()
        {
            final long[] census = new long[3];
            for (int run = 0; run < runs; run++)
            {
                census[RUN_HOLE == key[run] ? 0 : RUN_PRIVATE == key[run] ? 1 : 2] += count[run];
            }
            return census;
        }

        private static final class Builder
        {
            long[] start = new long[8];
            long[] count = new long[8];
            long[] key = new long[8];
            int runs;
            long end;

            void add(final long first, final long pages, final long runKey)
            {
                if (pages <= 0)
                {
                    return;
                }
                if (runs > 0)
                {
                    final int last = runs - 1;
                    final boolean joins = key[last] < 0 ? key[last] == runKey :
                        runKey >= 0 && key[last] + count[last] == runKey;
                    if (joins && start[last] + count[last] == first)
                    {
                        count[last] += pages;
                        end = first + pages;
                        return;
                    }
                }
                if (runs == start.length)
                {
                    start = java.util.Arrays.copyOf(start, runs * 2);
                    count = java.util.Arrays.copyOf(count, runs * 2);
                    key = java.util.Arrays.copyOf(key, runs * 2);
                }
                start[runs] = first;
                count[runs] = pages;
                key[runs] = runKey;
                runs++;
                end = first + pages;
            }

            void lastPagePrivate()
            {
                final int last = runs - 1;
                if (RUN_PRIVATE == key[last])
                {
                    return;
                }
                final long page = start[last] + count[last] - 1;
                if (--count[last] == 0)
                {
                    runs--;
                }
                add(page, 1, RUN_PRIVATE);
            }

            Layout build(final long pages)
            {
                return new Layout(java.util.Arrays.copyOf(start, runs), java.util.Arrays.copyOf(count, runs),
                    java.util.Arrays.copyOf(key, runs), runs, pages);
            }
        }
    }
}
