package org.extentcache.translate;

import java.util.Arrays;

/**
 * A growable list of mapped runs, each {@code pageCount} file pages from {@code filePage} mapping as many device
 * blocks from {@code deviceBlock}: what {@link ExtentMap} hands out and takes in when a range of a file is replaced.
 *
 * <p>{@link #add} coalesces a run with the previous one when both the pages and the blocks continue it, so a list
 * built in page order is already normalised.
 *
 * <p><b>Reuse:</b> a list may be kept as a scratch list and {@link #clear cleared} for each mutation, so that the
 * cache's single-page commit allocates nothing ({@link CacheWrites}, {@link BlockLedger}). A list that grew past
 * {@link #RETAINED_CAPACITY} runs for one large mutation is dropped back to its initial size when cleared, so a
 * cleared scratch list holds at most {@code 24 * RETAINED_CAPACITY} bytes of arrays.
 *
 * <p><b>Thread safety:</b> none; used under {@link ExtentStore}'s write lock by one mutation at a time.
 */
final class RunList
{
    private static final int INITIAL_CAPACITY = 4;
    /** Runs a cleared list keeps room for; a larger one shrinks back to {@link #INITIAL_CAPACITY}. */
    static final int RETAINED_CAPACITY = 1024;

    private long[] filePages = new long[INITIAL_CAPACITY];
    private long[] deviceBlocks = new long[INITIAL_CAPACITY];
    private long[] pageCounts = new long[INITIAL_CAPACITY];
    private int size;

    /**
     * Appends a run, or extends the last one if this run continues it in both pages and blocks.
     *
     * @param filePage    first file page.
     * @param deviceBlock device block of {@code filePage}.
     * @param pageCount   pages in the run, {@code >= 1}.
     * @throws IllegalArgumentException if the run is empty or does not start after the last one.
     */
    void add(final long filePage, final long deviceBlock, final long pageCount)
    {
        if (pageCount < 1)
        {
            throw new IllegalArgumentException("pageCount must be >= 1: pageCount=" + pageCount);
        }
        if (size > 0)
        {
            final int last = size - 1;
            final long lastEnd = filePages[last] + pageCounts[last];
            if (filePage < lastEnd)
            {
                throw new IllegalArgumentException(
                    "runs must be added in page order: filePage=" + filePage + " lastEnd=" + lastEnd);
            }
            if (filePage == lastEnd && deviceBlock == deviceBlocks[last] + pageCounts[last])
            {
                pageCounts[last] += pageCount;
                return;
            }
        }
        if (size == filePages.length)
        {
            final int capacity = size * 2;
            filePages = Arrays.copyOf(filePages, capacity);
            deviceBlocks = Arrays.copyOf(deviceBlocks, capacity);
            pageCounts = Arrays.copyOf(pageCounts, capacity);
        }
        filePages[size] = filePage;
        deviceBlocks[size] = deviceBlock;
        pageCounts[size] = pageCount;
        size++;
    }

    /**
     * Removes every run, keeping the arrays for the next use unless they hold more than {@link #RETAINED_CAPACITY}
     * runs.
     */
    void clear()
    {
        if (filePages.length > RETAINED_CAPACITY)
        {
            filePages = new long[INITIAL_CAPACITY];
            deviceBlocks = new long[INITIAL_CAPACITY];
            pageCounts = new long[INITIAL_CAPACITY];
        }
        size = 0;
    }

    /**
     * @return number of runs.
     */
    int size()
    {
        return size;
    }

    /**
     * @return true if there are no runs.
     */
    boolean isEmpty()
    {
        return size == 0;
    }

    /**
     * @param index a run index in {@code [0, size)}.
     * @return the run's first file page.
     */
    long filePage(final int index)
    {
        return filePages[index];
    }

    /**
     * @param index a run index in {@code [0, size)}.
     * @return the run's first device block.
     */
    long deviceBlock(final int index)
    {
        return deviceBlocks[index];
    }

    /**
     * @param index a run index in {@code [0, size)}.
     * @return the run's page count.
     */
    long pageCount(final int index)
    {
        return pageCounts[index];
    }

    /**
     * @return pages in all runs together.
     */
    long totalPages()
    {
        long total = 0;
        for (int i = 0; i < size; i++)
        {
            total += pageCounts[i];
        }
        return total;
    }

    /**
     * @param pageDelta added to every run's file page.
     * @return a new list with the same blocks at shifted pages.
     */
    RunList shifted(final long pageDelta)
    {
        final RunList shifted = new RunList();
        for (int i = 0; i < size; i++)
        {
            shifted.add(filePages[i] + pageDelta, deviceBlocks[i], pageCounts[i]);
        }
        return shifted;
    }

    @Override
    public String toString()
    {
        final StringBuilder builder = new StringBuilder("RunList[");
        for (int i = 0; i < size; i++)
        {
            builder.append(i == 0 ? "" : ", ").append(filePages[i]).append('+').append(pageCounts[i])
                .append("->").append(deviceBlocks[i]);
        }
        return builder.append(']').toString();
    }
}
