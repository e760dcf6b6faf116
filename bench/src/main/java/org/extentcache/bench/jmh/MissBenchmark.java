package org.extentcache.bench.jmh;

import org.extentcache.CachedFile;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;

/**
 * Misses served from the device, with the device file in the OS page cache: a cyclic scan over a file sixteen
 * times larger than the cache, so every read misses (translation, a frame reclaimed by the CLOCK sweep, a
 * {@code pread}, publication), against the same {@code pread} without a cache.
 * <ul>
 *   <li>{@link #fileChannelRead}: {@code FileChannel.read} of one page at a position, into a direct buffer: what a
 *       user without a cache pays.</li>
 *   <li>{@link #miss}: {@code CachedFile.read} of a page not cached (target: at most 1.2x fileChannelRead).</li>
 * </ul>
 * Run alone: {@code mvn -q -B -Pjmh -DskipTests verify -Djmh.args="MissBenchmark -prof gc"}.
 */
@State(Scope.Thread)
public class MissBenchmark extends BenchmarkBase
{
    static final int FRAMES = 64;
    static final int PAGES = 16 * FRAMES;

    @Param({"4096", "16384", "65536"})
    int pageSize;

    private Fixture fixture;
    private CachedFile file;
    private FileChannel channel;
    private ByteBuffer dst;
    private int page;

    @Setup(Level.Trial)
    public void setUp() throws IOException
    {
        fixture = new Fixture(pageSize, PAGES, PAGES + 64);
        file = fixture.cache(FRAMES).file(fixture.base);
        fixture.readAll(file);
        channel = FileChannel.open(fixture.path, StandardOpenOption.READ);
        dst = ByteBuffer.allocateDirect(pageSize);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException
    {
        channel.close();
        fixture.close();
    }

    private long nextPosition()
    {
        page = page + 1 == PAGES ? 0 : page + 1;
        return (long)page * pageSize;
    }

    @Benchmark
    public int fileChannelRead() throws IOException
    {
        return channel.read(dst.clear(), nextPosition());
    }

    @Benchmark
    public int miss() throws IOException
    {
        return file.read(nextPosition(), dst.clear());
    }
}
