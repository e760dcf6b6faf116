package org.extentcache;

import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue item 14: appending keeps the handles of the pages it wrote, so reading appended data back is a file hit, and
 * a file that shares nothing shows no sharing hits; pages the append did not write still translate anew.
 */
class AppendTest
{
    private static final int PAGE = 4096;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    private final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 1024);
    private final ExtentStore store = new ExtentStore(device);

    @Test
    void readingAppendedPagesBackIsAFileHitNotASharingHit() throws IOException
    {
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(256).build());
        final CachedFile log = cache.file(store.create());
        final int records = 100;
        for (int i = 0; i < records; i++)
        {
            log.write(log.size(), TestPages.filled(PAGE / 2, i)); // half pages: every other append extends a page
        }
        assertEquals((long)records * PAGE / 2, log.size());
        final long fileHits = cache.stats().fileHits();
        for (int i = 0; i < records; i++)
        {
            final ByteBuffer dst = ByteBuffer.allocate(PAGE / 2);
            log.read((long)i * PAGE / 2, dst);
            TestPages.assertBytes(i, dst.array(), "record " + i);
        }
        final CacheStats stats = cache.stats();
        assertEquals(0, stats.sharingHits(), "a file that shares nothing has no sharing hits: " + stats);
        assertEquals(records, stats.fileHits() - fileHits, "every read back is a file hit: " + stats);
        log.flush();
    }

    @Test
    void aWritePastAGapLeavesTheGapReadingZeros() throws IOException
    {
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(64).build());
        final CachedFile file = cache.file(store.create());
        file.write(0, TestPages.filled(PAGE / 2, 1));
        file.write(5L * PAGE + 10, TestPages.filled(100, 2));
        final ByteBuffer all = ByteBuffer.allocate(5 * PAGE + 110);
        assertEquals(all.capacity(), file.read(0, all));
        final byte[] bytes = all.array();
        for (int i = 0; i < bytes.length; i++)
        {
            final int expected = i < PAGE / 2 ? 1 : i >= 5 * PAGE + 10 ? 2 : 0;
            assertEquals(expected, bytes[i], "byte " + i);
        }
        file.flush();
        final ByteBuffer onDevice = ByteBuffer.allocate(bytes.length);
        store.read(file.id(), 0, onDevice);
        assertArrayEquals(bytes, onDevice.array(), "the device agrees");
    }
}
