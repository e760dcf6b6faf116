package org.extentcache.bench.jmh;

import org.agrona.BufferUtil;
import org.agrona.UnsafeApi;
import org.extentcache.CachedFile;
import org.extentcache.ExtentCache;
import org.extentcache.PinnedPage;
import org.extentcache.bench.footprint.CaffeineChunkCache;
import org.extentcache.bench.footprint.PerFileTranslator;
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
 * Hits: a page already in the file's mapping, copied out or pinned, against the limit and the peers, all over the
 * same 256-page working set.
 * <ul>
 *   <li>{@link #bareCopy}: the limit for a copying hit, an off-heap copy of one page with nothing else.</li>
 *   <li>{@link #fileHit}: {@code CachedFile.read} of a page in the file mapping (target: at most 1.3x bareCopy).</li>
 *   <li>{@link #pinUnpin}: zero-copy pin of the page through a flyweight, one read, unpin (target: 40 ns,
 *       0 B/op).</li>
 *   <li>{@link #caffeineHit}: Caffeine holding direct buffers keyed by (file, page), the same lookup and copy
 *       (target: fileHit at least as fast).</li>
 *   <li>{@link #perFileHit}: ExtentCache's engine keyed per file.</li>
 * </ul>
 * Run alone: {@code mvn -q -B -Pjmh -DskipTests verify -Djmh.args="HitBenchmark -prof gc"}.
 */
@State(Scope.Thread)
public class HitBenchmark extends BenchmarkBase
{
    static final int PAGES = 256;

    @Param({"4096", "16384", "65536"})
    int pageSize;

    private Fixture fixture;
    private CachedFile file;
    private ExtentCache perFile;
    private CachedFile perFileFile;
    private CaffeineChunkCache caffeine;
    private ByteBuffer source;
    private long sourceAddress;
    private ByteBuffer dst;
    private long dstAddress;
    private final PinnedPage pinned = new PinnedPage();
    private int page;

    @Setup(Level.Trial)
    public void setUp() throws IOException
    {
        fixture = new Fixture(pageSize, PAGES, PAGES + 64);
        file = fixture.cache(2 * PAGES).file(fixture.base);
        fixture.readAll(file);
        final PerFileTranslator translator =
            new PerFileTranslator(fixture.store, fixture.device, new long[]{fixture.base}, PAGES);
        perFile = ExtentCache.builder().device(translator.device()).translator(translator).pageSize(pageSize)
            .capacityFrames(2 * PAGES).build();
        perFileFile = perFile.file(fixture.base);
        fixture.readAll(perFileFile);
        caffeine = new CaffeineChunkCache(fixture.store, fixture.device, -1);
        dst = ByteBuffer.allocateDirect(pageSize);
        for (int p = 0; p < PAGES; p++)
        {
            caffeine.read(fixture.base, (long)p * pageSize, dst.clear());
        }
        source = ByteBuffer.allocateDirect(PAGES * pageSize);
        sourceAddress = BufferUtil.address(source);
        dstAddress = BufferUtil.address(dst);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException
    {
        caffeine.close();
        perFile.close();
        fixture.close();
        BufferUtil.free(source);
    }

    private long nextPosition()
    {
        page = (page + 1) & (PAGES - 1);
        return (long)page * pageSize;
    }

    @Benchmark
    public ByteBuffer bareCopy()
    {
        UnsafeApi.copyMemory(sourceAddress + nextPosition(), dstAddress, pageSize);
        return dst;
    }

    @Benchmark
    public int fileHit() throws IOException
    {
        return file.read(nextPosition(), dst.clear());
    }

    @Benchmark
    public long pinUnpin() throws IOException
    {
        file.pin(nextPosition(), pinned);
        final long word = pinned.buffer().getLong(0);
        pinned.close();
        return word;
    }

    @Benchmark
    public int caffeineHit() throws IOException
    {
        return caffeine.read(fixture.base, nextPosition(), dst.clear());
    }

    @Benchmark
    public int perFileHit() throws IOException
    {
        return perFileFile.read(nextPosition(), dst.clear());
    }
}
