package org.extentcache;

import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@link ExtentCache#closeFile}: the last close of a file makes its pages durable and drops its mapping; its frames
 * stay as cache only, found again by translation when the file (or a clone) is opened again.
 */
class CloseFileTest
{
    private static final int PAGE = 4096;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    private final ScriptedDevice device = new ScriptedDevice(PAGE, 4096);
    private final ExtentStore store = new ExtentStore(device);

    private ExtentCache cache()
    {
        return books.track(ExtentCache.builder().device(device).translator(store).capacityFrames(64)
            .claimTimeout(Duration.ofSeconds(3)).build());
    }

    @Test
    void closedFilesFramesCountAsCacheOnlyAndServeTheFileWhenOpenedAgain() throws IOException
    {
        final long id = store.create();
        store.write(id, 0, ByteBuffer.wrap(filled((byte)7, 8 * PAGE)));
        final ExtentCache cache = cache();
        final CachedFile file = cache.file(id);
        read(file, 8 * PAGE);
        CacheStats stats = cache.stats();
        assertEquals(8, stats.framesResident());
        assertEquals(8, cache.residency().framesReachable(), stats.toString());
        assertEquals(0, cache.residency().framesCacheOnly());

        cache.closeFile(id);
        stats = cache.stats();
        assertEquals(8, stats.framesResident(), "the frames stay as cache");
        assertEquals(0, cache.residency().framesReachable(), "no open file maps them");
        assertEquals(8, cache.residency().framesCacheOnly());
        assertEquals(0, stats.filesMapped());
        final IllegalStateException stale = assertThrows(IllegalStateException.class,
            () -> file.read(0, ByteBuffer.allocate(PAGE)));
        assertTrue(stale.getMessage().contains("closed in the cache"), stale.getMessage());

        final long readsBefore = cache.stats().deviceReads();
        final CachedFile again = cache.file(id);
        assertNotSame(file, again);
        assertArrayEquals(filled((byte)7, 8 * PAGE), read(again, 8 * PAGE));
        assertEquals(readsBefore, cache.stats().deviceReads(), "served from the frames kept as cache");
        assertEquals(8, cache.residency().framesReachable());
    }

    @Test
    void closingAFileMakesItsDirtyPagesDurable() throws IOException
    {
        final long id = store.create();
        final ExtentCache cache = cache();
        cache.file(id).write(0, ByteBuffer.wrap(filled((byte)3, 2 * PAGE)));
        final int syncs = device.syncs.get();
        cache.closeFile(id);
        assertEquals(syncs + 1, device.syncs.get(), "written back and synced");
        final ByteBuffer onDevice = ByteBuffer.allocate(2 * PAGE);
        store.read(id, 0, onDevice);
        assertArrayEquals(filled((byte)3, 2 * PAGE), onDevice.array());
        assertEquals(0, cache.stats().dirtyFrames());
    }

    @Test
    void closingACleanFileDoesNotSync() throws IOException
    {
        final long id = store.create();
        store.write(id, 0, ByteBuffer.wrap(filled((byte)1, PAGE)));
        final ExtentCache cache = cache();
        read(cache.file(id), PAGE);
        final int syncs = device.syncs.get();
        cache.closeFile(id);
        assertEquals(syncs, device.syncs.get());
    }

    @Test
    void aCloseWhoseSyncFailsLeavesTheFileOpenAndItsPagesDirty() throws Exception
    {
        final long id = store.create();
        final ExtentCache cache = cache();
        final CachedFile file = cache.file(id);
        file.write(0, ByteBuffer.wrap(filled((byte)5, PAGE)));
        device.holdNextSync(true);
        device.releaseSync();
        assertThrows(IOException.class, () -> cache.closeFile(id));
        assertSame(file, cache.file(id), "still open in the cache");
        assertEquals(1, file.dirtyPageCount(), "the page stays dirty");
        cache.closeFile(id); // the retry succeeds
        final ByteBuffer onDevice = ByteBuffer.allocate(PAGE);
        store.read(id, 0, onDevice);
        assertArrayEquals(filled((byte)5, PAGE), onDevice.array());
    }

    private static byte[] read(final CachedFile file, final int length) throws IOException
    {
        final ByteBuffer dst = ByteBuffer.allocate(length);
        file.read(0, dst);
        return dst.array();
    }

    private static byte[] filled(final byte value, final int length)
    {
        final byte[] bytes = new byte[length];
        Arrays.fill(bytes, value);
        return bytes;
    }
}
