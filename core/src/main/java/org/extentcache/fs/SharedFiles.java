package org.extentcache.fs;

import org.agrona.collections.Int2ObjectHashMap;
import org.agrona.collections.Long2ObjectHashMap;
import org.extentcache.shm.SharedCache;
import org.extentcache.shm.SharedPage;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * A process's files, read through a cache shared by every process on the host ({@link SharedCache}): opened
 * read-only, translated here (FIEMAP, as {@link FileSystemTranslator} does), and served from the shared frames keyed
 * by (file system, physical block), so four JVMs reading the same reflinked images hold one copy.
 *
 * <h2>What is shared</h2>
 * Only physical pages: a page the kernel reports at a stable physical address on a file system known to give one
 * address space per {@code st_dev} (xfs, btrfs, ext2/3/4, f2fs). Its key holds the file system's host-wide number
 * ({@link SharedCache#fileSystemIndex}) and the block. Private pages (delayed allocation, unwritten, inline, encoded,
 * files on tmpfs or on other file systems: {@link #sharingUnavailableReason}) are read from the file each time and
 * never enter the shared file; holes read as zeros. Translation, the file mapping (a handle per page) and the file's
 * descriptors stay in this process.
 *
 * <h2>Trust: a frame is served only with a vouch from a file of this process</h2>
 * A frame is served to a file only through a translation of a file this process opened itself. Within one JVM,
 * {@link BlockTrust} decides whether a cached block is still the bytes a file maps by checking the other open files
 * that vouch for it; here the file that loaded a frame may be another process's, which this one cannot check. So
 * each process keeps, per frame, the generation and the file of its own that last <em>vouched</em> for the frame's
 * bytes: the frame was loaded through that file, or the page was read through that file and found equal to the frame.
 * A frame no file of this process vouches for is checked that way before it is served (one read of the page); a frame
 * that fails is taken out of service in every process ({@link SharedCache#invalidate}) and loaded again from this
 * file's bytes.
 *
 * <p>A vouch holds for the file that made it. For another file of this process it holds as it does within one JVM:
 * if the two files' layouts were both current at one moment: the vouching file's attributes and extents, read again
 * (one {@code stat} and one FIEMAP) at or after the other file's {@link #open} (or {@link #revalidate}), still map
 * every block it vouches for, and the other file's were read (or read again) at or after the vouching file's layout
 * was. Each open and revalidation starts a new <em>epoch</em>; a file is confirmed in the epoch of the file asking,
 * at most once per epoch, when a read first needs it. (The first half alone trusted, for a file that moved off a
 * block before the block's new owner was opened, the new owner's vouch.) A file found changed or moved is reloaded
 * (its vouches are dropped, its handles cleared). So a block freed by a dedupe, a defragmentation or a truncation
 * and reused by another file is never served with the old bytes; the price is one read of each block per process
 * (the memory is still one copy) and one FIEMAP per vouching file per open, and one per file opened earlier than a
 * file whose vouch it uses. A check that fails means some file's view of the block is stale: every
 * file open in the process then reads its extents again (one FIEMAP each) before the frame is replaced, so a file
 * whose extents moved while open (its bytes unchanged) neither replaces the frame with its new block's bytes nor goes
 * on being served the block's new owner's. Not guaranteed: a read of a moved file that began before the check that
 * finds the move.
 *
 * <h2>Consistency: close-to-open</h2>
 * As for {@link FileSystemTranslator}: <b>while a file is open here, no process may change its bytes</b> (nor those
 * of any file it shares extents with); {@link #revalidate} reads its extents again. This class never writes.
 *
 * <h2>Costs</h2>
 * A file hit: a handle read from the file's mapping and the shared cache's validated copy. A sharing hit in this
 * process: a lookup in the shared index. The first use of a frame another process loaded: a read of the page through
 * this process's file and a comparison. A miss: the allocation lock, and one read straight into the shared frame
 * ({@code O_DIRECT} where the file system takes it, since the frames are page-aligned). Heap: 8 bytes per page of
 * each file's mapping (in segments of 4096 pages, allocated when first used) and 8 bytes per frame of trust.
 *
 * <p><b>Thread safety:</b> safe for concurrent use. Closing a file while it is read makes those reads fail with an
 * {@link IOException}; nothing else is harmed.
 */
public final class SharedFiles implements Closeable
{
    /** What a trust decision returns when the file's extents were read again meanwhile: never a valid handle. */
    private static final long RELAYOUT = -1;
    private final SharedCache cache;
    private final int pageSize;
    private final int pageShift;
    private final boolean directReads;
    private final ExtentReader reader;
    /**
     * Open files by id: a copy-on-write map, replaced under {@code this} by opens and closes and read without a lock
     * (a volatile load, no boxing) by every read.
     */
    private volatile Long2ObjectHashMap<SharedOpenFile> files = new Long2ObjectHashMap<>();
    private final AtomicLong ids = new AtomicLong();
    private final AtomicLong epochs = new AtomicLong();
    private final AtomicInteger vouchers = new AtomicInteger();
    /** Each open file's current voucher number to it: copy-on-write under {@code this}, read without a lock. */
    private volatile Int2ObjectHashMap<SharedOpenFile> byVoucher = new Int2ObjectHashMap<>();
    /** Per frame: {@code voucher << 32 | generation} of this process's last vouch for its bytes. */
    private final AtomicLongArray vouched;
    private final ThreadLocal<ByteBuffer[]> scratch;
    /** Per thread: the loader a miss fills a frame with, re-aimed at each miss (no allocation). */
    private final ThreadLocal<PageFill> fills = ThreadLocal.withInitial(PageFill::new);
    private final LongAdder fileHits = new LongAdder();
    private final LongAdder sharedHits = new LongAdder();
    private final LongAdder loads = new LongAdder();
    private final LongAdder verifications = new LongAdder();
    private final LongAdder verificationMisses = new LongAdder();
    private final LongAdder privateReads = new LongAdder();
    private final LongAdder confirmations = new LongAdder();
    private volatile boolean closed;

    /**
     * Files read with {@code O_DIRECT} where the file system takes it: the kernel keeps no copy of its own.
     *
     * @param cache the shared cache; this object does not close it.
     */
    public SharedFiles(final SharedCache cache)
    {
        this(cache, true);
    }

    /**
     * @param cache       the shared cache; this object does not close it.
     * @param directReads true to read with {@code O_DIRECT} where the file system takes it.
     */
    public SharedFiles(final SharedCache cache, final boolean directReads)
    {
        this.cache = Objects.requireNonNull(cache, "cache");
        this.pageSize = cache.pageSize();
        this.pageShift = Integer.numberOfTrailingZeros(pageSize);
        this.directReads = directReads;
        this.reader = new ExtentReader(pageSize);
        this.vouched = new AtomicLongArray(cache.frames());
        this.scratch = ThreadLocal.withInitial(() -> new ByteBuffer[] {
            ByteBuffer.allocateDirect(2 * pageSize).alignedSlice(pageSize).limit(pageSize).slice(),
            ByteBuffer.allocateDirect(pageSize)});
    }

    /**
     * Opens a file for reading: holds its inode, reads its extents and starts a new epoch (see the class comment).
     *
     * @return the file's id for {@link #read}.
     * @throws IOException if it cannot be opened or its extents read.
     */
    public long open(final Path path) throws IOException
    {
        checkOpen();
        final Path real = path.toRealPath();
        final long id = ids.incrementAndGet();
        final SharedOpenFile file = new SharedOpenFile(id, real, pageSize, directReads);
        try
        {
            load(file);
        }
        catch (final IOException | RuntimeException ex)
        {
            try
            {
                file.close();
            }
            catch (final IOException suppressed)
            {
                ex.addSuppressed(suppressed);
            }
            throw ex;
        }
        synchronized (this)
        {
            final Long2ObjectHashMap<SharedOpenFile> next = new Long2ObjectHashMap<>(files);
            next.put(id, file);
            files = next;
        }
        if (closed)
        {
            close(id); // raced close(): it may have missed this file
            checkOpen();
        }
        return id;
    }

    private void load(final SharedOpenFile file) throws IOException
    {
        synchronized (file) // as recheck: layouts are installed in the order they were read
        {
            final long before = epochs.get(); // before the reads: the layout is current at this epoch or later
            final ExtentReader.Loaded loaded = reader.load(file.handle(), file.path);
            publish(file, loaded, layoutOf(loaded), before);
        }
    }

    private Layout layoutOf(final ExtentReader.Loaded loaded)
    {
        final long size = loaded.attrs().size();
        return null == loaded.extents() ? Layout.allPrivate(reader.pagesOf(size)) :
            Layout.of(loaded.extents(), size, pageSize,
                BlockKeys.deviceBits(cache.fileSystemIndex(loaded.attrs().dev())));
    }

    /**
     * Installs a layout in a new epoch with a new voucher number: the old layout's vouches are dropped.
     *
     * @param before the epoch read before the layout's extents were: the layout is confirmed in it.
     */
    private synchronized void publish(final SharedOpenFile file, final ExtentReader.Loaded loaded,
        final Layout layout, final long before)
    {
        final int voucher = vouchers.incrementAndGet();
        final SharedOpenFile.View old = file.view;
        file.reload(layout, loaded.attrs(), epochs.incrementAndGet(), before, voucher, loaded.noSharing());
        final Int2ObjectHashMap<SharedOpenFile> next = new Int2ObjectHashMap<>(byVoucher);
        if (null != old)
        {
            next.remove(old.voucher());
        }
        if (!file.removed)
        {
            next.put(voucher, file); // not once close(file) took it out (under this lock): it would stay for good
        }
        byVoucher = next;
    }

    /**
     * Whether {@code voucher}'s layout was found current at or after {@code epoch}, now or before (see the class
     * comment): one FIEMAP of it at most, once per epoch.
     */
    private boolean confirm(final SharedOpenFile voucher, final long epoch)
    {
        if (voucher.confirmedEpoch >= epoch)
        {
            return true;
        }
        try
        {
            return recheck(voucher) && voucher.confirmedEpoch >= epoch;
        }
        catch (final IOException | RuntimeException ex)
        {
            return false; // cannot confirm: the frame is checked by its bytes instead
        }
    }

    /**
     * Reads a file's attributes and extents again (one {@code stat} and one FIEMAP): unchanged, its layout is
     * confirmed in the epoch current before the read; changed or moved, it is reloaded (its vouches dropped).
     *
     * @return true if it was unchanged (false if reloaded, or closed).
     */
    private boolean recheck(final SharedOpenFile file) throws IOException
    {
        synchronized (file)
        {
            if (file.closed)
            {
                return false;
            }
            final SharedOpenFile.View view = file.view;
            final long now = epochs.get(); // before the reads: a later open asks again
            final ExtentReader.Loaded loaded = reader.load(file.handle(), file.path);
            final Layout layout = layoutOf(loaded);
            confirmations.increment();
            if (loaded.attrs().equals(view.attrs()) && view.layout().keepsBlocks(layout, EMPTY))
            {
                file.confirmedEpoch = Math.max(file.confirmedEpoch, now);
                return true;
            }
            publish(file, loaded, layout, now); // changed or moved: it vouches for nothing it vouched for
            return false;
        }
    }

    private static final java.util.NavigableSet<Long> EMPTY = java.util.Collections.emptyNavigableSet();

    /**
     * Reads the file's extents again and starts a new epoch for it: for a file that may have changed since it was
     * opened (close-to-open consistency).
     *
     * @throws NoSuchFileException if the id is not open here.
     * @throws IOException if its extents cannot be read.
     */
    public void revalidate(final long file) throws IOException
    {
        load(fileOf(file));
    }

    /**
     * Reads from {@code position} into {@code dst}, as far as its room or the end of the file goes.
     *
     * @return the bytes read, or -1 if {@code position} is at or past the end of the file.
     * @throws IllegalArgumentException if {@code position} is negative.
     * @throws NoSuchFileException if the id is not open here.
     * @throws IOException if the file cannot be read (an interrupt: a {@code ClosedByInterruptException}); what was
     *     read before stays in {@code dst}.
     */
    public int read(final long file, final ByteBuffer dst, final long position) throws IOException
    {
        if (position < 0)
        {
            throw new IllegalArgumentException("position must be >= 0: position=" + position);
        }
        final SharedOpenFile open = fileOf(file);
        final SharedOpenFile.View view = open.view;
        if (position >= view.size())
        {
            return dst.hasRemaining() ? -1 : 0;
        }
        final int total = (int)Math.min(dst.remaining(), view.size() - position);
        int done = 0;
        while (done < total)
        {
            final long at = position + done;
            final long page = at >>> pageShift;
            final int offset = (int)(at & (pageSize - 1));
            final int length = Math.min(total - done, pageSize - offset);
            readPage(open, view, page, offset, dst, length);
            done += length;
        }
        return total;
    }

    private void readPage(final SharedOpenFile open, final SharedOpenFile.View view, final long page,
        final int offset, final ByteBuffer dst, final int length) throws IOException
    {
        final long mapped = SharedOpenFile.handle(view, page);
        if (SharedCache.NO_HANDLE != mapped && cache.read(mapped, offset, dst, length))
        {
            fileHits.increment();
            return;
        }
        final long key = view.layout().keyOf(page); // past a layout read again: a hole, zeros
        if (Layout.RUN_HOLE == key)
        {
            for (int i = 0; i < length; i++)
            {
                dst.put((byte)0);
            }
            return;
        }
        if (Layout.RUN_PRIVATE == key)
        {
            privateReads.increment();
            final int limit = dst.limit();
            dst.limit(dst.position() + length);
            try
            {
                open.readPrivate((page << pageShift) + offset, dst);
            }
            finally
            {
                dst.limit(limit);
            }
            return;
        }
        while (true)
        {
            final long handle = trustedHandle(open, view, page, key);
            if (RELAYOUT == handle)
            {
                readPage(open, open.view, page, offset, dst, length); // its extents were read again meanwhile
                return;
            }
            SharedOpenFile.handle(view, page, handle);
            if (cache.read(handle, offset, dst, length))
            {
                return;
            }
        }
    }

    /**
     * @return a handle to a frame holding {@code key} that this process vouches for, loading or checking it; or
     *     {@link #RELAYOUT} if the file's extents were read again meanwhile (the page is to be read through its new
     *     view).
     */
    private long trustedHandle(final SharedOpenFile open, final SharedOpenFile.View view, final long page,
        final long key) throws IOException
    {
        while (true)
        {
            final long found = cache.lookup(key);
            if (SharedCache.NO_HANDLE != found)
            {
                if (vouches(found, open, view))
                {
                    if (view != open.view)
                    {
                        return RELAYOUT; // read again since this read began: it may no longer map the key
                    }
                    sharedHits.increment();
                    return found;
                }
                if (view != open.view)
                {
                    return RELAYOUT; // confirming the vouch read this file's extents again and found them moved
                }
                final long checked = check(open, view, page, key, found);
                if (SharedCache.NO_HANDLE != checked)
                {
                    return checked;
                }
                continue;
            }
            final PageFill fill = fills.get().fromFile(open, page);
            final long loaded = cache.load(key, fill);
            if (fill.filled)
            {
                loads.increment();
                vouch(loaded, view);
                return loaded;
            }
            // another thread or process loaded it meanwhile: the next turn checks it like any other
        }
    }

    /**
     * Reads the page through this process's file and compares it with the frame: equal, this process vouches for the
     * frame; different, the frame is taken out of service everywhere and loaded again from the bytes just read.
     *
     * @return a handle this process vouches for, or {@link SharedCache#NO_HANDLE} if the frame changed meanwhile
     *     (look again).
     */
    private long check(final SharedOpenFile open, final SharedOpenFile.View view, final long page, final long key,
        final long found) throws IOException
    {
        verifications.increment();
        final ByteBuffer[] buffers = scratch.get();
        final ByteBuffer fromFile = buffers[0].clear();
        open.readPage(page, fromFile);
        fromFile.flip();
        final ByteBuffer fromFrame = buffers[1].clear();
        if (!cache.read(found, 0, fromFrame, pageSize))
        {
            return SharedCache.NO_HANDLE;
        }
        fromFrame.flip();
        if (fromFile.equals(fromFrame))
        {
            vouch(found, view);
            return found;
        }
        verificationMisses.increment();
        cache.countVerificationMiss();
        // The frame and this file disagree: the block was reused since the frame was filled, or an open file's
        // extents moved (a dedupe, a defragmentation) while its bytes stayed. Which file is stale cannot be told from
        // here, so every file open here reads its extents again first (BlockTrust does the same in one JVM), and a
        // moved one is reloaded: none goes on trusting, or vouching for, a block it no longer maps.
        recheckOpenFiles(open);
        final SharedOpenFile.View now = open.view;
        if (now.layout().keyOf(page) != key)
        {
            return RELAYOUT; // this file was the stale one: its page is elsewhere now
        }
        if (open.closed)
        {
            throw new java.nio.channels.ClosedChannelException(); // closed meanwhile: its view may be stale
        }
        cache.invalidate(found);
        final PageFill fill = fills.get().fromBytes(fromFile);
        final long loaded = cache.load(key, fill);
        if (fill.filled)
        {
            loads.increment();
            vouch(loaded, now);
            return loaded;
        }
        return SharedCache.NO_HANDLE;
    }

    /**
     * After a verification miss: reads the extents of every file open here again (one FIEMAP each), reloading those
     * that changed or moved. A file closed meanwhile is skipped; another file's failure reaches the caller.
     */
    private void recheckOpenFiles(final SharedOpenFile open) throws IOException
    {
        final List<SharedOpenFile> all = openNow();
        if (!all.contains(open))
        {
            all.add(open);
        }
        for (final SharedOpenFile file : all)
        {
            try
            {
                recheck(file);
            }
            catch (final IOException | RuntimeException ex)
            {
                if (!file.closed)
                {
                    throw ex;
                }
            }
        }
    }

    /**
     * Fills a frame with a page read from a file, or with bytes already read; says whether it was called (the load
     * may have found another's frame instead). One per thread, re-aimed at each miss.
     */
    private static final class PageFill implements SharedCache.PageLoader
    {
        private SharedOpenFile file;
        private long page;
        private ByteBuffer bytes;
        boolean filled;

        PageFill fromFile(final SharedOpenFile file, final long page)
        {
            this.file = file;
            this.page = page;
            this.bytes = null;
            this.filled = false;
            return this;
        }

        PageFill fromBytes(final ByteBuffer bytes)
        {
            this.file = null;
            this.bytes = bytes;
            this.filled = false;
            return this;
        }

        @Override
        public void load(final long key, final ByteBuffer frame) throws IOException
        {
            if (null == bytes)
            {
                file.readPage(page, frame);
            }
            else
            {
                frame.put(frame.position(), bytes, bytes.position(), bytes.remaining());
                frame.position(frame.position() + bytes.remaining());
            }
            filled = true;
        }
    }

    /**
     * Whether a file of this process vouches for the frame at the handle's generation, for {@code open} read through
     * {@code view}: its own vouch, or another file's whose layout and this one were both found current at one moment.
     * The voucher confirmed at or after this view's epoch mapped the block after this layout was read; this file
     * confirmed at or after the voucher's epoch mapped it after the voucher's layout was read. Both files' bytes are
     * constant while open (close-to-open), so at that moment the block held both, and the frame (the voucher's bytes)
     * is this file's. The first alone would trust a file that moved off the block before its new owner was opened.
     */
    private boolean vouches(final long handle, final SharedOpenFile open, final SharedOpenFile.View view)
    {
        final long word = vouched.getAcquire(SharedCache.frameOf(handle));
        if ((word & 0xFFFF_FFFFL) != SharedCache.generationOfHandle(handle))
        {
            return false;
        }
        final int voucher = (int)(word >>> 32);
        if (voucher == view.voucher())
        {
            return true;
        }
        final SharedOpenFile file = byVoucher.get(voucher);
        if (null == file)
        {
            return false;
        }
        final SharedOpenFile.View vouching = file.view;
        return vouching.voucher() == voucher && confirm(file, view.epoch()) && confirm(open, vouching.epoch()) &&
            open.view == view && file.view == vouching;
    }

    private void vouch(final long handle, final SharedOpenFile.View view)
    {
        vouched.setRelease(SharedCache.frameOf(handle),
            (long)view.voucher() << 32 | SharedCache.generationOfHandle(handle));
    }

    /**
     * Pins a physical page of a file in the shared cache (loading or checking it as a read would).
     *
     * @return the pinned page; close it to unpin.
     * @throws IllegalArgumentException if the page is past the end of the file, a hole, or private (not shared).
     * @throws NoSuchFileException if the id is not open here.
     * @throws IOException if the page cannot be read.
     */
    public SharedPage pin(final long file, final long page) throws IOException
    {
        final SharedOpenFile open = fileOf(file);
        final SharedOpenFile.View view = open.view;
        final Layout layout = view.layout();
        final long key = layout.keyOf(page);
        if (key < 0)
        {
            throw new IllegalArgumentException("page " + page + " of " + open.path + " is " +
                (page < 0 || page >= layout.pages ? "past its end (" + layout.pages + " pages)" :
                Layout.RUN_HOLE == key ? "a hole" : "private to this process (" + (null == view.noSharing() ?
                "no stable physical block" : view.noSharing()) + ")") + ": only shared pages can be pinned");
        }
        while (true)
        {
            final long handle = trustedHandle(open, view, page, key);
            if (RELAYOUT == handle)
            {
                return pin(file, page); // its extents were read again meanwhile: pin through its new view
            }
            SharedOpenFile.handle(view, page, handle);
            final SharedPage pinned = cache.pin(handle);
            if (null != pinned)
            {
                return pinned;
            }
        }
    }

    /** @return the file's size when it was opened or last revalidated. */
    public long size(final long file) throws NoSuchFileException
    {
        return fileOf(file).view.size();
    }

    /** @return why the file's pages are not shared (all private), or null if they are. */
    public String sharingUnavailableReason(final long file) throws NoSuchFileException
    {
        return fileOf(file).view.noSharing();
    }

    /** @return true if the file's misses are read with {@code O_DIRECT}. */
    public boolean readsDirectly(final long file) throws NoSuchFileException
    {
        return fileOf(file).readsDirectly();
    }

    /** @return this process's counts (see {@link Stats}). */
    public Stats stats()
    {
        long mapping = 16L + 8L * cache.frames();
        final List<SharedOpenFile> all = openNow();
        for (final SharedOpenFile file : all)
        {
            mapping += SharedOpenFile.mappingBytes(file.view);
        }
        return new Stats(all.size(), fileHits.sum(), sharedHits.sum(), loads.sum(), verifications.sum(),
            verificationMisses.sum(), privateReads.sum(), confirmations.sum(), mapping);
    }

    /**
     * This process's reads through the shared cache.
     *
     * @param openFiles          files open.
     * @param fileHits           pages served through a file's own mapping.
     * @param sharedHits         pages found in the shared cache and vouched for by a file of this process.
     * @param loads              pages this process read into a shared frame.
     * @param verifications      frames another process (or thread) loaded that this process read its file to check.
     * @param verificationMisses of those, frames that did not match (taken out of service and loaded again).
     * @param privateReads       reads of private pages, straight from the file.
     * @param confirmations      extent reads of a vouching file, to confirm its vouches for a file opened since.
     * @param heapBytes          Java heap of the file mappings and the trust table (estimated from their arrays).
     */
    public record Stats(int openFiles, long fileHits, long sharedHits, long loads, long verifications,
        long verificationMisses, long privateReads, long confirmations, long heapBytes)
    {
    }

    /**
     * Closes a file: its descriptors are closed; reads racing it fail with an {@link IOException}.
     *
     * @throws NoSuchFileException if the id is not open here.
     */
    public void close(final long file) throws IOException
    {
        final SharedOpenFile open = remove(file);
        if (null == open)
        {
            throw new NoSuchFileException("file id " + file + " is not open");
        }
        open.close();
    }

    /** Closes every file (not the shared cache). Idempotent. */
    @Override
    public void close() throws IOException
    {
        closed = true;
        IOException failure = null;
        for (final SharedOpenFile file : openNow())
        {
            try
            {
                final SharedOpenFile open = remove(file.id);
                if (null != open)
                {
                    open.close();
                }
            }
            catch (final IOException ex)
            {
                failure = FileIo.firstOf(failure, ex);
            }
        }
        if (null != failure)
        {
            throw failure;
        }
    }

    private synchronized SharedOpenFile remove(final long file)
    {
        final Long2ObjectHashMap<SharedOpenFile> next = new Long2ObjectHashMap<>(files);
        final SharedOpenFile removed = next.remove(file);
        files = next;
        if (null != removed)
        {
            removed.removed = true; // a reload publishing after this puts it back among the vouchers no more
            final Int2ObjectHashMap<SharedOpenFile> vouching = new Int2ObjectHashMap<>(byVoucher);
            vouching.remove(removed.view.voucher()); // a closed file vouches for nothing
            byVoucher = vouching;
        }
        return removed;
    }

    /** @return ids of the files open. */
    public List<Long> openFiles()
    {
        final List<Long> ids = new ArrayList<>();
        for (final SharedOpenFile file : openNow())
        {
            ids.add(file.id);
        }
        return ids;
    }

    /**
     * The files open now, walked with forEachLong: the map's values() and keySet() hand every caller one shared
     * iterator (Agrona avoids allocation so), and threads walking one map at once would reset each other's walk.
     */
    private List<SharedOpenFile> openNow()
    {
        final List<SharedOpenFile> all = new ArrayList<>();
        files.forEachLong((id, file) -> all.add(file));
        return all;
    }

    private SharedOpenFile fileOf(final long file) throws NoSuchFileException
    {
        final SharedOpenFile open = files.get(file);
        if (null == open)
        {
            throw new NoSuchFileException("file id " + file + " is not open" + (closed ? " (closed)" : ""));
        }
        return open;
    }

    private void checkOpen()
    {
        if (closed)
        {
            throw new IllegalStateException("SharedFiles over " + cache.path() + " is closed");
        }
    }
}
