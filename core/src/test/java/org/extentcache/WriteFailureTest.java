package org.extentcache;

import org.extentcache.translate.Extent;
import org.extentcache.translate.ExtentStore;
import org.extentcache.translate.TranslationListener;
import org.extentcache.translate.Translator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** Writes that fail on the caller's side, and writes a translator must refuse. */
class WriteFailureTest
{
    private static final int PAGE = 4096;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    @TempDir
    Path dir;

    private final ScriptedDevice device = new ScriptedDevice(PAGE, 1024);
    private final ExtentStore store = new ExtentStore(device);

    /**
     * Issue item 4: the source of an in-place write throws (a mapped file truncated under it raises
     * {@link InternalError}). The page must not stay WRITING: readers go on, a later write and flush work.
     */
    @Test
    void anInPlaceWriteWhoseSourceThrowsLeavesNoPageWriting() throws Exception
    {
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(16).build());
        final long id = store.create();
        store.write(id, 0, TestPages.filled(PAGE, 7));
        final CachedFile file = cache.file(id);
        TestPages.assertBytes(7, read(file), "cached before the write");

        final Path mapped = dir.resolve("source");
        final MappedByteBuffer source;
        try (FileChannel channel = FileChannel.open(mapped, StandardOpenOption.CREATE, StandardOpenOption.READ,
            StandardOpenOption.WRITE))
        {
            channel.write(TestPages.filled(PAGE, 8));
            source = channel.map(FileChannel.MapMode.READ_ONLY, 0, PAGE);
        }
        try (RandomAccessFile truncate = new RandomAccessFile(mapped.toFile(), "rw"))
        {
            truncate.setLength(0); // the mapping now faults: copying from it raises InternalError
        }
        final Throwable failure = assertThrows(Throwable.class, () -> file.write(0, source));
        assertTrue(failure instanceof InternalError, "the source's failure reaches the caller: " + failure);

        final CompletableFuture<byte[]> reader = CompletableFuture.supplyAsync(() ->
        {
            try
            {
                return read(file);
            }
            catch (final IOException ex)
            {
                throw new RuntimeException(ex);
            }
        }, TestThreads.POOL);
        reader.get(10, TimeUnit.SECONDS); // a page left WRITING would block this reader for good
        file.write(0, TestPages.filled(PAGE, 9));
        file.flush();
        TestPages.assertBytes(9, read(file), "a later write");
        assertEquals(0, file.dirtyPageCount());
    }

    /**
     * Issue item 12: a translator that implements no write method is read-only; a write to a page it reports
     * unshared must not go in place (nor reach its device on a flush).
     */
    @Test
    void aReadOnlyTranslatorsDeviceIsNeverWritten() throws IOException
    {
        final long id = store.create();
        store.write(id, 0, TestPages.filled(2 * PAGE, 1));
        final ReadOnly readOnly = new ReadOnly(store);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(readOnly)
            .capacityFrames(16).build());
        final CachedFile file = cache.file(id);
        TestPages.assertBytes(1, read(file), "readable");
        final int writes = device.writes.get();
        final UnsupportedOperationException refused = assertThrows(UnsupportedOperationException.class,
            () -> file.write(0, TestPages.filled(PAGE, 2)));
        assertTrue(refused.getMessage().contains("read-only"), refused.getMessage());
        file.flush();
        cache.flush();
        assertEquals(writes, device.writes.get(), "the device was not written");
        assertEquals(0, file.dirtyPageCount());
        TestPages.assertBytes(1, read(file), "the page kept its bytes");
    }

    private static byte[] read(final CachedFile file) throws IOException
    {
        final ByteBuffer dst = ByteBuffer.allocate(PAGE);
        file.read(0, dst);
        return dst.array();
    }

    /** Reads through a store, and implements nothing else: a read-only translator. */
    private static final class ReadOnly implements Translator
    {
        private final ExtentStore store;

        ReadOnly(final ExtentStore store)
        {
            this.store = store;
        }

        @Override
        public int pageSize()
        {
            return store.pageSize();
        }

        @Override
        public long size(final long file) throws NoSuchFileException
        {
            return store.size(file);
        }

        @Override
        public void translate(final long file, final long page, final Extent extent) throws NoSuchFileException
        {
            store.translate(file, page, extent);
        }

        @Override
        public void addListener(final TranslationListener listener)
        {
            store.addListener(listener);
        }

        @Override
        public void removeListener(final TranslationListener listener)
        {
            store.removeListener(listener);
        }
    }
}
