package org.extentcache.shm;

import org.extentcache.TestThreads;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code kill -9} of a process using the shared cache, with real processes ({@link SharedCacheChild} JVMs killed by
 * {@link Process#destroyForcibly()}, SIGKILL on Linux):
 * <ul>
 *   <li>killed while it holds pins and has loads in flight, whose loaders wrote garbage over half their frames: the
 *       processes waiting for those keys load them themselves once its lease runs out, with the right bytes (never
 *       the garbage); its pins no longer hold its frames (they are reclaimed by the next loads); its half-filled
 *       frames stay LOST for one more lease and then come back into service; every read by the survivors is right;
 *       and the last one out removes the file;</li>
 *   <li>killed while it holds the allocation lock, with the index emptied as a rebuild killed halfway leaves it: the
 *       next process to need the lock takes it over once the lease runs out, rebuilds the index from the frame
 *       records, and finds the keys the dead process loaded without loading them again;</li>
 *   <li>not killed but stopped (SIGSTOP) for longer than its lease: taken for dead, its pin recovered; once it runs
 *       again (SIGCONT) it is expelled: its pinned views revoked, its loads refused, and it can still close.</li>
 * </ul>
 * Nothing here asserts on time: waits are bounded (30 s) so a hang fails, and how long recovery took is printed.
 * The allocation lock is held only inside {@link SharedCache}, where no caller code runs, so the second test has the
 * child take it through {@link SharedLock} itself with its own session (see {@link SharedFileInspector#takeLockFor})
 * and empty the index as a rebuild killed halfway would. {@link SharedCacheProcessModelTest} also kills a process
 * stopped inside the real lock, in the middle of whatever it was doing there.
 */
class SharedCacheKillTest
{
    private static final int FRAMES = 16;
    private static final long LEASE_MILLIS = 1000;
    private static final int CLIENT_SLOTS = 8;
    private static final long WAIT_SECONDS = 30;

    private Path dir;
    private Path file;
    private final List<ChildProcess> children = new ArrayList<>();
    private SharedCache parent;

    @BeforeEach
    void setUp() throws IOException
    {
        dir = ShmDir.create();
        file = dir.resolve("cache");
        parent = SharedCache.builder(file).frames(FRAMES).leaseMillis(LEASE_MILLIS).clientSlots(CLIENT_SLOTS).join();
    }

    @AfterEach
    void tearDown() throws IOException
    {
        children.forEach(ChildProcess::close);
        parent.close();
        ShmDir.delete(dir);
    }

    private ChildProcess child(final String name) throws IOException, InterruptedException
    {
        final ChildProcess child = ChildProcess.start(name);
        children.add(child);
        child.command("join " + file + " " + FRAMES + " " + LEASE_MILLIS + " " + CLIENT_SLOTS);
        return child;
    }

    private CompletableFuture<Long> loadAsync(final long key, final AtomicInteger loaderRuns)
    {
        return CompletableFuture.supplyAsync(() ->
        {
            try
            {
                return parent.load(key, (k, page) ->
                {
                    loaderRuns.incrementAndGet();
                    PageStamps.fill(k, page);
                });
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException(ex);
            }
        }, TestThreads.POOL);
    }

    /** @return null if the handle reads as {@code key}'s page, else what is wrong. */
    private String check(final long key, final long handle)
    {
        final ByteBuffer copy = ByteBuffer.allocate(parent.pageSize());
        if (!parent.read(handle, 0, copy, parent.pageSize()))
        {
            return "handle " + handle + " of key " + key + " is stale";
        }
        return PageStamps.check(key, copy, 0, 0, parent.pageSize());
    }

    private static long millisSince(final long nanos)
    {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - nanos);
    }

    @Test
    void aClientKilledWithPinsAndLoadsInFlightIsRecoveredAndItsGarbageNeverServed() throws Exception
    {
        final ChildProcess victim = child("victim");
        final ChildProcess survivor = child("survivor");
        final long[] pinnedByVictim = new long[4];
        for (int i = 0; i < pinnedByVictim.length; i++)
        {
            pinnedByVictim[i] = ChildProcess.field(victim.command("pin " + (1 + i)), "handle");
        }
        final int[] garbageFrames = {(int)ChildProcess.field(victim.command("hang 100"), "frame"),
            (int)ChildProcess.field(victim.command("hang 101"), "frame")};
        final SharedFileInspector inspector = new SharedFileInspector(file);
        assertEquals(4, inspector.pinsHeld());
        assertEquals(SharedCache.NO_HANDLE, parent.lookup(100), "a frame being loaded is never served");
        assertEquals(2, parent.stats().framesLoading());

        final AtomicInteger runs100 = new AtomicInteger();
        final AtomicInteger runs101 = new AtomicInteger();
        final CompletableFuture<Long> wait100 = loadAsync(100, runs100);
        final CompletableFuture<Long> wait101 = loadAsync(101, runs101);
        survivor.send("load 101");
        Thread.sleep(200); // lets the waiters reach their wait: the test holds without it, it just shows less
        assertFalse(wait100.isDone() || wait101.isDone(), "a wait ended while the loader lived");

        final long killed = System.nanoTime();
        victim.kill();
        final long handle100 = wait100.get(WAIT_SECONDS, TimeUnit.SECONDS);
        final long handle101 = wait101.get(WAIT_SECONDS, TimeUnit.SECONDS);
        final long recoveredMillis = millisSince(killed);
        final long survivorHandle = ChildProcess.field(survivor.reply("load 101", WAIT_SECONDS), "handle");
        final SharedCacheStats afterRecovery = parent.stats();
        System.out.println("kill with pins and loads: waiters loaded " + recoveredMillis + " ms after SIGKILL (lease " +
            LEASE_MILLIS + " ms); " + afterRecovery);

        assertNull(check(100, handle100));
        assertNull(check(101, handle101));
        assertEquals(1, runs100.get(), "the waiter loads the dead process's key itself");
        assertEquals(handle101, survivorHandle, "both waiters end on one frame for key 101; parent loader runs " +
            runs101.get() + "; " + afterRecovery + "; frames " + inspector.frameTable());
        assertEquals(6, afterRecovery.loads(), "4 pinned keys, then 100 and 101 once each: " + runs101.get() +
            " of key 101 here, the rest in the survivor");
        System.out.println("garbage frames " + garbageFrames[0] + ", " + garbageFrames[1] + "; keys 100 and 101 now in " +
            "frames " + SharedCache.frameOf(handle100) + " and " + SharedCache.frameOf(handle101));
        assertEquals(1, afterRecovery.recoveries());
        assertEquals(0, afterRecovery.framesLoading());
        assertEquals(0, inspector.pinsHeld(), "the dead process's pins were zeroed");
        assertEquals(2, parent.stats().liveClients());

        // the dead process's pinned frames are reclaimed like any other
        final long reclaimsBefore = parent.stats().reclaims();
        for (long key = 1000; key < 1000 + 3 * FRAMES; key++)
        {
            assertNull(check(key, parent.load(key, PageStamps::fill)));
        }
        for (final long handle : pinnedByVictim)
        {
            assertFalse(parent.isValid(handle), "frame " + SharedCache.frameOf(handle) + " is still held by the " +
                "dead process's pin");
        }
        System.out.println("reclaims while filling: " + (parent.stats().reclaims() - reclaimsBefore) + "; states " +
            inspector.states());

        // its half-filled frames come back into service one lease after the recovery
        long key = 2000;
        final long lostSince = System.nanoTime();
        while (0 != parent.stats().framesLost())
        {
            assertTrue(millisSince(lostSince) < TimeUnit.SECONDS.toMillis(WAIT_SECONDS), "frames still LOST: " +
                parent.stats());
            assertNull(check(key, parent.load(key, PageStamps::fill)));
            key++;
            Thread.sleep(10);
        }
        System.out.println("LOST frames back in service " + millisSince(lostSince) + " ms after the waiters loaded " +
            "(" + (key - 2000) + " loads); garbage frames now " + inspector.state(garbageFrames[0]) + "/" +
            inspector.state(garbageFrames[1]) + " (READY=2)");
        assertEquals(List.of(), inspector.problems());

        // every survivor reads right
        for (final long k : new long[] {100, 101})
        {
            assertNull(check(k, parent.load(k, PageStamps::fill)));
            assertEquals("ok hit", survivor.command("read " + k));
        }
        survivor.command("close");
        survivor.exit();
        assertTrue(Files.exists(file), "removed while a client remained");
        parent.close();
        assertFalse(Files.exists(file), "the last client out left the file behind");
    }

    @Test
    void aClientKilledHoldingTheAllocationLockIsTakenOverAndTheIndexRebuilt() throws Exception
    {
        final ChildProcess victim = child("victim");
        final ChildProcess survivor = child("survivor");
        for (long key = 1; key <= 8; key++)
        {
            victim.command("load " + key);
        }
        final SharedFileInspector inspector = new SharedFileInspector(file);
        victim.command("holdlock");
        final long holder = inspector.lockHolder();
        assertNotEquals(0, holder);
        assertEquals(holder, inspector.session(SharedLayout.sessionSlot(holder)), "the victim holds the lock");
        assertNotEquals(parent.clientSlot(), SharedLayout.sessionSlot(holder));
        assertEquals(SharedCache.NO_HANDLE, parent.lookup(1), "the index is empty, as a rebuild killed halfway " +
            "leaves it");
        assertEquals("absent", inspector.find(1));

        final AtomicInteger runs = new AtomicInteger();
        final CompletableFuture<Long> waiter = loadAsync(1, runs);
        survivor.send("load 2");
        Thread.sleep(200);
        assertFalse(waiter.isDone(), "a load got past a live holder's lock");

        final long killed = System.nanoTime();
        victim.kill();
        final long handle = waiter.get(WAIT_SECONDS, TimeUnit.SECONDS);
        final long tookOverMillis = millisSince(killed);
        survivor.reply("load 2", WAIT_SECONDS);
        System.out.println("kill holding the lock: taken over and rebuilt " + tookOverMillis + " ms after SIGKILL " +
            "(lease " + LEASE_MILLIS + " ms, victim slot " + SharedLayout.sessionSlot(holder) + "); " +
            parent.stats());

        assertEquals(0, runs.get(), "the key the dead process loaded was found again, not loaded again");
        assertNull(check(1, handle));
        assertEquals(1, parent.stats().recoveries());
        assertNotEquals(holder, inspector.lockHolder(), "the dead holder still holds the lock");
        for (long key = 1; key <= 8; key++)
        {
            final long found = parent.lookup(key);
            assertNotEquals(SharedCache.NO_HANDLE, found, "key " + key + " is missing from the rebuilt index");
            assertNull(check(key, found));
            assertEquals("ok hit", survivor.command("read " + key));
        }
        assertEquals(8, parent.stats().loads(), "nothing was loaded twice");
        assertEquals(List.of(), inspector.problems());
        survivor.command("close");
        survivor.exit();
        parent.close();
        assertFalse(Files.exists(file), "the last client out left the file behind");
    }

    /** Polls until {@code done} holds, up to {@link #WAIT_SECONDS}; fails saying {@code what} otherwise. */
    private static void await(final java.util.function.BooleanSupplier done,
        final java.util.function.Supplier<String> what) throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
        while (!done.getAsBoolean())
        {
            if (System.nanoTime() > deadline)
            {
                throw new AssertionError(what.get() + " within " + WAIT_SECONDS + " s");
            }
            Thread.sleep(10);
        }
    }

    /** @return the error a command was answered with (it must be one). */
    private static String errorOf(final ChildProcess child, final String command) throws InterruptedException
    {
        try
        {
            return "no error: " + child.command(command);
        }
        catch (final AssertionError expected)
        {
            return expected.getMessage();
        }
    }

    /**
     * A client stopped (SIGSTOP) for longer than its lease is taken for dead although it is alive: the others recover
     * its pins, and once it runs again (SIGCONT) it finds itself expelled. Its pinned views are revoked (an access
     * throws, rather than show a frame the others may reuse), its loads are refused with a message saying why, its
     * pin no longer holds the frame, and it can still close.
     */
    @Test
    void aClientPausedLongerThanItsLeaseIsExpelledWithItsViewsRevokedAndItsLoadsRefused() throws Exception
    {
        final ChildProcess paused = child("paused");
        final long handle = ChildProcess.field(paused.command("pin 7"), "handle");
        final SharedFileInspector inspector = new SharedFileInspector(file);
        assertEquals(1, inspector.pinsHeld());

        final long stopped = System.nanoTime();
        paused.stop();
        await(() -> 1 == parent.stats().recoveries(), () -> "the paused client was not taken for dead");
        assertEquals(0, inspector.pinsHeld(), "the paused client's pin was not recovered");
        System.out.println("paused client recovered " + millisSince(stopped) + " ms after SIGSTOP (lease " +
            LEASE_MILLIS + " ms)");
        assertTrue(parent.isValid(handle), "nothing reclaims the frame yet: its bytes are still the key's");

        paused.signal("CONT");
        final String[] revoked = new String[1];
        await(() ->
        {
            try
            {
                revoked[0] = errorOf(paused, "check");
                return revoked[0].contains("IndexOutOfBoundsException");
            }
            catch (final InterruptedException ex)
            {
                throw new IllegalStateException(ex);
            }
        }, () -> "the expelled client's pinned view was not revoked (last answer: " + revoked[0] + ")");
        final String refused = errorOf(paused, "load 8");
        assertTrue(refused.contains("was taken over"), refused);

        for (long key = 1000; key < 1000 + 3 * FRAMES; key++)
        {
            assertNull(check(key, parent.load(key, PageStamps::fill)));
        }
        assertFalse(parent.isValid(handle), "the expelled client's pin still holds its frame");
        assertEquals(0, parent.stats().framesLoading());
        paused.command("close");
        paused.exit();
        parent.close();
        assertFalse(Files.exists(file), "the last client out left the file behind");
    }
}
