package org.extentcache.translate;

import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantReadWriteLock;

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
 * <h2>Pieces</h2>
 * This class is the store's public face and its construction; each operation is the job of one package-private
 * piece, and all pieces share one lock ({@link StoreLock}, which also holds the closed flag):
 * <ul>
 *   <li>{@link FileTable}: the files, their sizes and extent maps, file ids, and {@link #translate}.</li>
 *   <li>{@link BlockLedger}: block reference counts ({@link BlockRefCounts}), picking free blocks, the cache's
 *       reserved blocks, and the remapping step that ends every mutation.</li>
 *   <li>{@link FileData}: file bytes on the device: {@link #read}, and the new pages of a copy-on-write mutation,
 *       written to blocks that are still free.</li>
 *   <li>{@link FileRewrites}: {@link #write}, {@link #punchHole}, {@link #truncate} and {@link #delete}.</li>
 *   <li>{@link FileClones}: {@link #cloneFile} and {@link #cloneRange}.</li>
 *   <li>{@link CacheWrites}: the cache's write protocol: {@link #checkWritable}, {@link #reserveBlock},
 *       {@link #commitBlock}, {@link #releaseBlock} and {@link #extend}.</li>
 *   <li>{@link StoreDurability}: {@link #commit}, {@link #sync}, the attachment and the rebuild in {@link #open};
 *       it drives {@link DurableState} and {@link SnapshotCommitter}, and {@link StoreRecovery} reads the
 *       superblocks and snapshots back.</li>
 *   <li>{@link StoreListeners}: the listeners, told before ({@code beforeChange}) and after each mutation.</li>
 *   <li>{@link PageGeometry}: page arithmetic and the checks of byte and page arguments.</li>
 * </ul>
 *
 * <h2>Concurrency</h2>
 * One {@link ReentrantReadWriteLock} ({@link StoreLock}), taken by the piece that runs each operation. {@link #translate}, {@link #size}, {@link #exists}, {@link #read},
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
    private final PageGeometry geometry;
    private final StoreLock lock = new StoreLock();
    private final StoreListeners listeners = new StoreListeners(lock);
    private final BlockLedger ledger;
    private final FileTable files;
    private final FileData data;
    private final FileRewrites rewrites;
    private final FileClones clones;
    private final StoreDurability durability;
    private final CacheWrites cacheWrites;

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
        this.geometry = new PageGeometry(device.blockSize());
        this.ledger = new BlockLedger(lock, blockCount, maxRefCount);
        final int blockSize = geometry.pageSize();
        if (persistent && (blockSize < 512 || blockCount < SuperblockDescriptor.SLOT_COUNT + 1))
        {
            throw new IllegalArgumentException("a persistent store needs blocks of at least 512 bytes and at " +
                "least 3 blocks: blockSize=" + blockSize + " blockCount=" + blockCount);
        }
        this.files = new FileTable(lock, ledger.counts());
        this.data = new FileData(device, geometry, lock, files);
        this.rewrites = new FileRewrites(geometry, lock, files, ledger, data, listeners);
        this.clones = new FileClones(geometry, lock, files, ledger, listeners);
        this.durability = new StoreDurability(device, lock, files, ledger, listeners, persistent);
        this.cacheWrites = new CacheWrites(geometry, lock, files, ledger, listeners, durability);
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
        store.durability.formatted();
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
        store.durability.restore(recovered);
        return store;
    }

    /**
     * @return true for a store made by {@link #format} or {@link #open}; false for {@code new ExtentStore(device)}.
     */
    public boolean isPersistent()
    {
        return durability.isPersistent();
    }

    @Override
    public int pageSize()
    {
        return geometry.pageSize();
    }

    /**
     * Creates an empty file.
     *
     * @return the new file's id.
     * @throws IllegalStateException if the store is closed.
     */
    public long create()
    {
        return files.create();
    }

    /**
     * @return the id the next {@link #create} or {@link #cloneFile} hands out: every file the store has made has a
     * lower id (ids are never reused). A persistent store recovers it with its last snapshot, so it also bounds the
     * ids of files made after the names a user keeps in the attachment were last saved.
     * @throws IllegalStateException if the store is closed.
     */
    public long nextFileId()
    {
        return files.nextFileId();
    }

    /**
     * @param file a file id.
     * @return true if the file was created and not deleted.
     * @throws IllegalStateException if the store is closed.
     */
    public boolean exists(final long file)
    {
        return files.exists(file);
    }

    /**
     * {@inheritDoc}
     *
     * @throws IllegalStateException if the store is closed.
     */
    @Override
    public long size(final long file) throws NoSuchFileException
    {
        return files.size(file);
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
        files.translate(file, page, extent);
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
        return data.read(file, position, dst);
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
        rewrites.write(file, position, src);
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
        return clones.cloneFile(src);
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
        clones.cloneRange(src, srcPos, dst, dstPos, length);
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
        rewrites.punchHole(file, position, length);
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
        rewrites.truncate(file, size);
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
        rewrites.delete(file);
    }

    /**
     * @param block a device block.
     * @return how many file pages map it; 0 if it is free.
     * @throws IllegalArgumentException if the block is outside the device.
     * @throws IllegalStateException    if the store is closed.
     */
    public int refCount(final long block)
    {
        return ledger.refCount(block);
    }

    /**
     * @return blocks mapped by at least one file page.
     * @throws IllegalStateException if the store is closed.
     */
    public long allocatedBlocks()
    {
        return ledger.allocatedBlocks();
    }

    /**
     * @return blocks no file page maps.
     * @throws IllegalStateException if the store is closed.
     */
    public long freeBlocks()
    {
        return ledger.freeBlocks();
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
        cacheWrites.checkWritable(file);
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
        return cacheWrites.reserveBlock(file, page);
    }

    @Override
    public void commitBlock(final long file, final long page, final long block) throws NoSuchFileException
    {
        cacheWrites.commitBlock(file, page, block);
    }

    @Override
    public void releaseBlock(final long block)
    {
        cacheWrites.releaseBlock(block);
    }

    @Override
    public void extend(final long file, final long size) throws NoSuchFileException
    {
        cacheWrites.extend(file, size);
    }

    /**
     * @return blocks reserved by {@link #reserveBlock} and not yet committed or released.
     */
    public int reservedBlocks()
    {
        return ledger.reservedBlocks();
    }

    @Override
    public void addListener(final TranslationListener listener)
    {
        Objects.requireNonNull(listener, "listener");
        lock.ensureOpen();
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
        durability.deviceSyncFailed(failure);
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
        durability.commit(file);
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
        durability.commit(ids);
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
        durability.sync();
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
        durability.setAttachment(bytes);
    }

    /**
     * @return a copy of the attachment last set, or recovered by {@link #open}; an empty array if none. Not
     * necessarily durable yet: {@link #sync} makes it so.
     * @throws IllegalStateException if the store is closed.
     */
    public byte[] attachment()
    {
        return durability.attachment();
    }

    /**
     * @return the sequence number of the last snapshot that synced (it rises by at least one per snapshot written);
     * 0 for an in-memory store.
     * @throws IllegalStateException if the store is closed.
     */
    public long snapshotSequence()
    {
        return durability.snapshotSequence();
    }

    /**
     * For tests: how many held durable or pending captures map {@code block}.
     */
    int durableRefCount(final long block)
    {
        return durability.durableRefCount(block);
    }

    /**
     * For tests: blocks holding metadata (the slots and the snapshots' chains); 0 for an in-memory store.
     */
    long metadataBlocks()
    {
        return durability.metadataBlocks();
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
        if (durability.isPersistent() && !lock.isClosed())
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
        lock.close();
        if (null != failure)
        {
            throw new UncheckedIOException("closing the persistent store: its last sync failed; the previous " +
                "durable state stands", failure);
        }
    }

    @Override
    public String toString()
    {
        return "ExtentStore{device=" + device + ", pageSize=" + geometry.pageSize() + '}';
    }
}
