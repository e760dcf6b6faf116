package org.extentcache;

import org.extentcache.device.BlockDevice;
import org.extentcache.device.ForwardingBlockDevice;
import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.frame.FrameArena;
import org.extentcache.frame.FrameDescriptor;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Threads and files that miss the same block while it loads wait on that frame and the device is read once; if the
 * read fails, every waiter gets the error, no frame stays behind, and the next read tries again.
 */
class ConcurrentMissTest
{
    private static final int PAGE = 4096;
    private static final int READERS = 4;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    private final MemoryBlockDevice memory = new MemoryBlockDevice(PAGE, 256);
    private final GatedDevice device = new GatedDevice(memory);
    private final ExtentStore store = new ExtentStore(memory);

    @Test
    void missesOnOneBlockFromManyFilesReadTheDeviceOnce() throws Exception
    {
        final ExtentCache cache = books.track(
            ExtentCache.builder().device(device).translator(store).capacityFrames(16).build());
        final long[] files = setUp();
        final List<Future<byte[]>> reads = startReaders(cache, files);
        awaitWaiters(cache, READERS);
        device.gate.countDown();
        for (final Future<byte[]> read : reads)
        {
            final byte[] bytes = read.get(30, TimeUnit.SECONDS);
            for (final byte b : bytes)
            {
                assertEquals(42, b);
            }
        }
        final CacheStats stats = cache.stats();
        assertEquals(1, stats.deviceReads(), stats.toString());
        assertEquals(READERS - 1, stats.sharingHits(), stats.toString());
        assertEquals(1, device.reads);
    }

    @Test
    void aFailedLoadFailsEveryWaiterAndLeavesNoFrame() throws Exception
    {
        final ExtentCache cache = books.track(
            ExtentCache.builder().device(device).translator(store).capacityFrames(16).build());
        final long[] files = setUp();
        device.fail = true;
        final List<Future<byte[]>> reads = startReaders(cache, files);
        awaitWaiters(cache, READERS);
        device.gate.countDown();
        for (final Future<byte[]> read : reads)
        {
            final Exception ex = assertThrows(Exception.class, () -> read.get(30, TimeUnit.SECONDS));
            assertInstanceOf(IOException.class, ex.getCause(), String.valueOf(ex.getCause()));
            assertTrue(ex.getCause().getMessage().contains("device block"), ex.getCause().getMessage());
        }
        assertEquals(0, cache.stats().framesResident());
        assertNull(cache.checkBooks());
        device.fail = false;
        final ByteBuffer dst = ByteBuffer.allocate(PAGE);
        assertEquals(PAGE, cache.file(files[0]).read(0, dst));
        assertEquals(42, dst.get(0));
    }

    private long[] setUp() throws IOException
    {
        final long base = store.create();
        final byte[] page = new byte[PAGE];
        java.util.Arrays.fill(page, (byte)42);
        store.write(base, 0, ByteBuffer.wrap(page));
        final long[] files = new long[READERS];
        files[0] = base;
        for (int i = 1; i < READERS; i++)
        {
            files[i] = store.cloneFile(base);
        }
        return files;
    }

    private List<Future<byte[]>> startReaders(final ExtentCache cache, final long[] files)
    {
        final ExecutorService pool = Executors.newFixedThreadPool(READERS);
        final List<Future<byte[]>> reads = new ArrayList<>();
        for (final long file : files)
        {
            reads.add(pool.submit(() ->
            {
                final ByteBuffer dst = ByteBuffer.allocate(PAGE);
                cache.file(file).read(0, dst);
                return dst.array();
            }));
        }
        pool.shutdown();
        return reads;
    }

    /** Waits until one frame is pinned by the loader plus every other reader. */
    private static void awaitWaiters(final ExtentCache cache, final int pins) throws InterruptedException
    {
        final FrameArena arena = cache.frames().arena();
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline)
        {
            for (int frame = 0; frame < arena.capacity(); frame++)
            {
                final long word = arena.stateWord(frame);
                if (FrameDescriptor.state(word) == FrameDescriptor.LOADING && FrameDescriptor.pins(word) == pins)
                {
                    return;
                }
            }
            Thread.sleep(1);
        }
        fail("readers never all waited on one loading frame");
    }

    /** Holds every read until the gate opens; then reads, or fails if told to. */
    private static final class GatedDevice extends ForwardingBlockDevice
    {
        final CountDownLatch gate = new CountDownLatch(1);
        volatile boolean fail;
        volatile int reads;

        GatedDevice(final BlockDevice delegate)
        {
            super(delegate);
        }

        @Override
        public synchronized void read(final long block, final ByteBuffer dst) throws IOException
        {
            try
            {
                gate.await();
            }
            catch (final InterruptedException ex)
            {
                throw new java.io.InterruptedIOException();
            }
            reads++;
            if (fail)
            {
                throw new IOException("injected failure reading block " + block);
            }
            delegate.read(block, dst);
        }
    }
}
