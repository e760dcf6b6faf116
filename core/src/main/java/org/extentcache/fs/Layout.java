package org.extentcache.fs;

import java.util.Arrays;
import java.util.List;
import java.util.NavigableSet;

/**
 * A file's pages as runs, from its FIEMAP extents: each run is a hole ({@link #RUN_HOLE}), private
 * ({@link #RUN_PRIVATE}: keyed by (file, page), see {@link BlockKeys}), or physical (its key is the physical key of
 * its first page, and the keys of its pages follow on). A page is physical only if exactly one extent with a stable,
 * page-aligned physical address covers all of it; runs are kept canonical (no two neighbours could be one run).
 *
 * <h2>Costs</h2>
 * Built in one pass over the extents, {@code O(extents)}; {@link #find} is a binary search over the runs;
 * {@link #keepsBlocks} compares the physical runs with another layout by {@code O(runs + skipped pages)} searches.
 * Three {@code long}s per run.
 *
 * <p><b>Thread safety:</b> immutable, so safe to share once published.
 */
final class Layout
{
    /** Run key of a hole. */
    static final long RUN_HOLE = -1;
    /** Run key of private pages. */
    static final long RUN_PRIVATE = -2;

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
                (extent.physical() + (fullEnd * pageSize - lo)) / pageSize < 1L << BlockKeys.BLOCK_BITS;
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

    /**
     * @return the key of {@code page}: the physical key of its block, {@link #RUN_PRIVATE}, or {@link #RUN_HOLE} (a
     *     hole, or a page outside the layout).
     */
    long keyOf(final long page)
    {
        final int run = page < 0 ? -1 : find(page);
        if (run < 0)
        {
            return RUN_HOLE;
        }
        return key[run] < 0 ? key[run] : key[run] + (page - start[run]);
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
    boolean keepsBlocks(final Layout now, final NavigableSet<Long> skipped)
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
                start = Arrays.copyOf(start, runs * 2);
                count = Arrays.copyOf(count, runs * 2);
                key = Arrays.copyOf(key, runs * 2);
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
            return new Layout(Arrays.copyOf(start, runs), Arrays.copyOf(count, runs),
                Arrays.copyOf(key, runs), runs, pages);
        }
    }
}
