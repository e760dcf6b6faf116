package org.extentcache;

import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

/** The write side: copy-on-write between clones, in-place writes, write-back, and changes made by the store. */
class CacheWriteTest
{
    private static final int PAGE = 4096;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    private final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 4096);
    private final ExtentStore store = new ExtentStore(device);

    private ExtentCache cache(final int frames)
    {
        return books.track(ExtentCache.builder().device(device).translator(store).capacityFrames(frames).build());
    }

    private static ByteBuffer filled(final int length, final int value)
    {
        return TestPages.filled(length, value);
    }

    private byte[] readDevice(final long file, final long position, final int length) throws IOException
    {
        final ByteBuffer dst = ByteBuffer.allocate(length);
        store.read(file, position, dst);
        return dst.array();
    }

    private static void assertAll(final int value, final byte[] bytes, final String what)
    {
        TestPages.assertBytes(value, bytes, what);
    }

    @Test
    void aWriteToOneCloneChangesOnlyThatCloneAndCostsOneFramePerPage() throws IOException
    {
        final int pages = 64;
        final ExtentCache cache = cache(256);
        final long base = store.create();
        store.write(base, 0, filled(pages * PAGE, 1));
        final long[] clones = new long[8];
        for (int i = 0; i < clones.length; i++)
        {
            clones[i] = store.cloneFile(base);
            assertAll(1, TestPages.read(cache.file(clones[i]), 0, pages * PAGE), "clone " + i);
        }
        assertEquals(pages, cache.stats().framesResident());

        final CachedFile written = cache.file(clones[3]);
        assertEquals(PAGE, written.write(5L * PAGE, filled(PAGE, 2)));
        assertEquals(100, written.write(9L * PAGE + 10, filled(100, 3)), "a partial page");

        final byte[] after = TestPages.read(written, 0, pages * PAGE);
        assertAll(2, Arrays.copyOfRange(after, 5 * PAGE, 6 * PAGE), "written page");
        assertAll(1, Arrays.copyOfRange(after, 9 * PAGE, 9 * PAGE + 10), "old bytes before the partial write");
        assertAll(3, Arrays.copyOfRange(after, 9 * PAGE + 10, 9 * PAGE + 110), "partial write");
        assertAll(1, Arrays.copyOfRange(after, 9 * PAGE + 110, 10 * PAGE), "old bytes after it");
        assertAll(1, TestPages.read(cache.file(base), 0, pages * PAGE), "base");
        for (int i = 0; i < clones.length; i++)
        {
            if (i != 3)
            {
                assertAll(1, TestPages.read(cache.file(clones[i]), 0, pages * PAGE), "clone " + i);
            }
        }
        final CacheStats stats = cache.stats();
        assertEquals(pages + 2, stats.framesResident(), "one frame per written page, not a file: " + stats);
        assertEquals(2, stats.copyOnWrites());
        assertEquals(2, stats.dirtyFrames());
        assertEquals(pages, stats.deviceReads(), "the partial copy-on-write copied the cached frame, no device read");

        assertFalse(Arrays.equals(filled(PAGE, 2).array(), readDevice(clones[3], 5L * PAGE, PAGE)),
            "the fresh block is mapped but not yet written on the device before flush");
        written.flush();
        assertEquals(0, cache.stats().dirtyFrames());
        assertAll(2, readDevice(clones[3], 5L * PAGE, PAGE), "on the device after flush");
        assertAll(1, readDevice(base, 5L * PAGE, PAGE), "the base's block is untouched");
    }

    @Test
    void anUnsharedPageIsWrittenInPlace() throws IOException
    {
        final ExtentCache cache = cache(16);
        final long id = store.create();
        store.write(id, 0, filled(2 * PAGE, 1));
        final CachedFile file = cache.file(id);
        assertAll(1, TestPages.read(file, 0, 2 * PAGE), "before");
        final long blocksBefore = store.allocatedBlocks();
        file.write(100, filled(10, 7));
        file.write(PAGE, filled(PAGE, 8));
        final CacheStats stats = cache.stats();
        assertEquals(0, stats.copyOnWrites(), stats.toString());
        assertEquals(2, stats.framesResident());
        assertEquals(blocksBefore, store.allocatedBlocks(), "no new block");
        assertAll(7, TestPages.read(file, 100, 10), "in-place partial write");
        assertAll(1, TestPages.read(file, 110, 10), "neighbours kept");
        assertAll(8, TestPages.read(file, PAGE, PAGE), "in-place whole page");
        file.flush();
        assertAll(7, readDevice(id, 100, 10), "flushed");
    }

    @Test
    void writesIntoHolesAndPastTheEndGrowTheFileWithZeros() throws IOException
    {
        final ExtentCache cache = cache(16);
        final long id = store.create();
        final CachedFile file = cache.file(id);
        file.write(3L * PAGE + 5, filled(10, 9));
        assertEquals(3L * PAGE + 15, file.size());
        assertEquals(3L * PAGE + 15, store.size(id));
        assertAll(0, TestPages.read(file, 0, 3 * PAGE + 5), "hole before");
        assertAll(9, TestPages.read(file, 3L * PAGE + 5, 10), "written");
        assertEquals(-1, file.read(3L * PAGE + 15, ByteBuffer.allocate(1)));
        file.flush();
        assertAll(0, readDevice(id, 3L * PAGE, 5), "zeros before the write in its page");
        assertAll(9, readDevice(id, 3L * PAGE + 5, 10), "the write");
    }

    /** Invariant 2: cloning a file whose pages are dirty writes them back first; the clone and the source share. */
    @Test
    void cloningADirtyFileWritesItBackFirst() throws IOException
    {
        final ExtentCache cache = cache(16);
        final long id = store.create();
        store.write(id, 0, filled(PAGE, 1));
        final CachedFile file = cache.file(id);
        file.write(0, filled(PAGE, 2));
        assertEquals(1, cache.stats().dirtyFrames());

        final long clone = store.cloneFile(id);
        assertEquals(0, cache.stats().dirtyFrames(), "written back before the clone");
        assertEquals(0, file.dirtyPageCount());
        assertAll(2, readDevice(clone, 0, PAGE), "the clone holds the written bytes on the device");
        assertAll(2, TestPages.read(cache.file(clone), 0, PAGE), "and through the cache");
        assertEquals(1, cache.stats().framesResident(), "one frame serves both");

        file.write(0, filled(PAGE, 3));
        assertAll(3, TestPages.read(file, 0, PAGE), "source rewritten");
        assertAll(2, TestPages.read(cache.file(clone), 0, PAGE), "clone keeps the clone-time bytes");
        assertEquals(1, cache.stats().copyOnWrites(), "the block was shared: copy-on-write");
    }

    @Test
    void cloneRangeOutOfADirtyRangeWritesItBackFirst() throws IOException
    {
        final ExtentCache cache = cache(16);
        final long src = store.create();
        store.write(src, 0, filled(4 * PAGE, 1));
        final long dst = store.create();
        final CachedFile file = cache.file(src);
        file.write(2L * PAGE, filled(PAGE, 5));
        store.cloneRange(src, 2L * PAGE, dst, 0, PAGE);
        assertAll(5, TestPages.read(cache.file(dst), 0, PAGE), "clone-range carried the cached write");
        assertEquals(0, cache.stats().dirtyFrames());
    }

    @Test
    void storeChangesToDirtyPagesSeeTheLatestBytes() throws IOException
    {
        final ExtentCache cache = cache(16);
        final long id = store.create();
        store.write(id, 0, filled(3 * PAGE, 1));
        final CachedFile file = cache.file(id);
        file.write(0, filled(3 * PAGE, 4));

        store.punchHole(id, 100, 200);
        assertAll(4, TestPages.read(file, 0, 100), "kept before the hole");
        assertAll(0, TestPages.read(file, 100, 200), "punched");
        assertAll(4, TestPages.read(file, 300, PAGE - 300), "kept after the hole");

        store.write(id, PAGE + 10, filled(10, 6));
        assertAll(4, TestPages.read(file, PAGE, 10), "the store merged with the cached bytes");
        assertAll(6, TestPages.read(file, PAGE + 10, 10), "the store's write");

        store.truncate(id, 2L * PAGE + 50);
        store.truncate(id, 3L * PAGE);
        assertAll(4, TestPages.read(file, 2L * PAGE, 50), "kept below the cut");
        assertAll(0, TestPages.read(file, 2L * PAGE + 50, PAGE - 50), "zeros past the cut");

        store.delete(id);
        assertEquals(0, cache.stats().dirtyFrames(), "a deleted file's dirty pages are dropped");
    }

    /** More dirty data than half the arena: the writer flushes its own file instead of running out of frames. */
    @Test
    void writingMoreThanTheCacheHoldsFlushesAsItGoes() throws IOException
    {
        final ExtentCache cache = cache(16);
        final long id = store.create();
        final CachedFile file = cache.file(id);
        final ByteBuffer data = ByteBuffer.allocate(100 * PAGE);
        for (int i = 0; i < 100; i++)
        {
            data.putInt(i * PAGE, i);
        }
        file.write(0, data);
        assertTrue(cache.stats().dirtyFrames() <= 9, cache.stats().toString());
        for (int i = 0; i < 100; i++)
        {
            assertEquals(i, ByteBuffer.wrap(TestPages.read(file, (long)i * PAGE, 4)).getInt(), "page " + i);
        }
        file.flush();
        for (int i = 0; i < 100; i++)
        {
            assertEquals(i, ByteBuffer.wrap(readDevice(id, (long)i * PAGE, 4)).getInt(), "device page " + i);
        }
    }

    @Test
    void dirtyFramesAreNeverReclaimed() throws IOException
    {
        final ExtentCache cache = cache(8);
        final long id = store.create();
        store.write(id, 0, filled(40 * PAGE, 1));
        final CachedFile file = cache.file(id);
        file.write(0, filled(PAGE, 2));
        file.write(PAGE, filled(PAGE, 3));
        for (int round = 0; round < 3; round++)
        {
            assertAll(1, TestPages.read(file, 2L * PAGE, 38 * PAGE), "the rest");
        }
        assertTrue(cache.stats().reclaims() > 50);
        assertAll(2, TestPages.read(file, 0, PAGE), "dirty page 0 survived reclaim");
        assertAll(3, TestPages.read(file, PAGE, PAGE), "dirty page 1 survived reclaim");
        assertEquals(2, cache.stats().dirtyFrames());
    }

    @Test
    void readOnlyAndDirectSourcesWriteTheSameBytes() throws IOException
    {
        final ExtentCache cache = cache(16);
        final CachedFile file = cache.file(store.create());
        assertEquals(10, file.write(0, filled(10, 4).asReadOnlyBuffer()));
        final ByteBuffer direct = ByteBuffer.allocateDirect(10);
        direct.put(filled(10, 5)).flip();
        assertEquals(10, file.write(10, direct));
        assertEquals(10, direct.position());
        assertAll(4, TestPages.read(file, 0, 10), "from a read-only heap buffer");
        assertAll(5, TestPages.read(file, 10, 10), "from a direct buffer");
    }

    @Test
    void badWritesFailWithTheValuesInTheMessage() throws IOException
    {
        final ExtentCache cache = cache(16);
        final CachedFile file = cache.file(store.create());
        final IllegalArgumentException negative =
            assertThrows(IllegalArgumentException.class, () -> file.write(-1, ByteBuffer.allocate(1)));
        assertEquals("position must be >= 0: position=-1", negative.getMessage());
        final IllegalArgumentException overflow =
            assertThrows(IllegalArgumentException.class, () -> file.write(Long.MAX_VALUE - 1, ByteBuffer.allocate(8)));
        assertTrue(overflow.getMessage().contains("position=" + (Long.MAX_VALUE - 1)), overflow.getMessage());
        assertEquals(0, file.write(0, ByteBuffer.allocate(0)));
    }
}
