package org.extentcache;

import org.extentcache.device.ForwardingBlockDevice;
import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.frame.FrameArena;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.extentcache.frame.FrameDescriptor.*;
import static org.junit.jupiter.api.Assertions.*;

/** Review of {@link ExtentCache#setCapacityFrames}: the paths and races around a capacity changed at run time. */
class CapacityReviewTest
{
    private static final int PAGE = 4096;
    private static final int PAGES = 64;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    /** Set by a test to run on the thread that writes a block back, once. */
    private final AtomicReference<Runnable> onWrite = new AtomicReference<>();
    private final ForwardingBlockDevice device = new ForwardingBlockDevice(new MemoryBlockDevice(PAGE, 4096))
    {
        @Override
        public void write(final long block, final ByteBuffer src) throws IOException
        {
            final Runnable hook = onWrite.getAndSet(null);
            if (null != hook)
            {
                hook.run();
            }
            super.write(block, src);
        }
    };
    private final ExtentStore store = new ExtentStore(device);
    private final long file;

    CapacityReviewTest() throws IOException
    {
        file = store.create();
        for (int page = 0; page < PAGES; page++)
        {
            store.write(file, (long)page * PAGE, TestPages.stamped(page));
        }
    }

    private ExtentCache cache(final int frames, final Duration claimTimeout)
    {
        return books.track(ExtentCache.builder().device(device).translator(store).capacityFrames(frames)
            .readahead(false).dirtyExpiry(Duration.ZERO).claimTimeout(claimTimeout).build());
    }

    /**
     * Lowering the capacity writes dirty frames back on the caller's thread, inside the cache's reader gate: the
     * device runs there, so a close it calls must be refused (as from a miss), not wait for its own thread to leave
     * the gate.
     */
    @Test
    void aCloseFromTheDeviceDuringACapacityChangesWriteBackIsRefusedNotAWaitForItself() throws IOException
    {
        final ExtentCache cache = cache(PAGES, Duration.ofSeconds(10));
        final CachedFile cached = cache.file(file);
        for (int page = 0; page < 30; page++)
        {
            cached.write((long)page * PAGE, TestPages.stamped(1000 + page));
        }
        final AtomicReference<Object> fromClose = new AtomicReference<>();
        onWrite.set(() ->
        {
            try
            {
                // a close that would not be refused here would wait for this very thread: probe before closing
                cache.frames().readers.refuseCloseFromInside();
                fromClose.set("a close from the device here would wait for its own thread to leave the reader gate");
            }
            catch (final IllegalStateException refused)
            {
                fromClose.set(assertThrows(IllegalStateException.class, cache::close));
            }
        });
        assertEquals(0, cache.setCapacityFrames(8), "every dirty frame written back and reclaimed");
        assertInstanceOf(IllegalStateException.class, fromClose.get(), String.valueOf(fromClose.get()));
        assertFalse(cache.isClosed(), "the refused close left the cache open");
        for (int page = 0; page < 30; page++)
        {
            final ByteBuffer dst = ByteBuffer.allocate(PAGE);
            cached.read((long)page * PAGE, dst);
            assertEquals(1000 + page, TestPages.stampOf(dst, 0, "page " + page), "nothing lost");
        }
    }

    /**
     * Statistics are read without the lock while a capacity change moves frames between the free list and the
     * parked ones: no snapshot may count a frame both free and parked (negative resident frames and bytes).
     */
    @Test
    void statisticsNeverCountAFrameBothFreeAndParkedWhileTheCapacityChanges() throws Exception
    {
        final int capacity = 1024;
        final ExtentCache cache = cache(capacity, Duration.ofSeconds(10));
        final long seed = System.nanoTime();
        final AtomicBoolean done = new AtomicBoolean();
        final CompletableFuture<Void> changer = CompletableFuture.runAsync(() ->
        {
            final Random random = new Random(seed);
            try
            {
                for (int i = 0; i < 20_000; i++)
                {
                    cache.setCapacityFrames(i % 2 == 0 ? ExtentCache.MIN_CAPACITY + random.nextInt(16) :
                        capacity - random.nextInt(16));
                }
            }
            finally
            {
                done.set(true);
            }
        }, TestThreads.POOL);
        final List<CacheStats> wrong = new ArrayList<>();
        long snapshots = 0;
        while (!done.get() && wrong.size() < 5)
        {
            final CacheStats stats = cache.stats();
            snapshots++;
            if (stats.framesResident() < 0 || stats.frameBytesInUse() < 0 ||
                stats.framesFree() + stats.framesParked() + stats.framesRetired() > capacity)
            {
                wrong.add(stats);
            }
        }
        changer.get();
        assertTrue(wrong.isEmpty(), "seed " + seed + ": " + wrong.size() + " of " + snapshots +
            " snapshots count frames twice, first " + (wrong.isEmpty() ? null : wrong.get(0)));
    }

    /**
     * With the capacity lowered and every frame in service pinned, a miss fails after the claim timeout: the message
     * must describe the cache as it is (the capacity in force, the frames parked), not the frames reserved.
     */
    @Test
    void theNoFrameMessageNamesTheCapacityInForceAndTheParkedFrames() throws IOException
    {
        final ExtentCache cache = cache(PAGES, Duration.ofMillis(20));
        final CachedFile cached = cache.file(file);
        assertEquals(0, cache.setCapacityFrames(8));
        final List<PinnedPage> pins = new ArrayList<>();
        try
        {
            for (int page = 0; page < 8; page++)
            {
                pins.add(cached.pin((long)page * PAGE));
            }
            final IllegalStateException full = assertThrows(IllegalStateException.class,
                () -> cached.read(8L * PAGE, ByteBuffer.allocate(PAGE)));
            assertTrue(full.getMessage().contains("parked=56") && full.getMessage().contains("every one of 8 frames"),
                full.getMessage());
        }
        finally
        {
            pins.forEach(PinnedPage::close);
        }
    }

    /**
     * A frame retired (its generations used up) while frames are parked leaves the cache below its capacity: a
     * parked frame must come back in its place, as {@link FrameArena#limit(int)} itself would bring it back.
     */
    @Test
    void aFrameRetiredWhileFramesAreParkedIsReplacedByAParkedOne()
    {
        try (FrameArena arena = new FrameArena(PAGE, 16))
        {
            assertEquals(0, arena.limit(8));
            assertEquals(8, arena.parkedCount());
            final int frame = arena.popFree();
            arena.free(frame, packStateWord(MAX_GENERATION - 1, ORPHAN, 0));
            assertEquals(1, arena.retiredCount());
            assertEquals(8, 16 - arena.retiredCount() - arena.parkedCount(),
                "frames in service after the retirement: a parked frame came back");
            assertEquals(8, arena.freeCount());
            final int parked = arena.parkedCount();
            arena.limit(arena.limit());
            assertEquals(parked, arena.parkedCount(), "setting the same limit again changes nothing");
        }
    }
}
