package org.extentcache;

import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Content merging ({@link ExtentCache.Builder#mergeIdenticalPages}): plain copies (written separately, no block shared
 * in the store) are held once; a write breaks the merge for the written page only; domains keep files apart; a hash
 * that collides all the time merges nothing that differs.
 */
class MergeTest
{
    private static final int PAGE = 4096;
    private static final int PAGES = 32;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    private final PlainCopies plain = new PlainCopies(PAGES);
    private final MemoryBlockDevice device = plain.device;
    private final ExtentStore store = plain.store;

    @Test
    void plainCopiesAreHeldOnce() throws IOException
    {
        final byte[] image = plain.image(1);
        final long[] files = plain.copies(image, 4);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(256).mergeIdenticalPages(true).mergeAliases(256).build());
        for (final long file : files)
        {
            assertArrayEquals(image, plain.read(cache, file));
        }
        final CacheStats stats = cache.stats();
        assertEquals(3L * PAGES, stats.mergedPages(), "three copies alias the first's frames");
        assertEquals(3L * PAGES, stats.merges());
        assertEquals(PAGES, stats.framesResident(), "one frame per distinct page");
        assertEquals(3L * PAGES * PAGE, stats.mergeBytesSaved());
        for (final long file : files)
        {
            assertArrayEquals(image, plain.read(cache, file), "read again, through the aliases");
        }
        assertEquals(4L * PAGES, stats.deviceReads(), "each copy was read from the device once");
    }

    @Test
    void withoutMergingCopiesTakeAFrameEach() throws IOException
    {
        final byte[] image = plain.image(2);
        final long[] files = plain.copies(image, 3);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(256).build());
        for (final long file : files)
        {
            assertArrayEquals(image, plain.read(cache, file));
        }
        assertEquals(3 * PAGES, cache.stats().framesResident());
        assertEquals(0, cache.stats().mergedPages());
    }

    @Test
    void aWriteBreaksTheMergeForTheWrittenPageOnly() throws IOException
    {
        final byte[] image = plain.image(3);
        final long[] files = plain.copies(image, 3);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(256).mergeIdenticalPages(true).build());
        for (final long file : files)
        {
            plain.read(cache, file);
        }
        // a copy's page, then the first file's (the one the others alias), partly written
        final byte[] stamp = "written".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        cache.file(files[1]).write(5L * PAGE + 100, ByteBuffer.wrap(stamp));
        cache.file(files[0]).write(7L * PAGE + 10, ByteBuffer.wrap(stamp));
        final byte[] second = image.clone();
        System.arraycopy(stamp, 0, second, 5 * PAGE + 100, stamp.length);
        final byte[] first = image.clone();
        System.arraycopy(stamp, 0, first, 7 * PAGE + 10, stamp.length);
        assertArrayEquals(first, plain.read(cache, files[0]));
        assertArrayEquals(second, plain.read(cache, files[1]));
        assertArrayEquals(image, plain.read(cache, files[2]), "the copy nobody wrote keeps every byte");
        cache.flush();
        assertArrayEquals(second, plain.onDevice(files[1]));
        assertArrayEquals(first, plain.onDevice(files[0]));
        assertArrayEquals(image, plain.onDevice(files[2]));
        assertTrue(cache.stats().mergedPages() >= PAGES, "the unwritten pages stay merged");
    }

    @Test
    void mergeResidentFindsPagesWrittenBackToEqualBytes() throws IOException
    {
        final byte[] image = plain.image(8);
        final long[] files = plain.copies(image, 3);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(256).mergeIdenticalPages(true).build());
        for (final long file : files)
        {
            plain.read(cache, file);
        }
        assertEquals(2L * PAGES, cache.stats().mergedPages());
        // pages 3 and 4 of copy 1 and page 3 of copy 2 leave the merge (written), then get their old bytes back
        for (final long[] write : new long[][]{{files[1], 3}, {files[1], 4}, {files[2], 3}})
        {
            final CachedFile file = cache.file(write[0]);
            file.write(write[1] * PAGE, ByteBuffer.wrap(new byte[PAGE]));
            file.write(write[1] * PAGE, ByteBuffer.wrap(image, (int)write[1] * PAGE, PAGE));
        }
        cache.mergeDomain(files[2], 9); // copy 2 may not merge with the others any more
        assertEquals(2L * PAGES - 3, cache.stats().mergedPages());
        assertEquals(0, cache.mergeResident(), "dirty pages never merge");
        cache.flush();
        // copy 1's page 3 merges again; its page 4 does not: copy 0's frame for page 4 still serves copy 2's page 4
        // (merged before copy 2 left the domain), and merging into it would join copy 1 with domain 9; copy 2's page
        // 3 is in another domain
        assertEquals(1, cache.mergeResident(), "copy 1's page 3 merges again");
        assertEquals(0, cache.mergeResident(), "a second pass finds nothing new");
        assertEquals(2L * PAGES - 2, cache.stats().mergedPages());
        for (final long file : files)
        {
            assertArrayEquals(image, plain.read(cache, file));
        }
        assertArrayEquals(image, plain.onDevice(files[1]));
    }

    /** Invalidating one alias, the merged frame's own block, or writing that block: the other copies lose nothing. */
    @Test
    void oneBlockLeavingAMergedFrameDisturbsNoOther() throws IOException
    {
        final byte[] image = plain.image(9);
        final long[] files = plain.copies(image, 4);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(256).mergeIdenticalPages(true).build());
        for (final long file : files)
        {
            plain.read(cache, file);
        }
        final org.extentcache.translate.Extent extent = new org.extentcache.translate.Extent();
        store.translate(files[1], 5, extent);
        final long aliasBlock = extent.blockOf(5);
        store.translate(files[0], 6, extent);
        final long ownBlock = extent.blockOf(6);

        final long before = cache.stats().deviceReads();
        cache.frames().invalidate(aliasBlock);   // copy 1's page 5: an alias of copy 0's frame
        cache.frames().invalidate(ownBlock);     // copy 0's page 6: the block copies 1 to 3 alias
        cache.file(files[0]).write(7L * PAGE + 1, ByteBuffer.wrap(new byte[]{42})); // copy 0's page 7, written
        assertEquals(3, cache.frames().rehomes(), "each time the other blocks moved to a copy of the frame");
        for (final int file : new int[]{2, 3})
        {
            assertArrayEquals(image, plain.read(cache, files[file]), "copy " + file);
        }
        assertEquals(before, cache.stats().deviceReads(), "the untouched copies were served from memory");
        assertArrayEquals(image, plain.read(cache, files[1]));
        assertEquals(before + 1, cache.stats().deviceReads(), "copy 1 read its invalidated page again, only that");
        final byte[] written = image.clone();
        written[7 * PAGE + 1] = 42;
        assertArrayEquals(written, plain.read(cache, files[0]));
        assertEquals(before + 2, cache.stats().deviceReads(), "copy 0 read its invalidated page 6 again");
    }

    @Test
    void domainsKeepFilesApart() throws IOException
    {
        final byte[] image = plain.image(4);
        final long[] files = plain.copies(image, 4);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(256).mergeIdenticalPages(true).build());
        cache.mergeDomain(files[1], 7);
        cache.mergeDomain(files[2], 7);
        cache.mergeDomain(files[3], ExtentCache.NO_MERGE_DOMAIN);
        for (final long file : files)
        {
            assertArrayEquals(image, plain.read(cache, file));
        }
        assertEquals(PAGES, cache.stats().mergedPages(), "only the two files of domain 7 merged");
        assertEquals(3 * PAGES, cache.stats().framesResident());
        assertThrows(IllegalArgumentException.class, () -> cache.mergeDomain(files[0], -2));
    }

    @Test
    void aHashThatAlwaysCollidesNeverMergesDifferentBytes() throws IOException
    {
        final byte[] a = plain.image(5);
        final byte[] b = plain.image(6);
        final long[] as = plain.copies(a, 2);
        final long[] bs = plain.copies(b, 2);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(256).mergeHash((address, length) -> 42).build());
        for (final long file : new long[]{as[0], bs[0], as[1], bs[1]})
        {
            plain.read(cache, file);
        }
        assertArrayEquals(a, plain.read(cache, as[1]));
        assertArrayEquals(b, plain.read(cache, bs[1]));
        assertArrayEquals(a, plain.read(cache, as[0]));
        assertArrayEquals(b, plain.read(cache, bs[0]));
        assertTrue(cache.stats().mergeMismatches() > 0, "the colliding hash made candidates that differed");
    }

    @Test
    void deletingACopyAndReclaimLeaveTheOthersIntact() throws IOException
    {
        final long seed = Long.getLong("extentcache.seed", System.nanoTime());
        final SplittableRandom random = new SplittableRandom(seed);
        final byte[] image = plain.image(7);
        final long[] files = plain.copies(image, 5);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(24).mergeIdenticalPages(true).build());
        final ByteBuffer page = ByteBuffer.allocate(PAGE);
        for (int op = 0; op < 5_000; op++)
        {
            final int which = random.nextInt(files.length);
            final int p = random.nextInt(PAGES);
            if (op == 2_000)
            {
                store.delete(files[0]);
                files[0] = store.create();
                store.write(files[0], 0, ByteBuffer.wrap(image));
            }
            page.clear();
            cache.file(files[which]).read((long)p * PAGE, page);
            assertArrayEquals(Arrays.copyOfRange(image, p * PAGE, (p + 1) * PAGE), page.array(),
                "seed=" + seed + " op=" + op + " file " + which + " page " + p);
        }
        assertTrue(cache.stats().merges() > 0, "seed=" + seed);
    }
}
