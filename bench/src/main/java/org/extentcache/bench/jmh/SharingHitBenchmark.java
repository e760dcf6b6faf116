package org.extentcache.bench.jmh;

import org.extentcache.CachedFile;
import org.extentcache.ExtentCache;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

/**
 * Sharing hit: the first read of a page through a clone whose base is cached: translation, a device-index lookup,
 * a pin, the copy, and a handle stored in the clone's mapping; no device read. Every read must be a first read, so
 * each iteration is a single batch of {@link #BATCH} reads over fresh clones made in the iteration's setup (and
 * deleted after), and the score is the time of one batch: divide by {@link #BATCH} for one read (the report does).
 * Target: at most 3x {@code HitBenchmark.fileHit}.
 *
 * <p>Run alone: {@code mvn -q -B -Pjmh -DskipTests verify -Djmh.args="SharingHitBenchmark -prof gc"}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 10, batchSize = SharingHitBenchmark.BATCH)
@Measurement(iterations = 20, batchSize = SharingHitBenchmark.BATCH)
public class SharingHitBenchmark extends BenchmarkBase
{
    /** Reads per batch: {@link #CLONES} clones of a {@link #PAGES}-page base. */
    public static final int BATCH = 16384;
    static final int PAGES = 256;
    static final int CLONES = BATCH / PAGES;

    private Fixture fixture;
    private ExtentCache cache;
    private final long[] clones = new long[CLONES];
    private final CachedFile[] files = new CachedFile[CLONES];
    private final ByteBuffer dst = ByteBuffer.allocateDirect(4096);
    private int next;

    @Setup(Level.Trial)
    public void setUp() throws IOException
    {
        fixture = new Fixture(4096, PAGES, PAGES + 64);
        cache = fixture.cache(2 * PAGES);
        fixture.readAll(cache.file(fixture.base));
    }

    @Setup(Level.Iteration)
    public void cloneBase() throws IOException
    {
        for (int c = 0; c < CLONES; c++)
        {
            clones[c] = fixture.store.cloneFile(fixture.base);
            files[c] = cache.file(clones[c]);
        }
        next = 0;
    }

    @TearDown(Level.Iteration)
    public void deleteClones() throws IOException
    {
        for (final long clone : clones)
        {
            fixture.store.delete(clone);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException
    {
        fixture.close();
    }

    @Benchmark
    public int sharingHit() throws IOException
    {
        final int i = next++;
        return files[i / PAGES].read((long)(i % PAGES) * 4096, dst.clear());
    }
}
