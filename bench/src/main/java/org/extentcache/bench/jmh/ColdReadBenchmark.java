package org.extentcache.bench.jmh;

import org.extentcache.CachedFile;
import org.extentcache.ExtentCache;
import org.extentcache.fs.FileSystemTranslator;
import org.extentcache.fs.NativeLibc;
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
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Cold reads of a real file (issue 14): one pass per invocation over a file nobody has cached, read 4 KiB at a time,
 * sequentially ({@code *Sequential}: the whole file) or at {@value #RANDOM_READS} random pages ({@code *Random}),
 * through ExtentCache and without it:
 * <ul>
 *   <li>{@code extentCacheDirect*}: a fresh cache over a {@link FileSystemTranslator} that reads with
 *       {@code O_DIRECT} (with the cache's readahead on sequential misses);</li>
 *   <li>{@code extentCacheDirectRandomNoReadahead}: the same with the cache's readahead off, the baseline for
 *       random reads;</li>
 *   <li>{@code extentCacheBuffered*}: the same reading through the kernel's page cache (and its readahead);</li>
 *   <li>{@code kernelBuffered*}: {@code FileChannel.read} of 4 KiB, through the kernel's page cache;</li>
 *   <li>{@code direct4k*} and {@code direct1m*}: {@code FileChannel.read} with {@code O_DIRECT} of 4 KiB and 1 MiB
 *       into an aligned buffer: the device's rates without readahead.</li>
 * </ul>
 * Before each iteration the file is dropped from the kernel's page cache ({@code posix_fadvise(POSIX_FADV_DONTNEED)}
 * through jnr-ffi) and each ExtentCache is built anew, so every pass is cold. Score: milliseconds per pass;
 * {@code sizeMiB / score * 1000} is MiB/s for the sequential ones, {@code RANDOM_READS * 4 KiB} per pass for the
 * random ones. Targets (issue 14): {@code extentCacheDirectSequential} at least {@code kernelBufferedSequential},
 * aiming at 70% of {@code direct1mSequential}; {@code extentCacheDirectRandom} within 5% of
 * {@code extentCacheDirectRandomNoReadahead} (readahead must not slow random reads).
 * The file lives in {@code java.io.tmpdir} (or {@code -Dextentcache.coldReadDir}); {@code O_DIRECT} falls back to
 * buffered reads where its file system refuses it.
 *
 * <p>Run: {@code mvn -q -B -Pjmh -DskipTests verify -Djmh.results=/tmp/jmh-cold.json
 * -Djmh.args="ColdReadBenchmark -f 1 -p sizeMiB=256"}.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2)
@Measurement(iterations = 5)
public class ColdReadBenchmark extends BenchmarkBase
{
    static final int PAGE = 4096;
    static final int MIB = 1 << 20;
    /** Random 4 KiB reads per random pass. */
    static final int RANDOM_READS = 4096;

    /** {@code posix_fadvise} and what it needs, bound by jnr-ffi through {@link NativeLibc}. */
    public interface Fadvise
    {
        /** @return a descriptor, or -1. */
        int open(byte[] path, int flags);

        /** @return 0, or an error number. */
        int posix_fadvise(int fd, long offset, long length, int advice);

        /** @return 0, or -1. */
        int close(int fd);
    }

    private static final int O_RDONLY = 0;
    private static final int POSIX_FADV_DONTNEED = 4;

    /** The file, written once per trial. */
    @State(Scope.Benchmark)
    public static class Data
    {
        @Param({"64"})
        int sizeMiB;

        Path path;
        long[] randomPositions;
        private Fadvise libc;

        @Setup(Level.Trial)
        public void write() throws IOException
        {
            final NativeLibc<Fadvise> binding = NativeLibc.load(Fadvise.class, "posix_fadvise");
            if (null == binding.calls())
            {
                throw new IllegalStateException("cannot make the file cold: " + binding.unavailableReason());
            }
            libc = binding.calls();
            final Path dir = Path.of(System.getProperty("extentcache.coldReadDir",
                System.getProperty("java.io.tmpdir")));
            path = Files.createTempFile(dir, "extentcache-cold", ".bin");
            final SplittableRandom random = new SplittableRandom(42);
            final byte[] chunk = new byte[MIB];
            try (FileChannel channel = FileChannel.open(path, StandardOpenOption.WRITE))
            {
                for (int i = 0; i < sizeMiB; i++)
                {
                    random.nextBytes(chunk);
                    channel.write(ByteBuffer.wrap(chunk));
                }
                channel.force(true);
            }
            final long pages = (long)sizeMiB * MIB / PAGE;
            randomPositions = new long[RANDOM_READS];
            for (int i = 0; i < RANDOM_READS; i++)
            {
                randomPositions[i] = random.nextLong(pages) * PAGE;
            }
        }

        /** Drops the file's pages from the kernel's page cache (they are clean: written and synced). */
        void dropFromPageCache()
        {
            final int fd = libc.open((path.toString() + '\0').getBytes(StandardCharsets.UTF_8), O_RDONLY);
            if (fd < 0)
            {
                throw new IllegalStateException("open failed: " + path);
            }
            try
            {
                final int error = libc.posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
                if (0 != error)
                {
                    throw new IllegalStateException("posix_fadvise failed: " + NativeLibc.errnoText(error));
                }
            }
            finally
            {
                libc.close(fd);
            }
        }

        long size()
        {
            return (long)sizeMiB * MIB;
        }

        @TearDown(Level.Trial)
        public void delete() throws IOException
        {
            Files.deleteIfExists(path);
        }
    }

    /** A fresh ExtentCache over the file for every iteration. */
    public abstract static class CacheState
    {
        FileSystemTranslator translator;
        ExtentCache cache;
        CachedFile file;
        final ByteBuffer dst = ByteBuffer.allocateDirect(PAGE);

        abstract boolean directReads();

        /** @return whether the cache reads ahead (the baseline for the random case turns it off). */
        boolean readahead()
        {
            return true;
        }

        @Setup(Level.Iteration)
        public void open(final Data data) throws IOException
        {
            data.dropFromPageCache();
            translator = new FileSystemTranslator(PAGE, directReads());
            cache = ExtentCache.builder().translator(translator).capacityBytes(data.size() + 16L * MIB)
                .readahead(readahead()).build();
            file = cache.file(translator.open(data.path));
        }

        @TearDown(Level.Iteration)
        public void close() throws IOException
        {
            cache.close();
            translator.close();
        }
    }

    /** ExtentCache reading with {@code O_DIRECT}. */
    @State(Scope.Thread)
    public static class DirectCache extends CacheState
    {
        @Override
        boolean directReads()
        {
            return true;
        }
    }

    /** ExtentCache reading with {@code O_DIRECT}, readahead off: what random reads cost without it. */
    @State(Scope.Thread)
    public static class DirectCacheNoReadahead extends DirectCache
    {
        @Override
        boolean readahead()
        {
            return false;
        }
    }

    /** ExtentCache reading through the kernel's page cache. */
    @State(Scope.Thread)
    public static class BufferedCache extends CacheState
    {
        @Override
        boolean directReads()
        {
            return false;
        }
    }

    /** A bare channel over the file, buffered or {@code O_DIRECT}, with an aligned buffer of 1 MiB. */
    public abstract static class ChannelState
    {
        FileChannel channel;
        final ByteBuffer buffer = ByteBuffer.allocateDirect(2 * MIB).alignedSlice(PAGE).limit(MIB);

        abstract boolean direct();

        @Setup(Level.Iteration)
        public void open(final Data data) throws IOException
        {
            data.dropFromPageCache();
            channel = direct() ? FileChannel.open(data.path, StandardOpenOption.READ, NativeLibc.O_DIRECT) :
                FileChannel.open(data.path, StandardOpenOption.READ);
        }

        @TearDown(Level.Iteration)
        public void close() throws IOException
        {
            channel.close();
        }
    }

    /** {@code FileChannel} through the kernel's page cache. */
    @State(Scope.Thread)
    public static class Buffered extends ChannelState
    {
        @Override
        boolean direct()
        {
            return false;
        }
    }

    /** {@code FileChannel} with {@code O_DIRECT}. */
    @State(Scope.Thread)
    public static class Direct extends ChannelState
    {
        @Override
        boolean direct()
        {
            return true;
        }
    }

    private static long sequential(final CachedFile file, final ByteBuffer dst, final long size) throws IOException
    {
        long sum = 0;
        for (long at = 0; at < size; at += PAGE)
        {
            sum += file.read(at, dst.clear());
        }
        return sum;
    }

    private static long random(final CachedFile file, final ByteBuffer dst, final long[] positions)
        throws IOException
    {
        long sum = 0;
        for (final long at : positions)
        {
            sum += file.read(at, dst.clear());
        }
        return sum;
    }

    private static long sequential(final FileChannel channel, final ByteBuffer buffer, final int chunk,
        final long size) throws IOException
    {
        long sum = 0;
        for (long at = 0; at < size; at += chunk)
        {
            sum += channel.read(buffer.clear().limit(chunk), at);
        }
        return sum;
    }

    private static long random(final FileChannel channel, final ByteBuffer buffer, final long[] positions)
        throws IOException
    {
        long sum = 0;
        for (final long at : positions)
        {
            sum += channel.read(buffer.clear().limit(PAGE), at);
        }
        return sum;
    }

    @Benchmark
    public long extentCacheDirectSequential(final Data data, final DirectCache state) throws IOException
    {
        return sequential(state.file, state.dst, data.size());
    }

    @Benchmark
    public long extentCacheBufferedSequential(final Data data, final BufferedCache state) throws IOException
    {
        return sequential(state.file, state.dst, data.size());
    }

    @Benchmark
    public long kernelBufferedSequential(final Data data, final Buffered state) throws IOException
    {
        return sequential(state.channel, state.buffer, PAGE, data.size());
    }

    @Benchmark
    public long direct4kSequential(final Data data, final Direct state) throws IOException
    {
        return sequential(state.channel, state.buffer, PAGE, data.size());
    }

    @Benchmark
    public long direct1mSequential(final Data data, final Direct state) throws IOException
    {
        return sequential(state.channel, state.buffer, MIB, data.size());
    }

    @Benchmark
    public long extentCacheDirectRandom(final Data data, final DirectCache state) throws IOException
    {
        return random(state.file, state.dst, data.randomPositions);
    }

    /** The baseline of {@link #extentCacheDirectRandom}: readahead must not slow random reads (target: 5% at most). */
    @Benchmark
    public long extentCacheDirectRandomNoReadahead(final Data data, final DirectCacheNoReadahead state)
        throws IOException
    {
        return random(state.file, state.dst, data.randomPositions);
    }

    @Benchmark
    public long extentCacheBufferedRandom(final Data data, final BufferedCache state) throws IOException
    {
        return random(state.file, state.dst, data.randomPositions);
    }

    @Benchmark
    public long kernelBufferedRandom(final Data data, final Buffered state) throws IOException
    {
        return random(state.channel, state.buffer, data.randomPositions);
    }

    @Benchmark
    public long direct4kRandom(final Data data, final Direct state) throws IOException
    {
        return random(state.channel, state.buffer, data.randomPositions);
    }
}
