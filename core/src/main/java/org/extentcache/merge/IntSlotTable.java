package org.extentcache.merge;

import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteBuffer;

/**
 * The slot array the merge tables share: open addressing with linear probing over an off-heap array of {@code int}
 * slots, each 0 (empty) or an entry, a record number + 1, whose key lives in the record. {@code 4/3} slots per entry
 * the table must hold, so the load factor stays at most 0.75 and the array never grows. Removal shifts later entries
 * of the probe run back over the hole (Knuth, TAOCP vol. 3, 6.4 Algorithm R), so no tombstones accumulate.
 *
 * <p>Not thread-safe: the subclasses' callers hold the cache's allocation lock.
 */
abstract class IntSlotTable implements AutoCloseable
{
    /** An empty slot. */
    static final int EMPTY = 0;

    /** Slots in the array. */
    final int slotCount;
    private final ByteBuffer slotsBuffer;
    private final UnsafeBuffer slots;
    private boolean closed;

    /**
     * @param entries most entries the table will hold.
     * @throws IllegalArgumentException if the array would not fit in 2 GiB.
     */
    IntSlotTable(final long entries)
    {
        final long count = Math.max(8, entries * 4 / 3 + 1);
        if (count * Integer.BYTES > Integer.MAX_VALUE)
        {
            throw new IllegalArgumentException("too many entries for one table: entries=" + entries);
        }
        this.slotCount = (int)count;
        this.slotsBuffer = ByteBuffer.allocateDirect(slotCount * Integer.BYTES);
        this.slots = new UnsafeBuffer(slotsBuffer);
    }

    /**
     * @param entry an entry in the table.
     * @return the slot its key hashes to.
     */
    abstract int homeOf(int entry);

    /**
     * @param slot a slot.
     * @return its entry, or {@link #EMPTY}.
     */
    final int entryAt(final int slot)
    {
        return slots.getInt(slot * Integer.BYTES);
    }

    /**
     * Puts an entry in the first empty slot from {@code home} on; the caller knows the table is not full.
     *
     * @param home  the entry's home slot.
     * @param entry the entry.
     */
    final void insertAt(final int home, final int entry)
    {
        int slot = home;
        while (entryAt(slot) != EMPTY)
        {
            slot = next(slot);
        }
        slots.putInt(slot * Integer.BYTES, entry);
    }

    /**
     * Empties a slot, moving later entries of its probe run back.
     *
     * @param removedSlot the slot whose entry goes.
     */
    final void removeAt(final int removedSlot)
    {
        int hole = removedSlot;
        int slot = removedSlot;
        while (true)
        {
            slot = next(slot);
            final int entry = entryAt(slot);
            if (EMPTY == entry)
            {
                break;
            }
            final int home = homeOf(entry);
            final boolean staysPut = hole <= slot ? (hole < home && home <= slot) : (hole < home || home <= slot);
            if (!staysPut)
            {
                slots.putInt(hole * Integer.BYTES, entry);
                hole = slot;
            }
        }
        slots.putInt(hole * Integer.BYTES, EMPTY);
    }

    /** Empties every slot. */
    final void clearSlots()
    {
        slots.setMemory(0, slotCount * Integer.BYTES, (byte)0);
    }

    /**
     * @param mixed a well-mixed hash of a key.
     * @return the key's home slot: Lemire's multiply-shift range reduction of the hash's upper 32 bits.
     */
    final int homeSlot(final long mixed)
    {
        return (int)(((mixed >>> 32) * slotCount) >>> 32);
    }

    /**
     * @param slot a slot.
     * @return the next slot of a probe run, wrapping around.
     */
    final int next(final int slot)
    {
        return slot + 1 == slotCount ? 0 : slot + 1;
    }

    /** @return off-heap bytes of the slot array. */
    final long slotBytes()
    {
        return (long)slotCount * Integer.BYTES;
    }

    /** Frees the slot array. Idempotent; no other call may be in flight or follow. */
    @Override
    public void close()
    {
        if (!closed)
        {
            closed = true;
            BufferUtil.free(slotsBuffer);
        }
    }
}
