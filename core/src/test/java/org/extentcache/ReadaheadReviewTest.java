package org.extentcache;

import org.extentcache.fs.FileSystemTranslator;
import org.extentcache.frame.Handle;
import org.extentcache.translate.Extent;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Review of readahead (faae828): findings, each with the test that failed before its fix. */
final class ReadaheadReviewTest
{
    private static final int PAGE = 4096;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    @TempDir
    Path dir;

    private FileSystemTranslator files;

    @AfterEach
    void close() throws IOException
    {
        if (null != files)
        {
            files.close();
        }
    }

    /**
     * A page read ahead and never used is no hotter than a page loaded on demand and used once: the CLOCK sweep must
     * not give it the second chance a used page earns. Frames 0..4 hold a scan's page 0 (a single load), page 1 (the
     * miss that read the window) and pages 2..4 (read ahead, unused); frames 5..7 hold pages of another file read once
     * on demand. Three more misses sweep from frame 0: they take pages 0 and 1 of the scan, then must take a page read
     * ahead and unused (frame 2), not a page somebody read (frame 5).
     */
    @Test
    void anUnusedReadAheadPageGetsNoSecondChanceOverAPageReadOnce() throws IOException
    {
        final byte[] scan = random(11, 8 * PAGE);
        final byte[] demand = random(12, 8 * PAGE);
        final byte[] other = random(13, 8 * PAGE);
        files = new FileSystemTranslator(PAGE, true);
        final long scanId = files.open(Files.write(dir.resolve("scan"), scan));
        final long demandId = files.open(Files.write(dir.resolve("demand"), demand));
        final long otherId = files.open(Files.write(dir.resolve("other"), other));
        final ExtentCache cache = books.track(ExtentCache.builder().translator(files).capacityFrames(8).build());
        final CachedFile scanFile = cache.file(scanId);
        scanFile.read(0, ByteBuffer.allocate(PAGE));
        scanFile.read(PAGE, ByteBuffer.allocate(PAGE)); // sequential: a window of pages 1..4
        assertEquals(3, cache.stats().pagesReadAhead(), "pages 2..4 read ahead: " + cache.stats());
        final CachedFile demandFile = cache.file(demandId);
        for (final int p : new int[]{6, 4, 2})
        {
            demandFile.read((long)p * PAGE, ByteBuffer.allocate(PAGE)); // never sequential: single loads
        }
        assertEquals(0, cache.stats().framesFree());
        final CachedFile otherFile = cache.file(otherId);
        for (final int p : new int[]{6, 4, 2})
        {
            otherFile.read((long)p * PAGE, ByteBuffer.allocate(PAGE));
        }
        assertEquals(Handle.NONE, cache.frames().peek(blockOf(scanId, 2)),
            "the page read ahead and never used went first");
        assertNotEquals(Handle.NONE, cache.frames().peek(blockOf(demandId, 6)),
            "the page read once stayed: a page nobody asked for got a second chance over it");
        assertTrue(cache.stats().reclaims() >= 3);
    }

    private long blockOf(final long file, final long page) throws IOException
    {
        final Extent extent = new Extent();
        files.translate(file, page, extent);
        return extent.blockOf(page);
    }

    private static byte[] random(final long seed, final int length)
    {
        final byte[] bytes = new byte[length];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }
}
