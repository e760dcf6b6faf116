package org.extentcache.shm;

import org.agrona.concurrent.UnsafeBuffer;

import static org.extentcache.shm.SharedLayout.KEY_OFFSET;
import static org.extentcache.shm.SharedLayout.STATE_OFFSET;

/**
 * The frame records, reference bits and per-client pin counts of a shared cache file (see {@link SharedLayout} for
 * where they lie and the state word's legend). One word per fact, each changed by a single store or CAS, so a process
 * killed between two changes never leaves a word half-written; what the words must agree on is repaired by
 * {@link ClientRecovery}.
 *
 * <h2>Pins and the reclaimer (Dekker)</h2>
 * <pre>
 *   pinner:    getAndAddInt(pins[frame][me], +1)   [volatile RMW]  then  getLongVolatile(state)     [volatile load]
 *   reclaimer: CAS(state, READY -&gt; RECLAIMING)     [volatile RMW]  then  getIntVolatile(pins[frame][*])
 * </pre>
 * Volatile accesses have one total order. If the pinner's state load comes first, so does its increment, and the
 * reclaimer's scan sees the pin and puts the frame back to READY; otherwise the pinner sees RECLAIMING (or a new
 * generation) and takes its pin back. Neither both missing the other nor a pinned frame reclaimed is possible. Each
 * client owns its own count, so a dead client's pins are exactly its counts, zeroed by recovery.
 *
 * <p><b>Thread safety:</b> every method is one atomic access or a read of several; callers say which lock they hold.
 */
final class FrameRecords
{
    private final UnsafeBuffer meta;
    private final SharedLayout layout;

    FrameRecords(final UnsafeBuffer meta, final SharedLayout layout)
    {
        this.meta = meta;
        this.layout = layout;
    }

    int frames()
    {
        return layout.frames;
    }

    /** Volatile load of the state word: pairs with every CAS and release store of it. */
    long state(final int frame)
    {
        return meta.getLongVolatile((int)layout.recordOffset(frame) + STATE_OFFSET);
    }

    boolean casState(final int frame, final long expected, final long update)
    {
        return meta.compareAndSetLong((int)layout.recordOffset(frame) + STATE_OFFSET, expected, update);
    }

    /**
     * The key a frame holds. Written while the frame is LOADING (by its loader, under the allocation lock, before the
     * index entry that makes it findable, a volatile CAS), so a reader that found the frame through the index, or
     * that reads the state word before and after this, sees the key that goes with that state.
     */
    long key(final int frame)
    {
        return meta.getLongVolatile((int)layout.recordOffset(frame) + KEY_OFFSET);
    }

    void key(final int frame, final long key)
    {
        meta.putLongVolatile((int)layout.recordOffset(frame) + KEY_OFFSET, key);
    }

    /** Marks the frame used, for the CLOCK sweep: a plain store, and only when the bit is clear (hits stay reads). */
    void touch(final int frame)
    {
        final int offset = (int)layout.refOffset(frame);
        if (0 == meta.getByte(offset))
        {
            meta.putByte(offset, (byte)1);
        }
    }

    /** Clears the used bit and says whether it was set (the sweep's second chance). */
    boolean clearTouched(final int frame)
    {
        final int offset = (int)layout.refOffset(frame);
        if (0 == meta.getByte(offset))
        {
            return false;
        }
        meta.putByte(offset, (byte)0);
        return true;
    }

    /** Adds to a client's pin count of a frame (a volatile RMW, see the class comment); returns the new count. */
    int addPin(final int frame, final int client, final int delta)
    {
        return meta.getAndAddInt((int)layout.pinOffset(frame, client), delta) + delta;
    }

    int pins(final int frame, final int client)
    {
        return meta.getIntVolatile((int)layout.pinOffset(frame, client));
    }

    /** @return true if any client pins the frame (volatile loads of each count). */
    boolean pinned(final int frame)
    {
        for (int client = 0; client < layout.clientSlots; client++)
        {
            if (0 != meta.getIntVolatile((int)layout.pinOffset(frame, client)))
            {
                return true;
            }
        }
        return false;
    }

    /** Zeroes a client's pin count of a frame (its recovery) and returns what it was. */
    int clearPins(final int frame, final int client)
    {
        final int offset = (int)layout.pinOffset(frame, client);
        final int pins = meta.getIntVolatile(offset);
        if (0 != pins)
        {
            meta.putIntVolatile(offset, 0);
        }
        return pins;
    }
}
