package org.extentcache;

import org.extentcache.frame.Handle;
import org.extentcache.translate.Extent;

import java.io.IOException;

/**
 * One file's on-demand readahead state, as the kernel keeps it per open file: which miss would be sequential, how
 * large a window the file has earned, and which window is being read ahead in the background. A miss on the page after
 * the last miss (or after the last window) is sequential; its window starts at {@link FrameReadahead#INITIAL_WINDOW}
 * pages and doubles on each further sequential miss up to {@link FrameReadahead#MAX_WINDOW}; a miss elsewhere starts
 * over. A file's first miss reads no window, so a single read of its first page stays one page.
 *
 * <h2>Asynchronous windows</h2>
 * Once a file has earned a window of {@link #ASYNC_AFTER} pages, the window after each window read for a sequential
 * miss is read in the background ({@link AsyncReadahead}), twice as large, up to {@link #MAX_ASYNC_WINDOW} pages. Its first page, the marker, is left unmapped: when the reader
 * reaches it, the miss finds the page cached (or waits for its read) and asks for the next window. So while the reader
 * consumes one window the device reads the next, as the kernel's {@code PG_readahead} marker arranges. A reader that
 * leaves the sequence (a miss anywhere else) stops the chain; a window that stopped short of its size (the end of an
 * extent, no frame free of recent use) makes the reader's next miss non-sequential, and the ramp starts over.
 *
 * <p>Thread safety: the fields are read and written without synchronization by every reader of the file. Racing
 * readers may lose an update, which costs a window that is too small, too large or read twice (the second finds the
 * blocks cached and reads nothing), never a wrong byte: what a window publishes is decided by {@link FrameReadahead},
 * under the allocation lock.
 */
final class SequentialMisses
{
    /** Pages of the largest window read in the background: 512 KiB with 4 KiB pages. */
    static final int MAX_ASYNC_WINDOW = 2 * FrameReadahead.MAX_WINDOW;
    /**
     * The window a file must have earned before the next is read in the background: a few sequential misses are
     * not yet a stream, and a small cache should not give frames to pages nobody may ask for.
     */
    static final int ASYNC_AFTER = FrameReadahead.MAX_WINDOW / 2;

    private final CachedFile owner;
    /** The page whose miss is sequential; -1 before the first miss. */
    private long next = -1;
    /** Pages of the last window, 0 after a miss that was not sequential. */
    private int window;
    /** The marker of the window being read in the background, or -1. */
    private long asyncAt = -1;
    /** Pages asked for from {@link #asyncAt}. */
    private int asyncPages;

    SequentialMisses(final CachedFile owner)
    {
        this.owner = owner;
    }

    /**
     * Pins a translated page's block: a hit, a single-page load, or, for a sequential miss where the cache reads
     * ahead, a window's read that loads the page with the pages after it (mapped by the caller, as after a
     * fault-around, so they need no translation when read); then asks for the next window in the background. Advice
     * ({@link FileAdvice}) changes when and how much: {@link Advice#SEQUENTIAL} and {@link Advice#WILLNEED} read a
     * window of {@link FrameReadahead#ADVISED_WINDOW} pages on any miss, {@link Advice#RANDOM} never reads one,
     * {@link Advice#NOREUSE} leaves a found frame's reference bit alone; a prefetch ({@link Advice#WILLNEED}) asks
     * for no background window beyond its range.
     *
     * @param frames    the cache's frames.
     * @param file      the file.
     * @param page      the page that missed in the file's mapping.
     * @param block     its translated block.
     * @param extent    the translation, which a window stays within.
     * @param filePages the file's size in pages (or the end of a prefetch), which a window stays below.
     * @param domain    the file's merge domain.
     * @param scratch   this thread's scratch.
     * @param advice    the advice for the page.
     * @return the pinned handle; {@code scratch.loaded} says whether the page was read from the device, and
     * {@code scratch.readAhead} how many pages a window read covered (0 if none).
     * @throws IOException if the device read failed.
     */
    long acquire(final DeviceCache frames, final long file, final long page, final long block, final Extent extent,
        final long filePages, final int domain, final Scratch scratch, final Advice advice) throws IOException
    {
        final boolean marker = page == next && page == asyncAt;
        final long handle = acquireNow(frames, file, page, block, extent, filePages, domain, scratch, advice);
        if (null == frames.asyncReadahead || Advice.RANDOM == advice || Advice.WILLNEED == advice)
        {
            return handle;
        }
        if (scratch.readAhead > 0)
        {
            if (window >= ASYNC_AFTER)
            {
                // a long sequential run read a window for this miss: read the one after it in the background
                askAhead(frames, next, Math.min(2 * window, MAX_ASYNC_WINDOW));
            }
        }
        else if (marker)
        {
            // the reader reached the background window: ask for the one after it
            askAhead(frames, page + asyncPages, Math.min(2 * asyncPages, MAX_ASYNC_WINDOW));
        }
        return handle;
    }

    private void askAhead(final DeviceCache frames, final long at, final int pages)
    {
        asyncAt = at;
        asyncPages = pages;
        next = at;
        frames.asyncReadahead.submit(this, at, pages);
    }

    private long acquireNow(final DeviceCache frames, final long file, final long page, final long block,
        final Extent extent, final long filePages, final int domain, final Scratch scratch, final Advice advice)
        throws IOException
    {
        scratch.readAhead = 0;
        final boolean sequential = page == next;
        final boolean eager = Advice.SEQUENTIAL == advice || Advice.WILLNEED == advice;
        if ((eager || (sequential && Advice.RANDOM != advice)) && null != frames.readahead &&
            Handle.NONE == frames.peek(block))
        {
            final int size = eager ? FrameReadahead.ADVISED_WINDOW :
                Math.min(Math.max(2 * window, FrameReadahead.INITIAL_WINDOW), FrameReadahead.MAX_WINDOW);
            final long handle = frames.readAhead(file, page, extent, filePages, size, scratch);
            if (scratch.readAhead > 0)
            {
                window = Math.min(size, FrameReadahead.MAX_WINDOW);
                next = page + scratch.readAhead;
            }
            if (Handle.NONE != handle)
            {
                scratch.loaded = true;
                return handle;
            }
        }
        final long handle = frames.acquire(block, file, page, scratch, domain, Advice.NOREUSE != advice);
        if (scratch.loaded && 0 == scratch.readAhead)
        {
            window = sequential ? window : 0;
            next = page + 1;
            asyncAt = -1;
        }
        return handle;
    }

    /**
     * Reads a window from {@code page} in the background ({@link AsyncReadahead}) and maps every page of it but
     * {@code page}, the marker whose miss asks for the next window. Speculative: does nothing if the page is mapped,
     * cached or a hole, and swallows every failure (a failed read is counted by {@link FrameReadahead}); runs inside
     * the cache's {@link ReaderGate}, as a read does.
     *
     * @param page  the window's first page.
     * @param pages most pages to read.
     */
    void readAheadAsync(final long page, final int pages)
    {
        try
        {
            owner.readers.enter();
        }
        catch (final IllegalStateException closed)
        {
            return;
        }
        final ReaderGate outer = owner.readers.inMiss();
        try
        {
            final Scratch scratch = Scratch.get();
            final Extent extent = scratch.extent;
            final long version = owner.mapping().version();
            owner.ensureReadable();
            owner.cache.translator().translate(owner.id(), page, extent);
            final long block = extent.blockOf(page);
            if (Extent.HOLE == block || Handle.NONE != owner.mapping().get(page) ||
                Handle.NONE != owner.frames.peek(block))
            {
                return;
            }
            final long handle = owner.frames.readAhead(owner.id(), page, extent, owner.pageCount(), pages, scratch);
            if (Handle.NONE != handle)
            {
                try
                {
                    FaultAround.map(owner.mapping(), owner.frames, page, extent, version, scratch.handles,
                        scratch.readAhead - 1, owner.pageCount(), false);
                }
                finally
                {
                    owner.pins.unpin(handle);
                }
            }
        }
        catch (final IOException | RuntimeException speculative)
        {
            // nobody asked for these pages: the reader that reaches them reads them itself
        }
        finally
        {
            ReaderGate.leftMiss(outer);
            owner.readers.exit();
        }
    }
}
