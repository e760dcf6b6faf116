package org.extentcache;

import org.extentcache.device.ForwardingBlockDevice;
import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code CachedFile.flush} (and so {@code FileChannel.force}) writes back only its own file, and flushes that wait
 * for a device sync at the same time share one (group commit): N files flushed together over one device cost one
 * sync, not N. A shared sync that fails fails every flush it covered, and each one's pages stay dirty.
 */
class GroupCommitTest
{
    private static final int PAGE = 4096;
    private static final int FILES = 4;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    private final GatedDevice device = new GatedDevice(PAGE, 4096);
    private final ExtentStore store = new ExtentStore(device);

    private ExtentCache cache()
    {
        return books.track(ExtentCache.builder().device(device).translator(store).capacityFrames(64)
            .claimTimeout(Duration.ofSeconds(3)).build());
    }

    private CachedFile[] filesWithOneDirtyPageEach(final ExtentCache cache) throws IOException
    {
        final CachedFile[] files = new CachedFile[FILES];
        for (int i = 0; i < FILES; i++)
        {
            files[i] = cache.file(store.create());
            files[i].write(0, ByteBuffer.wrap(filled((byte)(i + 1))));
            assertEquals(1, files[i].dirtyPageCount());
        }
        return files;
    }

    @Test
    void aFlushWritesBackOnlyItsOwnFile() throws Exception
    {
        final ExtentCache cache = cache();
        final CachedFile[] files = filesWithOneDirtyPageEach(cache);
        final int writesBefore = device.writes.get();
        files[0].flush();
        assertEquals(writesBefore + 1, device.writes.get(), "one page written back: file 0's only");
        assertEquals(1, device.syncs.get());
        for (int i = 1; i < FILES; i++)
        {
            assertEquals(1, files[i].dirtyPageCount(), "file " + i + " must not be written back by file 0's flush");
        }
        cache.flush();
    }

    @Test
    void flushesWaitingTogetherShareOneDeviceSync() throws Exception
    {
        final ExtentCache cache = cache();
        final CachedFile[] files = filesWithOneDirtyPageEach(cache);
        device.gate();
        final ExecutorService pool = Executors.newFixedThreadPool(FILES);
        try
        {
            // file 0's flush holds the device sync; the others write back and queue behind it
            final Future<?> first = pool.submit(() -> flush(files[0]));
            device.awaitSyncsEntered(1);
            final List<Future<?>> rest = new ArrayList<>();
            for (int i = 1; i < FILES; i++)
            {
                final CachedFile file = files[i];
                rest.add(pool.submit(() -> flush(file)));
            }
            awaitWrites(FILES);
            waitUntilQueued(FILES - 1);
            device.open(); // the held sync and whatever follows
            first.get(30, TimeUnit.SECONDS);
            for (final Future<?> flush : rest)
            {
                flush.get(30, TimeUnit.SECONDS);
            }
        }
        finally
        {
            device.open();
            pool.shutdownNow();
        }
        assertEquals(2, device.syncs.get(), "file 0's sync, then one sync shared by the " + (FILES - 1) + " others");
        for (final CachedFile file : files)
        {
            assertEquals(0, file.dirtyPageCount());
            assertArrayEquals(filled((byte)(Arrays.asList(files).indexOf(file) + 1)), onDevice(file.id()));
        }
    }

    @Test
    void aSharedSyncThatFailsFailsEveryFlushItCoveredAndTheirPagesStayDirty() throws Exception
    {
        final ExtentCache cache = cache();
        final CachedFile[] files = filesWithOneDirtyPageEach(cache);
        device.gate();
        device.failSync(2); // the shared one
        final ExecutorService pool = Executors.newFixedThreadPool(FILES);
        final List<Future<?>> rest = new ArrayList<>();
        try
        {
            final Future<?> first = pool.submit(() -> flush(files[0]));
            device.awaitSyncsEntered(1);
            for (int i = 1; i < FILES; i++)
            {
                final CachedFile file = files[i];
                rest.add(pool.submit(() -> flush(file)));
            }
            awaitWrites(FILES);
            waitUntilQueued(FILES - 1);
            device.open();
            first.get(30, TimeUnit.SECONDS);
            for (final Future<?> flush : rest)
            {
                final ExecutionException failed = assertThrows(ExecutionException.class,
                    () -> flush.get(30, TimeUnit.SECONDS));
                assertInstanceOf(IOException.class, failed.getCause().getCause(), failed.toString());
            }
        }
        finally
        {
            device.open();
            pool.shutdownNow();
        }
        assertEquals(2, device.syncs.get());
        assertEquals(0, files[0].dirtyPageCount());
        for (int i = 1; i < FILES; i++)
        {
            assertEquals(1, files[i].dirtyPageCount(), "file " + i + ": its shared sync failed, so its page stays dirty");
        }
        for (int i = 1; i < FILES; i++)
        {
            files[i].flush(); // each syncs again, now alone, and succeeds
            assertEquals(0, files[i].dirtyPageCount());
            assertArrayEquals(filled((byte)(i + 1)), onDevice(files[i].id()));
        }
    }

    private static void flush(final CachedFile file)
    {
        try
        {
            file.flush();
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    private void awaitWrites(final int writes) throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (device.writes.get() < writes && System.nanoTime() < deadline)
        {
            Thread.sleep(1);
        }
        assertTrue(device.writes.get() >= writes, "write-backs did not happen: " + device.writes.get());
    }

    /** The flushes queue on the device's sync lock once their writes are done; give them the moment to get there. */
    private static void waitUntilQueued(final int threads) throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline)
        {
            int waiting = 0;
            for (final Thread thread : Thread.getAllStackTraces().keySet())
            {
                if (thread.getState() == Thread.State.WAITING && Arrays.stream(thread.getStackTrace())
                    .anyMatch(frame -> frame.getClassName().equals(DeviceSync.class.getName())))
                {
                    waiting++;
                }
            }
            if (waiting >= threads)
            {
                return;
            }
            Thread.sleep(1);
        }
        fail("flushes never queued on the device sync");
    }

    private byte[] onDevice(final long file) throws IOException
    {
        final ByteBuffer dst = ByteBuffer.allocate(PAGE);
        store.read(file, 0, dst);
        return dst.array();
    }

    private static byte[] filled(final byte value)
    {
        final byte[] bytes = new byte[PAGE];
        Arrays.fill(bytes, value);
        return bytes;
    }

    /** A memory device whose syncs wait at a gate the test opens, and whose n-th sync can fail. */
    private static final class GatedDevice extends ForwardingBlockDevice
    {
        final AtomicInteger writes = new AtomicInteger();
        final AtomicInteger syncs = new AtomicInteger();
        private final Semaphore entered = new Semaphore(0);
        private volatile CountDownLatch gate = new CountDownLatch(0);
        private volatile int failingSync;

        GatedDevice(final int blockSize, final long blocks)
        {
            super(new MemoryBlockDevice(blockSize, blocks));
        }

        void gate()
        {
            gate = new CountDownLatch(1);
        }

        void open()
        {
            gate.countDown();
        }

        void failSync(final int n)
        {
            failingSync = n;
        }

        void awaitSyncsEntered(final int n) throws InterruptedException
        {
            assertTrue(entered.tryAcquire(n, 30, TimeUnit.SECONDS), "no sync entered");
        }

        @Override
        public void write(final long block, final ByteBuffer src) throws IOException
        {
            writes.incrementAndGet();
            delegate.write(block, src);
        }

        @Override
        public void sync() throws IOException
        {
            final int n = syncs.incrementAndGet();
            entered.release();
            try
            {
                if (!gate.await(30, TimeUnit.SECONDS))
                {
                    throw new IOException("gated sync was never let through");
                }
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", ex);
            }
            if (n == failingSync)
            {
                throw new IOException("scripted failure of sync " + n);
            }
            delegate.sync();
        }
    }
}
