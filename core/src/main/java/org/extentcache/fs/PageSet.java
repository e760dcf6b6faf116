package org.extentcache.fs;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A set of one file's page indices, {@code [0, 2^36)}: in {@link FileSystemTranslator}, the pages whose frames were
 * filled through the file since its layout was published, so that dropping the file's frames names those pages only
 * and costs what the cache may hold of the file, not the file's size.
 *
 * <h2>Layout</h2>
 * A bitmap in a radix tree of fixed height, allocated as pages are added: four levels of interior nodes
 * ({@code Object[64]}) above leaves of 4096 bits ({@code long[64]}). A page index splits as
 * <pre>
 *    35     30 29     24 23     18 17     12 11      6 5       0
 *   +---------+---------+---------+---------+---------+---------+
 *   |  root   | level 1 | level 2 | level 3 |  word   |   bit   |
 *   +---------+---------+---------+---------+---------+---------+
 *   |&lt;----- interior slot per level -------&gt;|&lt;--- leaf (4096) --&gt;|
 * </pre>
 * An empty slot is {@code null}; a leaf or node emptied by a removal is unlinked, so the tree holds only regions
 * with pages in them.
 *
 * <h2>Concurrency</h2>
 * {@link #add} and {@link #contains} may run in any number of threads at once. {@link #add} walks down with acquire
 * loads; a missing node is installed with a compare-and-exchange (a thread that loses uses the winner's), and the bit
 * is set with a volatile {@code getAndBitwiseOr}, skipped when an acquire load already sees it set: each volatile
 * write pairs with the acquire loads of later walks. {@link #removeRuns} and {@link #clear} need the caller to keep
 * every {@link #add} out while they run (the translator holds the file's write lock; adds hold its read lock), and
 * that lock orders their plain updates with later adds.
 *
 * <h2>Costs</h2>
 * {@link #add}: five dependent loads, and no allocation once the page's leaf exists; the first page of a
 * 4096-page region allocates its leaf (528 bytes) and any missing interior nodes (272 bytes each, compressed
 * references). {@link #removeRuns}: proportional to the nodes that exist within the range and the words with bits
 * set, never to the range's length. Memory: a leaf per 4096-page region touched (16 MiB of file with 4 KiB pages),
 * so at most one bit per page plus the nodes.
 */
final class PageSet
{
    /** Pages in the set's range: {@code [0, LIMIT)}. */
    static final long LIMIT = 1L << 36;

    private static final int BIT_BITS = 6;
    private static final int WORD_BITS = 6;
    private static final int LEAF_BITS = BIT_BITS + WORD_BITS;
    private static final int NODE_BITS = 6;
    private static final int NODE_LEVELS = 4;
    private static final int SLOTS = 1 << NODE_BITS;
    private static final int WORDS = 1 << WORD_BITS;
    private static final int BIT_MASK = (1 << BIT_BITS) - 1;

    private static final VarHandle ROOT;
    private static final VarHandle OBJECTS = MethodHandles.arrayElementVarHandle(Object[].class);
    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);

    static
    {
        try
        {
            ROOT = MethodHandles.lookup().findVarHandle(PageSet.class, "root", Object[].class);
        }
        catch (final ReflectiveOperationException ex)
        {
            throw new ExceptionInInitializerError(ex);
        }
    }

    /** Accessed through {@link #ROOT}. */
    @SuppressWarnings("unused")
    private volatile Object[] root;

    /**
     * Adds a page. Safe concurrently with other adds and with {@link #contains}.
     *
     * @param page a page index in {@code [0, LIMIT)}.
     * @return true if the page was not in the set.
     * @throws IllegalArgumentException if the page is out of range.
     */
    boolean add(final long page)
    {
        checkPage(page);
        Object[] node = (Object[])ROOT.getAcquire(this);
        if (null == node)
        {
            final Object[] fresh = new Object[SLOTS];
            final Object witness = ROOT.compareAndExchange(this, (Object[])null, fresh);
            node = null == witness ? fresh : (Object[])witness;
        }
        for (int level = 0; level < NODE_LEVELS - 1; level++)
        {
            node = (Object[])childFor(node, slot(page, level), false);
        }
        final long[] leaf = (long[])childFor(node, slot(page, NODE_LEVELS - 1), true);
        final int word = (int)(page >>> BIT_BITS) & (WORDS - 1);
        final long bit = 1L << (page & BIT_MASK);
        if (((long)LONGS.getAcquire(leaf, word) & bit) != 0)
        {
            return false;
        }
        return ((long)LONGS.getAndBitwiseOr(leaf, word, bit) & bit) == 0;
    }

    /**
     * @param page a page index.
     * @return true if the page is in the set. Safe concurrently with {@link #add}.
     */
    boolean contains(final long page)
    {
        if (page < 0 || page >= LIMIT)
        {
            return false;
        }
        Object node = ROOT.getAcquire(this);
        for (int level = 0; level < NODE_LEVELS && null != node; level++)
        {
            node = OBJECTS.getAcquire((Object[])node, slot(page, level));
        }
        return null != node &&
            ((long)LONGS.getAcquire((long[])node, (int)(page >>> BIT_BITS) & (WORDS - 1)) & 1L << (page & BIT_MASK))
                != 0;
    }

    /**
     * Removes the pages in {@code [from, to)} and tells {@code runs} each maximal run of them, in ascending order.
     * The caller keeps {@link #add} out meanwhile.
     *
     * @param from first page (clamped to 0).
     * @param to   page after the last (clamped to {@link #LIMIT}).
     * @param runs told each run removed, as {@code [first, end)}.
     */
    void removeRuns(final long from, final long to, final BlockOwners.RangeConsumer runs)
    {
        final long start = Math.max(0, from);
        final long end = Math.min(LIMIT, to);
        final Object[] top = (Object[])ROOT.getAcquire(this);
        if (start >= end || null == top)
        {
            return;
        }
        final Runs merged = new Runs(runs);
        if (removeIn(top, 0, 0, start, end, merged))
        {
            ROOT.setRelease(this, (Object[])null);
        }
        merged.flush();
    }

    /** Empties the set. The caller keeps {@link #add} out meanwhile. */
    void clear()
    {
        ROOT.setRelease(this, (Object[])null);
    }

    /** @return true if the set holds no page. */
    boolean isEmpty()
    {
        return null == ROOT.getAcquire(this);
    }

    /** @return pages in the set (walks the tree: for tests). */
    long size()
    {
        return count(ROOT.getAcquire(this), 0);
    }

    private static Object childFor(final Object[] node, final int slot, final boolean leaf)
    {
        final Object child = OBJECTS.getAcquire(node, slot);
        if (null != child)
        {
            return child;
        }
        final Object fresh = leaf ? new long[WORDS] : new Object[SLOTS];
        final Object witness = OBJECTS.compareAndExchange(node, slot, null, fresh);
        return null == witness ? fresh : witness;
    }

    /** @return true if the node is empty afterwards. */
    private static boolean removeIn(final Object[] node, final int level, final long nodeStart, final long from,
        final long to, final Runs runs)
    {
        final int shift = shift(level);
        final long span = 1L << shift;
        final int first = (int)((Math.max(from, nodeStart) - nodeStart) >>> shift);
        final int last = (int)((Math.min(to, nodeStart + span * SLOTS) - 1 - nodeStart) >>> shift);
        for (int slot = first; slot <= last; slot++)
        {
            final Object child = node[slot];
            if (null == child)
            {
                continue;
            }
            final long childStart = nodeStart + slot * span;
            final boolean emptied = level == NODE_LEVELS - 1 ?
                removeInLeaf((long[])child, childStart, from, to, runs) :
                removeIn((Object[])child, level + 1, childStart, from, to, runs);
            if (emptied)
            {
                OBJECTS.setRelease(node, slot, null);
            }
        }
        for (final Object child : node)
        {
            if (null != child)
            {
                return false;
            }
        }
        return true;
    }

    /** @return true if the leaf is empty afterwards. */
    private static boolean removeInLeaf(final long[] leaf, final long leafStart, final long from, final long to,
        final Runs runs)
    {
        final long lo = Math.max(from, leafStart) - leafStart;
        final long hi = Math.min(to, leafStart + ((long)WORDS << BIT_BITS)) - leafStart;
        for (int word = (int)(lo >>> BIT_BITS); word <= (int)((hi - 1) >>> BIT_BITS); word++)
        {
            final long wordStart = (long)word << BIT_BITS;
            final int a = (int)(Math.max(lo, wordStart) - wordStart);
            final int b = (int)(Math.min(hi, wordStart + (1L << BIT_BITS)) - wordStart);
            final long range = mask(a, b);
            long bits = leaf[word] & range;
            if (0 == bits)
            {
                continue;
            }
            leaf[word] &= ~range;
            while (0 != bits)
            {
                final int runStart = Long.numberOfTrailingZeros(bits);
                final long shifted = ~(bits >>> runStart);
                final int runEnd = 0 == shifted ? 1 << BIT_BITS : runStart + Long.numberOfTrailingZeros(shifted);
                runs.add(leafStart + wordStart + runStart, leafStart + wordStart + Math.min(runEnd, 1 << BIT_BITS));
                bits &= ~mask(runStart, Math.min(runEnd, 1 << BIT_BITS));
            }
        }
        for (final long word : leaf)
        {
            if (0 != word)
            {
                return false;
            }
        }
        return true;
    }

    /** @return bits {@code [a, b)} of a word set, {@code 0 <= a < b <= 64}. */
    private static long mask(final int a, final int b)
    {
        final long below = b == 1 << BIT_BITS ? -1L : (1L << b) - 1;
        return below & (-1L << a);
    }

    private static long count(final Object node, final int level)
    {
        if (null == node)
        {
            return 0;
        }
        long count = 0;
        if (level == NODE_LEVELS)
        {
            for (final long word : (long[])node)
            {
                count += Long.bitCount(word);
            }
            return count;
        }
        for (final Object child : (Object[])node)
        {
            count += count(child, level + 1);
        }
        return count;
    }

    /** Bits of page index below the slots of an interior node at {@code level} (0 is the root). */
    private static int shift(final int level)
    {
        return LEAF_BITS + NODE_BITS * (NODE_LEVELS - 1 - level);
    }

    private static int slot(final long page, final int level)
    {
        return (int)(page >>> shift(level)) & (SLOTS - 1);
    }

    private static void checkPage(final long page)
    {
        if (page < 0 || page >= LIMIT)
        {
            throw new IllegalArgumentException("page must be in [0, 2^36): page=" + page);
        }
    }

    /** Joins runs that touch before passing them on. */
    private static final class Runs
    {
        private final BlockOwners.RangeConsumer consumer;
        private long start = -1;
        private long end = -1;

        Runs(final BlockOwners.RangeConsumer consumer)
        {
            this.consumer = consumer;
        }

        void add(final long from, final long to)
        {
            if (from == end)
            {
                end = to;
                return;
            }
            flush();
            start = from;
            end = to;
        }

        void flush()
        {
            if (start >= 0)
            {
                consumer.accept(start, end);
            }
            start = -1;
            end = -1;
        }
    }
}
