package org.extentcache;

import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.*;

/** {@link CacheStats}' rates and arithmetic, in the style of Caffeine's. */
class CacheStatsTest
{
    private static final int PAGE = 4096;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    @Test
    void ratesAndDifferencesFollowTheCounters() throws IOException
    {
        final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 256);
        final ExtentStore store = new ExtentStore(device);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(64).build());
        assertEquals(1.0, cache.stats().hitRate());
        assertEquals(0.0, cache.stats().missRate());
        final long base = store.create();
        store.write(base, 0, ByteBuffer.wrap(new byte[4 * PAGE]));
        final long clone = store.cloneFile(base);

        final CacheStats before = cache.stats();
        cache.file(base).read(0, ByteBuffer.allocate(4 * PAGE));   // 4 device reads
        cache.file(clone).read(0, ByteBuffer.allocate(4 * PAGE));  // 4 sharing hits
        final CacheStats delta = cache.stats().minus(before);
        assertEquals(4, delta.deviceReads());
        assertTrue(delta.sharingHits() + delta.fileHits() >= 4, delta.toString()); // fault-around maps pages ahead
        final long requests = delta.fileHits() + delta.sharingHits() + delta.deviceReads();
        assertEquals(requests, delta.requestCount());
        assertEquals((double)(requests - 4) / requests, delta.hitRate(), 1e-12);
        assertEquals(4.0 / requests, delta.missRate(), 1e-12);
        assertEquals(1.0, delta.hitRate() + delta.missRate(), 1e-12);
        assertEquals(4, delta.framesResident(), "gauges are the later snapshot's");
        assertEquals(0, before.minus(cache.stats()).deviceReads(), "a difference is never negative");

        final CacheStats twice = delta.plus(delta);
        assertEquals(8, twice.deviceReads());
        assertEquals(8, twice.framesResident());
        assertEquals(delta.hitRate(), twice.hitRate(), 1e-12);
    }

    /** Polling statistics never waits for a miss: another thread holding the allocation lock does not block it. */
    @Test
    void statsDoNotWaitForTheAllocationLock() throws Exception
    {
        final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 256);
        final ExtentStore store = new ExtentStore(device);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(64).build());
        final java.util.concurrent.CountDownLatch held = new java.util.concurrent.CountDownLatch(1);
        final java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        final Thread holder = new Thread(() ->
        {
            cache.frames().allocationLock().lock();
            try
            {
                held.countDown();
                release.await();
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
            finally
            {
                cache.frames().allocationLock().unlock();
            }
        });
        holder.start();
        try
        {
            assertTrue(held.await(10, java.util.concurrent.TimeUnit.SECONDS));
            final java.util.concurrent.CompletableFuture<CacheStats> stats =
                java.util.concurrent.CompletableFuture.supplyAsync(cache::stats, TestThreads.POOL);
            assertEquals(64, stats.get(10, java.util.concurrent.TimeUnit.SECONDS).framesFree());
        }
        finally
        {
            release.countDown();
            holder.join();
        }
    }
}
