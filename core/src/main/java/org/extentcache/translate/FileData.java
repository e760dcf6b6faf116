package org.extentcache.translate;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Objects;

import org.extentcache.device.BlockDevice;

/**
 * The bytes of an {@link ExtentStore}'s files on the device: reading a byte range through a file's extent map
 * (holes and the tail past end of file read as zeros), reading one page, and writing the new pages of a
 * copy-on-write mutation to blocks that are still free.
 *
 * <h2>Copy-on-write</h2>
 * This class never writes a block that a page maps: its writers are handed free blocks picked by the
 * {@link BlockLedger}, and the caller maps them only once they are written. So a failed device write changes
 * nothing a reader can see, and a block's bytes never change while any page maps it.
 *
 * <h2>Concurrency</h2>
 * Guarded by the store's {@link StoreLock}. {@link #read} takes the read lock and holds it across its device
 * reads, so a block it reads cannot be freed and reused under it. The other methods are called holding the write
 * lock by the mutation that uses them.
 *
 * <h2>Costs</h2>
 * Reads and writes whole runs of pages straight between the caller's buffer and the device; a partial page costs
 * one page-size heap buffer (per {@link #read}, per merged page of a write, per {@link #readPage}).
 *
 * <p><b>Thread safety:</b> as above. It never retains the caller's buffers.
 */
final class FileData
{
    private final BlockDevice device;
    private final PageGeometry geometry;
    private final StoreLock lock;
    private final FileTable files;

    FileData(final BlockDevice device, final PageGeometry geometry, final StoreLock lock, final FileTable files)
    {
        this.device = device;
        this.geometry = geometry;
        this.lock = lock;
        this.files = files;
    }

    /**
     * Reads under the read lock: see {@link ExtentStore#read}.
     *
     * @return bytes read; 0 if {@code dst} has nothing remaining; -1 if {@code position >= size}.
     * @throws NullPointerException                if {@code dst} is null.
     * @throws IllegalArgumentException            if {@code position < 0}.
     * @throws java.nio.file.NoSuchFileException   if the file does not exist.
     * @throws IOException                         if the device fails; {@code dst}'s position is then unchanged.
     * @throws IllegalStateException               if the store is closed.
     */
    int read(final long file, final long position, final ByteBuffer dst) throws IOException
    {
        Objects.requireNonNull(dst, "dst");
        PageGeometry.checkNotNegative("position", position);
        lock.read().lock();
        try
        {
            lock.ensureOpen();
            final FileTable.FileState state = files.get(file);
            if (!dst.hasRemaining())
            {
                return 0;
            }
            if (position >= state.size)
            {
                return -1;
            }
            final int total = (int)Math.min(dst.remaining(), state.size - position);
            final int start = dst.position();
            try
            {
                readRange(state.map, position, total, dst);
            }
            catch (final IOException | RuntimeException ex)
            {
                dst.position(start);
                throw ex;
            }
            return total;
        }
        finally
        {
            lock.read().unlock();
        }
    }

    /**
     * Writes the new pages of a write to the still-free blocks in {@code fresh}: whole pages straight from
     * {@code src}, partial pages merged with the old page's bytes. Changes nothing but those free blocks, and not
     * {@code src}'s position. The caller holds the write lock.
     */
    void writeNewPages(
        final FileTable.FileState state, final long position, final ByteBuffer src, final RunList fresh)
        throws IOException
    {
        final int pageShift = geometry.pageShift();
        final int pageSize = geometry.pageSize();
        final int length = src.remaining();
        final int srcStart = src.position();
        for (int i = 0; i < fresh.size(); i++)
        {
            final long runPage = fresh.filePage(i);
            final long runBlock = fresh.deviceBlock(i);
            final long runEnd = runPage + fresh.pageCount(i);
            long page = runPage;
            while (page < runEnd)
            {
                final long offset = (page << pageShift) - position;
                if (offset >= 0 && offset + pageSize <= length)
                {
                    final long wholePages = Math.min(runEnd - page, (length - offset) >>> pageShift);
                    device.write(
                        runBlock + (page - runPage),
                        src.slice(srcStart + (int)offset, (int)(wholePages << pageShift)));
                    page += wholePages;
                }
                else
                {
                    final ByteBuffer merged = readPage(state, page);
                    final long from = Math.max(0, offset);
                    final long to = Math.min(length, offset + pageSize);
                    merged.put((int)(from - offset), src, srcStart + (int)from, (int)(to - from));
                    device.write(runBlock + (page - runPage), merged);
                    page++;
                }
            }
        }
    }

    /**
     * Writes page {@code page} with {@code [position, end)} zeroed to the free block {@code block}. The caller holds
     * the write lock.
     */
    void writeZeroed(
        final FileTable.FileState state, final long page, final long position, final long end, final long block)
        throws IOException
    {
        final int pageSize = geometry.pageSize();
        final ByteBuffer content = readPage(state, page);
        final long pageStart = page << geometry.pageShift();
        final int from = (int)(Math.max(position, pageStart) - pageStart);
        final int to = (int)(Math.min(end, pageStart + pageSize) - pageStart);
        content.put(from, geometry.zeros(), 0, to - from);
        device.write(block, content);
    }

    /**
     * Writes a page-size buffer to a free block. The caller holds the write lock.
     */
    void writePage(final long block, final ByteBuffer content) throws IOException
    {
        device.write(block, content);
    }

    /**
     * The caller holds the lock.
     *
     * @return a new page-size buffer, position 0 and limit the page size, holding the page's bytes: the block's,
     * or zeros for a hole, and zeros past end of file.
     */
    ByteBuffer readPage(final FileTable.FileState state, final long page) throws IOException
    {
        final int pageSize = geometry.pageSize();
        final ByteBuffer content = ByteBuffer.allocate(pageSize);
        final long block = state.map.blockAt(page);
        if (block != Extent.HOLE)
        {
            device.read(block, content);
            content.clear();
            final long pageStart = page << geometry.pageShift();
            if (state.size < pageStart + pageSize)
            {
                final int from = (int)Math.max(0, state.size - pageStart);
                content.put(from, geometry.zeros(), 0, pageSize - from);
            }
        }
        return content;
    }

    /**
     * @return true if {@code page}'s bytes in {@code [from, to)} are all zeros.
     */
    static boolean isZero(final ByteBuffer page, final int from, final int to)
    {
        for (int i = from; i < to; i++)
        {
            if (page.get(i) != 0)
            {
                return false;
            }
        }
        return true;
    }

    private void readRange(final ExtentMap map, final long position, final int total, final ByteBuffer dst)
        throws IOException
    {
        final int pageShift = geometry.pageShift();
        final int pageSize = geometry.pageSize();
        final byte[] zeros = geometry.zeros();
        long pos = position;
        int remaining = total;
        ByteBuffer scratch = null;
        while (remaining > 0)
        {
            final long page = pos >>> pageShift;
            final int offset = (int)(pos & geometry.pageMask());
            final int run = map.floorRun(page);
            final int count;
            if (run >= 0 && page < map.endPage(run))
            {
                final long block = map.deviceBlock(run) + (page - map.filePage(run));
                if (offset == 0 && remaining >= pageSize)
                {
                    final long wholePages = Math.min(map.endPage(run) - page, remaining >>> pageShift);
                    count = (int)(wholePages << pageShift);
                    device.read(block, dst.slice(dst.position(), count));
                }
                else
                {
                    if (null == scratch)
                    {
                        scratch = ByteBuffer.allocate(pageSize);
                    }
                    device.read(block, scratch.clear());
                    count = Math.min(remaining, pageSize - offset);
                    dst.put(dst.position(), scratch, offset, count);
                }
            }
            else
            {
                final long holePages = (run + 1 < map.runCount() ? map.filePage(run + 1) : Long.MAX_VALUE) - page;
                final long holeBytes = holePages > (remaining >>> pageShift) + 1 ?
                    remaining : (holePages << pageShift) - offset;
                count = (int)Math.min(remaining, holeBytes);
                for (int put = 0; put < count; put += pageSize)
                {
                    dst.put(dst.position() + put, zeros, 0, Math.min(pageSize, count - put));
                }
            }
            dst.position(dst.position() + count);
            pos += count;
            remaining -= count;
        }
    }
}
