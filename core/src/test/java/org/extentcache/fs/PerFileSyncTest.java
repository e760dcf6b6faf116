package org.extentcache.fs;

import org.extentcache.CachedFile;
import org.extentcache.ExtentCache;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Over real files, {@code CachedFile.flush} (what {@code FileChannel.force} calls) forces only its own file: the
 * other files' written-back pages are not forced, and their dirty pages are not written.
 */
class PerFileSyncTest
{
    private static final int PAGE = 4096;

    @TempDir
    Path dir;

    private FileSystemTranslator translator;
    private ExtentCache cache;

    @AfterEach
    void close() throws IOException
    {
        if (null != cache)
        {
            cache.flush();
            cache.close();
        }
        if (null != translator)
        {
            translator.close();
        }
    }

    @Test
    void aFlushForcesOnlyItsOwnFile() throws IOException
    {
        final Path a = dir.resolve("a");
        final Path b = dir.resolve("b");
        Files.write(a, new byte[4 * PAGE]);
        Files.write(b, new byte[4 * PAGE]);
        translator = new FileSystemTranslator(PAGE);
        final long idA = translator.open(a, true);
        final long idB = translator.open(b, true);
        cache = ExtentCache.builder().translator(translator).capacityFrames(32).build();
        final CachedFile fileA = cache.file(idA);
        final CachedFile fileB = cache.file(idB);
        fileA.write(0, ByteBuffer.wrap(filled((byte)1)));
        fileB.write(0, ByteBuffer.wrap(filled((byte)2)));

        cache.flush(); // both written back and synced: the baseline
        fileA.write(PAGE, ByteBuffer.wrap(filled((byte)3)));
        fileB.write(PAGE, ByteBuffer.wrap(filled((byte)4)));
        translator.writeBlock(BlockKeys.privateKey(idB, 2), ByteBuffer.wrap(filled((byte)5))); // b: written, unforced

        fileA.flush();
        assertFalse(translator.hasUnsyncedWrites(idA), "a's own write-back is forced");
        assertTrue(translator.hasUnsyncedWrites(idB), "b's write was forced by a's flush");
        assertEquals(1, fileB.dirtyPageCount(), "b's dirty page was written back by a's flush");
        assertArrayEquals(filled((byte)3), Arrays.copyOfRange(Files.readAllBytes(a), PAGE, 2 * PAGE));

        fileB.flush();
        assertFalse(translator.hasUnsyncedWrites(idB));
        assertEquals(0, fileB.dirtyPageCount());
    }

    private static byte[] filled(final byte value)
    {
        final byte[] bytes = new byte[PAGE];
        Arrays.fill(bytes, value);
        return bytes;
    }
}
