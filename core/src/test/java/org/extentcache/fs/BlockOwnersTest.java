package org.extentcache.fs;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@link BlockOwners}: which open files vouch for which physical blocks. A seeded random sequence of adds and
 * removes over a small key range is checked against a per-block model of owner sets: after every operation the
 * {@code unowned} callbacks of an add must name exactly the blocks that had no owner, the {@code orphaned}
 * callbacks of a remove exactly the blocks whose last owner left (each block once), and {@code ownersIn} must agree
 * with the model on random ranges.
 *
 * <p>Knobs: {@code -Dextentcache.seed=N} replays the random test (its seed is in every failure message);
 * {@code -Dextentcache.ops=N} sets its operations per run (default 20000).
 */
final class BlockOwnersTest
{
    private static final int BLOCKS = 200;

    @Test
    void addReportsOnlyTheBlocksThatHadNoOwner()
    {
        final BlockOwners owners = new BlockOwners();
        final Object a = "a";
        final Object b = "b";
        assertEquals(blocks(10, 20), blocksOf(add(owners, a, 10, 20)));
        assertEquals(blocks(5, 10, 20, 25), blocksOf(add(owners, b, 5, 25)), "b joins a over [10, 20)");
        assertEquals(Set.of(), blocksOf(add(owners, a, 12, 18)), "a already owns them");
        assertEquals(Set.of(a, b), owners.ownersIn(12, 13));
        assertEquals(Set.of(b), owners.ownersIn(5, 10));
        assertEquals(Set.of(b), owners.ownersIn(24, 30));
        assertEquals(Set.of(), owners.ownersIn(25, 100));
        assertEquals(Set.of(), owners.ownersIn(0, 5));
        assertEquals(Set.of(a, b), owners.ownersIn(0, 100));
    }

    @Test
    void removeReportsOnlyTheBlocksWhoseLastOwnerLeft()
    {
        final BlockOwners owners = new BlockOwners();
        final Object a = "a";
        final Object b = "b";
        add(owners, a, 0, 30);
        add(owners, b, 10, 20);
        assertEquals(blocks(0, 5), blocksOf(remove(owners, a, 0, 5)));
        assertEquals(Set.of(), blocksOf(remove(owners, a, 10, 20)), "b still owns them");
        assertEquals(Set.of(b), owners.ownersIn(10, 20));
        assertEquals(Set.of(), blocksOf(remove(owners, "c", 0, 100)), "c owned nothing");
        assertEquals(blocks(10, 20), blocksOf(remove(owners, b, 0, 100)), "a left [10, 20) before");
        assertEquals(Set.of(a), owners.ownersIn(5, 30));
        assertEquals(Set.of(), owners.ownersIn(10, 20));
        assertEquals(blocks(5, 10, 20, 30), blocksOf(remove(owners, a, 0, 100)));
        assertEquals(0, owners.segmentCount());
        assertEquals(Set.of(), owners.ownersIn(0, 1000));
    }

    @Test
    void anOwnerThatCoversEverythingAgainMergesBackToOneSegment()
    {
        final BlockOwners owners = new BlockOwners();
        add(owners, "a", 0, 100);
        add(owners, "b", 40, 60);
        assertEquals(3, owners.segmentCount());
        remove(owners, "b", 40, 60);
        assertEquals(1, owners.segmentCount(), "a alone again over [0, 100)");
        add(owners, "a", 100, 150);
        assertEquals(1, owners.segmentCount(), "adjacent and owned by the same files");
    }

    @Test
    void keysAsLargeAsPhysicalKeysGetWork()
    {
        final BlockOwners owners = new BlockOwners();
        final long top = BlockKeys.PRIVATE - 1; // the largest physical key
        assertEquals(blocksFrom(top - 10, 10), blocksOf(add(owners, "a", top - 10, top)));
        assertEquals(Set.of("a"), owners.ownersIn(top - 1, top));
        assertEquals(blocksFrom(top - 10, 10), blocksOf(remove(owners, "a", top - 10, top)));
        assertEquals(0, owners.segmentCount());
    }

    @Test
    void invalidRangesAreRejected()
    {
        final BlockOwners owners = new BlockOwners();
        final BlockOwners.RangeConsumer none = (start, end) -> fail("no callback for an invalid range");
        assertThrows(IllegalArgumentException.class, () -> owners.add("a", -1, 5, none));
        assertThrows(IllegalArgumentException.class, () -> owners.add("a", 5, 5, none));
        assertThrows(IllegalArgumentException.class, () -> owners.add("a", 6, 5, none));
        assertThrows(IllegalArgumentException.class, () -> owners.remove("a", -1, 5, none));
        assertThrows(IllegalArgumentException.class, () -> owners.remove("a", 5, 5, none));
        assertThrows(IllegalArgumentException.class, () -> owners.remove("a", 6, 5, none));
        final IllegalArgumentException ex =
            assertThrows(IllegalArgumentException.class, () -> owners.add("a", 9, 3, none));
        assertTrue(ex.getMessage().contains("start=9") && ex.getMessage().contains("end=3"), ex.getMessage());
        assertEquals(0, owners.segmentCount(), "nothing recorded");
    }

    /**
     * Random adds and removes by a few owners over blocks {@code [0, 200)}, against a per-block model.
     */
    @Test
    void randomAddsAndRemovesMatchAPerBlockModel()
    {
        final long seed = Long.getLong("extentcache.seed", System.nanoTime());
        final int operations = Integer.getInteger("extentcache.ops", 20_000);
        final SplittableRandom random = new SplittableRandom(seed);
        final Object[] files = {"file1", "file2", "file3", "file4"};
        final List<Set<Object>> model = new ArrayList<>();
        for (int block = 0; block < BLOCKS; block++)
        {
            model.add(new HashSet<>());
        }
        final BlockOwners owners = new BlockOwners();
        int op = 0;
        String what = "";
        try
        {
            for (op = 0; op < operations; op++)
            {
                final Object owner = files[random.nextInt(files.length)];
                final int start = random.nextInt(BLOCKS);
                final int end = start + 1 + random.nextInt(random.nextInt(8) == 0 ? BLOCKS - start : Math.min(20,
                    BLOCKS - start));
                final Set<Long> expected = new TreeSet<>();
                if (random.nextInt(5) < 3)
                {
                    what = "add(" + owner + ", " + start + ", " + end + ")";
                    for (int block = start; block < end; block++)
                    {
                        if (model.get(block).isEmpty())
                        {
                            expected.add((long)block);
                        }
                        model.get(block).add(owner);
                    }
                    checkReported(expected, add(owners, owner, start, end), start, end);
                }
                else
                {
                    what = "remove(" + owner + ", " + start + ", " + end + ")";
                    for (int block = start; block < end; block++)
                    {
                        if (model.get(block).remove(owner) && model.get(block).isEmpty())
                        {
                            expected.add((long)block);
                        }
                    }
                    checkReported(expected, remove(owners, owner, start, end), start, end);
                }
                for (int i = 0; i < 4; i++)
                {
                    final int from = random.nextInt(BLOCKS + 10);
                    final int to = from + 1 + random.nextInt(BLOCKS + 10 - from);
                    final Set<Object> union = new HashSet<>();
                    for (int block = from; block < Math.min(to, BLOCKS); block++)
                    {
                        union.addAll(model.get(block));
                    }
                    assertEquals(union, new HashSet<>(owners.ownersIn(from, to)), "ownersIn(" + from + ", " + to +
                        ")");
                    if (0 == i && 0 == op % 4)
                    {
                        checkSegments(owners, model, from, to);
                    }
                }
                int owned = 0;
                for (int block = 0; block < BLOCKS; block++)
                {
                    owned += model.get(block).isEmpty() ? 0 : 1;
                }
                assertTrue(owners.segmentCount() <= owned, "segments " + owners.segmentCount() + " > owned blocks " +
                    owned);
            }
            for (int block = 0; block < BLOCKS; block++)
            {
                assertEquals(model.get(block), new HashSet<>(owners.ownersIn(block, block + 1)), "block " + block);
            }
        }
        catch (final AssertionError | RuntimeException ex)
        {
            throw new AssertionError("seed=" + seed + " op " + op + " " + what + " (replay with -Dextentcache.seed=" +
                seed + "): " + ex.getMessage(), ex);
        }
    }

    /**
     * {@code forEachSegment} over {@code [from, to)} names, in order and without overlaps, every owned block of the
     * range with exactly its owners, and no unowned block.
     */
    private static void checkSegments(final BlockOwners owners, final List<Set<Object>> model, final long from,
        final long to)
    {
        final long[] next = {from};
        owners.forEachSegment(from, to, (start, end, segmentOwners) ->
        {
            assertTrue(next[0] <= start && start < end && end <= to, "segment [" + start + ", " + end + ") after " +
                next[0] + " in [" + from + ", " + to + ")");
            for (long block = next[0]; block < start; block++)
            {
                assertEquals(Set.of(), block < BLOCKS ? model.get((int)block) : Set.of(), "block " + block +
                    " is owned but in no segment");
            }
            for (long block = start; block < end; block++)
            {
                assertEquals(model.get((int)block), new HashSet<>(segmentOwners), "owners of block " + block);
            }
            next[0] = end;
        });
        for (long block = next[0]; block < Math.min(to, BLOCKS); block++)
        {
            assertEquals(Set.of(), model.get((int)block), "block " + block + " is owned but in no segment");
        }
    }

    /** The reported ranges lie in the operation's range, do not overlap, and cover exactly the expected blocks. */
    private static void checkReported(final Set<Long> expected, final List<long[]> reported, final long start,
        final long end)
    {
        final Set<Long> seen = new TreeSet<>();
        for (final long[] range : reported)
        {
            assertTrue(start <= range[0] && range[0] < range[1] && range[1] <= end,
                "reported [" + range[0] + ", " + range[1] + ") outside [" + start + ", " + end + ")");
            for (long block = range[0]; block < range[1]; block++)
            {
                assertTrue(seen.add(block), "block " + block + " reported twice");
            }
        }
        assertEquals(expected, seen, "blocks reported");
    }

    private static List<long[]> add(final BlockOwners owners, final Object owner, final long start, final long end)
    {
        final List<long[]> reported = new ArrayList<>();
        owners.add(owner, start, end, (from, to) -> reported.add(new long[] {from, to}));
        return reported;
    }

    private static List<long[]> remove(final BlockOwners owners, final Object owner, final long start,
        final long end)
    {
        final List<long[]> reported = new ArrayList<>();
        owners.remove(owner, start, end, (from, to) -> reported.add(new long[] {from, to}));
        return reported;
    }

    private static Set<Long> blocksOf(final List<long[]> ranges)
    {
        final Set<Long> blocks = new LinkedHashSet<>();
        for (final long[] range : ranges)
        {
            for (long block = range[0]; block < range[1]; block++)
            {
                blocks.add(block);
            }
        }
        return new TreeSet<>(blocks);
    }

    /** Blocks of the ranges {@code [bounds[0], bounds[1]), [bounds[2], bounds[3]), ...}. */
    private static Set<Long> blocks(final long... bounds)
    {
        final Set<Long> blocks = new TreeSet<>();
        for (int i = 0; i < bounds.length; i += 2)
        {
            for (long block = bounds[i]; block < bounds[i + 1]; block++)
            {
                blocks.add(block);
            }
        }
        return blocks;
    }

    private static Set<Long> blocksFrom(final long start, final int count)
    {
        final Set<Long> blocks = new TreeSet<>();
        for (long block = start; block < start + count; block++)
        {
            blocks.add(block);
        }
        return blocks;
    }
}
