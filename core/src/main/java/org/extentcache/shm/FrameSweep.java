package org.extentcache.shm;

import org.agrona.concurrent.UnsafeBuffer;

import static org.extentcache.shm.SharedLayout.DROPPED;
import static org.extentcache.shm.SharedLayout.FREE;
import static org.extentcache.shm.SharedLayout.LOADING;
import static org.extentcache.shm.SharedLayout.LOST;
import static org.extentcache.shm.SharedLayout.READY;
import static org.extentcache.shm.SharedLayout.RECLAIMING;
import static org.extentcache.shm.SharedLayout.generationOf;
import static org.extentcache.shm.SharedLayout.nextGeneration;
import static org.extentcache.shm.SharedLayout.stateOf;
import static org.extentcache.shm.SharedLayout.stateWord;

/**
 * Picks a frame for a load: a CLOCK sweep over every frame of the file, under the allocation lock, with the hand in
 * the header so every process sweeps one clock.
 *
 * <h2>Transitions (each one CAS of the state word)</h2>
 * <pre>
 *   FREE                        -&gt; LOADING(me)                       taken
 *   LOST, a lease after its loss -&gt; LOADING(me), generation + 1      taken
 *   READY, used bit set          -&gt; (bit cleared)                     second chance
 *   READY or DROPPED            -&gt; RECLAIMING(me)                   then, if any client pins it: back as it was;
 *                                                                     else out of the index, LOADING(me), gen + 1
 *   LOADING, RECLAIMING          skipped
 * </pre>
 * The generation moves when a frame leaves service, before any byte of it changes, so every process's handles to it
 * go stale at once (readers validate a copy against the state word, see {@link SharedCache#read}).
 *
 * <h2>Costs</h2>
 * Amortized a few frames per claim; at most three turns of the clock before giving up when every frame is pinned or
 * loading. A frame's pin check reads one count per client slot.
 */
final class FrameSweep
{
    private final UnsafeBuffer meta;
    private final FrameRecords records;
    private final SharedIndex index;
    private final long leaseMillis;

    FrameSweep(final UnsafeBuffer meta, final FrameRecords records, final SharedIndex index, final long leaseMillis)
    {
        this.meta = meta;
        this.records = records;
        this.index = index;
        this.leaseMillis = leaseMillis;
    }

    /**
     * Claims a frame for {@code client} to load into; the caller holds the allocation lock.
     *
     * @return the frame, now LOADING by {@code client}, or -1 if every frame is pinned, loading or recently lost.
     */
    int claim(final int client, final long now)
    {
        final int frames = records.frames();
        for (int scanned = 0; scanned < 3 * frames; scanned++)
        {
            final long hand = meta.getLongVolatile(SharedLayout.CLOCK_HAND_OFFSET);
            meta.putLongVolatile(SharedLayout.CLOCK_HAND_OFFSET, hand + 1);
            final int frame = (int)Long.remainderUnsigned(hand, frames);
            final long word = records.state(frame);
            final long generation = generationOf(word);
            switch (stateOf(word))
            {
                case FREE:
                    if (records.casState(frame, word, stateWord(generation, client, LOADING)))
                    {
                        return frame;
                    }
                    break;
                case LOST:
                    if (now - records.key(frame) > leaseMillis &&
                        records.casState(frame, word, stateWord(nextGeneration(generation), client, LOADING)))
                    {
                        return frame;
                    }
                    break;
                case READY:
                    if (!records.clearTouched(frame) && reclaim(frame, word, client))
                    {
                        return frame;
                    }
                    break;
                case DROPPED:
                    if (reclaim(frame, word, client))
                    {
                        return frame;
                    }
                    break;
                default:
                    break;
            }
        }
        return -1;
    }

    private boolean reclaim(final int frame, final long word, final int client)
    {
        final long generation = generationOf(word);
        final long reclaiming = stateWord(generation, client, RECLAIMING);
        if (!records.casState(frame, word, reclaiming))
        {
            return false;
        }
        if (records.pinned(frame))
        {
            records.casState(frame, reclaiming, word);
            return false;
        }
        if (READY == stateOf(word))
        {
            index.remove(records.key(frame), frame);
        }
        if (!records.casState(frame, reclaiming, stateWord(nextGeneration(generation), client, LOADING)))
        {
            return false; // this client was declared dead meanwhile and recovered the frame
        }
        meta.getAndAddLong(SharedLayout.RECLAIMS_OFFSET, 1);
        return true;
    }

    /**
     * Takes a READY frame of {@code handle}'s generation out of service: out of the index, then FREE with a new
     * generation, or DROPPED (kept for its pins, freed by a later sweep) if pinned. The caller holds the lock.
     *
     * @return true if it was taken out (false if the handle was already stale).
     */
    boolean invalidate(final int frame, final long generation, final int client)
    {
        final long word = records.state(frame);
        if (READY != stateOf(word) || generationOf(word) != generation)
        {
            return false;
        }
        final long reclaiming = stateWord(generation, client, RECLAIMING);
        if (!records.casState(frame, word, reclaiming))
        {
            return false;
        }
        index.remove(records.key(frame), frame);
        final long next = records.pinned(frame) ? stateWord(generation, 0, DROPPED) :
            stateWord(nextGeneration(generation), 0, FREE);
        records.casState(frame, reclaiming, next);
        meta.getAndAddLong(SharedLayout.INVALIDATIONS_OFFSET, 1);
        return true;
    }
}
