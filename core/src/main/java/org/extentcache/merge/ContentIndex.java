package org.extentcache.merge;

import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.extentcache.index.BlockHash;

import java.nio.ByteBuffer;

/**
 * The content index: (merge domain, content hash) &rarr; clean, resident frames whose bytes hash to it. The "stable
 * tree" of KSM, as a hash table: a miss that filled a frame looks its hash up here for a frame to merge with, and
 * the caller compares the bytes before merging, since a hash match proves nothing.
 *
 * <h2>Layout</h2>
 * Two off-heap regions, reserved up front for the arena's frames:
 * <ul>
 *   <li><b>Frame records</b>, {@link #RECORD_LENGTH} bytes per frame: the content hash the frame was indexed under,
 *       the frame's generation then (a later in-place write or a reuse bumps it, so the entry is known stale without
 *       a hook on every write), its merge domain, and whether it is indexed.
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                      Content hash (64)                        |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |            Frame generation when it was hashed (64)           |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                      Merge domain (32)                        |
 *  +---------------------------------------------------------------+
 *  |                    Indexed: 1, else 0 (32)                    |
 *  +---------------------------------------------------------------+
 * </pre></li>
 *   <li><b>Table</b>: open addressing with linear probing over {@code int} slots holding {@code frame + 1}, {@code 4/3}
 *       slots per frame; the key is read from the frame's record, as the device index reads it from the frame's
 *       metadata. At most one entry per frame, so the table never fills. Removal shifts entries back.</li>
 * </ul>
 * 29.3 bytes per frame, all counted by {@link #bytesReserved()}.
 *
 * <p>Several frames may share a key: their hashes collide while their bytes differ, or they hold the same bytes but
 * were not merged (one was dirty, or pinned). At most {@link #MAX_CANDIDATES} frames are indexed per key, so a hash
 * that collides all the time (the tests use one) costs a bounded number of comparisons per miss, and probe runs stay
 * short.
 *
 * <h2>Concurrency</h2>
 * None of its own: every call must hold the cache's allocation lock, which also orders it with the frame states the
 * caller checks.
 *
 * <h2>Costs</h2>
 * A lookup probes about 2.5 slots at the worst load factor and reads one record per slot; insert and remove the
 * same, plus a backward shift on removal.
 */
public final class ContentIndex extends IntSlotTable
{
    /** Offset of the content hash in a frame record. */
    static final int HASH_OFFSET = 0;
    /** Offset of the frame generation in a frame record. */
    static final int GENERATION_OFFSET = HASH_OFFSET + Long.BYTES;
    /** Offset of the merge domain in a frame record. */
    static final int DOMAIN_OFFSET = GENERATION_OFFSET + Long.BYTES;
    /** Offset of the indexed flag in a frame record. */
    static final int INDEXED_OFFSET = DOMAIN_OFFSET + Integer.BYTES;
    /** Bytes in one frame record. */
    static final int RECORD_LENGTH = INDEXED_OFFSET + Integer.BYTES;
    /** Most frames indexed under one key; the rest of a colliding crowd is not a merge candidate. */
    public static final int MAX_CANDIDATES = 4;

    private final int frames;
    private final ByteBuffer recordsBuffer;
    private final UnsafeBuffer records;
    private int size;
    private boolean closed;

    /**
     * @param frames frames in the arena.
     * @throws IllegalArgumentException if {@code frames} is not positive or too large.
     */
    public ContentIndex(final int frames)
    {
        super(checkedFrames(frames));
        this.frames = frames;
        this.recordsBuffer = ByteBuffer.allocateDirect(frames * RECORD_LENGTH);
        this.records = new UnsafeBuffer(recordsBuffer);
    }

    /**
     * Collects the frames indexed under a key, up to {@code candidates.length} (at most {@link #MAX_CANDIDATES}
     * exist).
     *
     * @param domain     merge domain.
     * @param hash       content hash.
     * @param candidates where to put them.
     * @return how many were put.
     */
    public int candidates(final int domain, final long hash, final int[] candidates)
    {
        int found = 0;
        int slot = home(domain, hash);
        for (int probes = 0; probes < slotCount && found < candidates.length; probes++)
        {
            final int entry = entryAt(slot);
            if (EMPTY == entry)
            {
                break;
            }
            if (keyEquals(entry - 1, domain, hash))
            {
                candidates[found++] = entry - 1;
            }
            slot = next(slot);
        }
        return found;
    }

    /**
     * Indexes a frame under its content, unless {@link #MAX_CANDIDATES} frames hold that key already. An entry the
     * frame had (for older bytes, or an earlier use of the frame) is replaced.
     *
     * @param frame      a clean, resident frame.
     * @param generation the frame's generation when its bytes were hashed.
     * @param domain     its merge domain.
     * @param hash       the hash of its bytes.
     * @return true if indexed.
     */
    public boolean insert(final int frame, final long generation, final int domain, final long hash)
    {
        remove(frame);
        int slot = home(domain, hash);
        int sameKey = 0;
        int entry;
        while ((entry = entryAt(slot)) != EMPTY)
        {
            if (keyEquals(entry - 1, domain, hash) && ++sameKey >= MAX_CANDIDATES)
            {
                return false;
            }
            slot = next(slot);
        }
        final int offset = frame * RECORD_LENGTH;
        records.putLong(offset + HASH_OFFSET, hash);
        records.putLong(offset + GENERATION_OFFSET, generation);
        records.putInt(offset + DOMAIN_OFFSET, domain);
        records.putInt(offset + INDEXED_OFFSET, 1);
        insertAt(slot, frame + 1);
        size++;
        return true;
    }

    /**
     * Takes a frame out of the index, if it is in: its bytes are about to change, or it is being freed.
     *
     * @param frame frame number.
     * @return true if it was indexed.
     */
    public boolean remove(final int frame)
    {
        checkFrame(frame);
        if (!isIndexed(frame))
        {
            return false;
        }
        final int offset = frame * RECORD_LENGTH;
        int slot = home(records.getInt(offset + DOMAIN_OFFSET), records.getLong(offset + HASH_OFFSET));
        for (int probes = 0; probes < slotCount; probes++)
        {
            final int entry = entryAt(slot);
            if (EMPTY == entry)
            {
                break;
            }
            if (entry == frame + 1)
            {
                removeAt(slot);
                records.putInt(offset + INDEXED_OFFSET, 0);
                size--;
                return true;
            }
            slot = next(slot);
        }
        throw new IllegalStateException("frame " + frame + " is marked indexed but missing from the content index");
    }

    /**
     * Takes every frame out of the index: the files some of them were loaded for moved to another merge domain, and a
     * frame does not know its files. One pass over the table.
     */
    public void clear()
    {
        for (int slot = 0; slot < slotCount; slot++)
        {
            final int entry = entryAt(slot);
            if (EMPTY != entry)
            {
                records.putInt((entry - 1) * RECORD_LENGTH + INDEXED_OFFSET, 0);
            }
        }
        clearSlots();
        size = 0;
    }

    /**
     * @param frame frame number.
     * @return true if the frame is indexed.
     */
    public boolean isIndexed(final int frame)
    {
        checkFrame(frame);
        return records.getInt(frame * RECORD_LENGTH + INDEXED_OFFSET) != 0;
    }

    /**
     * @param frame an indexed frame.
     * @return its generation when it was indexed: the entry is stale unless the frame still has it.
     */
    public long generation(final int frame)
    {
        checkFrame(frame);
        return records.getLong(frame * RECORD_LENGTH + GENERATION_OFFSET);
    }

    /**
     * Moves a frame's entry to another frame holding the same bytes, if the entry is still the frame's (its
     * generation): for a merged frame whose blocks moved to a copy of it.
     *
     * @param frame         the frame leaving.
     * @param generation    the frame's generation now.
     * @param copy          the frame taking its bytes.
     * @param copyGeneration the copy's generation.
     * @return true if the copy is indexed now.
     */
    public boolean move(final int frame, final long generation, final int copy, final long copyGeneration)
    {
        if (!isIndexed(frame) || generation(frame) != generation)
        {
            return false;
        }
        final int offset = frame * RECORD_LENGTH;
        final long hash = records.getLong(offset + HASH_OFFSET);
        final int domain = records.getInt(offset + DOMAIN_OFFSET);
        remove(frame);
        return insert(copy, copyGeneration, domain, hash);
    }

    /** @return frames indexed. */
    public int size()
    {
        return size;
    }

    /** @return off-heap bytes reserved: frame records and table. */
    public long bytesReserved()
    {
        return (long)frames * RECORD_LENGTH + slotBytes();
    }

    /** Releases the off-heap regions. Not thread-safe: no other call may be in flight or follow. */
    @Override
    public void close()
    {
        if (!closed)
        {
            closed = true;
            BufferUtil.free(recordsBuffer);
            super.close();
        }
    }

    private boolean keyEquals(final int frame, final int domain, final long hash)
    {
        final int offset = frame * RECORD_LENGTH;
        return records.getLong(offset + HASH_OFFSET) == hash && records.getInt(offset + DOMAIN_OFFSET) == domain;
    }

    private void checkFrame(final int frame)
    {
        if (frame < 0 || frame >= frames)
        {
            throw new IllegalArgumentException("frame out of range: frame=" + frame + " frames=" + frames);
        }
    }

    @Override
    int homeOf(final int entry)
    {
        final int offset = (entry - 1) * RECORD_LENGTH;
        return home(records.getInt(offset + DOMAIN_OFFSET), records.getLong(offset + HASH_OFFSET));
    }

    /** The content hash is mixed again with the domain, so a weak test hash still spreads across domains. */
    private int home(final int domain, final long hash)
    {
        return homeSlot(BlockHash.mix(hash ^ ((long)domain << 32 | domain)));
    }

    private static int checkedFrames(final int frames)
    {
        if (frames <= 0 || (long)frames * RECORD_LENGTH > Integer.MAX_VALUE)
        {
            throw new IllegalArgumentException("frames out of range: frames=" + frames);
        }
        return frames;
    }
}
