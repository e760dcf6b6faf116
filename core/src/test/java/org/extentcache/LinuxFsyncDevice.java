package org.extentcache;

import org.extentcache.device.ForwardingBlockDevice;
import org.extentcache.device.MemoryBlockDevice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A memory device with the fsync-error semantics of Linux that {@code CachedFile} cites: a sync that fails loses the
 * writes made since the last successful sync (the kernel marks the pages clean; the device never got them) and
 * reports the error once, so the next sync succeeds. It keeps each block's bytes as of the last successful sync for
 * the blocks written since; a subclass scripts which sync fails and calls {@link #loseUnsyncedWrites()} for it, or
 * {@link #markSynced()} for a sync that succeeds.
 * <p>
 * Thread-safe: the bytes kept and the writes that replace them are guarded by this device's monitor.
 */
abstract class LinuxFsyncDevice extends ForwardingBlockDevice
{
    /** Block to its bytes at the last successful sync, for blocks written since; guarded by this. */
    private final Map<Long, byte[]> lastDurable = new HashMap<>();

    LinuxFsyncDevice(final int blockSize, final long blocks)
    {
        super(new MemoryBlockDevice(blockSize, blocks));
    }

    /** Keeps the bytes each block had at the last successful sync, then writes. */
    @Override
    public void write(final long block, final ByteBuffer src) throws IOException
    {
        synchronized (this)
        {
            final int blocks = src.remaining() / delegate.blockSize();
            for (int i = 0; i < blocks; i++)
            {
                if (!lastDurable.containsKey(block + i))
                {
                    final ByteBuffer old = ByteBuffer.allocate(delegate.blockSize());
                    delegate.read(block + i, old);
                    lastDurable.put(block + i, old.array());
                }
            }
            delegate.write(block, src);
        }
    }

    /** A failed sync: every block written since the last successful sync has its bytes of then again. */
    protected final synchronized void loseUnsyncedWrites() throws IOException
    {
        for (final Map.Entry<Long, byte[]> lost : lastDurable.entrySet())
        {
            delegate.write(lost.getKey(), ByteBuffer.wrap(lost.getValue()));
        }
        lastDurable.clear();
    }

    /** A successful sync: the device's bytes are now durable. */
    protected final synchronized void markSynced()
    {
        lastDurable.clear();
    }

    /**
     * Waits for a test to release a held call.
     *
     * @param latch the release.
     * @param what  what was held, for the failure: {@code "held sync"}.
     * @throws IOException if the release does not come within 30 seconds, or the wait is interrupted.
     */
    static void awaitRelease(final CountDownLatch latch, final String what) throws IOException
    {
        try
        {
            if (!latch.await(30, TimeUnit.SECONDS))
            {
                throw new IOException(what + " never released");
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IOException(ex);
        }
    }
}
