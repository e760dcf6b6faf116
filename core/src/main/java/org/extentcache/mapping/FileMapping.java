package org.extentcache.mapping;

import org.extentcache.frame.Handle;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One file's mapping: page index &rarr; {@link Handle}, the counterpart of an inode's {@code address_space}.
 *
 * <h2>Layout</h2>
 * A radix tree grown on demand: leaves are {@code long[512]} (one 4 KiB array per 512 pages, 8 bytes per page
 * slot) and interior nodes are {@code Object[64]}. The tree is as tall as the highest page installed needs
 * (height 1 covers 512 pages, 2 covers 32 768, 3 covers 2 Mi, ...), so a sparse file costs only the leaves it
 * touches and a fully cached file costs 8 bytes per page plus one interior slot per 512 pages. {@link Handle#NONE}
 * (0) marks an empty slot.
 *
 * <h2>Concurrency</h2>
 * {@link #get} takes no lock and allocates nothing: acquire loads down the tree, one per level. Writers
 * ({@link #install}, {@link #clear}, {@link #clearAll}) may run concurrently with readers and with each other:
 * missing nodes are added with CAS, the tree grows by publishing a taller root with a CAS (the old root becomes
 * the new root's first child, so a writer still working below the old root writes into the live tree), and slots
 * are changed with volatile stores or CAS.
 *
 * <p>Stale handles need no cleanup for correctness: a handle is checked against its frame's generation on use.
 * The mapping also keeps a <em>version</em>, bumped at the start of each {@link #clear}: a reader that translated a
 * page reads the version before translating and installs its handle with {@link #installIfVersion}, which
 * refuses if the version moved. That check and the clears share this object's monitor, so a handle made from a
 * stale translation is never visible to another reader, even briefly. The monitor is taken only on misses and by
 * the translator's change notifications, never on a hit.
 *
 * <h2>Counters</h2>
 * Each mapping counts its handles, leaves and interior nodes ({@link #handleCount}, {@link #heapBytes}) and adds
 * every change of them, with the same delta, to the {@link MappingTotals} it was built with, so its cache sums them
 * over all its files without a walk. A count and its total change in two steps, so a reader racing a writer may see
 * one before the other; with no writer running they agree.
 *
 * <h2>Costs</h2>
 * A lookup is {@code height} dependent loads (2 for a 128 MiB file of 4 KiB pages). Clearing a range descends only
 * into the nodes that exist and overlap it, so it costs the cached part of the range (a leaf's 512 slots per leaf
 * that exists, a node's overlapping slots per interior node that exists), never the range's length: clearing a
 * 1 TiB file from page 0 on with a few pages cached visits a few nodes per page. Leaves are kept once allocated
 * (until {@link #clearAll}), so a file that shrinks keeps its leaves' heap until it is deleted.
 */
public final class FileMapping
{
    /** Bits of page index resolved by a leaf. */
    public static final int LEAF_BITS = 9;
    /** Bits of page index resolved by an interior node. */
    public static final int NODE_BITS = 6;
    /** Slots per leaf. */
    public static final int LEAF_SLOTS = 1 << LEAF_BITS;
    /** Slots per interior node. */
    public static final int NODE_SLOTS = 1 << NODE_BITS;

    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);
    private static final VarHandle OBJECTS = MethodHandles.arrayElementVarHandle(Object[].class);
    private static final VarHandle ROOT;
    private static final VarHandle VERSION;
    private static final VarHandle HANDLES;
    private static final VarHandle LEAVES;
    private static final VarHandle NODES;

    static
    {
        try
        {
            final MethodHandles.Lookup lookup = MethodHandles.lookup();
            ROOT = lookup.findVarHandle(FileMapping.class, "root", Root.class);
            VERSION = lookup.findVarHandle(FileMapping.class, "version", long.class);
            HANDLES = lookup.findVarHandle(FileMapping.class, "handles", long.class);
            LEAVES = lookup.findVarHandle(FileMapping.class, "leaves", long.class);
            NODES = lookup.findVarHandle(FileMapping.class, "nodes", long.class);
        }
        catch (final ReflectiveOperationException ex)
        {
            throw new ExceptionInInitializerError(ex);
        }
    }

    /** A tree of a given height; replaced whole when the tree grows, so a reader sees a consistent pair. */
    private static final class Root
    {
        final int height;
        final Object node;

        Root(final int height, final Object node)
        {
            this.height = height;
            this.node = node;
        }
    }

    private static final Root EMPTY = new Root(0, null);

    @SuppressWarnings("unused") // accessed through ROOT
    private volatile Root root = EMPTY;
    @SuppressWarnings("unused") // accessed through VERSION
    private volatile long version;
    @SuppressWarnings("unused") // accessed through HANDLES
    private volatile long handles;
    @SuppressWarnings("unused") // accessed through LEAVES
    private volatile long leaves;
    @SuppressWarnings("unused") // accessed through NODES
    private volatile long nodes;
    /** Leaves and interior nodes visited by {@link #clear} so far: its cost, for tests. Under this monitor. */
    private long clearVisits;
    /** Where every change of the counts above is added too. */
    private final MappingTotals totals;

    /**
     * An empty mapping whose counts go to totals of its own.
     */
    public FileMapping()
    {
        this(new MappingTotals());
    }

    /**
     * An empty mapping.
     *
     * @param totals the totals this mapping's counter changes are added to, shared by the mappings of one cache.
     */
    public FileMapping(final MappingTotals totals)
    {
        this.totals = java.util.Objects.requireNonNull(totals, "totals");
    }

    /**
     * @param page page index, {@code >= 0}.
     * @return the handle held for the page, or {@link Handle#NONE}.
     */
    public long get(final long page)
    {
        final Root r = root;
        final int height = r.height;
        if (0 == height || page >= coverage(height))
        {
            return Handle.NONE;
        }
        Object node = r.node;
        for (int level = height - 1; level > 0; level--)
        {
            node = OBJECTS.getAcquire((Object[])node, childIndex(page, level));
            if (null == node)
            {
                return Handle.NONE;
            }
        }
        return (long)LONGS.getAcquire((long[])node, (int)(page & (LEAF_SLOTS - 1)));
    }

    /**
     * Stores a handle for a page (volatile store), growing the tree as needed.
     *
     * @param page   page index, {@code >= 0}.
     * @param handle the handle, not {@link Handle#NONE}.
     */
    public void install(final long page, final long handle)
    {
        final long[] leaf = leafFor(page);
        final long previous = (long)LONGS.getAndSet(leaf, (int)(page & (LEAF_SLOTS - 1)), handle);
        if (Handle.NONE == previous)
        {
            addHandles(1L);
        }
    }

    /**
     * Stores a handle for a page only if the mapping's version is still {@code expectedVersion}, atomically with
     * respect to {@link #clear} and {@link #clearAll}: a handle made from a translation that a change has since made
     * stale is never visible to anyone, not even briefly.
     *
     * @param page            page index, {@code >= 0}.
     * @param handle          the handle.
     * @param expectedVersion the version read before translating.
     * @return true if installed; false if the version moved (translate again).
     */
    public synchronized boolean installIfVersion(final long page, final long handle, final long expectedVersion)
    {
        if ((long)VERSION.getVolatile(this) != expectedVersion)
        {
            return false;
        }
        install(page, handle);
        return true;
    }

    /**
     * Stores handles for {@code count} consecutive pages from {@code firstPage}, only if the version is still
     * {@code expectedVersion}; one monitor acquisition for the run. Pages that already hold a handle keep it.
     *
     * @param firstPage       first page.
     * @param handles         the handles, in page order.
     * @param count           how many.
     * @param expectedVersion the version read before translating.
     * @return handles installed, or -1 if the version moved.
     */
    public synchronized int installRunIfVersion(
        final long firstPage, final long[] handles, final int count, final long expectedVersion)
    {
        if ((long)VERSION.getVolatile(this) != expectedVersion)
        {
            return -1;
        }
        int installed = 0;
        for (int i = 0; i < count; i++)
        {
            final long[] leaf = leafFor(firstPage + i);
            if (LONGS.compareAndSet(leaf, (int)((firstPage + i) & (LEAF_SLOTS - 1)), Handle.NONE, handles[i]))
            {
                installed++;
            }
        }
        addHandles(installed);
        return installed;
    }

    /**
     * Clears a page's slot if it still holds {@code handle}.
     *
     * @param page   page index.
     * @param handle the handle expected there.
     * @return true if it was cleared.
     */
    public boolean remove(final long page, final long handle)
    {
        final long[] leaf = existingLeaf(page);
        if (null != leaf && LONGS.compareAndSet(leaf, (int)(page & (LEAF_SLOTS - 1)), handle, Handle.NONE))
        {
            addHandles(-1L);
            return true;
        }
        return false;
    }

    /**
     * @return the mapping's version (volatile load); pairs with the bump in {@link #clear}.
     */
    public long version()
    {
        return (long)VERSION.getVolatile(this);
    }

    /**
     * Bumps the version, then clears every handle for pages {@code [firstPage, firstPage + pageCount)}.
     *
     * @param firstPage first page, {@code >= 0}.
     * @param pageCount pages to clear; clipped to what the tree covers.
     */
    public synchronized void clear(final long firstPage, final long pageCount)
    {
        VERSION.getAndAdd(this, 1L);
        final Root r = root;
        if (0 == r.height || pageCount <= 0 || firstPage >= coverage(r.height))
        {
            return;
        }
        final long end = Math.min(coverage(r.height), firstPage + Math.min(pageCount, Long.MAX_VALUE - firstPage));
        final long cleared = clearIn(r.node, r.height, 0, firstPage, end);
        if (cleared != 0)
        {
            addHandles(-cleared);
        }
    }

    /**
     * Clears pages {@code [from, to)} below a node of the given height that starts at {@code nodeStart}, descending
     * only into children that exist and overlap the range. Caller holds this object's monitor.
     *
     * @return handles cleared.
     */
    private long clearIn(final Object node, final int height, final long nodeStart, final long from, final long to)
    {
        clearVisits++;
        if (1 == height)
        {
            final long[] leaf = (long[])node;
            long cleared = 0;
            final long last = Math.min(to, nodeStart + LEAF_SLOTS);
            for (long page = Math.max(from, nodeStart); page < last; page++)
            {
                final int slot = (int)(page - nodeStart);
                if (Handle.NONE != (long)LONGS.getAcquire(leaf, slot) &&
                    Handle.NONE != (long)LONGS.getAndSet(leaf, slot, Handle.NONE))
                {
                    cleared++;
                }
            }
            return cleared;
        }
        final int shift = LEAF_BITS + NODE_BITS * (height - 2);
        final long span = 1L << shift;
        final long nodeEnd = shift + NODE_BITS >= Long.SIZE - 1 ? Long.MAX_VALUE : nodeStart + (span << NODE_BITS);
        final int first = (int)((Math.max(from, nodeStart) - nodeStart) >>> shift);
        final int last = (int)((Math.min(to, nodeEnd) - 1 - nodeStart) >>> shift);
        long cleared = 0;
        for (int index = first; index <= last; index++)
        {
            final Object child = OBJECTS.getAcquire((Object[])node, index);
            if (null != child)
            {
                cleared += clearIn(child, height - 1, nodeStart + index * span, from, to);
            }
        }
        return cleared;
    }

    /**
     * @return leaves and interior nodes {@link #clear} has visited so far: its cost, which tests bound.
     */
    synchronized long clearVisits()
    {
        return clearVisits;
    }

    /**
     * Bumps the version and drops the whole tree, releasing its heap.
     */
    public synchronized void clearAll()
    {
        VERSION.getAndAdd(this, 1L);
        final Root old = (Root)ROOT.getAndSet(this, EMPTY);
        if (old.height != 0)
        {
            addHandles(-countHandles(old.node, old.height));
            totals.leaves.add(-(long)LEAVES.getAndSet(this, 0L));
            totals.nodes.add(-(long)NODES.getAndSet(this, 0L));
        }
    }

    /**
     * Calls {@code action} with every handle the mapping holds (some may be stale), in page order. A handle installed
     * or removed meanwhile may or may not be seen. Allocates nothing; {@code O(pages covered by leaves)}.
     *
     * @param action called once per slot that holds a handle.
     */
    public void forEachHandle(final java.util.function.LongConsumer action)
    {
        final Root r = root;
        forEachHandle(r.node, r.height, action);
    }

    private static void forEachHandle(final Object node, final int height, final java.util.function.LongConsumer action)
    {
        if (null == node)
        {
            return;
        }
        if (1 == height)
        {
            final long[] leaf = (long[])node;
            for (int i = 0; i < leaf.length; i++)
            {
                final long handle = (long)LONGS.getAcquire(leaf, i);
                if (Handle.NONE != handle)
                {
                    action.accept(handle);
                }
            }
            return;
        }
        final Object[] children = (Object[])node;
        for (int i = 0; i < children.length; i++)
        {
            forEachHandle(OBJECTS.getAcquire(children, i), height - 1, action);
        }
    }

    /**
     * @return slots holding a handle (some may be stale); exact when no writer is running.
     */
    public long handleCount()
    {
        return (long)HANDLES.getVolatile(this);
    }

    /**
     * Estimated Java heap bytes of the tree, assuming compressed references (4-byte slots, 16-byte array header):
     * {@code 4112} per leaf and {@code 272} per interior node.
     *
     * @return heap bytes held by the tree's arrays.
     */
    public long heapBytes()
    {
        return heapBytes((long)LEAVES.getVolatile(this), (long)NODES.getVolatile(this));
    }

    /** {@link #heapBytes()} of a tree of {@code leaves} leaves and {@code nodes} interior nodes. */
    static long heapBytes(final long leaves, final long nodes)
    {
        return leaves * (16 + 8L * LEAF_SLOTS) + nodes * (16 + 4L * NODE_SLOTS);
    }

    /** Adds {@code delta} to this mapping's handle count, then to the totals. */
    private void addHandles(final long delta)
    {
        if (delta != 0)
        {
            HANDLES.getAndAdd(this, delta);
            totals.handles.add(delta);
        }
    }

    private long[] existingLeaf(final long page)
    {
        final Root r = root;
        if (0 == r.height || page >= coverage(r.height))
        {
            return null;
        }
        Object node = r.node;
        for (int level = r.height - 1; level > 0 && null != node; level--)
        {
            node = OBJECTS.getAcquire((Object[])node, childIndex(page, level));
        }
        return (long[])node;
    }

    private long[] leafFor(final long page)
    {
        if (page < 0)
        {
            throw new IllegalArgumentException("page must be >= 0: page=" + page);
        }
        final Root r = grow(page);
        if (1 == r.height)
        {
            return (long[])r.node;
        }
        Object node = r.node;
        for (int level = r.height - 1; level > 0; level--)
        {
            final Object[] interior = (Object[])node;
            final int index = childIndex(page, level);
            Object child = OBJECTS.getAcquire(interior, index);
            if (null == child)
            {
                final Object fresh = level == 1 ? newLeaf() : newNode();
                final Object witness = OBJECTS.compareAndExchange(interior, index, null, fresh);
                if (null == witness)
                {
                    child = fresh;
                }
                else
                {
                    uncount(fresh);
                    child = witness;
                }
            }
            node = child;
        }
        return (long[])node;
    }

    /** Makes the tree tall enough for {@code page}; returns a root that covers it. */
    private Root grow(final long page)
    {
        while (true)
        {
            final Root r = root;
            if (r.height != 0 && page < coverage(r.height))
            {
                return r;
            }
            final Root taller;
            if (0 == r.height)
            {
                taller = new Root(1, newLeaf());
            }
            else
            {
                final Object[] top = newNode();
                top[0] = r.node;
                taller = new Root(r.height + 1, top);
            }
            if (!ROOT.compareAndSet(this, r, taller))
            {
                uncount(taller.node);
            }
        }
    }

    private long[] newLeaf()
    {
        LEAVES.getAndAdd(this, 1L);
        totals.leaves.increment();
        return new long[LEAF_SLOTS];
    }

    private Object[] newNode()
    {
        NODES.getAndAdd(this, 1L);
        totals.nodes.increment();
        return new Object[NODE_SLOTS];
    }

    private void uncount(final Object unused)
    {
        if (unused instanceof long[])
        {
            LEAVES.getAndAdd(this, -1L);
            totals.leaves.decrement();
        }
        else
        {
            NODES.getAndAdd(this, -1L);
            totals.nodes.decrement();
        }
    }

    private static long countHandles(final Object node, final int height)
    {
        if (null == node)
        {
            return 0;
        }
        long count = 0;
        if (1 == height)
        {
            for (final long handle : (long[])node)
            {
                count += Handle.NONE == handle ? 0 : 1;
            }
            return count;
        }
        for (final Object child : (Object[])node)
        {
            count += countHandles(child, height - 1);
        }
        return count;
    }

    /** Pages covered by a tree of the given height (saturating at {@code Long.MAX_VALUE}). */
    private static long coverage(final int height)
    {
        final int bits = LEAF_BITS + NODE_BITS * (height - 1);
        return bits >= 63 ? Long.MAX_VALUE : 1L << bits;
    }

    private static int childIndex(final long page, final int level)
    {
        return (int)((page >>> (LEAF_BITS + NODE_BITS * (level - 1))) & (NODE_SLOTS - 1));
    }
}
