package org.extentcache.fs;

import org.extentcache.shm.SharedCache;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the {@link SharedFiles} tests share: reading a whole file, a page's key as the file maps it now, xfs_io. */
final class SharedFilesFixture
{
    private SharedFilesFixture()
    {
    }

    /** @return every byte of an open file, read through {@code files}. */
    static byte[] readAll(final SharedFiles files, final long file) throws IOException
    {
        final ByteBuffer all = ByteBuffer.allocate((int)files.size(file));
        while (all.hasRemaining())
        {
            assertTrue(files.read(file, all, all.position()) > 0);
        }
        return all.array();
    }

    /** @return the shared key of a page as the file maps it now (a fresh FIEMAP), 4 KiB pages. */
    static long keyOf(final SharedCache cache, final Path path, final long page) throws IOException
    {
        final int pageSize = cache.pageSize();
        final ExtentReader.Loaded loaded = new ExtentReader(pageSize).load(path, path);
        final Layout layout = Layout.of(loaded.extents(), loaded.attrs().size(), pageSize,
            BlockKeys.deviceBits(cache.fileSystemIndex(loaded.attrs().dev())));
        final int run = layout.find(page);
        return layout.key[run] + (page - layout.start[run]);
    }

    /** Writes a file and syncs it, so that its extents are real blocks (not delayed allocation). */
    static void writeSynced(final Path path, final byte[] bytes) throws IOException
    {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING))
        {
            final ByteBuffer all = ByteBuffer.wrap(bytes);
            while (all.hasRemaining())
            {
                channel.write(all, all.position());
            }
            channel.force(true);
        }
    }

    /** Runs {@code xfs_io -c command ... file}, failing the test if it fails. */
    static void xfsIo(final Path file, final String... commands) throws IOException
    {
        final List<String> command = new ArrayList<>(List.of("xfs_io"));
        for (final String each : commands)
        {
            command.add("-c");
            command.add(each);
        }
        command.add(file.toString());
        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        try
        {
            final String output = new String(process.getInputStream().readAllBytes());
            assertTrue(process.waitFor(60, TimeUnit.SECONDS), String.join(" ", command));
            assertEquals(0, process.exitValue(), String.join(" ", command) + ": " + output);
            assertFalse(output.contains("not supported") || output.contains("failed"), output);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IOException(ex);
        }
        finally
        {
            process.destroyForcibly();
        }
    }
}
