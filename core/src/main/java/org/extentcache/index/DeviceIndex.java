package org.extentcache.index;

import org.agrona.BufferUtil;
import org.agrona.concurrent.AtomicBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteBuffer;

import static org.extentcache.frame.FrameDescriptor.NO_FRAME;
import static org.extentcache.frame.FrameDescriptor.deviceBlockOffset;

/**
 * The device index: device block &rarr; frame, at most one frame per block. The user-space counterpart of the block
 * device's page-cache mapping ({@code bd_inode->i_mapping}).
 *
 * <h2>Layout</h2>
 * An off-heap open-addressing table with linear probing, sized once for the arena ({@code 4/3} slots per frame, so
 * the load factor never exceeds 0.75 and the table never resizes). Each slot is one {@code long}:
 * <pre>
 *   63                              32 31                              0
 *  +----------------------------------+--------------------------------+
 *  |        tag: hash bits (32)       |        frame number + 1        |
 *  +----------------------------------+--------------------------------+
 * </pre>
 * 0 is an empty slot. The key itself is not stored: it is the frame's device block in the frame metadata
 * ({@link org.extentcache.frame.FrameDescriptor}); the tag is the hash's upper half, from which the home slot is
 * derived, so most non-matching slots are skipped without touching frame metadata. About 10.7 bytes per frame.
 *
 * <h2>Concurrency</h2>
 * Mutations ({@link #insert}, {@link #remove}) must be serialized by the caller (the cache's allocation lock).
 * {@link #find} needs no lock and never blocks, but it is a hint: while a removal shifts entries back it can miss an
 * entry that is present (a false negative), and the frame it returns may be changing hands. Callers confirm a hit
 * by pinning the frame with a CAS on its state word and re-checking its block, and confirm a miss under the lock
 * with {@link #findLocked}. Slots are written with release stores and read with acquire loads.
 *
 * <h2>Costs</h2>
 * A hit costs a hash, one slot load per probe (2.5 expected at the worst load factor) and one metadata load; a miss
 * at the worst load factor probes about 8.5 slots. Removal is Knuth's backward-shift deletion, so no tombstones
 * accumulate and probe lengths stay bounded however long the cache runs.
 */
public final class DeviceIndex implements AutoCloseable
{
    /** Opaque reads of the counts, for statistics taken without the lock that guards their updates. */
    private static final java.lang.invoke.VarHandle SIZE;

    static
    {
        try
        {
            final java.lang.invoke.MethodHandles.Lookup lookup = java.lang.invoke.MethodHandles.lookup();
            SIZE = lookup.findVarHandle(DeviceIndex.class, "size", int.class);
        }
        catch (final ReflectiveOperationException ex)
        {
            throw new ExceptionInInitializerError(ex);
        }
    }

    private static final int SLOT_BYTES = Long.BYTES;

    private final long slotCount;
    private final ByteBuffer tableBuffer;
    private final AtomicBuffer table;
    private final AtomicBuffer metadata;
    private int size;
    private boolean closed;

    /**
     * @param capacity most entries the index will hold (the arena's frame count).
     * @param metadata the arena's frame metadata, where keys live.
     */
    public DeviceIndex(final int capacity, final AtomicBuffer metadata)
    {
        if (capacity <= 0)
        {
            throw new IllegalArgumentException("capacity must be > 0: capacity=" + capacity);
        }
        final long slots = Math.max(8, (long)capacity * 4 / 3 + 1);
        if (slots * SLOT_BYTES > Integer.MAX_VALUE)
        {
            throw new IllegalArgumentException("capacity too large for the device index: capacity=" + capacity);
        }
        this.slotCount = slots;
        this.tableBuffer = ByteBuffer.allocateDirect((int)(slots * SLOT_BYTES));
        this.table = new UnsafeBuffer(tableBuffer);
        this.metadata = metadata;
    }

    /**
     * Looks a block up without locking. A hint, see the class comment.
     *
     * @param block device block.
     * @return the frame indexed for {@code block}, or {@link org.extentcache.frame.FrameDescriptor#NO_FRAME}.
     */
    public int find(final long block)
    {
        final long hash = hash(block);
        final long tag = hash & 0xFFFF_FFFF_0000_0000L;
        long slot = home(hash);
        for (long probes = 0; probes < slotCount; probes++)
        {
            final long entry = table.getLongVolatile(offset(slot));
            if (0 == entry)
            {
                return NO_FRAME;
            }
            if ((entry & 0xFFFF_FFFF_0000_0000L) == tag)
            {
                final int frame = (int)entry - 1;
                if (metadata.getLongVolatile(deviceBlockOffset(frame)) == block)
                {
                    return frame;
                }
            }
            slot = next(slot);
        }
        return NO_FRAME;
    }

    /**
     * Looks a block up; exact because the caller holds the lock that serializes mutations.
     *
     * @param block device block.
     * @return the frame indexed for {@code block}, or {@code NO_FRAME}.
     */
    public int findLocked(final long block)
    {
        return find(block);
    }

    /**
     * Indexes {@code frame} under {@code block}; the caller holds the lock, has checked the block is absent, and has
     * already written {@code block} into the frame's metadata.
     *
     * @param block device block.
     * @param frame frame number.
     */
    public void insert(final long block, final int frame)
    {
        if (size >= slotCount - 1)
        {
            throw new IllegalStateException("device index full: size=" + size + " slots=" + slotCount);
        }
        final long hash = hash(block);
        final long entry = (hash & 0xFFFF_FFFF_0000_0000L) | (frame + 1L);
        long slot = home(hash);
        while (table.getLong(offset(slot)) != 0)
        {
            slot = next(slot);
        }
        table.putLongRelease(offset(slot), entry);
        size++;
    }

    /**
     * Removes the entry mapping {@code block} to {@code frame}; the caller holds the lock.
     *
     * @param block device block.
     * @param frame the frame expected there.
     * @return true if it was there.
     */
    public boolean remove(final long block, final int frame)
    {
        final long hash = hash(block);
        final long wanted = (hash & 0xFFFF_FFFF_0000_0000L) | (frame + 1L);
        long slot = home(hash);
        for (long probes = 0; probes < slotCount; probes++)
        {
            final long entry = table.getLong(offset(slot));
            if (0 == entry)
            {
                return false;
            }
            if (entry == wanted)
            {
                shiftBack(slot);
                size--;
                return true;
            }
            slot = next(slot);
        }
        return false;
    }

    /**
     * @return entries held (caller holds the lock for an exact answer).
     */
    public int size()
    {
        return (int)SIZE.getOpaque(this);
    }

    /**
     * @return off-heap bytes reserved by the table.
     */
    public long bytesReserved()
    {
        return slotCount * SLOT_BYTES;
    }

    /**
     * Releases the table. Not thread-safe: no other call may be in flight or follow.
     */
    @Override
    public void close()
    {
        if (!closed)
        {
            closed = true;
            BufferUtil.free(tableBuffer);
        }
    }

    /** Knuth, TAOCP vol. 3, 6.4 Algorithm R: move later entries of the probe run back over the hole. */
    private void shiftBack(final long removedSlot)
    {
        long hole = removedSlot;
        long slot = removedSlot;
        while (true)
        {
            slot = next(slot);
            final long entry = table.getLong(offset(slot));
            if (0 == entry)
            {
                break;
            }
            final long home = homeOfTag(entry);
            final boolean staysPut = hole <= slot ? (hole < home && home <= slot) : (hole < home || home <= slot);
            if (!staysPut)
            {
                table.putLongRelease(offset(hole), entry);
                hole = slot;
            }
        }
        table.putLongRelease(offset(hole), 0);
    }

    private long home(final long hash)
    {
        return homeOfTag(hash);
    }

    /** Lemire's multiply-shift range reduction of the tag's 32 bits onto {@code [0, slotCount)}. */
    private long homeOfTag(final long hashOrEntry)
    {
        return ((hashOrEntry >>> 32) * slotCount) >>> 32;
    }

    private long next(final long slot)
    {
        return slot + 1 == slotCount ? 0 : slot + 1;
    }

    private static int offset(final long slot)
    {
        return (int)(slot * SLOT_BYTES);
    }

    /** Stafford's variant 13 of the MurmurHash3 finalizer: every input bit affects every output bit. */
    private static long hash(final long block)
    {
        long z = block;
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
