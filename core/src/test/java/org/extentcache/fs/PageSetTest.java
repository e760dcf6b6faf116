package org.extentcache.fs;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@link PageSet}: a seeded random sequence of adds and range removals against a {@link TreeSet} model (removals
 * must report exactly the removed pages, as maximal ascending runs), the range's edges, and adds from several
 * threads at once.
 *
 * <p>Knobs: {@code -Dextentcache.seed=N} replays the random test (its seed is in every failure message);
 * {@code -Dextentcache.ops=N} sets its operations (default 20000).
 */
final class PageSetTest
{
    @Test
    void removeReportsMaximalRunsAcrossWordsAndLeaves()
    {
        final PageSet set = new PageSet();
        for (long page = 60; page < 4100; page++)
        {
            set.add(page); // crosses words and a leaf boundary (4096)
        }
        set.add(5000);
        set.add(PageSet.LIMIT - 1);
        assertFalse(set.add(70), "already there");
        assertEquals(4042, set.size());
        final List<long[]> runs = new ArrayList<>();
        set.removeRuns(64, Long.MAX_VALUE, (from, to) -> runs.add(new long[] {from, to}));
        assertEquals(3, runs.size(), () -> describe(runs));
        assertRun(runs.get(0), 64, 4100);
        assertRun(runs.get(1), 5000, 5001);
        assertRun(runs.get(2), PageSet.LIMIT - 1, PageSet.LIMIT);
        assertEquals(4, set.size(), "pages 60-63 stay");
        assertTrue(set.contains(63) && !set.contains(64));
        set.removeRuns(0, 64, (from, to) -> assertRun(new long[] {from, to}, 60, 64));
        assertTrue(set.isEmpty(), "emptied nodes are unlinked");
    }

    @Test
    void aHugeRangeWithOnePageCostsOnePage()
    {
        final PageSet set = new PageSet();
        set.add(1L << 35);
        final List<long[]> runs = new ArrayList<>();
        set.removeRuns(0, PageSet.LIMIT, (from, to) -> runs.add(new long[] {from, to}));
        assertEquals(1, runs.size());
        assertRun(runs.get(0), 1L << 35, (1L << 35) + 1);
        set.removeRuns(0, PageSet.LIMIT, (from, to) -> fail("nothing left: " + from));
    }

    @Test
    void pagesOutOfRangeAreRefused()
    {
        final PageSet set = new PageSet();
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> set.add(-1));
        assertTrue(ex.getMessage().contains("page=-1"), ex.getMessage());
        assertThrows(IllegalArgumentException.class, () -> set.add(PageSet.LIMIT));
        assertFalse(set.contains(-1));
        assertFalse(set.contains(PageSet.LIMIT));
        set.removeRuns(5, 5, (from, to) -> fail("empty range"));
        set.removeRuns(7, 3, (from, to) -> fail("empty range"));
    }

    @Test
    void randomAddsAndRemovesMatchATreeSet()
    {
        final long seed = Long.getLong("extentcache.seed", System.nanoTime());
        final int operations = Integer.getInteger("extentcache.ops", 20_000);
        final SplittableRandom random = new SplittableRandom(seed);
        final TreeSet<Long> model = new TreeSet<>();
        final PageSet set = new PageSet();
        int op = 0;
        try
        {
            for (op = 0; op < operations; op++)
            {
                final long base = random.nextInt(4) == 0 ? random.nextLong(PageSet.LIMIT - 20_000) :
                    random.nextInt(3) * 4096L;
                if (random.nextInt(3) > 0)
                {
                    final long page = base + random.nextInt(random.nextBoolean() ? 200 : 20_000);
                    assertEquals(model.add(page), set.add(page), "add(" + page + ")");
                }
                else
                {
                    final long from = random.nextInt(8) == 0 ? 0 : base + random.nextInt(10_000);
                    final long to = random.nextInt(8) == 0 ? Long.MAX_VALUE : from + random.nextInt(12_000);
                    final TreeSet<Long> expected = new TreeSet<>(model.subSet(from, Math.max(from, to)));
                    model.removeAll(expected);
                    final List<long[]> runs = new ArrayList<>();
                    set.removeRuns(from, to, (a, b) -> runs.add(new long[] {a, b}));
                    checkRuns(expected, runs);
                }
                if (op % 64 == 0)
                {
                    assertEquals(model.size(), set.size(), "size");
                    assertEquals(model.isEmpty(), set.isEmpty(), "isEmpty");
                    for (int i = 0; i < 8 && !model.isEmpty(); i++)
                    {
                        final Long probe = model.ceiling(random.nextLong(PageSet.LIMIT));
                        final long page = null == probe ? model.first() : probe;
                        assertTrue(set.contains(page), "contains(" + page + ")");
                        assertEquals(model.contains(page + 1), set.contains(page + 1), "contains(" + (page + 1) + ")");
                    }
                }
            }
        }
        catch (final AssertionError | RuntimeException ex)
        {
            throw new AssertionError("seed=" + seed + " op " + op + " (replay with -Dextentcache.seed=" + seed +
                "): " + ex.getMessage(), ex);
        }
    }

    @Test
    void addsFromSeveralThreadsAreAllKept() throws InterruptedException
    {
        final PageSet set = new PageSet();
        final int threads = 4;
        final int perThread = 50_000;
        final CountDownLatch start = new CountDownLatch(1);
        final ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        final List<Thread> started = new ArrayList<>();
        for (int t = 0; t < threads; t++)
        {
            final int offset = t;
            final Thread thread = new Thread(() ->
            {
                try
                {
                    start.await();
                    // interleaved pages: the threads race on the same words, leaves and nodes
                    for (long i = 0; i < perThread; i++)
                    {
                        set.add(i * threads + offset);
                        set.add(i * threads); // every thread also adds thread 0's pages
                    }
                }
                catch (final Throwable ex)
                {
                    failures.add(ex);
                }
            });
            thread.start();
            started.add(thread);
        }
        start.countDown();
        for (final Thread thread : started)
        {
            thread.join();
        }
        assertTrue(failures.isEmpty(), () -> failures.toString());
        assertEquals((long)threads * perThread, set.size());
        for (long page = 0; page < (long)threads * perThread; page++)
        {
            assertTrue(set.contains(page), "page " + page);
        }
    }

    /** The runs are ascending, maximal, disjoint, and cover exactly the expected pages. */
    private static void checkRuns(final TreeSet<Long> expected, final List<long[]> runs)
    {
        final TreeSet<Long> seen = new TreeSet<>();
        long previousEnd = -2;
        for (final long[] run : runs)
        {
            assertTrue(run[0] < run[1], () -> "empty run in " + describe(runs));
            assertTrue(run[0] > previousEnd, () -> "runs not ascending and maximal: " + describe(runs));
            for (long page = run[0]; page < run[1]; page++)
            {
                seen.add(page);
            }
            previousEnd = run[1];
        }
        assertEquals(expected, seen, () -> "removed pages, runs " + describe(runs));
    }

    private static void assertRun(final long[] run, final long from, final long to)
    {
        assertEquals(from, run[0], "run start");
        assertEquals(to, run[1], "run end");
    }

    private static String describe(final List<long[]> runs)
    {
        final StringBuilder text = new StringBuilder();
        for (final long[] run : runs)
        {
            text.append('[').append(run[0]).append(", ").append(run[1]).append(") ");
        }
        return text.toString();
    }
}
