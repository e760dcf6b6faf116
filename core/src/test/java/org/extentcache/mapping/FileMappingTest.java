package org.extentcache.mapping;

import org.extentcache.frame.Handle;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

class FileMappingTest
{
    @Test
    void installGetRemoveAcrossTreeHeights()
    {
        final FileMapping mapping = new FileMapping();
        final long[] pages = {0, 1, 511, 512, 32_767, 32_768, 5_000_000, 1L << 40, Long.MAX_VALUE / 4096};
        for (int i = 0; i < pages.length; i++)
        {
            mapping.install(pages[i], Handle.handle(i, 1));
        }
        for (int i = 0; i < pages.length; i++)
        {
            assertEquals(Handle.handle(i, 1), mapping.get(pages[i]), "page " + pages[i]);
        }
        assertEquals(Handle.NONE, mapping.get(2));
        assertEquals(Handle.NONE, mapping.get((1L << 40) + 1));
        assertEquals(pages.length, mapping.handleCount());
        assertFalse(mapping.remove(0, Handle.handle(5, 1)), "remove only the expected handle");
        assertTrue(mapping.remove(0, Handle.handle(0, 1)));
        assertEquals(pages.length - 1, mapping.handleCount());
    }

    @Test
    void clearBumpsVersionAndDropsOnlyTheRange()
    {
        final FileMapping mapping = new FileMapping();
        for (long p = 0; p < 2000; p++)
        {
            mapping.install(p, Handle.handle((int)p, 1));
        }
        final long version = mapping.version();
        mapping.clear(100, 1000);
        assertEquals(version + 1, mapping.version());
        assertEquals(1000, mapping.handleCount());
        assertEquals(Handle.handle(99, 1), mapping.get(99));
        assertEquals(Handle.NONE, mapping.get(100));
        assertEquals(Handle.NONE, mapping.get(1099));
        assertEquals(Handle.handle(1100, 1), mapping.get(1100));

        mapping.clear(1500, Long.MAX_VALUE - 1500);
        assertEquals(500, mapping.handleCount());
        mapping.clearAll();
        assertEquals(0, mapping.handleCount());
        assertEquals(0, mapping.heapBytes());
        assertEquals(Handle.NONE, mapping.get(5));
    }

    /**
     * Clearing a range costs the nodes that exist in it, not its length: a file truncated or reloaded from page 0 to
     * the end, with a few pages cached far apart, visits a few nodes per page (counted, not timed).
     */
    @Test
    void clearingAHugeRangeVisitsOnlyTheNodesThatExist()
    {
        final FileMapping mapping = new FileMapping();
        final long[] pages = {0, 5, 1L << 27, (1L << 28) - 1}; // a 1 TiB file of 4 KiB pages: 2^28 pages
        for (int i = 0; i < pages.length; i++)
        {
            mapping.install(pages[i], Handle.handle(i, 1));
        }
        mapping.clear(1, Long.MAX_VALUE - 1);
        assertEquals(1, mapping.handleCount());
        assertEquals(Handle.handle(0, 1), mapping.get(0));
        for (int i = 1; i < pages.length; i++)
        {
            assertEquals(Handle.NONE, mapping.get(pages[i]), "page " + pages[i]);
        }
        final long height = 4; // 9 + 6 * 3 bits cover 2^27 pages; one more level for 2^28
        assertTrue(mapping.clearVisits() <= pages.length * (height + 1), "visits: " + mapping.clearVisits());

        final long before = mapping.clearVisits();
        mapping.install(Long.MAX_VALUE / 4096, Handle.handle(9, 1)); // the tallest tree
        mapping.clear(0, Long.MAX_VALUE);
        assertEquals(0, mapping.handleCount());
        assertTrue(mapping.clearVisits() - before <= 4L * 12, "visits: " + (mapping.clearVisits() - before));
    }

    /**
     * Seeded random installs and range clears over pages near and far apart (trees of every height) against a map;
     * {@code -Dextentcache.seed=N} replays it (the seed is in every failure message).
     */
    @Test
    void randomClearsMatchAMap()
    {
        final long seed = Long.getLong("extentcache.seed", System.nanoTime());
        final java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
        final FileMapping mapping = new FileMapping();
        final java.util.TreeMap<Long, Long> model = new java.util.TreeMap<>();
        int op = 0;
        try
        {
            for (op = 0; op < 3000; op++)
            {
                final long base = random.nextInt(3) == 0 ? random.nextLong(Long.MAX_VALUE / 2) :
                    random.nextInt(4) * (long)FileMapping.LEAF_SLOTS * FileMapping.NODE_SLOTS;
                if (random.nextInt(3) > 0)
                {
                    final long page = base + random.nextInt(2000);
                    final long handle = Handle.handle(op, 1);
                    mapping.install(page, handle);
                    model.put(page, handle);
                }
                else
                {
                    final long from = base + random.nextInt(2000);
                    final long count = random.nextInt(4) == 0 ? Long.MAX_VALUE - from : random.nextInt(3000);
                    mapping.clear(from, count);
                    model.subMap(from, from + Math.min(count, Long.MAX_VALUE - from)).clear();
                }
                assertEquals(model.size(), mapping.handleCount(), "handles");
                if (op % 50 == 0)
                {
                    for (final java.util.Map.Entry<Long, Long> entry : model.entrySet())
                    {
                        assertEquals(entry.getValue().longValue(), mapping.get(entry.getKey()), "page " +
                            entry.getKey());
                    }
                }
            }
        }
        catch (final AssertionError | RuntimeException ex)
        {
            throw new AssertionError("seed=" + seed + " op " + op + " (replay with -Dextentcache.seed=" + seed + "): " +
                ex.getMessage(), ex);
        }
    }

    @Test
    void aRunIsInstalledOnlyWhileTheVersionHolds()
    {
        final FileMapping mapping = new FileMapping();
        final long version = mapping.version();
        final long[] handles = {Handle.handle(1, 1), Handle.handle(2, 1), Handle.handle(3, 1)};
        mapping.install(11, Handle.handle(9, 1));
        assertEquals(2, mapping.installRunIfVersion(10, handles, 3, version), "a mapped page keeps its handle");
        assertEquals(Handle.handle(1, 1), mapping.get(10));
        assertEquals(Handle.handle(9, 1), mapping.get(11));
        assertEquals(Handle.handle(3, 1), mapping.get(12));
        mapping.clear(20, 1);
        assertEquals(-1, mapping.installRunIfVersion(30, handles, 3, version), "stale translation");
        assertEquals(Handle.NONE, mapping.get(30));
        assertEquals(3, mapping.handleCount());
    }

    @Test
    void costsEightBytesPerCachedPagePlusInteriorNodes()
    {
        final FileMapping mapping = new FileMapping();
        final int pages = 32_768;
        for (long p = 0; p < pages; p++)
        {
            mapping.install(p, Handle.handle(1, 1));
        }
        final long perPage = 8L * pages;
        assertTrue(mapping.heapBytes() >= perPage);
        assertTrue(mapping.heapBytes() <= perPage * 1.02, "heapBytes=" + mapping.heapBytes());
    }

    /** Writers growing the tree while readers look up: a reader never sees a handle that was not installed there. */
    @Test
    void concurrentGrowthLosesNothing() throws Exception
    {
        final FileMapping mapping = new FileMapping();
        final int perThread = 50_000;
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final Thread[] threads = new Thread[3];
        for (int t = 0; t < threads.length; t++)
        {
            final int id = t;
            threads[t] = new Thread(() ->
            {
                try
                {
                    for (int i = 0; i < perThread; i++)
                    {
                        final long page = (long)i * threads.length * 97 + id;
                        mapping.install(page, Handle.handle(id, i + 1));
                        final long back = mapping.get(page);
                        if (back != Handle.handle(id, i + 1))
                        {
                            throw new AssertionError("page " + page + " read back " + Handle.toString(back));
                        }
                    }
                }
                catch (final Throwable ex)
                {
                    failure.compareAndSet(null, ex);
                }
            });
            threads[t].start();
        }
        for (final Thread thread : threads)
        {
            thread.join();
        }
        assertNull(failure.get());
        assertEquals((long)perThread * threads.length, mapping.handleCount());
        for (int t = 0; t < threads.length; t++)
        {
            for (int i = 0; i < perThread; i++)
            {
                assertEquals(Handle.handle(t, i + 1), mapping.get((long)i * threads.length * 97 + t));
            }
        }
    }

    /** Mappings built with shared totals add every change of their counts to them, so the totals equal the sums. */
    @Test
    void sharedTotalsEqualTheSumOfTheMappingsCounts()
    {
        final MappingTotals totals = new MappingTotals();
        final FileMapping first = new FileMapping(totals);
        final FileMapping second = new FileMapping(totals);
        first.install(3, Handle.handle(1, 1));
        first.install(3, Handle.handle(1, 2)); // replaces: no new handle
        first.install(5_000_000, Handle.handle(2, 1)); // a tall tree
        second.installRunIfVersion(10, new long[]{Handle.handle(3, 1), Handle.handle(4, 1)}, 2, second.version());
        assertSums(totals, first, second);
        assertEquals(4, totals.handleCount());
        assertTrue(first.remove(3, Handle.handle(1, 2)));
        second.clear(11, 100);
        assertSums(totals, first, second);
        first.clearAll();
        assertSums(totals, first, second);
        second.clearAll();
        assertEquals(0, totals.handleCount());
        assertEquals(0, totals.heapBytes());
    }

    private static void assertSums(final MappingTotals totals, final FileMapping... mappings)
    {
        long handles = 0;
        long heapBytes = 0;
        for (final FileMapping mapping : mappings)
        {
            handles += mapping.handleCount();
            heapBytes += mapping.heapBytes();
        }
        assertEquals(handles, totals.handleCount(), "handles");
        assertEquals(heapBytes, totals.heapBytes(), "heap bytes");
    }
}
