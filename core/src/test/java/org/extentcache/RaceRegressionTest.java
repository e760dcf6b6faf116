package org.extentcache;

import org.extentcache.device.BlockDevice;
import org.extentcache.device.FileBlockDevice;
import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.Extent;
import org.extentcache.translate.TranslationListener;
import org.extentcache.translate.Translator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Races found in review, each pinned down by a test that failed before its fix: a stale handle briefly visible to
 * other readers after a remap; a cached file visible before its size; an {@link Error} from the device stranding
 * a loading frame; an interrupted miss closing the device's channel for everyone.
 */
class RaceRegressionTest
{
    private static final int PAGE = 4096;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    /** File 1, one page, mapped to block 0 or 1; {@link #flip} remaps it under a write lock, as ExtentStore would. */
    private static final class FlipTranslator implements Translator
    {
        private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
        private final List<TranslationListener> listeners = new CopyOnWriteArrayList<>();
        private final AtomicInteger sizeCalls = new AtomicInteger();
        private volatile long block;
        private volatile CountDownLatch firstSizeCall;

        @Override
        public int pageSize()
        {
            return PAGE;
        }

        @Override
        public long size(final long file) throws NoSuchFileException
        {
            if (sizeCalls.incrementAndGet() == 1 && null != firstSizeCall)
            {
                try
                {
                    firstSizeCall.await();
                }
                catch (final InterruptedException ex)
                {
                    throw new AssertionError(ex);
                }
            }
            return PAGE;
        }

        @Override
        public void translate(final long file, final long page, final Extent extent)
        {
            lock.readLock().lock();
            try
            {
                extent.set(0, 1, block, false);
            }
            finally
            {
                lock.readLock().unlock();
            }
        }

        void flip()
        {
            lock.writeLock().lock();
            try
            {
                block ^= 1;
                for (final TranslationListener listener : listeners)
                {
                    listener.pagesChanged(1, 0, 1, PAGE);
                }
            }
            finally
            {
                lock.writeLock().unlock();
            }
        }

        @Override
        public void addListener(final TranslationListener listener)
        {
            listeners.add(listener);
        }

        @Override
        public void removeListener(final TranslationListener listener)
        {
            listeners.remove(listener);
        }
    }

    /** Block 0 filled with 0x10, block 1 with 0x11. */
    private static MemoryBlockDevice twoBlocks() throws IOException
    {
        final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 2);
        for (int b = 0; b < 2; b++)
        {
            final ByteBuffer page = ByteBuffer.allocate(PAGE);
            while (page.hasRemaining())
            {
                page.put((byte)(0x10 + b));
            }
            device.write(b, page.flip());
        }
        return device;
    }

    /** A read that starts after a remap returned, and ends before the next one starts, sees the new block. */
    @Test
    void aReadAfterARemapNeverSeesTheOldBlock() throws Exception
    {
        final FlipTranslator translator = new FlipTranslator();
        final ExtentCache cache = books.track(
            ExtentCache.builder().device(twoBlocks()).translator(translator).capacityFrames(8).build());
        final CachedFile file = cache.file(1);
        final AtomicLong started = new AtomicLong();
        final AtomicLong completed = new AtomicLong();
        final AtomicLong checked = new AtomicLong();
        final AtomicReference<String> violation = new AtomicReference<>();
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(
            Long.getLong("extentcache.stressMillis", 3000));
        final Thread flipper = new Thread(() ->
        {
            while (System.nanoTime() < deadline && null == violation.get())
            {
                started.incrementAndGet();
                translator.flip();
                completed.incrementAndGet();
                final long until = System.nanoTime() + 2_000;
                while (System.nanoTime() < until)
                {
                    Thread.onSpinWait();
                }
            }
        });
        final Thread[] readers = new Thread[3];
        for (int i = 0; i < readers.length; i++)
        {
            readers[i] = new Thread(() ->
            {
                final ByteBuffer dst = ByteBuffer.allocateDirect(PAGE);
                try
                {
                    while (System.nanoTime() < deadline && null == violation.get())
                    {
                        final long startedBefore = started.get();
                        final long completedBefore = completed.get();
                        final long expected = translator.block;
                        file.read(0, dst.clear());
                        if (startedBefore != completedBefore || started.get() != startedBefore)
                        {
                            continue;
                        }
                        checked.incrementAndGet();
                        if (dst.get(0) != (byte)(0x10 + expected))
                        {
                            violation.compareAndSet(null, "after remap " + completedBefore + " to block " +
                                expected + " a read returned bytes of the other block");
                        }
                    }
                }
                catch (final IOException ex)
                {
                    violation.compareAndSet(null, ex.toString());
                }
            });
        }
        flipper.start();
        for (final Thread reader : readers)
        {
            reader.start();
        }
        flipper.join();
        for (final Thread reader : readers)
        {
            reader.join();
        }
        assertNull(violation.get());
        assertTrue(checked.get() > 1000, "reads checked: " + checked.get());
    }

    /** Two pages mapped as one run to blocks (0, 1) or (2, 3); {@link #flip} moves the whole run. */
    private static final class RunFlipTranslator implements Translator
    {
        private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
        private final List<TranslationListener> listeners = new CopyOnWriteArrayList<>();
        private volatile long first;

        @Override
        public int pageSize()
        {
            return PAGE;
        }

        @Override
        public long size(final long file)
        {
            return 2L * PAGE;
        }

        @Override
        public void translate(final long file, final long page, final Extent extent)
        {
            lock.readLock().lock();
            try
            {
                extent.set(0, 2, first, false);
            }
            finally
            {
                lock.readLock().unlock();
            }
        }

        void flip()
        {
            lock.writeLock().lock();
            try
            {
                first ^= 2;
                for (final TranslationListener listener : listeners)
                {
                    listener.pagesChanged(1, 0, 2, 2L * PAGE);
                }
            }
            finally
            {
                lock.writeLock().unlock();
            }
        }

        @Override
        public void addListener(final TranslationListener listener)
        {
            listeners.add(listener);
        }

        @Override
        public void removeListener(final TranslationListener listener)
        {
            listeners.remove(listener);
        }
    }

    /** Fault-around maps page 1 from page 0's translation; a remap in between must not leave page 1 stale. */
    @Test
    void faultAroundNeverMapsAPageFromAStaleTranslation() throws Exception
    {
        final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 4);
        for (int b = 0; b < 4; b++)
        {
            device.write(b, TestPages.stamped(b));
        }
        final RunFlipTranslator translator = new RunFlipTranslator();
        final ExtentCache cache = books.track(
            ExtentCache.builder().device(device).translator(translator).capacityFrames(8).build());
        final CachedFile file = cache.file(1);
        final ByteBuffer warm = ByteBuffer.allocate(2 * PAGE);
        file.read(0, warm);
        translator.flip();
        file.read(0, warm.clear());
        final AtomicLong started = new AtomicLong();
        final AtomicLong completed = new AtomicLong();
        final AtomicLong checked = new AtomicLong();
        final AtomicReference<String> violation = new AtomicReference<>();
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(
            Long.getLong("extentcache.stressMillis", 3000));
        final Thread flipper = new Thread(() ->
        {
            while (System.nanoTime() < deadline && null == violation.get())
            {
                started.incrementAndGet();
                translator.flip();
                completed.incrementAndGet();
                final long until = System.nanoTime() + 3_000;
                while (System.nanoTime() < until)
                {
                    Thread.onSpinWait();
                }
            }
        });
        final Thread[] readers = new Thread[2];
        for (int i = 0; i < readers.length; i++)
        {
            readers[i] = new Thread(() ->
            {
                final ByteBuffer dst = ByteBuffer.allocateDirect(PAGE);
                try
                {
                    while (System.nanoTime() < deadline && null == violation.get())
                    {
                        file.read(0, dst.clear());
                        final long startedBefore = started.get();
                        final long completedBefore = completed.get();
                        final long expected = translator.first + 1;
                        file.read(PAGE, dst.clear());
                        if (startedBefore != completedBefore || started.get() != startedBefore)
                        {
                            continue;
                        }
                        checked.incrementAndGet();
                        if (dst.getLong(0) != expected)
                        {
                            violation.compareAndSet(null, "page 1 read block " + dst.getLong(0) + " after remap " +
                                completedBefore + " mapped it to block " + expected);
                        }
                    }
                }
                catch (final IOException ex)
                {
                    violation.compareAndSet(null, ex.toString());
                }
            });
        }
        flipper.start();
        for (final Thread reader : readers)
        {
            reader.start();
        }
        flipper.join();
        for (final Thread reader : readers)
        {
            reader.join();
        }
        assertNull(violation.get());
        assertTrue(checked.get() > 1000, "reads checked: " + checked.get());
        assertTrue(cache.stats().fileHits() > 0, "fault-around mapped page 1: " + cache.stats());
    }

    /** A flush racing pins and unpins of the same page must still write it: flush returns only when it is there. */
    @Test
    void aFlushRacingPinsLosesNoWrite() throws Exception
    {
        final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 64);
        final org.extentcache.translate.ExtentStore store = new org.extentcache.translate.ExtentStore(device);
        final ExtentCache cache = books.track(
            ExtentCache.builder().device(device).translator(store).capacityFrames(16).build());
        final long id = store.create();
        store.write(id, 0, TestPages.filled(PAGE, 0));
        final CachedFile file = cache.file(id);
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        final Thread pinner = new Thread(() ->
        {
            final PinnedPage page = new PinnedPage();
            try
            {
                while (!stop.get())
                {
                    if (file.pin(0, page))
                    {
                        page.close();
                    }
                }
            }
            catch (final Throwable ex)
            {
                failure.compareAndSet(null, ex);
            }
        });
        pinner.start();
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(
            Long.getLong("extentcache.stressMillis", 3000));
        try
        {
            final ByteBuffer onDevice = ByteBuffer.allocate(PAGE);
            for (int i = 1; System.nanoTime() < deadline && null == failure.get(); i++)
            {
                file.write(0, TestPages.filled(PAGE, i & 0x7f));
                file.flush();
                store.read(id, 0, onDevice.clear());
                assertEquals((byte)(i & 0x7f), onDevice.get(0), "iteration " + i + ": flush returned but the " +
                    "device holds older bytes; dirty frames=" + cache.stats().dirtyFrames());
            }
        }
        finally
        {
            stop.set(true);
            pinner.join();
        }
        assertNull(failure.get());
        assertEquals(0, cache.stats().dirtyFrames());
    }

    @Test
    void aFileSeenBeforeItsSizeIsSetStillKnowsItsSize() throws Exception
    {
        final FlipTranslator translator = new FlipTranslator();
        translator.firstSizeCall = new CountDownLatch(1);
        final ExtentCache cache = books.track(
            ExtentCache.builder().device(twoBlocks()).translator(translator).capacityFrames(8).build());
        final Thread first = new Thread(() ->
        {
            try
            {
                cache.file(1);
            }
            catch (final IOException ex)
            {
                throw new AssertionError(ex);
            }
        });
        first.start();
        while (translator.sizeCalls.get() < 1)
        {
            Thread.onSpinWait();
        }
        final CachedFile early = cache.file(1);
        final int n = early.read(0, ByteBuffer.allocate(PAGE));
        final long size = early.size();
        translator.firstSizeCall.countDown();
        first.join();
        assertEquals(PAGE, n, "read of a 4 KiB file by a thread that saw it before its size was set");
        assertEquals(PAGE, size);
    }

    /** An {@link Error} from the device (InternalError from a SIGBUS on a mapped file, say) strands nothing. */
    @Test
    void anErrorFromTheDeviceLeavesNoFrameLoading() throws Exception
    {
        final MemoryBlockDevice inner = twoBlocks();
        final AtomicInteger reads = new AtomicInteger();
        final BlockDevice failing = new BlockDevice()
        {
            @Override
            public int blockSize()
            {
                return PAGE;
            }

            @Override
            public long blockCount()
            {
                return 2;
            }

            @Override
            public void read(final long block, final ByteBuffer dst) throws IOException
            {
                if (reads.incrementAndGet() == 1)
                {
                    throw new InternalError("a fault occurred in an unsafe memory access");
                }
                inner.read(block, dst);
            }

            @Override
            public void write(final long block, final ByteBuffer src) throws IOException
            {
                inner.write(block, src);
            }

            @Override
            public void sync()
            {
            }

            @Override
            public void close()
            {
            }
        };
        final ExtentCache cache = books.track(
            ExtentCache.builder().device(failing).translator(new FlipTranslator()).capacityFrames(8).build());
        final CachedFile file = cache.file(1);
        assertThrows(InternalError.class, () -> file.read(0, ByteBuffer.allocate(PAGE)));
        assertNull(cache.checkBooks());
        final ExecutorService pool = Executors.newSingleThreadExecutor();
        try
        {
            final Future<Integer> retry = pool.submit(() -> file.read(0, ByteBuffer.allocate(PAGE)));
            assertEquals(PAGE, retry.get(10, TimeUnit.SECONDS), "a later read of the block does not hang");
        }
        finally
        {
            pool.shutdownNow();
        }
    }

    @Test
    void anInterruptedMissDoesNotCloseTheDevice(@TempDir final Path dir) throws Exception
    {
        try (FileBlockDevice device = FileBlockDevice.open(dir.resolve("device"), PAGE, 4))
        {
            final FlipTranslator translator = new FlipTranslator();
            final ExtentCache cache = books.track(
                ExtentCache.builder().device(device).translator(translator).capacityFrames(8).build());
            final CachedFile file = cache.file(1);
            Thread.currentThread().interrupt();
            assertEquals(PAGE, file.read(0, ByteBuffer.allocate(PAGE)), "the interrupted miss still reads");
            assertTrue(Thread.interrupted(), "and the interrupt is kept for the caller");
            translator.flip();
            assertEquals(PAGE, file.read(0, ByteBuffer.allocate(PAGE)), "a later miss finds the device open");
            CacheBooks.check(cache);
        }
    }
}
