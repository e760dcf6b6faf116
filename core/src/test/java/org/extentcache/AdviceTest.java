package org.extentcache;

import org.extentcache.ReadaheadTest.RunFiles;
import org.extentcache.device.ForwardingBlockDevice;
import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.frame.Handle;
import org.extentcache.fs.FileSystemTranslator;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link CachedFile#advise}: each advice has a test that fails if the cache ignored it (most with the same steps
 * without the advice beside it, to show the advice is what makes the difference), over an {@link ExtentStore} on a
 * {@link MemoryBlockDevice}, and over real files for the readahead advice. Every page is stamped with its file and
 * offset, so a read of wrong bytes names where they came from. The books are checked after every test.
 */
final class AdviceTest
{
    private static final int PAGE = 4096;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    @TempDir
    Path dir;

    private final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 8192);
    private final ExtentStore store = new ExtentStore(device);
    private FileSystemTranslator files;

    @AfterEach
    void closeFiles() throws IOException
    {
        if (null != files)
        {
            files.close();
        }
    }

    // ---- arguments

    @Test
    void negativeOffsetOrLengthAndNullAdviceAreRefused() throws IOException
    {
        final ExtentCache cache = cache(16);
        final CachedFile file = cache.file(fileOf(4));
        final IllegalArgumentException offset =
            assertThrows(IllegalArgumentException.class, () -> file.advise(-1, 0, Advice.RANDOM));
        assertTrue(offset.getMessage().contains("offset=-1"), offset.getMessage());
        final IllegalArgumentException length =
            assertThrows(IllegalArgumentException.class, () -> file.advise(0, -4096, Advice.DONTNEED));
        assertTrue(length.getMessage().contains("length=-4096"), length.getMessage());
        assertThrows(NullPointerException.class, () -> file.advise(0, 0, null));
        file.advise(Long.MAX_VALUE, Long.MAX_VALUE, Advice.SEQUENTIAL); // past the end, overflowing: fine
        file.advise(1L << 50, 0, Advice.WILLNEED); // past the end: nothing to read
        file.advise(1L << 50, 0, Advice.DONTNEED);
        assertEquals(0, cache.stats().deviceReads());
    }

    @Test
    void adviceOnAClosedCacheOrADeletedFileIsRefused() throws IOException
    {
        final ExtentCache cache = cache(16);
        final long id = fileOf(4);
        final CachedFile file = cache.file(id);
        final CachedFile deleted = cache.file(fileOf(1));
        store.delete(deleted.id());
        assertThrows(NoSuchFileException.class, () -> deleted.advise(0, 0, Advice.WILLNEED));
        cache.close();
        for (final Advice advice : Advice.values())
        {
            assertThrows(IllegalStateException.class, () -> file.advise(0, 0, advice), advice.name());
        }
    }

    @Test
    void tooManyRangesAreRefusedAndAdjacentRangesJoin() throws IOException
    {
        final ExtentCache cache = cache(16);
        final CachedFile file = cache.file(fileOf(4));
        for (int i = 0; i < 1000; i++)
        {
            file.advise((long)i * PAGE, PAGE, Advice.RANDOM); // joined into one range
        }
        for (int i = 0; i < FileAdvice.MAX_RANGES / 2; i++)
        {
            file.advise((long)i * 2 * PAGE, PAGE, Advice.NOREUSE); // alternating with RANDOM: 64 ranges
        }
        assertThrows(IllegalStateException.class, () -> file.advise(200L * PAGE, PAGE, Advice.SEQUENTIAL));
        file.advise(0, 0, Advice.NORMAL); // forgets them all
        file.advise(200L * PAGE, PAGE, Advice.SEQUENTIAL);
    }

    // ---- NOREUSE

    @Test
    void aNoReuseScanLeavesTheHotSetResident() throws IOException
    {
        assertEquals(0, hotSetRereadsAfterScan(true), "the hot set survived the scan");
    }

    @Test
    void withoutNoReuseTheSameScanEvictsTheHotSet() throws IOException
    {
        assertEquals(HOT_PAGES, hotSetRereadsAfterScan(false), "the hot set was evicted");
    }

    private static final int HOT_PAGES = 32;

    /** A hot set read three times, a scan eight times the cache's size, the hot set again: its device reads. */
    private long hotSetRereadsAfterScan(final boolean noReuse) throws IOException
    {
        final int frames = 256;
        final int scanPages = 8 * frames;
        final ExtentCache cache = cache(frames);
        final CachedFile hot = cache.file(fileOf(HOT_PAGES));
        final CachedFile scan = cache.file(fileOf(scanPages));
        for (int round = 0; round < 3; round++)
        {
            readAll(hot, HOT_PAGES);
        }
        if (noReuse)
        {
            scan.advise(0, 0, Advice.NOREUSE);
        }
        readAll(scan, scanPages);
        final CacheStats before = cache.stats();
        readAll(hot, HOT_PAGES);
        final CacheStats after = cache.stats().minus(before);
        assertEquals(HOT_PAGES, after.requestCount(), after.toString());
        assertEquals(noReuse ? scanPages - FileAdvice.RING : 0, cache.stats().pagesDropped(),
            "the scan recycled its own frames: " + cache.stats());
        return after.deviceReads();
    }

    @Test
    void noReuseHitsAndSharingHitsLeaveFramesUnreferenced() throws IOException
    {
        final ExtentCache cache = cache(64);
        final long id = fileOf(8);
        final CachedFile plain = cache.file(id);
        final CachedFile advised = cache.file(fileOf(8));
        advised.advise(0, 0, Advice.NOREUSE);
        readAll(plain, 8);
        readAll(plain, 8); // a hit: referenced
        readAll(advised, 8);
        readAll(advised, 8); // a hit, advised: not referenced
        for (int p = 0; p < 8; p++)
        {
            assertTrue(referenced(cache, plain, p), "plain page " + p);
            assertFalse(referenced(cache, advised, p), "advised page " + p);
        }

        final long original = fileOf(8);
        final CachedFile source = cache.file(original);
        readAll(source, 8); // loaded: not referenced yet
        final CachedFile clone = cache.file(store.cloneFile(original));
        clone.advise(0, 4 * PAGE, Advice.NOREUSE);
        readAll(clone, 8); // sharing hits (pages 0-3 advised)
        for (int p = 0; p < 8; p++)
        {
            assertEquals(p >= 4, referenced(cache, clone, p), "page " + p + " after the clone's read");
        }
    }

    private static boolean referenced(final ExtentCache cache, final CachedFile file, final long page)
    {
        final long handle = file.mapping().get(page);
        assertTrue(Handle.NONE != handle, "page " + page + " is mapped");
        return cache.frames().arena().isReferenced(Handle.frame(handle));
    }

    // ---- SEQUENTIAL and RANDOM (real files)

    @Test
    void sequentialReadsAWindowAtTheFirstMissTwiceTheLargest() throws IOException
    {
        final int pages = 256;
        final RunFiles runs = realFile(pages);
        final ExtentCache plainCache = books.track(ExtentCache.builder().translator(runs).capacityFrames(1024)
            .build());
        readAll(plainCache.file(runs.id), 1);
        assertEquals(0, runs.runReads.get(), "without advice the first miss reads one page");
        readAll(plainCache.file(runs.id), pages);
        final int plainRuns = runs.runReads.get();
        plainCache.close();

        runs.runReads.set(0);
        final ExtentCache cache = books.track(ExtentCache.builder().translator(runs).capacityFrames(1024).build());
        final CachedFile file = cache.file(runs.id);
        file.advise(0, 0, Advice.SEQUENTIAL);
        readAll(file, 1);
        assertEquals(1, runs.runReads.get(), "the first miss read a window");
        assertEquals(FrameReadahead.ADVISED_WINDOW - 1, cache.stats().pagesReadAhead(), cache.stats().toString());
        readAll(file, pages);
        assertEquals(pages / FrameReadahead.ADVISED_WINDOW, runs.runReads.get(), "windows of 128 pages");
        assertTrue(plainRuns > runs.runReads.get(), "without advice, more and smaller windows: " + plainRuns);
    }

    @Test
    void randomReadsNoWindowAndNormalForgetsIt() throws IOException
    {
        final int pages = 64;
        final RunFiles runs = realFile(pages);
        final ExtentCache randomCache = books.track(ExtentCache.builder().translator(runs).capacityFrames(256)
            .build());
        final CachedFile random = randomCache.file(runs.id);
        random.advise(0, 0, Advice.RANDOM);
        readAll(random, pages);
        assertEquals(0, runs.runReads.get(), "no window under RANDOM");
        assertEquals(pages, runs.pageReads.get());
        randomCache.close();

        final ExtentCache cache = books.track(ExtentCache.builder().translator(runs).capacityFrames(256).build());
        final CachedFile file = cache.file(runs.id);
        file.advise(0, 0, Advice.RANDOM);
        file.advise(0, pages / 2 * PAGE, Advice.NORMAL);
        readAll(file, pages);
        assertTrue(runs.runReads.get() > 0, "windows again where NORMAL replaced RANDOM");
    }

    @Test
    void dontNeedOnRealFilesUnmapsAndDemotesFramesItCannotKnowUnshared() throws IOException
    {
        final int pages = 64;
        final RunFiles runs = realFile(pages);
        final ExtentCache cache = books.track(ExtentCache.builder().translator(runs).capacityFrames(256).build());
        final CachedFile file = cache.file(runs.id);
        readAll(file, pages);
        readAll(file, pages); // hits: every frame referenced
        assertEquals(pages, referencedFrames(cache));
        file.advise(0, 0, Advice.DONTNEED);
        assertEquals(0, cache.stats().handlesHeld(), "unmapped");
        assertEquals(pages, cache.stats().framesResident(), "physical blocks: another file may map them");
        assertEquals(0, referencedFrames(cache), "demoted: the sweep's first choice");
    }

    private static int referencedFrames(final ExtentCache cache)
    {
        int referenced = 0;
        for (int frame = 0; frame < cache.frames().arena().capacity(); frame++)
        {
            referenced += cache.frames().arena().isReferenced(frame) ? 1 : 0;
        }
        return referenced;
    }

    // ---- WILLNEED

    @Test
    void willNeedReadsTheRangeNowAndLaterReadsHit() throws IOException
    {
        final ExtentCache cache = cache(128);
        final CachedFile file = cache.file(fileOf(32));
        final CachedFile control = cache.file(fileOf(32));
        file.advise(0, 0, Advice.WILLNEED);
        assertEquals(32, cache.stats().deviceReads(), "prefetched");
        assertEquals(32, cache.stats().framesResident());
        readAll(file, 32);
        assertEquals(32, cache.stats().deviceReads(), "no read after the prefetch");
        assertEquals(32, cache.stats().fileHits(), "every read a file hit");
        readAll(control, 32);
        assertEquals(64, cache.stats().deviceReads(), "without advice every page is read when asked for");
    }

    @Test
    void willNeedReadsOnlyTheRangeAndAtMostHalfTheCache() throws IOException
    {
        final ExtentCache cache = cache(32);
        final CachedFile file = cache.file(fileOf(100));
        file.advise(10L * PAGE + 1, 4L * PAGE, Advice.WILLNEED); // touches pages 10 to 14
        assertEquals(5, cache.stats().deviceReads());
        for (int p = 0; p < 100; p++)
        {
            assertEquals(p >= 10 && p <= 14, Handle.NONE != file.mapping().get(p), "page " + p);
        }
        file.advise(0, 0, Advice.WILLNEED);
        assertEquals(5 + 16 - 5, cache.stats().deviceReads(), "the first 16 pages: half of 32 frames");
        file.advise(0, 0, Advice.WILLNEED);
        assertEquals(16, cache.stats().deviceReads(), "cached pages are not read again");
    }

    @Test
    void willNeedOnRealFilesReadsWindows() throws IOException
    {
        final int pages = 256;
        final RunFiles runs = realFile(pages);
        final ExtentCache cache = books.track(ExtentCache.builder().translator(runs).capacityFrames(1024).build());
        final CachedFile file = cache.file(runs.id);
        file.advise(0, 0, Advice.WILLNEED);
        assertEquals(pages / FrameReadahead.ADVISED_WINDOW, runs.runReads.get(), "two windows");
        assertEquals(0, runs.pageReads.get());
        assertEquals(pages, cache.stats().framesResident());
        readAll(file, pages);
        assertEquals(pages / FrameReadahead.ADVISED_WINDOW, runs.runReads.get(), "no read after the prefetch");
        assertEquals(0, runs.pageReads.get());
    }

    @Test
    void aFailedPrefetchThrowsAndKeepsWhatItRead() throws IOException
    {
        final FailingDevice failing = new FailingDevice();
        final ExtentStore failingStore = new ExtentStore(failing);
        final long id = failingStore.create();
        failingStore.write(id, 0, stamped(id, 8));
        final ExtentCache cache = books.track(ExtentCache.builder().device(failing).translator(failingStore)
            .capacityFrames(32).build());
        final CachedFile file = cache.file(id);
        failing.failAfter.set(3);
        assertThrows(IOException.class, () -> file.advise(0, 0, Advice.WILLNEED));
        assertEquals(3, cache.stats().framesResident(), "the pages read before the failure stay");
        failing.failAfter.set(Integer.MAX_VALUE);
        readAll(file, 8);
    }

    // ---- DONTNEED

    @Test
    void dontNeedFreesTheRangesUnsharedCleanPages() throws IOException
    {
        final ExtentCache cache = cache(64);
        final CachedFile file = cache.file(fileOf(16));
        readAll(file, 16);
        assertEquals(16, cache.stats().framesResident());
        file.advise(100, 2L * PAGE, Advice.DONTNEED); // only page 1 lies wholly inside
        assertEquals(15, cache.stats().framesResident());
        assertEquals(1, cache.stats().pagesDropped());
        file.advise(0, 0, Advice.DONTNEED);
        assertEquals(0, cache.stats().framesResident(), "dropped");
        assertEquals(0, cache.stats().handlesHeld());
        assertEquals(16, cache.stats().pagesDropped());
        readAll(file, 16);
        assertEquals(32, cache.stats().deviceReads(), "read again from the device");
    }

    @Test
    void dontNeedKeepsFramesAnotherFileShares() throws IOException
    {
        final ExtentCache cache = cache(64);
        final long id = fileOf(8);
        final CachedFile source = cache.file(id);
        final CachedFile clone = cache.file(store.cloneFile(id));
        readAll(source, 8);
        readAll(clone, 8);
        source.advise(0, 0, Advice.DONTNEED);
        assertEquals(8, cache.stats().framesResident(), "the clone still maps them");
        assertEquals(0, cache.stats().pagesDropped());
        final long reads = cache.stats().deviceReads();
        readAll(clone, 8);
        readAll(source, 8);
        assertEquals(reads, cache.stats().deviceReads(), "no device read: the frames stayed");
    }

    @Test
    void dontNeedKeepsAPinnedPage() throws IOException
    {
        final ExtentCache cache = cache(64);
        final long id = fileOf(4);
        final CachedFile file = cache.file(id);
        readAll(file, 4);
        try (PinnedPage page = file.pin(PAGE))
        {
            file.advise(0, 0, Advice.DONTNEED);
            assertEquals(1, cache.stats().framesResident(), "only the pinned page stays");
            for (int i = 0; i < PAGE; i += 8)
            {
                assertEquals(stamp(id, PAGE + i), page.byteBuffer().getLong(i), "pinned bytes at " + i);
            }
        }
        readAll(file, 4);
    }

    @Test
    void dontNeedOfDirtyPagesWritesThemBackAndLosesNothing() throws IOException
    {
        final ExtentCache cache = cache(64);
        final long id = fileOf(8);
        final CachedFile file = cache.file(id);
        readAll(file, 8);
        final ByteBuffer update = stamped(id + 1000, 8);
        file.write(0, update.duplicate());
        assertEquals(8, file.dirtyPageCount());
        file.advise(0, 0, Advice.DONTNEED);
        assertEquals(0, file.dirtyPageCount(), "written back");
        assertTrue(cache.stats().writebacks() >= 8, cache.stats().toString());
        assertEquals(0, cache.stats().framesResident(), "then dropped");
        final ByteBuffer onDevice = ByteBuffer.allocate(8 * PAGE);
        store.read(id, 0, onDevice);
        assertEquals(update.duplicate().clear(), onDevice.clear(), "on the device");
        assertStamped(file, id + 1000, 8, "read back through the cache");
        file.flush();
        assertStamped(file, id + 1000, 8, "after the flush");
    }

    @Test
    void dontNeedWhoseWriteBackFailsThrowsAndKeepsThePagesDirty() throws IOException
    {
        final FailingDevice failing = new FailingDevice();
        final ExtentStore failingStore = new ExtentStore(failing);
        final long id = failingStore.create();
        failingStore.write(id, 0, stamped(id, 8));
        final ExtentCache cache = books.track(ExtentCache.builder().device(failing).translator(failingStore)
            .capacityFrames(32).build());
        final CachedFile file = cache.file(id);
        readAll(file, 8);
        file.write(0, stamped(id + 1000, 4)); // pages 0-3 dirty, 4-7 clean
        failing.failWrites = true;
        assertThrows(IOException.class, () -> file.advise(0, 0, Advice.DONTNEED));
        assertEquals(4, file.dirtyPageCount(), "still dirty");
        assertEquals(4, cache.stats().framesResident(), "the dirty pages stay, the clean ones went");
        assertEquals(4, cache.stats().pagesDropped());
        failing.failWrites = false;
        file.flush();
        final ByteBuffer onDevice = ByteBuffer.allocate(4 * PAGE);
        failingStore.read(id, 0, onDevice);
        assertEquals(stamped(id + 1000, 4), onDevice.clear(), "on the device after the flush");
    }

    @Test
    void dontNeedRacingReadsNeverReturnsWrongBytes() throws Exception
    {
        final long seed = System.nanoTime();
        System.out.println("AdviceTest.dontNeedRacingReadsNeverReturnsWrongBytes seed=" + seed);
        final Random random = new Random(seed);
        final int pages = 64;
        final ExtentCache cache = cache(96);
        final long id = fileOf(pages); // unshared: DONTNEED frees its frames
        final long sharedId = fileOf(pages); // shared with its clone: DONTNEED only unmaps
        final CachedFile[] targets = {cache.file(id), cache.file(store.cloneFile(sharedId)), cache.file(sharedId)};
        final long[] stamps = {id, sharedId, sharedId};
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicInteger reads = new AtomicInteger();
        final List<CompletableFuture<Void>> readers = new ArrayList<>();
        for (int t = 0; t < 3; t++)
        {
            final long readerSeed = random.nextLong();
            final CachedFile target = targets[t];
            final long stampId = stamps[t];
            readers.add(CompletableFuture.runAsync(() ->
            {
                final Random r = new Random(readerSeed);
                final ByteBuffer page = ByteBuffer.allocate(PAGE);
                try
                {
                    while (!stop.get())
                    {
                        final int p = r.nextInt(pages);
                        reads.incrementAndGet();
                        page.clear();
                        if (r.nextBoolean())
                        {
                            target.read((long)p * PAGE, page);
                        }
                        else
                        {
                            try (PinnedPage pinned = target.pin((long)p * PAGE))
                            {
                                page.put(pinned.byteBuffer());
                            }
                        }
                        for (int i = 0; i < PAGE; i += 8)
                        {
                            final long expected = stamp(stampId, (long)p * PAGE + i);
                            if (page.getLong(i) != expected)
                            {
                                throw new AssertionError("seed=" + seed + " page " + p + " offset " + i + ": " +
                                    Long.toHexString(page.getLong(i)) + " expected " + Long.toHexString(expected));
                            }
                        }
                    }
                }
                catch (final IOException ex)
                {
                    throw new AssertionError("seed=" + seed, ex);
                }
            }, TestThreads.POOL));
        }
        try
        {
            // until the readers did their share too (or one failed): no timing, only counts
            for (int i = 0; (i < 2000 || reads.get() < 100_000) && readers.stream().noneMatch(CompletableFuture::isDone);
                i++)
            {
                final long first = random.nextInt(pages);
                final long length = random.nextInt(3) == 0 ? 0 : (1 + random.nextInt(16)) * (long)PAGE;
                targets[random.nextInt(3)].advise(first * PAGE, length, Advice.DONTNEED);
            }
        }
        finally
        {
            stop.set(true);
            for (final CompletableFuture<Void> reader : readers)
            {
                reader.join();
            }
        }
        assertTrue(cache.stats().pagesDropped() > 0 && cache.stats().fileHits() > 0, cache.stats().toString());
    }

    // ---- fixtures

    private ExtentCache cache(final int frames)
    {
        return books.track(ExtentCache.builder().device(device).translator(store).capacityFrames(frames).build());
    }

    /** What the file {@code id} holds at {@code offset} (a multiple of 8): the id in the top half, the offset below. */
    private static long stamp(final long id, final long offset)
    {
        return (id << 40) | offset;
    }

    private static ByteBuffer stamped(final long id, final int pages)
    {
        final ByteBuffer data = ByteBuffer.allocate(pages * PAGE);
        for (int i = 0; i < pages * PAGE; i += 8)
        {
            data.putLong(i, stamp(id, i));
        }
        return data;
    }

    private long fileOf(final int pages) throws IOException
    {
        final long id = store.create();
        store.write(id, 0, stamped(id, pages));
        return id;
    }

    private static void readAll(final CachedFile file, final int pages) throws IOException
    {
        final ByteBuffer page = ByteBuffer.allocate(PAGE);
        for (int p = 0; p < pages; p++)
        {
            page.clear();
            assertEquals(PAGE, file.read((long)p * PAGE, page));
        }
    }

    private static void assertStamped(final CachedFile file, final long id, final int pages, final String what)
        throws IOException
    {
        final ByteBuffer page = ByteBuffer.allocate(PAGE);
        for (int p = 0; p < pages; p++)
        {
            page.clear();
            file.read((long)p * PAGE, page);
            for (int i = 0; i < PAGE; i += 8)
            {
                assertEquals(stamp(id, (long)p * PAGE + i), page.getLong(i), what + ": page " + p + " at " + i);
            }
        }
    }

    /** A real file of {@code pages} random pages in the temporary directory, read through a counting translator. */
    private RunFiles realFile(final int pages) throws IOException
    {
        final byte[] bytes = new byte[pages * PAGE];
        new Random(pages).nextBytes(bytes);
        final Path path = Files.write(dir.resolve("f"), bytes);
        files = new FileSystemTranslator(PAGE, false);
        return new RunFiles(files, files.open(path));
    }

    /** A memory device whose reads fail once {@link #failAfter} reads succeeded. */
    private static final class FailingDevice extends ForwardingBlockDevice
    {
        final AtomicInteger failAfter = new AtomicInteger(Integer.MAX_VALUE);
        volatile boolean failWrites;

        FailingDevice()
        {
            super(new MemoryBlockDevice(PAGE, 1024));
        }

        @Override
        public void read(final long block, final ByteBuffer dst) throws IOException
        {
            if (failAfter.getAndDecrement() <= 0)
            {
                throw new IOException("injected read failure of block " + block);
            }
            super.read(block, dst);
        }

        @Override
        public void write(final long block, final ByteBuffer src) throws IOException
        {
            if (failWrites)
            {
                throw new IOException("injected write failure of block " + block);
            }
            super.write(block, src);
        }
    }
}
