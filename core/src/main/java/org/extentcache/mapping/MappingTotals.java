package org.extentcache.mapping;

import java.util.concurrent.atomic.LongAdder;

/**
 * The sums of the {@link FileMapping} counters over every mapping built with this object: handles held, leaves and
 * interior nodes. Each mapping adds its own counter changes here as it makes them, so a cache reads its totals
 * without walking its files ({@code ExtentCache.stats()}).
 *
 * <h2>Accuracy</h2>
 * Every change a mapping makes to its handle, leaf or node count it adds here, with the same delta, right after; so
 * when no mapping is changing, each total equals the sum of the mappings' own counts. A mapping that leaves its cache
 * must be emptied first ({@link FileMapping#clearAll}), which subtracts what it held, and take no handle after it
 * (its owner refuses every install once the clear's version bump is seen).
 *
 * <h2>Concurrency and costs</h2>
 * Thread-safe. Counters are {@link LongAdder}s: an add is one uncontended CAS on the writer's cell (misses, clears
 * and tree growth only, never a hit); a read sums the cells, takes no lock and waits for nothing. A read while
 * mappings change is a sum of counters not taken at one instant.
 */
public final class MappingTotals
{
    final LongAdder handles = new LongAdder();
    final LongAdder leaves = new LongAdder();
    final LongAdder nodes = new LongAdder();

    /**
     * @return slots holding a handle, summed over the mappings (some may be stale).
     */
    public long handleCount()
    {
        return handles.sum();
    }

    /**
     * @return estimated heap bytes of the mappings' trees, as {@link FileMapping#heapBytes()} estimates each.
     */
    public long heapBytes()
    {
        return FileMapping.heapBytes(leaves.sum(), nodes.sum());
    }
}
