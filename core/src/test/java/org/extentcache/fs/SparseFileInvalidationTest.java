package org.extentcache.fs;

import org.extentcache.CacheBooks;
import org.extentcache.CachedFile;
import org.extentcache.ExtentCache;
import org.extentcache.translate.TranslationListener;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Truncating or revalidating a huge sparse file costs in proportion to what the cache may hold of it, not to its
 * size. The work is counted, not timed: every block key the translator announces invalidated costs the cache a
 * device-index lookup (its listener walks the announced range block by block), so the test counts the blocks
 * announced. A 1 TiB file on tmpfs (no FIEMAP: every page is private to the file) with three pages cached must
 * announce a handful of blocks, not 2^28. Each test also checks that what was announced is enough: a page cached
 * before the change is never served after it.
 */
final class SparseFileInvalidationTest
{
    private static final int PAGE = 4096;
    private static final long TIB = 1L << 40;
    /** Pages the tests read through the cache: page 0, the middle page, the last page. */
    private static final int CACHED = 3;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    private Path tmpfs;
    private FileSystemTranslator translator;
    private final BlockCounter announced = new BlockCounter();

    /** Counts the blocks announced invalidated. */
    private static final class BlockCounter implements TranslationListener
    {
        final AtomicLong blocks = new AtomicLong();

        @Override
        public void pagesChanged(final long file, final long firstPage, final long pageCount, final long size)
        {
        }

        @Override
        public void blocksInvalidated(final long firstBlock, final long blockCount)
        {
            blocks.addAndGet(blockCount);
        }

        @Override
        public void fileDeleted(final long file)
        {
        }

        long take()
        {
            return blocks.getAndSet(0);
        }
    }

    @BeforeEach
    void makeDirectory() throws IOException
    {
        final Path shm = Path.of("/dev/shm");
        Assumptions.assumeTrue(Files.isDirectory(shm) && Files.isWritable(shm), "no writable /dev/shm (tmpfs)");
        tmpfs = Files.createTempDirectory(shm, "extentcache");
    }

    @AfterEach
    void clean() throws IOException
    {
        try
        {
            if (null != translator)
            {
                translator.close();
            }
        }
        finally
        {
            ReflinkDir.delete(tmpfs);
        }
    }

    @Test
    void truncatingA1TiBSparseFileAnnouncesItsCachedPagesNotItsSize() throws IOException
    {
        final byte[] middle = FileSystemTranslatorTest.random(1, PAGE);
        final CachedFile file = openSparse(middle);

        translator.truncate(file.id(), TIB / 4);
        final long truncated = announced.take();
        assertTrue(truncated <= CACHED, "truncating from page " + TIB / 4 / PAGE + " announced " + truncated +
            " blocks for " + CACHED + " pages cached");
        assertEquals(TIB / 4, file.size());

        translator.truncate(file.id(), TIB);
        assertArrayEquals(new byte[PAGE], read(file, TIB / 2), "the middle page, cut off and grown back, is zeros");
        assertArrayEquals(new byte[PAGE], read(file, TIB - PAGE));
        announced.take();

        translator.truncate(file.id(), 0);
        final long emptied = announced.take();
        assertTrue(emptied <= CACHED, "truncating to 0 announced " + emptied + " blocks");
    }

    @Test
    void revalidatingA1TiBSparseFileChangedOutsideAnnouncesItsCachedPagesNotItsSize() throws IOException
    {
        final byte[] middle = FileSystemTranslatorTest.random(2, PAGE);
        final CachedFile file = openSparse(middle);
        final byte[] changed = FileSystemTranslatorTest.random(3, PAGE);
        try (FileChannel channel = FileChannel.open(translator.path(file.id()), StandardOpenOption.WRITE))
        {
            channel.write(ByteBuffer.wrap(changed), TIB / 2);
        }
        FileSystemTranslatorTest.bumpTimes(translator.path(file.id()));

        assertTrue(translator.revalidate(file.id()));
        final long revalidated = announced.take();
        assertTrue(revalidated <= CACHED, "revalidating announced " + revalidated + " blocks for " + CACHED +
            " pages cached");
        assertArrayEquals(changed, read(file, TIB / 2), "the page changed outside is read again");
        assertArrayEquals(new byte[PAGE], read(file, 0));
    }

    /**
     * A page written whole through the cache is never read from the file (its frame is filled by the write): it must
     * still be dropped when a truncation cuts it off, or growing the file back and reloading it (which keys the page
     * privately again) would serve the written bytes.
     */
    @Test
    void aPageWrittenWholeThroughTheCacheIsDroppedWhenCutOff() throws IOException
    {
        final Path path = Files.write(tmpfs.resolve("small"), new byte[4 * PAGE]);
        translator = new FileSystemTranslator(PAGE);
        final long id = translator.open(path, true);
        final ExtentCache cache = books.track(ExtentCache.builder().translator(translator).capacityFrames(16).build());
        final CachedFile file = cache.file(id);
        for (final boolean flushed : new boolean[] {true, false})
        {
            final byte[] written = FileSystemTranslatorTest.random(flushed ? 4 : 5, PAGE);
            file.write(2L * PAGE, ByteBuffer.wrap(written));
            if (flushed)
            {
                file.flush();
            }
            assertArrayEquals(written, read(file, 2L * PAGE));
            translator.truncate(id, PAGE);
            translator.truncate(id, 4 * PAGE);
            assertArrayEquals(new byte[PAGE], read(file, 2L * PAGE), "cut off and grown back, flushed=" + flushed);
            FileSystemTranslatorTest.bumpTimes(path);
            assertTrue(translator.revalidate(id));
            assertArrayEquals(new byte[PAGE], read(file, 2L * PAGE), "reloaded, flushed=" + flushed);
        }
    }

    /** A 1 TiB file of holes with {@code middle} written at its middle, open writable, three pages read. */
    private CachedFile openSparse(final byte[] middle) throws IOException
    {
        final Path path = tmpfs.resolve("sparse");
        try (RandomAccessFile raf = new RandomAccessFile(path.toFile(), "rw"))
        {
            raf.setLength(TIB);
            raf.getChannel().write(ByteBuffer.wrap(middle), TIB / 2);
        }
        translator = new FileSystemTranslator(PAGE);
        final long id = translator.open(path, true);
        Assumptions.assumeTrue(null != translator.sharingUnavailableReason(id),
            "this tmpfs reports extents: its pages are not all private");
        final ExtentCache cache = books.track(ExtentCache.builder().translator(translator).capacityFrames(16).build());
        translator.addListener(announced);
        final CachedFile file = cache.file(id);
        assertArrayEquals(new byte[PAGE], read(file, 0));
        assertArrayEquals(middle, read(file, TIB / 2));
        assertArrayEquals(new byte[PAGE], read(file, TIB - PAGE));
        assertEquals(0, announced.take(), "reads announce nothing");
        return file;
    }

    private static byte[] read(final CachedFile file, final long position) throws IOException
    {
        return FileSystemTranslatorTest.read(file, position, PAGE);
    }
}
