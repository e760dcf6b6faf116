package org.extentcache;

import org.extentcache.frame.FrameArena;
import org.extentcache.frame.Handle;
import org.extentcache.mapping.FileMapping;
import org.extentcache.translate.Extent;

import java.io.IOException;
import java.util.Arrays;

/**
 * One file's access advice ({@link CachedFile#advise}, {@link Advice}): the ranges advised {@link Advice#SEQUENTIAL},
 * {@link Advice#RANDOM} or {@link Advice#NOREUSE}, the ring of frames a {@code NOREUSE} read loaded, and the one-off
 * {@link Advice#WILLNEED} prefetch and {@link Advice#DONTNEED} drop.
 *
 * <h2>Ranges</h2>
 * The remembered ranges are an immutable snapshot ({@link Ranges}: sorted, disjoint page ranges, each with its
 * advice) in a volatile field, replaced whole under this object's monitor by {@link #advise}; the volatile store
 * there pairs with the volatile load of {@link #at} and {@link #hit}. A miss looks its page up ({@link #at}: a
 * binary search, nothing allocated); a file hit looks only at {@link #noReuse}, a volatile boolean that is false
 * until some range is advised {@code NOREUSE}, so a file with no such range pays one load on a hit and nothing more.
 * At most {@link #MAX_RANGES} ranges are remembered; adjacent ranges with the same advice are joined.
 *
 * <h2>The NOREUSE ring</h2>
 * CLOCK alone does not protect a hot set from a scan: the hand clears the hot frames' bits as it passes and takes
 * them on its next pass, however cold the scan's pages are. So each frame a {@code NOREUSE} miss loads (with its
 * readahead window) goes into a ring of {@link #RING} handles; when the ring is full, its oldest frame is freed
 * ({@link DeviceCache#drop}) if it is still clean, unpinned and unreferenced, and the scan's next claim pops that
 * frame from the free list instead of sweeping. A frame somebody used meanwhile (its reference bit set) or pinned is
 * left to the sweep. The ring is guarded by this object's monitor, taken on {@code NOREUSE} misses only (and by
 * {@link #advise} for the ranges), before the allocation lock.
 *
 * <h2>Costs</h2>
 * Hit: one volatile load. Miss: a volatile load and a binary search over at most 64 ranges; a {@code NOREUSE} miss
 * also a monitor, a device-index peek per window page and, once the ring is full, the allocation lock per frame
 * freed. {@code advise} copies the range list. {@code WILLNEED} costs the misses it makes; {@code DONTNEED} a
 * write-back of the range, a mapping lookup per page of the range below end of file (cached or not), a translation
 * per run of cached pages and the allocation lock per page cached.
 *
 * <p>Thread-safe.
 */
final class FileAdvice
{
    /** Most ranges remembered per file. */
    static final int MAX_RANGES = 64;
    /** Frames a {@code NOREUSE} scan keeps before it recycles its oldest: two of the largest windows. */
    static final int RING = 2 * FrameReadahead.MAX_WINDOW;

    private static final Ranges NONE = new Ranges(new long[0], new long[0], new Advice[0]);

    private final CachedFile file;
    private final ExtentCache cache;
    private final DeviceCache frames;
    private final FileMapping mapping;
    private final int pageShift;
    /** The remembered ranges; replaced whole under {@code this}. */
    private volatile Ranges ranges = NONE;
    /** True while some range is advised {@code NOREUSE}: all a file hit reads. */
    private volatile boolean noReuse;
    /** Handles of frames {@code NOREUSE} misses loaded, oldest at {@link #ringHead}; allocated on first use. */
    private long[] ring;
    private int ringHead;
    private int ringCount;

    FileAdvice(final CachedFile file, final ExtentCache cache, final FileMapping mapping, final int pageShift)
    {
        this.file = file;
        this.cache = cache;
        this.frames = cache.frames();
        this.mapping = mapping;
        this.pageShift = pageShift;
    }

    /**
     * {@link CachedFile#advise}: checks the arguments, then remembers, prefetches or drops.
     */
    void advise(final long offset, final long length, final Advice advice) throws IOException
    {
        if (offset < 0 || length < 0)
        {
            throw new IllegalArgumentException("offset and length must be >= 0: offset=" + offset +
                " length=" + length);
        }
        if (null == advice)
        {
            throw new NullPointerException("advice");
        }
        file.ensureReadable();
        final long pageMask = (1L << pageShift) - 1;
        final boolean toEnd = 0 == length || length > Long.MAX_VALUE - offset;
        final long end = toEnd ? Long.MAX_VALUE : offset + length;
        final long firstPage = offset >>> pageShift;
        // every page the range touches; Long.MAX_VALUE pages for "to the end": the file may grow
        final long endPage = toEnd ? Long.MAX_VALUE : (end >>> pageShift) + ((end & pageMask) == 0 ? 0 : 1);
        switch (advice)
        {
            case WILLNEED ->
            {
                final ReaderGate marked = frames.readers.enterMarked(); // the translator runs: a close there throws
                try
                {
                    prefetch(firstPage, endPage);
                }
                finally
                {
                    frames.readers.exitMarked(marked);
                }
            }
            case DONTNEED ->
            {
                final long size = file.currentSize();
                // whole pages only, as Linux drops them; a range that reaches the end of the file takes its last page
                final long first = (offset + pageMask) >>> pageShift;
                final long last = end >= size ? (size + pageMask) >>> pageShift : end >>> pageShift;
                if (first < last)
                {
                    drop(first, last);
                }
            }
            default -> remember(firstPage, endPage, advice);
        }
    }

    /**
     * @param page a page of the file.
     * @return the advice remembered for it, {@link Advice#NORMAL} if none.
     */
    Advice at(final long page)
    {
        return ranges.at(page);
    }

    /**
     * A file hit on {@code page}'s frame: marks it referenced unless the page's range is advised {@code NOREUSE}.
     * With no {@code NOREUSE} range, one volatile load besides {@link FrameArena#markReferenced}.
     */
    void hit(final FrameArena arena, final int frame, final long page)
    {
        if (!noReuse || Advice.NOREUSE != ranges.at(page))
        {
            arena.markReferenced(frame);
        }
    }

    /**
     * After a miss installed its page: if it was advised {@code NOREUSE} and loaded the page (and perhaps a window
     * after it), puts the loaded frames in the ring and frees the ring's oldest while it is over {@link #RING}.
     *
     * @param kind    the advice the miss was made under.
     * @param handle  the page's handle.
     * @param extent  the page's translation.
     * @param scratch the miss's scratch: {@code loaded} and {@code readAhead} say what it read.
     */
    void loaded(final Advice kind, final long handle, final long page, final Extent extent, final Scratch scratch)
    {
        if (Advice.NOREUSE != kind || !scratch.loaded)
        {
            return;
        }
        final int readAhead = scratch.readAhead;
        synchronized (this)
        {
            if (null == ring)
            {
                ring = new long[RING];
            }
            push(handle);
            for (int i = 1; i < readAhead; i++)
            {
                final long peeked = frames.peek(extent.blockOf(page + i));
                if (Handle.NONE != peeked)
                {
                    push(peeked);
                }
            }
        }
    }

    private void push(final long handle)
    {
        if (ringCount == RING)
        {
            final long oldest = ring[ringHead];
            ringHead = (ringHead + 1) % RING;
            ringCount--;
            frames.drop(oldest, true, false);
        }
        ring[(ringHead + ringCount) % RING] = handle;
        ringCount++;
    }

    private synchronized void remember(final long firstPage, final long endPage, final Advice advice)
    {
        final Ranges next = ranges.with(firstPage, endPage, advice);
        ranges = next;
        noReuse = next.has(Advice.NOREUSE);
    }

    /** {@link Advice#WILLNEED} of {@code [firstPage, endPage)}, at most half the arena's frames. */
    private void prefetch(final long firstPage, final long endPage) throws IOException
    {
        final long filePages = (file.currentSize() + (1L << pageShift) - 1) >>> pageShift;
        final long end = Math.min(Math.min(endPage, filePages), firstPage + frames.arena().capacity() / 2);
        for (long page = firstPage; page < end; page++)
        {
            final long handle = mapping.get(page);
            if (Handle.NONE == handle || -1 == frames.blockOf(handle))
            {
                final long pinned = file.pinByTranslation(page, Advice.WILLNEED, end);
                if (Handle.NONE != pinned)
                {
                    frames.pins.unpin(pinned);
                }
            }
        }
    }

    /**
     * {@link Advice#DONTNEED} of the whole pages {@code [firstPage, endPage)}: write-back under the writer lock
     * (outside the {@link ReaderGate}, as writers are), then without it (a translation under the writer lock could
     * wait on a translator that waits for that lock), inside the gate, each cached page's handle removed and its
     * frame freed where nobody else needs it. A writer racing the drop is safe
     * as the sweep is: freeing needs the frame clean and unpinned in one CAS of its state word, and a writer pins
     * before it writes.
     */
    private void drop(final long firstPage, final long endPage) throws IOException
    {
        final FileWriteback writeback = file.writeback();
        final IOException failure;
        writeback.lock();
        try
        {
            file.ensureReadable();
            failure = writeback.writeBackDurablyOrAgain(firstPage, endPage - firstPage, false);
        }
        finally
        {
            writeback.unlock();
        }
        // the gate only now: a thread inside it must not wait for a writer, which may be closing the cache and so
        // waiting for the gate (writers are drained by their lock, not by the gate)
        final ReaderGate marked = frames.readers.enterMarked(); // the translator runs: a close there throws
        try
        {
            unmap(firstPage, endPage);
        }
        finally
        {
            frames.readers.exitMarked(marked);
        }
        if (null != failure)
        {
            throw failure;
        }
    }

    /** The second half of {@link #drop}, inside the reader gate: unmaps the cached pages, frees the private frames. */
    private void unmap(final long firstPage, final long endPage) throws java.nio.file.NoSuchFileException
    {
        final Extent extent = new Extent();
        long runEnd = firstPage;
        boolean shared = true;
        for (long page = firstPage; page < endPage; page++)
        {
            final long handle = mapping.get(page);
            if (Handle.NONE == handle)
            {
                continue;
            }
            if (page >= runEnd)
            {
                cache.translator().translate(file.id(), page, extent);
                runEnd = extent.filePage() + Math.max(1, extent.pageCount());
                shared = extent.isShared();
            }
            final boolean mine = !shared && extent.blockOf(page) == frames.blockOf(handle);
            if (DeviceCache.DROP_BUSY != frames.drop(handle, mine, true))
            {
                mapping.remove(page, handle); // freed, stale, or kept for the files that share it
            }
        }
    }

    /** Sorted, disjoint page ranges {@code [first[i], end[i])} with their advice; never changed once built. */
    private record Ranges(long[] first, long[] end, Advice[] advice)
    {
        Advice at(final long page)
        {
            int lo = 0;
            int hi = first.length - 1;
            while (lo <= hi)
            {
                final int mid = (lo + hi) >>> 1;
                if (page < first[mid])
                {
                    hi = mid - 1;
                }
                else if (page >= end[mid])
                {
                    lo = mid + 1;
                }
                else
                {
                    return advice[mid];
                }
            }
            return Advice.NORMAL;
        }

        boolean has(final Advice kind)
        {
            for (final Advice a : advice)
            {
                if (a == kind)
                {
                    return true;
                }
            }
            return false;
        }

        /** These ranges with {@code [from, to)} cut out and, unless {@code kind} is NORMAL, put back as {@code kind}. */
        Ranges with(final long from, final long to, final Advice kind)
        {
            final int room = first.length + 2;
            final long[] f = new long[room];
            final long[] e = new long[room];
            final Advice[] a = new Advice[room];
            int n = 0;
            boolean placed = Advice.NORMAL == kind;
            for (int i = 0; i < first.length; i++)
            {
                if (!placed && first[i] >= from)
                {
                    n = append(f, e, a, n, from, to, kind);
                    placed = true;
                }
                if (first[i] < from)
                {
                    n = append(f, e, a, n, first[i], Math.min(end[i], from), advice[i]);
                }
                if (end[i] > to)
                {
                    if (!placed)
                    {
                        n = append(f, e, a, n, from, to, kind);
                        placed = true;
                    }
                    n = append(f, e, a, n, Math.max(first[i], to), end[i], advice[i]);
                }
            }
            if (!placed)
            {
                n = append(f, e, a, n, from, to, kind);
            }
            if (n > MAX_RANGES)
            {
                throw new IllegalStateException("more than " + MAX_RANGES + " advised ranges in one file: " + n);
            }
            return new Ranges(Arrays.copyOf(f, n), Arrays.copyOf(e, n), Arrays.copyOf(a, n));
        }

        /** Appends a range, joined to the last one if they touch with the same advice; empty ranges are skipped. */
        private static int append(final long[] f, final long[] e, final Advice[] a, final int n, final long from,
            final long to, final Advice kind)
        {
            if (from >= to)
            {
                return n;
            }
            if (n > 0 && e[n - 1] == from && a[n - 1] == kind)
            {
                e[n - 1] = to;
                return n;
            }
            f[n] = from;
            e[n] = to;
            a[n] = kind;
            return n + 1;
        }
    }
}
