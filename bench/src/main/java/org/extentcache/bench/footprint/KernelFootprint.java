package org.extentcache.bench.footprint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;

import org.extentcache.bench.footprint.ExternalCommand.Output;

/**
 * The kernel's page cache, measured: the same base image and clones as the footprint tool's {@code Workload}, as
 * real {@code cp --reflink} files on a loop-mounted XFS, each read once in full through the OS page cache, and the
 * resident pages of each file counted with {@code fincore}. Linux keys its page cache by <em>(inode, offset)</em>,
 * so every clone gets its own copy of every block it shares: expect {@code copies == clones + 1}.
 *
 * <h2>Steps</h2>
 * <ol>
 *   <li>Check the environment: Linux, root ({@code id -u}), and {@code mkfs.xfs}, {@code mount}, {@code umount},
 *       {@code cp} and {@code fincore} on the {@code PATH} or in the usual {@code sbin}/{@code bin} directories.
 *       Nothing is installed: a CI script installs {@code xfsprogs}.</li>
 *   <li>In a new directory under {@code workDir}: a sparse image of
 *       {@code 1.2 * (imageBytes + clones * divergedBytes) + 300 MiB} (XFS wants at least 300 MB),
 *       {@code mkfs.xfs -q -f -b size=4096 -m reflink=1}, {@code mount -t xfs -o loop}.</li>
 *   <li>Write the base file; {@code cp --reflink=always} it to each clone; overwrite
 *       {@code round(divergence * pages)} distinct pages of each clone with new bytes (XFS copies those blocks on
 *       write); {@code fsync} every file. With the same seed, the bytes are exactly those of {@code Workload}
 *       with 4096-byte pages: a {@link SplittableRandom} fills the base in 1 MiB chunks, then each clone takes a
 *       seeded permutation of page indexes and a fresh random page for each of its first
 *       {@code round(divergence * pages)} entries.</li>
 *   <li>Unmount and mount again: dropping the filesystem evicts its page cache, without the global
 *       {@code /proc/sys/vm/drop_caches} (which containers often forbid) and without {@code posix_fadvise} (which
 *       Java cannot call).</li>
 *   <li>Read every file once in full with {@link FileChannel} (timed: {@link Result#elapsedNanos()}), then count
 *       each file's resident bytes with {@code fincore --bytes --noheadings --raw --output RES} ({@link Fincore}).</li>
 *   <li>Always, even on failure: unmount ({@code umount -l} if the plain unmount fails), delete the image and the
 *       directory.</li>
 * </ol>
 * An environment that cannot do this (not Linux, not root, a tool missing, no loop devices or no
 * {@code CAP_SYS_ADMIN} in a container, a kernel without XFS reflink) yields a result that is not
 * {@link Result#available() available} and says why; the method does not throw for it.
 *
 * <h2>Costs and caveats</h2>
 * <ul>
 *   <li>Needs root, and real disk under {@code workDir} for the data actually written (the image is sparse):
 *       {@code imageBytes + clones * divergedBytes} plus a few MiB of XFS metadata.</li>
 *   <li>Memory: the measured files use {@code (clones + 1) * imageBytes} of page cache. The loop driver reads the
 *       image through the host filesystem's page cache too, which adds about one copy of the distinct blocks
 *       read; that copy belongs to the image file, below the filesystem under test, and is not counted.</li>
 *   <li>Memory pressure between reading and counting would evict pages and lower the count; the figure is what
 *       the kernel held, not what it would ideally hold.</li>
 *   <li>External commands are started with argument lists (no shell), {@code LC_ALL=C}, and a
 *       {@value #COMMAND_TIMEOUT_SECONDS} s timeout each; their output goes to files in the scratch directory.</li>
 * </ul>
 *
 * <p><b>Thread safety:</b> {@link #measure} is safe to call from several threads; each call works in its own
 * directory and filesystem.
 */
public final class KernelFootprint
{
    /** XFS block size used, and the page size of the divergence step. */
    public static final int BLOCK_SIZE = 4096;

    /** Longest any external command may run. */
    public static final long COMMAND_TIMEOUT_SECONDS = ExternalCommand.TIMEOUT_SECONDS;

    private static final int CHUNK_BYTES = 1 << 20;
    private static final long HEADROOM_BYTES = 300L << 20;
    private static final double METADATA_FACTOR = 1.2;

    private KernelFootprint()
    {
    }

    /**
     * What the kernel held after every file was read once.
     *
     * @param available            true if the measurement ran; if false only {@code skipReason}, {@code imageBytes}
     *                             and {@code clones} mean anything.
     * @param skipReason           why the measurement could not run, or null if it ran.
     * @param imageBytes           bytes per file.
     * @param clones               clones of the base; there are {@code clones + 1} files.
     * @param residentBytes        page-cache bytes resident over all files.
     * @param perFileResidentBytes page-cache bytes resident per file, the base first, then clone 1, 2, ...
     * @param copies               {@code residentBytes / imageBytes}.
     * @param elapsedNanos         time to read every file once in full, cold, through the page cache.
     */
    public record Result(
        boolean available,
        String skipReason,
        long imageBytes,
        int clones,
        long residentBytes,
        long[] perFileResidentBytes,
        double copies,
        long elapsedNanos)
    {
        /**
         * Copies {@code perFileResidentBytes}: the record owns its array.
         */
        public Result
        {
            perFileResidentBytes = perFileResidentBytes.clone();
        }

        /**
         * @return a copy of the per-file resident bytes; empty if not {@link #available()}.
         */
        @Override
        public long[] perFileResidentBytes()
        {
            return perFileResidentBytes.clone();
        }

        /**
         * @return files measured: the base and its clones.
         */
        public int files()
        {
            return clones + 1;
        }

        static Result skipped(final String reason, final long imageBytes, final int clones)
        {
            return new Result(false, reason, imageBytes, clones, 0, new long[0], 0, 0);
        }

        @Override
        public String toString()
        {
            return "Result{available=" + available + ", skipReason=" + skipReason + ", imageBytes=" + imageBytes +
                ", clones=" + clones + ", residentBytes=" + residentBytes + ", perFileResidentBytes=" +
                Arrays.toString(perFileResidentBytes) + ", copies=" + copies + ", elapsedNanos=" + elapsedNanos + '}';
        }
    }

    /**
     * Builds the base and its clones on a fresh loop-mounted XFS under {@code workDir}, reads each once in full and
     * counts what the page cache holds; see the class comment for the steps.
     *
     * @param workDir    where the scratch directory (image and mount point) goes; needs room for the data written.
     * @param imageBytes bytes per file, a positive multiple of {@link #BLOCK_SIZE}.
     * @param clones     reflink clones of the base, {@code >= 0}.
     * @param divergence fraction of each clone's pages overwritten after cloning, from 0 to 1.
     * @param seed       seed for the data and the pages overwritten.
     * @return the measurement, or a result that is not {@link Result#available() available} with the reason.
     * @throws NullPointerException     if {@code workDir} is null.
     * @throws IllegalArgumentException naming the offending value.
     * @throws IOException              if the environment worked but a step failed afterwards (writing, reading,
     *                                  remounting), or cleaning up failed; a mount left behind is named.
     */
    public static Result measure(final Path workDir, final long imageBytes, final int clones, final double divergence,
        final long seed) throws IOException
    {
        Objects.requireNonNull(workDir, "workDir");
        if (imageBytes <= 0 || imageBytes % BLOCK_SIZE != 0 || imageBytes / BLOCK_SIZE > Integer.MAX_VALUE)
        {
            throw new IllegalArgumentException("imageBytes must be a positive multiple of " + BLOCK_SIZE +
                " of at most " + Integer.MAX_VALUE + " pages: imageBytes=" + imageBytes);
        }
        if (clones < 0)
        {
            throw new IllegalArgumentException("clones must be >= 0: clones=" + clones);
        }
        if (!(divergence >= 0 && divergence <= 1))
        {
            throw new IllegalArgumentException("divergence must be from 0 to 1: divergence=" + divergence);
        }
        final String os = System.getProperty("os.name", "");
        if (!os.startsWith("Linux"))
        {
            return Result.skipped("not Linux: os.name=" + os, imageBytes, clones);
        }
        final Tools tools = Tools.find();
        if (null != tools.missing())
        {
            return Result.skipped(tools.missing(), imageBytes, clones);
        }
        final int pages = (int)(imageBytes / BLOCK_SIZE);
        final int diverged = (int)Math.round(divergence * pages);
        final double dataBytes = imageBytes + (double)clones * diverged * BLOCK_SIZE;
        final long filesystemBytes = roundUpToMib((long)Math.ceil(METADATA_FACTOR * dataBytes) + HEADROOM_BYTES);
        try (Scratch scratch = new Scratch(Files.createTempDirectory(workDir, "kernel-footprint-"), tools))
        {
            final String root = scratch.checkRoot();
            if (null != root)
            {
                return Result.skipped(root, imageBytes, clones);
            }
            final String unformatted = scratch.format(filesystemBytes);
            if (null != unformatted)
            {
                return Result.skipped(unformatted, imageBytes, clones);
            }
            final String unmounted = scratch.mount();
            if (null != unmounted)
            {
                return Result.skipped(unmounted, imageBytes, clones);
            }
            final Path[] files = new Path[clones + 1];
            for (int f = 0; f <= clones; f++)
            {
                files[f] = scratch.mountPoint.resolve(0 == f ? "base" : "clone-" + f);
            }
            final SplittableRandom random = new SplittableRandom(seed);
            writeBase(files[0], imageBytes, random);
            for (int c = 1; c <= clones; c++)
            {
                final String notCloned = scratch.reflink(files[0], files[c]);
                if (null != notCloned)
                {
                    return Result.skipped(notCloned, imageBytes, clones);
                }
                diverge(files[c], pages, diverged, random);
            }
            scratch.remount();
            final long start = System.nanoTime();
            for (final Path file : files)
            {
                readFully(file, imageBytes);
            }
            final long elapsedNanos = System.nanoTime() - start;
            final Fincore.Count resident =
                Fincore.residentBytes(tools.fincore(), List.of(files), scratch.stdoutFile, scratch.stderrFile);
            if (!resident.ok())
            {
                return Result.skipped(resident.failure(), imageBytes, clones);
            }
            return new Result(true, null, imageBytes, clones, resident.total(), resident.bytes(),
                (double)resident.total() / imageBytes, elapsedNanos);
        }
    }

    /** Writes the base image: seeded random bytes, 1 MiB at a time, as {@code Workload} does. */
    private static void writeBase(final Path file, final long imageBytes, final SplittableRandom random)
        throws IOException
    {
        final ByteBuffer chunk = ByteBuffer.allocateDirect(CHUNK_BYTES);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE))
        {
            for (long at = 0; at < imageBytes; at += chunk.capacity())
            {
                Workload.fill(chunk.clear().limit((int)Math.min(chunk.capacity(), imageBytes - at)), random);
                writeFully(channel, chunk, at);
            }
            channel.force(true);
        }
    }

    /** Overwrites {@code count} distinct pages of a clone, chosen by a seeded permutation, with new random pages. */
    private static void diverge(final Path file, final int pages, final int count, final SplittableRandom random)
        throws IOException
    {
        final int[] order = Workload.permutation(random, pages);
        final ByteBuffer page = ByteBuffer.allocateDirect(BLOCK_SIZE);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE))
        {
            for (int i = 0; i < count; i++)
            {
                Workload.fill(page.clear(), random);
                writeFully(channel, page, (long)order[i] * BLOCK_SIZE);
            }
            channel.force(true);
        }
    }

    private static void writeFully(final FileChannel channel, final ByteBuffer src, final long position)
        throws IOException
    {
        long at = position;
        while (src.hasRemaining())
        {
            at += channel.write(src, at);
        }
    }

    /**
     * Reads a file once, start to end, through the page cache, 1 MiB at a time.
     *
     * @param file          the file.
     * @param expectedBytes its size.
     * @throws IOException if it cannot be read, or the bytes read are not {@code expectedBytes} (the message names
     *                     the file and both sizes).
     */
    static void readFully(final Path file, final long expectedBytes) throws IOException
    {
        final ByteBuffer chunk = ByteBuffer.allocateDirect(CHUNK_BYTES);
        long total = 0;
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ))
        {
            int n;
            while ((n = channel.read(chunk.clear(), total)) >= 0)
            {
                total += n;
            }
        }
        if (total != expectedBytes)
        {
            throw new IOException("read a different size than written: file=" + file + " read=" + total +
                " expected=" + expectedBytes);
        }
    }

    private static long roundUpToMib(final long bytes)
    {
        final long mib = 1L << 20;
        return (bytes + mib - 1) / mib * mib;
    }

    /**
     * The external commands, resolved to absolute paths.
     *
     * @param missing every command not found, with its package, or null if all were found.
     */
    private record Tools(String id, String mkfsXfs, String mount, String umount, String cp, String fincore,
        String missing)
    {
        /**
         * @return the tools, with {@link #missing} naming every one not found (and its package), or null.
         */
        static Tools find()
        {
            final List<String> missing = new ArrayList<>();
            final String id = locate("id", "coreutils", missing);
            final String mkfsXfs = locate("mkfs.xfs", "xfsprogs", missing);
            final String mount = locate("mount", "mount/util-linux", missing);
            final String umount = locate("umount", "mount/util-linux", missing);
            final String cp = locate("cp", "coreutils", missing);
            final String fincore = locate("fincore", Fincore.PACKAGE, missing);
            return new Tools(id, mkfsXfs, mount, umount, cp, fincore,
                missing.isEmpty() ? null : "missing tools (searched PATH and " + ExternalCommand.SYSTEM_DIRECTORIES +
                "): " + String.join(", ", missing));
        }

        private static String locate(final String name, final String pkg, final List<String> missing)
        {
            final String found = ExternalCommand.locate(name);
            if (null == found)
            {
                missing.add(name + " (" + pkg + ")");
            }
            return found;
        }
    }

    /**
     * The scratch directory: the image, the mount point and the command output files; {@link #close()} unmounts and
     * deletes them all.
     */
    private static final class Scratch implements AutoCloseable
    {
        final Path directory;
        final Path image;
        final Path mountPoint;
        final Path stdoutFile;
        final Path stderrFile;
        final Tools tools;
        boolean mounted;

        Scratch(final Path directory, final Tools tools)
        {
            this.directory = directory;
            this.image = directory.resolve("xfs.img");
            this.mountPoint = directory.resolve("mnt");
            this.stdoutFile = directory.resolve("command.out");
            this.stderrFile = directory.resolve("command.err");
            this.tools = tools;
        }

        /** @return null if running as root, else why not. */
        String checkRoot() throws IOException
        {
            final Output output = run(tools.id(), "-u");
            if (!output.ok())
            {
                return "cannot tell whether running as root: " + output.describe();
            }
            final String uid = output.stdout().strip();
            return "0".equals(uid) ? null :
                "not root: id -u=" + uid + " (mounting a loop device needs root or CAP_SYS_ADMIN)";
        }

        /** Creates the sparse image and makes an XFS with reflink on it; @return null, or why it failed. */
        String format(final long bytes) throws IOException
        {
            try (FileChannel channel = FileChannel.open(image, StandardOpenOption.CREATE_NEW,
                StandardOpenOption.WRITE))
            {
                channel.write(ByteBuffer.allocate(1), bytes - 1);
            }
            final Output output = run(tools.mkfsXfs(), "-q", "-f", "-b", "size=" + BLOCK_SIZE, "-m", "reflink=1",
                image.toString());
            return output.ok() ? null : "mkfs.xfs failed: " + output.describe();
        }

        /** Mounts the image through a loop device; @return null, or why it failed. */
        String mount() throws IOException
        {
            Files.createDirectories(mountPoint);
            final Output output =
                run(tools.mount(), "-t", "xfs", "-o", "loop", image.toString(), mountPoint.toString());
            if (!output.ok())
            {
                return "cannot loop-mount XFS (needs loop devices and CAP_SYS_ADMIN): " + output.describe();
            }
            mounted = true;
            return null;
        }

        /** Clones a file with {@code cp --reflink=always}; @return null, or why it failed. */
        String reflink(final Path src, final Path dst) throws IOException
        {
            final Output output = run(tools.cp(), "--reflink=always", src.toString(), dst.toString());
            return output.ok() ? null : "cp --reflink=always failed (no reflink support?): " + output.describe();
        }

        /**
         * Unmounts and mounts again, which evicts every page the filesystem's files had cached.
         *
         * @throws IOException if either step fails: the mount worked before, so this is not an environment problem.
         */
        void remount() throws IOException
        {
            final Output output = run(tools.umount(), mountPoint.toString());
            if (!output.ok())
            {
                throw new IOException("cannot unmount to drop the page cache: " + output.describe());
            }
            mounted = false;
            final String failure = mount();
            if (null != failure)
            {
                throw new IOException("cannot mount again after unmounting: " + failure);
            }
        }

        /**
         * Runs a command without a shell, output to the scratch files, with a timeout; see
         * {@link ExternalCommand#run}.
         */
        Output run(final String... args) throws IOException
        {
            return ExternalCommand.run(stdoutFile, stderrFile, args);
        }

        /**
         * Unmounts ({@code umount -l} if a plain unmount fails) and deletes everything.
         *
         * @throws IOException naming the mount point if it could not be unmounted (then the image is kept), or if a
         *                     file could not be deleted.
         */
        @Override
        public void close() throws IOException
        {
            if (mounted)
            {
                final Output plain = run(tools.umount(), mountPoint.toString());
                if (!plain.ok())
                {
                    final Output lazy = run(tools.umount(), "-l", mountPoint.toString());
                    if (!lazy.ok())
                    {
                        throw new IOException("left mounted, unmount it by hand: mountPoint=" + mountPoint + "; " +
                            plain.describe() + "; " + lazy.describe());
                    }
                }
                mounted = false;
            }
            Files.deleteIfExists(mountPoint);
            Files.deleteIfExists(image);
            Files.deleteIfExists(stdoutFile);
            Files.deleteIfExists(stderrFile);
            Files.deleteIfExists(directory);
        }
    }
}
