package org.extentcache;

import org.agrona.BufferUtil;
import org.agrona.UnsafeApi;
import org.extentcache.frame.FrameArena;
import org.extentcache.frame.Handle;
import org.extentcache.mapping.FileMapping;
import org.extentcache.translate.Extent;
import org.extentcache.translate.StaleTranslationException;
import org.extentcache.translate.Translator;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Writes one file's pages through the cache, under the file's writer lock ({@link FileWriteback}): the write path of
 * {@link CachedFile}, which owns one.
 *
 * <h2>A page's write</h2>
 * <ul>
 *   <li>An unshared page whose frame only the writer pins is written in place: the frame turns {@code WRITING}
 *       (readers wait), takes the bytes, and comes back dirty at the next generation.</li>
 *   <li>A shared page, or a hole, breaks the sharing: the translator reserves a fresh block, a new frame takes the
 *       old page (copied from the cached frame, read from the device, or zeros; nothing if the write covers the
 *       whole page) plus the write, is published dirty under the new block, and only then does the translator map
 *       the page to it. Other files keep the old frame.</li>
 *   <li>An unshared page whose frame someone else pins gets a new frame for the same block; the pinned frame keeps
 *       its bytes until its last unpin.</li>
 * </ul>
 * The translator is asked first whether the file may be written at all ({@link Translator#checkWritable}).
 *
 * <h2>Sources that fault</h2>
 * Bytes from a heap array are copied straight into the frame. Bytes from a direct buffer or a raw address are first
 * copied into a staging page (this thread's, or a fresh one for a write nested in another), and any fault of that
 * copy (a mapped file truncated under it) is made to surface before the page is taken for writing, so no frame is
 * left {@code WRITING} and none holds half a source.
 *
 * <h2>Extending</h2>
 * A write that ends past end-of-file moves the size page by page, as Linux moves {@code i_size}, so a write-back of
 * a written page sees the size that covers it; the pages this write dirtied keep their handles through it.
 *
 * <h2>Costs</h2>
 * In place: a translation, a pin, two CASes and the copy. Copy-on-write: a block reservation, a frame claim, one or
 * two page copies, a publish under the allocation lock and the translator's commit. A staged source adds a page copy
 * and a {@code sched_yield} per page.
 */
final class PageWriter
{
    /** {@code write}'s marker for a source at a raw address, staged with {@code Unsafe}. */
    static final ByteBuffer RAW_ADDRESS = ByteBuffer.allocate(0);

    private final CachedFile owner;
    private final ExtentCache cache;
    private final DeviceCache frames;
    private final FrameArena arena;
    private final long file;
    private final FileMapping mapping;
    private final FileWriteback writeback;
    private final int pageShift;
    private final long pageMask;
    /** True while this file's writer extends the file: its own pages past the old end keep their handles. */
    private boolean extending;

    PageWriter(final CachedFile owner, final ExtentCache cache, final FileMapping mapping,
        final FileWriteback writeback)
    {
        this.owner = owner;
        this.cache = cache;
        this.frames = cache.frames();
        this.arena = frames.arena();
        this.file = owner.id();
        this.mapping = mapping;
        this.writeback = writeback;
        this.pageShift = Integer.numberOfTrailingZeros(cache.pageSize());
        this.pageMask = cache.pageSize() - 1L;
    }

    /**
     * @return true while this thread's write of the file is extending it (the translator's change notices of that
     * extension come from the writer's own {@code extend} call).
     */
    boolean extendingHere()
    {
        return extending && writeback.isHeldByCurrentThread();
    }

    /**
     * @param staged null to copy from {@code base}/{@code address} (a heap array: cannot fault); else the bytes are
     *               copied page by page into a staging page first: from a direct buffer (from index
     *               {@code stagedFrom}) through the {@code ByteBuffer} API, or from {@code address} with
     *               {@code Unsafe} if {@code staged} is {@link #RAW_ADDRESS}. A source over a mapped file that was
     *               truncated then fails with {@link InternalError} before the page is taken for writing, not while
     *               it is WRITING.
     */
    int write(final long position, final Object base, final long address, final int length,
        final ByteBuffer staged, final int stagedFrom) throws IOException
    {
        if (position < 0)
        {
            throw new IllegalArgumentException("position must be >= 0: position=" + position);
        }
        if (position > Long.MAX_VALUE - length)
        {
            throw new IllegalArgumentException(
                "write would end past Long.MAX_VALUE: position=" + position + " length=" + length);
        }
        if (0 == length)
        {
            owner.ensureReadable();
            return 0;
        }
        writeback.lock();
        // the translation is kept across the translator's calls: a miss or write nested in them (a translator reading
        // or writing through a cache) uses a scratch of its own, and so does this write if nested in a miss
        final Scratch scratch = Scratch.forMiss();
        try
        {
            owner.ensureReadable();
            final Translator translator = cache.translator();
            translator.checkWritable(file);
            final Extent extent = scratch.extent;
            int done = 0;
            while (done < length)
            {
                final long at = position + done;
                final int inPage = (int)(at & pageMask);
                final int n = (int)Math.min(length - done, pageMask + 1 - inPage);
                if (null == staged)
                {
                    writePage(translator, extent, at >>> pageShift, inPage, base, address + done, n);
                }
                else
                {
                    stagedPage(translator, extent, at >>> pageShift, inPage, address + done, n, staged,
                        stagedFrom + done);
                }
                done += n;
                if (position + done > owner.currentSize())
                {
                    // page by page, as Linux moves i_size: a write-back of this page (the throttle below, or another
                    // thread's flush) must see the size that covers it; a later page that fails leaves these
                    extending = true;
                    try
                    {
                        translator.extend(file, position + done);
                    }
                    finally
                    {
                        extending = false;
                    }
                }
                if (frames.dirtyFrames.get() > arena.capacity() / 2)
                {
                    writeback.throttle(); // more than half the arena is dirty: clean frames for reclaim to take
                }
            }
            return length;
        }
        finally
        {
            Scratch.leftMiss();
            writeback.unlock();
        }
    }

    /**
     * Copies one page's worth of a direct or raw source into this thread's staging page, makes any fault of that
     * copy surface now, then writes the page from the staging page. A write nested in this one (a translator callback
     * that writes through the cache) stages into a page of its own.
     */
    private void stagedPage(final Translator translator, final Extent extent, final long page, final int inPage,
        final long address, final int length, final ByteBuffer staged, final int index) throws IOException
    {
        final Scratch scratch = Scratch.get();
        final boolean nested = scratch.stagingInUse;
        final byte[] staging = nested ? new byte[length] : scratch.staging;
        scratch.stagingInUse = true;
        try
        {
            if (RAW_ADDRESS == staged)
            {
                stageRaw(address, staging, length);
            }
            else
            {
                staged.get(index, staging, 0, length);
            }
            // JDK 17 raises a fault in the copy above asynchronously, at a later transition into the VM: make one here,
            // before any frame changes state (JDK 25 raises it in the copy itself). Thread.yield is the one seen to
            // deliver it from compiled code every time (Thread.holdsLock did not); it costs a sched_yield per page
            Thread.yield();
            writePage(translator, extent, page, inPage, staging, BufferUtil.ARRAY_BASE_OFFSET, length);
        }
        finally
        {
            scratch.stagingInUse = nested;
        }
    }

    /**
     * Copies from a raw address word by word: each load is an unsafe access the JIT marks as one, so a fault becomes a
     * pending {@link InternalError}. (A bulk {@code Unsafe.copyMemory} from memory that faults can crash the JVM once
     * compiled: JDK 17's and 25's arraycopy stubs are not all covered by the unsafe-access fault handler.)
     */
    private static void stageRaw(final long address, final byte[] staging, final int length)
    {
        int i = 0;
        for (; i + Long.BYTES <= length; i += Long.BYTES)
        {
            UnsafeApi.putLong(staging, BufferUtil.ARRAY_BASE_OFFSET + i, UnsafeApi.getLong(address + i));
        }
        for (; i < length; i++)
        {
            UnsafeApi.putByte(staging, BufferUtil.ARRAY_BASE_OFFSET + i, UnsafeApi.getByte(address + i));
        }
    }

    private void writePage(final Translator translator, final Extent extent, final long page, final int inPage,
        final Object base, final long address, final int length) throws IOException
    {
        final boolean whole = 0 == inPage && length == pageMask + 1;
        while (true)
        {
            translator.translate(file, page, extent);
            final long block = extent.blockOf(page);
            if (Extent.HOLE != block && !extent.isShared())
            {
                long held = pinOwnFrame(page, block);
                if (Handle.NONE == held)
                {
                    try
                    {
                        held = whole ? frames.lookup(block) : frames.acquire(block, file, page);
                    }
                    catch (final StaleTranslationException ex)
                    {
                        continue; // the page was remapped between the translation and the read
                    }
                }
                if (Handle.NONE == held)
                {
                    dirtied(page, fillNewFrame(page, block, Handle.NONE, true, inPage, base, address, length));
                    return;
                }
                if (frames.writes.beginWrite(held))
                {
                    try
                    {
                        UnsafeApi.copyMemory(base, address, null, arena.address(Handle.frame(held)) + inPage, length);
                    }
                    catch (final RuntimeException | Error ex)
                    {
                        // the source failed (a truncated mapped file): the page may hold part of the write, as after
                        // a short write; it ends dirty like any written page, and readers go on
                        final long partial = frames.writes.endWrite(held);
                        if (Handle.NONE != partial)
                        {
                            dirtied(page, partial);
                        }
                        throw ex;
                    }
                    final long written = frames.writes.endWrite(held);
                    if (Handle.NONE == written)
                    {
                        continue;
                    }
                    dirtied(page, written);
                    return;
                }
                try
                {
                    dirtied(page, fillNewFrame(page, block, held, whole, inPage, base, address, length));
                }
                finally
                {
                    frames.pins.unpin(held);
                }
                return;
            }

            final long fresh = translator.reserveBlock(file, page);
            final long newFrame;
            final long source;
            try
            {
                source = Extent.HOLE == block || whole ? Handle.NONE :
                    acquireOrRelease(translator, block, page, fresh);
            }
            catch (final StaleTranslationException ex)
            {
                continue; // the reserved block went back; translate again
            }
            try
            {
                newFrame = fillNewFrame(page, fresh, source, whole, inPage, base, address, length);
            }
            catch (final RuntimeException | Error ex)
            {
                translator.releaseBlock(fresh);
                throw ex;
            }
            finally
            {
                if (Handle.NONE != source)
                {
                    frames.pins.unpin(source);
                }
            }
            try
            {
                translator.commitBlock(file, page, fresh);
            }
            catch (final IOException | RuntimeException ex)
            {
                settleFailedCommit(translator, extent, page, fresh, newFrame, ex);
                throw ex;
            }
            frames.copyOnWrites.increment();
            dirtied(page, newFrame);
            return;
        }
    }

    /**
     * Pins the frame this file's mapping holds for {@code page}, if its handle is valid and the frame holds
     * {@code block}: a writer finding its own page (an append's second record in a page) is a file hit, not a
     * sharing hit.
     *
     * @return the pinned handle, or {@link Handle#NONE}.
     */
    private long pinOwnFrame(final long page, final long block)
    {
        final long handle = mapping.get(page);
        if (Handle.NONE == handle || !frames.pins.pinHandle(handle))
        {
            return Handle.NONE;
        }
        if (frames.blockOf(handle) == block)
        {
            cache.fileHits.increment();
            return handle;
        }
        frames.pins.unpin(handle);
        return Handle.NONE;
    }

    /**
     * {@code commitBlock} threw: if the remap took effect anyway (a listener failed after it), the page is ours and
     * its dirty frame must be tracked; otherwise the reserved block goes back (and the frame published for it is
     * dropped by the invalidation that frees the block).
     */
    private void settleFailedCommit(final Translator translator, final Extent extent, final long page,
        final long fresh, final long newFrame, final Exception failure)
    {
        boolean committed = false;
        try
        {
            translator.translate(file, page, extent);
            committed = extent.blockOf(page) == fresh;
        }
        catch (final IOException | RuntimeException ex)
        {
            failure.addSuppressed(ex);
        }
        if (committed)
        {
            frames.copyOnWrites.increment();
            dirtied(page, newFrame);
            return;
        }
        try
        {
            translator.releaseBlock(fresh);
        }
        catch (final RuntimeException ex)
        {
            failure.addSuppressed(ex);
        }
    }

    private long acquireOrRelease(final Translator translator, final long block, final long page, final long fresh)
        throws IOException
    {
        try
        {
            return frames.acquire(block, file, page);
        }
        catch (final IOException | RuntimeException ex)
        {
            translator.releaseBlock(fresh);
            throw ex;
        }
    }

    /**
     * Fills a new frame for {@code block} with the old page (from {@code source}'s frame, or zeros if there is none
     * and the write is partial) and the written bytes, and publishes it dirty. If the block was an alias of a merged
     * frame, the page's handles are cleared (the mapping's version bumped) before the caller installs the new frame:
     * a reader that found the merged frame for this block before the write must not install it after.
     */
    private long fillNewFrame(final long page, final long block, final long source, final boolean whole, final int inPage,
        final Object base, final long address, final int length)
    {
        final long handle = frames.writes.claimPrivate(block);
        try
        {
            final long frameAddress = arena.address(Handle.frame(handle));
            if (!whole)
            {
                if (Handle.NONE != source)
                {
                    UnsafeApi.copyMemory(arena.address(Handle.frame(source)), frameAddress, pageMask + 1);
                }
                else
                {
                    UnsafeApi.setMemory(frameAddress, pageMask + 1, (byte)0);
                }
            }
            UnsafeApi.copyMemory(base, address, null, frameAddress + inPage, length);
        }
        catch (final RuntimeException | Error ex)
        {
            frames.writes.discardPrivate(handle);
            throw ex;
        }
        if (frames.writes.publishDirty(block, handle))
        {
            mapping.clear(page, 1); // the merged frame stays valid for its other blocks: fail a racing reader's install
        }
        return handle;
    }

    private void dirtied(final long page, final long handle)
    {
        mapping.install(page, handle);
        writeback.dirtied(page, handle);
    }
}
