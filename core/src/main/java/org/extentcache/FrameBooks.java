package org.extentcache;

import org.extentcache.frame.FrameArena;
import org.extentcache.index.DeviceIndex;

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
     * @return {@code {resident frames, free frames, retired frames, index entries}}.
     */
    static int[] counts(final FrameArena arena, final DeviceIndex index)
    {
        final int free = arena.freeCount();
        final int retired = arena.retiredCount();
        return new int[]{arena.capacity() - free - retired, free, retired, index.size()};
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
        if (free != arena.freeCount())
        {
            return "free frames " + free + " but the free list counts " + arena.freeCount();
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
