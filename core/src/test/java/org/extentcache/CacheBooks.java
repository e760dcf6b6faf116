package org.extentcache;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * Checks the books after every test (register with {@code @RegisterExtension}): for each cache the test built
 * through {@link #track}, no pin is held, every frame is free, retired or resident and indexed, the statistics add
 * up (and the figures {@link ExtentCache#stats()} keeps as counters equal a walk over the files), and closing the cache returns exactly its reserved off-heap bytes to the JVM's direct-memory pool.
 */
public final class CacheBooks implements AfterEachCallback
{
    private final List<ExtentCache> caches = new ArrayList<>();

    /**
     * @param cache a cache the current test built.
     * @return the cache.
     */
    public ExtentCache track(final ExtentCache cache)
    {
        caches.add(cache);
        return cache;
    }

    @Override
    public void afterEach(final ExtensionContext context)
    {
        try
        {
            for (final ExtentCache cache : caches)
            {
                if (!cache.isClosed())
                {
                    check(cache);
                }
            }
        }
        finally
        {
            caches.forEach(ExtentCache::close);
            caches.clear();
        }
    }

    /**
     * Checks one cache's books and closes it.
     *
     * @param cache an open cache with no operation in flight.
     */
    public static void check(final ExtentCache cache)
    {
        assertNull(cache.checkBooks(), "books");
        final CacheStats stats = cache.stats();
        assertEquals(stats.capacityFrames(),
            stats.framesResident() + stats.framesFree() + stats.framesRetired() + stats.framesParked(),
            "frames add up: " + stats);
        assertEquals((long)stats.framesResident() * stats.pageSize(), stats.frameBytesInUse());
        final long[] walked = cache.walkMappingFigures();
        assertEquals(walked[0], stats.heapMetadataBytes(), "mapping heap bytes kept as counters equal the walk's");
        assertEquals(walked[1], stats.handlesHeld(), "handles kept as counters equal the walk's");
        assertEquals(walked[2], stats.filesMapped(), "files kept as a counter equal the walk's");
        final long reserved = stats.offHeapBytesReserved();
        final long before = quietDirectBytesUsed();
        cache.close();
        assertEquals(reserved, before - directBytesUsed(), "close returns every reserved off-heap byte");
    }

    /**
     * The direct pool's use once garbage direct buffers of earlier tests (devices never closed, bounce pages of
     * threads gone) have been freed: collections until one frees nothing more, so that their cleaners do not free
     * memory in the middle of a measurement and make it look as if close freed more than it reserved.
     *
     * @return bytes the JVM's direct buffer pool has in use, settled.
     */
    public static long quietDirectBytesUsed()
    {
        // rounds of a collection and a pause until one round frees nothing more: the cleaners of direct buffers run
        // after the collection, on the reference handler, so one quiet read right after System.gc() proves nothing
        long used = directBytesUsed();
        for (int round = 0; round < 10; round++)
        {
            System.gc();
            try
            {
                Thread.sleep(10);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                break;
            }
            final long now = directBytesUsed();
            if (now == used && round > 0)
            {
                break;
            }
            used = now;
        }
        return used;
    }

    /**
     * @return bytes the JVM's direct buffer pool has in use.
     */
    public static long directBytesUsed()
    {
        for (final BufferPoolMXBean pool : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class))
        {
            if ("direct".equals(pool.getName()))
            {
                return pool.getMemoryUsed();
            }
        }
        throw new IllegalStateException("no direct buffer pool");
    }
}
