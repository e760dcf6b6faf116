package org.extentcache;

import org.extentcache.frame.FrameArena;
import org.extentcache.frame.Handle;
import org.extentcache.index.DeviceIndex;
import org.extentcache.mapping.FileMapping;

import java.util.BitSet;

import static org.extentcache.frame.FrameDescriptor.*;

/**
 * The frames' books: counts, and the audit that tests and diagnostics run over every frame. Each method reads the
 * arena and the device index as they stand; the caller holds the allocation lock, so no frame changes hands during
 * the walk (pins and unpins may still come and go). Costs a walk of every frame: for statistics and tests, not for
 * hot paths.
 */
final class FrameBooks
{
    private FrameBooks()
    {
    }

    /**
     * Needs no lock: each count is a recent value (exact when the caller holds the allocation lock), and resident is
     * derived from the others, so the four always add up to the capacity. A capacity change moves many frames
     * between the free list and the parked ones, one at a time, while these are read one after the other: a frame
     * moved between the two reads would be counted twice, so parked is cut to what the others leave (resident is
     * never negative).
     *
     * @return {@code {resident frames, free frames, retired frames, index entries, parked frames}}.
     */
    static int[] counts(final FrameArena arena, final DeviceIndex index)
    {
        final int free = arena.freeCount();
        final int retired = arena.retiredCount();
        final int parked = Math.max(0, Math.min(arena.parkedCount(), arena.capacity() - free - retired));
        return new int[]{arena.capacity() - free - retired - parked, free, retired, index.size(), parked};
    }

    /**
     * For tests: the figures {@link ExtentCache#stats()} keeps as counters, found instead by walking the files as
     * they are now.
     *
     * @return {@code {heap bytes of the mappings, handles held, files mapped}}.
     */
    static long[] walkMappingFigures(final java.util.Collection<CachedFile> files)
    {
        long heapBytes = 0;
        long handles = 0;
        long fileCount = 0;
        for (final CachedFile file : files)
        {
            heapBytes += file.mapping().heapBytes();
            handles += file.mapping().handleCount();
            fileCount++;
        }
        return new long[]{heapBytes, handles, fileCount};
    }

    /**
     * @param frames the cache's frames; the caller is inside their {@link ReaderGate}.
     * @param files  the files the cache knows.
     * @param which  the files to count, by id.
     * @return the resident frames, and how many of them the chosen files reach ({@link #reachableFrames}).
     */
    static Residency residency(final DeviceCache frames, final java.util.Collection<CachedFile> files,
        final java.util.function.LongPredicate which)
    {
        final int resident = frames.counts()[0];
        final int reachable = reachableFrames(frames.arena(),
            () -> files.stream().filter(file -> which.test(file.id())).map(CachedFile::mapping).iterator());
        return new Residency(resident, Math.min(reachable, resident), frames.arena().pageSize());
    }

    /**
     * Frames that open files can reach: each frame that a handle in one of {@code mappings} still names (its
     * generation is the frame's), counted once however many pages and files map it. The rest of the resident frames
     * are kept only as cache: no open file maps them, and they serve a file only after a translation finds them.
     * Needs no lock: a frame that changes hands during the walk is counted as it was or as it is. Allocates a bit set
     * of the arena's capacity.
     *
     * @param arena    the arena.
     * @param mappings the mappings of the files the cache knows.
     * @return distinct frames reachable through a valid handle.
     */
    static int reachableFrames(final FrameArena arena, final Iterable<FileMapping> mappings)
    {
        final BitSet reached = new BitSet(arena.capacity());
        for (final FileMapping mapping : mappings)
        {
            mapping.forEachHandle(handle ->
            {
                final int frame = Handle.frame(handle);
                final long word = arena.stateWord(frame);
                final int state = baseState(word);
                if (generation(word) == Handle.generation(handle) && FREE != state && ORPHAN != state &&
                    RETIRED != state)
                {
                    reached.set(frame);
                }
            });
        }
        return reached.cardinality();
    }

    /**
     * @return frames whose pin count is not zero.
     */
    static int pinnedFrames(final FrameArena arena)
    {
        int pinned = 0;
        for (int frame = 0; frame < arena.capacity(); frame++)
        {
            pinned += pins(arena.stateWord(frame)) != 0 ? 1 : 0;
        }
        return pinned;
    }

    /**
     * Checks the aliases of merged frames: each names a frame that is up to date, clean, flagged merged and indexed
     * under its own block, and no alias block is indexed too (one block, one frame). Caller holds the lock.
     *
     * @param arena   the arena.
     * @param index   the device index.
     * @param aliases the alias table.
     * @return the first discrepancy, or {@code null}.
     */
    static String checkAliases(final FrameArena arena, final DeviceIndex index,
        final org.extentcache.merge.AliasTable aliases)
    {
        return aliases.forEach((block, frame) ->
        {
            final long word = arena.stateWord(frame);
            if (!isCleanUpToDate(word) || !isMerged(word))
            {
                return "alias " + block + " names frame " + frame + " in state " + stateName(state(word));
            }
            final long own = arena.deviceBlock(frame);
            if (index.findLocked(own) != frame)
            {
                return "alias " + block + " names frame " + frame + ", which is not indexed under its block " + own;
            }
            if (index.findLocked(block) != NO_FRAME)
            {
                return "alias " + block + " is also indexed, to frame " + index.findLocked(block);
            }
            return null;
        });
    }

    /**
     * Checks that no frame is pinned, every frame is free, retired or up to date and indexed under its block, and
     * the free list, the retired count, the dirty count and the index agree with the frames.
     *
     * @param dirtyCount the cache's count of dirty frames.
     * @return the first discrepancy, or {@code null}.
     */
    static String check(final FrameArena arena, final DeviceIndex index, final int dirtyCount)
    {
        int free = 0;
        int retired = 0;
        int indexed = 0;
        int dirty = 0;
        for (int frame = 0; frame < arena.capacity(); frame++)
        {
            final long word = arena.stateWord(frame);
            final int state = state(word);
            if (pins(word) != 0)
            {
                return "frame " + frame + " still pinned: pins=" + pins(word) + " state=" + stateName(state);
            }
            dirty += isDirty(word) ? 1 : 0;
            switch (baseState(word))
            {
                case FREE:
                    free++;
                    break;
                case RETIRED:
                    retired++;
                    break;
                case UPTODATE:
                    indexed++;
                    final long block = arena.deviceBlock(frame);
                    if (index.findLocked(block) != frame)
                    {
                        return "frame " + frame + " holds block " + block + " but the index maps it to frame " +
                            index.findLocked(block);
                    }
                    break;
                default:
                    return "frame " + frame + " left in state " + stateName(state) + " with no pin";
            }
        }
        if (free != arena.freeCount() + arena.parkedCount())
        {
            return "free frames " + free + " but the free list counts " + arena.freeCount() + " and " +
                arena.parkedCount() + " are parked";
        }
        if (retired != arena.retiredCount())
        {
            return "retired frames " + retired + " but the arena counts " + arena.retiredCount();
        }
        if (dirty != dirtyCount)
        {
            return "dirty frames " + dirty + " but the cache counts " + dirtyCount;
        }
        if (indexed != index.size())
        {
            return "up-to-date frames " + indexed + " but the index holds " + index.size() + " entries";
        }
        return null;
    }
}
