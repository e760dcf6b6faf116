package org.extentcache;

import org.extentcache.FailurePathRaceTest.Async;
import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A close from inside the cache's own work: a thread that holds a file's writer lock (in a translator callback of a
 * write) calls {@code close()} while another close waits for that lock. Neither may hang (found by an adversarial
 * review of a synchronized {@code close()}).
 */
class CloseReentryTest
{
    private static final int PAGE = TestPages.PAGE;

    /**
     * {@code close()} is now {@code synchronized}. A thread that holds a file's writer lock (here a write, inside
     * the translator's {@code reserveBlock}; equally a device callback during a flush) and calls {@code close()}
     * while another thread's close is in {@code markClosed} waiting for that writer lock: the first close holds
     * the monitor and waits for the writer lock; the writer holds the lock and waits for the monitor. Before the
     * change the nested close returned at once (closing was set) and the writer went on, letting the first close
     * finish. Not tracked by {@link CacheBooks}: its close would hang on the monitor too.
     */
    @Test
    void closeFromAWriterWhileAnotherCloseWaitsForItsLockDeadlocks() throws Exception
    {
        final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 1024);
        final ExtentStore store = new ExtentStore(device);
        final long id = store.create();
        final CountDownLatch inReserve = new CountDownLatch(1);
        final CountDownLatch closeNow = new CountDownLatch(1);
        final ExtentCache[] holder = new ExtentCache[1];
        final FailurePathRaceTest.Delegating closing = new FailurePathRaceTest.Delegating(store)
        {
            @Override
            public long reserveBlock(final long file, final long page) throws IOException
            {
                inReserve.countDown();
                try
                {
                    if (closeNow.await(20, TimeUnit.SECONDS))
                    {
                        holder[0].close(); // e.g. the application's fatal-error path, on the writer's thread
                    }
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                }
                return super.reserveBlock(file, page);
            }
        };
        final ExtentCache cache = ExtentCache.builder().device(device).translator(closing)
            .capacityFrames(16).dirtyExpiry(Duration.ZERO).leakReporter(message -> { }).build();
        holder[0] = cache;
        final CachedFile file = cache.file(id);
        final Async<Integer> writer = new Async<>("writer", () -> file.write(0, TestPages.filled(PAGE, 5)));
        assertTrue(inReserve.await(10, TimeUnit.SECONDS));
        final Async<Void> first = new Async<>("first close", () ->
        {
            cache.close();
            return null;
        });
        FailurePathRaceTest.awaitIn(first.thread, "markClosed");
        closeNow.countDown();
        try
        {
            try
            {
                writer.get(10);
            }
            catch (final java.util.concurrent.ExecutionException acceptable)
            {
                // the write may fail (the cache is closed); it must not hang
            }
            first.get(10);
        }
        catch (final TimeoutException ex)
        {
            fail("deadlock: first close " + FailurePathRaceTest.where(first.thread) + "; writer " +
                FailurePathRaceTest.where(writer.thread));
        }
        assertTrue(cache.isClosed());
    }
}
