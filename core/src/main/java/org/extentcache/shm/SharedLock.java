package org.extentcache.shm;

import org.agrona.concurrent.UnsafeBuffer;

import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The allocation lock of a shared cache file, held across processes: a word holding the holder's session (0 when
 * free), taken by CAS. Inside one process a {@link ReentrantLock} orders the threads first, so the word only ever
 * sees one thread per process. A waiter that finds the holder dead (gone from the client table, or past its lease)
 * takes the lock over by CAS from the dead session to its own, and is told so: the dead holder may have been halfway
 * through a change of the index, which the new holder then rebuilds ({@link ClientRecovery#afterTakeover}).
 *
 * <h2>Ordering</h2>
 * Taking is a CAS (volatile RMW) and releasing a volatile store of 0, read by the next taker's CAS: everything the
 * holder changed under the lock happens before the next holder's critical section, in any process.
 *
 * <h2>Costs</h2>
 * Held only for index changes and the sweep that picks a frame, never for I/O. A waiter spins briefly, then parks
 * for up to a millisecond at a time: there is no cross-process wake-up in Java, so a contended handover may cost
 * that much.
 *
 * <p><b>Thread safety:</b> safe for concurrent use.
 */
final class SharedLock
{
    private final UnsafeBuffer meta;
    private final ClientTable clients;
    private final long leaseMillis;
    private final ReentrantLock local = new ReentrantLock();

    SharedLock(final UnsafeBuffer meta, final ClientTable clients, final long leaseMillis)
    {
        this.meta = meta;
        this.clients = clients;
        this.leaseMillis = leaseMillis;
    }

    /** What {@link #tryLock} returns when it gave up. */
    static final long NOT_TAKEN = Long.MIN_VALUE;

    /**
     * Takes the lock for {@code session}, waiting as long as it takes.
     *
     * @return the dead holder's session if the lock was taken over from it (the caller must repair what it may have
     *     left half-done), else 0.
     */
    long lock(final long session)
    {
        return tryLock(session, Long.MAX_VALUE);
    }

    /**
     * Takes the lock for {@code session} unless {@code timeoutNanos} pass first (for the heartbeat thread, which must
     * not stop beating while another process holds the lock through a long pause).
     *
     * @return as {@link #lock}, or {@link #NOT_TAKEN} if the time ran out.
     */
    long tryLock(final long session, final long timeoutNanos)
    {
        final long start = System.nanoTime();
        if (Long.MAX_VALUE == timeoutNanos)
        {
            local.lock(); // not interruptible: lock() never gives up
        }
        else
        {
            try
            {
                if (!local.tryLock(timeoutNanos, java.util.concurrent.TimeUnit.NANOSECONDS))
                {
                    return NOT_TAKEN;
                }
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                return NOT_TAKEN;
            }
        }
        try
        {
            for (int spins = 0; ; spins++)
            {
                final long holder = meta.getLongVolatile(SharedLayout.LOCK_OFFSET);
                if (0 == holder)
                {
                    if (meta.compareAndSetLong(SharedLayout.LOCK_OFFSET, 0, session))
                    {
                        return 0;
                    }
                }
                else if (holder == session)
                {
                    // Left held by this session: only a thread of this process that died inside the lock without
                    // its finally (an Error). Take it back as a takeover so the index is rebuilt.
                    return session;
                }
                else if (clients.goneOrExpired(holder, System.currentTimeMillis(), leaseMillis) &&
                    meta.compareAndSetLong(SharedLayout.LOCK_OFFSET, holder, session))
                {
                    return holder;
                }
                if (System.nanoTime() - start > timeoutNanos)
                {
                    local.unlock();
                    return NOT_TAKEN;
                }
                backOff(spins);
            }
        }
        catch (final RuntimeException | Error ex)
        {
            local.unlock();
            throw ex;
        }
    }

    void unlock(final long session)
    {
        try
        {
            meta.compareAndSetLong(SharedLayout.LOCK_OFFSET, session, 0);
        }
        finally
        {
            local.unlock();
        }
    }

    static void backOff(final int spins)
    {
        if (spins < 100)
        {
            Thread.onSpinWait();
        }
        else if (spins < 200)
        {
            Thread.yield();
        }
        else
        {
            LockSupport.parkNanos(Math.min(1_000_000L, 10_000L * (spins - 199)));
        }
    }
}
