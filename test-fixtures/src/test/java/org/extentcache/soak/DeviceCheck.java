package org.extentcache.soak;

import org.agrona.collections.LongHashSet;
import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.Extent;
import org.extentcache.translate.ExtentStore;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Checks what is durable: a file's bytes as the memory device <em>under</em> the fault injector holds them (so past
 * its volatile write cache: only what a successful sync applied), found through the extent store's current
 * translation, never through the cache. Each call owns its scratch buffers; not thread-safe.
 */
final class DeviceCheck
{
    private static final int PAGE = SoakConfig.PAGE;
    private static final byte[] ZEROS = new byte[PAGE];

    private final ExtentStore store;
    private final MemoryBlockDevice disk;
    private final Extent extent = new Extent();
    private final ByteBuffer page = ByteBuffer.allocate(PAGE);
    private final long maxOp;

    /**
     * @param maxOp the largest op number any thread issues, for decoding stamps in reports.
     */
    DeviceCheck(final ExtentStore store, final MemoryBlockDevice disk, final long maxOp)
    {
        this.store = store;
        this.disk = disk;
        this.maxOp = maxOp;
    }

    /**
     * Checks that the device holds exactly the model's bytes of a file: every mapped page's block holds the page's
     * bytes (zeros past end of file, the extent store's zero tail), every hole is zeros in the model, and no page
     * past end of file maps a block.
     *
     * @param file   the model; nobody may change the file meanwhile.
     * @param blocks collects the blocks the file maps, or {@code null}.
     * @return the first discrepancy, or {@code null}.
     * @throws IOException if the memory device fails (it does not).
     */
    String check(final FileModel file, final LongHashSet blocks) throws IOException
    {
        final long size = store.size(file.id);
        if (size != file.size)
        {
            return file + ": the extent store says size " + size;
        }
        final long pages = (size + PAGE - 1) / PAGE;
        final byte[] bytes = page.array();
        for (long p = 0; p < pages; p++)
        {
            store.translate(file.id, p, extent);
            final long block = extent.blockOf(p);
            final int start = (int)(p * PAGE);
            final int inFile = (int)Math.min(PAGE, size - start);
            if (Extent.HOLE == block)
            {
                final int nonZero = firstNonZero(file.bytes, start, start + inFile);
                if (nonZero >= 0)
                {
                    return file + " page " + p + " is a hole on the device but the model holds " +
                        Stamp.describe(file.bytes, file.bytes.length, nonZero, 0, maxOp) + " at offset " + nonZero;
                }
                continue;
            }
            if (null != blocks)
            {
                blocks.add(block);
            }
            page.clear();
            disk.read(block, page);
            final int mismatch = Arrays.mismatch(bytes, 0, inFile, file.bytes, start, start + inFile);
            if (mismatch >= 0)
            {
                final long at = start + mismatch;
                return file + " offset " + at + " (page " + p + ", device block " + block + "): the device holds " +
                    Stamp.describe(bytes, PAGE, mismatch, start, maxOp) + " but the model holds " +
                    Stamp.describe(file.bytes, file.bytes.length, (int)at, 0, maxOp);
            }
            final int tail = firstNonZero(bytes, inFile, PAGE);
            if (tail >= 0)
            {
                return file + " last page " + p + " (device block " + block + ") is not zero past end of file at " +
                    "byte " + tail + " of the page: " + Stamp.describe(bytes, PAGE, tail, start, maxOp);
            }
        }
        store.translate(file.id, pages, extent);
        if (!extent.isHole() || extent.filePage() + extent.pageCount() != Long.MAX_VALUE)
        {
            return file + ": a page past end of file maps a block: " + extent;
        }
        return null;
    }

    /**
     * @return the index of the first byte in {@code [from, to)} that is not zero, or -1.
     */
    static int firstNonZero(final byte[] bytes, final int from, final int to)
    {
        for (int start = from; start < to; start += ZEROS.length)
        {
            final int end = Math.min(to, start + ZEROS.length);
            final int mismatch = Arrays.mismatch(bytes, start, end, ZEROS, 0, end - start);
            if (mismatch >= 0)
            {
                return start + mismatch;
            }
        }
        return -1;
    }
}
