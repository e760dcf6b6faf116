package org.extentcache.fs;

import org.extentcache.CachedFile;
import org.extentcache.ExtentCache;
import org.extentcache.translate.FileBackedTranslator;
import org.extentcache.translate.ForwardingTranslator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Review of the per-file syncs (b6cd359, 7888330): over real files a file's sync covers only that file and "its
 * failure cannot drop another file's pages" (DeviceSync's Javadoc), yet the failure count it returns is global, so
 * another file's failed fsync voids this file's successful one.
 */
class ReviewFindingsFsTest
{
    private static final int PAGE = 4096;

    @TempDir
    Path dir;

    private FileSystemTranslator real;
    private ExtentCache cache;
    private final ExecutorService other = Executors.newSingleThreadExecutor();

    @AfterEach
    void close() throws Exception
    {
        other.shutdown();
        assertTrue(other.awaitTermination(30, TimeUnit.SECONDS));
        if (null != cache)
        {
            cache.flush();
            cache.close();
        }
        if (null != real)
        {
            real.close();
        }
    }

    /**
     * Finding 3: file b's fsync fails (twice) while file a is being flushed; a's own fsyncs both succeed and cover
     * its page, yet a's flush throws "a device sync failed after its pages were written and may have dropped them".
     * A file whose neighbour keeps failing (a bad region, the background write-back retrying it) cannot be flushed.
     */
    @Test
    void anotherFilesFailedFsyncDoesNotFailThisFilesFlush() throws Exception
    {
        final Path a = dir.resolve("a");
        final Path b = dir.resolve("b");
        Files.write(a, new byte[2 * PAGE]);
        Files.write(b, new byte[2 * PAGE]);
        real = new FileSystemTranslator(PAGE);
        final long idA = real.open(a, true);
        final long idB = real.open(b, true);
        final Hooked translator = new Hooked(real);
        cache = ExtentCache.builder().translator(translator).capacityFrames(32).build();
        final CachedFile fileA = cache.file(idA);
        final CachedFile fileB = cache.file(idB);
        fileA.write(0, ByteBuffer.wrap(filled((byte)1)));
        fileB.write(0, ByteBuffer.wrap(filled((byte)2)));

        translator.idA = idA;
        translator.idB = idB;
        translator.failSyncsOfB = 2;
        translator.onWriteOfA = () ->
        {
            // while a's page is being written back: b is flushed on another thread, and b's fsync fails
            final var flushB = other.submit(() ->
            {
                fileB.flush();
                return null;
            });
            try
            {
                flushB.get(30, TimeUnit.SECONDS);
                fail("b's flush was to fail");
            }
            catch (final java.util.concurrent.ExecutionException expected)
            {
                assertInstanceOf(IOException.class, expected.getCause());
            }
            catch (final Exception ex)
            {
                throw new AssertionError(ex);
            }
        };
        try
        {
            fileA.flush();
        }
        catch (final IOException ex)
        {
            fail("a's pages were forced by a's own successful fsync (twice), yet its flush failed because b's " +
                "fsync failed: " + ex, ex);
        }
        finally
        {
            translator.onWriteOfA = null;
        }
        assertArrayEquals(filled((byte)1), Arrays.copyOf(Files.readAllBytes(a), PAGE));
    }

    private static byte[] filled(final byte value)
    {
        final byte[] bytes = new byte[PAGE];
        Arrays.fill(bytes, value);
        return bytes;
    }

    /** Delegates to a real translator; runs a hook before each write of file a's pages, fails b's syncs. */
    private static final class Hooked extends ForwardingTranslator<FileSystemTranslator> implements FileBackedTranslator
    {
        volatile long idA = -1;
        volatile long idB = -1;
        volatile int failSyncsOfB;
        volatile Runnable onWriteOfA;

        Hooked(final FileSystemTranslator real)
        {
            super(real);
        }

        @Override
        public void readBlock(final long file, final long page, final long block, final ByteBuffer dst)
            throws IOException
        {
            delegate.readBlock(file, page, block, dst);
        }

        @Override
        public void writeBlock(final long block, final ByteBuffer src) throws IOException
        {
            final Runnable hook = onWriteOfA;
            if (null != hook && BlockKeys.fileOf(block) == idA)
            {
                hook.run();
            }
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
            if (file == idB && failSyncsOfB > 0)
            {
                failSyncsOfB--;
                throw new IOException("injected fsync failure of b");
            }
            delegate.syncFile(file);
        }
    }
}
