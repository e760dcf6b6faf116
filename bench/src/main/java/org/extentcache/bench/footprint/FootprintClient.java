package org.extentcache.bench.footprint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.extentcache.fs.FileSystemTranslator;
import org.extentcache.fs.SharedFiles;
import org.extentcache.shm.SharedCache;
import org.extentcache.shm.SharedCacheStats;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * One of the child JVMs the footprint tool's {@code --processes N} mode starts ({@link ProcessFootprint}): it reads
 * every file it is given once in full, through a cache, then prints one line of JSON with what its cache retained and
 * waits for a line on standard input before it closes the cache and exits, so that the parent can measure the
 * shared file while every client is still joined.
 * <ul>
 *   <li>{@code --mode shared}: joins the {@link SharedCache} at {@code --shm} ({@code --frames} frames,
 *       {@code --client-slots} slots) and reads through a {@link SharedFiles} over it, with {@code O_DIRECT}.</li>
 *   <li>{@code --mode private}: an in-process ExtentCache over a {@link FileSystemTranslator} with {@code O_DIRECT}
 *       reads and a capacity of {@code --frames} frames: what each JVM holds without the shared cache.</li>
 * </ul>
 * The heap retained is measured as the tool measures every cache: Java heap in use after GC
 * ({@link FootprintTool#heapUsedAfterGc()}) once everything was read, minus the same figure taken before the cache was
 * built, after a throwaway cache of the same kind read one chunk (so one-time class initialisation is not counted).
 *
 * <p>Not a user-facing command: its options are the parent's protocol. Exit status 0 after the line on standard
 * input, 1 if the reads failed (the reason on standard error).
 */
@Command(name = "footprint-client")
public final class FootprintClient implements Callable<Integer>
{
    /** What the parent writes to standard input once it has measured. */
    static final String DONE = "done";

    private static final int CHUNK_BYTES = 1 << 20;
    private static final int WARM_UP_FRAMES = 64;

    @Option(names = "--mode", required = true, description = "shared or private")
    String mode;

    @Option(names = "--page-size", required = true)
    int pageSize;

    @Option(names = "--frames", required = true, description = "frames of the cache")
    int frames;

    @Option(names = "--shm", description = "the shared cache file (mode shared)")
    Path shm;

    @Option(names = "--client-slots", defaultValue = "16")
    int clientSlots;

    @Option(names = "--lease-millis", defaultValue = "30000")
    long leaseMillis;

    @Parameters(description = "the files to read")
    List<Path> files;

    /**
     * @param args see the class comment.
     */
    public static void main(final String[] args)
    {
        System.exit(new CommandLine(new FootprintClient()).execute(args));
    }

    @Override
    public Integer call() throws IOException
    {
        final ByteBuffer chunk = ByteBuffer.allocateDirect(CHUNK_BYTES);
        final BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        switch (mode)
        {
            case "shared":
                shared(chunk, stdin);
                break;
            case "private":
                inProcess(chunk, stdin);
                break;
            default:
                throw new IllegalArgumentException("--mode must be shared or private: " + mode);
        }
        return 0;
    }

    private void shared(final ByteBuffer chunk, final BufferedReader stdin) throws IOException
    {
        final Path warmUp = shm.resolveSibling(shm.getFileName() + "-warm-up-" + ProcessHandle.current().pid());
        try (SharedCache cache = SharedCache.builder(warmUp).pageSize(pageSize).frames(WARM_UP_FRAMES).clientSlots(1)
            .join(); SharedFiles reader = new SharedFiles(cache))
        {
            reader.read(reader.open(files.get(0)), chunk.clear().limit(WARM_UP_FRAMES / 2 * pageSize), 0);
        }
        final long heapBefore = FootprintTool.heapUsedAfterGc();
        final long directBefore = FootprintTool.directPoolBytes();
        try (SharedCache cache = SharedCache.builder(shm).pageSize(pageSize).frames(frames).clientSlots(clientSlots)
            .leaseMillis(leaseMillis).join(); SharedFiles reader = new SharedFiles(cache))
        {
            final ReadAll read = readAll(chunk, reader::open, reader::readsDirectly,
                reader::sharingUnavailableReason, (file, dst, position) -> reader.read(file, dst, position));
            final long heapRetained = Math.max(0, FootprintTool.heapUsedAfterGc() - heapBefore);
            final long directGrowth = FootprintTool.directPoolBytes() - directBefore;
            final SharedFiles.Stats stats = reader.stats();
            final SharedCacheStats shared = cache.stats();
            final ObjectNode line = Json.object();
            line.put("mode", mode);
            line.put("pid", ProcessHandle.current().pid());
            line.put("heap_retained_bytes", heapRetained);
            line.put("heap_estimate_bytes", stats.heapBytes());
            line.put("direct_pool_bytes", directGrowth);
            line.put("file_hits", stats.fileHits());
            line.put("shared_hits", stats.sharedHits());
            line.put("loads", stats.loads());
            line.put("verifications", stats.verifications());
            line.put("verification_misses", stats.verificationMisses());
            line.put("private_reads", stats.privateReads());
            line.put("files_not_direct", read.notDirect());
            line.put("files_not_sharing", read.notSharing());
            line.put("frames_ready", shared.framesReady());
            line.put("file_bytes", cache.fileBytes());
            line.put("metadata_bytes", cache.metadataBytes());
            line.put("elapsed_ms", Json.round(read.elapsedNanos() / 1e6, 1));
            report(line, stdin);
        }
    }

    private void inProcess(final ByteBuffer chunk, final BufferedReader stdin) throws IOException
    {
        try (FileSystemTranslator translator = new FileSystemTranslator(pageSize, true);
            ExtentCacheMeasured cache = new ExtentCacheMeasured("warm-up", translator,
                (long)WARM_UP_FRAMES * pageSize, 0))
        {
            cache.read(translator.open(files.get(0)), 0, chunk.clear());
        }
        final long heapBefore = FootprintTool.heapUsedAfterGc();
        final long directBefore = FootprintTool.directPoolBytes();
        try (FileSystemTranslator translator = new FileSystemTranslator(pageSize, true);
            ExtentCacheMeasured cache = new ExtentCacheMeasured("per-jvm", translator, (long)frames * pageSize, 0))
        {
            final ReadAll read = readAll(chunk, translator::open, translator::readsDirectly,
                translator::sharingUnavailableReason, (file, dst, position) -> cache.read(file, position, dst));
            final long heapRetained = Math.max(0, FootprintTool.heapUsedAfterGc() - heapBefore);
            // the translator's bounce pages and run buffers are its own, not the cache's reservation
            final long directGrowth = FootprintTool.directPoolBytes() - directBefore -
                translator.directBytesAllocated();
            final ObjectNode line = Json.object();
            line.put("mode", mode);
            line.put("pid", ProcessHandle.current().pid());
            line.put("heap_retained_bytes", heapRetained);
            line.put("heap_estimate_bytes", cache.heapMetadataEstimate());
            line.put("direct_pool_bytes", directGrowth);
            line.put("resident_bytes", cache.residentBytes());
            line.put("reserved_bytes", cache.reservedBytes());
            line.put("offheap_metadata_bytes", cache.offHeapMetadataBytes());
            line.put("device_reads", cache.deviceReads());
            line.put("sharing_hits", cache.stats().sharingHits());
            line.put("files_not_direct", read.notDirect());
            line.put("files_not_sharing", read.notSharing());
            line.put("elapsed_ms", Json.round(read.elapsedNanos() / 1e6, 1));
            report(line, stdin);
        }
    }

    /** A call on a file of either cache that may fail with an {@code IOException}. */
    @FunctionalInterface
    private interface FileCall<T>
    {
        T apply(long file) throws IOException;
    }

    /** A read of either cache: into {@code dst} from {@code position}, the bytes read or -1. */
    @FunctionalInterface
    private interface FileRead
    {
        int read(long file, ByteBuffer dst, long position) throws IOException;
    }

    /** A path's open of either cache. */
    @FunctionalInterface
    private interface FileOpen
    {
        long open(Path path) throws IOException;
    }

    /** What reading every file in full found: files not read with O_DIRECT, files not sharing, the time it took. */
    private record ReadAll(int notDirect, int notSharing, long elapsedNanos)
    {
    }

    /** Opens and reads every file in full through one cache, a chunk at a time, checking each file's size. */
    private ReadAll readAll(final ByteBuffer chunk, final FileOpen open, final FileCall<Boolean> readsDirectly,
        final FileCall<String> sharingUnavailableReason, final FileRead read) throws IOException
    {
        final long start = System.nanoTime();
        int notDirect = 0;
        int notSharing = 0;
        for (final Path path : files)
        {
            final long file = open.open(path);
            notDirect += readsDirectly.apply(file) ? 0 : 1;
            notSharing += null == sharingUnavailableReason.apply(file) ? 0 : 1;
            long position = 0;
            int n;
            while ((n = read.read(file, chunk.clear(), position)) > 0)
            {
                position += n;
            }
            checkSize(path, position);
        }
        return new ReadAll(notDirect, notSharing, System.nanoTime() - start);
    }

    private static void checkSize(final Path path, final long read) throws IOException
    {
        final long size = Files.size(path);
        if (read != size)
        {
            throw new IOException("read a different size than the file has: file=" + path + " read=" + read +
                " size=" + size);
        }
    }

    /** Prints the line, then holds the cache open until the parent says it has measured. */
    private static void report(final ObjectNode line, final BufferedReader stdin) throws IOException
    {
        try
        {
            System.out.println(Json.MAPPER.writer().without(SerializationFeature.INDENT_OUTPUT)
                .writeValueAsString(line));
        }
        catch (final JsonProcessingException ex)
        {
            throw new IOException("a tree of plain nodes always serialises", ex);
        }
        System.out.flush();
        String answer;
        while (null != (answer = stdin.readLine()) && !DONE.equals(answer.strip()))
        {
            // anything else is not for us
        }
    }
}
