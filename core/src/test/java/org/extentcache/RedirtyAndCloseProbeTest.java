package org.extentcache;

import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Re-dirtying after a failed sync and pins across close: attacks of the adversarial review that found the code sound,
 * kept as regression tests.
 */
class RedirtyAndCloseProbeTest
{
    private static final int PAGE = TestPages.PAGE;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    /**
     * A frame orphaned before close (a copy-on-write of a pinned page) and still pinned by a page and a {@link FramePin}:
     * close keeps the arena; the page's unpin, then the frame pin's release after close free it; a second release
     * throws and touches nothing.
     */
    @Test
    void anOrphanPinnedAcrossCloseIsFreedByItsLastReleaseAfterClose() throws Exception
    {
        final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 1024);
        final ExtentStore store = new ExtentStore(device);
        final long id = store.create();
        store.write(id, 0, TestPages.filled(PAGE, 1));
        final List<String> reports = new ArrayList<>();
        final ExtentCache cache = ExtentCache.builder().device(device).translator(store).capacityFrames(16)
            .dirtyExpiry(Duration.ZERO).leakReporter(reports::add).build();
        final long reserved = cache.stats().offHeapBytesReserved();
        final CachedFile file = cache.file(id);
        final PinnedPage page = file.pin(0);
        final FramePin pin = page.retainFrame();
        file.write(0, TestPages.filled(PAGE, 2)); // the pinned frame is orphaned; a new frame takes the write
        file.flush();
        final long before = CacheBooks.quietDirectBytesUsed();
        cache.close();
        assertEquals(1, pin.byteBuffer().get(PAGE - 1), "the orphan's bytes stay readable after close");
        page.close();
        assertEquals(1, pin.byteBuffer().get(0));
        assertTrue(before - CacheBooks.directBytesUsed() < reserved, "the frame pin still holds the arena");
        pin.release();
        assertEquals(reserved, before - CacheBooks.directBytesUsed(), "the last release after close frees all");
        assertThrows(IllegalStateException.class, pin::release);
        assertThrows(IllegalStateException.class, page::close);
    }

    /**
     * Redirty must not overwrite a newer dirty handle: a cache-wide flush writes page 0 (its sync held, then failing)
     * while the page is written again (to a new frame, since the flush pins the old one). The failed flush must not
     * bring the older frame back over the newer dirty one.
     */
    @Test
    void aFailedCacheWideSyncDoesNotRedirtyAnOlderFrameOverANewerOne() throws Exception
    {
        final ScriptedDevice device = new ScriptedDevice(PAGE, 1024);
        final ExtentStore store = new ExtentStore(device);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(16).dirtyExpiry(Duration.ZERO).build());
        final CachedFile a = cache.file(store.create());
        a.write(0, TestPages.filled(PAGE, 1));
        device.holdNextSync(true);
        final FailurePathRaceTest.Async<Void> flush = new FailurePathRaceTest.Async<>("flush", () ->
        {
            cache.flush();
            return null;
        });
        assertTrue(device.syncEntered.await(10, java.util.concurrent.TimeUnit.SECONDS));
        a.write(0, TestPages.filled(PAGE, 2));
        assertEquals(1, a.dirtyPageCount());
        device.releaseSync();
        assertThrows(java.util.concurrent.ExecutionException.class, () -> flush.get(10));
        assertEquals(1, a.dirtyPageCount(), "only the newer frame is dirty");
        assertEquals(1, cache.stats().dirtyFrames());
        cache.flush();
        final ByteBuffer dst = ByteBuffer.allocate(PAGE);
        store.read(a.id(), 0, dst);
        TestPages.assertBytes(2, dst.array(), "the newer write on the device");
        assertNull(cache.checkBooks());
    }
}
