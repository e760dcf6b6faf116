package org.extentcache.bench.jmh;

import org.extentcache.CachedFile;
import org.extentcache.ExtentCache;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * A Zipf(0.99) mix of 90% reads and 10% whole-page writes over 8 clones of a 2048-page base (16 Ki pages), through
 * a cache of 1024 frames: reclaim, copy-on-write, in-place writes and the dirty-page throttle's write-back all run.
 * The operation sequence (1 Mi operations, cycled) is precomputed. No baseline: this is the cache's own steady
 * state under pressure, reported as time per operation.
 *
 * <p>Run alone: {@code mvn -q -B -Pjmh -DskipTests verify -Djmh.args="ZipfMixBenchmark -prof gc"}.
 */
@State(Scope.Thread)
public class ZipfMixBenchmark extends BenchmarkBase
{
    static final int PAGES = 2048;
    static final int CLONES = 8;
    static final int OPERATIONS = 1 << 20;

    private Fixture fixture;
    private final CachedFile[] files = new CachedFile[CLONES];
    private final long[] operations = new long[OPERATIONS];
    private final ByteBuffer buffer = ByteBuffer.allocateDirect(4096);
    private int next;

    @Setup(Level.Trial)
    public void setUp() throws IOException
    {
        fixture = new Fixture(4096, PAGES, PAGES * (CLONES + 2L));
        final ExtentCache cache = fixture.cache(1024);
        for (int c = 0; c < CLONES; c++)
        {
            files[c] = cache.file(fixture.store.cloneFile(fixture.base));
        }
        final SplittableRandom random = new SplittableRandom(7);
        final double[] cumulative = new double[CLONES * PAGES];
        double sum = 0;
        for (int rank = 0; rank < cumulative.length; rank++)
        {
            sum += 1.0 / Math.pow(rank + 1, 0.99);
            cumulative[rank] = sum;
        }
        for (int i = 0; i < OPERATIONS; i++)
        {
            int rank = Arrays.binarySearch(cumulative, random.nextDouble() * sum);
            rank = rank < 0 ? Math.min(-rank - 1, cumulative.length - 1) : rank;
            final long key = (rank * 2654435761L) % cumulative.length;
            operations[i] = key << 1 | (random.nextInt(10) == 0 ? 1 : 0);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException
    {
        fixture.cache.flush();
        fixture.close();
    }

    @Benchmark
    public int zipfMix() throws IOException
    {
        final long operation = operations[next];
        next = next + 1 == OPERATIONS ? 0 : next + 1;
        final long key = operation >>> 1;
        final CachedFile file = files[(int)(key / PAGES)];
        final long position = (key % PAGES) * 4096;
        buffer.clear();
        return (operation & 1) == 0 ? file.read(position, buffer) : file.write(position, buffer);
    }
}
