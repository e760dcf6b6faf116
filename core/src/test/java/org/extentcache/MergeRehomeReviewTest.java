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
class MergeRehomeReviewTest
{
    private static final int PAGE = 4096;
    private static final int PAGES = 8;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    private final PlainCopies plain = new PlainCopies(PAGES);
    private final MemoryBlockDevice device = plain.device;
    private final ExtentStore store = plain.store;

    /**
     * A merged frame serving files of two domains (one file moved to another domain after it merged) must not be
     * offered as a candidate to either: mergeResident would merge a third file of the new domain into a frame that a
     * file of the old domain holds, which merging at load time never does.
     */
    @Test
    void mergeResidentDoesNotJoinDomainsThroughAFrameThatServesTwo() throws IOException
    {
        final byte[] image = plain.image(11);
        final long[] files = plain.copies(image, 3);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(64).mergeIdenticalPages(true).build());
        plain.read(cache, files[1]);        // owns the frames
        plain.read(cache, files[0]);        // aliases them
        assertEquals(PAGES, cache.stats().mergedPages());
        cache.mergeDomain(files[0], 9); // moves away; its pages stay merged with files[1] (domain 0)
        cache.mergeDomain(files[2], 9);
        assertArrayEquals(image, plain.read(cache, files[2]));
        assertEquals(2 * PAGES, cache.stats().framesResident(), "no merge across domains at load");
        assertEquals(0, cache.mergeResident(),
            "domain 9's file must not merge into frames that domain 0's file holds");
        assertEquals(2 * PAGES, cache.stats().framesResident());
    }

    /**
     * Re-homes under load: readers (copies and pins), writers putting back the bytes a page holds (a copy-on-write of
     * a merged frame, which re-homes it when the written block is the one it is indexed under), invalidations of
     * aliases and own blocks, mergeResident passes and a cache small enough that each re-home's claim reclaims. Every
     * read sees the image; the books (aliases included) balance afterwards.
     */
    @Test
    void reHomesUnderLoadServeOnlyTheImage() throws Exception
    {
        final long seed = Long.getLong("extentcache.seed", System.nanoTime());
        System.out.println("MergeRehomeReviewTest.reHomesUnderLoadServeOnlyTheImage seed=" + seed);
        final byte[] image = plain.image(12);
        final long[] files = plain.copies(image, 5);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(24).mergeIdenticalPages(true).build());
        final java.util.concurrent.atomic.AtomicReference<Throwable> failure =
            new java.util.concurrent.atomic.AtomicReference<>();
        final int threads = 5;
        final Thread[] workers = new Thread[threads];
        for (int t = 0; t < threads; t++)
        {
            final int role = t;
            final SplittableRandom random = new SplittableRandom(seed + t);
            workers[t] = new Thread(() ->
            {
                final ByteBuffer page = ByteBuffer.allocate(PAGE);
                final org.extentcache.translate.Extent extent = new org.extentcache.translate.Extent();
                try
                {
                    for (int op = 0; op < 3_000 && null == failure.get(); op++)
                    {
                        final int which = random.nextInt(files.length);
                        final int p = random.nextInt(PAGES);
                        final byte[] expected = java.util.Arrays.copyOfRange(image, p * PAGE, (p + 1) * PAGE);
                        final CachedFile file = cache.file(files[which]);
                        switch (role == 0 ? random.nextInt(3) : role == 1 ? 3 + random.nextInt(3) : random.nextInt(6))
                        {
                            case 0 -> file.write((long)p * PAGE, ByteBuffer.wrap(expected));
                            case 1 ->
                            {
                                store.translate(files[which], p, extent);
                                cache.frames().invalidate(extent.blockOf(p));
                            }
                            case 2 ->
                            {
                                if (random.nextInt(50) == 0)
                                {
                                    cache.flush();
                                    cache.mergeResident();
                                }
                            }
                            case 3, 4 ->
                            {
                                try (PinnedPage pinned = file.pin((long)p * PAGE))
                                {
                                    final byte[] bytes = new byte[PAGE];
                                    pinned.buffer().getBytes(0, bytes);
                                    assertArrayEquals(expected, bytes, "seed=" + seed + " pin file " + which +
                                        " page " + p);
                                }
                            }
                            default ->
                            {
                                page.clear();
                                file.read((long)p * PAGE, page);
                                assertArrayEquals(expected, page.array(), "seed=" + seed + " op=" + op + " file " +
                                    which + " page " + p);
                            }
                        }
                    }
                }
                catch (final Throwable ex)
                {
                    failure.compareAndSet(null, ex);
                }
            });
            workers[t].start();
        }
        for (final Thread worker : workers)
        {
            worker.join();
        }
        if (null != failure.get())
        {
            throw new AssertionError("seed=" + seed, failure.get());
        }
        cache.flush();
        for (final long file : files)
        {
            assertArrayEquals(image, plain.read(cache, file), "seed=" + seed);
        }
        System.out.println("rehomes=" + cache.frames().rehomes() + " merges=" + cache.stats().merges());
    }

    /**
     * After a re-home the copy holds the merged bytes: a later load of the same bytes in the domain merges into it,
     * as it would have into the frame the copy replaced, instead of taking a frame of its own.
     */
    @Test
    void aReHomedCopyStaysAMergeCandidate() throws IOException
    {
        final byte[] image = plain.image(13);
        final long[] files = plain.copies(image, 4);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(64).mergeIdenticalPages(true).build());
        for (int i = 0; i < 3; i++)
        {
            plain.read(cache, files[i]);
        }
        final org.extentcache.translate.Extent extent = new org.extentcache.translate.Extent();
        store.translate(files[0], 2, extent);
        cache.frames().invalidate(extent.blockOf(2)); // copy 0's page 2: copies 1 and 2 move to a copy of the frame
        assertEquals(1, cache.frames().rehomes());
        assertEquals(PAGES, cache.stats().framesResident());
        assertArrayEquals(image, plain.read(cache, files[3]));
        assertEquals(PAGES, cache.stats().framesResident(), "copy 3's page 2 merged into the re-homed copy");
    }
}
