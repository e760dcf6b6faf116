package org.extentcache;

import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Issue items 8 and 10: a failed build frees what it reserved; pins held across close never see freed memory. */
class CloseTest
{
    private static final int PAGE = 4096;

    private final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 1024);
    private final ExtentStore store = new ExtentStore(device);

    @Test
    void aFailedBuildFreesItsArenaAtOnce()
    {
        final long before = CacheBooks.quietDirectBytesUsed();
        store.close();
        assertThrows(IllegalStateException.class, () -> ExtentCache.builder().device(device).translator(store)
            .capacityFrames(4096).build(), "a closed translator");
        assertEquals(before, CacheBooks.directBytesUsed(), "16 MiB of frames returned without a GC");
    }

    /**
     * With pin tracking off (the default), a pin held across close keeps its frame's memory: its views read the
     * pinned bytes, and the last unpin returns every reserved byte. A pin of a hole stays readable too.
     */
    @Test
    void pinsHeldAcrossCloseKeepTheirMemoryUntilTheLastUnpin() throws IOException
    {
        final long id = store.create();
        store.write(id, 0, TestPages.filled(2 * PAGE, 6));
        store.truncate(id, 4 * PAGE); // pages 2 and 3 are holes
        final List<String> reports = new ArrayList<>();
        final ExtentCache cache = ExtentCache.builder().device(device).translator(store).capacityFrames(64)
            .trackPins(false).leakReporter(reports::add).build();
        final CachedFile file = cache.file(id);
        final PinnedPage first = file.pin(0);
        final PinnedPage second = file.pin(PAGE);
        final PinnedPage hole = file.pin(2 * PAGE);
        final ByteBuffer firstView = first.byteBuffer();
        final long reserved = cache.stats().offHeapBytesReserved();
        final long before = CacheBooks.quietDirectBytesUsed();

        cache.close();
        assertEquals(1, reports.size(), reports.toString());
        assertTrue(reports.get(0).contains("2 frames still pinned"), reports.get(0));
        final long frameBytes = 64L * PAGE;
        assertTrue(before - CacheBooks.directBytesUsed() < frameBytes,
            "the frames are not freed while pins are held (only the device index is)");
        assertTrue(first.isPinned());
        assertEquals(0x06060606, first.buffer().getInt(0), "the Agrona view reads the pinned bytes");
        assertEquals(0x06060606, firstView.getInt(PAGE - 4), "the ByteBuffer view reads the pinned bytes");
        assertEquals(0, hole.buffer().getLong(PAGE - 8), "a hole reads zeros");
        first.close();
        assertTrue(before - CacheBooks.directBytesUsed() < frameBytes, "one pin still held");
        assertEquals(0x06060606, second.buffer().getInt(100));
        hole.close();
        second.close();
        assertEquals(reserved, before - CacheBooks.directBytesUsed(), "the last unpin frees the arena");
        assertThrows(IllegalStateException.class, first::close, "a double unpin after close still throws");
        assertThrows(IllegalStateException.class, () -> file.pin(0), "the file is closed");
    }

    /** With pin tracking on, each pin held is reported with its origin, and each still unpins after close. */
    @Test
    void trackedPinsHeldAcrossCloseAreReportedAndStillUnpin() throws IOException
    {
        final long id = store.create();
        store.write(id, 0, TestPages.filled(2 * PAGE, 5));
        final List<String> reports = new ArrayList<>();
        final ExtentCache cache = ExtentCache.builder().device(device).translator(store).capacityFrames(64)
            .trackPins(true).leakReporter(reports::add).build();
        final long reserved = cache.stats().offHeapBytesReserved();
        final PinnedPage first = cache.file(id).pin(0);
        final PinnedPage second = cache.file(id).pin(PAGE);
        final long before = CacheBooks.quietDirectBytesUsed();
        cache.close();
        assertEquals(2, reports.size(), reports.toString());
        assertTrue(reports.get(0).contains("trackedPinsHeldAcrossCloseAreReportedAndStillUnpin"), reports.get(0));
        assertEquals(5, second.buffer().getByte(PAGE - 1));
        first.close();
        second.close();
        assertEquals(reserved, before - CacheBooks.directBytesUsed(), "the last unpin frees the arena");
    }

    /** A cache closed with nothing pinned frees everything at once, and close is idempotent. */
    @Test
    void closeWithNothingPinnedFreesAtOnce() throws IOException
    {
        final long id = store.create();
        store.write(id, 0, TestPages.filled(PAGE, 1));
        final ExtentCache cache = ExtentCache.builder().device(device).translator(store).capacityFrames(64).build();
        try (PinnedPage page = cache.file(id).pin(0))
        {
            assertEquals(1, page.buffer().getByte(0));
        }
        CacheBooks.check(cache);
        cache.close();
    }
}
