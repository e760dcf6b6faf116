package org.extentcache;

import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Like xfstests generic/164: readers loop over a range of a file while a writer rewrites its pages in place and
 * through copy-on-write, and a cloner clones ranges of another file over it, all with whole-page patterns. Every
 * page a reader copies, and every page it pins, must be entirely one pattern; a pinned page must not change while
 * pinned. The cache is smaller than the data, so reclaim runs throughout.
 */
class TornReadStressTest
{
    private static final int PAGE = 4096;
    private static final int PAGES = 24;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    @Test
    void everyPageReadIsOnePattern() throws Exception
    {
        final long seed = Long.getLong("extentcache.seed", System.nanoTime());
        final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 8192);
        final ExtentStore store = new ExtentStore(device);
        final ExtentCache cache = books.track(
            ExtentCache.builder().device(device).translator(store).capacityFrames(32).build());
        final long target = store.create();
        final long source = store.create();
        final AtomicLong patterns = new AtomicLong();
        for (int p = 0; p < PAGES; p++)
        {
            store.write(target, (long)p * PAGE, TestPages.stamped(patterns.incrementAndGet()));
            store.write(source, (long)p * PAGE, TestPages.stamped(patterns.incrementAndGet()));
        }
        final CachedFile file = cache.file(target);
        final CachedFile other = cache.file(source);
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(
            Long.getLong("extentcache.stressMillis", 3000));
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final AtomicLong pagesChecked = new AtomicLong();
        final List<Thread> threads = new ArrayList<>();

        threads.add(worker("writer", failure, () ->
        {
            final SplittableRandom random = new SplittableRandom(seed);
            while (System.nanoTime() < deadline && null == failure.get())
            {
                final CachedFile into = random.nextInt(4) == 0 ? other : file;
                into.write((long)random.nextInt(PAGES) * PAGE, TestPages.stamped(patterns.incrementAndGet()));
            }
        }));
        threads.add(worker("cloner", failure, () ->
        {
            final SplittableRandom random = new SplittableRandom(seed + 1);
            while (System.nanoTime() < deadline && null == failure.get())
            {
                final int from = random.nextInt(PAGES - 4);
                final int to = random.nextInt(PAGES - 4);
                store.cloneRange(source, (long)from * PAGE, target, (long)to * PAGE, 4L * PAGE);
                Thread.sleep(0, 200_000);
            }
        }));
        for (int r = 0; r < 2; r++)
        {
            final int id = r;
            threads.add(worker("reader-" + r, failure, () ->
            {
                final SplittableRandom random = new SplittableRandom(seed + 2 + id);
                final ByteBuffer dst = ByteBuffer.allocateDirect(4 * PAGE);
                final PinnedPage pinned = new PinnedPage();
                while (System.nanoTime() < deadline && null == failure.get())
                {
                    final int page = random.nextInt(PAGES - 4);
                    if (random.nextInt(8) == 0)
                    {
                        assertTrue(file.pin((long)page * PAGE, pinned));
                        try
                        {
                            final long first = TestPages.stampOf(pinned.byteBuffer(), 0, "pinned " + page);
                            Thread.yield();
                            assertEquals(first, TestPages.stampOf(pinned.byteBuffer(), 0, "pinned " + page),
                                "a pinned page changed while pinned");
                        }
                        finally
                        {
                            pinned.close();
                        }
                    }
                    else
                    {
                        file.read((long)page * PAGE, dst.clear());
                        for (int i = 0; i < 4; i++)
                        {
                            TestPages.stampOf(dst, i * PAGE, Integer.toString(page + i));
                        }
                    }
                    pagesChecked.incrementAndGet();
                }
            }));
        }
        threads.forEach(Thread::start);
        for (final Thread thread : threads)
        {
            thread.join();
        }
        if (null != failure.get())
        {
            throw new AssertionError("seed=" + seed + " (replay with -Dextentcache.seed=" + seed + "): " +
                failure.get(), failure.get());
        }
        assertTrue(pagesChecked.get() > 1000, "pages checked: " + pagesChecked.get());
        final CacheStats stats = cache.stats();
        assertTrue(stats.copyOnWrites() > 0 && stats.reclaims() > 0, stats.toString());
        cache.flush();
    }

    private interface Body
    {
        void run() throws Exception;
    }

    private static Thread worker(final String name, final AtomicReference<Throwable> failure, final Body body)
    {
        return new Thread(() ->
        {
            try
            {
                body.run();
            }
            catch (final Throwable ex)
            {
                failure.compareAndSet(null, ex);
            }
        }, name);
    }
}
