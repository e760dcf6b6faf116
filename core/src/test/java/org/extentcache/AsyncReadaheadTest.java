package org.extentcache;

import org.extentcache.ReadaheadTest.RunFiles;
import org.extentcache.fs.FileSystemTranslator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Windows read in the background while a file is read sequentially ({@link AsyncReadahead}, started by
 * {@link SequentialMisses}): every page is read once and right, a failed background window costs the reader nothing
 * but its own read, a foreground write racing a background window is never lost, and close waits for a window being
 * read before it frees the frames.
 */
final class AsyncReadaheadTest
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
    void aLongSequentialReadIsReadAheadInTheBackgroundEachPageOnce() throws Exception
    {
        final int pages = 2048;
        final byte[] bytes = random(1, pages * PAGE);
        final RunFiles runs = open(bytes);
        final ExtentCache cache = cache(runs, 2 * pages);
        final CachedFile file = cache.file(runs.id);
        assertArrayEquals(bytes, readPageByPage(file, pages));
        final AsyncReadahead background = cache.frames().asyncReadahead;
        assertTrue(background.awaitIdle(10, TimeUnit.SECONDS));
        assertTrue(background.windows.sum() > 4, "windows asked for in the background: " + background.windows);
        final CacheStats stats = cache.stats();
        assertEquals(pages, stats.deviceReads() + stats.pagesReadAhead(), "each page read once: " + stats);
        assertTrue(runs.runReads.get() + runs.pageReads.get() < pages / 32, "reads: " + runs.runReads + " runs, " +
            runs.pageReads + " pages");
        assertArrayEquals(bytes, readPageByPage(file, pages), "again, from the cache");
    }

    @Test
    void readaheadOffAsksForNoBackgroundWindow() throws IOException
    {
        final RunFiles runs = open(random(2, 256 * PAGE));
        final ExtentCache cache = books.track(ExtentCache.builder().translator(runs).capacityFrames(512)
            .readahead(false).build());
        readPageByPage(cache.file(runs.id), 256);
        assertNull(cache.frames().asyncReadahead);
        assertEquals(256, cache.stats().deviceReads());
    }

    @Test
    void aFailedBackgroundWindowIsCountedAndTheReaderReadsItsPagesItself() throws Exception
    {
        final int pages = 1024;
        final byte[] bytes = random(3, pages * PAGE);
        final RunFiles runs = open(bytes);
        runs.beforeRun = () ->
        {
            if (Thread.currentThread().getName().contains("-readahead-"))
            {
                runs.failRuns = 1; // this run, in the background, fails
            }
        };
        final ExtentCache cache = cache(runs, 2 * pages);
        assertArrayEquals(bytes, readPageByPage(cache.file(runs.id), pages));
        assertTrue(cache.frames().asyncReadahead.awaitIdle(10, TimeUnit.SECONDS));
        final CacheStats stats = cache.stats();
        assertTrue(stats.readaheadFailures() > 0, "background windows failed: " + stats);
        assertEquals(0, stats.loadFailures(), "no error recorded for pages nobody asked for: " + stats);
    }

    /**
     * One thread reads a file sequentially and, every few pages, writes a page just ahead of where it reads (where a
     * background window may be loading it); every read must return what the last write left, and so must the file
     * after a flush. Seeded: {@code -Dextentcache.asyncReadahead.seed=N} replays the writes.
     */
    @Test
    void foregroundWritesRacingBackgroundWindowsAreNeverLost() throws Exception
    {
        final long seed = Long.getLong("extentcache.asyncReadahead.seed", System.nanoTime());
        System.out.println("foregroundWritesRacingBackgroundWindowsAreNeverLost seed=" + seed);
        final SplittableRandom random = new SplittableRandom(seed);
        final int pages = 1024;
        final byte[] model = random(4, pages * PAGE);
        final RunFiles runs = open(model.clone());
        final ExtentCache cache = cache(runs, 2 * pages);
        CachedFile file = cache.file(runs.id);
        final ByteBuffer page = ByteBuffer.allocate(PAGE);
        for (int round = 0; round < 3; round++)
        {
            for (int p = 0; p < pages; p++)
            {
                if (random.nextInt(5) == 0)
                {
                    final int ahead = Math.min(pages - 1, p + 1 + random.nextInt(200));
                    final byte[] stamp = new byte[PAGE];
                    Arrays.fill(stamp, (byte)random.nextInt(256));
                    assertEquals(PAGE, file.write((long)ahead * PAGE, ByteBuffer.wrap(stamp)));
                    System.arraycopy(stamp, 0, model, ahead * PAGE, PAGE);
                }
                file.read((long)p * PAGE, page.clear());
                assertArrayEquals(Arrays.copyOfRange(model, p * PAGE, (p + 1) * PAGE), page.array(),
                    "page " + p + " of round " + round + " (seed " + seed + ")");
            }
            if (round == 1)
            {
                file.flush();
                cache.closeFile(file.id()); // the next round reads from the file again, with windows
                file = cache.file(runs.id);
            }
        }
        file.flush();
        assertArrayEquals(model, Files.readAllBytes(dir.resolve("f")), "the file after a flush (seed " + seed + ")");
    }

    @Test
    void closeWaitsForAWindowBeingReadInTheBackgroundThenFreesEverything() throws Exception
    {
        final int pages = 1024;
        final byte[] bytes = random(5, pages * PAGE);
        final RunFiles runs = open(bytes);
        final CountDownLatch inBackground = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        runs.beforeRun = () ->
        {
            if (Thread.currentThread().getName().contains("-readahead-"))
            {
                inBackground.countDown();
                try
                {
                    release.await(20, TimeUnit.SECONDS);
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                }
            }
        };
        final ExtentCache cache = cache(runs, 2 * pages);
        final CachedFile file = cache.file(runs.id);
        final ByteBuffer page = ByteBuffer.allocate(PAGE);
        for (int p = 0; p < pages && inBackground.getCount() > 0; p++)
        {
            file.read((long)p * PAGE, page.clear());
        }
        assertTrue(inBackground.await(10, TimeUnit.SECONDS), "a window is being read in the background");
        final CompletableFuture<Void> closing = CompletableFuture.runAsync(cache::close, TestThreads.POOL);
        try
        {
            awaitParkedInGate(closing);
            assertFalse(closing.isDone(), "close returned while a background window was reading into frames");
            assertFalse(cache.frames().pins.isClosed(), "the frames were freed under the background window");
        }
        finally
        {
            release.countDown();
        }
        closing.get(20, TimeUnit.SECONDS);
        assertTrue(cache.frames().pins.isClosed());
    }

    /** Waits until some thread is inside {@link ReaderGate#close}'s wait, or close is done. */
    private static void awaitParkedInGate(final CompletableFuture<Void> closing) throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!closing.isDone() && System.nanoTime() < deadline)
        {
            for (final StackTraceElement[] stack : Thread.getAllStackTraces().values())
            {
                for (final StackTraceElement frame : stack)
                {
                    if (frame.getClassName().equals(ReaderGate.class.getName()) &&
                        frame.getMethodName().equals("close"))
                    {
                        return;
                    }
                }
            }
            Thread.sleep(1);
        }
    }

    private RunFiles open(final byte[] bytes) throws IOException
    {
        final Path path = Files.write(dir.resolve("f"), bytes);
        files = new FileSystemTranslator(PAGE, true);
        return new RunFiles(files, files.open(path, true));
    }

    private ExtentCache cache(final RunFiles runs, final int frames)
    {
        return books.track(ExtentCache.builder().translator(runs).capacityFrames(frames).build());
    }

    private static byte[] readPageByPage(final CachedFile file, final int pages) throws IOException
    {
        final byte[] out = new byte[pages * PAGE];
        final ByteBuffer page = ByteBuffer.allocate(PAGE);
        for (int p = 0; p < pages; p++)
        {
            file.read((long)p * PAGE, page.clear());
            System.arraycopy(page.array(), 0, out, p * PAGE, PAGE);
        }
        return out;
    }

    private static byte[] random(final long seed, final int length)
    {
        final byte[] bytes = new byte[length];
        new SplittableRandom(seed).nextBytes(bytes);
        return bytes;
    }
}
