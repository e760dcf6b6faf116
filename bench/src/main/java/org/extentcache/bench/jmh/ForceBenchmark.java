package org.extentcache.bench.jmh;

import org.extentcache.CachedFile;
import org.extentcache.ExtentCache;
import org.extentcache.device.FileBlockDevice;
import org.extentcache.translate.ExtentStore;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code FileChannel.force} through the cache: one 4 KiB write to a thread's own file, then {@link CachedFile#flush}
 * (write back that file only, a device sync on a real device file, then the translator's commit). With two threads
 * forcing two files at once, forces that wait for a sync together share one (group commit), so two threads should
 * get more forces per second than one. {@code store}: {@code memory} is an in-memory {@link ExtentStore} (commit does
 * nothing); {@code persistent} is {@link ExtentStore#format}, whose commit writes a metadata snapshot and two more
 * syncs.
 *
 * <p>Run alone: {@code mvn -q -B -Pjmh -DskipTests verify -Djmh.args="ForceBenchmark"}.
 */
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class ForceBenchmark extends BenchmarkBase
{
    private static final int PAGE = 4096;
    private static final int PAGES_PER_FILE = 64;

    /** The device, the store and the cache every thread writes through. */
    @State(Scope.Benchmark)
    public static class Shared
    {
        @Param({"memory", "persistent"})
        public String store;

        Path path;
        FileBlockDevice device;
        ExtentStore extents;
        ExtentCache cache;

        @Setup
        public void setUp() throws IOException
        {
            path = Files.createTempFile("extentcache-force", ".img");
            device = FileBlockDevice.open(path, PAGE, 1 << 16);
            extents = "persistent".equals(store) ? ExtentStore.format(device) : new ExtentStore(device);
            cache = ExtentCache.builder().device(device).translator(extents).pageSize(PAGE).capacityFrames(1024)
                .build();
        }

        @TearDown
        public void tearDown() throws IOException
        {
            cache.flush();
            cache.close();
            extents.close();
            device.close();
            Files.deleteIfExists(path);
        }
    }

    /** One file per thread, written page after page in a ring. */
    @State(Scope.Thread)
    public static class Writer
    {
        private static final AtomicLong SEED = new AtomicLong();
        CachedFile file;
        final ByteBuffer src = ByteBuffer.allocateDirect(PAGE);
        long next;

        @Setup
        public void setUp(final Shared shared) throws IOException
        {
            file = shared.cache.file(shared.extents.create());
            src.putLong(0, SEED.incrementAndGet());
        }
    }

    @Benchmark
    @Threads(1)
    public void writeAndForceOneThread(final Writer writer) throws IOException
    {
        writeAndForce(writer);
    }

    @Benchmark
    @Threads(2)
    public void writeAndForceTwoThreads(final Writer writer) throws IOException
    {
        writeAndForce(writer);
    }

    private static void writeAndForce(final Writer writer) throws IOException
    {
        writer.src.clear().putLong(8, writer.next);
        writer.file.write((writer.next++ % PAGES_PER_FILE) * PAGE, writer.src);
        writer.file.flush();
    }
}
