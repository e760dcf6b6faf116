package org.extentcache.translate;

import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.collections.LongArrayList;
import org.agrona.collections.LongHashSet;
import org.extentcache.device.BlockDevice;

/**
 * The built-in reference {@link Translator}: a user-space reflink filesystem over one {@link BlockDevice}, with
 * per-file extent maps, block reference counts, whole-file and range clones, hole punching, truncation, deletion and
 * block allocation.
 *
 * <h2>Model</h2>
 * Files are named by {@code long} ids from 1 upwards, never reused. A file has a size in bytes and maps each page
 * index either to a device block or to nothing (a hole, read as zeros). Pages are the device's blocks:
 * {@link #pageSize()} {@code == device.blockSize()}. Every page that maps a block holds one reference to it
 * ({@link #refCount}); a block with more than one reference is <em>shared</em>, and one with none is free.
 * <ul>
 *   <li><b>Copy-on-write, always.</b> New data never overwrites a mapped block: {@link #write} gives every page it
 *       touches a freshly allocated block (lowest free block first), merging the old page's bytes into a partially
 *       covered page, and drops the old blocks' references. {@link #punchHole} and a shrinking {@link #truncate}
 *       rewrite a partially covered edge page the same way. So a block's bytes never change while any page maps
 *       it, which is what lets a cache index frames by device block.</li>
 *   <li><b>Zero tail.</b> The bytes of a file's last page past its end of file are always zeros on the device, so
 *       extending a file (by {@link #truncate}, {@link #write} past the end, or a clone) exposes zeros there.</li>
 *   <li><b>Clones</b> share blocks: {@link #cloneFile} and {@link #cloneRange} only add references.</li>
 * </ul>
 *
 * <h2>Concurrency</h2>
 * One {@link ReentrantReadWriteLock}. {@link #translate}, {@link #size}, {@link #exists}, {@link #read},
 * {@link #refCount}, {@link #allocatedBlocks} and {@link #freeBlocks} take the read lock and run concurrently with
 * each other. Every mutation takes the write lock for its whole duration, <em>including the device reads and
 * writes of the data it stores</em>: simplicity first, at the price that a slow device stalls translation while a
 * write is in flight. {@link #read} holds the read lock across its device reads, so a block it reads cannot be
 * freed and reused under it.
 *
 * <h2>Notifications</h2>
 * Each mutation, still holding the write lock, after its new data is on the device and its maps, reference counts
 * and allocator are updated, tells every {@link TranslationListener}, in this order:
 * <ol>
 *   <li>{@code pagesChanged} for each file whose answers changed: the page range it rewrote, unmapped or cloned
 *       into, widened to cover every page between the old and the new end of file when the size changed. A range
 *       cloned <em>from</em> is reported too, because its pages turned shared (a cached "not shared" answer would
 *       let a cache write into a shared block).</li>
 *   <li>{@code blocksInvalidated} for every block it wrote and every block it freed, consecutive blocks grouped.</li>
 *   <li>{@code fileDeleted} for {@link #delete}.</li>
 * </ol>
 * Because the write lock is held, a freed block cannot be reallocated before every listener has heard of it.
 * Not reported: {@link #create} and the new file of {@link #cloneFile} (no cache can know an id it was never
 * given); and a file whose block merely stopped being shared because another page dropped its reference (there is
 * no reverse map from block to files; a stale "shared" answer is safe: it costs one needless copy-on-write).
 * A listener that throws does not stop the others: the first exception is rethrown once all were told, and the
 * mutation stands.
 *
 * <h2>Announcing changes, and writes through a cache</h2>
 * Every mutation first calls {@link TranslationListener#beforeChange} for each file it will change, outside the
 * store's lock, and {@link TranslationListener#afterChange} when it is done or abandoned: a cache writes the
 * range's dirty pages back (so a page about to be shared is clean, and a partly rewritten page is read from the
 * device with its latest bytes) and keeps its writers of the file out meanwhile. Clone-range announces both files
 * in file-id order. A cache's own writes use {@link #reserveBlock}, {@link #commitBlock}, {@link #releaseBlock}
 * and {@link #extend}, which announce nothing (the cache is the caller) and never invalidate the reserved block:
 * the cache's dirty frame is its contents until the cache writes it back.
 *
 * <h2>Failure atomicity</h2>
 * Arguments, file ids and free space are checked, and new data is written to blocks that are still free, before
 * anything changes. A mutation that fails, with {@code IOException("device full: ...")} or a device error, leaves
 * the store exactly as it was (blocks written but not taken stay free) and tells no listener.
 *
 * <h2>Costs</h2>
 * {@code E} = runs in a file's extent map, {@code B} = device blocks.
 * <ul>
 *   <li>{@link #translate}: {@code O(log E)} binary search plus {@code O(log64 B)} to find where shared-ness
 *       changes; the answer is a maximal run whose shared flag holds for every page in it. The store allocates
 *       nothing (primitive file table, caller's {@link Extent}); the {@code ReentrantReadWriteLock} itself may
 *       allocate a small per-thread hold counter when several reader threads interleave. A {@code StampedLock}
 *       optimistic read would remove both that and the shared cache line, if translation ever shows up in a
 *       profile.</li>
 *   <li>{@link #write}, {@link #punchHole}, {@link #truncate}, {@link #cloneRange} of {@code k} pages:
 *       {@code O(log E + k)} plus one array move of {@code O(E)} runs (24 bytes each) in the changed file.</li>
 *   <li>{@link #cloneFile}: {@code O(E)} to copy the map plus one reference-count update per mapped page.</li>
 *   <li>Memory: 24 bytes per run per file; {@code B / 4} bytes of bitmaps up front; 4 bytes per block of reference
 *       counts, allocated in chunks of 64 Ki blocks as blocks are first used.</li>
 * </ul>
 *
 * <h2>Persistence</h2>
 * {@code new ExtentStore(device)} keeps everything in memory. {@link #format} and {@link #open} give a
 * <em>persistent</em> store: its files' maps and sizes, its next file id and an {@link #setAttachment attachment}
 * live on the device, under a format version, as copy-on-write metadata. Blocks 0 and 1 are two superblock slots
 * ({@link SuperblockDescriptor}); each snapshot of the metadata goes to freshly allocated blocks
 * ({@link SnapshotDescriptor}), the device syncs, the superblock goes to the slot not holding the live one, the
 * device syncs again ({@link SnapshotCommitter}). A crash at any point recovers the last snapshot whose superblock
 * synced. A device sync that fails may drop the writes made before it, so that a later sync succeeds without them;
 * after one (the store's own, or one the cache reports by {@link #deviceSyncFailed}) the store writes no more
 * snapshots until it is reopened ({@link SnapshotCommitter}). Reference counts and the allocator are not stored: {@link #open} derives them from the maps, so they can
 * never disagree with them.
 * <ul>
 *   <li><b>What a snapshot records</b> ({@link DurableState}): for each file, its state at its last
 *       {@link #commit} (which the cache calls after writing and syncing the file's data), or at the last
 *       {@link #sync} if the cache has not written the file since its last commit; a file never captured is empty,
 *       deleted files are dropped. Concurrent commits share one snapshot.</li>
 *   <li><b>Data before the metadata that points to it.</b> The store's own mutations write their data before they
 *       map it; the cache writes and syncs a file's data before it commits it; and every snapshot syncs the device
 *       before it writes its superblock.</li>
 *   <li><b>Durable blocks are neither reused nor overwritten.</b> Each block that a durable (or pending) map
 *       references holds one more reference: it is not free until a snapshot that no longer maps it has synced, and
 *       a file page that maps it reads as <em>shared</em>, so the cache copies on write instead of writing it in
 *       place. After a crash every file is therefore exactly as it was at its last commit. The price: after each
 *       commit, the first write to each page allocates a new block; {@link #refCount}, {@link #allocatedBlocks}
 *       and {@link #freeBlocks} count these references, the two slots and the snapshot's own blocks too.</li>
 * </ul>
 * A snapshot rewrites all the metadata, so a commit costs {@code O(files + runs)} plus two device syncs.
 *
 * <p><b>Thread safety:</b> safe for concurrent use by any number of threads.
 *
 * <p><b>Ownership:</b> the caller owns the device: {@link #close} does not close it, and the device must outlive
 * the store. The store never retains the caller's buffers.
 */
public final class ExtentStore implements Translator, Closeable
{
    private final BlockDevice device;
    private final int pageSize;
    private final int pageShift;
    private final long pageMask;
    private final byte[] zeros;
    private final BlockRefCounts blocks;
    private final Long2ObjectHashMap<FileState> files = new Long2ObjectHashMap<>();
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final CopyOnWriteArrayList<TranslationListener> listeners = new CopyOnWriteArrayList<>();
    private final LongHashSet reserved = new LongHashSet();
    private byte[] memoryAttachment = new byte[0];
    /** The durable state of a persistent store; null for an in-memory one. */
    private final DurableState durable;
    private final SnapshotCommitter committer;
    private long nextFileId = 1;
    private volatile boolean closed;

    /**
     * Creates an empty store over {@code device}: no files, every block free. Whatever the device holds is ignored.
     *
     * @param device the device; the caller keeps ownership and closes it after closing this store.
     * @throws NullPointerException     if {@code device} is null.
     * @throws IllegalArgumentException if the device has more than {@code Integer.MAX_VALUE} blocks, or its block
     *                                  size is not a power of two.
     */
    public ExtentStore(final BlockDevice device)
    {
        this(device, Integer.MAX_VALUE);
    }

    /**
     * For tests: a store whose blocks overflow their reference count at {@code maxRefCount}.
     *
     * @param device      the device.
     * @param maxRefCount the largest reference count of a block, {@code >= 2}.
     */
    ExtentStore(final BlockDevice device, final int maxRefCount)
    {
        this(device, maxRefCount, false);
    }

    private ExtentStore(final BlockDevice device, final int maxRefCount, final boolean persistent)
    {
        this.device = Objects.requireNonNull(device, "device");
        final long blockCount = device.blockCount();
        if (blockCount > Integer.MAX_VALUE)
        {
            throw new IllegalArgumentException(
                "device has too many blocks for an extent store: blockCount=" + blockCount +
                " max=" + Integer.MAX_VALUE);
        }
        final int blockSize = device.blockSize();
        if (blockSize <= 0 || Integer.bitCount(blockSize) != 1)
        {
            throw new IllegalArgumentException("device block size must be a power of two: blockSize=" + blockSize);
        }
        this.pageSize = blockSize;
        this.pageShift = Integer.numberOfTrailingZeros(blockSize);
        this.pageMask = blockSize - 1;
        this.zeros = new byte[blockSize];
        this.blocks = new BlockRefCounts(blockCount, maxRefCount);
        if (persistent)
        {
            if (blockSize < 512 || blockCount < SuperblockDescriptor.SLOT_COUNT + 1)
            {
                throw new IllegalArgumentException("a persistent store needs blocks of at least 512 bytes and at " +
                    "least 3 blocks: blockSize=" + blockSize + " blockCount=" + blockCount);
            }
            this.durable = new DurableState(blocks);
            this.committer = new SnapshotCommitter(device, lock, durable, new Host());
        }
        else
        {
            this.durable = null;
            this.committer = null;
        }
    }

    /**
     * Formats {@code device} as an empty persistent store and returns it open: erases both superblock slots, then
     * writes and syncs the first snapshot. Whatever the device held is lost.
     *
     * @param device the device; the caller keeps ownership and closes it after closing this store.
     * @return the store.
     * @throws IllegalArgumentException if the device has fewer than 3 blocks, blocks under 512 bytes, or more than
     *                                  {@code Integer.MAX_VALUE} blocks.
     * @throws IOException              if the device fails; the device then holds no store, or the empty one.
     */
    public static ExtentStore format(final BlockDevice device) throws IOException
    {
        final ExtentStore store = new ExtentStore(device, Integer.MAX_VALUE, true);
        StoreRecovery.eraseSlots(device);
        store.durable.formatted();
        store.sync();
        return store;
    }

    /**
     * Opens the persistent store on {@code device} as of its last synced snapshot: every file with the map and size
     * it had at its last commit (or sync), the next file id and the attachment. Reference counts and the allocator
     * are rebuilt from the maps.
     *
     * @param device the device; the caller keeps ownership and closes it after closing this store.
     * @return the store.
     * @throws IllegalArgumentException if the device's geometry cannot hold a persistent store.
     * @throws IOException              with a message that says what the device holds instead: no store
     *                                  ({@code "device holds no ExtentStore: ..."}), a store of another format
     *                                  version ({@code "device holds an ExtentStore of format version 3; this
     *                                  library reads version 1"}), a store formatted for another block size or
     *                                  count, or damaged superblocks or snapshots; or a device error.
     */
    public static ExtentStore open(final BlockDevice device) throws IOException
    {
        final StoreRecovery.Recovered recovered = StoreRecovery.recover(device);
        final ExtentStore store = new ExtentStore(device, Integer.MAX_VALUE, true);
        store.restore(recovered);
        return store;
    }

    /**
     * @return true for a store made by {@link #format} or {@link #open}; false for {@code new ExtentStore(device)}.
     */
    public boolean isPersistent()
    {
        return null != durable;
    }

    @Override
    public int pageSize()
    {
        return pageSize;
    }

    /**
     * Creates an empty file.
     *
     * @return the new file's id.
     * @throws IllegalStateException if the store is closed.
     */
    public long create()
    {
        lock.writeLock().lock();
        try
        {
            ensureOpen();
            final long file = nextFileId++;
            files.put(file, new FileState(0, new ExtentMap()));
            return file;
        }
        finally
        {
            lock.writeLock().unlock();
        }
    }

    /**
     * @return the id the next {@link #create} or {@link #cloneFile} hands out: every file the store has made has a
     * lower id (ids are never reused). A persistent store recovers it with its last snapshot, so it also bounds the
     * ids of files made after the names a user keeps in the attachment were last saved.
     * @throws IllegalStateException if the store is closed.
     */
    public long nextFileId()
    {
        lock.readLock().lock();
        try
        {
            ensureOpen();
            return nextFileId;
        }
        finally
        {
            lock.readLock().unlock();
        }
    }

    /**
     * @param file a file id.
     * @return true if the file was created and not deleted.
     * @throws IllegalStateException if the store is closed.
     */
    public boolean exists(final long file)
    {
        lock.readLock().lock();
        try
        {
            ensureOpen();
            return files.containsKey(file);
        }
        finally
        {
            lock.readLock().unlock();
        }
    }

    /**
     * {@inheritDoc}
     *
     * @throws IllegalStateException if the store is closed.
     */
    @Override
    public long size(final long file) throws NoSuchFileException
    {
        lock.readLock().lock();
        try
        {
            ensureOpen();
            return fileState(file).size;
        }
        finally
        {
            lock.readLock().unlock();
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>The run is maximal: its neighbours either map a non-contiguous block, differ in shared-ness or are holes.
     * A hole after the file's last mapped page reaches {@code Long.MAX_VALUE}. {@code O(log E)}, no allocation.
     *
     * @throws NullPointerException  if {@code extent} is null.
     * @throws IllegalStateException if the store is closed.
     */
    @Override
    public void translate(final long file, final long page, final Extent extent) throws NoSuchFileException
    {
        if (page < 0)
        {
            throw new IllegalArgumentException("page must be >= 0: page=" + page);
        }
        Objects.requireNonNull(extent, "extent");
        lock.readLock().lock();
        try
        {
            ensureOpen();
            final ExtentMap map = fileState(file).map;
            final int run = map.floorRun(page);
            if (run >= 0 && page < map.endPage(run))
            {
                final long runPage = map.filePage(run);
                final long runBlock = map.deviceBlock(run);
                final long block = runBlock + (page - runPage);
                final long first = Math.max(runBlock, blocks.startOfSharedness(block));
                final long end = Math.min(runBlock + map.pageCount(run), blocks.endOfSharedness(block));
                extent.set(runPage + (first - runBlock), end - first, first, blocks.isShared(block));
            }
            else
            {
                final long holeStart = run >= 0 ? map.endPage(run) : 0;
                final long holeEnd = run + 1 < map.runCount() ? map.filePage(run + 1) : Long.MAX_VALUE;
                extent.set(holeStart, holeEnd - holeStart, Extent.HOLE, false);
            }
        }
        finally
        {
            lock.readLock().unlock();
        }
    }

    /**
     * Reads from the device, bypassing any cache, with {@link java.nio.channels.FileChannel#read(ByteBuffer, long)}
     * semantics: holes read as zeros, and the read stops at end of file.
     *
     * @param file     the file.
     * @param position byte offset in the file, {@code >= 0}.
     * @param dst      receives {@code min(dst.remaining(), size - position)} bytes; its position advances by as many.
     * @return bytes read; 0 if {@code dst} has nothing remaining; -1 if {@code position >= size}.
     * @throws NullPointerException     if {@code dst} is null.
     * @throws IllegalArgumentException if {@code position < 0}.
     * @throws NoSuchFileException      if the file does not exist.
     * @throws IOException              if the device fails; {@code dst}'s position is then unchanged.
     * @throws IllegalStateException    if the store is closed.
     */
    public int read(final long file, final long position, final ByteBuffer dst) throws IOException
    {
        Objects.requireNonNull(dst, "dst");
        if (position < 0)
        {
            throw new IllegalArgumentException("position must be >= 0: position=" + position);
        }
        lock.readLock().lock();
        try
        {
            ensureOpen();
            final FileState state = fileState(file);
            if (!dst.hasRemaining())
            {
                return 0;
            }
            if (position >= state.size)
            {
                return -1;
            }
            final int total = (int)Math.min(dst.remaining(), state.size - position);
            final int start = dst.position();
            try
            {
                readRange(state.map, position, total, dst);
            }
            catch (final IOException | RuntimeException ex)
            {
                dst.position(start);
                throw ex;
            }
            return total;
        }
        finally
        {
            lock.readLock().unlock();
        }
    }

    /**
     * Writes {@code src.remaining()} bytes at {@code position}, copy-on-write: every page touched gets a freshly
     * allocated block, a partially covered page keeping the rest of its old bytes; the old blocks lose a reference.
     * The size becomes {@code max(size, position + length)}; pages skipped past the old end of file are holes.
     * Writing nothing changes nothing, not even the size.
     *
     * @param file     the file.
     * @param position byte offset in the file, {@code >= 0}.
     * @param src      the bytes; its position advances to its limit once the write has succeeded.
     * @throws NullPointerException     if {@code src} is null.
     * @throws IllegalArgumentException if {@code position < 0} or {@code position + src.remaining()} overflows.
     * @throws NoSuchFileException      if the file does not exist.
     * @throws IOException              {@code "device full: ..."} if fewer blocks are free than pages touched, or
     *                                  the device failed; the store and {@code src} are then unchanged.
     * @throws IllegalStateException    if the store is closed.
     */
    public void write(final long file, final long position, final ByteBuffer src) throws IOException
    {
        Objects.requireNonNull(src, "src");
        final int length = src.remaining();
        checkRange("position", position, "length", length);
        try (Announcement change = new Announcement())
        {
            if (length > 0)
            {
                final long firstPage = position >>> pageShift;
                change.add(file, firstPage, ((position + length - 1) >>> pageShift) - firstPage + 1, false);
            }
            lock.writeLock().lock();
            try
            {
                ensureOpen();
                final FileState state = fileState(file);
                if (length == 0)
                {
                    return;
                }
                final long end = position + length;
                final long firstPage = position >>> pageShift;
                final long pageCount = ((end - 1) >>> pageShift) - firstPage + 1;
                checkFree(pageCount);
                final RunList fresh = pickFreeBlocks(firstPage, pageCount);
                writeNewPages(state, position, src, fresh);

                final Notification notification = new Notification();
                takeBlocks(fresh, notification);
                replacePages(state.map, firstPage, pageCount, fresh, notification);
                final long oldSize = state.size;
                final long changedFirst = end > oldSize ? Math.min(firstPage, oldSize >>> pageShift) : firstPage;
                state.size = Math.max(oldSize, end);
                src.position(src.limit());
                notification.pagesChanged(file, changedFirst, firstPage + pageCount - changedFirst, state.size);
                notification.dispatch();
            }
            finally
            {
                lock.writeLock().unlock();
            }
        }
    }

    /**
     * Clones a whole file (reflink): the new file maps every block {@code src} maps, at the same pages, and has the
     * same size. No data is copied.
     *
     * @param src the file to clone.
     * @return the new file's id.
     * @throws NoSuchFileException   if {@code src} does not exist.
     * @throws IllegalStateException if the store is closed, or a block's reference count would overflow (then
     *                               nothing changed).
     */
    public long cloneFile(final long src) throws IOException
    {
        try (Announcement change = new Announcement())
        {
            change.add(src, 0, Long.MAX_VALUE, false);
            lock.writeLock().lock();
            try
            {
                ensureOpen();
                final FileState source = fileState(src);
                final RunList runs = new RunList();
                source.map.collect(0, Long.MAX_VALUE, runs);
                retainAll(runs);
                final long file = nextFileId++;
                files.put(file, new FileState(source.size, new ExtentMap(source.map)));
                if (!runs.isEmpty())
                {
                    final Notification notification = new Notification();
                    notifySharedRange(src, runs, source.size, notification);
                    notification.dispatch();
                }
                return file;
            }
            finally
            {
                lock.writeLock().unlock();
            }
        }
    }

    /**
     * Clones a range of pages (reflink, {@code FICLONERANGE} semantics): pages of {@code dst} from {@code dstPos}
     * then map the blocks that pages of {@code src} from {@code srcPos} map; holes in the source range become holes.
     * The destination's old blocks in the range lose a reference; its size becomes
     * {@code max(size, dstPos + length)}. A length of 0 changes nothing.
     *
     * <p>An unaligned {@code length} is allowed only when the range ends at {@code src}'s end of file; the last,
     * partial page is then shared too. As in Linux, such a range must also end at or past {@code dst}'s end of file:
     * cloning the end-of-file page into the middle of {@code dst} would zero the bytes after it.
     *
     * @param src    the source file.
     * @param srcPos byte offset in {@code src}, page-aligned.
     * @param dst    the destination file; may be {@code src} if the ranges do not overlap.
     * @param dstPos byte offset in {@code dst}, page-aligned.
     * @param length bytes, page-aligned unless {@code srcPos + length == size(src)}.
     * @throws IllegalArgumentException naming the values: a negative, overflowing or unaligned argument, a range past
     *                                  {@code src}'s end of file, an unaligned tail ending inside {@code dst}, or
     *                                  overlapping ranges of one file.
     * @throws NoSuchFileException      if either file does not exist.
     * @throws IllegalStateException    if the store is closed, or a block's reference count would overflow (then
     *                                  nothing changed).
     */
    public void cloneRange(final long src, final long srcPos, final long dst, final long dstPos, final long length)
        throws IOException
    {
        checkRange("srcPos", srcPos, "length", length);
        checkRange("dstPos", dstPos, "length", length);
        checkAligned("srcPos", srcPos);
        checkAligned("dstPos", dstPos);
        try (Announcement change = new Announcement())
        {
            final long pages = pagesFor(length);
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
            lock.writeLock().lock();
            try
            {
                ensureOpen();
                final FileState source = fileState(src);
                final FileState target = fileState(dst);
                if (srcPos + length > source.size)
                {
                    throw new IllegalArgumentException("source range past end of file: srcPos=" + srcPos +
                        " length=" + length + " size=" + source.size);
                }
                if ((length & pageMask) != 0)
                {
                    if (srcPos + length != source.size)
                    {
                        throw new IllegalArgumentException("length must be page-aligned unless the range ends at the " +
                            "source's end of file: length=" + length + " srcPos=" + srcPos + " size=" + source.size +
                            " pageSize=" + pageSize);
                    }
                    if (dstPos + length < target.size)
                    {
                        throw new IllegalArgumentException("an unaligned tail must end at or past the destination's end " +
                            "of file: dstPos=" + dstPos + " length=" + length + " dstSize=" + target.size);
                    }
                }
                if (src == dst && srcPos < dstPos + length && dstPos < srcPos + length)
                {
                    throw new IllegalArgumentException("source and destination ranges overlap in file " + src +
                        ": src=[" + srcPos + ", " + (srcPos + length) + ") dst=[" + dstPos + ", " + (dstPos + length) + ")");
                }
                if (length == 0)
                {
                    return;
                }

                final long pageCount = pagesFor(length);
                final long srcPage = srcPos >>> pageShift;
                final long dstPage = dstPos >>> pageShift;
                final RunList runs = new RunList();
                source.map.collect(srcPage, pageCount, runs);
                retainAll(runs);

                final Notification notification = new Notification();
                replacePages(target.map, dstPage, pageCount, runs.shifted(dstPage - srcPage), notification);
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
                lock.writeLock().unlock();
            }
        }
    }

    /**
     * Makes {@code [position, position + length)} read as zeros; the part past end of file is ignored and the size
     * does not change. Whole pages are unmapped; a partially covered page that maps a block is rewritten
     * copy-on-write to a fresh block with the range zeroed (at most two such pages). A page whose bytes before end
     * of file all lie in the range counts as whole.
     *
     * @param file     the file.
     * @param position byte offset, {@code >= 0}.
     * @param length   bytes, {@code >= 0}.
     * @throws IllegalArgumentException if an argument is negative or {@code position + length} overflows.
     * @throws NoSuchFileException      if the file does not exist.
     * @throws IOException              {@code "device full: ..."} if an edge page needs a block and none is free,
     *                                  or the device failed; the store is then unchanged.
     * @throws IllegalStateException    if the store is closed.
     */
    public void punchHole(final long file, final long position, final long length) throws IOException
    {
        checkRange("position", position, "length", length);
        try (Announcement change = new Announcement())
        {
            change.add(file, position >>> pageShift, pagesFor(position + length) - (position >>> pageShift), false);
            lock.writeLock().lock();
            try
            {
                ensureOpen();
                final FileState state = fileState(file);
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

                final boolean rewriteHead = !isWholePage(state, firstPage, position, end) &&
                    state.map.blockAt(firstPage) != Extent.HOLE;
                final boolean rewriteTail = lastPage != firstPage && !isWholePage(state, lastPage, position, end) &&
                    state.map.blockAt(lastPage) != Extent.HOLE;
                checkFree((rewriteHead ? 1 : 0) + (rewriteTail ? 1 : 0));
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

                final Notification notification = new Notification();
                takeBlocks(fresh, notification);
                replacePages(state.map, firstPage, pageCount, fresh, notification);
                notification.pagesChanged(file, firstPage, pageCount, state.size);
                notification.dispatch();
            }
            finally
            {
                lock.writeLock().unlock();
            }
        }
    }

    /**
     * Sets the file's size. Extending adds holes. Shrinking unmaps every page wholly past the new end of file, and
     * if the new size is not page-aligned and the last page's bytes past it are not zeros, rewrites that page
     * copy-on-write to a fresh block with them zeroed, so they read as zeros if the file grows again.
     *
     * @param file the file.
     * @param size the new size in bytes, {@code >= 0}.
     * @throws IllegalArgumentException if {@code size < 0}.
     * @throws NoSuchFileException      if the file does not exist.
     * @throws IOException              {@code "device full: ..."} if the last page needs a block and none is free,
     *                                  or the device failed; the store is then unchanged.
     * @throws IllegalStateException    if the store is closed.
     */
    @Override
    public void truncate(final long file, final long size) throws IOException
    {
        if (size < 0)
        {
            throw new IllegalArgumentException("size must be >= 0: size=" + size);
        }
        try (Announcement change = new Announcement())
        {
            change.add(file, size >>> pageShift, Long.MAX_VALUE - (size >>> pageShift), false);
            lock.writeLock().lock();
            try
            {
                ensureOpen();
                final FileState state = fileState(file);
                final long oldSize = state.size;
                if (size == oldSize)
                {
                    return;
                }
                final Notification notification = new Notification();
                if (size > oldSize)
                {
                    state.size = size;
                    final long firstPage = oldSize >>> pageShift;
                    notification.pagesChanged(file, firstPage, pagesFor(size) - firstPage, size);
                    notification.dispatch();
                    return;
                }

                final long lastPage = size >>> pageShift;
                final int tailOffset = (int)(size & pageMask);
                long firstUnmapped = pagesFor(size);
                final RunList fresh = new RunList();
                final long lastBlock = tailOffset == 0 ? Extent.HOLE : state.map.blockAt(lastPage);
                if (lastBlock != Extent.HOLE)
                {
                    final ByteBuffer page = readPage(state, lastPage);
                    if (!isZero(page, tailOffset, pageSize))
                    {
                        checkFree(1);
                        page.clear().put(tailOffset, zeros, 0, pageSize - tailOffset);
                        final long block = blocks.nextFree(0);
                        device.write(block, page);
                        fresh.add(lastPage, block, 1);
                        firstUnmapped = lastPage;
                    }
                }

                takeBlocks(fresh, notification);
                replacePages(state.map, firstUnmapped, Long.MAX_VALUE - firstUnmapped, fresh, notification);
                state.size = size;
                notification.pagesChanged(file, lastPage, pagesFor(oldSize) - lastPage, size);
                notification.dispatch();
            }
            finally
            {
                lock.writeLock().unlock();
            }
        }
    }

    /**
     * Deletes a file: every page is unmapped, and the id never exists again.
     *
     * @param file the file.
     * @throws NoSuchFileException   if the file does not exist.
     * @throws IllegalStateException if the store is closed.
     */
    public void delete(final long file) throws IOException
    {
        try (Announcement change = new Announcement())
        {
            change.add(file, 0, Long.MAX_VALUE, true);
            lock.writeLock().lock();
            try
            {
                ensureOpen();
                final FileState state = fileState(file);
                final Notification notification = new Notification();
                replacePages(state.map, 0, Long.MAX_VALUE, new RunList(), notification);
                files.remove(file);
                notification.fileDeleted(file);
                notification.dispatch();
            }
            finally
            {
                lock.writeLock().unlock();
            }
        }
    }

    /**
     * @param block a device block.
     * @return how many file pages map it; 0 if it is free.
     * @throws IllegalArgumentException if the block is outside the device.
     * @throws IllegalStateException    if the store is closed.
     */
    public int refCount(final long block)
    {
        if (block < 0 || block >= blocks.blockCount())
        {
            throw new IllegalArgumentException(
                "block outside the device: block=" + block + " blockCount=" + blocks.blockCount());
        }
        lock.readLock().lock();
        try
        {
            ensureOpen();
            return blocks.refCount(block);
        }
        finally
        {
            lock.readLock().unlock();
        }
    }

    /**
     * @return blocks mapped by at least one file page.
     * @throws IllegalStateException if the store is closed.
     */
    public long allocatedBlocks()
    {
        lock.readLock().lock();
        try
        {
            ensureOpen();
            return blocks.allocatedCount();
        }
        finally
        {
            lock.readLock().unlock();
        }
    }

    /**
     * @return blocks no file page maps.
     * @throws IllegalStateException if the store is closed.
     */
    public long freeBlocks()
    {
        lock.readLock().lock();
        try
        {
            ensureOpen();
            return blocks.freeCount();
        }
        finally
        {
            lock.readLock().unlock();
        }
    }

    /**
     * Every file of the store may be written through the cache. In a persistent store this also notes that the
     * cache is writing the file: until the file's next {@link #commit}, {@link #sync} leaves its durable state as it
     * is, because its data may be only in the cache.
     *
     * @param file the file.
     * @throws NoSuchFileException if the file does not exist.
     */
    @Override
    public void checkWritable(final long file) throws NoSuchFileException
    {
        if (null == durable)
        {
            size(file);
            return;
        }
        lock.writeLock().lock();
        try
        {
            ensureOpen();
            fileState(file);
            durable.markWritten(file);
        }
        finally
        {
            lock.writeLock().unlock();
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>Allocates the lowest free block and holds it with one reference until {@link #commitBlock} hands that
     * reference to the page, or {@link #releaseBlock} drops it.
     */
    @Override
    public long reserveBlock(final long file, final long page) throws IOException
    {
        if (page < 0)
        {
            throw new IllegalArgumentException("page must be >= 0: page=" + page);
        }
        lock.writeLock().lock();
        try
        {
            ensureOpen();
            fileState(file);
            checkFree(1);
            final long block = blocks.nextFree(0);
            blocks.allocate(block);
            reserved.add(block);
            return block;
        }
        finally
        {
            lock.writeLock().unlock();
        }
    }

    @Override
    public void commitBlock(final long file, final long page, final long block) throws NoSuchFileException
    {
        if (page < 0)
        {
            throw new IllegalArgumentException("page must be >= 0: page=" + page);
        }
        lock.writeLock().lock();
        try
        {
            ensureOpen();
            final FileState state = fileState(file);
            if (!reserved.remove(block))
            {
                throw new IllegalArgumentException("block is not reserved: block=" + block);
            }
            if (null != durable)
            {
                durable.markWritten(file);
            }
            final RunList run = new RunList();
            run.add(page, block, 1);
            final Notification notification = new Notification();
            replacePages(state.map, page, 1, run, notification);
            notification.pagesChanged(file, page, 1, state.size);
            notification.dispatch();
        }
        finally
        {
            lock.writeLock().unlock();
        }
    }

    @Override
    public void releaseBlock(final long block)
    {
        lock.writeLock().lock();
        try
        {
            ensureOpen();
            if (!reserved.remove(block))
            {
                throw new IllegalArgumentException("block is not reserved: block=" + block);
            }
            final Notification notification = new Notification();
            if (blocks.release(block))
            {
                notification.blocksInvalidated(block, 1);
            }
            notification.dispatch();
        }
        finally
        {
            lock.writeLock().unlock();
        }
    }

    @Override
    public void extend(final long file, final long size) throws NoSuchFileException
    {
        if (size < 0)
        {
            throw new IllegalArgumentException("size must be >= 0: size=" + size);
        }
        lock.writeLock().lock();
        try
        {
            ensureOpen();
            final FileState state = fileState(file);
            if (size <= state.size)
            {
                return;
            }
            if (null != durable)
            {
                durable.markWritten(file);
            }
            final long oldSize = state.size;
            state.size = size;
            final long firstPage = oldSize >>> pageShift;
            final Notification notification = new Notification();
            notification.pagesChanged(file, firstPage, pagesFor(size) - firstPage, size);
            notification.dispatch();
        }
        finally
        {
            lock.writeLock().unlock();
        }
    }

    /**
     * @return blocks reserved by {@link #reserveBlock} and not yet committed or released.
     */
    public int reservedBlocks()
    {
        lock.readLock().lock();
        try
        {
            return reserved.size();
        }
        finally
        {
            lock.readLock().unlock();
        }
    }

    @Override
    public void addListener(final TranslationListener listener)
    {
        Objects.requireNonNull(listener, "listener");
        ensureOpen();
        listeners.add(listener);
    }

    /**
     * {@inheritDoc}
     *
     * <p>Works on a closed store too, so a cache can unregister after the store closed.
     */
    @Override
    public void removeListener(final TranslationListener listener)
    {
        listeners.remove(listener);
    }

    /**
     * {@inheritDoc}
     *
     * <p>A persistent store writes no more snapshots: every later {@link #commit} and {@link #sync} throws, and the
     * last synced snapshot stands until the store is reopened. An in-memory store does nothing.
     */
    @Override
    public void deviceSyncFailed(final Throwable failure)
    {
        if (null != committer)
        {
            committer.poison(failure);
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>In a persistent store: captures {@code file}'s current map and size (the cache has written and synced its
     * data, and holds its writer lock) and returns once a synced snapshot holds them, writing one unless a snapshot
     * under way or just finished already covers them (group commit), or the live snapshot holds exactly this state.
     * From then on the file's blocks are pinned: not reused, and shared as far as a writer is concerned. In an
     * in-memory store: nothing.
     *
     * @throws IOException           naming the step that failed (device full, a failed write or sync); the previous
     *                               durable state stands and the next commit or sync retries, except after a
     *                               failed device sync (the store's or one the cache reported by
     *                               {@link #deviceSyncFailed}), which may have dropped writes made before it: then
     *                               every later commit and sync fails until the store is reopened.
     * @throws IllegalStateException if the store is closed.
     */
    @Override
    public void commit(final long file) throws IOException
    {
        if (null == durable)
        {
            return;
        }
        final long ticket;
        lock.writeLock().lock();
        try
        {
            ensureOpen();
            final FileState state = fileState(file);
            final LongArrayList freed = new LongArrayList();
            ticket = durable.commit(file, state.size, state.map, freed);
            invalidate(freed);
        }
        finally
        {
            lock.writeLock().unlock();
        }
        if (ticket > 0)
        {
            committer.await(ticket);
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>In a persistent store: captures each file as {@link #commit(long)} does, all under one hold of the store's
     * lock, and returns once one synced snapshot holds them all (group commit). Files that no longer exist are
     * skipped.
     *
     * @throws IllegalStateException if the store is closed.
     */
    @Override
    public void commit(final long[] ids) throws IOException
    {
        if (null == durable)
        {
            return;
        }
        long ticket = 0;
        lock.writeLock().lock();
        try
        {
            ensureOpen();
            final LongArrayList freed = new LongArrayList();
            for (final long file : ids)
            {
                final FileState state = files.get(file);
                if (null != state)
                {
                    ticket = Math.max(ticket, durable.commit(file, state.size, state.map, freed));
                }
            }
            invalidate(freed);
        }
        finally
        {
            lock.writeLock().unlock();
        }
        if (ticket > 0)
        {
            committer.await(ticket);
        }
    }

    /**
     * Makes the whole store durable: captures every file whose data is all on the device (every file the cache has
     * not written since its last {@link #commit}; a file it has keeps its previous durable state, since its data may
     * be only in the cache) and returns once a synced snapshot holds them, the file set (deleted files dropped,
     * files never captured as empty files), the next file id and the attachment. The store's own mutations write
     * their data before they map it, and the snapshot syncs the device before its superblock, so their results are
     * covered. An in-memory store does nothing.
     *
     * @throws IOException           naming the step that failed; the previous durable state stands.
     * @throws IllegalStateException if the store is closed.
     */
    public void sync() throws IOException
    {
        final long ticket;
        lock.writeLock().lock();
        try
        {
            ensureOpen();
            if (null == durable)
            {
                return;
            }
            final LongArrayList freed = new LongArrayList();
            files.forEachLong((id, state) ->
            {
                if (!durable.isWritten(id))
                {
                    durable.commit(id, state.size, state.map, freed);
                }
            });
            ticket = durable.newTicket();
            invalidate(freed);
        }
        finally
        {
            lock.writeLock().unlock();
        }
        committer.await(ticket);
    }

    /**
     * Sets the attachment: opaque bytes that the next snapshot ({@link #commit} of any file, or {@link #sync})
     * persists with the store and {@link #open} recovers, such as a file system's directory tree. An in-memory store
     * keeps them in memory.
     *
     * @param bytes the bytes, copied; at most {@value SnapshotDescriptor#MAX_ATTACHMENT} (16 MiB).
     * @throws NullPointerException     if {@code bytes} is null.
     * @throws IllegalArgumentException if {@code bytes} is longer than the limit.
     * @throws IllegalStateException    if the store is closed.
     */
    public void setAttachment(final byte[] bytes)
    {
        Objects.requireNonNull(bytes, "bytes");
        if (bytes.length > SnapshotDescriptor.MAX_ATTACHMENT)
        {
            throw new IllegalArgumentException("attachment too large: length=" + bytes.length + " max=" +
                SnapshotDescriptor.MAX_ATTACHMENT);
        }
        final byte[] copy = bytes.clone();
        lock.writeLock().lock();
        try
        {
            ensureOpen();
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
            lock.writeLock().unlock();
        }
    }

    /**
     * @return a copy of the attachment last set, or recovered by {@link #open}; an empty array if none. Not
     * necessarily durable yet: {@link #sync} makes it so.
     * @throws IllegalStateException if the store is closed.
     */
    public byte[] attachment()
    {
        lock.readLock().lock();
        try
        {
            ensureOpen();
            return (null == durable ? memoryAttachment : durable.attachment()).clone();
        }
        finally
        {
            lock.readLock().unlock();
        }
    }

    /**
     * @return the sequence number of the last snapshot that synced (it rises by at least one per snapshot written);
     * 0 for an in-memory store.
     * @throws IllegalStateException if the store is closed.
     */
    public long snapshotSequence()
    {
        lock.readLock().lock();
        try
        {
            ensureOpen();
            return null == durable ? 0 : durable.liveSequence();
        }
        finally
        {
            lock.readLock().unlock();
        }
    }

    /**
     * For tests: how many held durable or pending captures map {@code block}.
     */
    int durableRefCount(final long block)
    {
        lock.readLock().lock();
        try
        {
            return null == durable ? 0 : durable.durableRefCount(block);
        }
        finally
        {
            lock.readLock().unlock();
        }
    }

    /**
     * For tests: blocks holding metadata (the slots and the snapshots' chains); 0 for an in-memory store.
     */
    long metadataBlocks()
    {
        lock.readLock().lock();
        try
        {
            return null == durable ? 0 : durable.metadataBlocks();
        }
        finally
        {
            lock.readLock().unlock();
        }
    }

    /**
     * Marks the store closed: every later call except {@link #pageSize}, {@link #removeListener} and {@code close}
     * throws {@code IllegalStateException("extent store is closed")}. Waits for operations in flight. Does not close
     * the device, which the caller owns. Idempotent.
     *
     * <p>A persistent store first runs {@link #sync}. If that fails the store is closed all the same, its previous
     * durable state stands on the device, and the failure is thrown.
     *
     * @throws UncheckedIOException if a persistent store's last sync failed.
     */
    @Override
    public void close()
    {
        IOException failure = null;
        if (null != durable && !closed)
        {
            try
            {
                sync();
            }
            catch (final IOException ex)
            {
                failure = ex;
            }
            catch (final IllegalStateException ex)
            {
                // closed meanwhile by another thread
            }
        }
        closeNow();
        if (null != failure)
        {
            throw new UncheckedIOException("closing the persistent store: its last sync failed; the previous " +
                "durable state stands", failure);
        }
    }

    private void closeNow()
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

    @Override
    public String toString()
    {
        return "ExtentStore{device=" + device + ", pageSize=" + pageSize + '}';
    }

    /**
     * Rebuilds a persistent store's files, reference counts and allocator from a recovered snapshot.
     */
    private void restore(final StoreRecovery.Recovered recovered)
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
                    if (blocks.refCount(block) == 0)
                    {
                        blocks.allocate(block);
                    }
                    else
                    {
                        blocks.retain(block);
                    }
                }
            }
            files.put(record.id, new FileState(record.size, map));
            durable.restored(record.id, record.size, map);
        }
        nextFileId = recovered.snapshot.nextFileId;
    }

    /** Tells the listeners of blocks freed by dropping durable references; the caller holds the write lock. */
    private void invalidate(final LongArrayList freed)
    {
        if (freed.isEmpty())
        {
            return;
        }
        final Notification notification = new Notification();
        for (int i = 0; i < freed.size(); i++)
        {
            notification.blocksInvalidated(freed.getLong(i), 1);
        }
        notification.dispatch();
    }

    /** What the snapshot committer needs of this store, called under the write lock. */
    private final class Host implements SnapshotCommitter.Host
    {
        @Override
        public long[] fileIds()
        {
            final long[] ids = new long[files.size()];
            final int[] count = new int[1];
            files.forEachLong((id, state) -> ids[count[0]++] = id);
            java.util.Arrays.sort(ids);
            return ids;
        }

        @Override
        public long nextFileId()
        {
            return nextFileId;
        }

        @Override
        public void invalidate(final LongArrayList blocks)
        {
            ExtentStore.this.invalidate(blocks);
        }
    }

    private void ensureOpen()
    {
        if (closed)
        {
            throw new IllegalStateException("extent store is closed");
        }
    }

    private FileState fileState(final long file) throws NoSuchFileException
    {
        final FileState state = files.get(file);
        if (null == state)
        {
            throw new NoSuchFileException(null, null, "file " + file + " does not exist");
        }
        return state;
    }

    private static void checkRange(
        final String positionName, final long position, final String lengthName, final long length)
    {
        if (position < 0)
        {
            throw new IllegalArgumentException(positionName + " must be >= 0: " + positionName + "=" + position);
        }
        if (length < 0)
        {
            throw new IllegalArgumentException(lengthName + " must be >= 0: " + lengthName + "=" + length);
        }
        if (position > Long.MAX_VALUE - length)
        {
            throw new IllegalArgumentException(positionName + " + " + lengthName + " overflows: " +
                positionName + "=" + position + " " + lengthName + "=" + length);
        }
    }

    private void checkAligned(final String name, final long position)
    {
        if ((position & pageMask) != 0)
        {
            throw new IllegalArgumentException(
                name + " must be page-aligned: " + name + "=" + position + " pageSize=" + pageSize);
        }
    }

    private void checkFree(final long needed) throws IOException
    {
        if (needed > blocks.freeCount())
        {
            throw new IOException("device full: blockCount=" + blocks.blockCount() + " free=" + blocks.freeCount() +
                " needed=" + needed);
        }
    }

    private long pagesFor(final long bytes)
    {
        return (bytes >>> pageShift) + ((bytes & pageMask) == 0 ? 0 : 1);
    }

    private boolean isWholePage(final FileState state, final long page, final long position, final long end)
    {
        final long pageStart = page << pageShift;
        return position <= pageStart && Math.min(pageStart + pageSize, state.size) <= end;
    }

    private static boolean isZero(final ByteBuffer page, final int from, final int to)
    {
        for (int i = from; i < to; i++)
        {
            if (page.get(i) != 0)
            {
                return false;
            }
        }
        return true;
    }

    /**
     * Picks, without taking them, the lowest free blocks for {@code pageCount} pages from {@code firstPage}.
     */
    private RunList pickFreeBlocks(final long firstPage, final long pageCount)
    {
        final RunList runs = new RunList();
        long page = firstPage;
        long remaining = pageCount;
        long from = 0;
        while (remaining > 0)
        {
            final long start = blocks.nextFree(from);
            final long end = Math.min(blocks.nextAllocated(start), start + remaining);
            runs.add(page, start, end - start);
            page += end - start;
            remaining -= end - start;
            from = end;
        }
        return runs;
    }

    /**
     * Writes the new pages of a {@link #write} to the still-free blocks in {@code fresh}: whole pages straight from
     * {@code src}, partial pages merged with the old page's bytes. Changes nothing but those free blocks.
     */
    private void writeNewPages(final FileState state, final long position, final ByteBuffer src, final RunList fresh)
        throws IOException
    {
        final int length = src.remaining();
        final int srcStart = src.position();
        for (int i = 0; i < fresh.size(); i++)
        {
            final long runPage = fresh.filePage(i);
            final long runBlock = fresh.deviceBlock(i);
            final long runEnd = runPage + fresh.pageCount(i);
            long page = runPage;
            while (page < runEnd)
            {
                final long offset = (page << pageShift) - position;
                if (offset >= 0 && offset + pageSize <= length)
                {
                    final long wholePages = Math.min(runEnd - page, (length - offset) >>> pageShift);
                    device.write(
                        runBlock + (page - runPage),
                        src.slice(srcStart + (int)offset, (int)(wholePages << pageShift)));
                    page += wholePages;
                }
                else
                {
                    final ByteBuffer merged = readPage(state, page);
                    final long from = Math.max(0, offset);
                    final long to = Math.min(length, offset + pageSize);
                    merged.put((int)(from - offset), src, srcStart + (int)from, (int)(to - from));
                    device.write(runBlock + (page - runPage), merged);
                    page++;
                }
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
        final FileState state, final long page, final long position, final long end, final long fromBlock,
        final RunList fresh) throws IOException
    {
        final ByteBuffer content = readPage(state, page);
        final long pageStart = page << pageShift;
        final int from = (int)(Math.max(position, pageStart) - pageStart);
        final int to = (int)(Math.min(end, pageStart + pageSize) - pageStart);
        content.put(from, zeros, 0, to - from);
        final long block = blocks.nextFree(fromBlock);
        device.write(block, content);
        fresh.add(page, block, 1);
        return block;
    }

    /**
     * @return a new page-size buffer, position 0 and limit the page size, holding the page's bytes: the block's,
     * or zeros for a hole, and zeros past end of file.
     */
    private ByteBuffer readPage(final FileState state, final long page) throws IOException
    {
        final ByteBuffer content = ByteBuffer.allocate(pageSize);
        final long block = state.map.blockAt(page);
        if (block != Extent.HOLE)
        {
            device.read(block, content);
            content.clear();
            final long pageStart = page << pageShift;
            if (state.size < pageStart + pageSize)
            {
                final int from = (int)Math.max(0, state.size - pageStart);
                content.put(from, zeros, 0, pageSize - from);
            }
        }
        return content;
    }

    private void readRange(final ExtentMap map, final long position, final int total, final ByteBuffer dst)
        throws IOException
    {
        long pos = position;
        int remaining = total;
        ByteBuffer scratch = null;
        while (remaining > 0)
        {
            final long page = pos >>> pageShift;
            final int offset = (int)(pos & pageMask);
            final int run = map.floorRun(page);
            final int count;
            if (run >= 0 && page < map.endPage(run))
            {
                final long block = map.deviceBlock(run) + (page - map.filePage(run));
                if (offset == 0 && remaining >= pageSize)
                {
                    final long wholePages = Math.min(map.endPage(run) - page, remaining >>> pageShift);
                    count = (int)(wholePages << pageShift);
                    device.read(block, dst.slice(dst.position(), count));
                }
                else
                {
                    if (null == scratch)
                    {
                        scratch = ByteBuffer.allocate(pageSize);
                    }
                    device.read(block, scratch.clear());
                    count = Math.min(remaining, pageSize - offset);
                    dst.put(dst.position(), scratch, offset, count);
                }
            }
            else
            {
                final long holePages = (run + 1 < map.runCount() ? map.filePage(run + 1) : Long.MAX_VALUE) - page;
                final long holeBytes = holePages > (remaining >>> pageShift) + 1 ?
                    remaining : (holePages << pageShift) - offset;
                count = (int)Math.min(remaining, holeBytes);
                for (int put = 0; put < count; put += pageSize)
                {
                    dst.put(dst.position() + put, zeros, 0, Math.min(pageSize, count - put));
                }
            }
            dst.position(dst.position() + count);
            pos += count;
            remaining -= count;
        }
    }

    /**
     * Adds a reference to every block of {@code runs}; on overflow drops the ones it added and rethrows.
     */
    private void retainAll(final RunList runs)
    {
        for (int i = 0; i < runs.size(); i++)
        {
            final long first = runs.deviceBlock(i);
            final long end = first + runs.pageCount(i);
            for (long block = first; block < end; block++)
            {
                try
                {
                    blocks.retain(block);
                }
                catch (final IllegalStateException ex)
                {
                    for (long undo = first; undo < block; undo++)
                    {
                        blocks.release(undo);
                    }
                    for (int j = 0; j < i; j++)
                    {
                        for (long undo = runs.deviceBlock(j); undo < runs.deviceBlock(j) + runs.pageCount(j); undo++)
                        {
                            blocks.release(undo);
                        }
                    }
                    throw ex;
                }
            }
        }
    }

    /**
     * Takes the freshly written blocks of {@code fresh} (count 1) and reports them as invalidated.
     */
    private void takeBlocks(final RunList fresh, final Notification notification)
    {
        for (int i = 0; i < fresh.size(); i++)
        {
            final long first = fresh.deviceBlock(i);
            for (long block = first; block < first + fresh.pageCount(i); block++)
            {
                blocks.allocate(block);
            }
            notification.blocksInvalidated(first, fresh.pageCount(i));
        }
    }

    /**
     * Makes the range map {@code runs} (whose references the caller already holds) and drops the references of the
     * blocks the range mapped before, reporting those freed.
     */
    private void replacePages(
        final ExtentMap map, final long firstPage, final long pageCount, final RunList runs,
        final Notification notification)
    {
        final RunList old = new RunList();
        map.collect(firstPage, pageCount, old);
        map.replace(firstPage, pageCount, runs);
        for (int i = 0; i < old.size(); i++)
        {
            final long first = old.deviceBlock(i);
            for (long block = first; block < first + old.pageCount(i); block++)
            {
                if (blocks.release(block))
                {
                    notification.blocksInvalidated(block, 1);
                }
            }
        }
    }

    private void notifySharedRange(
        final long file, final RunList runs, final long size, final Notification notification)
    {
        final long first = runs.filePage(0);
        final int last = runs.size() - 1;
        notification.pagesChanged(file, first, runs.filePage(last) + runs.pageCount(last) - first, size);
    }

    private static final class FileState
    {
        private long size;
        private final ExtentMap map;

        private FileState(final long size, final ExtentMap map)
        {
            this.size = size;
            this.map = map;
        }
    }

    /**
     * What one mutation tells the listeners, gathered while it runs and sent in the documented order by
     * {@link #dispatch}, still under the write lock.
     */
    private final class Notification
    {
        private final List<long[]> pagesChanged = new ArrayList<>(2);
        private final TreeMap<Long, Long> invalidated = new TreeMap<>();
        private long deletedFile;
        private boolean deleted;

        void pagesChanged(final long file, final long firstPage, final long pageCount, final long size)
        {
            pagesChanged.add(new long[]{file, firstPage, pageCount, size});
        }

        void blocksInvalidated(final long firstBlock, final long blockCount)
        {
            invalidated.put(firstBlock, blockCount);
        }

        void fileDeleted(final long file)
        {
            deletedFile = file;
            deleted = true;
        }

        void dispatch()
        {
            RuntimeException failure = null;
            for (final long[] change : pagesChanged)
            {
                for (final TranslationListener listener : listeners)
                {
                    try
                    {
                        listener.pagesChanged(change[0], change[1], change[2], change[3]);
                    }
                    catch (final RuntimeException ex)
                    {
                        failure = addFailure(failure, ex);
                    }
                }
            }
            long first = -1;
            long end = -1;
            for (final Map.Entry<Long, Long> range : invalidated.entrySet())
            {
                if (range.getKey() != end)
                {
                    failure = invalidate(first, end, failure);
                    first = range.getKey();
                }
                end = range.getKey() + range.getValue();
            }
            failure = invalidate(first, end, failure);
            if (deleted)
            {
                for (final TranslationListener listener : listeners)
                {
                    try
                    {
                        listener.fileDeleted(deletedFile);
                    }
                    catch (final RuntimeException ex)
                    {
                        failure = addFailure(failure, ex);
                    }
                }
            }
            if (null != failure)
            {
                throw failure;
            }
        }

        private RuntimeException invalidate(final long first, final long end, final RuntimeException failure)
        {
            RuntimeException result = failure;
            if (first >= 0)
            {
                for (final TranslationListener listener : listeners)
                {
                    try
                    {
                        listener.blocksInvalidated(first, end - first);
                    }
                    catch (final RuntimeException ex)
                    {
                        result = addFailure(result, ex);
                    }
                }
            }
            return result;
        }

        private RuntimeException addFailure(final RuntimeException failure, final RuntimeException ex)
        {
            if (null == failure)
            {
                return ex;
            }
            failure.addSuppressed(ex);
            return failure;
        }
    }

    /**
     * Listeners told of a coming change by {@link #add}, outside the store's lock; closing it tells them the change
     * is over. One per mutation, closed by the thread that made it.
     */
    private final class Announcement implements AutoCloseable
    {
        private final TranslationListener[] told = listeners.toArray(new TranslationListener[0]);
        private final long[] files = new long[2];
        private final int[] toldCount = new int[2];
        private int fileCount;

        void add(final long file, final long firstPage, final long pageCount, final boolean discard) throws IOException
        {
            final int slot = fileCount++;
            files[slot] = file;
            for (final TranslationListener listener : told)
            {
                toldCount[slot]++;
                listener.beforeChange(file, firstPage, pageCount, discard);
            }
        }

        @Override
        public void close()
        {
            for (int slot = fileCount - 1; slot >= 0; slot--)
            {
                for (int i = toldCount[slot] - 1; i >= 0; i--)
                {
                    told[i].afterChange(files[slot]);
                }
            }
        }
    }
}
