package org.extentcache.translate;

import static org.extentcache.translate.SnapshotDescriptor.END_OF_CHAIN;
import static org.extentcache.translate.SnapshotDescriptor.HEADER_LENGTH;
import static org.extentcache.translate.SnapshotDescriptor.NEXT_BLOCK_OFFSET;
import static org.extentcache.translate.SuperblockDescriptor.SLOT_COUNT;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

import org.agrona.collections.LongHashSet;
import org.extentcache.device.BlockDevice;

/**
 * Writes a snapshot payload to a chain of device blocks and reads it back ({@link SnapshotDescriptor} has the chain
 * block's layout).
 *
 * <p><b>Costs:</b> writing issues one device write per run of consecutive chain blocks (the allocator hands out the
 * lowest free blocks, so a chain is usually one or a few runs); reading follows the chain one block at a time.
 *
 * <p><b>Thread safety:</b> stateless; the caller owns the blocks it names.
 */
final class SnapshotChain
{
    /** A chain read back: its payload and the blocks that held it, in chain order. */
    static final class Read
    {
        final byte[] payload;
        final long[] blocks;

        Read(final byte[] payload, final long[] blocks)
        {
            this.payload = payload;
            this.blocks = blocks;
        }
    }

    private SnapshotChain()
    {
    }

    /**
     * @param payload the payload.
     * @return its CRC32C.
     */
    static int crc(final byte[] payload)
    {
        final CRC32C crc = new CRC32C();
        crc.update(payload, 0, payload.length);
        return (int)crc.getValue();
    }

    /**
     * Writes {@code payload} to {@code chain}, which has {@link SnapshotDescriptor#blocksFor} blocks. Does not sync.
     *
     * @param device  the device.
     * @param chain   the chain's blocks, ascending, allocated to the caller.
     * @param payload the payload.
     * @throws IOException if the device fails a write.
     */
    static void write(final BlockDevice device, final long[] chain, final byte[] payload) throws IOException
    {
        final int blockSize = device.blockSize();
        final int per = SnapshotDescriptor.payloadPerBlock(blockSize);
        int first = 0;
        while (first < chain.length)
        {
            int end = first + 1;
            while (end < chain.length && chain[end] == chain[end - 1] + 1)
            {
                end++;
            }
            final ByteBuffer run = ByteBuffer.allocate((end - first) * blockSize);
            for (int i = first; i < end; i++)
            {
                final int base = (i - first) * blockSize;
                run.putLong(base + NEXT_BLOCK_OFFSET, i + 1 < chain.length ? chain[i + 1] : END_OF_CHAIN);
                final int from = i * per;
                final int length = Math.max(0, Math.min(per, payload.length - from));
                run.put(base + HEADER_LENGTH, payload, from, length);
            }
            device.write(chain[first], run);
            first = end;
        }
    }

    /**
     * Reads the chain a superblock points at.
     *
     * @param device the device.
     * @param first  the chain's first block.
     * @param length the payload's length.
     * @return the payload and the chain's blocks.
     * @throws IOException {@code "corrupt metadata snapshot: ..."} if the chain leaves the device, runs into a slot
     *                     or itself, or is too short or too long; or if the device fails a read.
     */
    static Read read(final BlockDevice device, final long first, final long length) throws IOException
    {
        final int blockSize = device.blockSize();
        final int per = SnapshotDescriptor.payloadPerBlock(blockSize);
        final long blockCount = device.blockCount();
        if (length < 0 || length > Integer.MAX_VALUE - 8 ||
            SnapshotDescriptor.blocksFor(length, blockSize) > blockCount - SLOT_COUNT)
        {
            throw new IOException("corrupt metadata snapshot: length " + length + " does not fit the device (" +
                blockCount + " blocks of " + blockSize + ")");
        }
        final byte[] payload = new byte[(int)length];
        final long[] blocks = new long[SnapshotDescriptor.blocksFor(length, blockSize)];
        final LongHashSet seen = new LongHashSet();
        final ByteBuffer buffer = ByteBuffer.allocate(blockSize);
        long block = first;
        for (int i = 0; i < blocks.length; i++)
        {
            if (block < SLOT_COUNT || block >= blockCount || !seen.add(block))
            {
                throw new IOException("corrupt metadata snapshot: chain block " + i + " is block " + block +
                    " (outside [" + SLOT_COUNT + ", " + blockCount + ") or already in the chain)");
            }
            blocks[i] = block;
            device.read(block, buffer.clear());
            final int from = i * per;
            buffer.get(HEADER_LENGTH, payload, from, Math.min(per, payload.length - from));
            block = buffer.getLong(NEXT_BLOCK_OFFSET);
        }
        if (block != END_OF_CHAIN)
        {
            throw new IOException("corrupt metadata snapshot: the chain goes on past its " + blocks.length +
                " blocks, to block " + block);
        }
        return new Read(payload, blocks);
    }
}
