package org.extentcache.shm;

import org.agrona.concurrent.UnsafeBuffer;

import java.util.concurrent.ThreadLocalRandom;

import static org.extentcache.shm.SharedLayout.HEARTBEAT_OFFSET;
import static org.extentcache.shm.SharedLayout.PID_OFFSET;
import static org.extentcache.shm.SharedLayout.SESSION_OFFSET;

/**
 * The client table of a shared cache file, as Aeron's media driver keeps clients in its CnC file: one slot per process
 * that joined, holding a session (random bits above the slot number, 0 when the slot is free), a heartbeat and a pid.
 * A client whose heartbeat is older than the lease is dead: another client recovers its pins and loads
 * ({@link ClientRecovery}) and frees its slot.
 *
 * <h2>Quarantine of a recovered slot</h2>
 * A client taken for dead may only have been paused, and may still write its own pin counts when it resumes, before
 * it notices its slot is gone. So a slot freed by recovery keeps the time it was freed in its heartbeat, and is not
 * claimed again until a lease has passed: a late write by the paused client then lands in a slot nobody holds, whose
 * counts the next claimer zeroes. A slot freed by its own client's close is free at once.
 *
 * <h2>Ordering</h2>
 * A claimer stores a fresh heartbeat (volatile) before it CASes the session in, so whoever reads the new session
 * (volatile) then the heartbeat never sees the old occupant's heartbeat and takes the newcomer for dead. Beats are
 * release stores, read with volatile loads. Heartbeats are {@code System.currentTimeMillis()}: every process on the
 * host reads the same clock; a jump of the wall clock by more than the lease makes every client look dead once.
 *
 * <p><b>Thread safety:</b> every method is a few atomic accesses of one slot.
 */
final class ClientTable
{
    private final UnsafeBuffer meta;
    private final SharedLayout layout;

    ClientTable(final UnsafeBuffer meta, final SharedLayout layout)
    {
        this.meta = meta;
        this.layout = layout;
    }

    private int offset(final int slot, final int field)
    {
        return (int)layout.clientOffset(slot) + field;
    }

    int slots()
    {
        return layout.clientSlots;
    }

    long session(final int slot)
    {
        return meta.getLongVolatile(offset(slot, SESSION_OFFSET));
    }

    long heartbeat(final int slot)
    {
        return meta.getLongVolatile(offset(slot, HEARTBEAT_OFFSET));
    }

    long pid(final int slot)
    {
        return meta.getLongVolatile(offset(slot, PID_OFFSET));
    }

    /**
     * Claims a free slot for this process.
     *
     * @return the new session, or 0 if every slot is taken.
     */
    long claim(final long pid, final long now, final long leaseMillis)
    {
        for (int slot = 0; slot < layout.clientSlots; slot++)
        {
            if (0 == session(slot) && now - heartbeat(slot) > leaseMillis)
            {
                final long session = newSession(slot);
                meta.putLongVolatile(offset(slot, HEARTBEAT_OFFSET), now);
                meta.putLongVolatile(offset(slot, PID_OFFSET), pid);
                if (meta.compareAndSetLong(offset(slot, SESSION_OFFSET), 0, session))
                {
                    meta.putLongRelease(SharedLayout.LAST_BEAT_OFFSET, now);
                    return session;
                }
            }
        }
        return 0;
    }

    private static long newSession(final int slot)
    {
        final long random = ThreadLocalRandom.current().nextLong(1, 1L << (63 - SharedLayout.CLIENT_BITS));
        return random << SharedLayout.CLIENT_BITS | slot;
    }

    /**
     * A heartbeat: a release store, read by {@link #expired}'s volatile load; also the file's last beat in the header,
     * which a process of another layout version reads to tell whether the file is in use.
     */
    void beat(final int slot, final long now)
    {
        meta.putLongRelease(offset(slot, HEARTBEAT_OFFSET), now);
        meta.putLongRelease(SharedLayout.LAST_BEAT_OFFSET, now);
    }

    /** @return true if the slot still holds {@code session} (false once recovery took it away). */
    boolean holds(final long session)
    {
        return session(SharedLayout.sessionSlot(session)) == session;
    }

    /** @return true if {@code session} still holds its slot and has not beaten within the lease. */
    boolean expired(final long session, final long now, final long leaseMillis)
    {
        final int slot = SharedLayout.sessionSlot(session);
        return session(slot) == session && now - heartbeat(slot) > leaseMillis;
    }

    /** @return true if {@code session} no longer holds its slot, or holds it without beating within the lease. */
    boolean goneOrExpired(final long session, final long now, final long leaseMillis)
    {
        return !holds(session) || expired(session, now, leaseMillis);
    }

    /**
     * Frees the session's slot.
     *
     * @param quarantineFrom the time from which the slot stays unclaimed for a lease (a recovered client's), or 0 for
     *                       a slot free at once (its own client's close).
     * @return false if it was not held (already recovered).
     */
    boolean release(final long session, final long quarantineFrom)
    {
        final int slot = SharedLayout.sessionSlot(session);
        if (session(slot) != session)
        {
            return false;
        }
        meta.putLongVolatile(offset(slot, HEARTBEAT_OFFSET), quarantineFrom);
        return meta.compareAndSetLong(offset(slot, SESSION_OFFSET), session, 0);
    }

    /** @return the clients holding a slot whose heartbeat is within the lease. */
    int live(final long now, final long leaseMillis)
    {
        int live = 0;
        for (int slot = 0; slot < layout.clientSlots; slot++)
        {
            final long session = session(slot);
            if (0 != session && now - heartbeat(slot) <= leaseMillis)
            {
                live++;
            }
        }
        return live;
    }
}
