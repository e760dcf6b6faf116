package org.extentcache.shm;

import java.nio.file.Path;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.function.IntSupplier;

/**
 * This process's membership of a shared cache file: its session and slot in the {@link ClientTable}, the heartbeat
 * thread that keeps its lease, the recovery of other clients whose lease ran out ({@link ClientRecovery}), and the
 * allocation lock ({@link SharedLock}), taken with the repair a takeover from a dead holder needs.
 *
 * <h2>The heartbeat thread</h2>
 * One daemon thread per cache, named for the slot. Every quarter lease it checks that the slot still holds this
 * session (else the process was taken for dead: it is <em>expelled</em>, its pinned views revoked, and every load and
 * pin refused from then on), beats, and recovers every other client whose heartbeat is older than the lease. It waits
 * for the lock at most half a beat, so a process pausing with the lock held cannot stop the others beating; a
 * recovery given up on is tried again at the next beat. A failure of a beat is reported and the thread beats on: a
 * thread that stopped would get this process taken for dead a lease later.
 *
 * <p><b>Thread safety:</b> safe for concurrent use.
 */
final class ClientLease
{
    private final Path path;
    private final ClientTable clients;
    private final SharedLock lock;
    private final ClientRecovery recovery;
    private final long session;
    private final int slot;
    private final long leaseMillis;
    private final Consumer<String> reporter;
    /** Revokes this process's pinned views when it is expelled; returns how many were pinned. */
    private final IntSupplier revokePins;
    private final Thread heartbeat;
    private volatile boolean stopped;
    private volatile boolean expelled;

    ClientLease(final SharedFile file, final long session, final ClientTable clients, final SharedLock lock,
        final ClientRecovery recovery, final Consumer<String> reporter, final IntSupplier revokePins)
    {
        this.path = file.path;
        this.clients = clients;
        this.lock = lock;
        this.recovery = recovery;
        this.session = session;
        this.slot = SharedLayout.sessionSlot(session);
        this.leaseMillis = file.leaseMillis;
        this.reporter = reporter;
        this.revokePins = revokePins;
        this.heartbeat = new Thread(this::beat, "extentcache-shm-heartbeat-" + slot);
        heartbeat.setDaemon(true);
    }

    long session()
    {
        return session;
    }

    int slot()
    {
        return slot;
    }

    /** Recovers the clients a crash left behind (a file whose processes all died), then starts beating. */
    void start()
    {
        recoverExpired(Long.MAX_VALUE);
        heartbeat.start();
    }

    /** Stops the heartbeat thread and waits for it. */
    void stop()
    {
        stopped = true;
        heartbeat.interrupt();
        try
        {
            heartbeat.join();
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }

    boolean expelled()
    {
        return expelled;
    }

    /** @return true while the slot holds this session and it was not expelled. */
    boolean member()
    {
        return !expelled && clients.holds(session);
    }

    /** @throws IllegalStateException if this process's lease was taken over. */
    void checkMember()
    {
        if (!member())
        {
            throw expelledException();
        }
    }

    IllegalStateException expelledException()
    {
        return new IllegalStateException("this process's lease on " + path + " (client slot " + slot + ") was " +
            "taken over: no heartbeat for more than " + leaseMillis + " ms, so other processes recovered its pins " +
            "and loads. Close this cache and join again");
    }

    /**
     * Takes the allocation lock; if it was taken over from a dead holder, recovers that holder and rebuilds the index
     * before returning. Release with {@link #unlock} in a {@code finally}.
     */
    void lock()
    {
        final long dead = lock.lock(session);
        if (0 != dead)
        {
            try
            {
                repairAfterTakeover(dead, System.currentTimeMillis());
            }
            catch (final RuntimeException | Error ex)
            {
                lock.unlock(session);
                throw ex;
            }
        }
    }

    /**
     * After the lock was taken from {@code dead}: recovers that client and rebuilds the index. The lock left held by
     * this very session (a thread of this process that died inside it) only rebuilds the index: this client is alive.
     */
    private void repairAfterTakeover(final long dead, final long now)
    {
        if (dead == session)
        {
            recovery.rebuildIndex();
        }
        else
        {
            recovery.afterTakeover(dead, now);
        }
    }

    void unlock()
    {
        lock.unlock(session);
    }

    /** A close: gives back this client's pins and loads and frees its slot (not counted as a recovery). */
    void leave()
    {
        if (expelled)
        {
            return; // recovered by another client already
        }
        lock();
        try
        {
            recovery.recover(session, System.currentTimeMillis(), false);
        }
        finally
        {
            unlock();
        }
    }

    /** Recovers a client found dead, waiting for the lock as long as it takes (a load waiting on its frame). */
    void recoverDead(final long deadSession)
    {
        recoverDead(deadSession, Long.MAX_VALUE);
    }

    /**
     * Recovers a client found dead, under the allocation lock, waiting for the lock at most {@code timeoutNanos} (the
     * heartbeat thread must go on beating: it tries again at its next beat).
     */
    private void recoverDead(final long deadSession, final long timeoutNanos)
    {
        final long dead = lock.tryLock(session, timeoutNanos);
        if (SharedLock.NOT_TAKEN == dead)
        {
            return;
        }
        try
        {
            final long now = System.currentTimeMillis();
            if (0 != dead)
            {
                repairAfterTakeover(dead, now);
            }
            if (clients.expired(deadSession, now, leaseMillis))
            {
                recovery.recover(deadSession, now, true);
            }
        }
        finally
        {
            lock.unlock(session);
        }
    }

    /** Recovers every client whose lease ran out (not this one), each waiting for the lock at most the timeout. */
    private void recoverExpired(final long timeoutNanos)
    {
        final long now = System.currentTimeMillis();
        for (int other = 0; other < clients.slots(); other++)
        {
            final long otherSession = clients.session(other);
            if (0 != otherSession && otherSession != session && clients.expired(otherSession, now, leaseMillis))
            {
                recoverDead(otherSession, timeoutNanos);
            }
        }
    }

    private void beat()
    {
        final long period = Math.max(1, leaseMillis / 4) * 1_000_000L;
        while (!stopped)
        {
            try
            {
                final long now = System.currentTimeMillis();
                if (!clients.holds(session))
                {
                    expel();
                    return;
                }
                clients.beat(slot, now);
                recoverExpired(period / 2);
            }
            catch (final RuntimeException | Error ex)
            {
                // beating on matters more than the failure: a heartbeat thread that stopped would get this process
                // taken for dead a lease later, its pins and loads recovered under it
                reporter.accept(path + ": heartbeat failed: " + ex);
            }
            LockSupport.parkNanos(period);
        }
    }

    private void expel()
    {
        expelled = true;
        final int held = revokePins.getAsInt();
        reporter.accept(path + ": this process's lease (client slot " + slot + ") was taken over after no " +
            "heartbeat for more than " + leaseMillis + " ms; " + held + " pinned views were revoked. Close this " +
            "cache and join again");
    }
}
