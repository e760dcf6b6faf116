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
import java.nio.file.StandardOpenOption;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue item 3: {@link FileSystemTranslator#close(long)}, {@link FileSystemTranslator#truncate} and
 * {@link FileSystemTranslator#revalidate} write a file's dirty pages back before they change it; when the sync of
 * that write-back fails, the pages stay dirty (Linux reports a failed fsync once: only writing them again makes them
 * durable), the change is abandoned, and a retry after the fault clears puts the bytes on disk.
 */
final class TranslatorSyncFailureTest
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
    void aFailedSyncInCloseKeepsThePagesDirtyAndTheFileOpen() throws IOException
    {
        final byte[] bytes = FileSystemTranslatorTest.random(11, 4 * PAGE);
        final FaultyFiles faulty = faulty(bytes);
        final ExtentCache cache = cache(faulty);
        final CachedFile file = cache.file(faulty.id);
        file.write(PAGE, ByteBuffer.wrap(new byte[] {42}));
        faulty.failSyncs = 1;
        final IOException failure = assertThrows(IOException.class, () -> files.close(faulty.id));
        assertTrue(failure.getMessage().contains("injected sync failure"), failure.getMessage());
        assertEquals(1, file.dirtyPageCount(), "not known durable: still dirty");
        assertEquals(faulty.path, files.path(faulty.id), "the file stays open");
        files.close(faulty.id);
        bytes[PAGE] = 42;
        assertArrayEquals(bytes, Files.readAllBytes(faulty.path), "the retry put the write on disk");
    }

    @Test
    void aFailedSyncInTruncateKeepsThePagesDirtyAndTheSize() throws IOException
    {
        final byte[] bytes = FileSystemTranslatorTest.random(12, 4 * PAGE);
        final FaultyFiles faulty = faulty(bytes);
        final ExtentCache cache = cache(faulty);
        final CachedFile file = cache.file(faulty.id);
        file.write(2 * PAGE + 10, ByteBuffer.wrap(new byte[] {43}));
        faulty.failSyncs = 1;
        assertThrows(IOException.class, () -> files.truncate(faulty.id, 2 * PAGE + 100));
        assertEquals(1, file.dirtyPageCount(), "still dirty");
        assertEquals(4 * PAGE, files.size(faulty.id), "the truncation was abandoned");
        files.truncate(faulty.id, 2 * PAGE + 100);
        cache.flush();
        bytes[2 * PAGE + 10] = 43;
        assertArrayEquals(java.util.Arrays.copyOf(bytes, 2 * PAGE + 100), Files.readAllBytes(faulty.path));
    }

    @Test
    void aFailedSyncInRevalidateKeepsThePagesDirty() throws IOException
    {
        final byte[] bytes = FileSystemTranslatorTest.random(13, 4 * PAGE);
        final FaultyFiles faulty = faulty(bytes);
        final ExtentCache cache = cache(faulty);
        final CachedFile file = cache.file(faulty.id);
        file.write(0, ByteBuffer.wrap(new byte[] {44}));
        Files.write(faulty.path, new byte[] {1, 2, 3}, StandardOpenOption.APPEND); // another process grows it
        faulty.failSyncs = 1;
        assertThrows(IOException.class, () -> files.revalidate(faulty.id));
        assertEquals(1, file.dirtyPageCount(), "still dirty");
        files.revalidate(faulty.id); // (whether it reloads: our own write-back is not a change, see the class comment)
        cache.flush();
        assertEquals(0, file.dirtyPageCount());
        final byte[] onDisk = Files.readAllBytes(faulty.path);
        assertEquals(44, onDisk[0]);
        assertEquals(4 * PAGE + 3, onDisk.length);
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
