package org.extentcache;

import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.Extent;
import org.extentcache.translate.TranslationListener;
import org.extentcache.translate.Translator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Handle validation and pins against reclaim and invalidation, as strictly as a stress test can put it: every
 * device block holds its own number in every word, a translator remaps the file's pages and drops blocks from the
 * cache all the time, and the cache holds a quarter of the pages. A reader must only ever get, for a page, a block
 * that page mapped at some instant during the read; a pinner must also see its page unchanged until it unpins.
 */
class HandleValidationStressTest
{
    private static final int PAGE = 4096;
    private static final int PAGES = 64;
    private static final int BLOCKS = 256;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    /** One mapping of a page: the block and the clock interval in which a reader may see it. */
    private static final class Mapping
    {
        final long block;
        final long from;
        volatile long to = Long.MAX_VALUE;

        Mapping(final long block, final long from)
        {
            this.block = block;
            this.from = from;
        }
    }

    /** File 1 of {@link #PAGES} pages over {@link #BLOCKS} blocks; {@link #remap} moves one page to another block. */
    private static final class RemappingTranslator implements Translator
    {
        private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
        private final List<TranslationListener> listeners = new CopyOnWriteArrayList<>();
        private final long[] blocks = new long[PAGES];
        private final List<List<Mapping>> history = new ArrayList<>();
        private final AtomicLong clock = new AtomicLong();

        RemappingTranslator()
        {
            for (int p = 0; p < PAGES; p++)
            {
                blocks[p] = p;
                final List<Mapping> versions = new ArrayList<>();
                versions.add(new Mapping(p, 0));
                history.add(versions);
            }
        }

        @Override
        public int pageSize()
        {
            return PAGE;
        }

        @Override
        public long size(final long file)
        {
            return (long)PAGES * PAGE;
        }

        @Override
        public void translate(final long file, final long page, final Extent extent)
        {
            lock.readLock().lock();
            try
            {
                if (page >= PAGES)
                {
                    extent.set(page, 1, Extent.HOLE, false);
                }
                else
                {
                    extent.set(page, 1, blocks[(int)page], false);
                }
            }
            finally
            {
                lock.readLock().unlock();
            }
        }

        void remap(final int page, final long block, final boolean invalidateOld)
        {
            final List<Mapping> versions = history.get(page);
            final Mapping old;
            synchronized (versions)
            {
                old = versions.get(versions.size() - 1);
                versions.add(new Mapping(block, clock.incrementAndGet()));
            }
            lock.writeLock().lock();
            try
            {
                blocks[page] = block;
                for (final TranslationListener listener : listeners)
                {
                    listener.pagesChanged(1, page, 1, (long)PAGES * PAGE);
                    if (invalidateOld)
                    {
                        listener.blocksInvalidated(old.block, 1);
                    }
                }
            }
            finally
            {
                lock.writeLock().unlock();
            }
            old.to = clock.incrementAndGet();
        }

        void check(final int page, final long block, final long before, final long after)
        {
            final List<Mapping> versions = history.get(page);
            synchronized (versions)
            {
                for (final Mapping m : versions)
                {
                    if (m.block == block && m.from <= after && m.to >= before)
                    {
                        return;
                    }
                }
            }
            throw new AssertionError("page " + page + " served block " + block + " during clock [" + before + ", " +
                after + "], which it did not map then");
        }

        @Override
        public void addListener(final TranslationListener listener)
        {
            listeners.add(listener);
        }

        @Override
        public void removeListener(final TranslationListener listener)
        {
            listeners.remove(listener);
        }
    }

    @Test
    void aReaderNeverSeesABlockItsPageDidNotMap() throws Exception
    {
        final long seed = Long.getLong("extentcache.seed", System.nanoTime());
        final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, BLOCKS);
        for (long b = 0; b < BLOCKS; b++)
        {
            device.write(b, TestPages.stamped(b));
        }
        final RemappingTranslator translator = new RemappingTranslator();
        final ExtentCache cache = books.track(
            ExtentCache.builder().device(device).translator(translator).capacityFrames(PAGES / 4).build());
        final CachedFile file = cache.file(1);
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(
            Long.getLong("extentcache.stressMillis", 3000));
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final AtomicLong checked = new AtomicLong();

        final Thread remapper = new Thread(() ->
        {
            final SplittableRandom random = new SplittableRandom(seed);
            try
            {
                while (System.nanoTime() < deadline && null == failure.get())
                {
                    translator.remap(random.nextInt(PAGES), random.nextInt(BLOCKS), random.nextInt(3) == 0);
                    Thread.sleep(0, 50_000);
                }
            }
            catch (final Throwable ex)
            {
                failure.compareAndSet(null, ex);
            }
        }, "remapper");
        final List<Thread> threads = new ArrayList<>(List.of(remapper));
        for (int r = 0; r < 2; r++)
        {
            final int id = r;
            threads.add(new Thread(() ->
            {
                final SplittableRandom random = new SplittableRandom(seed + 1 + id);
                final ByteBuffer dst = ByteBuffer.allocateDirect(PAGE);
                final PinnedPage pinned = new PinnedPage();
                try
                {
                    while (System.nanoTime() < deadline && null == failure.get())
                    {
                        final int page = random.nextInt(PAGES);
                        final long before = translator.clock.get();
                        if (0 == id)
                        {
                            file.read((long)page * PAGE, dst.clear());
                            final long block = TestPages.stampOf(dst, 0, Integer.toString(page));
                            translator.check(page, block, before, translator.clock.get());
                        }
                        else
                        {
                            assertTrue(file.pin((long)page * PAGE, pinned));
                            try
                            {
                                final long block = TestPages.stampOf(pinned.byteBuffer(), 0, "pinned " + page);
                                translator.check(page, block, before, translator.clock.get());
                                for (int i = 0; i < 20; i++)
                                {
                                    file.read((long)random.nextInt(PAGES) * PAGE, dst.clear());
                                }
                                assertEquals(block, TestPages.stampOf(pinned.byteBuffer(), 0, "pinned " + page), "pinned page changed");
                            }
                            finally
                            {
                                pinned.close();
                            }
                        }
                        checked.incrementAndGet();
                    }
                }
                catch (final Throwable ex)
                {
                    failure.compareAndSet(null, ex);
                }
            }, "reader-" + r));
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
        assertTrue(checked.get() > 1000, "reads checked: " + checked.get());
        final CacheStats stats = cache.stats();
        assertTrue(stats.reclaims() > 0 && stats.invalidations() > 0, stats.toString());
    }
}
