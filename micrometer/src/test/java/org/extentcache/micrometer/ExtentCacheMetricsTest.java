package org.extentcache.micrometer;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MockClock;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.simple.SimpleConfig;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.extentcache.CacheBooks;
import org.extentcache.CacheStats;
import org.extentcache.ExtentCache;
import org.extentcache.TestThreads;
import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.lang.ref.WeakReference;
import java.nio.ByteBuffer;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.*;

/** {@link ExtentCacheMetrics} over a {@link SimpleMeterRegistry} whose clock the test moves. */
class ExtentCacheMetricsTest
{
    private static final int PAGE = 4096;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    private final MockClock clock = new MockClock();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry(SimpleConfig.DEFAULT, clock);
    private final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 256);
    private final ExtentStore store = new ExtentStore(device);

    private ExtentCache newCache()
    {
        return ExtentCache.builder().device(device).translator(store).capacityFrames(64).build();
    }

    private double counter(final String name, final String... tags)
    {
        return registry.get(name).tags(tags).functionCounter().count();
    }

    private double gauge(final String name, final String... tags)
    {
        return registry.get(name).tags(tags).gauge().value();
    }

    /** Every counter and gauge matches the snapshot stats() gives, after misses, sharing hits and file hits. */
    @Test
    void metersTrackTheCache() throws IOException
    {
        final ExtentCache cache = books.track(newCache());
        ExtentCacheMetrics.monitor(registry, cache, "blocks");
        assertEquals(0, counter("extentcache.requests", "result", "miss"));
        assertEquals(64, gauge("extentcache.frames", "state", "free"));

        final long base = store.create();
        store.write(base, 0, ByteBuffer.wrap(new byte[4 * PAGE]));
        final long clone = store.cloneFile(base);
        cache.file(base).read(0, ByteBuffer.allocate(4 * PAGE));   // 4 device reads
        cache.file(clone).read(0, ByteBuffer.allocate(4 * PAGE));  // sharing hits
        cache.file(base).read(0, ByteBuffer.allocate(4 * PAGE));   // file hits
        clock.add(ExtentCacheMetrics.DEFAULT_SNAPSHOT_WINDOW);

        final CacheStats stats = cache.stats();
        assertEquals(4, stats.deviceReads());
        assertTrue(stats.sharingHits() > 0 && stats.fileHits() > 0, stats.toString());
        assertEquals(stats.deviceReads(), counter("extentcache.requests", "result", "miss", "lookup", "device"));
        assertEquals(stats.sharingHits(), counter("extentcache.requests", "result", "hit", "lookup", "sharing"));
        assertEquals(stats.fileHits(), counter("extentcache.requests", "result", "hit", "lookup", "file"));
        assertEquals(stats.requestCount(),
            registry.get("extentcache.requests").functionCounters().stream().mapToDouble(c -> c.count()).sum());
        assertEquals(stats.reclaims(), counter("extentcache.reclaims"));
        assertEquals(stats.invalidations(), counter("extentcache.invalidations"));
        assertEquals(stats.loadFailures(), counter("extentcache.load.failures"));
        assertEquals(stats.copyOnWrites(), counter("extentcache.copy.on.writes"));
        assertEquals(stats.writebacks(), counter("extentcache.writebacks", "result", "success"));
        assertEquals(stats.writebackFailures(), counter("extentcache.writebacks", "result", "failure"));
        assertEquals(stats.syncFailures(), counter("extentcache.sync.failures"));
        assertEquals(stats.backgroundErrors(), counter("extentcache.background.errors"));

        assertEquals(4, gauge("extentcache.frames", "state", "resident"));
        assertEquals(60, gauge("extentcache.frames", "state", "free"));
        assertEquals(0, gauge("extentcache.frames", "state", "retired"));
        assertEquals(0, gauge("extentcache.frames", "state", "parked"));
        assertEquals(64, gauge("extentcache.frames.capacity"));
        assertEquals(stats.dirtyFrames(), gauge("extentcache.frames.dirty"));
        assertEquals(stats.frameBytesReserved(), gauge("extentcache.offheap.reserved", "region", "frames"));
        assertEquals(stats.offHeapMetadataBytes(), gauge("extentcache.offheap.reserved", "region", "metadata"));
        assertEquals(4L * PAGE, gauge("extentcache.offheap.used", "region", "frames"));
        assertEquals(stats.heapMetadataBytes(), gauge("extentcache.heap.metadata"));
        assertEquals(2, gauge("extentcache.files"));
        assertEquals(stats.handlesHeld(), gauge("extentcache.handles"));
        assertEquals("bytes", registry.get("extentcache.offheap.used").gauge().getId().getBaseUnit());

        // a write dirties a frame; the gauge follows once the window has passed
        cache.file(base).write(0, ByteBuffer.wrap(new byte[PAGE]));
        clock.add(ExtentCacheMetrics.DEFAULT_SNAPSHOT_WINDOW);
        assertEquals(cache.stats().dirtyFrames(), gauge("extentcache.frames.dirty"));
        assertTrue(gauge("extentcache.frames.dirty") > 0);
        cache.flush();
    }

    /** Every meter carries the cache tag and the caller's tags. */
    @Test
    void everyMeterIsTagged()
    {
        final ExtentCache cache = books.track(newCache());
        new ExtentCacheMetrics(cache, "blocks", Tags.of("tier", "ssd", "node", "a")).bindTo(registry);
        assertEquals(23, registry.getMeters().size(), "11 counters and 12 gauges");
        for (final Meter meter : registry.getMeters())
        {
            assertTrue(meter.getId().getName().startsWith("extentcache."), meter.getId().toString());
            assertEquals("blocks", meter.getId().getTag("cache"), meter.getId().toString());
            assertEquals("ssd", meter.getId().getTag("tier"), meter.getId().toString());
            assertEquals("a", meter.getId().getTag("node"), meter.getId().toString());
        }
    }

    /** Two caches bound to one registry are told apart by their cache tag. */
    @Test
    void twoCachesAreToldApartByTheirTag() throws IOException
    {
        final ExtentCache first = books.track(newCache());
        final ExtentCache second = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(32).build());
        ExtentCacheMetrics.monitor(registry, first, "first");
        ExtentCacheMetrics.monitor(registry, second, "second");
        final long file = store.create();
        store.write(file, 0, ByteBuffer.wrap(new byte[PAGE]));
        first.file(file).read(0, ByteBuffer.allocate(PAGE));
        assertEquals(1, registry.get("extentcache.requests").tags("cache", "first", "result", "miss")
            .functionCounter().count());
        assertEquals(0, registry.get("extentcache.requests").tags("cache", "second", "result", "miss")
            .functionCounter().count());
        assertEquals(32, registry.get("extentcache.frames.capacity").tags("cache", "second").gauge().value());
    }

    /** Within the window the meters read one snapshot, so that a scrape's meters agree; after it, a fresh one. */
    @Test
    void oneSnapshotServesTheWindow() throws IOException
    {
        final ExtentCache cache = books.track(newCache());
        ExtentCacheMetrics.monitor(registry, cache, "blocks");
        assertEquals(0, counter("extentcache.requests", "result", "miss"));
        final long file = store.create();
        store.write(file, 0, ByteBuffer.wrap(new byte[PAGE]));
        cache.file(file).read(0, ByteBuffer.allocate(PAGE));

        assertEquals(0, counter("extentcache.requests", "result", "miss"), "the snapshot taken at the last read");
        assertEquals(0, gauge("extentcache.frames", "state", "resident"));
        clock.add(ExtentCacheMetrics.DEFAULT_SNAPSHOT_WINDOW.minusNanos(1));
        assertEquals(0, counter("extentcache.requests", "result", "miss"), "still in the window");
        clock.add(Duration.ofNanos(1));
        assertEquals(1, counter("extentcache.requests", "result", "miss"));
        assertEquals(1, gauge("extentcache.frames", "state", "resident"));
    }

    /** A zero window takes a snapshot per read. */
    @Test
    void aZeroWindowReadsThrough() throws IOException
    {
        final ExtentCache cache = books.track(newCache());
        new ExtentCacheMetrics(cache, "blocks", Tags.empty(), Duration.ZERO).bindTo(registry);
        assertEquals(0, counter("extentcache.requests", "result", "miss"));
        final long file = store.create();
        store.write(file, 0, ByteBuffer.wrap(new byte[PAGE]));
        cache.file(file).read(0, ByteBuffer.allocate(PAGE));
        assertEquals(1, counter("extentcache.requests", "result", "miss"));
    }

    /**
     * Once the cache is closed the gauges read NaN at once (even inside a snapshot's window) and the counters keep
     * the last snapshot's counts; nothing throws.
     */
    @Test
    void aClosedCacheLeavesNaNGaugesAndFinalCounts() throws IOException
    {
        final ExtentCache cache = newCache();
        ExtentCacheMetrics.monitor(registry, cache, "blocks");
        final long file = store.create();
        store.write(file, 0, ByteBuffer.wrap(new byte[PAGE]));
        cache.file(file).read(0, ByteBuffer.allocate(PAGE));
        clock.add(ExtentCacheMetrics.DEFAULT_SNAPSHOT_WINDOW);
        assertEquals(1, counter("extentcache.requests", "result", "miss"));
        assertEquals(1, gauge("extentcache.frames", "state", "resident"));

        CacheBooks.check(cache); // closes it
        assertTrue(Double.isNaN(gauge("extentcache.frames", "state", "resident")));
        assertTrue(Double.isNaN(gauge("extentcache.offheap.reserved", "region", "frames")));
        clock.add(ExtentCacheMetrics.DEFAULT_SNAPSHOT_WINDOW);
        assertEquals(1, counter("extentcache.requests", "result", "miss"), "a counter never goes back");
        assertEquals(0, counter("extentcache.requests", "result", "hit", "lookup", "sharing"));
        assertTrue(Double.isNaN(gauge("extentcache.frames.capacity")));
    }

    /** Binding to a closed cache is misuse; so are a negative window and odd tags. */
    @Test
    void misuseFailsFast()
    {
        final ExtentCache cache = newCache();
        assertThrows(IllegalArgumentException.class,
            () -> new ExtentCacheMetrics(cache, "blocks", Tags.empty(), Duration.ofNanos(-1)));
        assertThrows(IllegalArgumentException.class, () -> ExtentCacheMetrics.monitor(registry, cache, "b", "odd"));
        assertThrows(NullPointerException.class, () -> new ExtentCacheMetrics(null, "blocks", Tags.empty()));
        CacheBooks.check(cache);
        final IllegalStateException closed = assertThrows(IllegalStateException.class,
            () -> ExtentCacheMetrics.monitor(registry, cache, "blocks"));
        assertTrue(closed.getMessage().contains("blocks"), closed.getMessage());
    }

    /** The meters do not keep a cache alive: once closed and unreferenced it is collected though still bound. */
    @Test
    void theRegistryDoesNotKeepTheCacheAlive()
    {
        final WeakReference<ExtentCache> collected = bindAndClose();
        for (int round = 0; round < 50 && null != collected.get(); round++)
        {
            System.gc();
        }
        assertNull(collected.get(), "a bound cache stayed reachable");
        assertTrue(Double.isNaN(gauge("extentcache.frames.capacity")));
        assertEquals(0, counter("extentcache.requests", "result", "miss"));
    }

    private WeakReference<ExtentCache> bindAndClose()
    {
        final ExtentCache cache = newCache();
        ExtentCacheMetrics.monitor(registry, cache, "blocks");
        CacheBooks.check(cache);
        return new WeakReference<>(cache);
    }

    /**
     * A counter never goes back, even when two scrapes refresh at once: a scrape that took its snapshot first but
     * publishes it last must not replace the other's newer one. The first scrape is held between its
     * {@code stats()} call and its publish while the cache counts more hits and a second scrape reads.
     */
    @Test
    void aSlowScrapeNeverPublishesAnOlderSnapshotOverANewerOne() throws Exception
    {
        final ExtentCache cache = books.track(newCache());
        final java.util.concurrent.CountDownLatch taken = new java.util.concurrent.CountDownLatch(1);
        final java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        final java.util.concurrent.atomic.AtomicBoolean holdNext = new java.util.concurrent.atomic.AtomicBoolean();
        new ExtentCacheMetrics(cache, "blocks", Tags.empty(), ExtentCacheMetrics.DEFAULT_SNAPSHOT_WINDOW, c ->
        {
            final CacheStats stats = c.stats();
            if (holdNext.compareAndSet(true, false))
            {
                taken.countDown();
                try
                {
                    release.await();
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                }
            }
            return stats;
        }).bindTo(registry);
        final long id = store.create();
        store.write(id, 0, ByteBuffer.wrap(new byte[4 * PAGE]));
        final java.util.List<Double> seen = new java.util.ArrayList<>();
        seen.add(counter("extentcache.requests", "result", "miss", "lookup", "device"));
        clock.add(ExtentCacheMetrics.DEFAULT_SNAPSHOT_WINDOW.multipliedBy(2));

        holdNext.set(true);
        // a thread per scrape (TestThreads.POOL): on 2 cores the common pool may run the second after the first, and
        // the first waits for the second here
        final java.util.concurrent.CompletableFuture<Double> slow = java.util.concurrent.CompletableFuture.supplyAsync(
            () -> counter("extentcache.requests", "result", "miss", "lookup", "device"), TestThreads.POOL);
        assertTrue(taken.await(10, java.util.concurrent.TimeUnit.SECONDS));
        cache.file(id).read(0, ByteBuffer.allocate(4 * PAGE)); // 4 device reads after the slow scrape's snapshot
        final Thread[] reader = new Thread[1];
        final java.util.concurrent.CompletableFuture<Double> fast = java.util.concurrent.CompletableFuture.supplyAsync(
            () ->
            {
                reader[0] = Thread.currentThread();
                return counter("extentcache.requests", "result", "miss", "lookup", "device");
            }, TestThreads.POOL);
        // the second scrape either finishes or waits for the first; either way the first may go on now
        final long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
        while (!fast.isDone() && (null == reader[0] || reader[0].getState() != Thread.State.BLOCKED))
        {
            assertTrue(System.nanoTime() - deadline < 0, "the second scrape neither finished nor waited");
            Thread.onSpinWait();
        }
        release.countDown();
        seen.add(fast.get(10, java.util.concurrent.TimeUnit.SECONDS));
        slow.get(10, java.util.concurrent.TimeUnit.SECONDS);
        seen.add(counter("extentcache.requests", "result", "miss", "lookup", "device"));
        clock.add(ExtentCacheMetrics.DEFAULT_SNAPSHOT_WINDOW.multipliedBy(2));
        seen.add(counter("extentcache.requests", "result", "miss", "lookup", "device"));
        for (int i = 1; i < seen.size(); i++)
        {
            assertTrue(seen.get(i) >= seen.get(i - 1), "the counter went back: " + seen);
        }
        assertEquals(4.0, seen.get(seen.size() - 1), seen.toString());
    }
}
