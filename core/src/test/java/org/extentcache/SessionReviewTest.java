package org.extentcache;

import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.Extent;
import org.extentcache.translate.ExtentStore;
import org.extentcache.translate.ForwardingTranslator;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.extentcache.TestPages.PAGE;
import static org.junit.jupiter.api.Assertions.*;

/**
 * An adversarial review of the reader gate ({@link ReaderGate}) and the access advice ({@link CachedFile#advise}).
 * Each test drives its race with latches and with what a blocked thread's stack shows, never with sleeps. A test that
 * finds a deadlock leaves the deadlocked (daemon) threads behind and does not close the cache: closing it would wait
 * for them too.
 */
class SessionReviewTest
{
    private static final int PAGES = 4;
    /** The deadlock guard of a join: generous, never a measure of speed. */
    private static final long JOIN_SECONDS = 60;

    private final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 1024);
    private final ExtentStore store = new ExtentStore(device);

    /** A translator that runs a test's hook inside a translation or a block reservation, when one is set. */
    static final class HookedTranslator extends ForwardingTranslator<ExtentStore>
    {
        volatile Runnable onTranslate;
        volatile Runnable onReserve;

        HookedTranslator(final ExtentStore delegate)
        {
            super(delegate);
        }

        @Override
        public void translate(final long file, final long page, final Extent extent) throws NoSuchFileException
        {
            final Runnable hook = onTranslate;
            if (null != hook)
            {
                onTranslate = null;
                hook.run();
            }
            super.translate(file, page, extent);
        }

        @Override
        public long reserveBlock(final long file, final long page) throws IOException
        {
            final Runnable hook = onReserve;
            if (null != hook)
            {
                onReserve = null;
                hook.run();
            }
            return super.reserveBlock(file, page);
        }
    }

    private long filledFile() throws IOException
    {
        final long id = store.create();
        for (int page = 0; page < PAGES; page++)
        {
            store.write(id, (long)page * PAGE, TestPages.stamped(0xD0_0000L + page));
        }
        return id;
    }

    private ExtentCache cache(final HookedTranslator translator)
    {
        return ExtentCache.builder().device(device).translator(translator).capacityFrames(64)
            .dirtyExpiry(Duration.ZERO).leakReporter(report -> { }).build();
    }

    /**
     * DONTNEED translates each cached page of its range (to tell private blocks from shared ones) inside the reader
     * gate. A translator that closes the cache from there (its fatal-error path, say) must get the "close from inside
     * a read" exception, as from a miss's translation; on main the thread was not marked as inside a read, so its
     * close waited in the gate for the thread's own read to leave, for ever.
     */
    @Test
    void closeFromTheTranslatorOfADontneedThrowsInsteadOfWaitingForItself() throws Exception
    {
        final long id = filledFile();
        final HookedTranslator translator = new HookedTranslator(store);
        final ExtentCache cache = cache(translator);
        final CachedFile file = cache.file(id);
        final ByteBuffer all = ByteBuffer.allocate(PAGES * PAGE);
        assertEquals(PAGES * PAGE, file.read(0, all)); // every page mapped: DONTNEED translates them
        final AtomicReference<Throwable> fromClose = new AtomicReference<>();
        translator.onTranslate = () ->
        {
            try
            {
                cache.close();
                fromClose.set(new AssertionError("close returned inside the read"));
            }
            catch (final Throwable ex)
            {
                fromClose.set(ex);
            }
        };
        final AtomicReference<Thread> adviser = new AtomicReference<>();
        final CompletableFuture<Void> dontneed = CompletableFuture.runAsync(() ->
        {
            adviser.set(Thread.currentThread());
            try
            {
                file.advise(0, 0, Advice.DONTNEED);
            }
            catch (final IOException ex)
            {
                throw new java.io.UncheckedIOException(ex);
            }
        }, TestThreads.POOL);
        while (!dontneed.isDone() && !parkedIn(adviser.get(), ".ReaderGate", "close"))
        {
            Thread.onSpinWait();
        }
        assertTrue(dontneed.isDone(), "deadlock: a close from DONTNEED's translation waits in the reader gate for " +
            "its own thread's read: " + where(adviser.get()));
        dontneed.get(JOIN_SECONDS, TimeUnit.SECONDS);
        assertInstanceOf(IllegalStateException.class, fromClose.get());
        assertTrue(fromClose.get().getMessage().contains("inside a read"), fromClose.get().getMessage());
        assertFalse(cache.isClosed(), "the refused close left the cache open");
        final ByteBuffer again = ByteBuffer.allocate(PAGE);
        assertEquals(PAGE, file.read(2L * PAGE, again)); // still open and reading
        assertEquals(0xD0_0000L + 2, TestPages.stampOf(again, 0, "page 2"));
        CacheBooks.check(cache);
    }

    /**
     * DONTNEED waits for the file's writer lock (to write the range back) while inside the reader gate. A writer
     * that holds that lock and closes the cache from its translator callback (allowed: {@link CloseReentryTest})
     * then waits in the gate for the DONTNEED, which waits for the writer: on main, a deadlock. Waiting for a writer
     * must happen outside the gate, as writers themselves are drained by their lock, not by the gate.
     */
    @Test
    void dontneedWaitingForAWriterThatClosesTheCacheDoesNotDeadlock() throws Exception
    {
        final long id = filledFile();
        final HookedTranslator translator = new HookedTranslator(store);
        final ExtentCache cache = cache(translator);
        final CachedFile file = cache.file(id);
        assertEquals(PAGE, file.read(0, ByteBuffer.allocate(PAGE)));
        final CountDownLatch inReserve = new CountDownLatch(1);
        final CountDownLatch closeNow = new CountDownLatch(1);
        final AtomicReference<Throwable> fromClose = new AtomicReference<>();
        translator.onReserve = () ->
        {
            inReserve.countDown();
            awaitQuietly(closeNow);
            try
            {
                cache.close(); // e.g. the application's fatal-error path, on the writer's thread
            }
            catch (final Throwable ex)
            {
                fromClose.set(ex);
            }
        };
        final AtomicReference<Thread> writerThread = new AtomicReference<>();
        final CompletableFuture<Object> writer = CompletableFuture.supplyAsync(() ->
        {
            writerThread.set(Thread.currentThread());
            try
            {
                return file.write((long)(PAGES + 1) * PAGE, TestPages.filled(PAGE, 7)); // a new page: reserves
            }
            catch (final IOException | RuntimeException ex)
            {
                return ex; // the cache closed under the write: fine, as long as nothing hangs
            }
        }, TestThreads.POOL);
        awaitQuietly(inReserve);

        final AtomicReference<Thread> adviser = new AtomicReference<>();
        final CompletableFuture<Object> dontneed = CompletableFuture.supplyAsync(() ->
        {
            adviser.set(Thread.currentThread());
            try
            {
                file.advise(0, 0, Advice.DONTNEED);
                return "dropped";
            }
            catch (final IOException | RuntimeException ex)
            {
                return ex;
            }
        }, TestThreads.POOL);
        // the DONTNEED is blocked on the writer lock, which the writer holds in reserveBlock
        while (!dontneed.isDone() && !parkedIn(adviser.get(), ".FileWriteback", "lock"))
        {
            Thread.onSpinWait();
        }
        assertFalse(dontneed.isDone(), () -> "DONTNEED did not wait for the writer lock: " + dontneed.join());

        closeNow.countDown();
        while (!writer.isDone() && !parkedIn(writerThread.get(), ".ReaderGate", "close"))
        {
            Thread.onSpinWait();
        }
        assertTrue(writer.isDone(), "deadlock: the writer's close waits in the reader gate for a DONTNEED that " +
            "waits for the writer's lock; close " + where(writerThread.get()) + "; DONTNEED " + where(adviser.get()));
        writer.get(JOIN_SECONDS, TimeUnit.SECONDS);
        final Object outcome = dontneed.get(JOIN_SECONDS, TimeUnit.SECONDS);
        assertNull(fromClose.get(), "close from the writer threw");
        assertTrue(cache.isClosed());
        assertInstanceOf(IllegalStateException.class, outcome, "DONTNEED after close: " + outcome);
    }

    /**
     * Two caches, one's device reading through the other (a cache of images over a cache of the files they sit in):
     * a miss in the upper cache reads its device, which misses in the lower cache, whose translator closes the upper
     * cache (an application's "close everything" on a fatal error). The thread is inside a read of the upper cache,
     * so that close must throw; on main the thread's mark named only the innermost miss (the lower cache's), so the
     * close went on and waited in the upper cache's gate for its own thread, for ever.
     */
    @Test
    void closeOfAnOuterCacheFromInsideANestedMissOfAnotherCacheThrows() throws Exception
    {
        final long lowerId = filledFile();
        final HookedTranslator lowerTranslator = new HookedTranslator(store);
        final ExtentCache lower = cache(lowerTranslator);
        final CachedFile lowerFile = lower.file(lowerId);

        final MemoryBlockDevice upperDevice = new MemoryBlockDevice(PAGE, 64);
        final ExtentStore upperStore = new ExtentStore(upperDevice);
        final long upperId = upperStore.create();
        upperStore.write(upperId, 0, TestPages.stamped(0xE0_0000L));
        final org.extentcache.device.BlockDevice throughLower =
            new org.extentcache.device.ForwardingBlockDevice(upperDevice)
            {
                @Override
                public void read(final long block, final ByteBuffer dst) throws IOException
                {
                    lowerFile.read(0, ByteBuffer.allocate(PAGE)); // the lower cache misses: its translator runs
                    super.read(block, dst);
                }
            };
        final ExtentCache upper = ExtentCache.builder().device(throughLower).translator(upperStore)
            .capacityFrames(16).dirtyExpiry(Duration.ZERO).leakReporter(report -> { }).build();
        final CachedFile upperFile = upper.file(upperId);
        final AtomicReference<Throwable> fromClose = new AtomicReference<>();
        lowerTranslator.onTranslate = () ->
        {
            try
            {
                upper.close();
                fromClose.set(new AssertionError("close of the upper cache returned inside its read"));
            }
            catch (final Throwable ex)
            {
                fromClose.set(ex);
            }
        };
        final AtomicReference<Thread> reader = new AtomicReference<>();
        final CompletableFuture<ByteBuffer> read = CompletableFuture.supplyAsync(() ->
        {
            reader.set(Thread.currentThread());
            final ByteBuffer dst = ByteBuffer.allocate(PAGE);
            try
            {
                upperFile.read(0, dst);
            }
            catch (final IOException ex)
            {
                throw new java.io.UncheckedIOException(ex);
            }
            return dst;
        }, TestThreads.POOL);
        while (!read.isDone() && !parkedIn(reader.get(), ".ReaderGate", "close"))
        {
            Thread.onSpinWait();
        }
        assertTrue(read.isDone(), "deadlock: the upper cache's close, from the lower cache's translator inside the " +
            "upper cache's miss, waits in the upper gate for its own thread: " + where(reader.get()));
        assertEquals(0xE0_0000L, TestPages.stampOf(read.get(JOIN_SECONDS, TimeUnit.SECONDS), 0, "upper page 0"));
        assertInstanceOf(IllegalStateException.class, fromClose.get());
        assertTrue(fromClose.get().getMessage().contains("inside a read"), fromClose.get().getMessage());
        assertFalse(upper.isClosed());
        CacheBooks.check(upper);
        CacheBooks.check(lower);
    }

    /**
     * A miss keeps the translation, the "loaded" flag and the window size in the thread's {@link Scratch} across its
     * device read. A device that reads through another cache on the same thread (a cache of images over a cache of
     * the files they sit in) runs a miss there, with a readahead window, that overwrites them: on main the upper
     * miss then mapped ahead with the lower cache's translation and window, installing frames of other blocks of the
     * upper cache (here another file's pages) as the next pages of the file read, which then read wrong bytes.
     */
    @Test
    void aMissNestedInADeviceReadLeavesTheOuterMissItsOwnTranslation() throws Exception
    {
        // the lower cache: real-file-like I/O (so it reads ahead), a file of 8 pages advised SEQUENTIAL
        final MemoryBlockDevice lowerDevice = new MemoryBlockDevice(PAGE, 64);
        final ExtentStore lowerStore = new ExtentStore(lowerDevice);
        final long lowerId = lowerStore.create();
        for (int page = 0; page < 8; page++)
        {
            lowerStore.write(lowerId, (long)page * PAGE, TestPages.stamped(0xC0_0000L + page));
        }
        final ExtentCache lower = ExtentCache.builder().translator(new StoreFiles(lowerStore, lowerDevice))
            .capacityFrames(32).dirtyExpiry(Duration.ZERO).leakReporter(report -> { }).build();
        final CachedFile lowerFile = lower.file(lowerId);
        lowerFile.advise(0, 0, Advice.SEQUENTIAL);

        // the upper cache: file "other" on blocks 0..3, file "read" on blocks 4..7; its device reads through the
        // lower cache once armed
        final MemoryBlockDevice upperDevice = new MemoryBlockDevice(PAGE, 64);
        final ExtentStore upperStore = new ExtentStore(upperDevice);
        final long otherId = upperStore.create();
        final long readId = upperStore.create();
        for (int page = 0; page < PAGES; page++)
        {
            upperStore.write(otherId, (long)page * PAGE, TestPages.stamped(0xA0_0000L + page));
        }
        for (int page = 0; page < PAGES; page++)
        {
            upperStore.write(readId, (long)page * PAGE, TestPages.stamped(0xB0_0000L + page));
        }
        final java.util.concurrent.atomic.AtomicBoolean armed = new java.util.concurrent.atomic.AtomicBoolean();
        final org.extentcache.device.BlockDevice throughLower =
            new org.extentcache.device.ForwardingBlockDevice(upperDevice)
            {
                @Override
                public void read(final long block, final ByteBuffer dst) throws IOException
                {
                    if (armed.getAndSet(false))
                    {
                        lowerFile.read(0, ByteBuffer.allocate(PAGE)); // a lower miss, with a window
                    }
                    super.read(block, dst);
                }
            };
        final ExtentCache upper = ExtentCache.builder().device(throughLower).translator(upperStore)
            .capacityFrames(32).dirtyExpiry(Duration.ZERO).leakReporter(report -> { }).build();
        final CachedFile other = upper.file(otherId);
        final CachedFile read = upper.file(readId);
        final ByteBuffer page = ByteBuffer.allocate(PAGE);
        for (int p = 0; p < PAGES; p++) // the other file's blocks are cached in the upper cache
        {
            page.clear();
            other.read((long)p * PAGE, page);
        }

        armed.set(true);
        for (int p = 0; p < PAGES; p++)
        {
            page.clear();
            assertEquals(PAGE, read.read((long)p * PAGE, page));
            assertEquals(0xB0_0000L + p, TestPages.stampOf(page, 0, "upper file page " + p),
                "upper file page " + p + " (stamps 0xA0000n are the other file's page n)");
        }
        assertTrue(lower.stats().pagesReadAhead() > 0, "the nested lower miss read a window: " + lower.stats());
        CacheBooks.check(upper);
        CacheBooks.check(lower);
    }

    /**
     * The same with a write: a readahead window's read (the translator's own I/O) writes through another cache on
     * the same thread, whose write translates into the thread's scratch. Before writes took a scratch of their own
     * when nested ({@link Scratch#forMiss}), the window was then mapped with the other cache's translation.
     */
    @Test
    void aWriteNestedInAWindowReadLeavesTheOuterMissItsOwnTranslation() throws Exception
    {
        // the lower cache, plain: a file of 8 pages on blocks 0..7, written through the cache once armed
        final long lowerId = store.create();
        for (int page = 0; page < 8; page++)
        {
            store.write(lowerId, (long)page * PAGE, TestPages.stamped(0xC0_0000L + page));
        }
        final ExtentCache lower = cache(new HookedTranslator(store));
        final CachedFile lowerFile = lower.file(lowerId);

        // the upper cache reads through files (so it reads ahead): "other" on blocks 0..3, "read" on 4..7
        final MemoryBlockDevice upperDevice = new MemoryBlockDevice(PAGE, 64);
        final ExtentStore upperStore = new ExtentStore(upperDevice);
        final long otherId = upperStore.create();
        final long readId = upperStore.create();
        for (int page = 0; page < PAGES; page++)
        {
            upperStore.write(otherId, (long)page * PAGE, TestPages.stamped(0xA0_0000L + page));
        }
        for (int page = 0; page < PAGES; page++)
        {
            upperStore.write(readId, (long)page * PAGE, TestPages.stamped(0xB0_0000L + page));
        }
        final java.util.concurrent.atomic.AtomicBoolean armed = new java.util.concurrent.atomic.AtomicBoolean();
        final StoreFiles writing = new StoreFiles(upperStore, upperDevice)
        {
            @Override
            public void readBlocks(final long file, final long firstPage, final long[] blocks,
                final ByteBuffer[] dsts, final int count) throws IOException
            {
                if (armed.getAndSet(false))
                {
                    lowerFile.write(0, TestPages.filled(8, 1)); // translates lower page 0: blocks 0..7
                }
                super.readBlocks(file, firstPage, blocks, dsts, count);
            }
        };
        final ExtentCache upper = ExtentCache.builder().translator(writing).capacityFrames(32)
            .dirtyExpiry(Duration.ZERO).leakReporter(report -> { }).build();
        final CachedFile other = upper.file(otherId);
        final CachedFile read = upper.file(readId);
        final ByteBuffer page = ByteBuffer.allocate(PAGE);
        for (int p = PAGES - 1; p >= 0; p--) // backwards: no window; the other file's blocks are cached
        {
            page.clear();
            other.read((long)p * PAGE, page);
        }
        read.advise(0, 0, Advice.SEQUENTIAL);

        armed.set(true);
        for (int p = 0; p < PAGES; p++)
        {
            page.clear();
            assertEquals(PAGE, read.read((long)p * PAGE, page));
            assertEquals(0xB0_0000L + p, TestPages.stampOf(page, 0, "upper file page " + p),
                "upper file page " + p + " (stamps 0xA0000n are the other file's page n)");
        }
        assertFalse(armed.get(), "the window was read");
        assertTrue(upper.stats().pagesReadAhead() > 0, "a window was read: " + upper.stats());
        lowerFile.flush();
        CacheBooks.check(upper);
        CacheBooks.check(lower);
    }

    /** {@link FileBackedTranslator} over an {@link ExtentStore}: blocks read and written on the store's device. */
    static class StoreFiles extends ForwardingTranslator<ExtentStore>
        implements org.extentcache.translate.FileBackedTranslator
    {
        private final org.extentcache.device.BlockDevice device;

        StoreFiles(final ExtentStore store, final org.extentcache.device.BlockDevice device)
        {
            super(store);
            this.device = device;
        }

        @Override
        public void readBlock(final long file, final long page, final long block, final ByteBuffer dst)
            throws IOException
        {
            device.read(block, dst);
        }

        @Override
        public void writeBlock(final long block, final ByteBuffer src) throws IOException
        {
            device.write(block, src);
        }

        @Override
        public void sync() throws IOException
        {
            device.sync();
        }

        @Override
        public void syncFile(final long file) throws IOException
        {
            device.sync();
        }
    }

    /**
     * A write that loads a page's old contents (a partial write of an uncached page) closes the cache from its
     * device read (allowed: {@link CloseReentryTest}), while a read of the same page waits, inside the reader gate,
     * for that load. On main the close waited in the gate for the read, and the read for the load, which never ends:
     * a deadlock. A read waiting for a load gives up once the cache is closing, as claim waits do. (The deadlock is
     * caught by the generous join guard: a closer may park in the gate a moment while a woken read leaves.)
     */
    @Test
    void aReadWaitingForAWritersLoadDoesNotHoldUpACloseFromThatLoad() throws Exception
    {
        final long id = filledFile();
        final CountDownLatch inRead = new CountDownLatch(1);
        final CountDownLatch closeNow = new CountDownLatch(1);
        final AtomicReference<Throwable> fromClose = new AtomicReference<>();
        final AtomicReference<ExtentCache> holder = new AtomicReference<>();
        final java.util.concurrent.atomic.AtomicBoolean armed = new java.util.concurrent.atomic.AtomicBoolean();
        final org.extentcache.device.BlockDevice closing = new org.extentcache.device.ForwardingBlockDevice(device)
        {
            @Override
            public void read(final long block, final ByteBuffer dst) throws IOException
            {
                if (armed.getAndSet(false))
                {
                    inRead.countDown();
                    awaitQuietly(closeNow);
                    try
                    {
                        holder.get().close(); // the application's fatal-error path, on the writer's thread
                    }
                    catch (final Throwable ex)
                    {
                        fromClose.set(ex);
                    }
                }
                super.read(block, dst);
            }
        };
        final ExtentCache cache = ExtentCache.builder().device(closing).translator(store).capacityFrames(64)
            .dirtyExpiry(Duration.ZERO).leakReporter(report -> { }).build();
        holder.set(cache);
        final CachedFile file = cache.file(id);
        armed.set(true);
        final AtomicReference<Thread> writerThread = new AtomicReference<>();
        final CompletableFuture<Object> writer = CompletableFuture.supplyAsync(() ->
        {
            writerThread.set(Thread.currentThread());
            try
            {
                return file.write(8, TestPages.filled(8, 3)); // part of page 0, not cached: its old bytes load
            }
            catch (final IOException | RuntimeException ex)
            {
                return ex; // the cache closed under the write: fine, as long as nothing hangs
            }
        }, TestThreads.POOL);
        awaitQuietly(inRead);

        final AtomicReference<Thread> readerThread = new AtomicReference<>();
        final CompletableFuture<Object> reader = CompletableFuture.supplyAsync(() ->
        {
            readerThread.set(Thread.currentThread());
            try
            {
                return file.read(0, ByteBuffer.allocate(PAGE));
            }
            catch (final IOException | RuntimeException ex)
            {
                return ex;
            }
        }, TestThreads.POOL);
        while (!reader.isDone() && !parkedIn(readerThread.get(), ".FrameWaiters", "awaitLoaded"))
        {
            Thread.onSpinWait();
        }
        assertFalse(reader.isDone(), () -> "the read did not wait for the writer's load: " + reader.join());

        closeNow.countDown();
        // the closer may park in the gate a moment while the read leaves: only a read that never leaves is a deadlock
        final Object read;
        try
        {
            read = reader.get(JOIN_SECONDS, TimeUnit.SECONDS);
            writer.get(JOIN_SECONDS, TimeUnit.SECONDS);
        }
        catch (final java.util.concurrent.TimeoutException ex)
        {
            throw new AssertionError("deadlock: the writer's close waits in the reader gate for a read that waits " +
                "for the writer's load; close " + where(writerThread.get()) + "; read " + where(readerThread.get()));
        }
        assertNull(fromClose.get(), "close from the writer's load threw");
        assertTrue(cache.isClosed());
        assertInstanceOf(IllegalStateException.class, read, "the read after close: " + read);
    }

    /** True while {@code thread} is parked in {@code method} of a class whose name ends with {@code className}. */
    static boolean parkedIn(final Thread thread, final String className, final String method)
    {
        if (null == thread)
        {
            return false;
        }
        final Thread.State state = thread.getState();
        return (Thread.State.WAITING == state || Thread.State.TIMED_WAITING == state) &&
            Arrays.stream(thread.getStackTrace()).anyMatch(frame ->
                frame.getClassName().endsWith(className) && frame.getMethodName().equals(method));
    }

    static String where(final Thread thread)
    {
        return null == thread ? "(not started)" : FailurePathRaceTest.where(thread);
    }

    static void awaitQuietly(final CountDownLatch latch)
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
