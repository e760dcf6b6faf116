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
 * Copy-on-write write: 4 KiB written over a page a clone still shares with its base: a block reserved from the
 * translator, a frame claimed and filled, published dirty, the page remapped. Every write must hit a shared page,
 * so each iteration is one batch of {@link #BATCH} writes over fresh clones made in its setup; the clones are
 * flushed and deleted after it, outside the timing. The score is one batch: divide by {@link #BATCH} for one write
 * (the report does). The cache holds the batch without reaching the dirty-page throttle.
 *
 * <p>Run alone: {@code mvn -q -B -Pjmh -DskipTests verify -Djmh.args="CopyOnWriteBenchmark -prof gc"}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 10, batchSize = CopyOnWriteBenchmark.BATCH)
@Measurement(iterations = 20, batchSize = CopyOnWriteBenchmark.BATCH)
public class CopyOnWriteBenchmark extends BenchmarkBase
{
    /** Writes per batch: {@link #CLONES} clones of a {@link #PAGES}-page base. */
    public static final int BATCH = 2048;
    static final int PAGES = 256;
    static final int CLONES = BATCH / PAGES;

    private Fixture fixture;
    private ExtentCache cache;
    private final long[] clones = new long[CLONES];
    private final CachedFile[] files = new CachedFile[CLONES];
    private final ByteBuffer src = ByteBuffer.allocateDirect(4096);
    private int next;

    @Setup(Level.Trial)
    public void setUp() throws IOException
    {
        fixture = new Fixture(4096, PAGES, PAGES + 2L * BATCH + 64);
        cache = fixture.cache(PAGES + 3 * BATCH);
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
        for (int c = 0; c < CLONES; c++)
        {
            files[c].flush();
            fixture.store.delete(clones[c]);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException
    {
        fixture.close();
    }

    @Benchmark
    public int copyOnWriteWrite() throws IOException
    {
        final int i = next++;
        src.clear().putLong(0, i);
        return files[i / PAGES].write((long)(i % PAGES) * 4096, src);
    }
}
