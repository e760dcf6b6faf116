package org.extentcache;

import org.extentcache.frame.Handle;
import org.extentcache.translate.Extent;

import java.io.IOException;

/**
 * One file's on-demand readahead state, as the kernel keeps it per open file: which miss would be sequential and how
 * large a window the file has earned. A miss on the page after the last miss (or after the last window) is
 * sequential; its window starts at {@link FrameReadahead#INITIAL_WINDOW} pages and doubles on each further
 * sequential miss up to {@link FrameReadahead#MAX_WINDOW}; a miss elsewhere starts over. A file's first miss reads no
 * window, so a single read of its first page stays one page.
 *
 * <p>Thread safety: the two fields are read and written without synchronization by every reader of the file. Racing
 * readers may lose an update, which costs a window that is too small or too large, never a wrong byte: what a window
 * publishes is decided by {@link FrameReadahead}, under the allocation lock.
 */
final class SequentialMisses
{
    /** The page whose miss is sequential; -1 before the first miss. */
    private long next = -1;
    /** Pages of the last window, 0 after a miss that was not sequential. */
    private int window;

    /**
     * Pins a translated page's block: a hit, a single-page load, or, for a sequential miss where the cache reads
     * ahead, a window's read that loads the page with the pages after it (mapped by the caller, as after a
     * fault-around, so they need no translation when read). Advice ({@link FileAdvice}) changes when and how much:
     * {@link Advice#SEQUENTIAL} and {@link Advice#WILLNEED} read a window of {@link FrameReadahead#ADVISED_WINDOW}
     * pages on any miss, {@link Advice#RANDOM} never reads one, {@link Advice#NOREUSE} leaves a found frame's
     * reference bit alone.
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
        }
        return handle;
    }
}
