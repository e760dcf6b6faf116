package org.extentcache;

import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Review of content merging (issue 13): races and paths the first tests did not reach. Each test names the finding it
 * proves.
 */
class MergeReviewTest
{
    private static final int PAGE = 4096;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    private final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 256);
    private final ExtentStore store = new ExtentStore(device);

    /**
     * A reader that made (or found) an alias installs the merged frame's handle after the file's own writer broke
     * the alias with a write of the same page: the write only unaliased the block, so the merged frame stays valid,
     * and the reader's late install made every later read of the page serve the bytes from before the write. The
     * reader is held at the install by the mapping's monitor (which {@code installIfVersion} takes and the writer's
     * install does not).
     */
    @Test
    void aReadRacingAWriteThatBreaksAnAliasDoesNotBringTheOldBytesBack() throws Exception
    {
        final byte[] old = page(1);
        final long first = store.create();
        store.write(first, 0, ByteBuffer.wrap(old));
        final long second = store.create();
        store.write(second, 0, ByteBuffer.wrap(old));
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(16).mergeIdenticalPages(true).build());
        assertArrayEquals(old, read(cache, first), "the first copy's frame is the merge candidate");

        final CachedFile file = cache.file(second);
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final byte[] seen = new byte[PAGE];
        final Thread reader;
        synchronized (file.mapping())
        {
            reader = new Thread(() ->
            {
                try
                {
                    file.read(0, ByteBuffer.wrap(seen));
                }
                catch (final Throwable ex)
                {
                    failure.set(ex);
                }
            });
            reader.start();
            while (reader.getState() != Thread.State.BLOCKED && reader.isAlive())
            {
                Thread.onSpinWait(); // the reader merged the page and waits to install its handle
            }
            assertEquals(1L, cache.stats().merges(), "the reader merged the second copy's page");
            file.write(0, ByteBuffer.wrap(page(2)));
        }
        reader.join();
        assertEquals(null, failure.get());
        assertTrue(Arrays.equals(old, seen) || Arrays.equals(page(2), seen), "the racing read saw the page before or "
            + "after the write");
        assertArrayEquals(page(2), read(cache, second), "a read after the write sees the write");
        cache.flush();
    }

    /**
     * The content hash (or a comparison, or the tables) throwing in the middle of a merge left the loaded frame
     * pinned for good: the read failed, the frame could never be reclaimed, and the books found a pin held. Every pin
     * a merge takes is released on every path.
     */
    @Test
    void aMergeThatThrowsReleasesItsPins() throws Exception
    {
        final byte[] old = page(3);
        final long first = store.create();
        store.write(first, 0, ByteBuffer.wrap(old));
        final long second = store.create();
        store.write(second, 0, ByteBuffer.wrap(old));
        final java.util.concurrent.atomic.AtomicInteger hashes = new java.util.concurrent.atomic.AtomicInteger();
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(16).mergeHash((address, length) ->
            {
                if (hashes.incrementAndGet() == 2)
                {
                    throw new IllegalStateException("hash failed");
                }
                return 42;
            }).build());
        assertArrayEquals(old, read(cache, first));
        final IllegalStateException thrown = assertThrows(IllegalStateException.class, () -> read(cache, second));
        assertEquals("hash failed", thrown.getMessage());
        assertEquals(0, cache.frames().pins.pinnedFrames(), "no pin left behind by the failed merge");
        assertArrayEquals(old, read(cache, second), "the loaded frame serves the next read, unmerged");
    }

    /**
     * Writers (each owning two of the copies) write pages back and forth between the image's bytes and stamps of
     * their own, flush now and then, and read each page back at once; readers read every copy, and check the copies
     * nobody writes. The
     * cache is small, so merged frames are reclaimed and merged again all the time. Every read-back sees the write
     * before it, every reader sees the image, and the books add up.
     */
    @Test
    void writersReadersAndReclaimOverMergedCopies() throws Exception
    {
        final long seed = Long.getLong("extentcache.seed", System.nanoTime());
        System.out.println("writersReadersAndReclaimOverMergedCopies seed=" + seed);
        final int pages = 16;
        final byte[] image = new byte[pages * PAGE];
        new SplittableRandom(seed).nextBytes(image);
        final long[] files = new long[6];
        for (int i = 0; i < files.length; i++)
        {
            files[i] = store.create();
            store.write(files[i], 0, ByteBuffer.wrap(image));
        }
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(24).mergeIdenticalPages(true).build());
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(6);
        final Thread[] threads = new Thread[4];
        for (int t = 0; t < threads.length; t++)
        {
            final int id = t;
            threads[t] = new Thread(() ->
            {
                final SplittableRandom random = new SplittableRandom(seed + id);
                final ByteBuffer buffer = ByteBuffer.allocate(PAGE);
                final byte[][][] model = new byte[2][pages][];
                try
                {
                    for (int op = 0; System.nanoTime() < deadline && null == failure.get(); op++)
                    {
                        if (id < 2)
                        {
                            final int owned = random.nextInt(2);
                            final long file = files[id * 2 + owned];
                            final int page = random.nextInt(pages);
                            final byte[] bytes = random.nextBoolean() ?
                                Arrays.copyOfRange(image, page * PAGE, (page + 1) * PAGE) : page(op * 8 + id);
                            cache.file(file).write((long)page * PAGE, ByteBuffer.wrap(bytes));
                            model[owned][page] = bytes;
                            if (random.nextInt(16) == 0)
                            {
                                cache.file(file).flush();
                            }
                            final int check = random.nextInt(pages);
                            buffer.clear();
                            cache.file(file).read((long)check * PAGE, buffer);
                            final byte[] expected = null == model[owned][check] ?
                                Arrays.copyOfRange(image, check * PAGE, (check + 1) * PAGE) : model[owned][check];
                            assertArrayEquals(expected, buffer.array(), "seed=" + seed + " writer " + id + " op " +
                                op + " page " + check);
                        }
                        else
                        {
                            final int which = random.nextInt(files.length);
                            final int page = random.nextInt(pages);
                            buffer.clear();
                            cache.file(files[which]).read((long)page * PAGE, buffer);
                            if (which < 4)
                            {
                                continue; // a copy the writers change: any of its recent bytes
                            }
                            assertArrayEquals(Arrays.copyOfRange(image, page * PAGE, (page + 1) * PAGE),
                                buffer.array(), "seed=" + seed + " reader " + id + " op " + op + " page " + page);
                        }
                    }
                }
                catch (final Throwable ex)
                {
                    failure.compareAndSet(null, ex);
                }
            });
            threads[t].start();
        }
        for (final Thread thread : threads)
        {
            thread.join();
        }
        if (null != failure.get())
        {
            throw new AssertionError("seed=" + seed, failure.get());
        }
        cache.flush();
        assertTrue(cache.stats().merges() > 0, "seed=" + seed);
    }

    /**
     * A file moved to a domain of its own kept its cached pages as merge candidates of the domain it left: a file of
     * that old domain reading the same bytes afterwards merged into them (and a write of it would then be slower:
     * the side channel domains exist to close). Moving a file open in the cache forgets the candidates.
     */
    @Test
    void aFileMovedToAnotherDomainIsNoCandidateOfTheOldOne() throws Exception
    {
        final byte[] secret = page(4);
        final long victim = store.create();
        store.write(victim, 0, ByteBuffer.wrap(secret));
        final long prober = store.create();
        store.write(prober, 0, ByteBuffer.wrap(secret));
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(16).mergeIdenticalPages(true).build());
        assertArrayEquals(secret, read(cache, victim));
        cache.mergeDomain(victim, 5);
        assertArrayEquals(secret, read(cache, prober));
        assertEquals(0L, cache.stats().merges(), "the prober's page did not merge with the victim's");
        assertEquals(0L, cache.stats().mergedPages());
    }

    private static byte[] page(final int seed)
    {
        final byte[] bytes = new byte[PAGE];
        new SplittableRandom(seed).nextBytes(bytes);
        return bytes;
    }

    private static byte[] read(final ExtentCache cache, final long file) throws IOException
    {
        final ByteBuffer dst = ByteBuffer.allocate(PAGE);
        cache.file(file).read(0, dst);
        return Arrays.copyOf(dst.array(), PAGE);
    }
}
