package org.extentcache.bench.jmh;

import org.extentcache.CacheStats;
import org.extentcache.CachedFile;
import org.extentcache.ExtentCache;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * What content merging ({@code mergeIdenticalPages(true)}) adds to a miss, against the same miss with merging off,
 * in one run. Every read misses: the files are sixteen times larger than the cache (64 frames) and read cyclically,
 * so a frame (and any alias of it) is reclaimed long before its page comes round again. Device reads come from the
 * OS page cache, as in {@link MissBenchmark}.
 * <ul>
 *   <li>{@link #missMergeOff} / {@link #missMergeOn}: one read of a page of random bytes that matches nothing.
 *       With merging on it pays the XXH3 hash of the page, a content-index lookup under the allocation lock and an
 *       index insert under it again; the difference is that overhead.</li>
 *   <li>{@link #pairMergeOff} / {@link #pairMergeOn}: one operation is two reads, page {@code p} of a file A and
 *       then page {@code p} of a file B written through the store as a plain copy of A (same bytes, no block shared).
 *       With merging on, A's miss is as above, and B's miss hashes, finds A's frame just loaded, compares the two
 *       pages byte for byte, makes B's block an alias of A's frame and frees the frame it loaded into; with merging
 *       off both are plain misses. The score is per pair: two misses.</li>
 * </ul>
 * Each case has its own cache ({@link UniqueOff}, {@link UniqueOn}, {@link PairOff}, {@link PairOn}), so a
 * benchmark builds only what it reads. Their setup and teardown check the premise and throw if it fails: with
 * merging off nothing merges, unique pages never merge, every read of the scans is a device read, and in
 * {@link #pairMergeOn} every read of B merged.
 *
 * <p>Target (issue 13): the extra cost of a miss with merging on ({@code missMergeOn - missMergeOff}) at most 15%
 * of an {@code O_DIRECT} miss on a real file ({@link FileSystemMissBenchmark#miss} with {@code directReads=true});
 * compare it with a miss served from the OS page cache ({@link MissBenchmark#miss}, {@link
 * MissBenchmark#fileChannelRead}) too. Run them in one run:
 * {@code mvn -q -B -Pjmh -DskipTests verify -Djmh.args="MergeBenchmark|FileSystemMissBenchmark.miss|MissBenchmark -prof gc"};
 * alone: {@code mvn -q -B -Pjmh -DskipTests verify -Djmh.args="MergeBenchmark -prof gc"}. The cost of a write
 * that breaks a merge is {@link MergeWriteBenchmark}.
 */
public class MergeBenchmark extends BenchmarkBase
{
    static final int FRAMES = 64;
    static final int PAGES = 16 * FRAMES;

    /**
     * A cache of {@link #FRAMES} frames over a base file of {@link #PAGES} random pages, read cyclically. One
     * subclass per merging setting.
     */
    @State(Scope.Thread)
    public abstract static class Scan
    {
        @Param({"4096", "16384", "65536"})
        int pageSize;

        Fixture fixture;
        ExtentCache cache;
        CachedFile file;
        ByteBuffer dst;
        CacheStats before;
        long reads;
        int page;

        abstract boolean merge();

        @Setup(Level.Trial)
        public void setUp() throws IOException
        {
            fixture = new Fixture(pageSize, PAGES, PAGES + 64);
            cache = fixture.cache(FRAMES, merge());
            file = cache.file(fixture.base);
            fixture.readAll(file); // the file mapping's leaves exist before timing
            dst = ByteBuffer.allocateDirect(pageSize);
            before = cache.stats();
        }

        @TearDown(Level.Trial)
        public void tearDown() throws IOException
        {
            try
            {
                final CacheStats run = cache.stats().minus(before);
                if (run.merges() != 0 || run.mergeMismatches() != 0)
                {
                    throw new IllegalStateException("unique pages merged: merges=" + run.merges() +
                        ", mergeMismatches=" + run.mergeMismatches() + ", merge=" + merge());
                }
                if (run.deviceReads() < reads)
                {
                    throw new IllegalStateException("not every read missed: reads=" + reads + ", deviceReads=" +
                        run.deviceReads());
                }
            }
            finally
            {
                fixture.close();
            }
        }

        int read() throws IOException
        {
            page = page + 1 == PAGES ? 0 : page + 1;
            reads++;
            return file.read((long)page * pageSize, dst.clear());
        }
    }

    /** {@link Scan} with merging off. */
    @State(Scope.Thread)
    public static class UniqueOff extends Scan
    {
        @Override
        boolean merge()
        {
            return false;
        }
    }

    /** {@link Scan} with merging on. */
    @State(Scope.Thread)
    public static class UniqueOn extends Scan
    {
        @Override
        boolean merge()
        {
            return true;
        }
    }

    /**
     * A cache of {@link #FRAMES} frames over a base file A of {@link #PAGES} random pages and its plain copy B,
     * read in pairs cyclically. One subclass per merging setting.
     */
    @State(Scope.Thread)
    public abstract static class Pair
    {
        @Param({"4096", "16384", "65536"})
        int pageSize;

        Fixture fixture;
        ExtentCache cache;
        CachedFile a;
        CachedFile b;
        ByteBuffer dst;
        CacheStats before;
        long pairs;
        int page;

        abstract boolean merge();

        @Setup(Level.Trial)
        public void setUp() throws IOException
        {
            fixture = new Fixture(pageSize, PAGES, 2L * PAGES + 64);
            final long copy = fixture.plainCopyOfBase();
            fixture.device.sync();
            cache = fixture.cache(FRAMES, merge());
            a = cache.file(fixture.base);
            b = cache.file(copy);
            dst = ByteBuffer.allocateDirect(pageSize);
            final CacheStats start = cache.stats();
            for (int p = 0; p < PAGES; p++) // one pass before timing: the mappings' leaves exist, and it must merge
            {
                pair();
            }
            check(cache.stats().minus(start), PAGES);
            before = cache.stats();
            pairs = 0;
        }

        @TearDown(Level.Trial)
        public void tearDown() throws IOException
        {
            try
            {
                check(cache.stats().minus(before), pairs);
            }
            finally
            {
                fixture.close();
            }
        }

        private void check(final CacheStats run, final long pairsRead)
        {
            final long expected = merge() ? pairsRead : 0;
            if (run.merges() != expected || run.mergeMismatches() != 0)
            {
                throw new IllegalStateException("merges=" + run.merges() + ", expected " + expected + " for " +
                    pairsRead + " pairs, mergeMismatches=" + run.mergeMismatches() + ", merge=" + merge());
            }
            if (run.deviceReads() < 2 * pairsRead)
            {
                throw new IllegalStateException("not every read missed: reads=" + 2 * pairsRead +
                    ", deviceReads=" + run.deviceReads());
            }
        }

        int pair() throws IOException
        {
            page = page + 1 == PAGES ? 0 : page + 1;
            pairs++;
            final long at = (long)page * pageSize;
            return a.read(at, dst.clear()) + b.read(at, dst.clear());
        }
    }

    /** {@link Pair} with merging off. */
    @State(Scope.Thread)
    public static class PairOff extends Pair
    {
        @Override
        boolean merge()
        {
            return false;
        }
    }

    /** {@link Pair} with merging on. */
    @State(Scope.Thread)
    public static class PairOn extends Pair
    {
        @Override
        boolean merge()
        {
            return true;
        }
    }

    @Benchmark
    public int missMergeOff(final UniqueOff state) throws IOException
    {
        return state.read();
    }

    @Benchmark
    public int missMergeOn(final UniqueOn state) throws IOException
    {
        return state.read();
    }

    @Benchmark
    public int pairMergeOff(final PairOff state) throws IOException
    {
        return state.pair();
    }

    @Benchmark
    public int pairMergeOn(final PairOn state) throws IOException
    {
        return state.pair();
    }
}
