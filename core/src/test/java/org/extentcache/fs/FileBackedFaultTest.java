package org.extentcache.fs;

import org.extentcache.CacheBooks;
import org.extentcache.CachedFile;
import org.extentcache.ExtentCache;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fault injection on the file-backed I/O path: a {@link FileSystemTranslator} wrapped so that its next read, write or
 * sync fails (or its next read finds the translation stale), checking that the cache reports failures, loses no
 * write, and retries a stale translation without the caller noticing.
 */
final class FileBackedFaultTest
{
    private static final int PAGE = 4096;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    @TempDir
    Path dir;

    private FileSystemTranslator files;

    @AfterEach
    void close() throws IOException
    {
        if (null != files)
        {
            files.close();
        }
    }

    @Test
    void aFailedReadFailsThatReadOnlyAndIsCounted() throws IOException
    {
        final byte[] bytes = FileSystemTranslatorTest.random(1, 4 * PAGE);
        final FaultyFiles faulty = faulty(bytes);
        final ExtentCache cache = cache(faulty);
        final CachedFile file = cache.file(faulty.id);
        faulty.failReads = 1;
        final IOException failure = assertThrows(IOException.class, () -> file.read(PAGE, ByteBuffer.allocate(10)));
        assertTrue(failure.getMessage().contains("injected read failure"), failure.getMessage());
        assertEquals(1, cache.stats().loadFailures());
        assertArrayEquals(bytes, FileSystemTranslatorTest.read(file, 0, bytes.length), "the next read loads it");
    }

    @Test
    void aStaleTranslationIsRetriedWithoutAnError() throws IOException
    {
        final byte[] bytes = FileSystemTranslatorTest.random(2, 8 * PAGE);
        final FaultyFiles faulty = faulty(bytes);
        final ExtentCache cache = cache(faulty);
        final CachedFile file = cache.file(faulty.id);
        faulty.staleReads = 3;
        assertArrayEquals(Arrays.copyOf(bytes, 4 * PAGE), FileSystemTranslatorTest.read(file, 0, 4 * PAGE));
        assertEquals(0, faulty.staleReads, "every injected stale read was retried");
        assertEquals(0, cache.stats().loadFailures(), "a stale translation is not a failure");
        faulty.staleReads = 2;
        file.write(6 * PAGE + 5, ByteBuffer.wrap(new byte[] {9})); // copy-on-write reads the uncached old page
        assertEquals(0, faulty.staleReads, "the copy-on-write's read was retried");
        bytes[6 * PAGE + 5] = 9;
        assertArrayEquals(bytes, FileSystemTranslatorTest.read(file, 0, bytes.length));
        file.flush();
        assertArrayEquals(bytes, Files.readAllBytes(faulty.path));
    }

    @Test
    void aFailedWriteBackKeepsThePageDirtyUntilAFlushSucceeds() throws IOException
    {
        final byte[] bytes = FileSystemTranslatorTest.random(3, 4 * PAGE);
        final FaultyFiles faulty = faulty(bytes);
        final ExtentCache cache = cache(faulty);
        final CachedFile file = cache.file(faulty.id);
        file.write(2 * PAGE, ByteBuffer.wrap(new byte[] {1, 2}));
        faulty.failWrites = 1;
        final IOException failure = assertThrows(IOException.class, file::flush);
        assertTrue(failure.getMessage().contains("page 2"), failure.getMessage());
        assertEquals(1, file.dirtyPageCount());
        assertArrayEquals(bytes, Files.readAllBytes(faulty.path), "nothing reached the file");
        file.flush();
        bytes[2 * PAGE] = 1;
        bytes[2 * PAGE + 1] = 2;
        assertArrayEquals(bytes, Files.readAllBytes(faulty.path));
        assertEquals(0, file.dirtyPageCount());
    }

    @Test
    void aFailedSyncMarksThePagesDirtyAgain() throws IOException
    {
        final byte[] bytes = FileSystemTranslatorTest.random(4, 4 * PAGE);
        final FaultyFiles faulty = faulty(bytes);
        final ExtentCache cache = cache(faulty);
        final CachedFile file = cache.file(faulty.id);
        file.write(0, ByteBuffer.wrap(new byte[] {7}));
        file.write(3 * PAGE, ByteBuffer.wrap(new byte[] {8}));
        faulty.failSyncs = 1;
        assertThrows(IOException.class, cache::flush);
        assertEquals(2, file.dirtyPageCount(), "not known durable: dirty again");
        cache.flush();
        assertEquals(0, file.dirtyPageCount());
        bytes[0] = 7;
        bytes[3 * PAGE] = 8;
        assertArrayEquals(bytes, Files.readAllBytes(faulty.path));
    }

    private FaultyFiles faulty(final byte[] bytes) throws IOException
    {
        final Path path = Files.write(dir.resolve("f"), bytes);
        files = new FileSystemTranslator(PAGE);
        return new FaultyFiles(files, files.open(path, true), path);
    }

    private ExtentCache cache(final FaultyFiles faulty)
    {
        return books.track(ExtentCache.builder().translator(faulty).capacityFrames(16).build());
    }
}
