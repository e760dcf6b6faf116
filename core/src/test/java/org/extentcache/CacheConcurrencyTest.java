package org.extentcache;

import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Readers race a thread that clones, clones ranges over, rewrites and deletes files underneath them, through a
 * cache smaller than the data. Every page read must be one whole page version (no torn page) that the file held at
 * some instant during the read: never bytes of another block, never a version retired before the read began.
 *
 * <p>Each page version is a unique 8-byte stamp repeated over the page. The mutator records, per file page, when
 * each version may first be seen (a tick taken, and the version published, before the change starts) and when it
 * was last visible (a tick after the change that replaced it returned); a reader notes the clock before and after
 * its read and accepts a version whose interval overlaps its own.
 */
class CacheConcurrencyTest
{
    private static final int PAGE = 4096;
    private static final int PAGES = 48;
    private static final long ZEROS = 0;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    /** One version of one page: its stamp and the clock interval in which it may be read. */
    private static final class Version
    {
        final long stamp;
        final long from;
        volatile long to = Long.MAX_VALUE;

        Version(final long stamp, final long from)
        {
            this.stamp = stamp;
            this.from = from;
        }
    }

    private final AtomicLong clock = new AtomicLong();
    private final Map<Long, List<List<Version>>> history = new ConcurrentHashMap<>();
    private final List<Long> files = new CopyOnWriteArrayList<>();
    private long nextStamp = 1;

    @Test
    void readersSeeOnlyWholePageVersionsTheFileHeldDuringTheRead() throws Exception
    {
        final long seed = Long.getLong("extentcache.seed", System.nanoTime());
        final long millis = Long.getLong("extentcache.stressMillis", 4000);
        final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 16 * PAGES * 8);
        final ExtentStore store = new ExtentStore(device);
        final ExtentCache cache = books.track(
            ExtentCache.builder().device(device).translator(store).capacityFrames(40).build());

        final long base = store.create();
        newFile(base);
        for (int p = 0; p < PAGES; p++)
        {
            writePage(store, base, p);
        }
        for (int c = 0; c < 3; c++)
        {
            cloneFile(store, base);
        }

        final ByteBuffer whole = ByteBuffer.allocate(PAGES * PAGE);
        cache.file(base).read(0, whole);  // more pages than frames: the sweep runs however slow the machine

        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final long deadline = System.nanoTime() + millis * 1_000_000;
        final AtomicLong pagesChecked = new AtomicLong();
        final List<Thread> threads = new ArrayList<>();
        for (int r = 0; r < 3; r++)
        {
            final SplittableRandom random = new SplittableRandom(seed + r + 1);
            threads.add(new Thread(() -> read(cache, random, deadline, failure, pagesChecked), "reader-" + r));
        }
        final SplittableRandom mutations = new SplittableRandom(seed);
        threads.add(new Thread(() -> mutate(store, mutations, deadline, failure), "mutator"));
        threads.forEach(Thread::start);
        for (final Thread thread : threads)
        {
            thread.join();
        }
        if (null != failure.get())
        {
            throw new AssertionError("seed=" + seed + " (replay with -Dextentcache.seed=" + seed + "): " +
                failure.get().getMessage(), failure.get());
        }
        assertTrue(pagesChecked.get() > 1000, "pages checked: " + pagesChecked.get());
        final CacheStats stats = cache.stats();
        assertTrue(stats.reclaims() > 0 && stats.invalidations() > 0, stats.toString());
    }

    private void read(final ExtentCache cache, final SplittableRandom random, final long deadline,
        final AtomicReference<Throwable> failure, final AtomicLong pagesChecked)
    {
        final ByteBuffer dst = ByteBuffer.allocateDirect(2 * PAGE);
        try
        {
            while (System.nanoTime() < deadline && null == failure.get())
            {
                final Long[] live = files.toArray(new Long[0]);
                final long file = live[random.nextInt(live.length)];
                final int page = random.nextInt(PAGES - 1);
                final int pages = 1 + random.nextInt(2);
                dst.clear().limit(pages * PAGE);
                final long before = clock.get();
                try
                {
                    cache.file(file).read((long)page * PAGE, dst);
                }
                catch (final NoSuchFileException deleted)
                {
                    continue;
                }
                final long after = clock.get();
                for (int i = 0; i < dst.position() / PAGE; i++)
                {
                    check(file, page + i, dst, i * PAGE, before, after);
                    pagesChecked.incrementAndGet();
                }
            }
        }
        catch (final Throwable ex)
        {
            failure.compareAndSet(null, ex);
        }
    }

    private void check(final long file, final int page, final ByteBuffer dst, final int offset, final long before,
        final long after)
    {
        final long stamp = TestPages.stampOf(dst, offset, page + " of file " + file);
        final List<Version> versions = history.get(file).get(page);
        synchronized (versions)
        {
            for (final Version v : versions)
            {
                if (v.stamp == stamp && v.from <= after && v.to >= before)
                {
                    return;
                }
            }
            throw new AssertionError("file " + file + " page " + page + " read stamp " + stamp + " during clock [" +
                before + ", " + after + "], which it never held then; history " + describe(versions));
        }
    }

    private void mutate(final ExtentStore store, final SplittableRandom random, final long deadline,
        final AtomicReference<Throwable> failure)
    {
        try
        {
            while (System.nanoTime() < deadline && null == failure.get())
            {
                final int choice = random.nextInt(10);
                final long file = files.get(random.nextInt(files.size()));
                if (choice < 3 && files.size() < 8)
                {
                    cloneFile(store, file);
                }
                else if (choice < 5 && files.size() > 2)
                {
                    files.remove(Long.valueOf(file));
                    store.delete(file);
                    retireAll(file, clock.incrementAndGet());
                }
                else if (choice < 8)
                {
                    final long src = files.get(random.nextInt(files.size()));
                    final int srcPage = random.nextInt(PAGES - 4);
                    int dstPage = random.nextInt(PAGES - 4);
                    if (src == file && Math.abs(srcPage - dstPage) < 4)
                    {
                        continue;
                    }
                    cloneRange(store, src, srcPage, file, dstPage, 4);
                }
                else
                {
                    writePage(store, file, random.nextInt(PAGES));
                }
            }
        }
        catch (final Throwable ex)
        {
            failure.compareAndSet(null, ex);
        }
    }

    private void newFile(final long file)
    {
        final List<List<Version>> pages = new ArrayList<>();
        for (int p = 0; p < PAGES; p++)
        {
            final List<Version> versions = new ArrayList<>();
            versions.add(new Version(ZEROS, 0));
            pages.add(versions);
        }
        history.put(file, pages);
        files.add(file);
    }

    private void writePage(final ExtentStore store, final long file, final int page) throws IOException
    {
        final long stamp = nextStamp++;
        final ByteBuffer data = TestPages.stamped(stamp);
        final Version replaced = begin(file, page, stamp, clock.incrementAndGet());
        store.write(file, (long)page * PAGE, data);
        replaced.to = clock.incrementAndGet();
    }

    private void cloneFile(final ExtentStore store, final long src) throws IOException
    {
        final long clone = store.cloneFile(src);
        final List<List<Version>> pages = new ArrayList<>();
        final List<List<Version>> from = history.get(src);
        final long tick = clock.incrementAndGet();
        for (int p = 0; p < PAGES; p++)
        {
            final List<Version> versions = new ArrayList<>();
            versions.add(new Version(current(from.get(p)), tick));
            pages.add(versions);
        }
        history.put(clone, pages);
        files.add(clone);
    }

    private void cloneRange(final ExtentStore store, final long src, final int srcPage, final long dst,
        final int dstPage, final int pages) throws IOException
    {
        final long[] stamps = new long[pages];
        for (int i = 0; i < pages; i++)
        {
            stamps[i] = current(history.get(src).get(srcPage + i));
        }
        final long from = clock.incrementAndGet();
        final Version[] replaced = new Version[pages];
        for (int i = 0; i < pages; i++)
        {
            replaced[i] = begin(dst, dstPage + i, stamps[i], from);
        }
        store.cloneRange(src, (long)srcPage * PAGE, dst, (long)dstPage * PAGE, (long)pages * PAGE);
        final long to = clock.incrementAndGet();
        for (final Version version : replaced)
        {
            version.to = to;
        }
    }

    private static long current(final List<Version> versions)
    {
        synchronized (versions)
        {
            return versions.get(versions.size() - 1).stamp;
        }
    }

    /**
     * Publishes a page's next version before the change that makes it (readers may see it from then on) and returns
     * the version it replaces, whose end the caller sets once the change is done.
     */
    private Version begin(final long file, final int page, final long stamp, final long from)
    {
        final List<Version> versions = history.get(file).get(page);
        synchronized (versions)
        {
            final Version current = versions.get(versions.size() - 1);
            versions.add(new Version(stamp, from));
            return current;
        }
    }

    private void retireAll(final long file, final long tick)
    {
        for (final List<Version> versions : history.get(file))
        {
            synchronized (versions)
            {
                versions.get(versions.size() - 1).to = tick;
            }
        }
    }

    private static String describe(final List<Version> versions)
    {
        final StringBuilder out = new StringBuilder();
        for (final Version v : versions)
        {
            out.append(v.stamp).append('@').append(v.from).append("..")
                .append(v.to == Long.MAX_VALUE ? "now" : Long.toString(v.to)).append(' ');
        }
        return out.toString();
    }
}
