package org.extentcache.shm;

import org.extentcache.TestThreads;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The index rebuild that a removal triggers (tombstones past a quarter of the slots) runs while the frame being
 * removed is still RECLAIMING, and must not put that frame back. Put back, a frame invalidated while pinned is DROPPED
 * yet still found under its key: a load of that key backs off on it, never claims a frame, so never sweeps, and spins
 * for ever, even after the pin is gone (and a close waits for it for ever), until another key's load happens to sweep
 * the frame. One client in one JVM loads a key, pins it, invalidates it, and loads it again, for key after key.
 * Before the fix: at key 1008 the sweep's reclaim of frame 7 (key 1003) rebuilt the index and put frame 7 back under
 * 1003, so once it was loaded again frame 7 was named by two slots; at key 1014 (in frame 7 again) the invalidation
 * removed one of them and the other still found the DROPPED frame, and the reload of 1014 spun.
 */
class SharedIndexRebuildTest
{
    private static final int FRAMES = 8;

    private Path dir;
    private SharedCache cache;

    @BeforeEach
    void setUp() throws IOException
    {
        dir = ShmDir.create();
        cache = SharedCache.builder(dir.resolve("cache")).frames(FRAMES).leaseMillis(2000).join();
    }

    @AfterEach
    void tearDown() throws IOException
    {
        cache.close();
        ShmDir.delete(dir);
    }

    private CompletableFuture<Long> loadAsync(final long key)
    {
        return CompletableFuture.supplyAsync(() ->
        {
            try
            {
                return cache.load(key, PageStamps::fill);
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException(ex);
            }
        }, TestThreads.POOL);
    }

    @Test
    void aFrameInvalidatedWhilePinnedIsNeverFoundAgainEvenWhenItsRemovalRebuildsTheIndex() throws Exception
    {
        final SharedFileInspector inspector = new SharedFileInspector(cache.path());
        String twice = null;
        for (long key = 1000; key < 1100; key++)
        {
            final long handle = cache.load(key, PageStamps::fill);
            final SharedPage page = cache.pin(handle);
            assertNotNull(page);
            final String found;
            final CompletableFuture<Long> reload;
            try
            {
                assertTrue(cache.invalidate(handle));
                found = inspector.find(key);
                reload = loadAsync(key);
            }
            finally
            {
                page.close();
            }
            try
            {
                assertNotEquals(handle, reload.get(10, TimeUnit.SECONDS));
            }
            catch (final TimeoutException ex)
            {
                for (long other = 1_000_000; other < 1_000_000 + 2 * FRAMES; other++)
                {
                    cache.load(other, PageStamps::fill); // a sweep frees the dropped frame, and the load ends
                }
                reload.get(30, TimeUnit.SECONDS);
                fail("key " + key + ": a load spun for 10 s, unpinned, on frame " + SharedCache.frameOf(handle) +
                    ", DROPPED and still found by the index (" + found + "), until other keys' loads swept it");
            }
            for (int frame = 0; frame < FRAMES && null == twice; frame++)
            {
                if (inspector.slotsNaming(frame).contains(","))
                {
                    twice = "after key " + key + ", frame " + frame + " is named by " + inspector.slotsNaming(frame);
                }
            }
            assertEquals("absent", found, "key " + key + ": the index still finds the invalidated frame " +
                SharedCache.frameOf(handle));
        }
        assertNull(twice, "no frame is ever named by two index slots");
    }
}
