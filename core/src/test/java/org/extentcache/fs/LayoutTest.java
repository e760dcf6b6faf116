package org.extentcache.fs;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@link Layout}: a file's FIEMAP extents turned into runs of hole, private and physical pages. The deterministic
 * cases pin down each rule (holes, unstable flags, unaligned physical addresses, pages shared by small blocks, the
 * tail page, merging, extents past end-of-file, the key space); {@link #randomExtentsMatchAPerPageReference} checks
 * every page of seeded random layouts against a per-page reference written independently here.
 *
 * <p>Knobs: {@code -Dextentcache.seed=N} replays the random test (its seed is in every failure message);
 * {@code -Dextentcache.layouts=N} sets how many random layouts it builds (default 3000).
 */
final class LayoutTest
{
    private static final int PAGE = 4096;
    private static final int KIB = 1024;
    private static final long HOLE = -1;
    private static final long PRIVATE = -2;
    /** A device index of 3, shifted into place: keys must carry it. */
    private static final long DEVICE = 3L << BlockKeys.BLOCK_BITS;
    private static final long MIB = 1 << 20;

    /** Flags that make an extent's physical address unusable as a key; named here, not taken from the code. */
    private static final int[] UNSTABLE = {
        Fiemap.FIEMAP_EXTENT_UNKNOWN,
        Fiemap.FIEMAP_EXTENT_DELALLOC,
        Fiemap.FIEMAP_EXTENT_ENCODED,
        Fiemap.FIEMAP_EXTENT_DATA_ENCRYPTED,
        Fiemap.FIEMAP_EXTENT_NOT_ALIGNED,
        Fiemap.FIEMAP_EXTENT_DATA_INLINE,
        Fiemap.FIEMAP_EXTENT_DATA_TAIL,
        Fiemap.FIEMAP_EXTENT_UNWRITTEN,
    };
    /** Flags that say nothing about where the bytes are. */
    private static final int[] STABLE = {
        0,
        Fiemap.FIEMAP_EXTENT_LAST,
        Fiemap.FIEMAP_EXTENT_SHARED,
        Fiemap.FIEMAP_EXTENT_MERGED,
        Fiemap.FIEMAP_EXTENT_SHARED | Fiemap.FIEMAP_EXTENT_LAST,
    };

    @Test
    void keyOfNamesEachPagesKeyAndAHoleOutsideTheLayout()
    {
        // pages 0-1 physical at MiB, page 2 a hole, page 3 unwritten (private)
        final Layout layout = Layout.of(List.of(extent(0, MIB, 2 * PAGE, 0),
            extent(3 * PAGE, 8 * MIB, PAGE, Fiemap.FIEMAP_EXTENT_UNWRITTEN)), 4L * PAGE, PAGE, DEVICE);
        assertEquals(DEVICE | MIB / PAGE, layout.keyOf(0));
        assertEquals(DEVICE | MIB / PAGE + 1, layout.keyOf(1));
        assertEquals(HOLE, layout.keyOf(2));
        assertEquals(PRIVATE, layout.keyOf(3));
        assertEquals(HOLE, layout.keyOf(4), "past the layout");
        assertEquals(HOLE, layout.keyOf(-1), "before it");
    }

    @Test
    void oneAlignedExtentIsOnePhysicalRun()
    {
        final Layout layout = Layout.of(List.of(extent(0, MIB, 10 * PAGE, 0)), 10L * PAGE, PAGE, DEVICE);
        assertRuns(layout, 10, run(0, 10, DEVICE | MIB / PAGE));
        assertArrayEquals(new long[] {0, 0, 10}, layout.census());
    }

    @Test
    void anEmptyFileHasNoPages()
    {
        final Layout layout = Layout.of(List.of(extent(0, MIB, PAGE, 0)), 0, PAGE, DEVICE);
        assertEquals(0, layout.pages);
        assertEquals(0, layout.runs);
        assertEquals(-1, layout.find(0));
        assertArrayEquals(new long[] {0, 0, 0}, layout.census());
    }

    @Test
    void holesBeforeBetweenAndAfterExtents()
    {
        final Layout layout = Layout.of(List.of(
                extent(2L * PAGE, MIB, 3L * PAGE, 0),
                extent(8L * PAGE, 4 * MIB, 2L * PAGE, Fiemap.FIEMAP_EXTENT_LAST)),
            14L * PAGE, PAGE, DEVICE);
        assertRuns(layout,
            14,
            run(0, 2, HOLE),
            run(2, 3, DEVICE | MIB / PAGE),
            run(5, 3, HOLE),
            run(8, 2, DEVICE | 4 * MIB / PAGE),
            run(10, 4, HOLE));
        assertArrayEquals(new long[] {9, 0, 5}, layout.census());
    }

    @Test
    void aFileWithNoExtentsIsOneHole()
    {
        final Layout layout = Layout.of(List.of(), 5L * PAGE + 1, PAGE, DEVICE);
        assertRuns(layout, 6, run(0, 6, HOLE));
    }

    @Test
    void eachUnstableFlagMakesItsExtentPrivate()
    {
        for (final int flag : UNSTABLE)
        {
            final Layout layout = Layout.of(List.of(
                    extent(0, MIB, 2L * PAGE, 0),
                    extent(2L * PAGE, MIB + 2L * PAGE, 3L * PAGE, flag | Fiemap.FIEMAP_EXTENT_SHARED),
                    extent(5L * PAGE, MIB + 5L * PAGE, 2L * PAGE, 0)),
                7L * PAGE, PAGE, DEVICE);
            assertRuns(layout, 7,
                run(0, 2, DEVICE | MIB / PAGE),
                run(2, 3, PRIVATE),
                run(5, 2, DEVICE | (MIB / PAGE + 5)));
            assertArrayEquals(new long[] {0, 3, 4}, layout.census(), Fiemap.flagNames(flag));
        }
    }

    @Test
    void stableFlagsKeepTheirExtentPhysical()
    {
        for (final int flag : STABLE)
        {
            final Layout layout = Layout.of(List.of(extent(0, MIB, 3L * PAGE, flag)), 3L * PAGE, PAGE, DEVICE);
            assertRuns(layout, 3, run(0, 3, DEVICE | MIB / PAGE));
        }
    }

    @Test
    void aPhysicalAddressNotCongruentWithTheLogicalOneIsPrivate()
    {
        final Layout misaligned = Layout.of(List.of(extent(0, MIB + KIB, 4L * PAGE, 0)), 4L * PAGE, PAGE, DEVICE);
        assertRuns(misaligned, 4, run(0, 4, PRIVATE));

        // congruent though neither is page-aligned: the pages the extent covers fully are physical
        final Layout congruent = Layout.of(List.of(extent(KIB, MIB + KIB, 4L * PAGE, 0)), 5L * PAGE, PAGE, DEVICE);
        assertRuns(congruent, 5,
            run(0, 1, PRIVATE),
            run(1, 3, DEVICE | (MIB / PAGE + 1)),
            run(4, 1, PRIVATE));
    }

    @Test
    void aPageTouchedBySeveralSmallBlockExtentsIsPrivate()
    {
        // 1 KiB blocks: page 1 holds the end of the first extent and the start of the second; page 3 holds four
        // single-block extents; page 5 holds one block and a hole
        final Layout layout = Layout.of(List.of(
                extent(0, MIB, 6L * KIB, 0),
                extent(6L * KIB, 2 * MIB + 2 * KIB, 6L * KIB, 0),
                extent(12L * KIB, 3 * MIB, KIB, 0),
                extent(13L * KIB, 5 * MIB, KIB, 0),
                extent(14L * KIB, 7 * MIB, KIB, 0),
                extent(15L * KIB, 9 * MIB, KIB, 0),
                extent(16L * KIB, 11 * MIB, 4L * KIB, 0),
                extent(20L * KIB, 13 * MIB, KIB, 0)),
            6L * PAGE, PAGE, DEVICE);
        assertRuns(layout, 6,
            run(0, 1, DEVICE | MIB / PAGE),
            run(1, 1, PRIVATE),
            run(2, 1, DEVICE | (2 * MIB + 4 * KIB) / PAGE),
            run(3, 1, PRIVATE),
            run(4, 1, DEVICE | 11 * MIB / PAGE),
            run(5, 1, PRIVATE));
    }

    @Test
    void theTailPageFollowsWhereItsExtentEnds()
    {
        final long size = PAGE + 904; // 5000 bytes

        // 4 KiB blocks: the extent ends at a block (and page) boundary past end-of-file: the tail page is physical
        assertRuns(Layout.of(List.of(extent(0, MIB, 2L * PAGE, 0)), size, PAGE, DEVICE), 2,
            run(0, 2, DEVICE | MIB / PAGE));

        // an extent that ends exactly at end-of-file, mid-page: the tail page is private
        assertRuns(Layout.of(List.of(extent(0, MIB, size, 0)), size, PAGE, DEVICE), 2,
            run(0, 1, DEVICE | MIB / PAGE),
            run(1, 1, PRIVATE));

        // 1 KiB blocks: the extent ends at the block boundary after end-of-file, still mid-page: private
        assertRuns(Layout.of(List.of(extent(0, MIB, 5L * KIB, 0)), size, PAGE, DEVICE), 2,
            run(0, 1, DEVICE | MIB / PAGE),
            run(1, 1, PRIVATE));

        // the page-aligned end of file: the last page is a whole page
        assertRuns(Layout.of(List.of(extent(0, MIB, 2L * PAGE, 0)), 2L * PAGE, PAGE, DEVICE), 2,
            run(0, 2, DEVICE | MIB / PAGE));
    }

    @Test
    void extentsContiguousOnDiskAndInTheFileMergeIntoOneRun()
    {
        final Layout merged = Layout.of(List.of(
                extent(0, MIB, 2L * PAGE, 0),
                extent(2L * PAGE, MIB + 2L * PAGE, 3L * PAGE, Fiemap.FIEMAP_EXTENT_SHARED),
                extent(5L * PAGE, MIB + 5L * PAGE, PAGE, Fiemap.FIEMAP_EXTENT_LAST)),
            6L * PAGE, PAGE, DEVICE);
        assertRuns(merged, 6, run(0, 6, DEVICE | MIB / PAGE));

        // contiguous in the file, not on disk: two runs
        assertRuns(Layout.of(List.of(extent(0, MIB, 2L * PAGE, 0), extent(2L * PAGE, 3 * MIB, 2L * PAGE, 0)),
            4L * PAGE, PAGE, DEVICE), 4,
            run(0, 2, DEVICE | MIB / PAGE),
            run(2, 2, DEVICE | 3 * MIB / PAGE));

        // contiguous on disk, not in the file: a hole between
        assertRuns(Layout.of(List.of(extent(0, MIB, 2L * PAGE, 0), extent(3L * PAGE, MIB + 2L * PAGE, PAGE, 0)),
            4L * PAGE, PAGE, DEVICE), 4,
            run(0, 2, DEVICE | MIB / PAGE),
            run(2, 1, HOLE),
            run(3, 1, DEVICE | (MIB / PAGE + 2)));

        // private extents next to each other merge too
        assertRuns(Layout.of(List.of(
                extent(0, 0, 2L * PAGE, Fiemap.FIEMAP_EXTENT_DELALLOC),
                extent(2L * PAGE, 0, 2L * PAGE, Fiemap.FIEMAP_EXTENT_UNKNOWN)),
            4L * PAGE, PAGE, DEVICE), 4,
            run(0, 4, PRIVATE));
    }

    /**
     * FIEMAP never reports overlapping extents, but a page two extents both claim must not be keyed by either (for
     * well-formed extents the page is already private as the first extent's partial tail, so this is the only way to
     * reach that rule).
     */
    @Test
    void aPageClaimedByOverlappingExtentsIsPrivate()
    {
        final Layout layout = Layout.of(List.of(
                extent(0, MIB, 2L * PAGE, 0),
                extent(PAGE, 4 * MIB, 2L * PAGE, 0)),
            3L * PAGE, PAGE, DEVICE);
        assertRuns(layout, 3,
            run(0, 1, DEVICE | MIB / PAGE),
            run(1, 1, PRIVATE),
            run(2, 1, DEVICE | (4 * MIB + PAGE) / PAGE));
    }

    @Test
    void extentsPastEndOfFileAreIgnored()
    {
        final Layout layout = Layout.of(List.of(
                extent(0, MIB, PAGE, 0),
                extent(PAGE, 2 * MIB, 15L * PAGE, 0), // straddles end-of-file
                extent(16L * PAGE, 4 * MIB, 4L * PAGE, Fiemap.FIEMAP_EXTENT_UNWRITTEN),
                extent(32L * PAGE, 8 * MIB, 4L * PAGE, 0)),
            3L * PAGE, PAGE, DEVICE);
        assertRuns(layout, 3,
            run(0, 1, DEVICE | MIB / PAGE),
            run(1, 2, DEVICE | 2 * MIB / PAGE));
        assertEquals(-1, layout.find(3));
        assertEquals(-1, layout.find(Long.MAX_VALUE));
    }

    @Test
    void largerPagesNeedExtentsCoveringTheWholePage()
    {
        final int page = 64 * KIB;
        final Layout layout = Layout.of(List.of(
                extent(0, MIB, 3L * page, 0),
                extent(3L * page, 9 * MIB, 32L * KIB, 0), // half of page 3
                extent(4L * page, 17 * MIB + 4 * KIB, page, 0)), // not congruent with 64 KiB
            5L * page, page, DEVICE);
        assertRuns(layout, 5,
            run(0, 3, DEVICE | MIB / page),
            run(3, 2, PRIVATE));
    }

    @Test
    void physicalKeysNeverSpillIntoTheDeviceBits()
    {
        final long limit = 1L << BlockKeys.BLOCK_BITS;
        // the extent's pages end just below 2^48 blocks: physical
        final Layout below = Layout.of(List.of(extent(0, (limit - 3) * PAGE, 2L * PAGE, 0)), 2L * PAGE, PAGE, DEVICE);
        assertRuns(below, 2, run(0, 2, DEVICE | (limit - 3)));
        // the extent crosses 2^48 blocks: a key there would carry into the device index, so private
        final Layout across = Layout.of(List.of(extent(0, (limit - 1) * PAGE, 4L * PAGE, 0)), 4L * PAGE, PAGE,
            DEVICE);
        for (int run = 0; run < across.runs; run++)
        {
            if (across.key[run] >= 0)
            {
                final long last = (across.key[run] & (limit - 1)) + across.count[run] - 1;
                assertTrue(last < limit && (across.key[run] & ~(limit - 1)) == DEVICE, "run " + run + " of " +
                    describe(across));
            }
        }
        // and no physical key ever has the private bit
        assertTrue(DEVICE < BlockKeys.PRIVATE);
        assertTrue(((1L << BlockKeys.DEVICE_BITS) - 1 << BlockKeys.BLOCK_BITS | limit - 1) <
            BlockKeys.PRIVATE);
    }

    @Test
    void allPrivateIsOnePrivateRun()
    {
        assertRuns(Layout.allPrivate(7), 7, run(0, 7, PRIVATE));
        assertArrayEquals(new long[] {0, 7, 0}, Layout.allPrivate(7).census());
        assertEquals(0, Layout.allPrivate(0).runs);
        assertEquals(-1, Layout.allPrivate(0).find(0));
    }

    @Test
    void clipKeepsTheFirstPages()
    {
        final Layout layout = Layout.of(List.of(
                extent(2L * PAGE, MIB, 3L * PAGE, 0),
                extent(8L * PAGE, 0, 2L * PAGE, Fiemap.FIEMAP_EXTENT_DELALLOC)),
            12L * PAGE, PAGE, DEVICE);
        assertSame(layout, layout.clip(12));
        assertSame(layout, layout.clip(20));
        assertRuns(layout.clip(4), 4, run(0, 2, HOLE), run(2, 2, DEVICE | MIB / PAGE));
        assertRuns(layout.clip(5), 5, run(0, 2, HOLE), run(2, 3, DEVICE | MIB / PAGE));
        assertRuns(layout.clip(9), 9, run(0, 2, HOLE), run(2, 3, DEVICE | MIB / PAGE), run(5, 3, HOLE),
            run(8, 1, PRIVATE));
        assertEquals(0, layout.clip(0).runs);
        assertEquals(0, layout.clip(0).pages);
    }

    /**
     * A dedupe or a defragmentation moves a file's extents and keeps its attributes: {@code keepsBlocks} tells
     * whether the extents read now still map every page the file vouches for (its physical pages, less those written
     * through the cache) to the same block. How the extents are split, and what holes and private pages became, do
     * not matter.
     */
    @Test
    void keepsBlocksComparesTheVouchedPagesOnly()
    {
        final TreeSet<Long> none = new TreeSet<>();
        final Layout was = Layout.of(List.of(
                extent(0, MIB, 4L * PAGE, 0),
                extent(6L * PAGE, 2 * MIB, 2L * PAGE, Fiemap.FIEMAP_EXTENT_UNWRITTEN),
                extent(8L * PAGE, 4 * MIB, 2L * PAGE, Fiemap.FIEMAP_EXTENT_LAST)),
            10L * PAGE, PAGE, DEVICE);
        assertTrue(was.keepsBlocks(was, none));
        final Layout splitAndFilled = Layout.of(List.of(
                extent(0, MIB, 2L * PAGE, Fiemap.FIEMAP_EXTENT_SHARED),
                extent(2L * PAGE, MIB + 2L * PAGE, 2L * PAGE, 0),
                extent(4L * PAGE, 8 * MIB, 4L * PAGE, 0),
                extent(8L * PAGE, 4 * MIB, 2L * PAGE, Fiemap.FIEMAP_EXTENT_LAST)),
            12L * PAGE, PAGE, DEVICE);
        assertTrue(was.keepsBlocks(splitAndFilled, none), "same blocks; the hole and the private pages may change");

        final Layout deduped = Layout.of(List.of(
                extent(0, MIB, 4L * PAGE, 0),
                extent(8L * PAGE, 4 * MIB, PAGE, 0),
                extent(9L * PAGE, 16 * MIB, PAGE, Fiemap.FIEMAP_EXTENT_SHARED | Fiemap.FIEMAP_EXTENT_LAST)),
            10L * PAGE, PAGE, DEVICE);
        assertFalse(was.keepsBlocks(deduped, none), "page 9 maps another block");
        assertTrue(was.keepsBlocks(deduped, new TreeSet<>(Set.of(9L))), "page 9 was written: it vouches for nothing");
        assertFalse(was.keepsBlocks(deduped, new TreeSet<>(Set.of(8L))));

        final Layout punched = Layout.of(List.of(
                extent(0, MIB, PAGE, 0),
                extent(2L * PAGE, MIB + 2L * PAGE, 2L * PAGE, 0),
                extent(8L * PAGE, 4 * MIB, 2L * PAGE, Fiemap.FIEMAP_EXTENT_LAST)),
            10L * PAGE, PAGE, DEVICE);
        assertFalse(was.keepsBlocks(punched, none), "page 1 is a hole now");
        assertTrue(was.keepsBlocks(punched, new TreeSet<>(Set.of(1L, 5L))));
        final Layout unwritten = Layout.of(List.of(
                extent(0, MIB, 4L * PAGE, Fiemap.FIEMAP_EXTENT_UNWRITTEN),
                extent(8L * PAGE, 4 * MIB, 2L * PAGE, Fiemap.FIEMAP_EXTENT_LAST)),
            10L * PAGE, PAGE, DEVICE);
        assertFalse(was.keepsBlocks(unwritten, none), "pages 0-3 are private now");

        assertFalse(was.keepsBlocks(Layout.of(List.of(extent(0, MIB, 4L * PAGE, 0)), 4L * PAGE, PAGE, DEVICE),
            none), "pages 8 and 9 are past the end now");
        assertFalse(was.keepsBlocks(Layout.of(List.of(
                extent(0, MIB, 4L * PAGE, 0),
                extent(8L * PAGE, 4 * MIB, 2L * PAGE, Fiemap.FIEMAP_EXTENT_LAST)),
            10L * PAGE, PAGE, DEVICE + (1L << BlockKeys.BLOCK_BITS)), none), "another file system");
        assertTrue(Layout.allPrivate(10).keepsBlocks(Layout.allPrivate(0), none), "vouches for nothing");
    }

    /**
     * Seeded random layouts and moves of them (extents split, moved, dropped or made unstable), with random written
     * pages: {@code keepsBlocks} agrees with a page-by-page comparison of the two layouts.
     */
    @Test
    void keepsBlocksMatchesAPerPageComparison()
    {
        final long seed = Long.getLong("extentcache.seed", System.nanoTime());
        final int layouts = Integer.getInteger("extentcache.layouts", 3000);
        final SplittableRandom random = new SplittableRandom(seed);
        int layoutNumber = 0;
        List<FiemapExtent> extents = List.of();
        List<FiemapExtent> moved = List.of();
        TreeSet<Long> written = new TreeSet<>();
        int agreed = 0;
        try
        {
            for (layoutNumber = 0; layoutNumber < layouts; layoutNumber++)
            {
                extents = randomExtents(random, PAGE, PAGE);
                moved = move(random, extents);
                final long end = extents.isEmpty() ? 0 : extents.get(extents.size() - 1).logicalEnd();
                final long size = end + random.nextLong(2L * PAGE);
                final long movedSize = random.nextInt(8) == 0 ? random.nextLong(size + 1) : size;
                final Layout was = Layout.of(extents, size, PAGE, DEVICE);
                final Layout now = Layout.of(moved, movedSize, PAGE, DEVICE);
                written = new TreeSet<>();
                for (int i = random.nextInt(4); i > 0 && was.pages > 0; i--)
                {
                    written.add(random.nextLong(was.pages));
                }
                boolean expected = true;
                for (long page = 0; page < was.pages; page++)
                {
                    final long key = keyAt(was, page);
                    if (key >= 0 && !written.contains(page))
                    {
                        expected &= page < now.pages && keyAt(now, page) == key;
                    }
                }
                assertEquals(expected, was.keepsBlocks(now, written), describe(was) + " against " + describe(now));
                agreed += expected ? 1 : 0;
            }
            assertTrue(agreed > layouts / 10 && agreed < layouts - layouts / 10, "both answers are exercised: " +
                agreed + " of " + layouts + " kept their blocks");
        }
        catch (final AssertionError | RuntimeException ex)
        {
            throw new AssertionError("seed=" + seed + " layout " + layoutNumber + " (replay with -Dextentcache.seed=" +
                seed + "): extents=" + extents + " moved=" + moved + " written=" + written + ": " + ex.getMessage(),
                ex);
        }
    }

    /** The extents after a random move: each may be split in two (same blocks), moved, dropped or made unstable. */
    private static List<FiemapExtent> move(final SplittableRandom random, final List<FiemapExtent> extents)
    {
        final List<FiemapExtent> moved = new ArrayList<>();
        for (final FiemapExtent extent : extents)
        {
            final int what = random.nextInt(extents.size() * 3 + 1);
            final long pages = extent.length() / PAGE;
            if (what == 0)
            {
                moved.add(new FiemapExtent(extent.logical(), extent.physical() + (1L << 30), extent.length(),
                    extent.flags()));
            }
            else if (what == 1)
            {
                continue; // punched
            }
            else if (what == 2)
            {
                moved.add(new FiemapExtent(extent.logical(), extent.physical(), extent.length(),
                    extent.flags() | UNSTABLE[random.nextInt(UNSTABLE.length)]));
            }
            else if (what < 6 && pages > 1)
            {
                final long cut = (1 + random.nextLong(pages - 1)) * PAGE;
                moved.add(new FiemapExtent(extent.logical(), extent.physical(), cut, extent.flags()));
                moved.add(new FiemapExtent(extent.logical() + cut, extent.physical() + cut, extent.length() - cut,
                    extent.flags()));
            }
            else
            {
                moved.add(extent);
            }
        }
        return moved;
    }

    /**
     * Seeded random extent lists (small and page-size blocks, holes, unstable flags, misaligned and contiguous
     * physical addresses, extents past end-of-file) checked page by page against {@link #reference}, plus the
     * layout's own shape (sorted, gapless, canonical runs), its census and {@code clip}.
     */
    @Test
    void randomExtentsMatchAPerPageReference()
    {
        final long seed = Long.getLong("extentcache.seed", System.nanoTime());
        final int layouts = Integer.getInteger("extentcache.layouts", 3000);
        final SplittableRandom random = new SplittableRandom(seed);
        int layoutNumber = 0;
        List<FiemapExtent> extents = List.of();
        long size = 0;
        int pageSize = PAGE;
        try
        {
            for (layoutNumber = 0; layoutNumber < layouts; layoutNumber++)
            {
                pageSize = random.nextInt(4) == 0 ? 16 * KIB : PAGE;
                final int block = random.nextBoolean() ? KIB : PAGE;
                extents = randomExtents(random, block, pageSize);
                final long end = extents.isEmpty() ? 0 : extents.get(extents.size() - 1).logicalEnd();
                size = random.nextInt(6) == 0 ? random.nextLong(end + 3L * pageSize + 1) :
                    Math.max(0, end - random.nextLong(Math.min(end, 2L * block) + 1));
                final Layout layout = Layout.of(extents, size, pageSize, DEVICE);
                checkAgainstReference(layout, extents, size, pageSize);
                final long keep = random.nextLong(layout.pages + 2);
                final Layout clipped = layout.clip(keep);
                assertEquals(Math.min(keep, layout.pages), clipped.pages, "clip(" + keep + ")");
                checkShape(clipped);
                for (long page = 0; page < clipped.pages; page++)
                {
                    assertEquals(keyAt(layout, page), keyAt(clipped, page), "clip(" + keep + ") page " + page);
                }
            }
        }
        catch (final AssertionError | RuntimeException ex)
        {
            throw new AssertionError("seed=" + seed + " layout " + layoutNumber + " (replay with -Dextentcache.seed=" +
                seed + "): size=" + size + " pageSize=" + pageSize + " extents=" + extents + ": " + ex.getMessage(),
                ex);
        }
    }

    private static List<FiemapExtent> randomExtents(final SplittableRandom random, final int block, final int page)
    {
        final List<FiemapExtent> extents = new ArrayList<>();
        final int count = random.nextInt(9);
        long logical = 0;
        long physical = (1 + random.nextInt(1 << 16)) * (long)page;
        for (int i = 0; i < count; i++)
        {
            final int gap = random.nextInt(3) == 0 ? random.nextInt(3 * page / block) : 0;
            logical += (long)gap * block;
            final long length = (1 + random.nextInt(4 * page / block)) * (long)block;
            final int kind = random.nextInt(10);
            if (kind < 5)
            {
                // stays contiguous on disk with the previous extent when there was no gap: merges
                physical += (long)gap * block;
            }
            else if (kind < 8)
            {
                physical = (1 + random.nextInt(1 << 16)) * (long)page + logical % page; // congruent
            }
            else
            {
                physical = (1 + random.nextInt(1 << 16)) * (long)page + random.nextInt(page / block) * (long)block;
            }
            final int flags = random.nextInt(6) == 0 ? UNSTABLE[random.nextInt(UNSTABLE.length)] :
                STABLE[random.nextInt(STABLE.length)];
            extents.add(new FiemapExtent(logical, physical, length, flags));
            logical += length;
            physical += length;
        }
        return extents;
    }

    /**
     * What one page should be, from first principles: a hole if no extent touches it; physical if exactly one
     * extent with a stable, page-congruent address covers the whole page; private otherwise. Extents that start
     * past the file's last page do not count (one that starts in the tail page past end-of-file still touches it).
     */
    private static long reference(final List<FiemapExtent> extents, final long size, final int pageSize,
        final long page)
    {
        final long from = page * pageSize;
        final long to = from + pageSize;
        final long fileEnd = (size + pageSize - 1) / pageSize * pageSize;
        final List<FiemapExtent> touching = new ArrayList<>();
        for (final FiemapExtent extent : extents)
        {
            if (extent.logical() < fileEnd && extent.logical() < to && extent.logicalEnd() > from)
            {
                touching.add(extent);
            }
        }
        if (touching.isEmpty())
        {
            return HOLE;
        }
        if (touching.size() > 1)
        {
            return PRIVATE;
        }
        final FiemapExtent only = touching.get(0);
        boolean stable = true;
        for (final int flag : UNSTABLE)
        {
            stable &= (only.flags() & flag) == 0;
        }
        final long physical = only.physical() + (from - only.logical());
        if (!stable || only.logical() > from || only.logicalEnd() < to || physical % pageSize != 0)
        {
            return PRIVATE;
        }
        return DEVICE | physical / pageSize;
    }

    private static void checkAgainstReference(final Layout layout, final List<FiemapExtent> extents, final long size,
        final int pageSize)
    {
        final long pages = (size + pageSize - 1) / pageSize;
        assertEquals(pages, layout.pages, "pages");
        checkShape(layout);
        final long[] census = new long[3];
        for (long page = 0; page < pages; page++)
        {
            final long expected = reference(extents, size, pageSize, page);
            final long actual = keyAt(layout, page);
            if (expected != actual)
            {
                fail("page " + page + ": expected " + name(expected) + " but the layout has " + name(actual) + " in " +
                    describe(layout));
            }
            census[HOLE == expected ? 0 : PRIVATE == expected ? 1 : 2]++;
        }
        assertArrayEquals(census, layout.census(), "census");
        assertEquals(-1, layout.find(pages));
        assertEquals(-1, layout.find(pages + 12345));
    }

    /** Runs start at 0, follow each other without gaps, are not empty, and no two neighbours could be one run. */
    private static void checkShape(final Layout layout)
    {
        long next = 0;
        for (int run = 0; run < layout.runs; run++)
        {
            assertEquals(next, layout.start[run], "run " + run + " starts where the previous ended: " +
                describe(layout));
            assertTrue(layout.count[run] > 0, "run " + run + " is empty: " + describe(layout));
            assertTrue(layout.key[run] >= 0 || layout.key[run] == HOLE || layout.key[run] == PRIVATE,
                "run " + run + " key " + layout.key[run]);
            if (run > 0)
            {
                final long before = layout.key[run - 1];
                final long key = layout.key[run];
                final boolean joinable = before < 0 ? before == key : before + layout.count[run - 1] == key;
                assertTrue(!joinable, "runs " + (run - 1) + " and " + run + " should be one: " + describe(layout));
            }
            next += layout.count[run];
        }
        assertEquals(layout.pages, next, "runs cover the pages: " + describe(layout));
    }

    /** The key {@code find} gives a page: HOLE, PRIVATE or its physical key. */
    private static long keyAt(final Layout layout, final long page)
    {
        final int run = layout.find(page);
        assertTrue(run >= 0 && run < layout.runs, "find(" + page + ") = " + run);
        assertTrue(layout.start[run] <= page && page < layout.start[run] + layout.count[run],
            "find(" + page + ") = run " + run + " which does not hold it: " + describe(layout));
        final long key = layout.key[run];
        return key < 0 ? key : key + (page - layout.start[run]);
    }

    private static void assertRuns(final Layout layout, final long pages, final long[]... runs)
    {
        final String message = describe(layout);
        assertEquals(pages, layout.pages, message);
        assertEquals(runs.length, layout.runs, message);
        for (int run = 0; run < runs.length; run++)
        {
            assertEquals(runs[run][0], layout.start[run], "start of run " + run + " in " + message);
            assertEquals(runs[run][1], layout.count[run], "count of run " + run + " in " + message);
            assertEquals(runs[run][2], layout.key[run], "key of run " + run + " in " + message);
        }
        checkShape(layout);
        for (long page = 0; page < pages; page++)
        {
            keyAt(layout, page);
        }
        assertEquals(-1, layout.find(pages));
    }

    private static long[] run(final long start, final long count, final long key)
    {
        return new long[] {start, count, key};
    }

    private static FiemapExtent extent(final long logical, final long physical, final long length, final int flags)
    {
        return new FiemapExtent(logical, physical, length, flags);
    }

    private static String name(final long key)
    {
        return HOLE == key ? "hole" : PRIVATE == key ? "private" : "physical " + Long.toHexString(key);
    }

    private static String describe(final Layout layout)
    {
        final StringBuilder text = new StringBuilder("Layout{pages=" + layout.pages + ", runs=[");
        for (int run = 0; run < layout.runs; run++)
        {
            text.append(run == 0 ? "" : ", ").append(layout.start[run]).append('+').append(layout.count[run])
                .append(' ').append(name(layout.key[run]));
        }
        return text.append("]}").toString();
    }
}
