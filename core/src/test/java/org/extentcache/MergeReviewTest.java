package org.extentcache;

import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Review of re-homing merged frames and of {@link ExtentCache#mergeResident()}: what a merge domain promises after a
 * file changes domain, and what the books say after re-homes under load.
 */
class MergeReviewTest
{
    private static final int PAGE = 4096;
    private static final int PAGES = 8;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    private final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 1024);
    private final ExtentStore store = new ExtentStore(device);

    /**
     * A merged frame serving files of two domains (one file moved to another domain after it merged) must not be
     * offered as a candidate to either: mergeResident would merge a third file of the new domain into a frame that a
     * file of the old domain holds, which merging at load time never does.
     */
    @Test
    void mergeResidentDoesNotJoinDomainsThroughAFrameThatServesTwo() throws IOException
    {
        final byte[] image = image(11);
        final long[] files = copies(image, 3);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(64).mergeIdenticalPages(true).build());
        read(cache, files[1]);        // owns the frames
        read(cache, files[0]);        // aliases them
        assertEquals(PAGES, cache.stats().mergedPages());
        cache.mergeDomain(files[0], 9); // moves away; its pages stay merged with files[1] (domain 0)
        cache.mergeDomain(files[2], 9);
        assertArrayEquals(image, read(cache, files[2]));
        assertEquals(2 * PAGES, cache.stats().framesResident(), "no merge across domains at load");
        assertEquals(0, cache.mergeResident(),
            "domain 9's file must not merge into frames that domain 0's file holds");
        assertEquals(2 * PAGES, cache.stats().framesResident());
    }

    private long[] copies(final byte[] image, final int count) throws IOException
    {
        final long[] files = new long[count];
        for (int i = 0; i < count; i++)
        {
            files[i] = store.create();
            store.write(files[i], 0, ByteBuffer.wrap(image));
        }
        return files;
    }

    private static byte[] image(final int seed)
    {
        final byte[] bytes = new byte[PAGES * PAGE];
        new SplittableRandom(seed).nextBytes(bytes);
        return bytes;
    }

    private static byte[] read(final ExtentCache cache, final long file) throws IOException
    {
        final ByteBuffer dst = ByteBuffer.allocate(PAGES * PAGE);
        while (dst.hasRemaining())
        {
            cache.file(file).read(dst.position(), dst);
        }
        return dst.array();
    }
}
