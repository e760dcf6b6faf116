package org.extentcache;

import org.extentcache.FailurePathRaceTest.Async;
import org.extentcache.SyncFailureSettleTest.ControlDevice;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Attacks of the second review on the unsettled/awaitingSync machinery and close that found the code sound, kept as
 * regression tests.
 */
class SettleProbeTest
{
    private static final int PAGE = TestPages.PAGE;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    /**
     * A file is deleted while a cache-wide flush's write-back of it waits for its sync, which then fails: the
     * write-back is settled by whoever gets the deleted file's (free) writer lock, its frames (orphaned by the delete's
     * invalidation) are not marked dirty again, and the books balance with no pin and no dirty frame left.
     */
    @Test
    void aFailedFlushOfAFileDeletedWhileItsSyncRanLeavesNoPinAndNoDirtyFrame() throws Exception
    {
        final ControlDevice device = new ControlDevice(PAGE, 1024);
        final ExtentStore store = new ExtentStore(device);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(16).dirtyExpiry(Duration.ZERO).build());
        final CachedFile a = cache.file(store.create());
        a.write(0, TestPages.filled(3 * PAGE, 0x11));
        device.holdNextSync(true);
        final Async<Void> flush = new Async<>("flush", () ->
        {
            cache.flush();
            return null;
        });
        assertTrue(device.heldSyncEntered.await(10, TimeUnit.SECONDS));
        store.delete(a.id());
        device.releaseHeldSync();
        assertThrows(ExecutionException.class, () -> flush.get(10));
        assertNull(cache.checkBooks());
        assertEquals(0, cache.stats().dirtyFrames());
        cache.flush();
    }

    /**
     * The cache closes while a cache-wide flush's write-back pins frames and its sync is held; the sync then fails.
     * Close orphans the pinned frames and keeps the arena; the flush's settle finds them orphaned (nothing re-dirtied,
     * no freed memory touched) and its last unpin frees every reserved byte.
     */
    @Test
    void aFlushWhoseSyncFailsAfterCloseReleasesTheArenaAtItsLastUnpin() throws Exception
    {
        final ControlDevice device = new ControlDevice(PAGE, 1024);
        final ExtentStore store = new ExtentStore(device);
        final List<String> reports = new ArrayList<>();
        final ExtentCache cache = ExtentCache.builder().device(device).translator(store).capacityFrames(16)
            .dirtyExpiry(Duration.ZERO).leakReporter(reports::add).build();
        final long reserved = cache.stats().offHeapBytesReserved();
        final CachedFile a = cache.file(store.create());
        a.write(0, TestPages.filled(3 * PAGE, 0x11));
        device.holdNextSync(true);
        final Async<Void> flush = new Async<>("flush", () ->
        {
            cache.flush();
            return null;
        });
        assertTrue(device.heldSyncEntered.await(10, TimeUnit.SECONDS));
        final long before = CacheBooks.quietDirectBytesUsed();
        cache.close();
        assertTrue(before - CacheBooks.directBytesUsed() < reserved, "the flush's pins keep the arena");
        device.releaseHeldSync();
        assertThrows(ExecutionException.class, () -> flush.get(10));
        assertEquals(reserved, before - CacheBooks.directBytesUsed(), "the flush's last unpin freed the rest");
        assertThrows(IllegalStateException.class, () -> a.write(0, ByteBuffer.allocate(1)));
    }
}
