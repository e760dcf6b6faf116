package org.extentcache.nio;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.NonWritableChannelException;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystemNotFoundException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static java.nio.file.StandardOpenOption.APPEND;
import static java.nio.file.StandardOpenOption.CREATE;
import static java.nio.file.StandardOpenOption.CREATE_NEW;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.TRUNCATE_EXISTING;
import static java.nio.file.StandardOpenOption.WRITE;
import static org.junit.jupiter.api.Assertions.*;

/**
 * What every {@code extentcache} file system does, whatever it stores on: the operations storage engines call
 * through {@code java.nio.file} (H2 and Lucene among them). A subclass per kind of file system
 * ({@link StoreFileSystemTest}, {@link DirectoryFileSystemTest}) builds it and checks what only that kind can:
 * how a reflink copy shares blocks, what survives a restart, which locks other processes see.
 */
abstract class FileSystemContractTest
{
    static final int PAGE = 4096;

    /** The file system under test, built by {@link #newFileSystem()} before each test and closed after. */
    ExtentCacheFileSystem fs;

    /** @return a fresh, empty file system. */
    abstract ExtentCacheFileSystem newFileSystem() throws IOException;

    @BeforeEach
    void build() throws IOException
    {
        fs = newFileSystem();
    }

    @AfterEach
    void closeFileSystem() throws IOException
    {
        try
        {
            if (null != fs && fs.isOpen()) // null: the kind skipped (no reflink XFS) before it built one
            {
                assertNull(fs.cache().checkBooks(), "books");
                fs.close();
            }
        }
        finally
        {
            afterClose();
        }
    }

    /** Releases what {@link #newFileSystem()} made besides the file system (after it closed). */
    abstract void afterClose() throws IOException;

    static byte[] bytes(final long seed, final int length)
    {
        final byte[] bytes = new byte[length];
        new SplittableRandom(seed).nextBytes(bytes);
        return bytes;
    }

    @Test
    void filesAreWrittenReadAndSized() throws IOException
    {
        final Path a = fs.getPath("/a.bin");
        final byte[] data = bytes(1, 3 * PAGE + 17);
        Files.write(a, data);
        assertTrue(Files.exists(a));
        assertTrue(Files.isRegularFile(a));
        assertEquals(data.length, Files.size(a));
        assertArrayEquals(data, Files.readAllBytes(a));
        try (InputStream in = Files.newInputStream(a))
        {
            assertArrayEquals(data, in.readAllBytes());
        }
        try (OutputStream out = Files.newOutputStream(a, APPEND))
        {
            out.write(new byte[] {1, 2});
        }
        assertEquals(data.length + 2, Files.size(a));
        assertThrows(FileAlreadyExistsException.class, () -> Files.newOutputStream(a, CREATE_NEW).close());
        Files.write(a, new byte[] {9}); // CREATE, TRUNCATE_EXISTING, WRITE
        assertArrayEquals(new byte[] {9}, Files.readAllBytes(a));
        assertThrows(NoSuchFileException.class, () -> Files.readAllBytes(fs.getPath("/missing")));
        assertFalse(Files.exists(fs.getPath("/missing")));
        assertThrows(NoSuchFileException.class, () -> Files.write(fs.getPath("/no/dir/file"), data));
    }

    @Test
    void directoriesListWalkAndRefuseToDeleteWhileNotEmpty() throws IOException
    {
        final Path dir = Files.createDirectories(fs.getPath("/x/y/z"));
        assertTrue(Files.isDirectory(dir));
        Files.createDirectories(dir); // exists already: nothing to do
        Files.write(dir.resolve("one.txt"), new byte[] {1});
        Files.write(dir.resolve("two.dat"), new byte[] {2});
        Files.createDirectory(fs.getPath("/x/y/w"));
        assertThrows(FileAlreadyExistsException.class, () -> Files.createDirectory(fs.getPath("/x/y/w")));
        assertThrows(NoSuchFileException.class, () -> Files.createDirectory(fs.getPath("/nope/w")));

        try (Stream<Path> list = Files.list(fs.getPath("/x/y")))
        {
            assertEquals(List.of("/x/y/w", "/x/y/z"), list.map(Path::toString).sorted().collect(Collectors.toList()));
        }
        final List<String> filtered = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir, "*.txt"))
        {
            stream.forEach(path -> filtered.add(path.getFileName().toString()));
        }
        assertEquals(List.of("one.txt"), filtered);
        try (Stream<Path> walk = Files.walk(fs.getPath("/")))
        {
            assertEquals(List.of("/", "/x", "/x/y", "/x/y/w", "/x/y/z", "/x/y/z/one.txt", "/x/y/z/two.dat"),
                walk.map(Path::toString).sorted().collect(Collectors.toList()));
        }
        assertThrows(NotDirectoryException.class, () -> Files.newDirectoryStream(dir.resolve("one.txt")).close());
        assertThrows(DirectoryNotEmptyException.class, () -> Files.delete(dir));
        assertTrue(Files.deleteIfExists(dir.resolve("one.txt")));
        assertFalse(Files.deleteIfExists(dir.resolve("one.txt")));
        Files.delete(dir.resolve("two.dat"));
        Files.delete(dir);
        assertFalse(Files.exists(dir));
    }

    @Test
    void movesRenameAndReplaceOnlyWhenAsked() throws IOException
    {
        final Path a = Files.write(fs.getPath("/a"), bytes(2, 100));
        final Path b = Files.write(fs.getPath("/b"), bytes(3, 50));
        final Object key = Files.readAttributes(a, BasicFileAttributes.class).fileKey();
        assertThrows(FileAlreadyExistsException.class, () -> Files.move(a, b));
        Files.move(a, b, StandardCopyOption.ATOMIC_MOVE); // replaces, as rename(2) and the default provider do
        assertFalse(Files.exists(a));
        assertArrayEquals(bytes(2, 100), Files.readAllBytes(b));
        assertEquals(key, Files.readAttributes(b, BasicFileAttributes.class).fileKey(), "the same file, renamed");
        final Path dir = Files.createDirectory(fs.getPath("/d"));
        final Path moved = Files.move(b, dir.resolve("b2"));
        assertArrayEquals(bytes(2, 100), Files.readAllBytes(moved));
        Files.move(dir, fs.getPath("/e"));
        assertArrayEquals(bytes(2, 100), Files.readAllBytes(fs.getPath("/e/b2")), "a directory moves with its files");
        assertThrows(NoSuchFileException.class, () -> Files.move(fs.getPath("/none"), fs.getPath("/f")));
        final Path c = Files.write(fs.getPath("/c"), new byte[] {1});
        Files.move(c, fs.getPath("/e/b2"), StandardCopyOption.REPLACE_EXISTING);
        assertArrayEquals(new byte[] {1}, Files.readAllBytes(fs.getPath("/e/b2")));
    }

    @Test
    void aDeletedFileStaysReadableAndWritableUntilItsLastChannelCloses() throws IOException
    {
        final Path path = Files.write(fs.getPath("/open"), bytes(4, 2 * PAGE));
        try (FileChannel reader = FileChannel.open(path, READ);
            FileChannel writer = FileChannel.open(path, READ, WRITE))
        {
            Files.delete(path);
            assertFalse(Files.exists(path));
            writer.write(ByteBuffer.wrap(new byte[] {7, 7}), PAGE);
            writer.force(true);
            final ByteBuffer all = ByteBuffer.allocate(2 * PAGE);
            assertEquals(2 * PAGE, reader.read(all, 0));
            final byte[] expected = bytes(4, 2 * PAGE);
            expected[PAGE] = 7;
            expected[PAGE + 1] = 7;
            assertArrayEquals(expected, all.array(), "the unlinked file keeps its bytes and takes writes");

            Files.write(path, new byte[] {1, 2, 3}); // a new file under the old name
            assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(path));
            assertEquals(2 * PAGE, reader.size(), "the open channel still reads the deleted file");
        }
        assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(path));
    }

    @Test
    void pathsResolveRelativizeAndRoundTripThroughUris() throws IOException
    {
        final Path a = fs.getPath("/dir/sub/../file.txt");
        assertEquals("/dir/file.txt", a.normalize().toString());
        assertEquals(fs.getPath("/dir/x"), fs.getPath("/dir").resolve("x"));
        assertEquals(fs.getPath("../b/c"), fs.getPath("/dir/a").relativize(fs.getPath("/dir/b/c")));
        assertTrue(fs.getPath("/dir/a/b").startsWith(fs.getPath("/dir")));
        assertTrue(fs.getPath("/dir/a/b").startsWith("/dir/a"));
        assertFalse(fs.getPath("/dirx/a").startsWith(fs.getPath("/dir")));
        assertTrue(fs.getPath("/dir/a/b").endsWith("a/b"));
        assertEquals(fs.getPath("b"), fs.getPath("/dir/a/b").getFileName());
        assertEquals(fs.getPath("/dir/a"), fs.getPath("/dir/a/b").getParent());
        assertEquals(fs.getPath("/x"), fs.getPath("x").toAbsolutePath());
        assertNull(fs.getPath("/").getFileName());
        assertEquals(2, fs.getPath("a/b").getNameCount());
        assertThrows(UnsupportedOperationException.class, () -> fs.getPath("/a").toFile());
        assertThrows(java.nio.file.ProviderMismatchException.class, () -> fs.getPath("/a").resolve(Path.of("b")));

        Files.createDirectory(fs.getPath("/dir"));
        final Path file = Files.write(fs.getPath("/dir/file.txt"), new byte[] {1});
        final URI uri = file.toUri();
        assertEquals(ExtentCacheFileSystemProvider.SCHEME, uri.getScheme());
        assertEquals(fs.name(), uri.getAuthority());
        assertEquals(file, Path.of(uri), "Path.of(URI) finds the file system by name");
        assertSame(fs, FileSystems.getFileSystem(uri));
        assertEquals(file, a.toRealPath());
        assertThrows(NoSuchFileException.class, () -> fs.getPath("/dir/none").toRealPath());
        assertTrue(fs.provider().isHidden(fs.getPath("/.hidden")));
        assertTrue(fs.getPathMatcher("glob:**/*.txt").matches(file));
    }

    @Test
    void channelsHonourTheirOpenOptions() throws IOException
    {
        final Path path = Files.write(fs.getPath("/opts"), bytes(5, PAGE));
        try (FileChannel readOnly = FileChannel.open(path, READ))
        {
            assertThrows(NonWritableChannelException.class, () -> readOnly.write(ByteBuffer.allocate(1)));
            assertEquals(PAGE, readOnly.size());
            assertTrue(readOnly instanceof org.extentcache.CachedFileChannel, "the provider's own channel");
        }
        try (FileChannel truncating = FileChannel.open(path, WRITE, TRUNCATE_EXISTING))
        {
            assertEquals(0, truncating.size());
            truncating.write(ByteBuffer.wrap(new byte[] {1, 2, 3}));
            truncating.truncate(2);
            truncating.force(true);
        }
        try (FileChannel appending = FileChannel.open(path, APPEND))
        {
            appending.write(ByteBuffer.wrap(new byte[] {4}));
        }
        assertArrayEquals(new byte[] {1, 2, 4}, Files.readAllBytes(path));
        assertThrows(NoSuchFileException.class, () -> FileChannel.open(fs.getPath("/none"), READ, WRITE));
        assertThrows(FileAlreadyExistsException.class, () -> FileChannel.open(path, WRITE, CREATE_NEW));
        FileChannel.open(fs.getPath("/made"), WRITE, CREATE).close();
        assertEquals(0, Files.size(fs.getPath("/made")));
        final UnsupportedOperationException unsupported = assertThrows(UnsupportedOperationException.class,
            () -> FileChannel.open(path, READ, StandardOpenOption.DELETE_ON_CLOSE));
        assertTrue(unsupported.getMessage().contains("DELETE_ON_CLOSE"));
        assertThrows(FileSystemException.class, () -> FileChannel.open(fs.getPath("/"), WRITE));
    }

    @Test
    void aDirectoryOpensForReadingAndForces() throws IOException
    {
        final Path dir = Files.createDirectory(fs.getPath("/synced"));
        Files.write(dir.resolve("f"), new byte[] {1});
        try (FileChannel channel = FileChannel.open(dir, READ))
        {
            channel.force(true); // as Lucene's IOUtils.fsync(dir, true) does after renaming into it
            assertThrows(IOException.class, () -> channel.read(ByteBuffer.allocate(1)));
        }
    }

    @Test
    void locksOverlapAcrossChannelsAndCloseReleasesThem() throws IOException
    {
        final Path path = Files.write(fs.getPath("/lock"), new byte[10]);
        final FileChannel first = FileChannel.open(path, READ, WRITE);
        try (FileChannel second = FileChannel.open(path, READ, WRITE))
        {
            final FileLock lock = first.tryLock();
            assertNotNull(lock, "H2 takes this lock on open");
            assertThrows(OverlappingFileLockException.class, second::tryLock);
            assertThrows(OverlappingFileLockException.class, () -> first.lock(0, 5, true));
            first.close();
            assertFalse(lock.isValid(), "closing the channel released its lock");
            final FileLock again = second.tryLock();
            assertNotNull(again);
            again.release();
        }
    }

    @Test
    void aReflinkCopyHoldsWhatTheCacheHoldsAndDivergesOnWrite() throws IOException
    {
        final Path source = Files.write(fs.getPath("/src"), bytes(6, 8 * PAGE));
        final Path copy = fs.getPath("/copy");
        final byte[] expected = bytes(6, 8 * PAGE);
        try (FileChannel writer = FileChannel.open(source, WRITE))
        {
            writer.write(ByteBuffer.wrap(new byte[] {42}), 3 * PAGE); // dirty in the cache, not written back
            expected[3 * PAGE] = 42;
            Files.copy(source, copy, ExtentCacheCopyOption.REFLINK);
        }
        assertArrayEquals(expected, Files.readAllBytes(copy), "the copy holds the cache's bytes");
        assertReflinked(source, copy);
        assertThrows(FileAlreadyExistsException.class, () -> Files.copy(source, copy, ExtentCacheCopyOption.REFLINK));

        try (FileChannel writer = FileChannel.open(copy, WRITE))
        {
            writer.write(ByteBuffer.wrap(new byte[] {1, 2, 3}), 0);
        }
        assertArrayEquals(expected, Files.readAllBytes(source), "writing the copy leaves the source alone");
        final byte[] diverged = expected.clone();
        System.arraycopy(new byte[] {1, 2, 3}, 0, diverged, 0, 3);
        assertArrayEquals(diverged, Files.readAllBytes(copy));

        Files.copy(source, copy, ExtentCacheCopyOption.REFLINK, StandardCopyOption.REPLACE_EXISTING);
        assertArrayEquals(expected, Files.readAllBytes(copy), "REPLACE_EXISTING clones over the old copy");
        final FileSystemException directory = assertThrows(FileSystemException.class,
            () -> Files.copy(Files.createDirectory(fs.getPath("/adir")), fs.getPath("/bdir"),
                ExtentCacheCopyOption.REFLINK));
        assertTrue(directory.getMessage().contains("regular files only"), directory.getMessage());
    }

    /** Checks the two files share their blocks, as only the subclass can tell. */
    abstract void assertReflinked(Path source, Path copy) throws IOException;

    @Test
    void anOrdinaryCopyCopiesBytes() throws IOException
    {
        final Path source = Files.write(fs.getPath("/plain"), bytes(7, 4 * PAGE));
        final Path copy = Files.copy(source, fs.getPath("/plain2"));
        assertArrayEquals(bytes(7, 4 * PAGE), Files.readAllBytes(copy));
        assertNotReflinked(source, copy);
        assertThrows(FileAlreadyExistsException.class, () -> Files.copy(source, copy));
        Files.copy(source, copy, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.COPY_ATTRIBUTES);
        assertEquals(Files.getLastModifiedTime(source), Files.getLastModifiedTime(copy));
    }

    /** Checks the two files share no block. */
    abstract void assertNotReflinked(Path source, Path copy) throws IOException;

    @Test
    void attributesReadAndSet() throws IOException
    {
        final Path dir = Files.createDirectory(fs.getPath("/attrs"));
        final Path file = Files.write(dir.resolve("f"), new byte[5]);
        final BasicFileAttributes fileAttrs = Files.readAttributes(file, BasicFileAttributes.class);
        assertTrue(fileAttrs.isRegularFile());
        assertFalse(fileAttrs.isDirectory());
        assertEquals(5, fileAttrs.size());
        assertNotNull(fileAttrs.fileKey());
        assertTrue(Files.readAttributes(dir, BasicFileAttributes.class).isDirectory());
        final FileTime time = FileTime.fromMillis(1_000_000_000_000L);
        Files.setLastModifiedTime(file, time);
        assertEquals(time, Files.getLastModifiedTime(file));
        assertEquals(5L, Files.readAttributes(file, "basic:size,isDirectory").get("size"));
        assertEquals(5L, Files.getAttribute(file, "size"));
        assertThrows(UnsupportedOperationException.class, () -> Files.readAttributes(file, "posix:*"));
        assertTrue(Files.isSameFile(file, fs.getPath("/attrs/../attrs/f")));
        assertFalse(Files.isSameFile(file, dir));
        assertNotNull(Files.getFileStore(file).name());
        assertTrue(Files.getFileStore(file).getTotalSpace() > 0);
        assertTrue(fs.getFileStores().iterator().hasNext());
    }

    @Test
    void theSizeOfAFileWrittenThroughAnOpenChannelIsTheCachesSize() throws IOException
    {
        final Path path = fs.getPath("/growing");
        try (FileChannel channel = FileChannel.open(path, WRITE, CREATE_NEW))
        {
            channel.write(ByteBuffer.wrap(new byte[3 * PAGE + 1]), 0);
            assertEquals(3 * PAGE + 1, Files.size(path), "before any write-back");
        }
    }

    @Test
    void closingTheFileSystemRemovesItFromTheRegistry() throws IOException
    {
        final Path file = Files.write(fs.getPath("/kept"), new byte[] {1, 2});
        final URI uri = file.toUri();
        final FileChannel open = FileChannel.open(file, READ, WRITE);
        open.write(ByteBuffer.wrap(new byte[] {3}), 2);
        assertNull(fs.cache().checkBooks());
        fs.close();
        assertFalse(fs.isOpen());
        assertThrows(FileSystemNotFoundException.class, () -> FileSystems.getFileSystem(uri));
        assertThrows(FileSystemNotFoundException.class, () -> Path.of(uri));
        assertThrows(java.nio.file.ClosedFileSystemException.class, () -> Files.readAllBytes(file));
        open.close(); // a channel closed after its file system: nothing to release
        fs.close(); // a second close does nothing
    }

    @Test
    void aMoveOrCopyToAnotherExtentcacheFileSystemCopiesBytesButNeverReflinks() throws IOException
    {
        try (ExtentCacheFileSystem other = newFileSystem())
        {
            final Path source = Files.write(fs.getPath("/x"), bytes(8, PAGE + 3));
            final FileSystemException exdev = assertThrows(FileSystemException.class,
                () -> Files.copy(source, other.getPath("/x"), ExtentCacheCopyOption.REFLINK));
            assertTrue(exdev.getMessage().contains("EXDEV"), exdev.getMessage());
            assertFalse(Files.exists(other.getPath("/x")), "no fallback to a byte copy");
            Files.copy(source, other.getPath("/x"));
            assertArrayEquals(bytes(8, PAGE + 3), Files.readAllBytes(other.getPath("/x")));
            assertThrows(AtomicMoveNotSupportedException.class,
                () -> Files.move(source, other.getPath("/y"), StandardCopyOption.ATOMIC_MOVE));
            Files.move(source, other.getPath("/y"));
            assertFalse(Files.exists(source));
            assertArrayEquals(bytes(8, PAGE + 3), Files.readAllBytes(other.getPath("/y")));
            assertNull(other.cache().checkBooks());
        }
    }
}
