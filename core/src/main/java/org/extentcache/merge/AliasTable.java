package org.extentcache.merge;

import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.extentcache.index.BlockHash;

import java.nio.ByteBuffer;

import static org.extentcache.frame.FrameDescriptor.NO_FRAME;

/**
 * Aliases of merged frames: a device block whose bytes a frame indexed under another block holds, mapped to that
 * frame. The device index keeps one frame per block and finds the key in the frame's own record; an alias is the
 * second, third, ... block a merged frame stands for, so it needs a record of its own. This is the "record that
 * remembers every place it stands for" of seed 001's KSM for file pages.
 *
 * <h2>Layout</h2>
 * Three off-heap regions, all reserved up front for {@code capacity} aliases and {@code frames} frames:
 * <ul>
 *   <li><b>Records</b>, {@link #RECORD_LENGTH} bytes each, one per alias:
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                       Alias block (64)                        |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                          Frame (32)                           |
 *  +---------------------------------------------------------------+
 *  |        Next record of the same frame, or of the free list     |
 *  +---------------------------------------------------------------+
 * </pre></li>
 *   <li><b>Table</b>: open addressing with linear probing over {@code int} slots holding {@code record + 1} (0 is
 *       empty), {@code 4/3} slots per record, so the load factor stays at most 0.75 and the table never grows.
 *       Removal shifts entries back (no tombstones).</li>
 *   <li><b>Chain heads</b>: one {@code int} per frame, its first alias record + 1 (0: no alias). Each frame's aliases
 *       form a singly linked list through the records, so reclaiming a frame drops every alias it has without a
 *       search.</li>
 * </ul>
 * About 21.3 bytes per alias and 4 per frame. Every byte is counted by {@link #bytesReserved()}.
 *
 * <h2>Concurrency</h2>
 * None of its own: every method must be called under the lock that serializes the device index (the cache's
 * allocation lock). Alias lookups therefore happen on the locked half of a miss, never on the lock-free hit path.
 *
 * <h2>Costs</h2>
 * Find: a hash and about 2.5 slot probes at the worst load factor, each checked against its record. Remove: the same
 * plus a walk of the frame's chain (its alias count). Dropping a frame's aliases: one removal per alias.
 */
public final class AliasTable extends IntSlotTable
{
    /** Offset of the alias block in a record. */
    static final int BLOCK_OFFSET = 0;
    /** Offset of the frame in a record. */
    static final int FRAME_OFFSET = BLOCK_OFFSET + Long.BYTES;
    /** Offset of the next-record link in a record. */
    static final int NEXT_OFFSET = FRAME_OFFSET + Integer.BYTES;
    /** Bytes in one record. */
    static final int RECORD_LENGTH = NEXT_OFFSET + Integer.BYTES;
    /** "No block", returned by {@link #popAlias} for a frame without aliases. */
    public static final long NO_BLOCK = -1;

    private static final int NONE = EMPTY;

    private final int capacity;
    private final int frames;
    private final ByteBuffer recordsBuffer;
    private final ByteBuffer headsBuffer;
    private final UnsafeBuffer records;
    private final UnsafeBuffer heads;
    /** First free record + 1, 0 when every record is in use. */
    private int freeHead;
    private int size;
    private boolean closed;

    /**
     * @param capacity most aliases held at once.
     * @param frames   frames in the arena the aliases point into.
     * @throws IllegalArgumentException if either is not positive, or the regions would not fit in 2 GiB each.
     */
    public AliasTable(final int capacity, final int frames)
    {
        super(checkedCapacity(capacity, frames));
        this.capacity = capacity;
        this.frames = frames;
        this.recordsBuffer = ByteBuffer.allocateDirect(capacity * RECORD_LENGTH);
        this.headsBuffer = ByteBuffer.allocateDirect(frames * Integer.BYTES);
        this.records = new UnsafeBuffer(recordsBuffer);
        this.heads = new UnsafeBuffer(headsBuffer);
        for (int record = 0; record < capacity; record++)
        {
            records.putInt(record * RECORD_LENGTH + NEXT_OFFSET, record + 2 > capacity ? NONE : record + 2);
        }
        freeHead = 1;
    }

    /**
     * @param block device block.
     * @return the frame {@code block} is an alias of, or {@code NO_FRAME}.
     */
    public int find(final long block)
    {
        final int slot = slotOf(block);
        return slot < 0 ? NO_FRAME : records.getInt(recordOffset(entryAt(slot) - 1) + FRAME_OFFSET);
    }

    /**
     * Makes {@code block} an alias of {@code frame}. The block must not be an alias already, nor indexed in the
     * device index (one block, one frame).
     *
     * @param block device block.
     * @param frame the frame holding the block's bytes.
     * @return false if the table is full (the caller keeps the block's own frame instead).
     * @throws IllegalStateException if {@code block} is an alias already.
     */
    public boolean add(final long block, final int frame)
    {
        checkFrame(frame);
        if (slotOf(block) >= 0)
        {
            throw new IllegalStateException("device block " + block + " is an alias already");
        }
        if (NONE == freeHead)
        {
            return false;
        }
        final int record = freeHead - 1;
        final int offset = recordOffset(record);
        freeHead = records.getInt(offset + NEXT_OFFSET);
        records.putLong(offset + BLOCK_OFFSET, block);
        records.putInt(offset + FRAME_OFFSET, frame);
        records.putInt(offset + NEXT_OFFSET, heads.getInt(frame * Integer.BYTES));
        heads.putInt(frame * Integer.BYTES, record + 1);
        insertAt(home(block), record + 1);
        size++;
        return true;
    }

    /**
     * Removes one alias; the frame keeps its other aliases.
     *
     * @param block device block.
     * @return the frame it was an alias of, or {@code NO_FRAME} if it was none.
     */
    public int remove(final long block)
    {
        final int slot = slotOf(block);
        if (slot < 0)
        {
            return NO_FRAME;
        }
        final int record = entryAt(slot) - 1;
        final int frame = records.getInt(recordOffset(record) + FRAME_OFFSET);
        unlink(frame, record);
        removeAt(slot);
        release(record);
        return frame;
    }

    /**
     * Removes a frame's first alias and returns it: for re-keying the frame under one of its aliases when the block
     * it is indexed under goes away.
     *
     * @param frame frame number.
     * @return the alias removed, or {@link #NO_BLOCK} if the frame has none.
     */
    public long popAlias(final int frame)
    {
        checkFrame(frame);
        final int head = heads.getInt(frame * Integer.BYTES);
        if (NONE == head)
        {
            return NO_BLOCK;
        }
        final long block = records.getLong(recordOffset(head - 1) + BLOCK_OFFSET);
        remove(block);
        return block;
    }

    /**
     * Drops every alias of a frame: the frame is being freed.
     *
     * @param frame frame number.
     * @return how many aliases it had.
     */
    public int removeAll(final int frame)
    {
        int removed = 0;
        while (NO_BLOCK != popAlias(frame))
        {
            removed++;
        }
        return removed;
    }

    /**
     * @param frame frame number.
     * @return true if some block is an alias of it.
     */
    public boolean hasAliases(final int frame)
    {
        checkFrame(frame);
        return heads.getInt(frame * Integer.BYTES) != NONE;
    }

    /**
     * @param frame frame number.
     * @return how many blocks are aliases of it (walks its chain).
     */
    public int aliasCount(final int frame)
    {
        checkFrame(frame);
        int count = 0;
        for (int link = heads.getInt(frame * Integer.BYTES); NONE != link;
            link = records.getInt(recordOffset(link - 1) + NEXT_OFFSET))
        {
            count++;
        }
        return count;
    }

    /** What {@link #forEach} shows each alias to. */
    @FunctionalInterface
    public interface Visitor
    {
        /**
         * @param block the alias block.
         * @param frame the frame it is an alias of.
         * @return a description of what is wrong with it, to stop the walk; null to go on.
         */
        String visit(long block, int frame);
    }

    /**
     * Shows every alias to a visitor, for checks of the books (a walk of the table: not for hot paths).
     *
     * @param visitor told of each alias.
     * @return the first description the visitor returned, or null.
     */
    public String forEach(final Visitor visitor)
    {
        for (int slot = 0; slot < slotCount; slot++)
        {
            final int entry = entryAt(slot);
            if (NONE != entry)
            {
                final int offset = recordOffset(entry - 1);
                final String wrong = visitor.visit(records.getLong(offset + BLOCK_OFFSET),
                    records.getInt(offset + FRAME_OFFSET));
                if (null != wrong)
                {
                    return wrong;
                }
            }
        }
        return null;
    }

    /** @return aliases held. */
    public int size()
    {
        return size;
    }

    /** @return most aliases it can hold. */
    public int capacity()
    {
        return capacity;
    }

    /** @return off-heap bytes reserved: records, table and chain heads. */
    public long bytesReserved()
    {
        return (long)capacity * RECORD_LENGTH + slotBytes() + (long)frames * Integer.BYTES;
    }

    /** Releases the off-heap regions. Not thread-safe: no other call may be in flight or follow. */
    @Override
    public void close()
    {
        if (!closed)
        {
            closed = true;
            BufferUtil.free(recordsBuffer);
            BufferUtil.free(headsBuffer);
            super.close();
        }
    }

    private void unlink(final int frame, final int record)
    {
        final int headOffset = frame * Integer.BYTES;
        int link = heads.getInt(headOffset);
        if (link == record + 1)
        {
            heads.putInt(headOffset, records.getInt(recordOffset(record) + NEXT_OFFSET));
            return;
        }
        while (NONE != link)
        {
            final int nextOffset = recordOffset(link - 1) + NEXT_OFFSET;
            final int following = records.getInt(nextOffset);
            if (following == record + 1)
            {
                records.putInt(nextOffset, records.getInt(recordOffset(record) + NEXT_OFFSET));
                return;
            }
            link = following;
        }
        throw new IllegalStateException("alias record " + record + " missing from frame " + frame + "'s chain");
    }

    private void release(final int record)
    {
        records.putInt(recordOffset(record) + NEXT_OFFSET, freeHead);
        freeHead = record + 1;
        size--;
    }

    /** @return the table slot holding {@code block}'s record, or -1. */
    private int slotOf(final long block)
    {
        int slot = home(block);
        for (int probes = 0; probes < slotCount; probes++)
        {
            final int entry = entryAt(slot);
            if (NONE == entry)
            {
                return -1;
            }
            if (records.getLong(recordOffset(entry - 1) + BLOCK_OFFSET) == block)
            {
                return slot;
            }
            slot = next(slot);
        }
        return -1;
    }

    private void checkFrame(final int frame)
    {
        if (frame < 0 || frame >= frames)
        {
            throw new IllegalArgumentException("frame out of range: frame=" + frame + " frames=" + frames);
        }
    }

    private static int recordOffset(final int record)
    {
        return record * RECORD_LENGTH;
    }

    @Override
    int homeOf(final int entry)
    {
        return home(records.getLong(recordOffset(entry - 1) + BLOCK_OFFSET));
    }

    private int home(final long block)
    {
        return homeSlot(BlockHash.mix(block));
    }

    private static long checkedCapacity(final int capacity, final int frames)
    {
        if (capacity <= 0 || frames <= 0)
        {
            throw new IllegalArgumentException("capacity and frames must be > 0: capacity=" + capacity +
                " frames=" + frames);
        }
        if ((long)capacity * RECORD_LENGTH > Integer.MAX_VALUE)
        {
            throw new IllegalArgumentException("alias capacity too large: capacity=" + capacity);
        }
        return capacity;
    }
}
