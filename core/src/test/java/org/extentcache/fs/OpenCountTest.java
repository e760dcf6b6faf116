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
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@link FileSystemTranslator}'s open counts: one id per file however often it is opened, read-only and writable
 * opens side by side (a writable open upgrades a read-only file's channel; writes are allowed while a writable open
 * is outstanding), the file closed (written back, forgotten) on its last close only, and opens racing closes on one
 * path. Replay the race with {@code -Dextentcache.seed=N}.
 */
final class OpenCountTest
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

    private ExtentCache cache()
    {
        return books.track(ExtentCache.builder().translator(translator).capacityFrames(32).build());
    }

    @Test
    void opensAreCountedAndTheLastCloseClosesTheFile() throws IOException
    {
        final Path path = Files.write(dir.resolve("a"), new byte[2 * PAGE]);
        translator = new FileSystemTranslator(PAGE);
        final ExtentCache cache = cache();
        final long id = translator.open(path, true);
        assertEquals(id, translator.open(path, false));
        assertEquals(id, translator.open(dir.resolve(".").resolve("a"), true), "by any name of the path");
        final CachedFile file = cache.file(id);
        file.write(PAGE, ByteBuffer.wrap(new byte[] {5}));

        translator.close(id, true);
        translator.close(id, false);
        assertArrayEquals(new long[] {id}, translator.openFiles(), "one writable open is still outstanding");
        file.write(PAGE + 1, ByteBuffer.wrap(new byte[] {6}));
        assertThrows(IllegalStateException.class, () -> translator.close(id, false), "no read-only open is left");

        translator.close(id, true);
        assertArrayEquals(new long[0], translator.openFiles(), "the last close closed it");
        assertThrows(NoSuchFileException.class, () -> cache.file(id));
        final byte[] disk = Files.readAllBytes(path);
        assertEquals(5, disk[PAGE], "the last close wrote the file back");
        assertEquals(6, disk[PAGE + 1]);
        assertThrows(NoSuchFileException.class, () -> translator.close(id, true));
    }

    @Test
    void readOnlyAndWritableOpensCoexist() throws IOException
    {
        final Path path = Files.write(dir.resolve("b"), new byte[PAGE]);
        translator = new FileSystemTranslator(PAGE);
        final ExtentCache cache = cache();
        final long id = translator.open(path, false);
        final CachedFile file = cache.file(id);
        final byte[] zero = new byte[1];
        assertEquals(1, file.read(0, ByteBuffer.wrap(zero)), "read once as a read-only file");
        assertThrows(AccessDeniedException.class, () -> translator.checkWritable(id));

        assertEquals(id, translator.open(path, true), "the writable open upgrades the read-only file");
        translator.checkWritable(id);
        file.write(0, ByteBuffer.wrap(new byte[] {9}));
        file.flush();
        assertEquals(9, Files.readAllBytes(path)[0], "written through the upgraded channel");

        translator.close(id, true);
        final AccessDeniedException denied = assertThrows(AccessDeniedException.class,
            () -> translator.checkWritable(id), "no writable open is outstanding");
        assertTrue(denied.getMessage().contains("writable opens are closed"), denied.getMessage());
        assertEquals(id, translator.open(path, true), "upgraded again, the channel already writes");
        translator.checkWritable(id);
        translator.close(id, true);
        translator.close(id, false);
        assertEquals(0, translator.openFiles().length);
    }

    @Test
    void aFailedOpenIsNotCounted() throws IOException
    {
        final Path path = Files.write(dir.resolve("c"), new byte[PAGE]);
        translator = new FileSystemTranslator(PAGE);
        final long id = translator.open(path, false);
        assertTrue(path.toFile().setWritable(false));
        try
        {
            if (!Files.isWritable(path))
            {
                assertThrows(AccessDeniedException.class, () -> translator.open(path, true),
                    "a file that cannot be opened for writing");
                assertThrows(IllegalStateException.class, () -> translator.close(id, true),
                    "the failed writable open was not counted");
            }
        }
        finally
        {
            assertTrue(path.toFile().setWritable(true));
        }
        translator.close(id, false);
        assertEquals(0, translator.openFiles().length, "the read-only open was the only one");
    }

    @Test
    void opensRacingClosesOnOnePathKeepOneFileAndCloseItLast() throws Exception
    {
        final long seed = Long.getLong("extentcache.seed", System.nanoTime());
        final Path path = Files.write(dir.resolve("race"), new byte[4 * PAGE]);
        translator = new FileSystemTranslator(PAGE);
        final ExtentCache cache = cache();
        final int threads = 4;
        final int rounds = 300;
        final CyclicBarrier start = new CyclicBarrier(threads);
        final ExecutorService pool = Executors.newFixedThreadPool(threads);
        try
        {
            final List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++)
            {
                final int thread = t;
                done.add(pool.submit(() ->
                {
                    final SplittableRandom random = new SplittableRandom(seed + thread);
                    start.await();
                    for (int round = 0; round < rounds; round++)
                    {
                        final boolean writable = random.nextBoolean();
                        final long id = translator.open(path, writable);
                        final CachedFile file = cache.file(id);
                        if (writable)
                        {
                            // each thread owns one byte: what it wrote last must be read back while it holds an open
                            file.write(thread, ByteBuffer.wrap(new byte[] {(byte)round}));
                            final byte[] back = new byte[1];
                            file.read(thread, ByteBuffer.wrap(back));
                            assertEquals((byte)round, back[0], "thread " + thread + " round " + round);
                        }
                        else
                        {
                            file.read(0, ByteBuffer.allocate(PAGE));
                        }
                        translator.close(id, writable);
                    }
                    return null;
                }));
            }
            for (final Future<?> future : done)
            {
                try
                {
                    future.get(120, TimeUnit.SECONDS);
                }
                catch (final Exception ex)
                {
                    throw new AssertionError("seed=" + seed + " (replay with -Dextentcache.seed=" + seed + "): " + ex,
                        ex);
                }
            }
        }
        finally
        {
            pool.shutdownNow();
        }
        assertEquals(0, translator.openFiles().length, "seed=" + seed + ": every open was closed");
        assertEquals(4 * PAGE, Files.size(path));
    }
}
