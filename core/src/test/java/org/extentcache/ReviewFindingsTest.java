package org.extentcache;

import org.extentcache.translate.ExtentStore;
import org.extentcache.translate.TranslationListener;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Review of 1a84aa6..60a2f29 (Translator.commit, group commit, per-file syncs, ExtentCache.closeFile): each test
 * fails on 60a2f29.
 */
class ReviewFindingsTest
{
    private static final int PAGE = 4096;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    private final ScriptedDevice device = new ScriptedDevice(PAGE, 4096);
    private final ExtentStore store = new ExtentStore(device);

    /** Counts successful commits per call; fails the next {@code failNext} commits. */
    private static final class CommitCounting extends FailurePathRaceTest.Delegating
    {
        final AtomicInteger commits = new AtomicInteger();
        volatile int failNext;

        CommitCounting(final ExtentStore store)
        {
            super(store);
        }

        @Override
        public void commit(final long file) throws IOException
        {
            if (failNext > 0)
            {
                failNext--;
                throw new IOException("injected commit failure");
            }
            commits.incrementAndGet();
        }
    }

    private ExtentCache cache(final org.extentcache.translate.Translator translator)
    {
        return books.track(ExtentCache.builder().device(device).translator(translator).capacityFrames(64)
            .claimTimeout(Duration.ofSeconds(3)).build());
    }

    /**
     * Finding 1a: closeInCache commits only if it had to write something back. A commit that failed leaves the data
     * durable, so the retry of closeFile finds nothing undurable, skips the commit and drops the file: the
     * translator is never told to make the metadata that points at the data durable (the Translator.commit
     * contract: it must not persist those blocks before commit).
     */
    @Test
    void closeFileRetriedAfterAFailedCommitStillCommits() throws IOException
    {
        final CommitCounting translator = new CommitCounting(store);
        final ExtentCache cache = cache(translator);
        final long id = store.create();
        cache.file(id).write(0, ByteBuffer.wrap(filled((byte)1, PAGE)));
        translator.failNext = 1;
        assertThrows(IOException.class, () -> cache.closeFile(id), "the commit fails: the close must fail");
        cache.closeFile(id); // the retry the Javadoc promises
        assertEquals(1, translator.commits.get(),
            "closeFile returned, the file is gone from the cache, and its metadata was never committed");
    }

    /**
     * Finding 1b: the same root cause on the ordinary path: a cache-wide flush (or the background write-back, or the
     * throttle, or a miss making room) makes the data durable without a commit; closeFile then sees nothing
     * undurable and never commits. Data durable, metadata that points at it never committed.
     */
    @Test
    void closeFileAfterACacheWideFlushCommits() throws IOException
    {
        final CommitCounting translator = new CommitCounting(store);
        final ExtentCache cache = cache(translator);
        final long id = store.create();
        cache.file(id).write(0, ByteBuffer.wrap(filled((byte)2, PAGE)));
        cache.flush(); // data durable; ExtentCache.flush does not commit
        cache.closeFile(id); // "the last close makes a file's pages durable" - and committed?
        assertEquals(1, translator.commits.get(),
            "the file's last close returned without the translator ever committing the file's metadata");
    }

    /**
     * Finding 2: a translator change announced for a file while closeFile runs queues on the writer lock of the view
     * being closed. When closeFile finishes, the change holds the forgotten view's lock, while ExtentCache.file
     * hands out a fresh view with a lock of its own: a write through it runs inside the change's bracket
     * (TranslationListener.beforeChange: "blocks until writers of the file are out"). Here the change is a clone of
     * the file's page 0 into another file: the write lands in place in the block being shared, so a dirty frame is
     * shared (invariant 2) and the file's later write copies on write, leaving that dirty frame owned by no file.
     */
    @Test
    void aWriteThroughAFreshViewIsHeldOutOfAChangeThatQueuedOnTheClosedView() throws Exception
    {
        final ExtentCache cache = cache(store);
        final long a = store.create();
        final long b = store.create(); // a < b: cloneRange announces the source a first
        cache.file(a).write(0, ByteBuffer.wrap(filled((byte)1, PAGE)));

        final CountDownLatch inBracket = new CountDownLatch(1);
        final CountDownLatch leaveBracket = new CountDownLatch(1);
        final Thread[] changer = new Thread[1];
        store.addListener(new TranslationListener() // after the cache's: told after it took the file's lock
        {
            @Override
            public void beforeChange(final long file, final long firstPage, final long pageCount,
                final boolean discard)
            {
                if (Thread.currentThread() == changer[0] && file == a)
                {
                    inBracket.countDown();
                    await(leaveBracket);
                }
            }

            @Override
            public void pagesChanged(final long file, final long firstPage, final long pageCount, final long size)
            {
            }

            @Override
            public void blocksInvalidated(final long firstBlock, final long blockCount)
            {
            }

            @Override
            public void fileDeleted(final long file)
            {
            }
        });

        final ExecutorService pool = Executors.newFixedThreadPool(3);
        try
        {
            device.holdNextSync(false);
            final Future<?> closing = pool.submit(() ->
            {
                cache.closeFile(a); // holds the view's writer lock while its sync is held
                return null;
            });
            assertTrue(device.syncEntered.await(30, TimeUnit.SECONDS));
            final Future<?> cloning = pool.submit(() ->
            {
                changer[0] = Thread.currentThread();
                store.cloneRange(a, 0, b, 0, PAGE);
                return null;
            });
            // the clone's beforeChange(a) waits for the closing view's writer lock
            waitUntilParked(changer);
            device.releaseSync();
            closing.get(30, TimeUnit.SECONDS);
            assertTrue(inBracket.await(30, TimeUnit.SECONDS), "the clone never got into its bracket");

            final CachedFile fresh = cache.file(a);
            final Future<?> writing = pool.submit(() ->
            {
                fresh.write(0, ByteBuffer.wrap(filled((byte)2, PAGE)));
                return null;
            });
            boolean heldOut;
            try
            {
                writing.get(1, TimeUnit.SECONDS);
                heldOut = false;
            }
            catch (final TimeoutException expected)
            {
                heldOut = true;
            }
            leaveBracket.countDown();
            cloning.get(30, TimeUnit.SECONDS);
            writing.get(30, TimeUnit.SECONDS);

            // consequence: a later write of page 0 copies on write; then flush everything
            fresh.write(0, ByteBuffer.wrap(filled((byte)3, PAGE)));
            cache.flush();
            final int dirtyAfterFlush = cache.stats().dirtyFrames();
            final ByteBuffer bCached = ByteBuffer.allocate(PAGE);
            cache.file(b).read(0, bCached);
            final ByteBuffer bOnDevice = ByteBuffer.allocate(PAGE);
            store.read(b, 0, bOnDevice);
            assertTrue(heldOut, "a write of file " + a + " ran inside a change's bracket of the same file " +
                "(closeFile + ExtentCache.file gave it a second writer lock); dirty frames after a full flush: " +
                dirtyAfterFlush + "; clone b reads " + bCached.get(0) + " from the cache, " + bOnDevice.get(0) +
                " from the device after the flush");
            assertEquals(0, dirtyAfterFlush, "a dirty frame no file will write back");
        }
        finally
        {
            leaveBracket.countDown();
            device.releaseSync();
            pool.shutdown();
            assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
        }
    }

    private static void waitUntilParked(final Thread[] thread) throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (null == thread[0] || thread[0].getState() != Thread.State.WAITING)
        {
            assertTrue(System.nanoTime() < deadline, "the changer never blocked");
            Thread.sleep(1);
        }
    }

    private static void await(final CountDownLatch latch)
    {
        try
        {
            assertTrue(latch.await(30, TimeUnit.SECONDS));
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new AssertionError(ex);
        }
    }

    private static byte[] filled(final byte value, final int length)
    {
        final byte[] bytes = new byte[length];
        Arrays.fill(bytes, value);
        return bytes;
    }
}
