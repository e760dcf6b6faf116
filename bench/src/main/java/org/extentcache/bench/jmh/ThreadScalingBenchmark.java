package org.extentcache.bench.jmh;

import org.extentcache.CachedFile;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

/**
 * File hits from one thread and from two, sharing one cache and one file, as throughput: the lock-free hit path
 * should scale with cores (target: 2 threads at least 1.8x one). Each thread walks the 256-page working set from
 * its own offset.
 *
 * <p>Run alone: {@code mvn -q -B -Pjmh -DskipTests verify -Djmh.args="ThreadScalingBenchmark -prof gc"}.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class ThreadScalingBenchmark extends BenchmarkBase
{
    static final int PAGES = 256;

    /** The cache, shared by every thread. */
    @State(Scope.Benchmark)
    public static class Shared
    {
        Fixture fixture;
        CachedFile file;

        @Setup(Level.Trial)
        public void setUp() throws IOException
        {
            fixture = new Fixture(4096, PAGES, PAGES + 64);
            file = fixture.cache(2 * PAGES).file(fixture.base);
            fixture.readAll(file);
        }

        @TearDown(Level.Trial)
        public void tearDown() throws IOException
        {
            fixture.close();
        }
    }

    /** One thread's destination and position. */
    @State(Scope.Thread)
    public static class Reader
    {
        final ByteBuffer dst = ByteBuffer.allocateDirect(4096);
        int page = (int)(Thread.currentThread().getId() * 97) & (PAGES - 1);

        long nextPosition()
        {
            page = (page + 1) & (PAGES - 1);
            return (long)page * 4096;
        }
    }

    @Benchmark
    @Threads(1)
    public int hits1Thread(final Shared shared, final Reader reader) throws IOException
    {
        return shared.file.read(reader.nextPosition(), reader.dst.clear());
    }

    @Benchmark
    @Threads(2)
    public int hits2Threads(final Shared shared, final Reader reader) throws IOException
    {
        return shared.file.read(reader.nextPosition(), reader.dst.clear());
    }
}
