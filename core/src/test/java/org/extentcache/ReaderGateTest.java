package org.extentcache;

import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/** The gate alone: enter and exit, a refused entry after close, and close waiting for the reads inside. */
class ReaderGateTest
{
    @Test
    void slotsMustBeAPowerOfTwo()
    {
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> new ReaderGate(6));
        assertEquals("slots must be a positive power of two: slots=6", ex.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new ReaderGate(0));
    }

    @Test
    void anEntryAfterCloseIsRefusedAndHoldsNothing()
    {
        final ReaderGate gate = new ReaderGate(8);
        gate.enter();
        gate.enter(); // nested entries of one thread count twice and leave twice
        gate.exit();
        gate.exit();
        gate.close();
        assertTrue(gate.isClosed());
        final IllegalStateException ex = assertThrows(IllegalStateException.class, gate::enter);
        assertEquals("cache is closed", ex.getMessage());
        gate.close(); // idempotent, and the refused entry left nothing behind to wait for
        assertEquals("cache is closed", assertThrows(IllegalStateException.class, () -> gate.supply(() -> 1))
            .getMessage());
    }

    /** Close parks until the read inside exits, on another thread; a latch, not a sleep, orders the steps. */
    @Test
    void closeWaitsForTheReadInside() throws Exception
    {
        final ReaderGate gate = new ReaderGate(8);
        final CountDownLatch inside = new CountDownLatch(1);
        final CountDownLatch leave = new CountDownLatch(1);
        final CompletableFuture<Void> reader = CompletableFuture.runAsync(() ->
        {
            gate.enter();
            try
            {
                inside.countDown();
                leave.await();
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
            finally
            {
                gate.exit();
            }
        }, TestThreads.POOL);
        inside.await();
        final AtomicReference<Thread> closerThread = new AtomicReference<>();
        final CompletableFuture<Void> closer = CompletableFuture.runAsync(() ->
        {
            closerThread.set(Thread.currentThread());
            gate.close();
        }, TestThreads.POOL);
        while (null == closerThread.get() || closerThread.get().getState() != Thread.State.TIMED_WAITING)
        {
            Thread.onSpinWait(); // parked between looks at the reader's slot
        }
        assertFalse(closer.isDone(), "close returned with a read inside");
        assertThrows(IllegalStateException.class, gate::enter, "closing: no new read gets in");
        leave.countDown();
        reader.get(60, TimeUnit.SECONDS);
        closer.get(60, TimeUnit.SECONDS);
    }

    /**
     * Only a thread in a miss of this gate's cache is refused a close, however deep: another cache's miss does not
     * count, nor hide an outer miss of this cache.
     */
    @Test
    void aCloseIsRefusedOnlyInsideAMissOfTheSameCache()
    {
        final ReaderGate gate = new ReaderGate(8);
        final ReaderGate other = new ReaderGate(8);
        gate.refuseCloseFromInside();
        final ReaderGate outer = other.inMiss();
        try
        {
            gate.refuseCloseFromInside();
            final ReaderGate mine = gate.inMiss();
            try
            {
                assertThrows(IllegalStateException.class, gate::refuseCloseFromInside);
                // the outer miss is still the other cache's: its close would wait for this thread too
                // (SessionReviewTest.closeOfAnOuterCacheFromInsideANestedMissOfAnotherCacheThrows)
                assertThrows(IllegalStateException.class, other::refuseCloseFromInside, "outer miss, inner one");
            }
            finally
            {
                ReaderGate.leftMiss(mine);
            }
            assertThrows(IllegalStateException.class, other::refuseCloseFromInside, "back in the outer miss");
        }
        finally
        {
            ReaderGate.leftMiss(outer);
        }
        other.refuseCloseFromInside();
    }

    /**
     * No thread's counter shares the array's first 128 bytes, where its header (the length every access reads for its
     * bounds check) lives: a thread writing a counter there made every other reader's access miss its cache
     * ({@code HitScalingBenchmark}: 2 threads at 0.92 times 1 thread's throughput, 1.65 with the padding).
     */
    @Test
    void noCounterSharesTheArraysFirstLineAndThreadsWithConsecutiveIdsGetDistinctCounters()
    {
        final ReaderGate gate = new ReaderGate(8);
        for (long id = 0; id < 64; id++)
        {
            assertTrue(gate.indexOf(id) >= 16, "thread " + id + " uses counter " + gate.indexOf(id));
            assertNotEquals(gate.indexOf(id), gate.indexOf(id + 1), "threads " + id + " and " + (id + 1));
        }
    }
}
