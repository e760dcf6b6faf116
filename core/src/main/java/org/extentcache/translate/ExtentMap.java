package org.extentcache.translate;

import java.util.Arrays;

/**
 * One file's map from page index to device block: a sorted array of mapped runs, the holes between them implicit.
 *
 * <p><b>Layout:</b> three parallel {@code long} arrays indexed by run, sorted by file page, non-overlapping:
 * <pre>
 *   filePages[i]     first file page of run i
 *   deviceBlocks[i]  device block of filePages[i]; the run maps pages to consecutive blocks
 *   pageCounts[i]    pages in run i, &gt;= 1
 * </pre>
 * The map is kept normalised: two neighbouring runs are never contiguous in both pages and blocks (they would have
 * been one run), so the runs a lookup finds are maximal.
 *
 * <p><b>Costs</b> ({@code E} = runs in this map): {@link #floorRun} is a binary search, {@code O(log E)}, no
 * allocation. {@link #replace} is {@code O(log E + k)} to find and build the {@code k} runs it touches plus one
 * {@code System.arraycopy} of the runs after them, {@code O(E)} bytes moved but a single memmove: 24 bytes per
 * run, so a 32768-page file fragmented into 3000 runs moves at most 72 KB per single-page rewrite; given a scratch
 * list, it allocates nothing unless the map outgrows its arrays. Copying the map (a whole-file clone) is three
 * array copies, {@code O(E)}. Memory is 24 bytes per run plus up to 2x slack.
 *
 * <p><b>Thread safety:</b> none; {@link ExtentStore} guards it with its lock.
 */
final class ExtentMap
{
    private static final int INITIAL_CAPACITY = 4;

    private long[] filePages;
    private long[] deviceBlocks;
    private long[] pageCounts;
    private int runCount;

    /**
     * An empty map: every page is a hole.
     */
    ExtentMap()
    {
        filePages = new long[INITIAL_CAPACITY];
        deviceBlocks = new long[INITIAL_CAPACITY];
        pageCounts = new long[INITIAL_CAPACITY];
    }

    /**
     * A copy of {@code other}, for a whole-file clone.
     *
     * @param other the map to copy.
     */
    ExtentMap(final ExtentMap other)
    {
        final int capacity = Math.max(INITIAL_CAPACITY, other.runCount);
        filePages = Arrays.copyOf(other.filePages, capacity);
        deviceBlocks = Arrays.copyOf(other.deviceBlocks, capacity);
        pageCounts = Arrays.copyOf(other.pageCounts, capacity);
        runCount = other.runCount;
    }

    /**
     * @return number of runs.
     */
    int runCount()
    {
        return runCount;
    }

    /**
     * @param run a run index in {@code [0, runCount)}.
     * @return the run's first file page.
     */
    long filePage(final int run)
    {
        return filePages[run];
    }

    /**
     * @param run a run index in {@code [0, runCount)}.
     * @return the device block of the run's first page.
     */
    long deviceBlock(final int run)
    {
        return deviceBlocks[run];
    }

    /**
     * @param run a run index in {@code [0, runCount)}.
     * @return pages in the run.
     */
    long pageCount(final int run)
    {
        return pageCounts[run];
    }

    /**
     * @param run a run index in {@code [0, runCount)}.
     * @return the first page after the run.
     */
    long endPage(final int run)
    {
        return filePages[run] + pageCounts[run];
    }

    /**
     * @param other another map.
     * @return true if both maps hold the same runs: every page maps the same block or is a hole in both.
     *         {@code O(E)}.
     */
    boolean sameRuns(final ExtentMap other)
    {
        return runCount == other.runCount &&
            Arrays.equals(filePages, 0, runCount, other.filePages, 0, runCount) &&
            Arrays.equals(deviceBlocks, 0, runCount, other.deviceBlocks, 0, runCount) &&
            Arrays.equals(pageCounts, 0, runCount, other.pageCounts, 0, runCount);
    }

    /**
     * @param page a page index, {@code >= 0}.
     * @return the index of the last run starting at or before {@code page}, or -1; the run may end before it.
     */
    int floorRun(final long page)
    {
        int low = 0;
        int high = runCount - 1;
        while (low <= high)
        {
            final int middle = (low + high) >>> 1;
            if (filePages[middle] <= page)
            {
                low = middle + 1;
            }
            else
            {
                high = middle - 1;
            }
        }
        return high;
    }

    /**
     * @param page a page index, {@code >= 0}.
     * @return the device block mapped at {@code page}, or {@link Extent#HOLE}.
     */
    long blockAt(final long page)
    {
        final int run = floorRun(page);
        if (run < 0 || page >= endPage(run))
        {
            return Extent.HOLE;
        }
        return deviceBlocks[run] + (page - filePages[run]);
    }

    /**
     * Appends to {@code out} the mapped parts of pages {@code [firstPage, firstPage + pageCount)}, in page order.
     *
     * @param firstPage first page of the range.
     * @param pageCount pages in the range; {@code firstPage + pageCount} must not overflow.
     * @param out       receives the runs, clipped to the range.
     */
    void collect(final long firstPage, final long pageCount, final RunList out)
    {
        final long end = firstPage + pageCount;
        for (int run = firstRunEndingAfter(firstPage); run < runCount && filePages[run] < end; run++)
        {
            final long from = Math.max(firstPage, filePages[run]);
            final long to = Math.min(end, endPage(run));
            out.add(from, deviceBlocks[run] + (from - filePages[run]), to - from);
        }
    }

    /**
     * Makes pages {@code [firstPage, firstPage + pageCount)} map exactly {@code runs}, holes elsewhere in the range.
     * Pages outside the range keep their mapping. The caller takes care of reference counts.
     *
     * @param firstPage first page of the range.
     * @param pageCount pages in the range; {@code firstPage + pageCount} must not overflow.
     * @param runs      the new runs, in page order, inside the range.
     * @throws IllegalArgumentException if a run lies outside the range.
     */
    void replace(final long firstPage, final long pageCount, final RunList runs)
    {
        replace(firstPage, pageCount, runs, new RunList());
    }

    /**
     * {@link #replace(long, long, RunList)} building the spliced runs in the caller's {@code segment}, which it
     * clears first: a scratch list the caller reuses, so a single-page remap allocates nothing.
     *
     * @param firstPage first page of the range.
     * @param pageCount pages in the range; {@code firstPage + pageCount} must not overflow.
     * @param runs      the new runs, in page order, inside the range.
     * @param segment   scratch list, not {@code runs}; its contents on return are unspecified.
     * @throws IllegalArgumentException if a run lies outside the range.
     */
    void replace(final long firstPage, final long pageCount, final RunList runs, final RunList segment)
    {
        final long end = firstPage + pageCount;
        for (int i = 0; i < runs.size(); i++)
        {
            if (runs.filePage(i) < firstPage || runs.filePage(i) + runs.pageCount(i) > end)
            {
                throw new IllegalArgumentException("run outside the replaced range: run=" + runs.filePage(i) + "+" +
                    runs.pageCount(i) + " firstPage=" + firstPage + " pageCount=" + pageCount);
            }
        }

        if (pageCount == 0)
        {
            return;
        }
        final int low = firstRunEndingAfter(firstPage);
        final int high = floorRun(end - 1) + 1;
        final int spliceFrom = Math.max(0, low - 1);
        final int spliceTo = Math.min(runCount, high + 1);

        segment.clear();
        if (low - 1 >= 0)
        {
            segment.add(filePages[low - 1], deviceBlocks[low - 1], pageCounts[low - 1]);
        }
        if (low < high && filePages[low] < firstPage)
        {
            segment.add(filePages[low], deviceBlocks[low], firstPage - filePages[low]);
        }
        for (int i = 0; i < runs.size(); i++)
        {
            segment.add(runs.filePage(i), runs.deviceBlock(i), runs.pageCount(i));
        }
        if (low < high && endPage(high - 1) > end)
        {
            final int last = high - 1;
            segment.add(end, deviceBlocks[last] + (end - filePages[last]), endPage(last) - end);
        }
        if (high < runCount)
        {
            segment.add(filePages[high], deviceBlocks[high], pageCounts[high]);
        }
        splice(spliceFrom, spliceTo, segment);
    }

    private int firstRunEndingAfter(final long page)
    {
        final int run = floorRun(page);
        return run >= 0 && page < endPage(run) ? run : run + 1;
    }

    private void splice(final int from, final int to, final RunList segment)
    {
        final int newCount = runCount - (to - from) + segment.size();
        final int tail = runCount - to;
        if (newCount > filePages.length)
        {
            resize(newCount * 2);
        }
        final int newTo = from + segment.size();
        System.arraycopy(filePages, to, filePages, newTo, tail);
        System.arraycopy(deviceBlocks, to, deviceBlocks, newTo, tail);
        System.arraycopy(pageCounts, to, pageCounts, newTo, tail);
        for (int i = 0; i < segment.size(); i++)
        {
            filePages[from + i] = segment.filePage(i);
            deviceBlocks[from + i] = segment.deviceBlock(i);
            pageCounts[from + i] = segment.pageCount(i);
        }
        runCount = newCount;
        if (filePages.length > 64 && newCount < filePages.length / 4)
        {
            resize(Math.max(INITIAL_CAPACITY, newCount * 2));
        }
    }

    private void resize(final int capacity)
    {
        filePages = Arrays.copyOf(filePages, capacity);
        deviceBlocks = Arrays.copyOf(deviceBlocks, capacity);
        pageCounts = Arrays.copyOf(pageCounts, capacity);
    }
}
