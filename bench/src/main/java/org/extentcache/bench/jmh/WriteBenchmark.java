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

/**
 * In-place write: 4 KiB written over a private (unshared) cached page: the frame goes WRITING, takes the bytes,
 * comes back dirty at the next generation. The working set is 256 pages of a 1024-frame cache, so the dirty-page
 * throttle stays out of the way; write-back is measured with copy-on-write.
 *
 * <p>Run alone: {@code mvn -q -B -Pjmh -DskipTests verify -Djmh.args="WriteBenchmark -prof gc"}.
 */
@State(Scope.Thread)
public class WriteBenchmark extends BenchmarkBase
{
    static final int PAGES = 256;

    private Fixture fixture;
    private CachedFile file;
    private final ByteBuffer src = ByteBuffer.allocateDirect(4096);
    private int page;

    @Setup(Level.Trial)
    public void setUp() throws IOException
    {
        fixture = new Fixture(4096, PAGES, PAGES + 64);
        final ExtentCache cache = fixture.cache(4 * PAGES);
        file = cache.file(fixture.base);
        fixture.readAll(file);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException
    {
        file.flush();
        fixture.close();
    }

    @Benchmark
    public int inPlaceWrite() throws IOException
    {
        page = (page + 1) & (PAGES - 1);
        src.clear().putLong(0, page);
        return file.write((long)page * 4096, src);
    }
}
