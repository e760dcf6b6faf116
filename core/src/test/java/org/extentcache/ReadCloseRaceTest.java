package org.extentcache;

import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.Extent;
import org.extentcache.translate.ExtentStore;
import org.extentcache.translate.ForwardingTranslator;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.extentcache.TestPages.PAGE;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Lock-free reads racing {@link ExtentCache#close()}: a read that passed its "is the cache open" check must never
 * touch the device index, the merge tables or the frames after close freed them ({@link ReaderGate}). A read
 * blocked in its translator after that check is the deterministic case; the soak races hits, misses, pins, stats
 * and merges against close. Neither test lets a read into freed memory when the gate is missing: the blocked read
 * is aborted in its translator instead, so the test fails rather than crashing the JVM.
 */
class ReadCloseRaceTest
{
    private static final int PAGES = 32;
    /** The deadlock guard of a join: generous, never a measure of speed. */
    private static final long JOIN_SECONDS = 60;

    private final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 1024);
    private final ExtentStore store = new ExtentStore(device);
    private final BlockingTranslator translator = new BlockingTranslator(store);

    /** A translator that can block one page's translation until released, and run a hook inside it. */
    static final class BlockingTranslator extends ForwardingTranslator<ExtentStore>
    {
        volatile long blockPage = -1;
        volatile CountDownLatch entered = new CountDownLatch(1);
        volatile CountDownLatch release = new CountDownLatch(1);
        /** Set before a release: the blocked translation throws instead of returning into the cache. */
        volatile boolean abort;
        /** Run inside every translation of {@link #blockPage} once released; null for none. */
        volatile Runnable hook;

        BlockingTranslator(final ExtentStore delegate)
        {
            super(delegate);
        }

        @Override
        public void translate(final long file, final long page, final Extent extent) throws NoSuchFileException
        {
            if (page == blockPage)
            {
                entered.countDown();
                awaitQuietly(release);
                if (abort)
                {
                    throw new IllegalStateException("aborted by the test: the cache freed its memory under a read");
                }
                final Runnable run = hook;
                if (null != run)
                {
                    run.run();
                }
            }
            super.translate(file, page, extent);
        }
    }

    private long filledFile() throws IOException
    {
        final long id = store.create();
        for (int page = 0; page < PAGES; page++)
        {
            store.write(id, (long)page * PAGE, TestPages.stamped(stampOf(page)));
        }
        return id;
    }

    private static long stampOf(final long page)
    {
        return 0x5EED_0000L + page;
    }

    private ExtentCache cache(final int frames, final boolean merge)
    {
        return ExtentCache.builder().device(device).translator(translator).capacityFrames(frames)
            .dirtyExpiry(java.time.Duration.ZERO).mergeIdenticalPages(merge).leakReporter(report -> { }).build();
    }

    /**
     * A miss blocked in its translator, after its open check and before it touches the device index: close waits
     * for it instead of freeing the index and the frames under it, and the read ends with the closed exception or
     * the right bytes.
     */
    @Test
    void closeKeepsTheMemoryOfAReadInsideUntilItLeaves() throws Exception
    {
        final long id = filledFile();
        final ExtentCache cache = cache(64, false);
        final CachedFile file = cache.file(id);
        translator.blockPage = 3;
        final CompletableFuture<Object> reader = readAsync(file, 3);
        awaitQuietly(translator.entered);
        final long reserved = cache.stats().offHeapBytesReserved();
        final long before = CacheBooks.quietDirectBytesUsed();

        final CompletableFuture<Void> closer = closeUntilDoneOrInGate(cache);
        boolean released = false;
        try
        {
            assertFalse(closer.isDone(), "close returned while a read was inside the cache");
            assertFalse(cache.frames().pins.isClosed(), "the index and the frames are not released under the read");
            translator.release.countDown();
            released = true;
            final Object outcome = reader.get(JOIN_SECONDS, TimeUnit.SECONDS);
            if (outcome instanceof ByteBuffer bytes)
            {
                assertEquals(stampOf(3), TestPages.stampOf(bytes, 0, "page 3"), "a read that completes is right");
            }
            else
            {
                assertClosed((Throwable)outcome);
            }
            closer.get(JOIN_SECONDS, TimeUnit.SECONDS);
            assertEquals(reserved, before - CacheBooks.directBytesUsed(), "the read left: close freed everything");
        }
        finally
        {
            endBlockedRead(released, reader, closer);
        }
    }

    /**
     * The end of a test whose read was held in the translator while close ran: a read still held is let go to throw
     * in the translator (never on into memory close may have freed), and both the read and the close are waited for.
     */
    private void endBlockedRead(final boolean released, final CompletableFuture<?> reader,
        final CompletableFuture<?> closer) throws Exception
    {
        if (!released)
        {
            translator.abort = true;
            translator.release.countDown();
        }
        reader.handle((result, failure) -> null).get(JOIN_SECONDS, TimeUnit.SECONDS);
        closer.handle((result, failure) -> null).get(JOIN_SECONDS, TimeUnit.SECONDS);
    }

    /** A close from inside a read of the same cache (its translator calls it) would wait for itself: it throws. */
    @Test
    void closeFromInsideAReadThrowsInsteadOfWaitingForItself() throws Exception
    {
        final long id = filledFile();
        final ExtentCache cache = cache(64, false);
        final CachedFile file = cache.file(id);
        final AtomicReference<Throwable> fromClose = new AtomicReference<>();
        translator.blockPage = 5;
        translator.entered.countDown();
        translator.release.countDown();
        translator.hook = () -> fromClose.set(assertThrows(IllegalStateException.class, cache::close));
        final ByteBuffer dst = ByteBuffer.allocate(PAGE);
        assertEquals(PAGE, file.read(5L * PAGE, dst));
        assertEquals(stampOf(5), TestPages.stampOf(dst, 0, "page 5"));
        assertTrue(fromClose.get().getMessage().contains("inside a read"), fromClose.get().getMessage());
        assertFalse(cache.isClosed(), "the refused close left the cache open");
        translator.hook = null;
        final long reserved = cache.stats().offHeapBytesReserved();
        final long before = CacheBooks.quietDirectBytesUsed();
        cache.close();
        assertEquals(reserved, before - CacheBooks.directBytesUsed());
    }

    /**
     * A second close, from inside the very read the first close waits for, throws at once instead of waiting for
     * the first (which waits for it); the read then leaves, and the first close frees everything.
     */
    @Test
    void aSecondCloseFromTheReadTheFirstWaitsForDoesNotDeadlock() throws Exception
    {
        final long id = filledFile();
        final ExtentCache cache = cache(64, false);
        final CachedFile file = cache.file(id);
        translator.blockPage = 7;
        final AtomicReference<Throwable> fromClose = new AtomicReference<>();
        translator.hook = () -> fromClose.set(assertThrows(IllegalStateException.class, cache::close));
        final CompletableFuture<Object> reader = readAsync(file, 7);
        awaitQuietly(translator.entered);
        final long reserved = cache.stats().offHeapBytesReserved();
        final long before = CacheBooks.quietDirectBytesUsed();
        final CompletableFuture<Void> closer = closeUntilDoneOrInGate(cache);
        boolean released = false;
        try
        {
            assertFalse(closer.isDone(), "close returned while a read was inside the cache");
            translator.release.countDown();
            released = true;
            final Object outcome = reader.get(JOIN_SECONDS, TimeUnit.SECONDS);
            if (!(outcome instanceof ByteBuffer))
            {
                assertClosed((Throwable)outcome);
            }
            closer.get(JOIN_SECONDS, TimeUnit.SECONDS);
            assertTrue(fromClose.get().getMessage().contains("inside a read"), fromClose.get().getMessage());
            assertEquals(reserved, before - CacheBooks.directBytesUsed());
        }
        finally
        {
            endBlockedRead(released, reader, closer);
        }
    }

    /** A pin held by the closing thread is no read in progress: close does not wait for it; its view stays good. */
    @Test
    void closeWhileThisThreadHoldsAPinDoesNotWait() throws Exception
    {
        final long id = filledFile();
        final ExtentCache cache = cache(64, false);
        final PinnedPage page = cache.file(id).pin(2L * PAGE);
        final long reserved = cache.stats().offHeapBytesReserved();
        final long before = CacheBooks.quietDirectBytesUsed();
        cache.close();
        assertEquals(stampOf(2), page.buffer().getLong(PAGE - 8, ByteOrder.BIG_ENDIAN),
            "the pinned view still reads its page");
        page.close();
        assertEquals(reserved, before - CacheBooks.directBytesUsed(), "the last unpin freed the arena");
    }

    /**
     * Readers hammering hits, misses and pins (and a poller of stats, residency and merges) while close runs, 200
     * times: every read that succeeds returned its page's bytes, every one that fails says the cache is closed.
     * Replay one seed with {@code -Dextentcache.readCloseRace.seed=...}.
     */
    @Test
    void racingReadsVersusCloseSoak() throws Exception
    {
        final long seed = Long.getLong("extentcache.readCloseRace.seed", System.nanoTime());
        System.out.println("ReadCloseRaceTest.racingReadsVersusCloseSoak seed=" + seed);
        final Random random = new Random(seed);
        final long id = filledFile();
        try
        {
            for (int iteration = 0; iteration < 200; iteration++)
            {
                soakOnce(id, iteration, random);
            }
        }
        catch (final AssertionError | Exception ex)
        {
            throw new AssertionError("seed=" + seed + " (replay with -Dextentcache.readCloseRace.seed=" + seed + ")",
                ex);
        }
    }

    private void soakOnce(final long id, final int iteration, final Random random) throws Exception
    {
        final ExtentCache cache = cache(ExtentCache.MIN_CAPACITY + random.nextInt(48), random.nextBoolean());
        final CachedFile file = cache.file(id);
        final AtomicLong reads = new AtomicLong();
        final List<CompletableFuture<String>> tasks = new ArrayList<>();
        for (int reader = 0; reader < 3; reader++)
        {
            final long readerSeed = random.nextLong();
            tasks.add(CompletableFuture.supplyAsync(() -> readUntilClosed(file, new Random(readerSeed), reads),
                TestThreads.POOL));
        }
        tasks.add(CompletableFuture.supplyAsync(() -> pollUntilClosed(cache), TestThreads.POOL));
        final long target = random.nextInt(400);
        while (reads.get() < target && tasks.stream().noneMatch(CompletableFuture::isDone))
        {
            Thread.onSpinWait();
        }
        cache.close();
        for (final CompletableFuture<String> task : tasks)
        {
            final String failure = task.get(JOIN_SECONDS, TimeUnit.SECONDS);
            assertNull(failure, "iteration " + iteration);
        }
    }

    /** @return null once a read says the cache is closed; a description of the first wrong outcome otherwise. */
    private static String readUntilClosed(final CachedFile file, final Random random, final AtomicLong reads)
    {
        final ByteBuffer dst = ByteBuffer.allocate(2 * PAGE); // heap: no direct garbage for later tests' books
        final PinnedPage pinned = new PinnedPage();
        for (long op = 0; ; op++)
        {
            final int page = random.nextInt(PAGES);
            final int mode = random.nextInt(3);
            try
            {
                if (0 == mode)
                {
                    if (!file.pin((long)page * PAGE, pinned))
                    {
                        return "op " + op + ": pin of page " + page + " found end-of-file";
                    }
                    try
                    {
                        final long word = pinned.buffer().getLong(random.nextInt(PAGE / 8) * 8, ByteOrder.BIG_ENDIAN);
                        if (word != stampOf(page))
                        {
                            return "op " + op + ": pinned page " + page + " read " + Long.toHexString(word);
                        }
                    }
                    finally
                    {
                        pinned.close();
                    }
                }
                else
                {
                    // one page, or two straddling a page boundary
                    final int length = 1 == mode || page == PAGES - 1 ? PAGE : 2 * PAGE;
                    dst.clear().limit(length);
                    if (file.read((long)page * PAGE, dst) != length)
                    {
                        return "op " + op + ": short read of page " + page;
                    }
                    for (int at = 0; at < length; at += PAGE)
                    {
                        final long stamp = TestPages.stampOf(dst, at, "page " + (page + at / PAGE));
                        if (stamp != stampOf(page + at / PAGE))
                        {
                            return "op " + op + ": page " + (page + at / PAGE) + " read " + Long.toHexString(stamp);
                        }
                    }
                }
                reads.incrementAndGet();
            }
            catch (final IllegalStateException ex)
            {
                return isClosedMessage(ex) ? null : "op " + op + ": " + ex;
            }
            catch (final IOException | RuntimeException | AssertionError ex)
            {
                return "op " + op + ": " + ex;
            }
        }
    }

    /** Stats, residency and (with merging on) merges of resident pages, until the cache says it is closed. */
    private static String pollUntilClosed(final ExtentCache cache)
    {
        try
        {
            while (true)
            {
                cache.stats();
                cache.residency();
                cache.mergeResident();
            }
        }
        catch (final IllegalStateException ex)
        {
            return isClosedMessage(ex) ? null : ex.toString();
        }
        catch (final RuntimeException | AssertionError ex)
        {
            return ex.toString();
        }
    }

    private static boolean isClosedMessage(final IllegalStateException ex)
    {
        return "cache is closed".equals(ex.getMessage());
    }

    private static void assertClosed(final Throwable failure)
    {
        final Throwable cause = failure instanceof ExecutionException ? failure.getCause() : failure;
        assertTrue(cause instanceof IllegalStateException && isClosedMessage((IllegalStateException)cause),
            "a read racing close fails only with the closed exception: " + cause);
    }

    /** Reads one page on a pool thread: the page's bytes, or what the read threw. */
    private static CompletableFuture<Object> readAsync(final CachedFile file, final long page)
    {
        return CompletableFuture.supplyAsync(() ->
        {
            try
            {
                final ByteBuffer dst = ByteBuffer.allocate(PAGE);
                file.read(page * PAGE, dst);
                return dst;
            }
            catch (final IOException | RuntimeException ex)
            {
                return ex;
            }
        }, TestThreads.POOL);
    }

    /**
     * Closes {@code cache} on {@link TestThreads#POOL} and returns once the close has finished (freeing under any
     * read inside) or parks in the reader gate waiting for one: no sleep decides.
     */
    private static CompletableFuture<Void> closeUntilDoneOrInGate(final ExtentCache cache)
    {
        final AtomicReference<Thread> closerThread = new AtomicReference<>();
        final CompletableFuture<Void> closer = CompletableFuture.runAsync(() ->
        {
            closerThread.set(Thread.currentThread());
            cache.close();
        }, TestThreads.POOL);
        while (!closer.isDone() && !waitsInReaderGate(closerThread.get()))
        {
            Thread.onSpinWait();
        }
        return closer;
    }

    /** True while {@code thread} is parked inside {@link ReaderGate} (found by name: no seam in the gate). */
    private static boolean waitsInReaderGate(final Thread thread)
    {
        if (null == thread)
        {
            return false;
        }
        final Thread.State state = thread.getState();
        return (Thread.State.WAITING == state || Thread.State.TIMED_WAITING == state) &&
            Arrays.stream(thread.getStackTrace()).anyMatch(frame -> frame.getClassName().endsWith(".ReaderGate"));
    }

    private static void awaitQuietly(final CountDownLatch latch)
    {
        boolean interrupted = false;
        while (true)
        {
            try
            {
                latch.await();
                break;
            }
            catch (final InterruptedException ex)
            {
                interrupted = true;
            }
        }
        if (interrupted)
        {
            Thread.currentThread().interrupt();
        }
    }
}
