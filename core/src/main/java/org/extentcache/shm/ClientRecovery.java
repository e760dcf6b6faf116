package org.extentcache.shm;

import org.agrona.concurrent.UnsafeBuffer;

import static org.extentcache.shm.SharedLayout.DROPPED;
import static org.extentcache.shm.SharedLayout.FREE;
import static org.extentcache.shm.SharedLayout.LOADING;
import static org.extentcache.shm.SharedLayout.LOST;
import static org.extentcache.shm.SharedLayout.READY;
import static org.extentcache.shm.SharedLayout.RECLAIMING;
import static org.extentcache.shm.SharedLayout.clientOf;
import static org.extentcache.shm.SharedLayout.generationOf;
import static org.extentcache.shm.SharedLayout.nextGeneration;
import static org.extentcache.shm.SharedLayout.stateOf;
import static org.extentcache.shm.SharedLayout.stateWord;

/**
 * Takes back what a dead client held: its pins, the frames it was loading or reclaiming, its slot, and, if it died
 * holding the allocation lock, the index it may have left half-changed. Every step runs under the allocation lock and
 * is idempotent, and the slot is freed last, so a recoverer that dies itself leaves the dead slot for the next one to
 * finish.
 *
 * <h2>What happens to each frame</h2>
 * <ul>
 *   <li>its pin count for the dead client is zeroed: a pin nobody will release;</li>
 *   <li>LOADING by it: out of the index, and LOST with a new generation and the time, so its half-filled bytes are
 *       never served; the sweep frees it one lease later ({@link FrameSweep}), so a client that only looked dead (a
 *       pause longer than the lease) and still writes into it writes into nobody's frame;</li>
 *   <li>RECLAIMING by it (it died in the sweep): out of the index, then DROPPED if another client pins it, else
 *       FREE with a new generation;</li>
 *   <li>anything else stays: READY frames hold their keys' bytes, whoever loaded them.</li>
 * </ul>
 *
 * <h2>Costs</h2>
 * One pass over every frame record and its pin count for the client, under the lock; a takeover also rebuilds the
 * index (another pass). Runs once per dead client.
 */
final class ClientRecovery
{
    private final UnsafeBuffer meta;
    private final FrameRecords records;
    private final SharedIndex index;
    private final ClientTable clients;

    ClientRecovery(final UnsafeBuffer meta, final FrameRecords records, final SharedIndex index,
        final ClientTable clients)
    {
        this.meta = meta;
        this.records = records;
        this.index = index;
        this.clients = clients;
    }

    /**
     * Recovers {@code session}'s pins and frames and frees its slot; the caller holds the allocation lock and found the
     * session dead, or is that session, leaving.
     *
     * @param dead true for a client taken for dead (counted, and its slot quarantined for a lease, see
     *             {@link ClientTable}); false for a client's own close.
     * @return the pins it held, or -1 if the slot no longer held the session (already recovered).
     */
    int recover(final long session, final long now, final boolean dead)
    {
        final int slot = SharedLayout.sessionSlot(session);
        if (clients.session(slot) != session)
        {
            return -1;
        }
        int pins = 0;
        for (int frame = 0; frame < records.frames(); frame++)
        {
            pins += records.clearPins(frame, slot);
            final long word = records.state(frame);
            final int state = stateOf(word);
            if ((LOADING == state || RECLAIMING == state) && clientOf(word) == slot)
            {
                final long key = records.key(frame);
                index.remove(key, frame);
                final long next = nextGeneration(generationOf(word));
                if (LOADING == state)
                {
                    if (records.casState(frame, word, stateWord(next, 0, LOST)))
                    {
                        records.key(frame, now); // after the CAS: a loader that only looked dead and published
                    }                            // first keeps its key
                }
                else if (records.pinned(frame))
                {
                    records.casState(frame, word, stateWord(generationOf(word), 0, DROPPED));
                }
                else
                {
                    records.casState(frame, word, stateWord(next, 0, FREE));
                }
            }
        }
        if (dead)
        {
            meta.getAndAddLong(SharedLayout.RECOVERIES_OFFSET, 1);
        }
        clients.release(session, dead ? now : 0);
        return pins;
    }

    /**
     * After the lock was taken over from a dead holder: recovers it and rebuilds the index from the frame records,
     * freeing (or dropping, if pinned) a second frame of one key.
     */
    void afterTakeover(final long deadHolder, final long now)
    {
        recover(deadHolder, now, true);
        rebuildIndex();
    }

    /**
     * Rebuilds the index from the frame records, freeing (or dropping, if pinned) a second frame of one key: after a
     * takeover, or when this process finds the lock left held by its own session (a thread that died inside it).
     */
    void rebuildIndex()
    {
        for (final int frame : index.rebuild())
        {
            final long word = records.state(frame);
            final int state = stateOf(word);
            if (READY == state || LOADING == state)
            {
                records.casState(frame, word, records.pinned(frame) && READY == state ?
                    stateWord(generationOf(word), 0, DROPPED) : stateWord(nextGeneration(generationOf(word)), 0, FREE));
            }
        }
    }
}
