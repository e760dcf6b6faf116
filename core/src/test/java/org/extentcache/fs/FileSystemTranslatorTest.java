package org.extentcache.fs;

import org.extentcache.CacheBooks;
import org.extentcache.CachedFile;
import org.extentcache.CachedFileChannel;
import org.extentcache.ExtentCache;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link FileSystemTranslator} over ordinary files in a temporary directory (whatever file system it is on: ext4 on
 * the CI machine, where extents are keyed by physical block but nothing is shared), plus tmpfs where FIEMAP is
 * missing. Sharing between reflinked files is {@link ReflinkCacheTest}'s.
 */
final class FileSystemTranslatorTest
{
    private static final int PAGE = 4096;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    @TempDir
    Path dir;

    private FileSystemTranslator translator;

    @AfterEach
    void closeTranslator() throws IOException
    {
        if (null != translator)
        {
            translator.close();
        }
    }

    @Test
    void readsThroughTheCacheMatchTheFile() throws IOException
    {
        final byte[] bytes = random(1, 256 * PAGE + 123);
        final Path path = write("a", bytes);
        translator = new FileSystemTranslator(PAGE);
        final long id = translator.open(path);
        final ExtentCache cache = cache(64);
        final CachedFile file = cache.file(id);
        assertEquals(bytes.length, file.size());
        final SplittableRandom random = new SplittableRandom(2);
        for (int i = 0; i < 2000; i++)
        {
            final int position = random.nextInt(bytes.length + 10);
            final int length = random.nextInt(3 * PAGE);
            assertArrayEquals(expected(bytes, position, length), read(file, position, length), "at " + position);
        }
        assertTrue(cache.stats().deviceReads() > 0);
    }

    @Test
    void writesReachTheFileOnFlushAndStayInTheCache() throws IOException
    {
        final byte[] model = Arrays.copyOf(random(3, 20 * PAGE + 7), 40 * PAGE);
        int size = 20 * PAGE + 7;
        final Path path = write("w", Arrays.copyOf(model, size));
        translator = new FileSystemTranslator(PAGE);
        final long id = translator.open(path, true);
        final ExtentCache cache = cache(16);
        final CachedFile file = cache.file(id);
        final SplittableRandom random = new SplittableRandom(4);
        for (int i = 0; i < 300; i++)
        {
            final int position = random.nextInt(30 * PAGE);
            final byte[] data = random(random.nextLong(), 1 + random.nextInt(2 * PAGE));
            file.write(position, ByteBuffer.wrap(data));
            System.arraycopy(data, 0, model, position, data.length);
            size = Math.max(size, position + data.length);
            assertArrayEquals(Arrays.copyOf(model, size), read(file, 0, size + 5), "after write " + i);
        }
        file.flush();
        assertArrayEquals(Arrays.copyOf(model, size), Files.readAllBytes(path));
        assertFalse(translator.revalidate(id), "the cache's own writes are not changes from outside");
        assertArrayEquals(Arrays.copyOf(model, size), read(file, 0, size));
    }

    @Test
    void aReadOnlyFileRefusesWritesAndKeepsItsBytes() throws IOException
    {
        final byte[] bytes = random(5, 3 * PAGE);
        final Path path = write("ro", bytes);
        translator = new FileSystemTranslator(PAGE);
        final CachedFile file = cache(16).file(translator.open(path));
        final AccessDeniedException denied = assertThrows(AccessDeniedException.class,
            () -> file.write(10, ByteBuffer.wrap(new byte[] {1, 2, 3})));
        assertTrue(denied.getMessage().contains("read-only"), denied.getMessage());
        assertThrows(AccessDeniedException.class, () -> file.write(3 * PAGE, ByteBuffer.wrap(new byte[] {1})));
        assertArrayEquals(bytes, read(file, 0, bytes.length));
        assertArrayEquals(bytes, Files.readAllBytes(path));
        assertEquals(file.id(), translator.open(path, true), "a writable open of a read-only open file upgrades it");
        file.write(10, ByteBuffer.wrap(new byte[] {1, 2, 3}));
        translator.close(file.id(), true);
        assertThrows(AccessDeniedException.class, () -> file.write(10, ByteBuffer.wrap(new byte[] {4})),
            "writes end with the last writable open");
        file.flush();
        assertArrayEquals(new byte[] {1, 2, 3}, Arrays.copyOfRange(Files.readAllBytes(path), 10, 13));
    }

    @Test
    void aChangeFromOutsideIsSeenOnRevalidateAndOnOpen() throws IOException
    {
        final byte[] before = random(6, 8 * PAGE);
        final Path path = write("c", before);
        translator = new FileSystemTranslator(PAGE);
        final long id = translator.open(path);
        final ExtentCache cache = cache(16);
        final CachedFile file = cache.file(id);
        assertArrayEquals(before, read(file, 0, before.length));
        assertFalse(translator.revalidate(id));

        final byte[] after = random(7, 9 * PAGE + 5);
        Files.write(path, after);
        bumpTimes(path);
        assertArrayEquals(before, read(file, 0, before.length),
            "close-to-open: until revalidated the cache serves what it has");
        assertTrue(translator.revalidate(id));
        assertEquals(after.length, file.size());
        assertArrayEquals(after, read(file, 0, after.length));

        final byte[] third = random(8, 2 * PAGE);
        Files.write(path, third);
        bumpTimes(path);
        assertEquals(id, translator.open(path), "opening an open file revalidates it and keeps its id");
        assertArrayEquals(third, read(file, 0, third.length));
    }

    @Test
    void aFileReplacedByRenameIsReopened() throws IOException
    {
        final Path path = write("r", random(9, 4 * PAGE));
        translator = new FileSystemTranslator(PAGE);
        final long id = translator.open(path);
        final CachedFile file = cache(16).file(id);
        read(file, 0, 4 * PAGE);
        final byte[] replacement = random(10, 5 * PAGE);
        Files.move(write("r.new", replacement), path, StandardCopyOption.REPLACE_EXISTING,
            StandardCopyOption.ATOMIC_MOVE);
        assertTrue(translator.revalidate(id));
        assertArrayEquals(replacement, read(file, 0, replacement.length));
    }

    /**
     * A file renamed over while open keeps being read and written as the file that was opened (its channels go
     * through the descriptor the translator holds, even when an interrupt makes it reopen them), until revalidate
     * moves to the file the path names now.
     */
    @Test
    void aFileReplacedWhileOpenStaysTheOpenedFileUntilRevalidated() throws IOException
    {
        final byte[] original = random(16, 2 * PAGE);
        final Path path = write("orig", original);
        final Path keep = Files.createLink(dir.resolve("orig-link"), path); // to look at the opened inode later
        translator = new FileSystemTranslator(PAGE);
        final long id = translator.open(path, true);
        final CachedFile file = cache(16).file(id);
        assertArrayEquals(original, read(file, 0, original.length));
        final byte[] replacement = random(17, 3 * PAGE);
        Files.move(write("orig.new", replacement), path, StandardCopyOption.REPLACE_EXISTING,
            StandardCopyOption.ATOMIC_MOVE);

        file.write(PAGE + 1, ByteBuffer.wrap(new byte[] {4, 5}));
        Thread.currentThread().interrupt(); // closes the channel mid write-back: it is reopened, by the descriptor
        try
        {
            file.flush();
        }
        finally
        {
            assertTrue(Thread.interrupted(), "the interrupt status is restored");
        }
        original[PAGE + 1] = 4;
        original[PAGE + 2] = 5;
        assertArrayEquals(original, Files.readAllBytes(keep), "the write-back went to the file that was opened");
        assertArrayEquals(replacement, Files.readAllBytes(path), "and not to the file that replaced it");
        assertArrayEquals(original, read(file, 0, original.length));

        assertTrue(translator.revalidate(id));
        assertArrayEquals(replacement, read(file, 0, replacement.length), "revalidated: the path's file now");
    }

    @Test
    void truncateShrinksAndGrowsTheFileWithZeros() throws IOException
    {
        final byte[] bytes = random(11, 10 * PAGE);
        final Path path = write("t", bytes);
        translator = new FileSystemTranslator(PAGE);
        final long id = translator.open(path, true);
        final ExtentCache cache = cache(16);
        final CachedFile file = cache.file(id);
        assertArrayEquals(bytes, read(file, 0, bytes.length));
        file.write(9 * PAGE, ByteBuffer.wrap(new byte[] {42})); // a dirty page the truncate drops
        try (CachedFileChannel channel = CachedFileChannel.open(cache, id))
        {
            channel.truncate(3 * PAGE + 100);
            assertEquals(3 * PAGE + 100, Files.size(path));
            assertArrayEquals(Arrays.copyOf(bytes, 3 * PAGE + 100), read(file, 0, 4 * PAGE));
            channel.write(ByteBuffer.wrap(new byte[] {7}), 6 * PAGE);
            channel.force(true);
        }
        final byte[] expected = new byte[6 * PAGE + 1];
        System.arraycopy(bytes, 0, expected, 0, 3 * PAGE + 100);
        expected[6 * PAGE] = 7;
        assertArrayEquals(expected, read(file, 0, expected.length), "bytes past the old end read as zeros");
        assertArrayEquals(expected, Files.readAllBytes(path));
    }

    @Test
    void hardLinksToOneFileAreOneFile() throws IOException
    {
        final Path path = write("h", random(15, 3 * PAGE));
        final Path link = Files.createLink(dir.resolve("h-link"), path);
        translator = new FileSystemTranslator(PAGE);
        final long id = translator.open(path, true);
        assertEquals(id, translator.open(link), "the same inode under another name is the same file");
        final ExtentCache cache = cache(16);
        cache.file(id).write(5, ByteBuffer.wrap(new byte[] {9}));
        assertEquals(9, read(cache.file(translator.open(link)), 5, 1)[0]);
    }

    @Test
    void closeWritesBackAndForgetsTheFile() throws IOException
    {
        final Path path = write("cl", random(12, 2 * PAGE));
        translator = new FileSystemTranslator(PAGE);
        final long id = translator.open(path, true);
        final ExtentCache cache = cache(16);
        cache.file(id).write(PAGE, ByteBuffer.wrap(new byte[] {1, 2, 3}));
        translator.close(id);
        final byte[] disk = Files.readAllBytes(path);
        assertArrayEquals(new byte[] {1, 2, 3}, Arrays.copyOfRange(disk, PAGE, PAGE + 3));
        assertThrows(NoSuchFileException.class, () -> cache.file(id));
        assertThrows(NoSuchFileException.class, () -> translator.revalidate(id));
        final long again = translator.open(path);
        assertTrue(again != id, "ids are not reused");
        assertArrayEquals(disk, read(cache.file(again), 0, disk.length));
    }

    @Test
    void filesWithoutFiemapWorkWithoutSharing() throws IOException
    {
        final Path shm = Path.of("/dev/shm");
        Assumptions.assumeTrue(Files.isDirectory(shm) && Files.isWritable(shm), "no writable /dev/shm (tmpfs)");
        final Path tmpfs = Files.createTempDirectory(shm, "extentcache");
        try
        {
            final byte[] bytes = random(13, 5 * PAGE + 9);
            final Path path = Files.write(tmpfs.resolve("f"), bytes);
            translator = new FileSystemTranslator(PAGE);
            final long id = translator.open(path, true);
            final String reason = translator.sharingUnavailableReason(id);
            Assumptions.assumeTrue(null != reason, "this tmpfs reports extents");
            final CachedFile file = cache(16).file(id);
            assertArrayEquals(bytes, read(file, 0, bytes.length));
            file.write(PAGE - 1, ByteBuffer.wrap(new byte[] {5, 6}));
            file.flush();
            bytes[PAGE - 1] = 5;
            bytes[PAGE] = 6;
            assertArrayEquals(bytes, Files.readAllBytes(path));
            assertArrayEquals(bytes, read(file, 0, bytes.length));
        }
        finally
        {
            ReflinkDir.delete(tmpfs);
        }
    }

    @Test
    void extentsOnThisFileSystemAreKeyedByPhysicalBlock() throws IOException
    {
        final Path path = write("k", random(14, 16 * PAGE));
        translator = new FileSystemTranslator(PAGE);
        final long id = translator.open(path);
        final String reason = translator.sharingUnavailableReason(id);
        Assumptions.assumeTrue(null == reason, () -> "no FIEMAP here: " + reason);
        final org.extentcache.translate.Extent extent = new org.extentcache.translate.Extent();
        translator.translate(id, 0, extent);
        assertTrue(extent.isShared(), "physical pages are reported shared: the cache copies them on write");
        assertEquals(0, extent.deviceBlock() & BlockKeys.PRIVATE);
        assertTrue(translator.ownedSegments() >= 1);
    }

    @Test
    void badInputIsRefusedClearly() throws IOException
    {
        translator = new FileSystemTranslator(PAGE);
        assertThrows(NoSuchFileException.class, () -> translator.open(dir.resolve("missing")));
        final IllegalArgumentException notFile = assertThrows(IllegalArgumentException.class,
            () -> translator.open(dir));
        assertTrue(notFile.getMessage().contains("not a regular file"), notFile.getMessage());
        assertThrows(NoSuchFileException.class, () -> translator.size(12345));
        assertThrows(IllegalArgumentException.class, () -> new FileSystemTranslator(1000));
        final ExtentCache.Builder withDevice = ExtentCache.builder().translator(translator).capacityFrames(16)
            .device(new org.extentcache.device.MemoryBlockDevice(PAGE, 16));
        assertThrows(IllegalArgumentException.class, withDevice::build, "a file-backed translator takes no device");
        translator.close();
        assertThrows(IllegalStateException.class, () -> translator.open(write("late", new byte[1])));
    }

    /**
     * fsx-style: a seeded random sequence of reads, writes, flushes, truncates and revalidations through the cache
     * against an in-heap model, with the file on disk compared after every flush.
     */
    @ParameterizedTest(name = "directReads={0}")
    @ValueSource(booleans = {false, true})
    void seededModel(final boolean directReads) throws IOException
    {
        runModel(dir, directReads);
    }

    /**
     * The same on tmpfs, where there is no FIEMAP and every page is private to the file: what a truncation or a
     * revalidation drops is what was read or written back through the file ({@code FileSystemTranslator}'s loaded
     * pages), so a page cut off and grown back must read as zeros, never as a frame left from before.
     */
    @Test
    void seededModelOnTmpfs() throws IOException
    {
        final Path shm = Path.of("/dev/shm");
        Assumptions.assumeTrue(Files.isDirectory(shm) && Files.isWritable(shm), "no writable /dev/shm (tmpfs)");
        final Path tmpfs = Files.createTempDirectory(shm, "extentcache");
        try
        {
            runModel(tmpfs, false);
        }
        finally
        {
            ReflinkDir.delete(tmpfs);
        }
    }

    private void runModel(final Path where, final boolean directReads) throws IOException
    {
        final long seed = Long.getLong("extentcache.seed", System.nanoTime());
        final int ops = Integer.getInteger("extentcache.fsOps", 3000);
        final SplittableRandom random = new SplittableRandom(seed);
        byte[] model = random(seed, random.nextInt(40 * PAGE));
        final Path path = Files.write(where.resolve("model"), model);
        translator = new FileSystemTranslator(PAGE, directReads);
        final long id = translator.open(path, true);
        if (directReads)
        {
            Assumptions.assumeTrue(translator.readsDirectly(id), "this file system refuses O_DIRECT");
        }
        final ExtentCache cache = cache(12);
        final CachedFile file = cache.file(id);
        int op = 0;
        try
        {
            for (; op < ops; op++)
            {
                final int choice = random.nextInt(100);
                if (choice < 40)
                {
                    final int position = random.nextInt(model.length + PAGE);
                    final int length = random.nextInt(3 * PAGE);
                    assertArrayEquals(expected(model, position, length), read(file, position, length));
                }
                else if (choice < 80)
                {
                    final int position = random.nextInt(model.length + 2 * PAGE);
                    final byte[] data = random(random.nextLong(), 1 + random.nextInt(2 * PAGE));
                    file.write(position, ByteBuffer.wrap(data));
                    model = Arrays.copyOf(model, Math.max(model.length, position + data.length));
                    System.arraycopy(data, 0, model, position, data.length);
                }
                else if (choice < 90)
                {
                    file.flush();
                    assertArrayEquals(model, Files.readAllBytes(path));
                }
                else if (choice < 93)
                {
                    final int size = random.nextInt(model.length + PAGE);
                    try (CachedFileChannel channel = CachedFileChannel.open(cache, id))
                    {
                        channel.truncate(size);
                    }
                    if (size < model.length)
                    {
                        model = Arrays.copyOf(model, size);
                    }
                }
                else if (choice < 95)
                {
                    // grows or shrinks: pages cut off and grown back must read as zeros
                    final int size = random.nextInt(model.length + 8 * PAGE);
                    translator.truncate(id, size);
                    model = Arrays.copyOf(model, size);
                }
                else if (random.nextBoolean())
                {
                    assertFalse(translator.revalidate(id), "nothing changed the file from outside");
                }
                else
                {
                    // a change of times only: the reload writes back, rereads the layout and drops what it loaded
                    bumpTimes(path);
                    assertTrue(translator.revalidate(id), "the times changed");
                }
                assertEquals(model.length, file.size());
            }
            file.flush();
            assertArrayEquals(model, Files.readAllBytes(path));
        }
        catch (final AssertionError | IOException | RuntimeException ex)
        {
            throw new AssertionError("seed=" + seed + " failed at op " + op + " (replay with -Dextentcache.seed=" +
                seed + "): " + ex.getMessage(), ex);
        }
    }

    private ExtentCache cache(final int frames)
    {
        return books.track(ExtentCache.builder().translator(translator).capacityFrames(frames).build());
    }

    private Path write(final String name, final byte[] bytes) throws IOException
    {
        return Files.write(dir.resolve(name), bytes);
    }

    /** Moves both timestamps a second on, so a rewrite in the same clock tick still shows. */
    static void bumpTimes(final Path path) throws IOException
    {
        Files.setLastModifiedTime(path,
            FileTime.fromMillis(Files.getLastModifiedTime(path).toMillis() + 1000));
    }

    static byte[] random(final long seed, final int length)
    {
        final byte[] bytes = new byte[length];
        new SplittableRandom(seed).nextBytes(bytes);
        return bytes;
    }

    static byte[] expected(final byte[] bytes, final int position, final int length)
    {
        if (position >= bytes.length)
        {
            return new byte[0];
        }
        return Arrays.copyOfRange(bytes, position, Math.min(bytes.length, position + length));
    }

    static byte[] read(final CachedFile file, final long position, final int length) throws IOException
    {
        final ByteBuffer dst = ByteBuffer.allocate(length);
        while (dst.hasRemaining())
        {
            final int n = file.read(position + dst.position(), dst);
            if (n <= 0)
            {
                break;
            }
        }
        return Arrays.copyOf(dst.array(), dst.position());
    }
}
