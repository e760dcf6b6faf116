package org.extentcache.bench.footprint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;
import java.util.Arrays;
import java.util.SplittableRandom;

import org.extentcache.testing.FaultyBlockDevice;
import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.Extent;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link CaffeineChunkCache}: the bytes it serves against {@link ExtentStore#read}, its counts on deterministic
 * sequences, its bound, and its off-heap books.
 *
 * <p>The books: every buffer is a direct {@link ByteBuffer} of one page, so the JVM's direct-memory pool must grow by
 * exactly {@link CaffeineChunkCache#residentBytes()} while the cache is open, and return to where it was when it is
 * closed. The store's device keeps its blocks in heap arrays, and reads use heap buffers, so nothing else moves the
 * pool. After every test the cache is closed and the pool checked.
 */
class CaffeineChunkCacheTest
{
    private static final int PS = 4096;
    private static final long BLOCKS = 1024;
    private static final int PAGES = 64;
    private static final int TAIL = 100;
    private static final long FILE_BYTES = (long)PAGES * PS + TAIL;
    private static final int FILE_PAGES = PAGES + 1;

    private FaultyBlockDevice device;
    private ExtentStore store;
    private long base;
    private long clone1;
    private long clone2;
    private long holey;
    private long directBefore;
    private long blocksReadBefore;
    private CaffeineChunkCache cache;

    @BeforeEach
    void buildFiles() throws IOException
    {
        device = FaultyBlockDevice.writeThrough(new MemoryBlockDevice(PS, BLOCKS));
        store = new ExtentStore(device);
        base = store.create();
        store.write(base, 0, ByteBuffer.wrap(data(1, (int)FILE_BYTES)));
        clone1 = store.cloneFile(base);
        clone2 = store.cloneFile(base);
        store.write(clone2, 5L * PS + 7, ByteBuffer.wrap(data(2, 3 * PS)));
        holey = store.create();
        store.write(holey, 10L * PS, ByteBuffer.wrap(data(3, PS)));
        directBefore = directBytesUsed();
        blocksReadBefore = device.blocksRead();
    }

    @AfterEach
    void checkTheBooks() throws IOException
    {
        try
        {
            if (null != cache)
            {
                assertEquals(cache.residentBytes(), directBytesUsed() - directBefore,
                    "direct pool grew by exactly the resident bytes: " + cache);
                cache.close();
                assertEquals(0, cache.residentBytes(), "nothing resident after close: " + cache);
                assertEquals(directBefore, directBytesUsed(), "close returned every direct byte: " + cache);
            }
        }
        finally
        {
            store.close();
            device.close();
        }
    }

    @ParameterizedTest(name = "budgetBytes={0}")
    @ValueSource(longs = {0, Long.MAX_VALUE, 8 * PS, 8 * PS + 100, 1})
    void servesTheStoreBytesForRandomReads(final long budgetBytes) throws IOException
    {
        cache = new CaffeineChunkCache(store, device, budgetBytes);
        final long bound = budgetBytes <= 0 || budgetBytes == Long.MAX_VALUE ? Long.MAX_VALUE :
            budgetBytes / PS * PS;
        final long[] files = {base, clone1, clone2, holey};
        final long seed = System.nanoTime();
        final SplittableRandom random = new SplittableRandom(seed);
        long pagesServed = 0;
        for (int op = 0; op < 2000; op++)
        {
            final long file = files[random.nextInt(files.length)];
            final long size = store.size(file);
            final long position = random.nextLong(size + 2 * PS);
            final int length = random.nextInt(3 * PS + 1);
            final int offset = random.nextInt(16);
            final String where = "seed=" + seed + " op=" + op + " file=" + file + " position=" + position +
                " length=" + length;

            final ByteBuffer expected = ByteBuffer.allocate(offset + length).position(offset);
            final int expectedCount = store.read(file, position, expected);
            final ByteBuffer actual = ByteBuffer.allocate(offset + length).position(offset);
            final long hitsBefore = cache.hits();
            final long deviceReadsBefore = cache.deviceReads();
            final int count = cache.read(file, position, actual);

            assertEquals(expectedCount, count, where);
            assertEquals(expected.position(), actual.position(), where);
            assertArrayEquals(expected.array(), actual.array(), where);
            if (count > 0)
            {
                final long pages = (position + count - 1) / PS - position / PS + 1;
                pagesServed += pages;
                final long served = cache.hits() - hitsBefore + cache.deviceReads() - deviceReadsBefore;
                assertTrue(served <= pages, where + " served=" + served + " pages=" + pages);
            }
            assertTrue(cache.residentBytes() <= bound, where + " resident=" + cache.residentBytes());
            assertEquals(cache.residentBytes(), directBytesUsed() - directBefore, where);
        }
        assertTrue(cache.hits() + cache.deviceReads() <= pagesServed);
        assertEquals(cache.residentBytes(), cache.reservedBytes());
        assertEquals(0, cache.offHeapMetadataBytes());
        assertEquals("caffeine", cache.name());
    }

    @Test
    void keysByFileSoEveryCloneIsCachedAgain() throws IOException
    {
        cache = new CaffeineChunkCache(store, device, 0);
        final long[] files = {base, clone1, clone2};
        for (final long file : files)
        {
            readPageByPage(file);
        }
        assertEquals(3L * FILE_PAGES, cache.deviceReads(), "one device read per (file, page), shared or not");
        assertEquals(0, cache.hits());
        assertEquals(3L * FILE_PAGES * PS, cache.residentBytes(), "one copy per file");
        assertEquals(cache.residentBytes(), directBytesUsed() - directBefore);

        for (final long file : files)
        {
            readPageByPage(file);
        }
        assertEquals(3L * FILE_PAGES, cache.deviceReads());
        assertEquals(3L * FILE_PAGES, cache.hits());
    }

    @Test
    void countsHitsAndDeviceReadsExactly() throws IOException
    {
        cache = new CaffeineChunkCache(store, device, 4L * PS);
        final ByteBuffer dst = ByteBuffer.allocate(PS);
        for (int i = 0; i < 10; i++)
        {
            assertEquals(PS, cache.read(base, 0, dst.clear()));
        }
        assertEquals(1, cache.deviceReads());
        assertEquals(9, cache.hits());
        assertEquals(1, device.blocksRead() - blocksReadBefore);

        assertEquals(20, cache.read(base, PS - 10, dst.clear().limit(20)), "spans pages 0 and 1");
        assertEquals(2, cache.deviceReads());
        assertEquals(10, cache.hits());
        assertEquals(2L * PS, cache.residentBytes());

        assertEquals(3 * PS, cache.read(base, 2L * PS, ByteBuffer.allocate(3 * PS)), "pages 2, 3 and 4");
        assertEquals(5, cache.deviceReads());
        assertTrue(cache.residentBytes() <= 4L * PS, "bounded: " + cache);
        assertEquals(5, device.blocksRead() - blocksReadBefore);
    }

    @Test
    void scanningPastTheBudgetEvictsAndFreesBuffers() throws IOException
    {
        final long budget = 8L * PS;
        cache = new CaffeineChunkCache(store, device, budget);
        final ByteBuffer dst = ByteBuffer.allocate(PS);
        for (int page = 0; page < PAGES; page++)
        {
            assertEquals(PS, cache.read(base, (long)page * PS, dst.clear()));
            assertArrayEquals(Arrays.copyOfRange(data(1, (int)FILE_BYTES), page * PS, (page + 1) * PS), dst.array(),
                "page=" + page);
            assertEquals(Math.min(page + 1, 8) * (long)PS, cache.residentBytes(), "page=" + page);
            assertEquals(cache.residentBytes(), directBytesUsed() - directBefore, "evicted buffers freed eagerly");
        }
        assertEquals(PAGES, cache.deviceReads());
        assertEquals(0, cache.hits());
        assertEquals(budget, cache.residentBytes());
    }

    @Test
    void budgetBelowOnePageHoldsNothingAndStillServesTheBytes() throws IOException
    {
        cache = new CaffeineChunkCache(store, device, PS - 1);
        final ByteBuffer dst = ByteBuffer.allocate(2 * PS);
        for (int i = 0; i < 3; i++)
        {
            assertEquals(2 * PS, cache.read(clone2, 4L * PS, dst.clear()));
            final ByteBuffer expected = ByteBuffer.allocate(2 * PS);
            store.read(clone2, 4L * PS, expected);
            assertArrayEquals(expected.array(), dst.array(), "read " + i);
            assertEquals(0, cache.residentBytes(), "each page is evicted as it is loaded, freed once copied");
            assertEquals(directBefore, directBytesUsed());
        }
        assertEquals(6, cache.deviceReads());
        assertEquals(0, cache.hits());
    }

    @Test
    void holesReadAsZerosAndAreCachedWithoutADeviceRead() throws IOException
    {
        cache = new CaffeineChunkCache(store, device, 0);
        final Extent extent = new Extent();
        store.translate(holey, 3, extent);
        assertTrue(extent.isHole());
        final byte[] marked = new byte[PS];
        Arrays.fill(marked, (byte)0x5A);
        final ByteBuffer dst = ByteBuffer.wrap(marked);
        assertEquals(PS, cache.read(holey, 3L * PS, dst));
        assertArrayEquals(new byte[PS], marked);
        assertEquals(0, cache.deviceReads());
        assertEquals(0, cache.hits());
        assertEquals(PS, cache.residentBytes(), "the zero page is cached");

        assertEquals(PS, cache.read(holey, 3L * PS, dst.clear()));
        assertEquals(1, cache.hits());
        assertEquals(0, device.blocksRead() - blocksReadBefore);
    }

    @Test
    void followsFileChannelSemanticsAtTheEdges() throws IOException
    {
        cache = new CaffeineChunkCache(store, device, 0);
        final ByteBuffer dst = ByteBuffer.allocate(2 * PS);
        assertEquals(TAIL, cache.read(base, (long)PAGES * PS, dst), "short read at end of file");
        assertEquals(TAIL, dst.position());
        assertEquals(50, cache.read(base, FILE_BYTES - 50, dst.clear()));
        assertEquals(-1, cache.read(base, FILE_BYTES, dst.clear()), "at end of file");
        assertEquals(-1, cache.read(base, FILE_BYTES + 10 * PS, dst.clear()), "past end of file");
        assertEquals(0, cache.read(base, 0, dst.clear().limit(0)), "nothing asked");
        assertEquals(0, cache.read(base, FILE_BYTES, dst.clear().limit(0)), "nothing asked at end of file");

        final IllegalArgumentException negative =
            assertThrows(IllegalArgumentException.class, () -> cache.read(base, -4096, ByteBuffer.allocate(1)));
        assertEquals("position must be >= 0: position=-4096", negative.getMessage());
        assertThrows(NoSuchFileException.class, () -> cache.read(999, 0, ByteBuffer.allocate(1)));
        assertThrows(NullPointerException.class, () -> cache.read(base, 0, null));
    }

    @Test
    void deviceFailureSurfacesAsIOExceptionAndCachesNothing() throws IOException
    {
        cache = new CaffeineChunkCache(store, device, 0);
        final Extent extent = new Extent();
        store.translate(base, 1, extent);
        final long block = extent.blockOf(1);
        device.failBlock(block);

        final ByteBuffer dst = ByteBuffer.allocate(2 * PS).position(3);
        final IOException failure = assertThrows(IOException.class, () -> cache.read(base, 0, dst));
        assertEquals(IOException.class, failure.getClass(), "the device's own exception, unwrapped");
        assertTrue(failure.getMessage().startsWith("injected read failure: block=" + block), failure.getMessage());
        assertEquals(3, dst.position(), "position unchanged on failure");
        assertEquals(PS, cache.residentBytes(), "page 0 was loaded; page 1 was not cached");
        assertEquals(1, cache.deviceReads());
        assertEquals(cache.residentBytes(), directBytesUsed() - directBefore, "the failed page's buffer was freed");

        device.healBlock(block);
        assertEquals(2 * PS - 3, cache.read(base, 0, dst));
        assertEquals(2, cache.deviceReads());
        assertEquals(1, cache.hits());
    }

    @Test
    void closeFreesEveryBufferAndIsIdempotent() throws IOException
    {
        final CaffeineChunkCache closing = new CaffeineChunkCache(store, device, 0);
        for (final long file : new long[] {base, clone1, clone2, holey})
        {
            final ByteBuffer dst = ByteBuffer.allocate(PS);
            for (long at = 0; closing.read(file, at, dst.clear()) > 0; at += PS)
            {
                assertTrue(closing.residentBytes() > 0);
            }
        }
        assertEquals((3L * FILE_PAGES + 11) * PS, closing.residentBytes());
        assertEquals(closing.residentBytes(), directBytesUsed() - directBefore);

        closing.close();
        assertEquals(0, closing.residentBytes());
        assertEquals(directBefore, directBytesUsed(), "every direct buffer freed by close");
        closing.close();
        final IllegalStateException closed =
            assertThrows(IllegalStateException.class, () -> closing.read(base, 0, ByteBuffer.allocate(1)));
        assertEquals("cache is closed: name=caffeine", closed.getMessage());
    }

    @Test
    void rejectsAStoreWhosePageSizeIsNotTheDeviceBlockSize()
    {
        final MemoryBlockDevice other = new MemoryBlockDevice(512, 16);
        final IllegalArgumentException mismatch =
            assertThrows(IllegalArgumentException.class, () -> new CaffeineChunkCache(store, other, 0));
        assertEquals("page size must be the device's block size, a power of two: pageSize=4096 blockSize=512",
            mismatch.getMessage());
        other.close();
    }

    private void readPageByPage(final long file) throws IOException
    {
        final ByteBuffer dst = ByteBuffer.allocate(PS);
        final ByteBuffer expected = ByteBuffer.allocate(PS);
        int n;
        for (long at = 0; (n = cache.read(file, at, dst.clear())) > 0; at += PS)
        {
            assertEquals(n, store.read(file, at, expected.clear()));
            assertArrayEquals(Arrays.copyOf(expected.array(), n), Arrays.copyOf(dst.array(), n),
                "file=" + file + " position=" + at);
        }
    }

    /** Seeded random bytes: each file region has its own, so a misplaced byte cannot pass. */
    private static byte[] data(final int seed, final int length)
    {
        final byte[] bytes = new byte[length];
        final SplittableRandom random = new SplittableRandom(seed);
        random.nextBytes(bytes);
        return bytes;
    }

    private static long directBytesUsed()
    {
        for (final BufferPoolMXBean pool : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class))
        {
            if ("direct".equals(pool.getName()))
            {
                return pool.getMemoryUsed();
            }
        }
        throw new IllegalStateException("no direct buffer pool");
    }
}
