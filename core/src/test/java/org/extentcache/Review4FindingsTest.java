package org.extentcache;

import org.extentcache.device.CrashingBlockDevice;
import org.extentcache.device.ForwardingBlockDevice;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** Review 4: the cache-wide flush's commit phase. */
class Review4FindingsTest
{
    private static final int PAGE = 4096;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    /**
     * A file written and then flushed by {@link ExtentCache#flush()} must survive a crash once the flush returned,
     * even if another thread held the file's writer lock (without writing: a translator change's bracket, the
     * background write-back, a miss writing back for room) while the flush committed. The commit phase's tryLock
     * skipped such a file: its data was on the device but its metadata never committed.
     */
    @Test
    void aCacheWideFlushCommitsAFileWhoseLockWasBusyAtCommitTime() throws Exception
    {
        final CrashingBlockDevice crashing = new CrashingBlockDevice(PAGE, 2048);
        final HookedDevice device = new HookedDevice(crashing);
        final ExtentStore store = ExtentStore.format(device);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(64).claimTimeout(Duration.ofSeconds(3)).build());
        final long id = store.create();
        final CachedFile file = cache.file(id);
        file.flush(); // the file's creation is durable: only what flush() is asked to keep is at stake
        file.write(0, ByteBuffer.wrap(filled((byte)5, 2 * PAGE)));

        final CountDownLatch held = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final CompletableFuture<Void> holder = new CompletableFuture<>();
        device.onNextSync = () ->
        {
            // while the flush syncs (after its write-back), another thread takes the file's writer lock
            TestThreads.POOL.execute(() ->
            {
                file.writeback().lock();
                try
                {
                    held.countDown();
                    release.await(30, TimeUnit.SECONDS);
                    holder.complete(null);
                }
                catch (final InterruptedException ex)
                {
                    holder.completeExceptionally(ex);
                }
                finally
                {
                    file.writeback().unlock();
                }
            });
            try
            {
                assertTrue(held.await(30, TimeUnit.SECONDS));
            }
            catch (final InterruptedException ex)
            {
                throw new IllegalStateException(ex);
            }
        };
        final CompletableFuture<Void> flush = CompletableFuture.runAsync(() ->
        {
            try
            {
                cache.flush();
            }
            catch (final IOException ex)
            {
                throw new IllegalStateException(ex);
            }
        }, TestThreads.POOL);
        try
        {
            flush.get(2, TimeUnit.SECONDS);
        }
        catch (final java.util.concurrent.TimeoutException waiting)
        {
            // the fixed flush waits for the holder, who writes nothing
        }
        release.countDown();
        flush.get(30, TimeUnit.SECONDS);
        holder.get(30, TimeUnit.SECONDS);

        final ExtentStore recovered = ExtentStore.open(crashing.syncedImage());
        try
        {
            final ByteBuffer dst = ByteBuffer.allocate(2 * PAGE);
            assertEquals(2 * PAGE, recovered.size(id), "flush() returned: the file's metadata is durable");
            recovered.read(id, 0, dst);
            assertArrayEquals(filled((byte)5, 2 * PAGE), dst.array());
        }
        finally
        {
            recovered.close();
        }
    }

    private static byte[] filled(final byte value, final int length)
    {
        final byte[] bytes = new byte[length];
        Arrays.fill(bytes, value);
        return bytes;
    }

    /** Runs a hook once, at the next sync, before syncing. */
    private static final class HookedDevice extends ForwardingBlockDevice
    {
        volatile Runnable onNextSync;

        HookedDevice(final CrashingBlockDevice inner)
        {
            super(inner);
        }

        @Override
        public void sync() throws IOException
        {
            final Runnable hook = onNextSync;
            onNextSync = null;
            if (null != hook)
            {
                hook.run();
            }
            delegate.sync();
        }
    }
}
