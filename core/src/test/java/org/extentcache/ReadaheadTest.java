package org.extentcache;

import org.extentcache.fs.FileSystemTranslator;
import org.extentcache.frame.Handle;
import org.extentcache.translate.Extent;
import org.extentcache.translate.FileBackedTranslator;
import org.extentcache.translate.ForwardingTranslator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Readahead over real files ({@link FrameReadahead}): a sequential read takes a few large reads, not one per page;
 * random reads take none; a window that fails, throws, skips pages or races an invalidation leaves nothing behind and
 * still serves the page asked for; and a window never takes a frame in use. Files live in {@code java.io.tmpdir},
 * read with {@code O_DIRECT} where the file system takes it. The books are checked after every test.
 */
final class ReadaheadTest
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
    void aSequentialReadWithDirectIoTakesFarFewerReadsThanPages() throws IOException
    {
        final int pages = 1024;
        final byte[] bytes = random(1, pages * PAGE);
        final RunFiles runs = open(bytes, true);
        Assumptions.assumeTrue(files.readsDirectly(runs.id), "the temporary directory takes no O_DIRECT reads");
        final ExtentCache cache = cache(runs, 2 * pages);
        final CachedFile file = cache.file(runs.id);
        assertArrayEquals(bytes, readPageByPage(file, pages));
        final int reads = runs.pageReads.get() + runs.runReads.get();
        assertTrue(reads < pages / 16, "reads for " + pages + " pages: " + reads);
        final CacheStats stats = cache.stats();
        assertEquals(pages, stats.deviceReads() + stats.pagesReadAhead(), "each page read once: " + stats);
        assertEquals(0, stats.readaheadFailures());
        assertArrayEquals(bytes, readPageByPage(file, pages), "again, from the cache");
        assertEquals(reads, runs.pageReads.get() + runs.runReads.get(), "no more reads");
    }

    @Test
    void readaheadOffReadsOnePagePerMiss() throws IOException
    {
        final int pages = 64;
        final byte[] bytes = random(3, pages * PAGE);
        final RunFiles runs = open(bytes, true);
        final ExtentCache cache = books.track(ExtentCache.builder().translator(runs).capacityFrames(2 * pages)
            .readahead(false).build());
        assertArrayEquals(bytes, readPageByPage(cache.file(runs.id), pages));
        assertEquals(pages, runs.pageReads.get(), "one read per page");
        assertEquals(0, runs.runReads.get(), "no window");
        assertEquals(0, cache.stats().pagesReadAhead());
    }

    @Test
    void randomReadsDoNotReadAhead() throws IOException
    {
        final int pages = 512;
        final byte[] bytes = random(2, pages * PAGE);
        final RunFiles runs = open(bytes, true);
        final ExtentCache cache = cache(runs, 2 * pages);
        final CachedFile file = cache.file(runs.id);
        final byte[] page = new byte[PAGE];
        for (int i = 0; i < pages; i++)
        {
            final int p = (7 + i * 37) % pages; // every page once, never right after the page before it
            file.read((long)p * PAGE, ByteBuffer.wrap(page));
            assertArrayEquals(Arrays.copyOfRange(bytes, p * PAGE, (p + 1) * PAGE), page, "page " + p);
        }
        assertEquals(0, runs.runReads.get(), "no window read");
        assertEquals(pages, runs.pageReads.get(), "one read per page");
        assertEquals(0, cache.stats().pagesReadAhead());
    }

    @Test
    void aFailedWindowReadStillServesThePageAndRecordsNoError() throws IOException
    {
        final int pages = 64;
        final byte[] bytes = random(3, pages * PAGE);
        final RunFiles runs = open(bytes, true);
        final ExtentCache cache = cache(runs, 2 * pages);
        final CachedFile file = cache.file(runs.id);
        runs.failRuns = Integer.MAX_VALUE;
        assertArrayEquals(bytes, readPageByPage(file, pages));
        final CacheStats stats = cache.stats();
        assertTrue(stats.readaheadFailures() > 0, "windows were tried and failed: " + stats);
        assertEquals(0, stats.loadFailures(), "nobody asked for those pages: no load failed");
        assertEquals(0, stats.pagesReadAhead());
        assertEquals(pages, stats.deviceReads(), "each page read alone after its window failed");
        assertEquals(pages, stats.framesResident(), "the window's frames went back: " + stats);
    }

    @Test
    void aWindowReadThatThrowsLeavesNothingLoadingAndTheNextReadWorks() throws IOException
    {
        final int pages = 32;
        final byte[] bytes = random(4, pages * PAGE);
        final RunFiles runs = open(bytes, true);
        final ExtentCache cache = cache(runs, 2 * pages);
        final CachedFile file = cache.file(runs.id);
        file.read(0, ByteBuffer.allocate(PAGE)); // a single-page load: page 1's miss is sequential
        runs.throwRuns = 1;
        assertThrows(IllegalStateException.class, () -> file.read(PAGE, ByteBuffer.allocate(PAGE)));
        assertEquals(1, cache.stats().framesResident(), "the window's frames were orphaned and freed");
        assertArrayEquals(bytes, readPageByPage(file, pages));
        assertTrue(cache.stats().pagesReadAhead() > 0, "later windows read");
    }

    @Test
    void pagesTheTranslatorDidNotReadAreNotPublished() throws IOException
    {
        final int pages = 32;
        final byte[] bytes = random(5, pages * PAGE);
        final RunFiles runs = open(bytes, true);
        final ExtentCache cache = cache(runs, 2 * pages);
        final CachedFile file = cache.file(runs.id);
        file.read(0, ByteBuffer.allocate(PAGE)); // a single-page load: page 1's miss is sequential
        runs.skipSecondPage = true; // the translator says the window's second page changed; its buffer holds garbage
        file.read(PAGE, ByteBuffer.allocate(PAGE));
        assertTrue(runs.runReads.get() > 0, "the second page's miss read a window");
        assertEquals(Handle.NONE, cache.frames().peek(blockOf(runs.id, 2)), "the skipped page was not published");
        assertNotEquals(Handle.NONE, cache.frames().peek(blockOf(runs.id, 3)), "the page after it was");
        runs.skipSecondPage = false;
        assertArrayEquals(bytes, readPageByPage(file, pages));
    }

    @Test
    void aBlockInvalidatedWhileItsWindowIsReadIsNotPublished() throws IOException
    {
        final int pages = 32;
        final byte[] bytes = random(6, pages * PAGE);
        final RunFiles runs = open(bytes, true);
        final ExtentCache cache = cache(runs, 2 * pages);
        final CachedFile file = cache.file(runs.id);
        final long block3 = blockOf(runs.id, 3);
        file.read(0, ByteBuffer.allocate(PAGE)); // a single-page load: page 1's miss is sequential
        runs.beforeRun = () -> cache.frames().invalidate(block3); // its frame is LOADING now
        file.read(PAGE, ByteBuffer.allocate(PAGE));
        runs.beforeRun = null;
        assertTrue(runs.runReads.get() > 0, "the second page's miss read a window");
        assertEquals(Handle.NONE, cache.frames().peek(block3), "the invalidated block was not published");
        assertNotEquals(Handle.NONE, cache.frames().peek(blockOf(runs.id, 4)), "the page after it was");
        assertArrayEquals(bytes, readPageByPage(file, pages));
    }

    /**
     * A cache of 49 frames: 32 hold a file read twice (hot), 16 a file read once (cold), one is free (for the scan's
     * first miss, which reads no window). A sequential scan of 64 more pages reads ahead into the cold frames and its
     * own, never into the hot ones: the hot file is all still cached after it. Without readahead (or with windows
     * claimed like loads), the scan's misses sweep the CLOCK over the hot frames and evict them.
     */
    @Test
    void aScanReadAheadNeverTakesAFrameInUse() throws IOException
    {
        final byte[] hot = random(7, 32 * PAGE);
        final byte[] cold = random(8, 16 * PAGE);
        final byte[] scan = random(9, 64 * PAGE);
        files = new FileSystemTranslator(PAGE, true);
        final RunFiles runs = new RunFiles(files, files.open(Files.write(dir.resolve("hot"), hot)));
        final long coldId = files.open(Files.write(dir.resolve("cold"), cold));
        final long scanId = files.open(Files.write(dir.resolve("scan"), scan));
        final ExtentCache cache = cache(runs, 49);
        final CachedFile hotFile = cache.file(runs.id);
        assertArrayEquals(hot, readPageByPage(hotFile, 32));
        assertArrayEquals(hot, readPageByPage(hotFile, 32), "used again: referenced");
        assertArrayEquals(cold, readPageByPage(cache.file(coldId), 16));
        assertEquals(1, cache.stats().framesFree());
        assertArrayEquals(scan, readPageByPage(cache.file(scanId), 64));
        final CacheStats before = cache.stats();
        assertArrayEquals(hot, readPageByPage(hotFile, 32));
        final CacheStats after = cache.stats().minus(before);
        assertEquals(0, after.deviceReads() + after.pagesReadAhead(), "the hot file stayed cached: " + after);
        assertTrue(before.pagesReadAhead() > 64, "the scan read ahead: " + before);
    }

    /**
     * A page read ahead and never used is no hotter than a page loaded on demand and used once: the CLOCK sweep must
     * not give it the second chance a used page earns. Frames 0..4 hold a scan's page 0 (a single load), page 1 (the
     * miss that read the window) and pages 2..4 (read ahead, unused); frames 5..7 hold pages of another file read once
     * on demand. Three more misses sweep from frame 0: they take pages 0 and 1 of the scan, then must take a page read
     * ahead and unused (frame 2), not a page somebody read (frame 5).
     */
    @Test
    void anUnusedReadAheadPageGetsNoSecondChanceOverAPageReadOnce() throws IOException
    {
        final byte[] scan = random(11, 8 * PAGE);
        final byte[] demand = random(12, 8 * PAGE);
        final byte[] other = random(13, 8 * PAGE);
        files = new FileSystemTranslator(PAGE, true);
        final long scanId = files.open(Files.write(dir.resolve("scan"), scan));
        final long demandId = files.open(Files.write(dir.resolve("demand"), demand));
        final long otherId = files.open(Files.write(dir.resolve("other"), other));
        final ExtentCache cache = books.track(ExtentCache.builder().translator(files).capacityFrames(8).build());
        final CachedFile scanFile = cache.file(scanId);
        scanFile.read(0, ByteBuffer.allocate(PAGE));
        scanFile.read(PAGE, ByteBuffer.allocate(PAGE)); // sequential: a window of pages 1..4
        assertEquals(3, cache.stats().pagesReadAhead(), "pages 2..4 read ahead: " + cache.stats());
        final CachedFile demandFile = cache.file(demandId);
        for (final int p : new int[]{6, 4, 2})
        {
            demandFile.read((long)p * PAGE, ByteBuffer.allocate(PAGE)); // never sequential: single loads
        }
        assertEquals(0, cache.stats().framesFree());
        final CachedFile otherFile = cache.file(otherId);
        for (final int p : new int[]{6, 4, 2})
        {
            otherFile.read((long)p * PAGE, ByteBuffer.allocate(PAGE));
        }
        assertEquals(Handle.NONE, cache.frames().peek(blockOf(scanId, 2)),
            "the page read ahead and never used went first");
        assertNotEquals(Handle.NONE, cache.frames().peek(blockOf(demandId, 6)),
            "the page read once stayed: a page nobody asked for got a second chance over it");
        assertTrue(cache.stats().reclaims() >= 3);
    }

    private long blockOf(final long file, final long page) throws IOException
    {
        final Extent extent = new Extent();
        files.translate(file, page, extent);
        return extent.blockOf(page);
    }

    private RunFiles open(final byte[] bytes, final boolean direct) throws IOException
    {
        final Path path = Files.write(dir.resolve("f"), bytes);
        files = new FileSystemTranslator(PAGE, direct);
        return new RunFiles(files, files.open(path));
    }

    private ExtentCache cache(final RunFiles runs, final int frames)
    {
        return books.track(ExtentCache.builder().translator(runs).capacityFrames(frames).build());
    }

    private static byte[] readPageByPage(final CachedFile file, final int pages) throws IOException
    {
        final byte[] all = new byte[pages * PAGE];
        for (int p = 0; p < pages; p++)
        {
            assertEquals(PAGE, file.read((long)p * PAGE, ByteBuffer.wrap(all, p * PAGE, PAGE)));
        }
        return all;
    }

    private static byte[] random(final long seed, final int length)
    {
        final byte[] bytes = new byte[length];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    /** Counts single-page and run reads, and fails, throws or skips run reads on request (also for AdviceTest). */
    static final class RunFiles extends ForwardingTranslator<FileSystemTranslator>
        implements FileBackedTranslator
    {
        final long id;
        final AtomicInteger pageReads = new AtomicInteger();
        final AtomicInteger runReads = new AtomicInteger();
        volatile int failRuns;
        volatile int throwRuns;
        volatile boolean skipSecondPage;
        volatile Runnable beforeRun;

        RunFiles(final FileSystemTranslator real, final long id)
        {
            super(real);
            this.id = id;
        }

        @Override
        public void readBlock(final long file, final long page, final long block, final ByteBuffer dst)
            throws IOException
        {
            pageReads.incrementAndGet();
            delegate.readBlock(file, page, block, dst);
        }

        @Override
        public void readBlocks(final long file, final long firstPage, final long[] blocks, final ByteBuffer[] dsts,
            final int count) throws IOException
        {
            runReads.incrementAndGet();
            final Runnable before = beforeRun;
            if (null != before)
            {
                before.run();
            }
            if (failRuns > 0)
            {
                failRuns--;
                throw new IOException("injected run read failure");
            }
            if (throwRuns > 0)
            {
                throwRuns--;
                throw new IllegalStateException("injected run read exception");
            }
            delegate.readBlocks(file, firstPage, blocks, dsts, count);
            if (skipSecondPage && count > 1 && Extent.HOLE != blocks[1])
            {
                blocks[1] = Extent.HOLE;
                final ByteBuffer garbage = dsts[1].duplicate();
                garbage.position(garbage.position() - PAGE);
                while (garbage.hasRemaining())
                {
                    garbage.put((byte)0x5A);
                }
            }
        }

        @Override
        public void writeBlock(final long block, final ByteBuffer src) throws IOException
        {
            delegate.writeBlock(block, src);
        }

        @Override
        public void sync() throws IOException
        {
            delegate.sync();
        }

        @Override
        public void syncFile(final long file) throws IOException
        {
            delegate.syncFile(file);
        }
    }
}
