package org.extentcache.device;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Positional reads and writes of whole blocks: the storage under the cache.
 *
 * <p>A device is an array of {@link #blockCount()} blocks of {@link #blockSize()} bytes, numbered from 0.
 * Every transfer covers whole blocks: the buffer's {@code remaining()} must be a positive multiple of the block
 * size. A transfer either moves every byte or throws {@link IOException}; on a failed read the destination's
 * contents are undefined and its position is unchanged; on a failed write the blocks' contents on the device are
 * undefined (some, all or none of the bytes may have reached it).
 *
 * <p><b>Thread safety:</b> implementations are safe for concurrent use by any number of threads. Transfers to
 * different blocks do not interfere; a read that overlaps a concurrent write of the same block may observe either
 * content, but once a write has returned every later read returns its bytes.
 *
 * <p><b>Ownership:</b> the caller owns the buffers it passes in; the device never retains them.
 */
public interface BlockDevice extends Closeable
{
    /**
     * @return the size of one block in bytes, a power of two.
     */
    int blockSize();

    /**
     * @return the number of blocks on the device.
     */
    long blockCount();

    /**
     * Reads {@code dst.remaining() / blockSize()} blocks starting at {@code block} into {@code dst}, advancing its
     * position to its limit.
     *
     * @param block first block to read.
     * @param dst   where to put the bytes; {@code remaining()} is a positive multiple of the block size.
     * @throws IllegalArgumentException if the range falls outside the device or the length is not whole blocks.
     * @throws IOException              if the device fails the read; {@code dst}'s position is then unchanged.
     */
    void read(long block, ByteBuffer dst) throws IOException;

    /**
     * Writes {@code src.remaining() / blockSize()} blocks starting at {@code block} from {@code src}, advancing its
     * position to its limit.
     *
     * @param block first block to write.
     * @param src   the bytes to write; {@code remaining()} is a positive multiple of the block size.
     * @throws IllegalArgumentException if the range falls outside the device or the length is not whole blocks.
     * @throws IOException              if the device fails the write.
     */
    void write(long block, ByteBuffer src) throws IOException;

    /**
     * Makes every completed write durable (an {@code fsync} for file devices).
     *
     * @throws IOException if the device cannot make the writes durable.
     */
    void sync() throws IOException;

    /**
     * Checks a transfer's arguments against a device's geometry; for implementations.
     *
     * @param device    the device.
     * @param block     first block of the transfer.
     * @param length    bytes in the transfer.
     * @return the number of blocks in the transfer.
     * @throws IllegalArgumentException naming the offending values.
     */
    static long checkTransfer(final BlockDevice device, final long block, final int length)
    {
        final int blockSize = device.blockSize();
        if (length <= 0 || (length & (blockSize - 1)) != 0)
        {
            throw new IllegalArgumentException(
                "transfer length must be a positive multiple of the block size: length=" + length +
                " blockSize=" + blockSize);
        }
        final long blocks = length / blockSize;
        if (block < 0 || block > device.blockCount() - blocks)
        {
            throw new IllegalArgumentException(
                "transfer outside the device: block=" + block + " blocks=" + blocks +
                " blockCount=" + device.blockCount());
        }
        return blocks;
    }
}
