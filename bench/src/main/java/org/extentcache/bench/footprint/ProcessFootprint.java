package org.extentcache.bench.footprint;

import com.fasterxml.jackson.databind.JsonNode;
import org.extentcache.JvmFlags;
import org.extentcache.fs.NativeLibc;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The footprint tool's {@code --processes N} mode: N JVMs on one host reading the same reflinked files, through one
 * shared-memory cache ({@code SharedCache} over {@code SharedFiles}), against N JVMs with a cache each and against
 * the kernel's page cache.
 *
 * <h2>Steps</h2>
 * <ol>
 *   <li><b>Files</b>: in a new directory under {@code --work-dir}, else under {@code EXTENTCACHE_REFLINK_DIR}
 *       (a directory on a file system with reflink: XFS with {@code reflink=1}, btrfs), a base of
 *       {@code --image-mib} of seeded random bytes, written with {@code O_DIRECT} so that the kernel caches none of
 *       it, and {@code --clones} copies made with {@code cp --reflink=always} (no divergence: every block is
 *       shared). No directory, or a {@code cp} that cannot clone there, gives a result that is not
 *       {@link ProcessReport#available available} and says why.</li>
 *   <li><b>Shared</b>: N child JVMs ({@link FootprintClient}, started with this JVM's {@code java.home}, class path
 *       and {@link JvmFlags#required()}) each join one shared cache file on {@code /dev/shm} (frames for every
 *       distinct page plus {@value #SLACK_FRAMES}, N client slots), open every file with {@code SharedFiles}
 *       ({@code O_DIRECT} reads) and read it in full; each reports its Java heap retained, measured after GC against
 *       a baseline taken before it joined. While every child is still joined, this process counts the blocks tmpfs
 *       allocated for the shared file ({@code stat -c '%b %B'}: the memory it takes, not its length) and the page
 *       cache the kernel holds for the files ({@code fincore}); then it tells the children to close and exit.</li>
 *   <li><b>Per JVM</b>: N child JVMs each with its own in-process ExtentCache over a {@code FileSystemTranslator}
 *       ({@code O_DIRECT}, the same frames), measured the same way (resident frames + off-heap metadata + heap
 *       retained), all alive at once: measured in N processes, not one process's figure times N.</li>
 *   <li><b>Kernel</b>: this process reads every file once through the page cache and {@code fincore} counts what is
 *       resident (before and after). The page cache is keyed by (inode, offset), so N processes reading the files
 *       buffered share each file's pages: one reader gives the same figure as N.</li>
 *   <li>The files and the shared file are deleted, even on failure.</li>
 * </ol>
 *
 * <h2>Caveats</h2>
 * The children start together and race to load the same blocks; each checks the frames others loaded against its
 * own file (one {@code O_DIRECT} read per block per process), so the shared pass costs N reads of each block. The
 * kernel figure is what is resident after the reads (pages evicted meanwhile are not counted). Children run with
 * {@code -Xmx512m}; a child's JVM itself (code, metaspace, thread stacks) is not counted, in either mode, since it is
 * the same with or without a cache.
 *
 * <p><b>Thread safety:</b> none; one thread runs a measurement.
 */
final class ProcessFootprint
{
    /** Where the files go when {@code --work-dir} is not given. */
    static final String REFLINK_DIR_VARIABLE = "EXTENTCACHE_REFLINK_DIR";
    /** Frames the caches get beyond the distinct pages. */
    static final int SLACK_FRAMES = 64;

    private static final int CHUNK_BYTES = 1 << 20;
    private static final long CHILD_TIMEOUT_SECONDS = 600;
    private static final Path SHM = Path.of("/dev/shm");

    private ProcessFootprint()
    {
    }

    /**
     * Runs the steps of the class comment.
     *
     * @param options  the tool's options: {@code processes}, {@code imageBytes}, {@code clones}, {@code pageSize},
     *                 {@code seed}, {@code workDir}.
     * @param progress progress bar.
     * @return the report; not {@link ProcessReport#available available} if the environment cannot run it.
     * @throws IOException if a step failed after the environment was found fit (a child failed, a file could not be
     *                     written or read).
     */
    static ProcessReport measure(final FootprintTool.Options options, final Progress progress) throws IOException
    {
        final String variable = System.getenv(REFLINK_DIR_VARIABLE);
        final Path root = null != options.workDir ? options.workDir :
            null == variable || variable.isBlank() ? null : Path.of(variable);
        if (null == root)
        {
            return ProcessReport.skipped(options, "no directory on a file system with reflink: give --work-dir or " +
                "set " + REFLINK_DIR_VARIABLE + " (an XFS made with mkfs.xfs -m reflink=1, or btrfs)");
        }
        if (!Files.isDirectory(root) || !Files.isWritable(root))
        {
            return ProcessReport.skipped(options, root + " is not a writable directory");
        }
        if (!Files.isDirectory(SHM) || !Files.isWritable(SHM))
        {
            return ProcessReport.skipped(options, SHM + " is not a writable directory (tmpfs for the shared cache)");
        }
        final String cp = ExternalCommand.locate("cp");
        final String stat = ExternalCommand.locate("stat");
        if (null == cp || null == stat)
        {
            return ProcessReport.skipped(options, null == cp ? ExternalCommand.notFound("cp", "coreutils") :
                ExternalCommand.notFound("stat", "coreutils"));
        }
        final Path dir = Files.createTempDirectory(root, "process-footprint-");
        final Path shm = SHM.resolve("extentcache-footprint-" + ProcessHandle.current().pid());
        try
        {
            final List<Path> files = new ArrayList<>();
            files.add(dir.resolve("base"));
            writeBase(files.get(0), options.imageBytes, new SplittableRandom(options.seed));
            for (int c = 1; c <= options.clones; c++)
            {
                final Path clone = dir.resolve("clone-" + c);
                final ExternalCommand.Output output = ExternalCommand.run(dir.resolve("command.out"),
                    dir.resolve("command.err"), cp, "--reflink=always", files.get(0).toString(), clone.toString());
                if (!output.ok())
                {
                    return ProcessReport.skipped(options, "cannot clone in " + root + " (no reflink there?): " +
                        output.describe());
                }
                files.add(clone);
            }
            final int frames = (int)(options.imageBytes / options.pageSize) + SLACK_FRAMES;
            final String fincore = Fincore.locate();

            progress.start(options.processes + " JVMs, one shared cache", 1);
            final List<Child> sharedChildren = start(options, "shared", frames, shm, files, dir);
            final List<JsonNode> shared = reports(sharedChildren);
            final long allocated = allocatedBytes(stat, shm, dir);
            final long sharedKernelBeside = null == fincore ? -1 : pageCacheBytes(fincore, files, dir);
            finish(sharedChildren);
            progress.done();

            progress.start(options.processes + " JVMs, a cache each", 1);
            final List<Child> privateChildren = start(options, "private", frames, shm, files, dir);
            final List<JsonNode> perJvm = reports(privateChildren);
            final long perJvmKernelBeside = null == fincore ? -1 : pageCacheBytes(fincore, files, dir);
            finish(privateChildren);
            progress.done();

            ProcessReport.Kernel kernel = ProcessReport.Kernel.unavailable(Fincore.notFound());
            if (null != fincore)
            {
                final long before = pageCacheBytes(fincore, files, dir);
                progress.start("kernel page cache", (long)files.size() * options.imageBytes);
                final long start = System.nanoTime();
                for (final Path file : files)
                {
                    KernelFootprint.readFully(file, options.imageBytes);
                    progress.advance(options.imageBytes);
                }
                final long elapsedNanos = System.nanoTime() - start;
                progress.done();
                final long after = pageCacheBytes(fincore, files, dir);
                kernel = after < 0 ? ProcessReport.Kernel.unavailable("fincore failed") :
                    new ProcessReport.Kernel(true, null, before, after, elapsedNanos);
            }
            return new ProcessReport(options, true, null, dir, shm, frames, allocated, shared, sharedKernelBeside,
                perJvm, perJvmKernelBeside, kernel);
        }
        finally
        {
            Files.deleteIfExists(shm);
            deleteTree(dir);
        }
    }

    /** Writes the base: seeded random bytes, 1 MiB at a time, with {@code O_DIRECT} where the JDK and file system
     * take it (then nothing of it is left in the page cache). */
    private static void writeBase(final Path file, final long bytes, final SplittableRandom random)
        throws IOException
    {
        final ByteBuffer chunk = ByteBuffer.allocateDirect(2 * CHUNK_BYTES).alignedSlice(CHUNK_BYTES)
            .limit(CHUNK_BYTES).slice();
        FileChannel channel;
        try
        {
            channel = null == NativeLibc.O_DIRECT ? null : FileChannel.open(file, StandardOpenOption.CREATE_NEW,
                StandardOpenOption.WRITE, NativeLibc.O_DIRECT);
        }
        catch (final UnsupportedOperationException | IOException ex)
        {
            Files.deleteIfExists(file);
            channel = null;
        }
        if (null == channel)
        {
            channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        }
        try (FileChannel out = channel)
        {
            for (long at = 0; at < bytes; at += CHUNK_BYTES)
            {
                Workload.fill(chunk.clear(), random);
                long position = at;
                while (chunk.hasRemaining())
                {
                    position += out.write(chunk, position);
                }
            }
            out.force(true);
        }
    }

    /** A child JVM and its pipes. */
    private record Child(Process process, BufferedReader stdout, Writer stdin, Path stderr)
    {
    }

    private static List<Child> start(final FootprintTool.Options options, final String mode, final int frames,
        final Path shm, final List<Path> files, final Path dir) throws IOException
    {
        final List<Child> children = new ArrayList<>();
        try
        {
            for (int i = 0; i < options.processes; i++)
            {
                final List<String> command = new ArrayList<>();
                command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
                command.addAll(Arrays.asList(JvmFlags.required().trim().split("\\s+")));
                command.add("-Xmx512m");
                command.add("-XX:MaxDirectMemorySize=" + ((long)frames * options.pageSize + (256L << 20)));
                command.add("-cp");
                command.add(System.getProperty("java.class.path"));
                command.add(FootprintClient.class.getName());
                command.addAll(List.of("--mode", mode, "--page-size", Integer.toString(options.pageSize), "--frames",
                    Integer.toString(frames), "--shm", shm.toString(), "--client-slots",
                    Integer.toString(options.processes)));
                for (final Path file : files)
                {
                    command.add(file.toString());
                }
                final Path stderr = dir.resolve(mode + "-" + i + ".err");
                final Process process = new ProcessBuilder(command).redirectError(stderr.toFile()).start();
                children.add(new Child(process,
                    new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)),
                    new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8), stderr));
            }
            return children;
        }
        catch (final IOException | RuntimeException ex)
        {
            children.forEach(child -> child.process().destroyForcibly());
            throw ex;
        }
    }

    /** @return each child's line of JSON, in start order; on a failure every child is killed. */
    private static List<JsonNode> reports(final List<Child> children) throws IOException
    {
        final List<JsonNode> reports = new ArrayList<>();
        try
        {
            for (final Child child : children)
            {
                String line = child.stdout().readLine();
                while (null != line && !line.startsWith("{"))
                {
                    line = child.stdout().readLine(); // a JVM warning, not the report
                }
                if (null == line)
                {
                    child.process().waitFor(10, TimeUnit.SECONDS);
                    throw new IOException("a footprint client exited without a report (" + (child.process()
                        .isAlive() ? "still running" : "exit " + child.process().exitValue()) + "): " +
                        Files.readString(child.stderr()).strip());
                }
                reports.add(Json.MAPPER.readTree(line));
            }
            return reports;
        }
        catch (final IOException | RuntimeException ex)
        {
            children.forEach(child -> child.process().destroyForcibly());
            throw ex;
        }
        catch (final InterruptedException ex)
        {
            children.forEach(child -> child.process().destroyForcibly());
            Thread.currentThread().interrupt();
            throw new IOException("interrupted waiting for a footprint client", ex);
        }
    }

    /** Tells every child it may close, and waits for each to exit 0. */
    private static void finish(final List<Child> children) throws IOException
    {
        try
        {
            for (final Child child : children)
            {
                child.stdin().write(FootprintClient.DONE + "\n");
                child.stdin().close();
            }
            for (final Child child : children)
            {
                if (!child.process().waitFor(CHILD_TIMEOUT_SECONDS, TimeUnit.SECONDS) ||
                    0 != child.process().exitValue())
                {
                    throw new IOException("a footprint client did not close cleanly: " +
                        Files.readString(child.stderr()).strip());
                }
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted waiting for a footprint client", ex);
        }
        finally
        {
            children.forEach(child -> child.process().destroyForcibly());
        }
    }

    /** @return the bytes tmpfs allocated for a file: {@code stat}'s blocks times its block unit. */
    static long allocatedBytes(final String stat, final Path file, final Path dir) throws IOException
    {
        final ExternalCommand.Output output = ExternalCommand.run(dir.resolve("command.out"),
            dir.resolve("command.err"), stat, "--format=%b %B", file.toString());
        if (!output.ok())
        {
            throw new IOException("cannot count the blocks of the shared file: " + output.describe());
        }
        final String[] fields = output.stdout().strip().split("\\s+");
        return Long.parseLong(fields[0]) * Long.parseLong(fields[1]);
    }

    /** @return the page-cache bytes resident for the files now, or -1 if fincore failed. */
    private static long pageCacheBytes(final String fincore, final List<Path> files, final Path dir)
        throws IOException
    {
        final Fincore.Count count =
            Fincore.residentBytes(fincore, files, dir.resolve("command.out"), dir.resolve("command.err"));
        return count.ok() ? count.total() : -1;
    }

    private static void deleteTree(final Path dir) throws IOException
    {
        try (Stream<Path> paths = Files.walk(dir))
        {
            for (final Path path : paths.sorted(Comparator.reverseOrder()).toList())
            {
                Files.deleteIfExists(path);
            }
        }
    }
}
