package org.extentcache.bench.jmh;

import org.extentcache.CacheStats;
import org.extentcache.CachedFile;
import org.extentcache.ExtentCache;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

/**
 * A write that breaks a content merge, against the same write to a page of one's own. {@link #COPIES} plain copies
 * of a {@link #PAGES}-page base (written through the store, so no block is shared) are read through the cache;
 * then {@code writeBytes} bytes (default 512, at the start of the page) are written to every page of every copy.
 * <ul>
 *   <li>{@link #writeBreaksMerge}: merging on, so each copy's page is an alias of the base's frame. The write goes
 *       copy-on-write: a frame claimed for the copy's block, filled from the merged frame (a whole-page write skips
 *       the fill), the bytes written, the frame published dirty and the alias dropped. The copy's block is its own,
 *       so no block is reserved from the translator.</li>
 *   <li>{@link #inPlaceWriteMergeOff}, the baseline: merging off, so each copy's page has a private frame, and the
 *       write goes in place (WRITING, the bytes, dirty at the next generation).</li>
 * </ul>
 * Every write of the first must hit a merged page, so each iteration is one batch of {@link #BATCH} writes over
 * fresh copies made and read in its setup (which throws unless every page of every copy merged, or with merging
 * off none did); the copies are flushed and deleted after it, outside the timing, after a check that every merge
 * was broken. The score is one batch: divide by {@link #BATCH} for one write (the report does). The cache holds the
 * batch without reaching the dirty-page throttle (half the frames dirty). The batch is half of
 * {@link CopyOnWriteBenchmark}'s (the copies are made and read each iteration, 64 MiB of them at 64 KiB pages), so
 * it warms up over twice the iterations: as many writes before timing. The GC profiler's allocation per batch
 * includes the iteration's setup (making and reading the copies), as in {@link CopyOnWriteBenchmark}.
 *
 * <p>Run alone: {@code mvn -q -B -Pjmh -DskipTests verify -Djmh.args="MergeWriteBenchmark -prof gc"}; the miss side
 * of merging is {@link MergeBenchmark}.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 20, batchSize = MergeWriteBenchmark.BATCH)
@Measurement(iterations = 20, batchSize = MergeWriteBenchmark.BATCH)
public class MergeWriteBenchmark extends BenchmarkBase
{
    /** Writes per batch: one to every page of {@link #COPIES} copies of a {@link #PAGES}-page base. */
    public static final int BATCH = 1024;
    static final int PAGES = 256;
    static final int COPIES = BATCH / PAGES;

    /**
     * A cache over the base (read once, so with merging on its frames are the content index's candidates) and the
     * copies of one iteration. One subclass per merging setting.
     */
    @State(Scope.Thread)
    public abstract static class Copies
    {
        @Param({"4096", "16384", "65536"})
        int pageSize;

        /** Bytes per write, at the start of each page: at least 8 (the write number is stamped), at most a page. */
        @Param({"512"})
        int writeBytes;

        Fixture fixture;
        ExtentCache cache;
        final long[] copies = new long[COPIES];
        final CachedFile[] files = new CachedFile[COPIES];
        ByteBuffer src;
        int next;

        abstract boolean merge();

        @Setup(Level.Trial)
        public void setUp() throws IOException
        {
            if (writeBytes < Long.BYTES || writeBytes > pageSize)
            {
                throw new IllegalArgumentException("writeBytes must be in [8, pageSize]: writeBytes=" + writeBytes +
                    ", pageSize=" + pageSize);
            }
            fixture = new Fixture(pageSize, PAGES, PAGES + 2L * BATCH + 64);
            cache = fixture.cache(PAGES + 3 * BATCH, merge());
            fixture.readAll(cache.file(fixture.base));
            src = ByteBuffer.allocateDirect(writeBytes);
        }

        @Setup(Level.Iteration)
        public void copyAndRead() throws IOException
        {
            for (int c = 0; c < COPIES; c++)
            {
                copies[c] = fixture.plainCopyOfBase();
            }
            final CacheStats before = cache.stats();
            for (int c = 0; c < COPIES; c++)
            {
                files[c] = cache.file(copies[c]);
                fixture.readAll(files[c]);
            }
            final CacheStats read = cache.stats();
            final long merges = read.minus(before).merges();
            final long expected = merge() ? BATCH : 0;
            if (merges != expected || read.mergedPages() != expected)
            {
                throw new IllegalStateException("merges=" + merges + ", mergedPages=" + read.mergedPages() +
                    ", expected " + expected + ", merge=" + merge());
            }
            next = 0;
        }

        @TearDown(Level.Iteration)
        public void flushAndDelete() throws IOException
        {
            final long merged = cache.stats().mergedPages();
            for (int c = 0; c < COPIES; c++)
            {
                files[c].flush();
                fixture.store.delete(copies[c]);
            }
            if (merged != 0)
            {
                throw new IllegalStateException("writes left merged pages: mergedPages=" + merged + " after " +
                    next + " writes");
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() throws IOException
        {
            fixture.close();
        }

        int write() throws IOException
        {
            final int i = next++;
            src.clear().putLong(0, i);
            return files[i / PAGES].write((long)(i % PAGES) * pageSize, src);
        }
    }

    /** {@link Copies} with merging off: the copies' pages are private frames. */
    @State(Scope.Thread)
    public static class PrivateCopies extends Copies
    {
        @Override
        boolean merge()
        {
            return false;
        }
    }

    /** {@link Copies} with merging on: the copies' pages are aliases of the base's frames. */
    @State(Scope.Thread)
    public static class MergedCopies extends Copies
    {
        @Override
        boolean merge()
        {
            return true;
        }
    }

    @Benchmark
    public int inPlaceWriteMergeOff(final PrivateCopies state) throws IOException
    {
        return state.write();
    }

    @Benchmark
    public int writeBreaksMerge(final MergedCopies state) throws IOException
    {
        return state.write();
    }
}
