package org.extentcache;

import org.extentcache.device.BlockDevice;
import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ReadOnlyBufferException;
import java.nio.file.NoSuchFileException;
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

class ExtentCacheTest
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

    /** A page whose every byte is {@code stamp}. */
    private static ByteBuffer page(final int stamp)
    {
        return TestPages.filled(PAGE, stamp);
    }

    private static byte[] readPage(final CachedFile file, final long page) throws IOException
    {
        final ByteBuffer dst = ByteBuffer.allocate(PAGE);
        assertEquals(PAGE, file.read(page * PAGE, dst));
        return dst.array();
    }

    private static void assertPage(final int stamp, final byte[] bytes, final String what)
    {
        TestPages.assertBytes(stamp, bytes, what);
    }

    /**
     * Seed 004's table: W maps blocks A-F at pages 0-5; X, Y and Z map the same six blocks rotated by one, two and
     * three pages. Twenty-four pages, six blocks: six frames, six device reads.
     */
    @Test
    void sameBlocksAtDifferentOffsetsInDifferentFilesShareOneFrameEach() throws IOException
    {
        final ExtentCache cache = cache(64);
        final long w = store.create();
        for (int i = 0; i < 6; i++)
        {
            store.write(w, (long)i * PAGE, page('A' + i));
        }
        final long[] files = {w, store.create(), store.create(), store.create()};
        for (int rotation = 1; rotation < 4; rotation++)
        {
            for (int i = 0; i < 6; i++)
            {
                store.cloneRange(w, (long)((i + rotation) % 6) * PAGE, files[rotation], (long)i * PAGE, PAGE);
            }
        }
        final long readsBefore = device.blocksRead();
        for (int rotation = 0; rotation < 4; rotation++)
        {
            final CachedFile file = cache.file(files[rotation]);
            for (int i = 0; i < 6; i++)
            {
                assertPage('A' + (i + rotation) % 6, readPage(file, i), "file " + rotation + " page " + i);
            }
        }
        final CacheStats stats = cache.stats();
        assertEquals(6, stats.framesResident(), stats.toString());
        assertEquals(6, stats.deviceReads(), stats.toString());
        assertEquals(6, device.blocksRead() - readsBefore, "the device itself saw six reads");
        assertEquals(18, stats.sharingHits(), stats.toString());
        assertEquals(24, stats.handlesHeld());

        final long fileHitsBefore = cache.stats().fileHits();
        for (int rotation = 0; rotation < 4; rotation++)
        {
            for (int i = 0; i < 6; i++)
            {
                assertPage('A' + (i + rotation) % 6, readPage(cache.file(files[rotation]), i), "again");
            }
        }
        assertEquals(fileHitsBefore + 24, cache.stats().fileHits());
        assertEquals(6, cache.stats().deviceReads());
    }

    /** A base of P pages and 16 clones, each read in full: P frames, P device reads, 16 x P sharing hits. */
    @Test
    void sixteenClonesOfABaseCostOneFramePerBlock() throws IOException
    {
        final int pages = 700;
        final int clones = 16;
        final ExtentCache cache = cache(1024);
        final long base = store.create();
        final ByteBuffer data = ByteBuffer.allocate(pages * PAGE);
        for (int i = 0; i < pages; i++)
        {
            data.putInt(i * PAGE, i);
        }
        store.write(base, 0, data);
        final long[] files = new long[clones + 1];
        files[0] = base;
        for (int c = 1; c <= clones; c++)
        {
            files[c] = store.cloneFile(base);
        }
        final ByteBuffer whole = ByteBuffer.allocateDirect(pages * PAGE);
        for (final long id : files)
        {
            whole.clear();
            assertEquals(pages * PAGE, cache.file(id).read(0, whole));
            for (int i = 0; i < pages; i++)
            {
                assertEquals(i, whole.getInt(i * PAGE), "file " + id + " page " + i);
            }
        }
        final CacheStats stats = cache.stats();
        assertEquals(pages, stats.framesResident(), stats.toString());
        assertEquals(pages, stats.deviceReads(), stats.toString());
        assertEquals((long)clones * pages, stats.sharingHits(), stats.toString());
        final long translated = (pages + Scratch.FAULT_AROUND) / (Scratch.FAULT_AROUND + 1);
        assertEquals((long)clones * (pages - translated), stats.fileHits(),
            "each translation through a clone maps the next " + Scratch.FAULT_AROUND + " pages ahead: " + stats);
        assertEquals(0, stats.reclaims());
        assertEquals((long)(clones + 1) * pages, stats.handlesHeld());
        for (final long id : files)
        {
            assertEquals(pages, cache.file(id).handleCount());
        }
        assertTrue(stats.heapMetadataBytes() >= (long)(clones + 1) * pages * 8, stats.toString());
    }

    /** More data than frames: every read is still right, and the arena never holds more than its capacity. */
    @Test
    void readsStayCorrectWhenTheCacheIsSmallerThanTheData() throws IOException
    {
        final long seed = Long.getLong("extentcache.seed", System.nanoTime());
        final SplittableRandom random = new SplittableRandom(seed);
        final int capacity = 16;
        final ExtentCache cache = cache(capacity);
        final int files = 5;
        final int pages = 40;
        final long[] ids = new long[files];
        for (int f = 0; f < files; f++)
        {
            ids[f] = f == 0 || random.nextBoolean() ? store.create() : store.cloneFile(ids[0]);
            store.truncate(ids[f], (long)pages * PAGE);
            for (int p = 0; p < pages; p++)
            {
                if (f == 0 || random.nextInt(4) == 0)
                {
                    store.write(ids[f], (long)p * PAGE, page(f * pages + p));
                }
            }
        }
        for (int i = 0; i < 5000; i++)
        {
            final int f = random.nextInt(files);
            final int p = random.nextInt(pages);
            final ByteBuffer expected = ByteBuffer.allocate(PAGE);
            store.read(ids[f], (long)p * PAGE, expected);
            assertArrayEquals(expected.array(), readPage(cache.file(ids[f]), p),
                "seed=" + seed + " read " + i + " file " + f + " page " + p);
            assertTrue(cache.stats().framesResident() <= capacity);
        }
        assertTrue(cache.stats().reclaims() > 0, "the sweep ran: " + cache.stats());
    }

    @Test
    void readsBehaveLikeFileChannelAtEndOfFile() throws IOException
    {
        final ExtentCache cache = cache(16);
        final long id = store.create();
        store.write(id, 0, ByteBuffer.wrap(new byte[10_000]));
        final CachedFile file = cache.file(id);
        assertEquals(10_000, file.size());
        assertEquals(10_000 - 8192, file.read(8192, ByteBuffer.allocate(PAGE)));
        assertEquals(-1, file.read(10_000, ByteBuffer.allocate(PAGE)));
        assertEquals(-1, file.read(1L << 40, ByteBuffer.allocate(PAGE)));
        assertEquals(0, file.read(0, ByteBuffer.allocate(0)));
        final ByteBuffer odd = ByteBuffer.allocate(100);
        odd.position(10);
        assertEquals(90, file.read(4090, odd), "crosses a page boundary");
        assertEquals(100, odd.position());
    }

    @Test
    void holesReadAsZerosWithoutFrames() throws IOException
    {
        final ExtentCache cache = cache(16);
        final long id = store.create();
        store.write(id, 5L * PAGE, page(9));
        final CachedFile file = cache.file(id);
        assertPage(0, readPage(file, 2), "hole");
        assertPage(9, readPage(file, 5), "data");
        assertEquals(1, cache.stats().framesResident());
    }

    /** Changes made through the translator are seen: writes, punches, clone-range over, truncation, deletion. */
    @Test
    void changesThroughTheTranslatorAreNeverHiddenByTheCache() throws IOException
    {
        final ExtentCache cache = cache(16);
        final long a = store.create();
        store.write(a, 0, page(1));
        store.write(a, PAGE, page(2));
        final long b = store.cloneFile(a);
        final CachedFile fa = cache.file(a);
        final CachedFile fb = cache.file(b);
        assertPage(1, readPage(fa, 0), "a0");
        assertPage(1, readPage(fb, 0), "b0");

        store.write(b, 0, page(3));
        assertPage(3, readPage(fb, 0), "b0 rewritten");
        assertPage(1, readPage(fa, 0), "a0 untouched");

        store.punchHole(a, 0, PAGE);
        assertPage(0, readPage(fa, 0), "a0 punched");

        store.cloneRange(a, PAGE, b, 0, PAGE);
        assertPage(2, readPage(fb, 0), "b0 cloned over from a1");

        store.truncate(b, PAGE / 2);
        assertEquals(PAGE / 2, fb.size());
        assertEquals(PAGE / 2, fb.read(0, ByteBuffer.allocate(PAGE)));
        store.truncate(b, 2L * PAGE);
        final byte[] tail = readPage(fb, 0);
        assertPage(2, Arrays.copyOf(tail, PAGE / 2), "kept half");
        assertPage(0, Arrays.copyOfRange(tail, PAGE / 2, PAGE), "zeroed tail after re-extension");

        store.delete(b);
        assertThrows(NoSuchFileException.class, () -> readPage(fb, 0));
        assertThrows(NoSuchFileException.class, () -> cache.file(b));
        assertPage(2, readPage(fa, 1), "a1 survives b's deletion");
    }

    /** A block freed by one file and reallocated to another is never served with its old bytes. */
    @Test
    void aFreedAndReusedBlockNeverServesItsOldBytes() throws IOException
    {
        final ExtentCache cache = cache(16);
        final long old = store.create();
        store.write(old, 0, page(7));
        assertPage(7, readPage(cache.file(old), 0), "cached");
        final long freed = cache.stats().framesResident();
        assertEquals(1, freed);
        store.delete(old);
        assertEquals(0, cache.stats().framesResident(), "the freed block's frame was dropped");

        final long reuse = store.create();
        store.write(reuse, 0, page(8));
        assertPage(8, readPage(cache.file(reuse), 0), "new owner of the block");
        assertEquals(2, cache.stats().deviceReads(), "read from the device, not the stale frame");
    }

    @Test
    void handlesGoStaleWhenTheirFrameIsReclaimed() throws IOException
    {
        final ExtentCache cache = cache(8);
        final long id = store.create();
        for (int p = 0; p < 20; p++)
        {
            store.write(id, (long)p * PAGE, page(p));
        }
        final CachedFile file = cache.file(id);
        for (int round = 0; round < 3; round++)
        {
            for (int p = 0; p < 20; p++)
            {
                assertPage(p, readPage(file, p), "round " + round + " page " + p);
            }
        }
        final CacheStats stats = cache.stats();
        assertEquals(60, stats.deviceReads(), "a cyclic scan larger than the cache misses every time: " + stats);
        assertEquals(8, stats.framesResident());
    }

    @Test
    void readsIntoDirectHeapAndAgronaBuffersAgree() throws IOException
    {
        final ExtentCache cache = cache(16);
        final long id = store.create();
        final byte[] data = new byte[3 * PAGE];
        new SplittableRandom(1).nextBytes(data);
        store.write(id, 0, ByteBuffer.wrap(data));
        final CachedFile file = cache.file(id);
        final ByteBuffer direct = ByteBuffer.allocateDirect(3 * PAGE - 200);
        assertEquals(3 * PAGE - 200, file.read(100, direct));
        final byte[] viaDirect = new byte[3 * PAGE - 200];
        direct.flip().get(viaDirect);
        assertArrayEquals(Arrays.copyOfRange(data, 100, 3 * PAGE - 100), viaDirect);
        final org.agrona.concurrent.UnsafeBuffer agrona = new org.agrona.concurrent.UnsafeBuffer(new byte[PAGE + 8]);
        assertEquals(PAGE, file.read(PAGE, agrona, 8, PAGE));
        final byte[] viaAgrona = new byte[PAGE];
        agrona.getBytes(8, viaAgrona);
        assertArrayEquals(Arrays.copyOfRange(data, PAGE, 2 * PAGE), viaAgrona);
    }

    @Test
    void badInputFailsWithTheValuesInTheMessage() throws IOException
    {
        final ExtentCache cache = cache(16);
        final long id = store.create();
        final CachedFile file = cache.file(id);

        final IllegalArgumentException negative =
            assertThrows(IllegalArgumentException.class, () -> file.read(-4096, ByteBuffer.allocate(1)));
        assertEquals("position must be >= 0: position=-4096", negative.getMessage());
        assertThrows(ReadOnlyBufferException.class, () -> file.read(0, ByteBuffer.allocate(1).asReadOnlyBuffer()));
        assertThrows(NoSuchFileException.class, () -> cache.file(999_999));

        final IllegalArgumentException pageSize = assertThrows(IllegalArgumentException.class, () ->
            ExtentCache.builder().device(device).translator(store).pageSize(6000).capacityFrames(16).build());
        assertTrue(pageSize.getMessage().contains("pageSize=6000"), pageSize.getMessage());
        final IllegalArgumentException small = assertThrows(IllegalArgumentException.class, () ->
            ExtentCache.builder().device(device).translator(store).capacityFrames(3).build());
        assertTrue(small.getMessage().contains("capacity=3"), small.getMessage());
        final IllegalArgumentException mismatch = assertThrows(IllegalArgumentException.class, () ->
            ExtentCache.builder().device(device).translator(store).pageSize(8192).capacityFrames(16).build());
        assertTrue(mismatch.getMessage().contains("blockSize=4096"), mismatch.getMessage());
        final BlockDevice other = new MemoryBlockDevice(8192, 16);
        assertThrows(IllegalArgumentException.class, () ->
            ExtentCache.builder().device(other).translator(store).pageSize(8192).capacityFrames(16).build());
        assertThrows(NullPointerException.class, () -> ExtentCache.builder().translator(store).capacityFrames(16).build());

        final ExtentCache closed = ExtentCache.builder().device(device).translator(store).capacityFrames(8).build();
        final CachedFile orphan = closed.file(id);
        closed.close();
        assertThrows(IllegalStateException.class, () -> orphan.read(0, ByteBuffer.allocate(1)));
        assertThrows(IllegalStateException.class, () -> closed.file(id));
        closed.close();
    }
}
