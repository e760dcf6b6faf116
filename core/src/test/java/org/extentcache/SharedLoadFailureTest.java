package org.extentcache;

import org.extentcache.translate.Extent;
import org.extentcache.translate.FileBackedTranslator;
import org.extentcache.translate.TranslationListener;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue item 9: a block read through one file fails for that file's own reason (it was closed); a reader of another
 * file sharing the block, waiting on that load, must read the block through its own file instead of failing.
 */
class SharedLoadFailureTest
{
    private static final int PAGE = 4096;
    private static final long BLOCK = 100;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    @RepeatedTest(5)
    void aLoadThatFailsThroughOneFileDoesNotFailReadersOfAnother() throws Exception
    {
        final TwoFilesOneBlock files = new TwoFilesOneBlock();
        final ExtentCache cache = books.track(ExtentCache.builder().translator(files).capacityFrames(16).build());
        final CompletableFuture<Throwable> first = CompletableFuture.supplyAsync(() -> readFailure(cache, 1), TestThreads.POOL);
        assertTrue(files.firstReadEntered.await(10, TimeUnit.SECONDS));
        final Thread[] waiter = new Thread[1];
        final CompletableFuture<Throwable> second = CompletableFuture.supplyAsync(() ->
        {
            waiter[0] = Thread.currentThread();
            return readFailure(cache, 2);
        }, TestThreads.POOL);
        // let the second reader reach the loading frame and wait on it
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while ((null == waiter[0] || waiter[0].getState() == Thread.State.RUNNABLE) && System.nanoTime() < deadline)
        {
            Thread.onSpinWait();
        }
        files.releaseFirstRead.countDown();
        assertTrue(first.get(10, TimeUnit.SECONDS) instanceof IOException, "file 1's own failure reaches its reader");
        assertNull(second.get(10, TimeUnit.SECONDS), "file 2 read the block through itself");
        assertEquals(2, files.reads, "one failed read through file 1, one good read through file 2");
    }

    private static Throwable readFailure(final ExtentCache cache, final long file)
    {
        try
        {
            final ByteBuffer dst = ByteBuffer.allocate(PAGE);
            cache.file(file).read(0, dst);
            TestPages.assertBytes(9, dst.array(), "file " + file);
            return null;
        }
        catch (final IOException | RuntimeException ex)
        {
            return ex;
        }
    }

    /** Files 1 and 2, one page each, both mapping block 100; reading it through file 1 blocks, then fails. */
    private static final class TwoFilesOneBlock implements FileBackedTranslator
    {
        final CountDownLatch firstReadEntered = new CountDownLatch(1);
        final CountDownLatch releaseFirstRead = new CountDownLatch(1);
        volatile int reads;

        @Override
        public synchronized void readBlock(final long file, final long page, final long block, final ByteBuffer dst)
            throws IOException
        {
            reads++;
            if (1 == file)
            {
                firstReadEntered.countDown();
                try
                {
                    releaseFirstRead.await(10, TimeUnit.SECONDS);
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                }
                throw new NoSuchFileException("file 1", null, "closed while its read was in flight");
            }
            while (dst.hasRemaining())
            {
                dst.put((byte)9);
            }
        }

        @Override
        public void writeBlock(final long block, final ByteBuffer src)
        {
            throw new UnsupportedOperationException("read-only");
        }

        @Override
        public void sync()
        {
        }

        @Override
        public void syncFile(final long file)
        {
        }

        @Override
        public int pageSize()
        {
            return PAGE;
        }

        @Override
        public long size(final long file) throws NoSuchFileException
        {
            if (file != 1 && file != 2)
            {
                throw new NoSuchFileException("file " + file);
            }
            return PAGE;
        }

        @Override
        public void translate(final long file, final long page, final Extent extent) throws NoSuchFileException
        {
            size(file);
            if (page == 0)
            {
                extent.set(0, 1, BLOCK, true);
            }
            else
            {
                extent.set(page, Long.MAX_VALUE - page, Extent.HOLE, false);
            }
        }

        @Override
        public void addListener(final TranslationListener listener)
        {
        }

        @Override
        public void removeListener(final TranslationListener listener)
        {
        }
    }
}
