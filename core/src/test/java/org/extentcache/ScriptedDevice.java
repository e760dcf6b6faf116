package org.extentcache;

import org.extentcache.device.BlockDevice;
import org.extentcache.device.MemoryBlockDevice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A memory device whose failures a test scripts exactly: the next sync can be held until the test lets it go and
 * then fail, and the n-th write can throw an unchecked exception (a device that breaks its contract). Counts writes
 * and syncs.
 */
final class ScriptedDevice implements BlockDevice
{
    final MemoryBlockDevice memory;
    final AtomicInteger writes = new AtomicInteger();
    final AtomicInteger syncs = new AtomicInteger();
    /** Entered by a held sync. */
    final CountDownLatch syncEntered = new CountDownLatch(1);
    private final CountDownLatch syncReleased = new CountDownLatch(1);
    private volatile boolean holdNextSync;
    private volatile boolean failHeldSync;
    private volatile int uncheckedOnWrite = -1;

    ScriptedDevice(final int blockSize, final long blocks)
    {
        this.memory = new MemoryBlockDevice(blockSize, blocks);
    }

    /** The next sync waits for {@link #releaseSync()} and then fails (or not). */
    void holdNextSync(final boolean fail)
    {
        failHeldSync = fail;
        holdNextSync = true;
    }

    void releaseSync()
    {
        syncReleased.countDown();
    }

    /** The n-th write from now (1 = the next) throws {@link IllegalStateException}. */
    void uncheckedOnWrite(final int n)
    {
        uncheckedOnWrite = writes.get() + n;
    }

    @Override
    public int blockSize()
    {
        return memory.blockSize();
    }

    @Override
    public long blockCount()
    {
        return memory.blockCount();
    }

    @Override
    public void read(final long block, final ByteBuffer dst) throws IOException
    {
        memory.read(block, dst);
    }

    @Override
    public void write(final long block, final ByteBuffer src) throws IOException
    {
        if (writes.incrementAndGet() == uncheckedOnWrite)
        {
            throw new IllegalStateException("scripted: device broke its contract on write of block " + block);
        }
        memory.write(block, src);
    }

    @Override
    public void sync() throws IOException
    {
        syncs.incrementAndGet();
        if (holdNextSync)
        {
            holdNextSync = false;
            syncEntered.countDown();
            try
            {
                if (!syncReleased.await(30, TimeUnit.SECONDS))
                {
                    throw new IOException("scripted sync was never released");
                }
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", ex);
            }
            if (failHeldSync)
            {
                throw new IOException("scripted sync failure");
            }
        }
        memory.sync();
    }

    @Override
    public void close() throws IOException
    {
        memory.close();
    }
}
