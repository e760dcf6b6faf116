package org.extentcache.soak;

import org.extentcache.CacheBooks;
import org.extentcache.CachedFile;
import org.extentcache.ExtentCache;
import org.extentcache.device.BlockDevice;
import org.extentcache.device.ForwardingBlockDevice;
import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the soak found, cut down to deterministic reproductions; each failed before its fix.
 */
class SoakFindingsTest
{
    private static final int PAGE = SoakConfig.PAGE;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    /**
     * Soak seed 20261129 (4 threads, default knobs), op 585968 of thread 1: after a successful cache-wide flush, a
     * page written 15 operations earlier was not on the device. A cache-wide flush wrote the page back and waited in
     * the device sync; meanwhile the file was cloned (the page's block turned shared) and the page rewritten
     * (copy-on-write: a new block and a new dirty frame); the sync failed and the flush marked the frame it had
     * written dirty again and put its handle back in the file's dirty set, over the new frame's. The old frame is
     * then a dirty frame of a shared block (invariant 2), and the new one is dirty but in no dirty set: no flush
     * writes it, and its block never gets the bytes (invariant 5).
     */
    @Test
    void aFailedCacheWideSyncDoesNotRedirtyOverAPageRewrittenMeanwhile() throws Exception
    {
        final StallingSyncDevice device = new StallingSyncDevice(new MemoryBlockDevice(PAGE, 64));
        final ExtentStore store = new ExtentStore(device);
        final ExtentCache cache = books.track(
            ExtentCache.builder().device(device).translator(store).capacityFrames(16).build());
        final long id = store.create();
        final CachedFile file = cache.file(id);
        file.write(0, filled(1));

        device.stallNextSyncThenFail();
        final AtomicReference<Throwable> flushed = new AtomicReference<>();
        final Thread flusher = new Thread(() ->
        {
            try
            {
                cache.flush();
                flushed.set(new AssertionError("the cache-wide flush succeeded"));
            }
            catch (final IOException | RuntimeException | Error ex)
            {
                flushed.set(ex);
            }
        }, "cache-wide flush");
        flusher.start();
        assertTrue(device.awaitStalledSync(), "the cache-wide flush reached its sync");

        // the clone syncs page 0 first (after the flush's sync, which it waits for), then shares it; the write then
        // copies on write to a fresh block: a new dirty frame
        final java.util.concurrent.CompletableFuture<Long> cloned = java.util.concurrent.CompletableFuture.supplyAsync(
            () ->
            {
                try
                {
                    final long id2 = store.cloneFile(id);
                    file.write(0, filled(2));
                    return id2;
                }
                catch (final IOException ex)
                {
                    throw new java.io.UncheckedIOException(ex);
                }
            }, org.extentcache.TestThreads.POOL);
        Thread.sleep(100);
        device.releaseSync();                   // the sync fails: the flush must not bring its frame back
        flusher.join(TimeUnit.SECONDS.toMillis(10));
        final long clone = cloned.get(10, TimeUnit.SECONDS);
        assertInstanceOf(IOException.class, flushed.get(), "the cache-wide flush failed with the sync");

        file.flush();
        assertEquals(2, onDevice(store, id), "the rewritten page is on the device after a successful flush");
        assertEquals(1, onDevice(store, clone), "the clone keeps the old page");
        assertEquals(0, cache.stats().dirtyFrames(), "no dirty frame after a successful flush");
    }

    private static ByteBuffer filled(final int value)
    {
        final byte[] bytes = new byte[PAGE];
        Arrays.fill(bytes, (byte)value);
        return ByteBuffer.wrap(bytes);
    }

    /** The first byte of a file's page 0 as the device holds it, read around the cache. */
    private static int onDevice(final ExtentStore store, final long file) throws IOException
    {
        final ByteBuffer page = ByteBuffer.allocate(PAGE);
        store.read(file, 0, page);
        return page.get(0);
    }

    /** A device whose next sync, once armed, waits until released and then fails, applying nothing. */
    private static final class StallingSyncDevice extends ForwardingBlockDevice
    {
        private final CountDownLatch stalled = new CountDownLatch(1);
        private final CountDownLatch released = new CountDownLatch(1);
        private volatile boolean armed;

        StallingSyncDevice(final BlockDevice delegate)
        {
            super(delegate);
        }

        void stallNextSyncThenFail()
        {
            armed = true;
        }

        boolean awaitStalledSync() throws InterruptedException
        {
            return stalled.await(10, TimeUnit.SECONDS);
        }

        void releaseSync()
        {
            released.countDown();
        }

        @Override
        public void sync() throws IOException
        {
            if (!armed)
            {
                delegate.sync();
                return;
            }
            armed = false;
            stalled.countDown();
            try
            {
                if (!released.await(10, TimeUnit.SECONDS))
                {
                    throw new IOException("test sync stall never released");
                }
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted in a stalled sync", ex);
            }
            throw new IOException("injected sync failure after a stall");
        }
    }
}
