package org.extentcache.shm;

import org.agrona.concurrent.UnsafeBuffer;
import org.extentcache.index.BlockHash;

import static org.extentcache.shm.SharedLayout.EMPTY;
import static org.extentcache.shm.SharedLayout.TOMBSTONE;

/**
 * The device index of a shared cache file: key to frame, an open-addressing table of {@code long} slots with linear
 * probing (see {@link SharedLayout} for the slot values). A slot names a frame, not a key: the key is the frame
 * record's, so one CAS of one word inserts or removes an entry, and a process killed between two changes leaves
 * every slot either old or new, never torn.
 *
 * <h2>Concurrency</h2>
 * Lookups take no lock: they read slots with volatile loads and check the frame's key between two reads of its state
 * word, so a frame reused for another key while they look is never taken for this one. Inserts and removals run under
 * the allocation lock ({@link SharedLock}), one at a time across every process, so an insert that found its key
 * absent may reuse the first tombstone of the probe without a second insert of the same key racing it. A lookup that
 * misses an entry being moved (by {@link #rebuild}) only takes the slow path, which looks again under the lock.
 *
 * <h2>Tombstones and rebuilds</h2>
 * Removals leave tombstones, which inserts reuse; once they pass a quarter of the slots, or after a process died
 * holding the lock (its last change may be half of a pair), {@link #rebuild} clears the table and reinserts every
 * LOADING, READY and RECLAIMING frame from the frame records, which are the truth the index is built from; all but
 * the frame whose removal triggered it, which is still RECLAIMING or LOADING but on its way out.
 *
 * <h2>Costs</h2>
 * Twice as many slots as frames (8 bytes each, 16 bytes per frame); a lookup is one hash and, on average, one or two
 * slots and the frame's record. A rebuild reads every frame record.
 */
final class SharedIndex
{
    private final UnsafeBuffer meta;
    private final SharedLayout layout;
    private final FrameRecords records;
    private final int mask;

    SharedIndex(final UnsafeBuffer meta, final SharedLayout layout, final FrameRecords records)
    {
        this.meta = meta;
        this.layout = layout;
        this.records = records;
        this.mask = layout.indexSlots - 1;
    }

    private int home(final long key)
    {
        return (int)BlockHash.mix(key) & mask;
    }

    private long slot(final int slot)
    {
        return meta.getLongVolatile((int)layout.indexSlotOffset(slot));
    }

    /**
     * Finds the frame holding {@code key}, LOADING, READY or RECLAIMING, without a lock: never one out of service
     * (FREE, LOST, DROPPED), whatever an entry left behind names.
     *
     * @param found receives the state word read with the key (one element).
     * @return the frame, or -1 if none holds the key.
     */
    int find(final long key, final long[] found)
    {
        int slot = home(key);
        for (int probes = 0; probes < layout.indexSlots; probes++, slot = (slot + 1) & mask)
        {
            final long value = slot(slot);
            if (EMPTY == value)
            {
                return -1;
            }
            if (value > 0)
            {
                final int frame = (int)(value - 1);
                long before = records.state(frame);
                long frameKey = records.key(frame);
                long after = records.state(frame);
                while (before != after)
                {
                    // the frame moved while it was read (a load published, outside the lock): read it again, never
                    // skip it, or a look under the lock misses a key being loaded and claims a second frame for it
                    before = after;
                    frameKey = records.key(frame);
                    after = records.state(frame);
                }
                final int state = SharedLayout.stateOf(before);
                if (frameKey == key && state != SharedLayout.FREE && state != SharedLayout.LOST &&
                    state != SharedLayout.DROPPED)
                {
                    found[0] = before;
                    return frame;
                }
            }
        }
        return -1;
    }

    /** Adds {@code key -> frame}; the caller holds the allocation lock and found the key absent. */
    void insert(final long key, final int frame)
    {
        int slot = home(key);
        for (int probes = 0; probes < layout.indexSlots; probes++, slot = (slot + 1) & mask)
        {
            final long value = slot(slot);
            if (EMPTY == value || TOMBSTONE == value)
            {
                if (TOMBSTONE == value)
                {
                    addTombstones(-1);
                }
                meta.putLongVolatile((int)layout.indexSlotOffset(slot), frame + 1L);
                return;
            }
        }
        throw new IllegalStateException("shared index full: " + layout.indexSlots + " slots"); // 2 slots per frame
    }

    /** Removes the entry naming {@code frame} under {@code key}, if any; the caller holds the allocation lock. */
    boolean remove(final long key, final int frame)
    {
        int slot = home(key);
        for (int probes = 0; probes < layout.indexSlots; probes++, slot = (slot + 1) & mask)
        {
            final long value = slot(slot);
            if (EMPTY == value)
            {
                return false;
            }
            if (value == frame + 1L)
            {
                meta.putLongVolatile((int)layout.indexSlotOffset(slot), TOMBSTONE);
                if (addTombstones(1) > layout.indexSlots / 4)
                {
                    rebuild(frame); // the frame is still LOADING or RECLAIMING: it must not come back in
                }
                return true;
            }
        }
        return false;
    }

    private long addTombstones(final int delta)
    {
        final int offset = SharedLayout.TOMBSTONES_OFFSET;
        final long tombstones = Math.max(0, meta.getLongVolatile(offset) + delta);
        meta.putLongVolatile(offset, tombstones);
        return tombstones;
    }

    /**
     * Clears the table and reinserts every frame the records say is indexed (LOADING, READY, RECLAIMING), dropping a
     * second frame of one key (which no correct run leaves). The caller holds the allocation lock.
     *
     * @return frames of a key already indexed: the caller frees or drops them (their state word is returned in
     *     {@code duplicates} order); none on a consistent file.
     */
    int[] rebuild()
    {
        return rebuild(-1);
    }

    /**
     * As {@link #rebuild()}, leaving {@code leaving} out: the frame a removal is taking out of the index, still
     * RECLAIMING (or a dead client's LOADING) when its removal triggers the rebuild. Put back, it would stay found
     * under its key after it is DROPPED, and every load of that key would wait on it for ever.
     */
    private int[] rebuild(final int leaving)
    {
        for (int slot = 0; slot < layout.indexSlots; slot++)
        {
            meta.putLongVolatile((int)layout.indexSlotOffset(slot), EMPTY);
        }
        meta.putLongVolatile(SharedLayout.TOMBSTONES_OFFSET, 0);
        final long[] found = new long[1];
        int[] duplicates = new int[0];
        for (int frame = 0; frame < layout.frames; frame++)
        {
            final int state = SharedLayout.stateOf(records.state(frame));
            if (frame != leaving &&
                (state == SharedLayout.LOADING || state == SharedLayout.READY || state == SharedLayout.RECLAIMING))
            {
                final long key = records.key(frame);
                if (find(key, found) >= 0)
                {
                    duplicates = java.util.Arrays.copyOf(duplicates, duplicates.length + 1);
                    duplicates[duplicates.length - 1] = frame;
                }
                else
                {
                    insert(key, frame);
                }
            }
        }
        return duplicates;
    }
}
