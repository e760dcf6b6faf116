package org.extentcache.fs;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Where real-file tests get a directory on XFS with reflink: {@code EXTENTCACHE_REFLINK_DIR}, which {@code .ci/run}
 * sets after loop-mounting an image made with {@code mkfs.xfs -m reflink=1}. Tests that need it skip, saying why,
 * where it is not set ({@code .ci/run} puts its reason in {@code EXTENTCACHE_REFLINK_SKIP}).
 */
public final class ReflinkDir
{
    private ReflinkDir()
    {
    }

    /**
     * @return a fresh empty directory on the reflink file system; the caller deletes it with {@link #delete}.
     * @throws org.opentest4j.TestAbortedException if there is none.
     */
    public static Path create() throws IOException
    {
        final String dir = System.getenv("EXTENTCACHE_REFLINK_DIR");
        final String skip = System.getenv("EXTENTCACHE_REFLINK_SKIP");
        Assumptions.assumeTrue(null != dir && !dir.isEmpty(), () -> "no XFS with reflink: " + (null != skip ? skip :
            "EXTENTCACHE_REFLINK_DIR is not set (bash .ci/run mounts one as root; or mount an XFS made with " +
            "mkfs.xfs -m reflink=1 and set it to a writable directory there)"));
        final Path root = Path.of(dir);
        Assumptions.assumeTrue(Files.isDirectory(root) && Files.isWritable(root),
            () -> "EXTENTCACHE_REFLINK_DIR=" + dir + " is not a writable directory");
        return Files.createTempDirectory(root, "test");
    }

    /**
     * {@code cp --reflink=always from to}: a clone sharing every extent.
     */
    static void cloneFile(final Path from, final Path to) throws IOException
    {
        run(List.of("cp", "--reflink=always", from.toString(), to.toString()));
    }

    static void run(final List<String> command) throws IOException
    {
        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        try
        {
            final String output = new String(process.getInputStream().readAllBytes());
            if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0)
            {
                throw new IOException(String.join(" ", command) + " failed: " + output);
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted: " + command, ex);
        }
        finally
        {
            process.destroyForcibly();
        }
    }

    public static void delete(final Path dir)
    {
        if (null == dir)
        {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir))
        {
            for (final Path path : paths.sorted(Comparator.reverseOrder()).toList())
            {
                Files.deleteIfExists(path);
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }
}
