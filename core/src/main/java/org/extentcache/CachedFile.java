package org.extentcache;

import org.agrona.BufferUtil;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.UnsafeApi;
import org.extentcache.frame.FrameArena;
import org.extentcache.frame.Handle;
import org.extentcache.mapping.FileMapping;
import org.extentcache.translate.Extent;
import org.extentcache.translate.StaleTranslationException;
import org.agrona.collections.Long2LongHashMap;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ReadOnlyBufferException;
import java.nio.file.NoSuchFileException;
import java.util.Arrays;

import static org.extentcache.frame.FrameDescriptor.PINS_MASK;
import static org.extentcache.frame.FrameDescriptor.UPTODATE;
import static org.extentcache.frame.FrameDescriptor.baseState;

/**
 * One file as the cache sees it: its size and its mapping of page index to handle. Obtained from
 * {@link ExtentCache#file(long)}; one object per file id, shared by every caller.
 *
 * <h2>Reads</h2>
 * {@link #read(long, ByteBuffer)} behaves like {@link java.nio.channels.FileChannel#read(ByteBuffer, long)}: it
 * copies up to {@code dst.remaining()} bytes, stops early at end-of-file, and returns -1 when {@code position} is
 * at or past it. Holes read as zeros. A file hit is an optimistic copy: load the frame's state word, copy, fence,
 * re-load; if the frame changed in between (it was reclaimed or invalidated) the copy is discarded and the page is
 * read again by translation. The destination may therefore be written more than once for one call; only the last
 * write counts, and it is what the call returns.
 *
 * <h2>Writes</h2>
 * {@link #write(long, ByteBuffer)} goes through the cache, page by page, under the file's writer lock (writers of
 * one file take turns, like the kernel's {@code i_rwsem}; readers never take it): in place for an unshared page,
 * copy-on-write for a shared page or a hole, so other files keep their bytes ({@link PageWriter} has the details).
 * Dirty pages reach the device on {@link #flush()}; when the translator announces a clone or another change of
 * their range; when more than half the arena is dirty (the writer that crosses the line writes its own file back);
 * when a miss finds no clean frame to reclaim (it writes back any file whose writer lock is free); and when they
 * have been dirty for the cache's dirty expiry (the background write-back). Every one of those write-backs syncs
 * the device before it lets the pages go: a clean page is either durable or still pinned by its write-back, and a
 * sync that fails leaves every page it covered dirty (Linux reports a failed {@code fsync} once, so only writing
 * the pages again and syncing again makes them durable). A device write that fails leaves the page dirty and the
 * error reaches the caller of {@code flush}; a later flush retries it. {@link FileWriteback} has the details.
 *
 * <h2>Thread safety</h2>
 * Safe for concurrent use. Reads racing a write see each page entirely before or entirely after it. Reads racing a
 * change of the file (clone-range over it, punch, truncate, delete) see the old or the new contents of each page.
 *
 * <h2>Allocation</h2>
 * A file hit allocates nothing. A miss allocates a few small objects (an {@link Extent}, a buffer view for the
 * device read).
 */
public final class CachedFile
{
    private static final long UNKNOWN_SIZE = -1;

    private final ExtentCache cache;
    private final DeviceCache frames;
    /** The frames' pin counts, held directly: a pin or unpin on the hit path costs no hop through {@link #frames}. */
    private final PinCounts pins;
    /** Entered by every read and pin, so close frees no memory a read is still inside ({@link ReaderGate}). */
    private final ReaderGate readers;
    private final FrameArena arena;
    private final long file;
    private final FileMapping mapping;
    private final int pageShift;
    private final long pageMask;
    /** The writer lock and the dirty pages; see {@link FileWriteback}. */
    private final FileWriteback writeback;
    private volatile long size = UNKNOWN_SIZE;
    private volatile boolean deleted;
    private volatile boolean closed;
    /** Closed in the cache ({@link ExtentCache#closeFile}): its mapping is gone, and every later call refused. */
    private volatile boolean forgotten;
    /**
     * The merge domain as last read, with the domains' version it was read at ({@link MergeDomains#read}): one word,
     * so a racing reader never pairs a version with another version's domain.
     */
    private volatile long mergeDomainSeen;
    /** Which misses are sequential, and the readahead window they have earned. */
    private final SequentialMisses sequentialMisses = new SequentialMisses();
    /** The write path; see {@link PageWriter}. */
    private final PageWriter writer;
    /** What {@link #advise} was told; see {@link FileAdvice}. */
    private final FileAdvice advice;

    CachedFile(final ExtentCache cache, final long file)
    {
        this.cache = cache;
        this.frames = cache.frames();
        this.pins = frames.pins;
        this.readers = frames.readers;
        this.arena = frames.arena();
        this.file = file;
        this.mapping = new FileMapping(cache.mappingTotals());
        this.pageShift = Integer.numberOfTrailingZeros(cache.pageSize());
        this.pageMask = cache.pageSize() - 1L;
        this.writeback = new FileWriteback(this, frames, file);
        this.writer = new PageWriter(this, cache, mapping, writeback);
        this.advice = new FileAdvice(this, cache, mapping, pageShift);
    }

    /**
     * Tells the cache how {@code [offset, offset + length)} will be read ({@code length} 0: to the end of the file),
     * like {@code posix_fadvise}; {@link Advice} says what each advice does. Thread-safe.
     *
     * @throws IllegalArgumentException if {@code offset} or {@code length} is negative.
     * @throws IllegalStateException    if the cache is closed, or the file has more than 64 advised ranges.
     * @throws IOException              if the file was deleted ({@link NoSuchFileException}); for
     *                                  {@link Advice#WILLNEED} and {@link Advice#DONTNEED}, as they say.
     */
    public void advise(final long offset, final long length, final Advice advice) throws IOException
    {
        this.advice.advise(offset, length, advice); // enters the reader gate where it touches frames, not to wait
    }

    /**
     * @return the translator's id of this file.
     */
    public long id()
    {
        return file;
    }

    /**
     * @return the file's size in bytes as last reported by the translator.
     * @throws NoSuchFileException if the file was deleted.
     */
    public long size() throws NoSuchFileException
    {
        ensureReadable();
        return currentSize();
    }

    /** The size, fetched from the translator if a concurrent {@link ExtentCache#file} has not set it yet. */
    long currentSize() throws NoSuchFileException
    {
        final long known = size;
        if (UNKNOWN_SIZE != known)
        {
            return known;
        }
        initSize(cache.translator().size(file));
        return size;
    }

    /**
     * @return slots of this file's mapping that hold a handle (some may be stale); 8 bytes each.
     */
    public long handleCount()
    {
        return mapping.handleCount();
    }

    /**
     * Reads bytes at {@code position} into {@code dst}, like {@code FileChannel.read(dst, position)}.
     *
     * @param position file offset, {@code >= 0}.
     * @param dst      destination; its position advances by the bytes read. Heap or direct, not read-only.
     * @return bytes read, 0 if {@code dst} has no room, or -1 if {@code position} is at or past end-of-file.
     * @throws IllegalArgumentException if {@code position < 0}.
     * @throws ReadOnlyBufferException  if {@code dst} is read-only.
     * @throws NoSuchFileException      if the file was deleted.
     * @throws IOException              if the device fails a read the call needs.
     * @throws IllegalStateException    if the cache is closed.
     */
    public int read(final long position, final ByteBuffer dst) throws IOException
    {
        if (dst.isReadOnly())
        {
            throw new ReadOnlyBufferException();
        }
        final int start = dst.position();
        final int n = read(position, baseOf(dst), addressOf(dst), dst.remaining());
        if (n > 0)
        {
            dst.position(start + n);
        }
        return n;
    }

    /**
     * Reads up to {@code length} bytes at {@code position} into an Agrona buffer.
     *
     * @param position file offset, {@code >= 0}.
     * @param dst      destination buffer.
     * @param offset   where in {@code dst} to start.
     * @param length   most bytes to read.
     * @return bytes read, 0 if {@code length} is 0, or -1 if {@code position} is at or past end-of-file.
     * @throws IllegalArgumentException  if {@code position < 0}.
     * @throws IndexOutOfBoundsException if {@code [offset, offset + length)} is outside {@code dst}.
     * @throws NoSuchFileException       if the file was deleted.
     * @throws IOException               if the device fails a read the call needs.
     * @throws IllegalStateException     if the cache is closed.
     */
    public int read(final long position, final MutableDirectBuffer dst, final int offset, final int length)
        throws IOException
    {
        dst.boundsCheck(offset, length);
        return read(position, dst.byteArray(), dst.addressOffset() + offset, length);
    }

    /**
     * Pins the page containing {@code position} and returns a new {@link PinnedPage} over it, for
     * {@code try (PinnedPage page = file.pin(position)) { ... }}. Allocates; see {@link #pin(long, PinnedPage)} for
     * the allocation-free form.
     *
     * @param position a file offset inside the page, {@code >= 0}.
     * @return the pinned page; the caller closes it.
     * @throws java.io.EOFException  if {@code position} is at or past end-of-file.
     * @throws NoSuchFileException   if the file was deleted.
     * @throws IOException           if the device fails the read the pin needs.
     * @throws IllegalStateException if the cache is closed.
     */
    public PinnedPage pin(final long position) throws IOException
    {
        final PinnedPage page = new PinnedPage();
        if (!pin(position, page))
        {
            throw new java.io.EOFException("position at or past end-of-file: position=" + position + " size=" + size);
        }
        return page;
    }

    /**
     * Pins the page containing {@code position} into a caller's flyweight: no allocation on a file hit (with pin
     * tracking off). Holes pin a shared page of zeros.
     *
     * @param position a file offset inside the page, {@code >= 0}.
     * @param page     an unpinned flyweight; filled on success.
     * @return true if pinned; false if {@code position} is at or past end-of-file.
     * @throws IllegalArgumentException if {@code position < 0}.
     * @throws IllegalStateException    if {@code page} is already pinned, or the cache is closed.
     * @throws NoSuchFileException      if the file was deleted.
     * @throws IOException              if the device fails the read the pin needs.
     */
    public boolean pin(final long position, final PinnedPage page) throws IOException
    {
        if (position < 0)
        {
            throw new IllegalArgumentException("position must be >= 0: position=" + position);
        }
        if (page.isPinned())
        {
            throw new IllegalStateException("page already pinned: unpin it before pinning again: position=" +
                page.position());
        }
        readers.enter();
        try
        {
            ensureReadable();
            final long fileSize = currentSize();
            if (position >= fileSize)
            {
                return false;
            }
            final long pageIndex = position >>> pageShift;
            final long pageStart = pageIndex << pageShift;
            final int length = (int)Math.min(pageMask + 1, fileSize - pageStart);
            long handle = mapping.get(pageIndex);
            if (Handle.NONE != handle && pins.pinHandle(handle))
            {
                cache.fileHits.increment();
            }
            else
            {
                handle = pinByTranslation(pageIndex);
            }
            final long address = Handle.NONE == handle ? frames.zeroPageAddress() : arena.address(Handle.frame(handle));
            page.pinned(cache, handle, address, length, pageStart);
            cache.pinned(page);
            return true;
        }
        finally
        {
            readers.exit();
        }
    }

    /**
     * @return this file's merge domain, read again from the cache only when some file's domain changed since.
     */
    int mergeDomain()
    {
        if (!cache.merging())
        {
            return PageMerger.NO_DOMAIN;
        }
        final long seen = cache.mergeDomains().read(file, mergeDomainSeen);
        mergeDomainSeen = seen;
        return (int)seen;
    }

    /** @return the file's size in pages, as last known. */
    private long pageCount()
    {
        return (size + pageMask) >>> pageShift;
    }

    /**
     * The miss path of reads and pins: translates the page, pins the block's frame (a sharing hit or a device read)
     * and installs its handle if the translation is still current, then maps ahead after a sharing hit.
     *
     * @return the pinned handle, or {@link Handle#NONE} for a hole.
     */
    private long pinByTranslation(final long page) throws IOException
    {
        return pinByTranslation(page, advice.at(page), Long.MAX_VALUE);
    }

    /** {@link #pinByTranslation(long)} with advice {@code kind}, a window kept below {@code endPage}. */
    long pinByTranslation(final long page, final Advice kind, final long endPage) throws IOException
    {
        final ReaderGate marked = readers.inMiss(); // the translator and the device run here: a close they call throws
        final Scratch scratch = Scratch.forMiss(); // and may read through a cache: a miss there gets its own scratch
        try
        {
            return pinByTranslationMarked(page, kind, endPage, scratch);
        }
        finally
        {
            Scratch.leftMiss();
            ReaderGate.leftMiss(marked);
        }
    }

    private long pinByTranslationMarked(final long page, final Advice kind, final long endPage, final Scratch scratch)
        throws IOException
    {
        final Extent extent = scratch.extent;
        while (true)
        {
            final long version = mapping.version();
            // deleted, closed in the cache or closed: each sets its flag before its clearAll bumps the version, so a
            // version read after the clearAll sees the flag here, and an install with an older one fails: a mapping
            // that left the file table never takes a handle (MappingTotals would count it for ever)
            ensureReadable();
            cache.translator().translate(file, page, extent);
            final long block = extent.blockOf(page);
            if (Extent.HOLE == block)
            {
                if (mapping.version() == version)
                {
                    return Handle.NONE;
                }
                continue;
            }
            final long handle;
            try
            {
                handle = sequentialMisses.acquire(frames, file, page, block, extent,
                    Math.min(endPage, pageCount()), mergeDomain(), scratch, kind);
            }
            catch (final StaleTranslationException ex)
            {
                continue; // the page was remapped between the translation and the read
            }
            if (mapping.installIfVersion(page, handle, version))
            {
                if (!scratch.loaded)
                {
                    FaultAround.map(mapping, frames, page, extent, version, scratch.handles, Scratch.FAULT_AROUND,
                        pageCount(), true);
                }
                else if (scratch.readAhead > 1)
                {
                    FaultAround.map(mapping, frames, page, extent, version, scratch.handles, scratch.readAhead - 1,
                        pageCount(), false);
                }
                advice.loaded(kind, handle, page, extent, scratch);
                return handle;
            }
            pins.unpin(handle);
        }
    }

    /**
     * Writes {@code src.remaining()} bytes at {@code position} through the cache, like
     * {@code FileChannel.write(src, position)}; the file grows if the write ends past end-of-file. The bytes are in
     * the cache (dirty) when this returns, on the device after {@link #flush()}.
     *
     * @param position file offset, {@code >= 0}.
     * @param src      the bytes; its position advances by the bytes written. Heap, direct or read-only.
     * @return bytes written: all of them.
     * @throws IllegalArgumentException if {@code position < 0} or the write would end past {@code Long.MAX_VALUE}.
     * @throws NoSuchFileException      if the file was deleted.
     * @throws IOException              if the device fails a read the write needs (old contents of a partly written
     *                                  page) or no block is free; pages written before the failure stay written, and
     *                                  the file's size covers them.
     * @throws IllegalStateException    if the cache is closed, or no frame can be had.
     */
    public int write(final long position, final ByteBuffer src) throws IOException
    {
        final int start = src.position();
        if (src.isReadOnly() && !src.isDirect())
        {
            final byte[] copy = new byte[src.remaining()]; // a read-only heap buffer hides its array
            src.duplicate().get(copy);
            final int n = writer.write(position, copy, BufferUtil.ARRAY_BASE_OFFSET, copy.length, null, 0);
            src.position(start + n);
            return n;
        }
        final int n = src.isDirect() ? writer.write(position, null, 0, src.remaining(), src, start) :
            writer.write(position, src.array(), addressOf(src), src.remaining(), null, 0);
        src.position(start + n);
        return n;
    }

    /**
     * Writes {@code length} bytes of an Agrona buffer at {@code position}; see {@link #write(long, ByteBuffer)}.
     *
     * @param position file offset, {@code >= 0}.
     * @param src      the source buffer.
     * @param offset   where in {@code src} the bytes start.
     * @param length   bytes to write.
     * @return bytes written: all of them.
     * @throws IndexOutOfBoundsException if {@code [offset, offset + length)} is outside {@code src}.
     * @throws IOException               as for {@link #write(long, ByteBuffer)}.
     */
    public int write(final long position, final DirectBuffer src, final int offset, final int length)
        throws IOException
    {
        src.boundsCheck(offset, length);
        final ByteBuffer wrapped = src.byteBuffer();
        if (null != wrapped && wrapped.isDirect())
        {
            return writer.write(position, null, 0, length, wrapped, src.wrapAdjustment() + offset);
        }
        if (null == src.byteArray())
        {
            // a raw address (Chronicle MappedBytes, an mmap): staged through Unsafe, which is all it offers
            return writer.write(position, null, src.addressOffset() + offset, length, PageWriter.RAW_ADDRESS, 0);
        }
        return writer.write(position, src.byteArray(), src.addressOffset() + offset, length, null, 0);
    }

    /**
     * Writes every dirty page of this file to the device and waits until the device has them (a device sync), then
     * has the translator make the file's metadata durable ({@link org.extentcache.translate.Translator#commit}).
     * Returns only when all are there.
     *
     * @throws IOException           naming the file, page and device block of the first page that failed; every
     *                               page that failed stays dirty and a later flush retries it.
     * @throws NoSuchFileException   if the file was deleted.
     * @throws IllegalStateException if the cache is closed.
     */
    public void flush() throws IOException
    {
        writeback.lock();
        try
        {
            ensureReadable();
            final IOException failure = writeback.flushLocked();
            if (null != failure)
            {
                throw failure;
            }
            // the data is on the device and synced: now the metadata that points to it (Translator.commit)
            cache.translator().commit(file);
            writeback.committedLocked();
        }
        finally
        {
            writeback.unlock();
        }
    }

    /**
     * @return pages of this file the cache has yet to write back: exact between writes, except that a page whose
     * dirty bytes a change of the file discarded (a clone-range over it) is counted until the next write-back finds
     * its frame gone. Takes the writer lock.
     */
    public int dirtyPageCount()
    {
        return writeback.dirtyPageCount();
    }

    private int read(final long position, final Object base, final long address, final int length) throws IOException
    {
        if (position < 0)
        {
            throw new IllegalArgumentException("position must be >= 0: position=" + position);
        }
        readers.enter();
        try
        {
            ensureReadable();
            if (0 == length)
            {
                return 0;
            }
            final long fileSize = currentSize();
            if (position >= fileSize)
            {
                return -1;
            }
            final int total = (int)Math.min(length, fileSize - position);
            int done = 0;
            while (done < total)
            {
                final long at = position + done;
                final int inPage = (int)(at & pageMask);
                final int n = (int)Math.min(total - done, pageMask + 1 - inPage);
                readPage(at >>> pageShift, inPage, base, address + done, n);
                done += n;
            }
            return total;
        }
        finally
        {
            readers.exit();
        }
    }

    private void readPage(final long page, final int inPage, final Object base, final long address, final int length)
        throws IOException
    {
        final long handle = mapping.get(page);
        if (Handle.NONE != handle)
        {
            final int frame = Handle.frame(handle);
            final long before = arena.stateWord(frame);
            if (Handle.matches(handle, before) && baseState(before) == UPTODATE)
            {
                UnsafeApi.copyMemory(null, arena.address(frame) + inPage, base, address, length);
                UnsafeApi.loadFence();
                final long after = arena.stateWord(frame);
                if (((before ^ after) & ~PINS_MASK) == 0)
                {
                    advice.hit(arena, frame, page);
                    cache.fileHits.increment();
                    return;
                }
            }
        }
        readPageByTranslation(page, inPage, base, address, length);
    }

    private void readPageByTranslation(
        final long page, final int inPage, final Object base, final long address, final int length) throws IOException
    {
        final long handle = pinByTranslation(page);
        if (Handle.NONE == handle)
        {
            UnsafeApi.setMemory(base, address, length, (byte)0);
            return;
        }
        try
        {
            UnsafeApi.copyMemory(null, arena.address(Handle.frame(handle)) + inPage, base, address, length);
        }
        finally
        {
            pins.unpin(handle);
        }
    }

    /** The object {@code Unsafe} addresses a buffer's bytes through: its array, or null for a direct buffer. */
    private static Object baseOf(final ByteBuffer buffer)
    {
        return buffer.isDirect() ? null : buffer.array();
    }

    /** The address (or array offset) of a buffer's byte at its position, paired with {@link #baseOf}. */
    private static long addressOf(final ByteBuffer buffer)
    {
        return buffer.isDirect() ? BufferUtil.address(buffer) + buffer.position() :
            BufferUtil.ARRAY_BASE_OFFSET + buffer.arrayOffset() + buffer.position();
    }

    FileMapping mapping()
    {
        return mapping;
    }

    /**
     * The translator is about to change {@code [firstPage, firstPage + pageCount)}: keep writers out until
     * {@link #changeDone()} and, unless the range is being discarded, write its dirty pages back.
     *
     * @return false, holding nothing, if this view was closed in the cache ({@link ExtentCache#closeFile}) while the
     * call waited for the writer lock: the caller brackets the change with the file's current view instead.
     */
    boolean changeComing(final long firstPage, final long pageCount, final boolean discard) throws IOException
    {
        writeback.lock();
        if (forgotten)
        {
            // closed in the cache while this waited: its lock keeps no writer out, the file's next view's does
            writeback.unlock();
            return false;
        }
        if (!discard && !closed)
        {
            // durable, not only written: the change may share these pages (a clone) or let the file go (close), and
            // a sync that failed afterwards could no longer mark them dirty
            final IOException failure = writeback.writeBackDurablyOrAgain(firstPage, pageCount, false);
            if (null != failure)
            {
                throw failure;
            }
        }
        return true;
    }

    void changeDone()
    {
        writeback.unlock();
    }

    void initSize(final long initial)
    {
        SIZE_INIT.compareAndSet(this, UNKNOWN_SIZE, initial);
    }

    void changed(final long firstPage, final long pageCount, final long newSize)
    {
        size = newSize;
        if (writer.extendingHere())
        {
            // this file's own write moved its end: the pages it wrote past the old end keep their handles (their
            // dirty frames are this file's alone); any other page of the range translates anew
            clearExceptDirty(firstPage, pageCount);
            return;
        }
        mapping.clear(firstPage, pageCount);
    }

    /**
     * Clears the range's handles except those of this file's dirty pages (each still installed with its dirty
     * frame's handle). Costs one clear per gap between dirty pages: at most the dirty pages, never the range's size.
     */
    private void clearExceptDirty(final long firstPage, final long pageCount)
    {
        final long end = firstPage + Math.min(pageCount, Long.MAX_VALUE - firstPage);
        final Long2LongHashMap dirtyPages = writeback.dirtyPages();
        final long[] keep = new long[dirtyPages.size()];
        int count = 0;
        final Long2LongHashMap.EntryIterator entries = dirtyPages.entrySet().iterator();
        while (entries.hasNext())
        {
            entries.next();
            final long page = entries.getLongKey();
            if (page >= firstPage && page < end && mapping.get(page) == entries.getLongValue())
            {
                keep[count++] = page;
            }
        }
        Arrays.sort(keep, 0, count);
        long from = firstPage;
        for (int i = 0; i < count; i++)
        {
            if (keep[i] > from)
            {
                mapping.clear(from, keep[i] - from);
            }
            from = keep[i] + 1;
        }
        if (from < end)
        {
            mapping.clear(from, end - from);
        }
    }

    void markDeleted()
    {
        deleted = true;
        mapping.clearAll();
    }

    /** The cache is closing: waits for a write in progress, then refuses every later call. */
    void markClosed()
    {
        writeback.lock();
        try
        {
            closed = true;
            mapping.clearAll();
        }
        finally
        {
            writeback.unlock();
        }
    }

    /**
     * For {@link ExtentCache#closeFile}: makes every page of the file durable (write-back, sync and
     * {@link org.extentcache.translate.Translator#commit}) if any is not, then drops the mapping and refuses every
     * later call. Its frames stay in the cache under their device blocks.
     *
     * @throws IOException if a page could not be made durable: the file stays open in the cache, its pages dirty.
     */
    void closeInCache() throws IOException
    {
        writeback.lock();
        try
        {
            if (isGone())
            {
                return;
            }
            if (writeback.hasUndurablePagesLocked())
            {
                final IOException failure = writeback.flushLocked();
                if (null != failure)
                {
                    throw failure;
                }
            }
            if (writeback.uncommittedLocked())
            {
                // durable data, perhaps by a cache-wide flush or a commit that failed: the metadata may not be
                cache.translator().commit(file);
                writeback.committedLocked();
            }
            forgotten = true;
            mapping.clearAll();
        }
        finally
        {
            writeback.unlock();
        }
    }

    /** @return true once closed in the cache ({@link ExtentCache#closeFile}). */
    boolean isForgotten()
    {
        return forgotten;
    }

    /**
     * @return true once the file is deleted, closed in the cache, or the cache closed: nothing of it is written back
     * any more.
     */
    boolean isGone()
    {
        return closed || deleted || forgotten;
    }

    FileWriteback writeback()
    {
        return writeback;
    }

    void ensureReadable() throws NoSuchFileException
    {
        if (closed)
        {
            throw new IllegalStateException("cache is closed");
        }
        if (deleted)
        {
            throw new NoSuchFileException("file " + file + " was deleted");
        }
        if (forgotten)
        {
            throw new IllegalStateException("file " + file + " was closed in the cache (ExtentCache.closeFile); " +
                "get it again from ExtentCache.file");
        }
    }

    private static final java.lang.invoke.VarHandle SIZE_INIT;

    static
    {
        try
        {
            SIZE_INIT = java.lang.invoke.MethodHandles.lookup().findVarHandle(CachedFile.class, "size", long.class);
        }
        catch (final ReflectiveOperationException ex)
        {
            throw new ExceptionInInitializerError(ex);
        }
    }

    @Override
    public String toString()
    {
        return "CachedFile{file=" + file + ", size=" + size + ", handles=" + mapping.handleCount() + '}';
    }
}
