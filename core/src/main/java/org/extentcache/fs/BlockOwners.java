package org.extentcache.fs;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Which open files vouch for which physical blocks. A frame keyed by a physical block holds bytes read through some
 * file that mapped the block; it stays trustworthy only while an open, unchanged file still maps the block. A block
 * no open file maps may have been freed and reused by the file system, so its frame is dropped before a file that
 * maps it is published. An owner's vouch is only as good as the layout it was made from: the file system can move an
 * owner's extents (dedupe, defragmentation) and free the block behind its back, so the translator reads the owners'
 * extents again ({@link #forEachSegment} tells it which owners cover what) before it trusts their vouches.
 *
 * <p>Disjoint half-open segments {@code [start, end)} of block keys, each with its owners. Not thread-safe: the
 * translator's lock guards it.
 */
final class BlockOwners
{
    /** Receives a range of block keys. */
    @FunctionalInterface
    interface RangeConsumer
    {
        void accept(long start, long end);
    }

    private static final class Segment
    {
        long end;
        final ArrayList<Object> owners;

        Segment(final long end, final ArrayList<Object> owners)
        {
            this.end = end;
            this.owners = owners;
        }
    }

    private final TreeMap<Long, Segment> segments = new TreeMap<>();

    /**
     * @return the owners of any block in {@code [start, end)}.
     */
    Set<Object> ownersIn(final long start, final long end)
    {
        final Set<Object> found = new LinkedHashSet<>();
        if (end <= start)
        {
            return found;
        }
        final Map.Entry<Long, Segment> first = segments.floorEntry(start);
        final long from = null != first && first.getValue().end > start ? first.getKey() : start;
        for (final Segment segment : segments.subMap(from, true, end, false).values())
        {
            found.addAll(segment.owners);
        }
        return found;
    }

    /** Receives one owned segment's part within a range, and its owners (read-only, valid during the call). */
    @FunctionalInterface
    interface SegmentConsumer
    {
        void accept(long start, long end, java.util.List<Object> owners);
    }

    /**
     * Tells {@code consumer} each owned part of {@code [start, end)}, in order, with its owners. The consumer must not
     * change this registry.
     */
    void forEachSegment(final long start, final long end, final SegmentConsumer consumer)
    {
        if (end <= start)
        {
            return;
        }
        final Map.Entry<Long, Segment> first = segments.floorEntry(start);
        final long from = null != first && first.getValue().end > start ? first.getKey() : start;
        for (final Map.Entry<Long, Segment> entry : segments.subMap(from, true, end, false).entrySet())
        {
            final Segment segment = entry.getValue();
            consumer.accept(Math.max(start, entry.getKey()), Math.min(end, segment.end),
                java.util.Collections.unmodifiableList(segment.owners));
        }
    }

    /**
     * Makes {@code owner} an owner of {@code [start, end)}.
     *
     * @param unowned told each sub-range that had no owner before (its cached frames cannot be trusted).
     */
    void add(final Object owner, final long start, final long end, final RangeConsumer unowned)
    {
        checkRange(start, end);
        split(start);
        split(end);
        long cursor = start;
        for (final Map.Entry<Long, Segment> entry :
            new ArrayList<>(segments.subMap(start, true, end, false).entrySet()))
        {
            final long segmentStart = entry.getKey();
            if (segmentStart > cursor)
            {
                segments.put(cursor, new Segment(segmentStart, single(owner)));
                unowned.accept(cursor, segmentStart);
            }
            final Segment segment = entry.getValue();
            if (!segment.owners.contains(owner))
            {
                segment.owners.add(owner);
            }
            cursor = segment.end;
        }
        if (cursor < end)
        {
            segments.put(cursor, new Segment(end, single(owner)));
            unowned.accept(cursor, end);
        }
        merge(start);
        merge(end);
    }

    /**
     * Drops {@code owner} from {@code [start, end)}; blocks it did not own are left alone.
     *
     * @param orphaned told each sub-range that {@code owner} owned alone.
     */
    void remove(final Object owner, final long start, final long end, final RangeConsumer orphaned)
    {
        checkRange(start, end);
        split(start);
        split(end);
        for (final Map.Entry<Long, Segment> entry :
            new ArrayList<>(segments.subMap(start, true, end, false).entrySet()))
        {
            final long segmentStart = entry.getKey(); // read before the removal: TreeMap's delete may move keys
            final Segment segment = entry.getValue();
            if (segment.owners.remove(owner) && segment.owners.isEmpty())
            {
                segments.remove(segmentStart);
                orphaned.accept(segmentStart, segment.end);
            }
        }
        merge(start);
        merge(end);
    }

    /**
     * @return segments held: the registry's size, for metadata accounting and tests.
     */
    int segmentCount()
    {
        return segments.size();
    }

    /** Splits the segment that straddles {@code at}, so a segment starts there. */
    private void split(final long at)
    {
        final Map.Entry<Long, Segment> entry = segments.lowerEntry(at);
        if (null != entry && entry.getValue().end > at)
        {
            final Segment left = entry.getValue();
            segments.put(at, new Segment(left.end, new ArrayList<>(left.owners)));
            left.end = at;
        }
    }

    /** Joins the segment starting at {@code at} to the one ending there if their owners are the same. */
    private void merge(final long at)
    {
        final Segment right = segments.get(at);
        final Map.Entry<Long, Segment> leftEntry = segments.lowerEntry(at);
        if (null != right && null != leftEntry && leftEntry.getValue().end == at &&
            new LinkedHashSet<>(leftEntry.getValue().owners).equals(new LinkedHashSet<>(right.owners)))
        {
            leftEntry.getValue().end = right.end;
            segments.remove(at);
        }
    }

    private static ArrayList<Object> single(final Object owner)
    {
        final ArrayList<Object> owners = new ArrayList<>(2);
        owners.add(owner);
        return owners;
    }

    private static void checkRange(final long start, final long end)
    {
        if (start < 0 || end <= start)
        {
            throw new IllegalArgumentException("invalid block range: start=" + start + " end=" + end);
        }
    }
}
