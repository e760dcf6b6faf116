package org.extentcache.nio;

import org.extentcache.fs.Fiemap;
import org.extentcache.fs.FiemapExtent;
import org.extentcache.fs.FileSystemTranslator;
import org.extentcache.fs.ReflinkDir;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The contract over real files ({@link DirectoryFileSystem}) on the reflink XFS ({@code EXTENTCACHE_REFLINK_DIR};
 * skipped, saying why, without one), plus what only real files show: a reflink copy shares extents on disk
 * (FIEMAP), REFLINK fails clearly where the file system cannot share (ext4) or across file systems ({@code EXDEV}),
 * locks are the operating system's (another process and another provider's channel are refused), and the
 * translator's opens follow the channels.
 */
final class DirectoryFileSystemTest extends FileSystemContractTest
{
    private final List<Path> dirs = new ArrayList<>();

    @TempDir
    Path tmp;

    @Override
    ExtentCacheFileSystem newFileSystem() throws IOException
    {
        final Path dir = ReflinkDir.create();
        dirs.add(dir);
        return ExtentCacheFileSystems.overDirectory(dir, FileSystemOptions.DEFAULTS.withCapacityBytes(64 * PAGE));
    }

    @Override
    void afterClose()
    {
        dirs.forEach(ReflinkDir::delete);
    }

    private DirectoryFileSystem realFs()
    {
        return (DirectoryFileSystem)fs;
    }

    private FileSystemTranslator translator()
    {
        return (FileSystemTranslator)fs.cache().translator();
    }

    @Override
    void assertReflinked(final Path source, final Path copy) throws IOException
    {
        final List<FiemapExtent> a = Fiemap.extents(realFs().realPath(source));
        final List<FiemapExtent> b = Fiemap.extents(realFs().realPath(copy));
        assertFalse(a.isEmpty());
        assertEquals(a.size(), b.size(), a + " vs " + b);
        for (int i = 0; i < a.size(); i++)
        {
            assertTrue(a.get(i).isShared() && b.get(i).isShared(), "extent " + i + " shared: " + a + " / " + b);
            assertEquals(a.get(i).physical(), b.get(i).physical(), "extent " + i + " at one place on disk");
        }
    }

    @Override
    void assertNotReflinked(final Path source, final Path copy) throws IOException
    {
        fs.cache().flush();
        for (final FiemapExtent extent : Fiemap.extents(realFs().realPath(copy)))
        {
            assertFalse(extent.isShared(), "a plain copy shares nothing: " + extent);
        }
    }

    @Test
    void reflinkFailsClearlyWhereTheFileSystemCannotShare() throws IOException
    {
        Assumptions.assumeFalse(Files.getFileStore(tmp).type().matches("xfs|btrfs|bcachefs|ocfs2"),
            () -> tmp + " is on a file system that may reflink: " + tmp);
        try (ExtentCacheFileSystem plain = ExtentCacheFileSystems.overDirectory(tmp, FileSystemOptions.DEFAULTS))
        {
            final Path source = Files.write(plain.getPath("/src"), bytes(20, PAGE));
            final FileSystemException refused = assertThrows(FileSystemException.class,
                () -> Files.copy(source, plain.getPath("/dst"), ExtentCacheCopyOption.REFLINK));
            assertTrue(refused.getMessage().contains("REFLINK unsupported"), refused.getMessage());
            assertTrue(refused.getMessage().contains("NOTSUP") || refused.getMessage().contains("EINVAL") ||
                refused.getMessage().contains("ENOTTY"), refused.getMessage());
            assertFalse(Files.exists(plain.getPath("/dst")), "no fallback, and nothing left behind");
            Files.copy(source, plain.getPath("/dst"));
            assertArrayEquals(bytes(20, PAGE), Files.readAllBytes(plain.getPath("/dst")), "a plain copy works");
        }
    }

    @Test
    void reflinkAcrossKernelFileSystemsFailsWithExdev() throws IOException
    {
        Assumptions.assumeFalse(Files.getFileStore(tmp).equals(Files.getFileStore(realFs().directory())),
            "the temporary directory is on the reflink file system");
        final Path source = Files.write(fs.getPath("/src"), bytes(21, PAGE));
        final Path target = tmp.resolve("dst");
        final FileSystemException exdev = assertThrows(FileSystemException.class,
            () -> FileClone.cloneFile(realFs().realPath(source), target));
        assertTrue(exdev.getMessage().contains("EXDEV"), exdev.getMessage());
        assertTrue(exdev.getMessage().contains("different file systems"), exdev.getMessage());
        assertFalse(Files.exists(target));
    }

    @Test
    void locksAreTheOperatingSystemsAndExcludeAnotherProcess() throws Exception
    {
        final Path path = Files.write(fs.getPath("/h2.mv.db"), new byte[PAGE]);
        final Path real = realFs().realPath(path);
        try (FileChannel channel = FileChannel.open(path, READ, WRITE))
        {
            final FileLock lock = channel.tryLock();
            assertNotNull(lock);
            assertEquals("refused", tryLockInAnotherProcess(real), "another JVM cannot lock the file");
            try (FileChannel plain = FileChannel.open(real, READ, WRITE))
            {
                assertNull(plain.tryLock(), "nor another provider's channel in this JVM");
            }
            // opening the file again reads its extents through a fresh descriptor and closes it: a classic POSIX
            // lock would be gone now, the OFD lock is not
            try (FileChannel again = FileChannel.open(path, READ))
            {
                assertThrows(OverlappingFileLockException.class, () -> again.tryLock(0, 1, true));
            }
            assertEquals("refused", tryLockInAnotherProcess(real), "still locked after descriptors came and went");
            lock.release();
            assertEquals("granted", tryLockInAnotherProcess(real));
        }
    }

    private static String tryLockInAnotherProcess(final Path file) throws Exception
    {
        final String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        final Process process = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
            TryLockProcess.class.getName(), file.toString()).redirectErrorStream(true)
            .redirectInput(new File("/dev/null")).start();
        try
        {
            final String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            assertTrue(process.waitFor(60, TimeUnit.SECONDS), "the second JVM ended");
            assertEquals(0, process.exitValue(), output);
            return output;
        }
        finally
        {
            process.destroyForcibly();
        }
    }

    @Test
    void theTranslatorsOpensFollowTheChannels() throws IOException
    {
        final Path path = Files.write(fs.getPath("/counted"), bytes(22, 2 * PAGE));
        assertEquals(0, translator().openFiles().length, "Files.write closed its channel");
        try (FileChannel reader = FileChannel.open(path, READ))
        {
            final long id = translator().openFiles()[0];
            try (FileChannel writer = FileChannel.open(path, READ, WRITE))
            {
                assertArrayEquals(new long[] {id}, translator().openFiles(), "one id per real file");
                writer.write(ByteBuffer.wrap(new byte[] {5}), 0);
            }
            assertArrayEquals(new long[] {id}, translator().openFiles(), "the reader keeps it open");
            assertThrows(java.nio.file.AccessDeniedException.class, () -> translator().checkWritable(id),
                "no writable channel is left");
            final ByteBuffer one = ByteBuffer.allocate(1);
            reader.read(one, 0);
            assertEquals(5, one.get(0));
        }
        assertEquals(0, translator().openFiles().length, "the last channel closed the file");
        assertEquals(5, Files.readAllBytes(realFs().realPath(path))[0], "and wrote it back");
    }

    @Test
    void theProviderBuildsADirectoryFileSystemFromAnEnvMap() throws IOException
    {
        final URI uri = URI.create("extentcache://env-dir-" + System.nanoTime());
        try (FileSystem made = FileSystems.newFileSystem(uri, Map.of(FileSystemOptions.DIRECTORY, tmp.toString(),
            FileSystemOptions.PAGE_SIZE, 8192)))
        {
            assertEquals(8192, ((ExtentCacheFileSystem)made).cache().pageSize());
            Files.write(made.getPath("/a"), new byte[] {1, 2});
            assertArrayEquals(new byte[] {1, 2}, Files.readAllBytes(tmp.resolve("a")), "a real file");
            Files.move(made.getPath("/a"), made.getPath("/b"), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            assertTrue(Files.exists(tmp.resolve("b")));
        }
        assertThrows(java.nio.file.NotDirectoryException.class, () -> FileSystems.newFileSystem(uri,
            Map.of(FileSystemOptions.DIRECTORY, Files.write(tmp.resolve("file"), new byte[1]))));
    }

    @Test
    void aFileOpenedThroughTheFileSystemIsOpenedOnceInTheTranslatorEvenWhenRenamed() throws IOException
    {
        final Path path = Files.write(fs.getPath("/before"), bytes(23, PAGE));
        try (FileChannel channel = FileChannel.open(path, READ, WRITE))
        {
            final Path after = Files.move(path, fs.getPath("/after"), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            channel.write(ByteBuffer.wrap(new byte[] {9}), 0);
            try (FileChannel again = FileChannel.open(after, READ))
            {
                assertEquals(1, translator().openFiles().length, "the renamed file keeps its id");
                final ByteBuffer one = ByteBuffer.allocate(1);
                again.read(one, 0);
                assertEquals(9, one.get(0), "the new name reads the cache's bytes");
            }
        }
        assertEquals(9, Files.readAllBytes(realFs().realPath(fs.getPath("/after")))[0]);
        Files.write(fs.getPath("/gone"), new byte[] {1});
        try (FileChannel open = FileChannel.open(fs.getPath("/gone"), StandardOpenOption.READ))
        {
            Files.delete(fs.getPath("/gone"));
            assertEquals(1, open.size());
        }
    }
}
