package org.extentcache.bench.jmh;

import org.agrona.BufferUtil;
import org.agrona.UnsafeApi;
import org.extentcache.CachedFile;
import org.extentcache.ExtentCache;
import org.extentcache.fs.FileSystemTranslator;
import org.extentcache.fs.NativeLibc;
import org.extentcache.fs.SharedFiles;
import org.extentcache.shm.SharedCache;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * The shared-memory cache ({@link SharedCache} read through {@link SharedFiles}, as several JVMs on a host would use
 * it) against the in-process one ({@link ExtentCache} over a {@link FileSystemTranslator}), on the same real file,
 * 4 KiB pages, both reading misses with {@code O_DIRECT}:
 * <ul>
 *   <li>{@link #bareCopy}: the limit for a copying hit, an off-heap copy of one page with nothing else.</li>
 *   <li>{@link #inProcessHit} and {@link #sharedHit}: a page already in the file's mapping, copied out, cycling over
 *       {@value #HIT_PAGES} resident pages (the shared one: a handle from the process's file mapping and the
 *       seqlock-validated copy out of the shared frame).</li>
 *   <li>{@link #directRead}: a bare {@code O_DIRECT} read of one page, the limit for a miss.</li>
 *   <li>{@link #inProcessMiss} and {@link #sharedMiss}: a cyclic scan of {@value #MISS_PAGES} pages through
 *       {@value #MISS_FRAMES} frames, so every read misses: translation, a frame reclaimed, an {@code O_DIRECT} read
 *       into it, publication (the shared one: the allocation lock across processes, the shared index and the
 *       sweep). The in-process cache's readahead is off: the scan is sequential.</li>
 * </ul>
 * The shared file ids are above 127 ({@link #EARLIER_OPENS} opens come first), as in a process that opened more than
 * a few files, so a boxed id on the read path shows in {@code -prof gc}. The shared cache file is on {@code /dev/shm} (else the temporary directory); this process is its only client, so
 * the shared figures are the cost of the machinery, not of contention. The data file is in
 * {@code EXTENTCACHE_REFLINK_DIR} if set (XFS, which takes {@code O_DIRECT}), else the temporary directory; setup
 * fails if either cache cannot key the file by physical block or read it with {@code O_DIRECT}. Targets
 * (DESIGN.md's): hits at most 1.2x {@link #bareCopy}, misses at most 1.1x {@link #directRead}, every path 0 B/op.
 * Run alone: {@code mvn -q -B -Pjmh -DskipTests verify -Djmh.args="SharedCacheBenchmark -prof gc"}; quick:
 * {@code -Djmh.args="SharedCacheBenchmark -f 1 -wi 3 -i 5 -w 1s -r 1s -prof gc"}.
 */
@State(Scope.Thread)
public class SharedCacheBenchmark extends BenchmarkBase
{
    static final int PAGE = 4096;
    static final int HIT_PAGES = 256;
    static final int MISS_FRAMES = 64;
    static final int MISS_PAGES = 16 * MISS_FRAMES;
    /** Files opened and closed before the measured one, so its id is past {@code Long}'s cache of small values. */
    static final int EARLIER_OPENS = 200;

    private final List<Closeable> open = new ArrayList<>();
    private Path dir;
    private Path shmDir;
    private CachedFile inProcessHitFile;
    private CachedFile inProcessMissFile;
    private SharedFiles sharedHitFiles;
    private long sharedHitFile;
    private SharedFiles sharedMissFiles;
    private long sharedMissFile;
    private FileChannel direct;
    private ByteBuffer source;
    private long sourceAddress;
    private ByteBuffer dst;
    private long dstAddress;
    private int hitPage;
    private int missPage;

    @Setup(Level.Trial)
    public void setUp() throws IOException
    {
        final String reflinkDir = System.getenv("EXTENTCACHE_REFLINK_DIR");
        dir = null == reflinkDir || reflinkDir.isBlank() ? Files.createTempDirectory("extentcache-shared-bench") :
            Files.createTempDirectory(Path.of(reflinkDir), "shared-bench");
        final Path shm = Path.of("/dev/shm");
        shmDir = Files.isDirectory(shm) && Files.isWritable(shm) ?
            Files.createTempDirectory(shm, "extentcache-bench") : Files.createTempDirectory("extentcache-bench-shm");
        final Path path = dir.resolve("data");
        final byte[] bytes = new byte[MISS_PAGES * PAGE];
        new SplittableRandom(42).nextBytes(bytes);
        Files.write(path, bytes);
        dst = ByteBuffer.allocateDirect(2 * PAGE).alignedSlice(PAGE).limit(PAGE).slice();
        dstAddress = BufferUtil.address(dst);
        source = ByteBuffer.allocateDirect(HIT_PAGES * PAGE);
        sourceAddress = BufferUtil.address(source);

        inProcessHitFile = inProcess(path, 2 * HIT_PAGES);
        inProcessMissFile = inProcess(path, MISS_FRAMES);
        final SharedCache hitCache = SharedCache.builder(shmDir.resolve("hits")).frames(2 * HIT_PAGES).join();
        open.add(hitCache::close);
        sharedHitFiles = new SharedFiles(hitCache);
        open.add(sharedHitFiles);
        sharedHitFile = sharedOpen(sharedHitFiles, path);
        final SharedCache missCache = SharedCache.builder(shmDir.resolve("misses")).frames(MISS_FRAMES).join();
        open.add(missCache::close);
        sharedMissFiles = new SharedFiles(missCache);
        open.add(sharedMissFiles);
        sharedMissFile = sharedOpen(sharedMissFiles, path);
        direct = FileChannel.open(path, StandardOpenOption.READ, NativeLibc.O_DIRECT);
        open.add(direct);
        for (int p = 0; p < HIT_PAGES; p++)
        {
            inProcessHitFile.read((long)p * PAGE, dst.clear());
            sharedHitFiles.read(sharedHitFile, dst.clear(), (long)p * PAGE);
        }
        for (int p = 0; p < MISS_PAGES; p++)
        {
            inProcessMissFile.read((long)p * PAGE, dst.clear());
            sharedMissFiles.read(sharedMissFile, dst.clear(), (long)p * PAGE);
        }
    }

    private CachedFile inProcess(final Path path, final int frames) throws IOException
    {
        final FileSystemTranslator translator = new FileSystemTranslator(PAGE, true);
        open.add(translator);
        final ExtentCache cache = ExtentCache.builder().translator(translator).pageSize(PAGE).capacityFrames(frames)
            .readahead(false).build();
        open.add(cache::close);
        final long id = translator.open(path);
        if (null != translator.sharingUnavailableReason(id) || !translator.readsDirectly(id))
        {
            throw new IllegalStateException(path + " cannot be keyed by physical block or read with O_DIRECT: " +
                translator.sharingUnavailableReason(id));
        }
        return cache.file(id);
    }

    /**
     * Opens the file with an id above 127, as in a process that has opened more than a few files: ids up to 127 are
     * in {@code Long}'s cache, which would hide any boxing of the id on the read path.
     */
    private static long sharedOpen(final SharedFiles files, final Path path) throws IOException
    {
        for (int i = 0; i < EARLIER_OPENS; i++)
        {
            files.close(files.open(path));
        }
        final long id = files.open(path);
        if (null != files.sharingUnavailableReason(id) || !files.readsDirectly(id))
        {
            throw new IllegalStateException(path + " cannot be shared or read with O_DIRECT: " +
                files.sharingUnavailableReason(id));
        }
        return id;
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException
    {
        for (int i = open.size() - 1; i >= 0; i--)
        {
            open.get(i).close();
        }
        BufferUtil.free(source);
        deleteTree(dir);
        deleteTree(shmDir);
    }

    private static void deleteTree(final Path root) throws IOException
    {
        try (Stream<Path> paths = Files.walk(root))
        {
            for (final Path path : paths.sorted(Comparator.reverseOrder()).toList())
            {
                Files.deleteIfExists(path);
            }
        }
    }

    private long nextHit()
    {
        hitPage = (hitPage + 1) & (HIT_PAGES - 1);
        return (long)hitPage * PAGE;
    }

    private long nextMiss()
    {
        missPage = missPage + 1 == MISS_PAGES ? 0 : missPage + 1;
        return (long)missPage * PAGE;
    }

    @Benchmark
    public ByteBuffer bareCopy()
    {
        UnsafeApi.copyMemory(sourceAddress + nextHit(), dstAddress, PAGE);
        return dst;
    }

    @Benchmark
    public int inProcessHit() throws IOException
    {
        return inProcessHitFile.read(nextHit(), dst.clear());
    }

    @Benchmark
    public int sharedHit() throws IOException
    {
        return sharedHitFiles.read(sharedHitFile, dst.clear(), nextHit());
    }

    @Benchmark
    public int directRead() throws IOException
    {
        return direct.read(dst.clear(), nextMiss());
    }

    @Benchmark
    public int inProcessMiss() throws IOException
    {
        return inProcessMissFile.read(nextMiss(), dst.clear());
    }

    @Benchmark
    public int sharedMiss() throws IOException
    {
        return sharedMissFiles.read(sharedMissFile, dst.clear(), nextMiss());
    }
}
