package org.extentcache;

import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue item 6: dirty pages are written back to make room, whoever's they are; the claim timeout is the builder's;
 * and a background write-back bounds how long a page stays dirty and stops with the cache.
 */
class MakeRoomTest
{
    private static final int PAGE = 4096;
    private static final int FRAMES = 16;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    private final ScriptedDevice device = new ScriptedDevice(PAGE, 1024);
    private final ExtentStore store = new ExtentStore(device);

    /**
     * Half the cache pinned, the other half dirty in another file (not over half: the throttle does not start). A
     * miss must write the dirty frames back and reclaim one, not time out.
     */
    @Test
    void aMissWritesOtherFilesDirtyPagesBackToMakeRoom() throws IOException
    {
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(FRAMES).claimTimeout(Duration.ofSeconds(5)).dirtyExpiry(Duration.ZERO).build());
        final long pinnedId = store.create();
        store.write(pinnedId, 0, TestPages.filled(FRAMES / 2 * PAGE, 1));
        final long other = store.create();
        store.write(other, 0, TestPages.filled(PAGE, 3));
        final CachedFile pinnedFile = cache.file(pinnedId);
        final List<PinnedPage> pins = new ArrayList<>();
        for (int page = 0; page < FRAMES / 2; page++)
        {
            pins.add(pinnedFile.pin((long)page * PAGE));
        }
        final CachedFile dirty = cache.file(store.create());
        dirty.write(0, TestPages.filled(FRAMES / 2 * PAGE, 2));
        assertEquals(FRAMES / 2, cache.stats().dirtyFrames());

        final ByteBuffer dst = ByteBuffer.allocate(PAGE);
        cache.file(other).read(0, dst); // needs a frame: only a written-back one can be had
        TestPages.assertBytes(3, dst.array(), "the miss");
        assertTrue(dirty.dirtyPageCount() < FRAMES / 2, "some of the other file's pages were written back");
        assertTrue(cache.stats().writebacks() > 0);
        for (final PinnedPage pin : pins)
        {
            pin.close();
        }
        dirty.flush();
        final ByteBuffer onDevice = ByteBuffer.allocate(FRAMES / 2 * PAGE);
        store.read(dirty.id(), 0, onDevice);
        TestPages.assertBytes(2, onDevice.array(), "the written-back pages");
    }

    /** Every frame pinned: a miss gives up after the builder's claim timeout, saying why. */
    @Test
    void theClaimTimeoutIsTheBuilders() throws IOException
    {
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(ExtentCache.MIN_CAPACITY).claimTimeout(Duration.ofMillis(200))
            .dirtyExpiry(Duration.ZERO).build());
        final long id = store.create();
        store.write(id, 0, TestPages.filled((ExtentCache.MIN_CAPACITY + 1) * PAGE, 4));
        final CachedFile file = cache.file(id);
        final List<PinnedPage> pins = new ArrayList<>();
        for (int page = 0; page < ExtentCache.MIN_CAPACITY; page++)
        {
            pins.add(file.pin((long)page * PAGE));
        }
        final IllegalStateException full = assertThrows(IllegalStateException.class,
            () -> file.read((long)ExtentCache.MIN_CAPACITY * PAGE, ByteBuffer.allocate(PAGE)));
        assertTrue(full.getMessage().contains("pinned"), full.getMessage());
        for (final PinnedPage pin : pins)
        {
            pin.close();
        }
        assertThrows(IllegalArgumentException.class, () -> ExtentCache.builder().claimTimeout(Duration.ZERO));
        assertThrows(IllegalArgumentException.class, () -> ExtentCache.builder().dirtyExpiry(Duration.ofSeconds(-1)));
    }

    /** A dirty page is written back and synced within about its expiry, with no flush; close stops the thread. */
    @Test
    void theBackgroundWritebackBoundsHowLongAPageStaysDirty() throws Exception
    {
        final ExtentCache cache = ExtentCache.builder().device(device).translator(store).capacityFrames(FRAMES)
            .dirtyExpiry(Duration.ofMillis(50)).build();
        books.track(cache);
        final CachedFile file = cache.file(store.create());
        file.write(0, TestPages.filled(PAGE, 5));
        final long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (file.dirtyPageCount() > 0 && System.nanoTime() < deadline)
        {
            Thread.sleep(10);
        }
        assertEquals(0, file.dirtyPageCount(), "written back without a flush");
        assertTrue(device.syncs.get() > 0, "and synced");
        final ByteBuffer onDevice = ByteBuffer.allocate(PAGE);
        store.read(file.id(), 0, onDevice);
        TestPages.assertBytes(5, onDevice.array(), "on the device");

        assertTrue(writebackThreads() > 0, "the background write-back runs");
        CacheBooks.check(cache);
        assertEquals(0, writebackThreads(), "close stopped it");
    }

    private static long writebackThreads()
    {
        return Thread.getAllStackTraces().keySet().stream()
            .filter(t -> t.getName().startsWith("extentcache-writeback-") && t.isAlive()).count();
    }
}
