package org.extentcache.device;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A {@link BlockDevice} over a regular file, read and written with positional {@link FileChannel} calls
 * ({@code pread}/{@code pwrite}), so concurrent transfers need no lock.
 *
 * <p>The file is sized to {@code blockSize * blockCount} bytes when opened (sparse where the filesystem allows);
 * blocks never written read as zeros.
 *
 * <p><b>Interrupts</b>: a {@link FileChannel} closes itself when a thread blocked in it is interrupted, which would
 * fail every later transfer of every thread. This device instead reopens the file and retries the transfer, then
 * restores the thread's interrupt status: an interrupt never costs the device or the cache above it.
 *
 * <p>Thread safety: safe for concurrent use. Closing while transfers are in flight makes them fail with
 * {@link java.nio.channels.ClosedChannelException}.
 */
public final class FileBlockDevice implements BlockDevice
{
    private final Path path;
    private volatile FileChannel channel;
    private volatile boolean closed;
    private final int blockSize;
    private final long blockCount;
    private final AtomicLong blocksRead = new AtomicLong();
    private final AtomicLong blocksWritten = new AtomicLong();

    private FileBlockDevice(final Path path, final FileChannel channel, final int blockSize, final long blockCount)
    {
        this.path = path;
        this.channel = channel;
        this.blockSize = blockSize;
        this.blockCount = blockCount;
    }

    /**
     * Opens (creating if absent) a device file of {@code blockCount} blocks of {@code blockSize} bytes.
     *
     * @param path       the device file.
     * @param blockSize  bytes per block, a power of two from 512 to 1 MiB.
     * @param blockCount number of blocks, positive.
     * @return the device; the caller closes it.
     * @throws IllegalArgumentException naming the offending value.
     * @throws IOException              if the file cannot be opened or sized.
     */
    public static FileBlockDevice open(final Path path, final int blockSize, final long blockCount) throws IOException
    {
        if (blockSize < 512 || blockSize > (1 << 20) || Integer.bitCount(blockSize) != 1)
        {
            throw new IllegalArgumentException(
                "blockSize must be a power of two from 512 to 1048576: blockSize=" + blockSize);
        }
        if (blockCount <= 0 || blockCount > Long.MAX_VALUE / blockSize)
        {
            throw new IllegalArgumentException("blockCount out of range: blockCount=" + blockCount);
        }
        final FileChannel channel = FileChannel.open(
            path, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try
        {
            final long bytes = blockSize * blockCount;
            if (channel.size() < bytes)
            {
                channel.write(ByteBuffer.allocate(1), bytes - 1);
            }
            return new FileBlockDevice(path, channel, blockSize, blockCount);
        }
        catch (final IOException | RuntimeException ex)
        {
            channel.close();
            throw ex;
        }
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
        final int start = dst.position();
        final long offset = block * blockSize;
        try
        {
            withChannel(channel ->
            {
                dst.position(start);
                long position = offset;
                while (dst.hasRemaining())
                {
                    final int n = channel.read(dst, position);
                    if (n < 0)
                    {
                        throw new IOException("unexpected end of device file " + path + " at position " + position);
                    }
                    position += n;
                }
            });
        }
        catch (final IOException ex)
        {
            dst.position(start);
            throw ex;
        }
        blocksRead.addAndGet(blocks);
    }

    @Override
    public void write(final long block, final ByteBuffer src) throws IOException
    {
        final long blocks = BlockDevice.checkTransfer(this, block, src.remaining());
        final int start = src.position();
        final long offset = block * blockSize;
        withChannel(channel ->
        {
            src.position(start);
            long position = offset;
            while (src.hasRemaining())
            {
                position += channel.write(src, position);
            }
        });
        blocksWritten.addAndGet(blocks);
    }

    @Override
    public void sync() throws IOException
    {
        withChannel(channel -> channel.force(false));
    }

    /** One positional transfer on the channel; re-run from the start if the channel had to be reopened. */
    @FunctionalInterface
    private interface Transfer
    {
        void run(FileChannel channel) throws IOException;
    }

    /**
     * Runs a transfer, reopening the channel and running it again if an interrupt closed the channel under it, and
     * restores the thread's interrupt status afterwards.
     */
    private void withChannel(final Transfer transfer) throws IOException
    {
        boolean interrupted = false;
        try
        {
            while (true)
            {
                final FileChannel current = channel;
                try
                {
                    transfer.run(current);
                    return;
                }
                catch (final ClosedChannelException ex)
                {
                    interrupted |= reopenAfter(current, ex);
                }
            }
        }
        finally
        {
            if (interrupted)
            {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * A transfer found the channel closed: if the device is open, the channel was closed by an interrupt (of this
     * thread or another); open a new one unless another thread already did.
     *
     * @return true if this thread's interrupt status was set (and is now cleared, for the retry).
     * @throws ClosedChannelException if the device itself is closed.
     */
    private boolean reopenAfter(final FileChannel broken, final ClosedChannelException cause) throws IOException
    {
        final boolean interrupted = Thread.interrupted();
        synchronized (this)
        {
            if (closed)
            {
                throw cause;
            }
            if (channel == broken)
            {
                channel = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
            }
        }
        return interrupted;
    }

    /**
     * @return blocks read since the device was opened.
     */
    public long blocksRead()
    {
        return blocksRead.get();
    }

    /**
     * @return blocks written since the device was opened.
     */
    public long blocksWritten()
    {
        return blocksWritten.get();
    }

    /**
     * @return the device file.
     */
    public Path path()
    {
        return path;
    }

    @Override
    public void close() throws IOException
    {
        synchronized (this)
        {
            closed = true;
        }
        channel.close();
    }

    @Override
    public String toString()
    {
        return "FileBlockDevice{path=" + path + ", blockSize=" + blockSize + ", blockCount=" + blockCount + '}';
    }
}
