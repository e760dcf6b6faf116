package org.extentcache;

import org.extentcache.device.BlockDevice;
import org.extentcache.frame.FrameArena;
import org.extentcache.mapping.MappingTotals;
import org.extentcache.merge.ContentHash;
import org.extentcache.translate.FileBackedTranslator;
import org.extentcache.translate.Translator;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * An off-heap block cache that stores each physical block once, however many files map it.
 *
 * <p>Frames (page-size slots of off-heap memory) are indexed by <em>device block</em>. Each file has a
 * {@link CachedFile} whose mapping holds an 8-byte handle per cached page; a {@link Translator} turns a file's
 * page into a device block on a miss. Files that share blocks (reflink clones, snapshots, images cloned from one
 * base) therefore share one cached copy: reading a clone after its base costs a translation and an index lookup,
 * not a device read and not another page of memory.
 *
 * <p>Two ways to build one: over a {@link org.extentcache.device.BlockDevice} and a {@link Translator} of the
 * storage engine's own (or {@link org.extentcache.translate.ExtentStore}); or over a {@link FileBackedTranslator}
 * alone, whose files do the I/O, such as {@link org.extentcache.fs.FileSystemTranslator} for real files on Linux
 * (keyed by physical block through FIEMAP, with close-to-open consistency).
 *
 * <h2>Read path</h2>
 * <ol>
 *   <li><b>File hit</b>: the file mapping holds a handle whose generation still matches its frame: copy out. No
 *       lock, no CAS, no allocation: an optimistic read validated by re-reading the frame's state word.</li>
 *   <li>Otherwise translate the page; a hole reads as zeros.</li>
 *   <li><b>Sharing hit</b>: the device index has the block: pin, copy, store a handle in the file mapping.</li>
 *   <li>Otherwise claim a frame (reclaiming one if the arena is full), read the block from the device once, however
 *       many threads and files asked for it meanwhile.</li>
 * </ol>
 *
 * <h2>Consistency with the translator</h2>
 * The cache registers a {@link TranslationListener} with its translator. When a file's pages are remapped the
 * cache drops that file's handles for them; when a block is freed or rewritten behind the cache, the cache drops
 * its frame. A read that overlaps such a change returns the old or the new contents of each page, never bytes of
 * another block; a read that starts after the change has returned sees the new contents. Before the translator
 * changes a file on its own (clone, punch, truncate, delete) it announces the change, and the cache writes the
 * range's dirty pages back and holds the file's writers off until it is done.
 *
 * <h2>Writes</h2>
 * {@link CachedFile#write} writes through the cache with copy-on-write for shared pages; {@link CachedFile#flush}
 * and {@link #flush()} write dirty pages back and sync. Until a page is flushed, the translator may already map it
 * to a fresh block whose bytes on the device are not yet written: read such a file through the cache, not around
 * it. Dirty pages are also written back (and synced) when a miss finds no clean frame to reclaim, and by a
 * background thread once they have been dirty for {@link Builder#dirtyExpiry} (30 s by default).
 *
 * <h2>Thread safety and ownership</h2>
 * All methods are safe for concurrent use. {@link #close()} may race with anything: a read inside the cache keeps
 * its memory until it leaves ({@link ReaderGate}), a write finishes first, and later calls throw; pins still held
 * keep the arena's memory until their last unpin, so their views stay readable. The caller owns the device
 * and the translator and closes them after the cache. Each cache runs one daemon thread, the background
 * write-back, which {@link #close()} stops.
 *
 * <h2>Memory</h2>
 * Frames, their 24-byte metadata records and the device index (about 11 bytes per frame) are reserved off-heap when
 * the cache is built; nothing grows with use except the file mappings' trees on the heap (8 bytes per cached page
 * per file). See {@link #stats()}.
 */
public final class ExtentCache implements AutoCloseable
{
    /** Smallest page size. */
    public static final int MIN_PAGE_SIZE = 4096;
    /** Largest page size. */
    public static final int MAX_PAGE_SIZE = 65536;
    /** Fewest frames a cache may have: enough for several concurrent misses. */
    public static final int MIN_CAPACITY = 8;
    /** The merge domain every file starts in: one domain for the cache's translator ({@link #mergeDomain}). */
    public static final int DEFAULT_MERGE_DOMAIN = 0;
    /** The merge domain of files whose pages never merge ({@link #mergeDomain}). */
    public static final int NO_MERGE_DOMAIN = -1;

    /** Each file's merge domain. */
    private final MergeDomains mergeDomains = new MergeDomains();

    private final Translator translator;
    private final DeviceCache frames;
    private final int pageSize;
    private final ConcurrentHashMap<Long, CachedFile> files = new ConcurrentHashMap<>();
    /** Handles, leaves and nodes summed over every file's mapping as they change: what {@link #stats()} reads. */
    private final MappingTotals mappingTotals = new MappingTotals();
    private final CacheListener listener;
    /** Pins held and where they were taken (when tracked), and the report of what close finds left. */
    private final PinTracker pinTracker;
    final LongAdder fileHits = new LongAdder();
    private final BackgroundWriteback writeback;
    /** Set first by {@link #close()}: no new file view, no claim waits for a frame. */
    private volatile boolean closing;
    private final CloseOnce closeOnce = new CloseOnce();
    private volatile boolean closed;

    private ExtentCache(final Builder builder)
    {
        this.translator = builder.translator;
        this.pageSize = builder.pageSize;
        this.pinTracker = new PinTracker(builder.trackPins, builder.leakReporter);
        this.frames = new DeviceCache(builder.translator instanceof FileBackedTranslator ?
            BlockIo.of((FileBackedTranslator)builder.translator) : BlockIo.of(builder.device),
            builder.pageSize, builder.capacity, builder.claimTimeoutNanos, this::makeRoom,
            builder.translator::deviceSyncFailed, builder.mergeHash,
            builder.mergeAliases > 0 ? builder.mergeAliases : builder.capacity, builder.readahead);
        this.listener = new CacheListener(this, files, frames);
        this.writeback = builder.dirtyExpiryNanos == 0 ? null : new BackgroundWriteback(files.values(),
            builder.dirtyExpiryNanos, "extentcache-writeback-" + Integer.toHexString(System.identityHashCode(this)));
        boolean listening = false;
        try
        {
            // every field is set before the translator can call the listener (from any thread, at once)
            translator.addListener(listener);
            listening = true;
            if (null != writeback)
            {
                writeback.start();
            }
        }
        catch (final RuntimeException | Error ex)
        {
            // a failed build frees what it reserved: nothing waits for the garbage collector
            if (listening)
            {
                translator.removeListener(listener);
            }
            frames.close();
            throw ex;
        }
    }

    /**
     * @return a builder; {@link Builder#translator} and a capacity are required, and {@link Builder#device} unless
     * the translator is a {@link FileBackedTranslator}.
     */
    public static Builder builder()
    {
        return new Builder();
    }

    /**
     * Returns the cache's view of a file, creating its (empty) mapping on first use. The same object is returned
     * for the same id until the file is deleted.
     *
     * @param file the translator's file id.
     * @return the cached file; it needs no closing.
     * @throws NoSuchFileException   if the translator does not know the file.
     * @throws IllegalStateException if the cache is closed.
     */
    public CachedFile file(final long file) throws NoSuchFileException
    {
        ensureOpen();
        CachedFile cached = files.get(file);
        if (null != cached)
        {
            if (!cached.isForgotten())
            {
                return cached;
            }
            files.remove(file, cached); // closed in the cache and not yet removed by closeFile: a fresh view
        }
        cached = files.computeIfAbsent(file, id -> new CachedFile(this, id));
        if (closing)
        {
            // close may have marked its files before this one went in: this one is marked here
            cached.markClosed();
            throw new IllegalStateException("cache is closed");
        }
        try
        {
            cached.initSize(translator.size(file));
        }
        catch (final NoSuchFileException ex)
        {
            files.remove(file, cached);
            cached.markDeleted();
            throw ex;
        }
        return cached;
    }

    /**
     * @return bytes per page and per frame.
     */
    public int pageSize()
    {
        return pageSize;
    }

    /**
     * @return the translator the cache reads through.
     */
    public Translator translator()
    {
        return translator;
    }

    /**
     * Names the merge domain of a file (content merging, {@link Builder#mergeIdenticalPages}): its pages merge only
     * with pages loaded for files of the same domain. Every file starts in {@link #DEFAULT_MERGE_DOMAIN}, one domain
     * for the cache's translator; {@link #NO_MERGE_DOMAIN} keeps the file's pages out of merging. Give files of
     * mutually distrusting tenants different domains: merging is a side channel between the files it joins (see
     * {@link Builder#mergeIdenticalPages}). Takes effect at the file's next miss; pages merged before stay merged
     * until written, reclaimed or invalidated, but no page of a file open in the cache takes a merge from its old
     * domain after this returns (every merge candidate is forgotten, and frames index again at their next load). Has
     * no effect while merging is off.
     *
     * @param file   the translator's file id (it need not be open in the cache yet).
     * @param domain a domain {@code >= 0}, or {@link #NO_MERGE_DOMAIN}.
     * @throws IllegalArgumentException if {@code domain < -1}.
     */
    public void mergeDomain(final long file, final int domain)
    {
        mergeDomains.set(file, domain);
        if (null != frames.merger && files.containsKey(file))
        {
            frames.merger.forgetCandidates(); // a frame does not know its files: forget them all
        }
    }

    /**
     * Merges pages already resident (content merging, {@link Builder#mergeIdenticalPages}): every page an open file
     * maps is offered, within the file's merge domain, to the same steps a page goes through when a miss loads it
     * (hash, look up, compare, alias). It finds what merging at load time cannot: pages written since they were
     * loaded (once written back: dirty pages never merge), and pages read before an equal page was. Pages no open
     * file maps are left alone (their domain is not known). Safe to run beside reads and writes; a page being written
     * is skipped. Walks every open file's mapping, so run it when there is time, like the kernel's {@code ksmd}.
     *
     * @return pages merged by this pass.
     * @throws IllegalStateException if the cache is closed.
     */
    public long mergeResident()
    {
        ensureOpen();
        return null == frames.merger ? 0 : frames.readers.supply(() -> frames.merger.mergeResident(files.values()));
    }

    /**
     * @return each file's merge domain.
     */
    MergeDomains mergeDomains()
    {
        return mergeDomains;
    }

    /**
     * @return whether content merging is on.
     */
    boolean merging()
    {
        return null != frames.merger;
    }

    /**
     * Takes a snapshot of the counters and memory figures, cheap enough to poll: takes no lock, never waits for a
     * miss and walks no file: every figure is a counter kept as it changes (the mappings' heap bytes and handles in
     * {@link MappingTotals}, the file count in the file table's own size counter), so the cost is {@code O(1)} in
     * files and pages; it allocates the snapshot. Which frames open files reach is {@link #residency()}, which walks
     * the mappings.
     *
     * @return the snapshot.
     * @throws IllegalStateException if the cache is closed.
     */
    public CacheStats stats()
    {
        ensureOpen();
        return frames.readers.supply(() -> CacheStats.of(frames, fileHits.sum(),
            null == writeback ? 0 : writeback.failures.sum(), mappingTotals, files.size()));
    }

    /** For tests: {@link FrameBooks#walkMappingFigures} over this cache's files. */
    long[] walkMappingFigures()
    {
        return FrameBooks.walkMappingFigures(files.values());
    }

    /**
     * @return the totals every file's mapping adds its counts to; a file leaves {@link #files} only with its mapping
     * emptied ({@link CachedFile#markDeleted}, {@link CachedFile#closeInCache}, {@link CachedFile#markClosed}).
     */
    MappingTotals mappingTotals()
    {
        return mappingTotals;
    }

    /**
     * Which resident frames open files can reach: walks every file's mapping (and allocates a bit set of the
     * capacity), so it is for diagnostics and footprint reports, not for polling ({@link #stats()} is).
     *
     * @return the resident frames, and how many of them a file the cache knows maps through a valid handle.
     * @throws IllegalStateException if the cache is closed.
     */
    public Residency residency()
    {
        return residency(file -> true);
    }

    /**
     * {@link #residency()} for some files: the resident frames (all of them), and how many of them those files map
     * through a valid handle. For a {@link org.extentcache.translate.TranslatorGroup} member, {@code member::owns}
     * gives the frames its files reach; a frame two members' files map counts for each.
     *
     * @param which the files to count, by id.
     * @return the resident frames, and how many of them the chosen files reach.
     * @throws IllegalStateException if the cache is closed.
     */
    public Residency residency(final java.util.function.LongPredicate which)
    {
        ensureOpen();
        return frames.readers.supply(() -> FrameBooks.residency(frames, files.values(), which));
    }

    /**
     * Checks the cache's books: every frame is free, retired or resident; the device index holds exactly the
     * resident frames that are not orphaned; every alias of a merged frame names an up-to-date, clean, merged,
     * indexed frame and is not indexed itself. For tests and diagnostics; takes the allocation lock.
     *
     * @return a description of the first discrepancy, or {@code null} if the books balance.
     */
    public String checkBooks()
    {
        ensureOpen();
        return frames.readers.supply(frames::checkBooks);
    }

    /**
     * Stops the background write-back, stops listening to the translator and releases every frame and all metadata.
     * Idempotent. Reads and writes in progress are waited for (a read blocked in the translator or the device
     * holds close up that long); later calls throw {@link IllegalStateException}. Dirty pages are <em>not</em>
     * written back: call {@link #flush()} first; any still dirty are discarded and reported. Pins still held are reported and keep the
     * frames' memory until their last unpin ({@link PinnedPage#close()} still works after close), so no view of a
     * pinned page ever points at freed memory.
     *
     * @throws IllegalStateException from inside a read of this cache (its translator or device): the cache stays open.
     */
    @Override
    public void close()
    {
        frames.readers.refuseCloseFromInside();
        // a second close returns once the first has closed the cache, unless this thread is one the first waits for
        closeOnce.close(this::closeFirst, () -> (null != writeback && writeback.isCurrentThread()) ||
            files.values().stream().anyMatch(file -> file.writeback().isHeldByCurrentThread()));
    }

    private void closeFirst()
    {
        // no new file views, and a writer waiting for a frame gives up rather than hold close up
        closing = true;
        frames.closing();
        if (null != writeback)
        {
            writeback.stop();
        }
        // writers out before anything else: until then the listener keeps brackets and invalidations working, so a
        // write in progress never writes back over blocks the translator freed meanwhile
        for (final CachedFile file : files.values())
        {
            file.markClosed();
        }
        pinTracker.reportAtClose(frames.dirtyFrames.get(), frames.pins.pinnedFrames()); // after the writers: their last dirty pages are counted
        closed = true;
        translator.removeListener(listener);
        files.clear();
        frames.close();
    }

    /**
     * Asked by a miss that found no frame to reclaim: writes back (and syncs) every file whose writer lock is free.
     *
     * @return true if some page was written back.
     */
    private boolean makeRoom()
    {
        boolean wrote = false;
        for (final CachedFile file : files.values())
        {
            wrote |= file.writeback().writeBackForRoom();
        }
        return wrote;
    }

    /**
     * @return true once {@link #close()} has begun: no new file view, no claim waits for a frame.
     */
    boolean isClosing()
    {
        return closing;
    }

    /**
     * @return true once {@link #close()} has been called.
     */
    public boolean isClosed()
    {
        return closed;
    }

    DeviceCache frames()
    {
        return frames;
    }

    void pinned(final PinnedPage page)
    {
        pinTracker.pinned(page);
    }

    void unpin(final PinnedPage page, final long handle)
    {
        pinTracker.released(page);
        if (org.extentcache.frame.Handle.NONE != handle)
        {
            frames.pins.unpin(handle); // after close too: the last pin released frees the arena
        }
    }

    /**
     * Changes the capacity at run time, as Caffeine's {@code setMaximum} does: how many of the frames reserved when
     * the cache was built ({@link Builder#capacityFrames}) it may hold. Lowering it reclaims clean, unpinned frames
     * now (having dirty ones written back while that frees some) and takes the rest out of service as they are
     * freed; raising it puts parked frames back. It never goes below what is pinned: a pinned frame is never taken,
     * and one over the new capacity leaves service only when its last unpin frees it. The memory reserved stays reserved: parked frames are counted in
     * {@link CacheStats#framesParked()}, not in {@link CacheStats#frameBytesInUse()}.
     *
     * @param capacity the new capacity in frames, from {@link #MIN_CAPACITY} to the frames reserved.
     * @return frames still in use over the new capacity (pinned, loading, dirty or being written), each taken out of
     * service when it is freed; 0 once the cache is within it.
     * @throws IllegalArgumentException if {@code capacity} is out of range.
     * @throws IllegalStateException    if the cache is closed.
     */
    public int setCapacityFrames(final int capacity)
    {
        ensureOpen();
        if (capacity < MIN_CAPACITY || capacity > frames.arena().capacity())
        {
            throw new IllegalArgumentException("capacity must be " + MIN_CAPACITY + ".." +
                frames.arena().capacity() + " frames (the frames reserved): frames=" + capacity);
        }
        return frames.limit(capacity);
    }

    /**
     * @return the capacity in frames now: as built, or as {@link #setCapacityFrames} last set it.
     */
    public int capacityFrames()
    {
        return frames.limit();
    }

    /**
     * @return pins currently held, as tracked (0 when pin tracking is off).
     */
    public int trackedPins()
    {
        return pinTracker.count();
    }

    void ensureOpen()
    {
        if (closing)
        {
            throw new IllegalStateException("cache is closed");
        }
    }

    /**
     * Closes a file in the cache, as a file system does on the last close of a file: makes its pages durable if any
     * is not ({@link CachedFile#flush}, which also has the translator commit the file's metadata), then drops the
     * file's mapping. Its frames stay in the cache under their device blocks: a file opened again, or another file
     * mapping the same blocks, finds them by translation (a sharing hit, no device read), and until then they count
     * as kept only as cache ({@link #residency()}), reclaimed like any other clean frame when space is
     * needed. The {@code CachedFile} the cache handed out for the file refuses every later call; {@link #file}
     * returns a fresh one. Does nothing if the cache holds no view of the file.
     *
     * <p>Call it when no other thread uses the file: a read or write racing with it may fail with
     * {@link IllegalStateException} (closed in the cache), never return wrong bytes or lose a write it returned from.
     *
     * @param file the translator's file id.
     * @throws IOException           if a page could not be made durable: the file stays open in the cache, its pages
     *                               dirty, and a later flush or close retries.
     * @throws IllegalStateException if the cache is closed.
     */
    public void closeFile(final long file) throws IOException
    {
        ensureOpen();
        final CachedFile cached = files.get(file);
        if (null == cached)
        {
            return;
        }
        cached.closeInCache();
        files.remove(file, cached);
    }

    /**
     * Writes every dirty page of every file to the device, then syncs the device: once, unless a file's writer is
     * busy (the pages written so far are synced first, so the flush never waits for a writer while it pins frames
     * the writer may need) or the pages written so far pin a quarter of the arena. Then, if every file was flushed,
     * has the translator make the metadata of every file with nothing left to write durable, in one call
     * ({@link Translator#commit(long[])}): over a persistent {@link org.extentcache.translate.ExtentStore}, one
     * metadata snapshot for all of them.
     *
     * @throws IOException           for the first file that failed (the others are flushed too; failed pages stay
     *                               dirty).
     * @throws IllegalStateException if the cache is closed.
     */
    public void flush() throws IOException
    {
        ensureOpen();
        CacheWideFlush.flush(files.values(), frames);
        CacheWideFlush.commitFlushed(files.values(), translator);
    }

    /**
     * Builds an {@link ExtentCache}. Not thread-safe.
     */
    public static final class Builder
    {
        private BlockDevice device;
        private Translator translator;
        private int pageSize = MIN_PAGE_SIZE;
        private long capacityBytes = -1;
        private int capacity = -1;
        private boolean trackPins = Boolean.getBoolean("extentcache.trackPins");
        private long claimTimeoutNanos = DeviceCache.CLAIM_TIMEOUT_NANOS;
        private long dirtyExpiryNanos = java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
        /** The content hash that merging uses; null while merging is off. */
        private ContentHash mergeHash;
        private int mergeAliases = -1;
        private boolean readahead = true;
        private java.util.function.Consumer<String> leakReporter = message ->
            System.getLogger(ExtentCache.class.getName()).log(System.Logger.Level.WARNING, message);

        private Builder()
        {
        }

        /**
         * @param device the device blocks are read from; its block size must equal the page size. Required unless
         *               the translator is a {@link FileBackedTranslator} (which does its own I/O), and then not
         *               allowed.
         * @return this builder.
         */
        public Builder device(final BlockDevice device)
        {
            this.device = device;
            return this;
        }

        /**
         * @param translator turns file pages into device blocks; its page size must equal the cache's.
         * @return this builder.
         */
        public Builder translator(final Translator translator)
        {
            this.translator = translator;
            return this;
        }

        /**
         * @param pageSize bytes per page, a power of two from 4 KiB to 64 KiB; default 4 KiB.
         * @return this builder.
         */
        public Builder pageSize(final int pageSize)
        {
            this.pageSize = pageSize;
            return this;
        }

        /**
         * @param frames number of frames, at least {@link #MIN_CAPACITY}.
         * @return this builder.
         */
        public Builder capacityFrames(final int frames)
        {
            this.capacity = frames;
            this.capacityBytes = -1;
            return this;
        }

        /**
         * @param bytes frame memory in bytes, rounded down to whole pages; at least {@link #MIN_CAPACITY} pages.
         * @return this builder.
         */
        public Builder capacityBytes(final long bytes)
        {
            this.capacityBytes = bytes;
            this.capacity = -1;
            return this;
        }

        /**
         * @param track true to record where every pin was taken (a stack trace per pin: for tests and debugging),
         *              so pins still held at close are reported with their origin and double or foreign unpins are
         *              caught. Default: the system property {@code extentcache.trackPins} (false if unset).
         * @return this builder.
         */
        public Builder trackPins(final boolean track)
        {
            this.trackPins = track;
            return this;
        }

        /**
         * @param timeout how long a miss or a write waits for a frame to reclaim (every frame pinned, loading, or
         *                dirty in a file whose write-back fails or whose writer holds it) before it throws
         *                {@link IllegalStateException}; default 10 s.
         * @return this builder.
         * @throws IllegalArgumentException if not positive.
         */
        public Builder claimTimeout(final java.time.Duration timeout)
        {
            if (timeout.isNegative() || timeout.isZero())
            {
                throw new IllegalArgumentException("claimTimeout must be positive: claimTimeout=" + timeout);
            }
            this.claimTimeoutNanos = saturatedNanos(timeout);
            return this;
        }

        /**
         * @param expiry how long a page may stay dirty before the background write-back writes it back and syncs it
         *               (the kernel's {@code dirty_expire_centisecs}); default 30 s. {@link java.time.Duration#ZERO}
         *               turns the background write-back off (no thread is started): pages then stay dirty until a
         *               flush, a change of their range, the throttle or a miss that needs their frames.
         * @return this builder.
         * @throws IllegalArgumentException if negative.
         */
        public Builder dirtyExpiry(final java.time.Duration expiry)
        {
            if (expiry.isNegative())
            {
                throw new IllegalArgumentException("dirtyExpiry must be >= 0: dirtyExpiry=" + expiry);
            }
            this.dirtyExpiryNanos = saturatedNanos(expiry);
            return this;
        }

        private static long saturatedNanos(final java.time.Duration duration)
        {
            try
            {
                return duration.toNanos();
            }
            catch (final ArithmeticException ex)
            {
                return Long.MAX_VALUE;
            }
        }

        /**
         * Turns content merging on or off (default off). With it on, a block read from the device whose bytes equal
         * those of a resident, clean frame loaded for a file of the same merge domain ({@link #mergeDomain}) becomes
         * an <em>alias</em> of that frame instead of taking a frame of its own: plain copies of an image (no reflink)
         * are then held once, like reflinked clones. Bytes are compared before anything is shared; a hash match
         * alone never merges. A write to a merged page goes copy-on-write, like a write to a shared block.
         *
         * <p><b>Side channel.</b> A write to a merged page is slower than a write to a page of one's own, so a file's
         * writer can learn that another file holds the same bytes (the published attacks on the kernel's KSM use
         * exactly this). Give files of mutually distrusting tenants different merge domains, or
         * {@link #NO_MERGE_DOMAIN}.
         *
         * <p><b>Costs.</b> Each miss hashes its page (XXH3 from zero-allocation-hashing) and looks it up under the
         * allocation lock (together about 0.45 ns per byte on a 2-core VM: {@code MergeBenchmark}); a candidate costs
         * a page compare. Off-heap memory: about 29 bytes
         * per frame for the content index and about 21 bytes per alias record ({@link #mergeAliases}), reserved up
         * front and counted in {@link CacheStats#offHeapMetadataBytes()}.
         *
         * @param merge true to merge identical pages.
         * @return this builder.
         */
        public Builder mergeIdenticalPages(final boolean merge)
        {
            this.mergeHash = merge ? (null == mergeHash ? ContentHash.xxh3() : mergeHash) : null;
            return this;
        }

        /**
         * @param aliases most blocks that can be aliases of merged frames at once; default the capacity in frames.
         *                When the table is full, a block that could merge keeps a frame of its own. Eight copies of
         *                a fully cached image need eight times the image's pages.
         * @return this builder.
         * @throws IllegalArgumentException if not positive.
         */
        public Builder mergeAliases(final int aliases)
        {
            if (aliases <= 0)
            {
                throw new IllegalArgumentException("mergeAliases must be > 0: mergeAliases=" + aliases);
            }
            this.mergeAliases = aliases;
            return this;
        }

        /**
         * @param on false to turn readahead off: a miss reads only its own page. Readahead (on by default) reads a
         *           window of pages after a sequential miss, through the file; it applies only to translators that do
         *           their own I/O ({@link FileBackedTranslator}) and is off while merging is on.
         * @return this builder.
         */
        public Builder readahead(final boolean on)
        {
            this.readahead = on;
            return this;
        }

        /** For tests: merging on, with this content hash (for instance one that collides all the time). */
        Builder mergeHash(final ContentHash hash)
        {
            this.mergeHash = java.util.Objects.requireNonNull(hash, "hash");
            return this;
        }

        /**
         * @param reporter where reports of pins still held, and of dirty pages discarded, at close go; default
         *                 the {@code System.Logger} named after {@code org.extentcache.ExtentCache}, at WARNING.
         * @return this builder.
         */
        public Builder leakReporter(final java.util.function.Consumer<String> reporter)
        {
            this.leakReporter = java.util.Objects.requireNonNull(reporter, "reporter");
            return this;
        }

        /**
         * Checks the JVM flags and the configuration, then reserves all off-heap memory.
         *
         * @return the cache; the caller closes it.
         * @throws IllegalStateException    if the JVM lacks the flags ExtentCache needs (the message names them).
         * @throws IllegalArgumentException naming any value out of range or inconsistent.
         * @throws NullPointerException     if the translator is missing, or the device for a translator that is not
         *                                  a {@link FileBackedTranslator}.
         * @throws OutOfMemoryError         if direct memory cannot be reserved (nothing stays allocated).
         */
        public ExtentCache build()
        {
            JvmFlags.requireAccess();
            if (null == translator)
            {
                throw new NullPointerException("translator is required");
            }
            final boolean fileBacked = translator instanceof FileBackedTranslator;
            if (null == device && !fileBacked)
            {
                throw new NullPointerException("device is required (the translator " +
                    translator.getClass().getSimpleName() + " is not a FileBackedTranslator)");
            }
            if (null != device && fileBacked)
            {
                throw new IllegalArgumentException("a device was given but the translator " +
                    translator.getClass().getSimpleName() + " is a FileBackedTranslator, which does its own I/O");
            }
            if (pageSize < MIN_PAGE_SIZE || pageSize > MAX_PAGE_SIZE || Integer.bitCount(pageSize) != 1)
            {
                throw new IllegalArgumentException(
                    "pageSize must be a power of two from 4096 to 65536: pageSize=" + pageSize);
            }
            if (null != device && device.blockSize() != pageSize)
            {
                throw new IllegalArgumentException("device block size must equal the page size: blockSize=" +
                    device.blockSize() + " pageSize=" + pageSize);
            }
            if (translator.pageSize() != pageSize)
            {
                throw new IllegalArgumentException("translator page size must equal the page size: " +
                    "translatorPageSize=" + translator.pageSize() + " pageSize=" + pageSize);
            }
            if (capacityBytes >= 0)
            {
                final long frames = capacityBytes / pageSize;
                if (frames < MIN_CAPACITY || frames > FrameArena.maxCapacity())
                {
                    throw new IllegalArgumentException("capacityBytes must hold " + MIN_CAPACITY + ".." +
                        FrameArena.maxCapacity() + " pages: capacityBytes=" + capacityBytes + " pageSize=" + pageSize);
                }
                capacity = (int)frames;
            }
            if (capacity < MIN_CAPACITY || capacity > FrameArena.maxCapacity())
            {
                throw new IllegalArgumentException(capacity == -1 ? "capacity is required" :
                    "capacity must be " + MIN_CAPACITY + ".." + FrameArena.maxCapacity() + " frames: capacity=" +
                    capacity);
            }
            return new ExtentCache(this);
        }
    }
}
