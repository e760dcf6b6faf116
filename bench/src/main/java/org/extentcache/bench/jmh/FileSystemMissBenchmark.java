package org.extentcache.bench.jmh;

import org.extentcache.CachedFile;
import org.extentcache.ExtentCache;
import org.extentcache.fs.FileSystemTranslator;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;

/**
 * Misses on a real file through {@link FileSystemTranslator}: a cyclic scan over a file in the temporary directory
 * sixteen times larger than the cache, so every read misses (a translation of the file's FIEMAP layout, a frame
 * reclaimed, a positional read through the file's channel, publication), against the same read without a cache.
 * The cache's readahead is off: the scan is sequential, and its windows would make most reads hits
 * ({@link ColdReadBenchmark} measures readahead).
 * <ul>
 *   <li>{@code directReads=false}: the translator reads through the kernel's page cache, which holds the whole file;
 *       {@link #fileChannelRead} is {@code FileChannel.read} of one page into a direct buffer.</li>
 *   <li>{@code directReads=true}: the translator reads with {@code O_DIRECT} (from the device every time);
 *       {@link #fileChannelRead} reads the same way, through a channel opened with {@code ExtendedOpenOption.DIRECT} ({@code NativeLibc.O_DIRECT})
 *       into an aligned buffer.</li>
 * </ul>
 * Target (DESIGN.md's, for the device path): {@link #miss} at most 1.2x {@link #fileChannelRead}. The file system is
 * whatever {@code java.io.tmpdir} is on; where it refuses {@code O_DIRECT} the direct case reads buffered.
 * Run alone: {@code mvn -q -B -Pjmh -DskipTests verify -Djmh.args="FileSystemMissBenchmark -prof gc"}.
 */
@State(Scope.Thread)
public class FileSystemMissBenchmark extends BenchmarkBase
{
    static final int PAGE = 4096;
    static final int FRAMES = 64;
    static final int PAGES = 16 * FRAMES;

    @Param({"false", "true"})
    boolean directReads;

    private Path path;
    private FileSystemTranslator translator;
    private ExtentCache cache;
    private CachedFile file;
    private FileChannel channel;
    private ByteBuffer dst;
    private int page;

    @Setup(Level.Trial)
    public void setUp() throws IOException
    {
        path = Files.createTempFile("extentcache-fs-miss", ".bin");
        final byte[] bytes = new byte[PAGES * PAGE];
        new SplittableRandom(42).nextBytes(bytes);
        Files.write(path, bytes);
        translator = new FileSystemTranslator(PAGE, directReads);
        // readahead off: a cyclic scan is sequential, and windows would turn most of these reads into hits
        cache = ExtentCache.builder().translator(translator).capacityFrames(FRAMES).readahead(false).build();
        final long id = translator.open(path);
        file = cache.file(id);
        dst = ByteBuffer.allocateDirect(2 * PAGE).alignedSlice(PAGE).limit(PAGE);
        for (long at = 0; at < (long)PAGES * PAGE; at += PAGE)
        {
            file.read(at, dst.clear().limit(PAGE));
        }
        channel = directReads && translator.readsDirectly(id) ?
            FileChannel.open(path, StandardOpenOption.READ, org.extentcache.fs.NativeLibc.O_DIRECT) :
            FileChannel.open(path, StandardOpenOption.READ);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException
    {
        channel.close();
        cache.close();
        translator.close();
        Files.deleteIfExists(path);
    }

    private long nextPosition()
    {
        page = page + 1 == PAGES ? 0 : page + 1;
        return (long)page * PAGE;
    }

    @Benchmark
    public int fileChannelRead() throws IOException
    {
        return channel.read(dst.clear().limit(PAGE), nextPosition());
    }

    @Benchmark
    public int miss() throws IOException
    {
        return file.read(nextPosition(), dst.clear().limit(PAGE));
    }
}
