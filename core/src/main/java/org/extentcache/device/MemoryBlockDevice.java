package org.extentcache.device;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A {@link BlockDevice} held in Java heap arrays, for tests and examples.
 *
 * <p>Blocks are stored in pages of 1 MiB or one block, whichever is larger, allocated on first write, so a large
 * sparse device costs nothing until written; unwritten blocks read as zeros. Each transfer holds a read/write lock
 * on the device for its duration, so a transfer is atomic with respect to every other transfer.
 *
 * <p>Thread safety: safe for concurrent use. It counts the blocks read and written, which tests use to prove that
 * the cache read the device exactly as often as claimed.
 */
public final class MemoryBlockDevice implements BlockDevice
{
    private static final int CHUNK_BYTES = 1 << 20;
    private static final byte[] ZEROS = new byte[CHUNK_BYTES];

    private final int blockSize;
    private final long blockCount;
    private final int blocksPerChunk;
    private final byte[][] chunks;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final AtomicLong blocksRead = new AtomicLong();
    private final AtomicLong blocksWritten = new AtomicLong();
    private volatile boolean closed;

    /**
     * @param blockSize  bytes per block, a power of two from 512 to 1 MiB.
     * @param blockCount number of blocks, positive.
     * @throws IllegalArgumentException naming the offending value.
     */
    public MemoryBlockDevice(final int blockSize, final long blockCount)
    {
        if (blockSize < 512 || blockSize > CHUNK_BYTES || Integer.bitCount(blockSize) != 1)
        {
            throw new IllegalArgumentException(
                "blockSize must be a power of two from 512 to 1048576: blockSize=" + blockSize);
        }
        if (blockCount <= 0)
        {
            throw new IllegalArgumentException("blockCount must be > 0: blockCount=" + blockCount);
        }
        this.blockSize = blockSize;
        this.blockCount = blockCount;
        this.blocksPerChunk = CHUNK_BYTES / blockSize;
        final long chunkCount = (blockCount + blocksPerChunk - 1) / blocksPerChunk;
        if (chunkCount > Integer.MAX_VALUE - 8)
        {
            throw new IllegalArgumentException("device too large for memory: blockCount=" + blockCount);
        }
        this.chunks = new byte[(int)chunkCount][];
    }

    @Override
    public int blockSize()
    {
        return blockSize;
    }

    @Override
    public long blockCount()
    {
        return blockCount;
    }

    @Override
    public void read(final long block, final ByteBuffer dst) throws IOException
    {
        final long blocks = BlockDevice.checkTransfer(this, block, dst.remaining());
        lock.readLock().lock();
        try
        {
            ensureOpen();
            for (long b = block; b < block + blocks; b++)
            {
                final byte[] chunk = chunks[(int)(b / blocksPerChunk)];
                if (null == chunk)
                {
                    dst.put(ZEROS, 0, blockSize);
                }
                else
                {
                    dst.put(chunk, (int)(b % blocksPerChunk) * blockSize, blockSize);
                }
            }
            blocksRead.addAndGet(blocks);
        }
        finally
        {
            lock.readLock().unlock();
        }
    }

    @Override
    public void write(final long block, final ByteBuffer src) throws IOException
    {
        final long blocks = BlockDevice.checkTransfer(this, block, src.remaining());
        lock.writeLock().lock();
        try
        {
            ensureOpen();
            for (long b = block; b < block + blocks; b++)
            {
                final int chunkIndex = (int)(b / blocksPerChunk);
                byte[] chunk = chunks[chunkIndex];
                if (null == chunk)
                {
                    chunk = new byte[blocksPerChunk * blockSize];
                    chunks[chunkIndex] = chunk;
                }
                src.get(chunk, (int)(b % blocksPerChunk) * blockSize, blockSize);
            }
            blocksWritten.addAndGet(blocks);
        }
        finally
        {
            lock.writeLock().unlock();
        }
    }

    @Override
    public void sync() throws IOException
    {
        ensureOpen();
    }

    /**
     * @return blocks read since the device was created.
     */
    public long blocksRead()
    {
        return blocksRead.get();
    }

    /**
     * @return blocks written since the device was created.
     */
    public long blocksWritten()
    {
        return blocksWritten.get();
    }

    @Override
    public void close()
    {
        closed = true;
    }

    private void ensureOpen() throws IOException
    {
        if (closed)
        {
            throw new IOException("device is closed");
        }
    }

    @Override
    public String toString()
    {
        return "MemoryBlockDevice{blockSize=" + blockSize + ", blockCount=" + blockCount + '}';
    }
}
