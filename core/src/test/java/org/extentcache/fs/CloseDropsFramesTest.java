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
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Closed means gone over real files: on a file's last close its frames that no open file can be served again are
 * dropped at once (its private pages, and physical blocks no other open file maps, which the next open would not
 * trust), while blocks another open file still maps stay cached for it.
 */
class CloseDropsFramesTest
{
    private static final int PAGE = 4096;
    private static final int PAGES = 16;

    @TempDir
    Path temp;

    private Path reflinks;
    private FileSystemTranslator translator;
    private ExtentCache cache;

    @AfterEach
    void close() throws IOException
    {
        if (null != cache)
        {
            cache.close();
        }
        if (null != translator)
        {
            translator.close();
        }
        ReflinkDir.delete(reflinks);
    }

    @Test
    void aClosedFilesFramesAreDropped() throws IOException
    {
        final Path file = write(temp.resolve("a"));
        translator = new FileSystemTranslator(PAGE);
        cache = ExtentCache.builder().translator(translator).capacityFrames(64).build();
        final long id = translator.open(file);
        readAll(cache.file(id));
        assertEquals(PAGES, cache.stats().framesResident());
        translator.close(id);
        assertEquals(0, cache.stats().framesResident(), "no open file can be served its frames again");
        assertNull(cache.checkBooks());
    }

    @Test
    void blocksAnotherOpenFileMapsStayCachedForIt() throws IOException
    {
        reflinks = ReflinkDir.create();
        final Path base = write(reflinks.resolve("base"));
        final Path clone = reflinks.resolve("clone");
        ReflinkDir.cloneFile(base, clone);
        translator = new FileSystemTranslator(PAGE);
        cache = ExtentCache.builder().translator(translator).capacityFrames(64).build();
        final long a = translator.open(base);
        final long b = translator.open(clone);
        readAll(cache.file(a));
        readAll(cache.file(b));
        assertEquals(PAGES, cache.stats().framesResident(), "the clone shares the base's frames");
        translator.close(a);
        assertEquals(PAGES, cache.stats().framesResident(), "the clone still maps every block");
        final long reads = cache.stats().deviceReads();
        readAll(cache.file(b));
        assertEquals(reads, cache.stats().deviceReads());
        translator.close(b);
        assertEquals(0, cache.stats().framesResident(), "no open file maps them now");
        assertNull(cache.checkBooks());
    }

    private static Path write(final Path path) throws IOException
    {
        final byte[] bytes = new byte[PAGES * PAGE];
        new Random(7).nextBytes(bytes);
        Files.write(path, bytes);
        return path;
    }

    private static void readAll(final CachedFile file) throws IOException
    {
        final ByteBuffer dst = ByteBuffer.allocate(PAGES * PAGE);
        assertEquals(PAGES * PAGE, file.read(0, dst));
    }
}
