package org.extentcache;

import org.extentcache.device.ForwardingBlockDevice;
import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.io.UncheckedIOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.*;

/** {@link ExtentCache#setCapacityFrames}: the capacity changed at run time, never below what is pinned. */
class CapacityChangeTest
{
    private static final int PAGE = 4096;
    private static final int PAGES = 64;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    private final WriteFailingDevice device = new WriteFailingDevice(new MemoryBlockDevice(PAGE, 1024));
    private final ExtentStore store = new ExtentStore(device);
    private final long file;

    CapacityChangeTest() throws IOException
    {
        file = store.create();
        for (int page = 0; page < PAGES; page++)
        {
            store.write(file, (long)page * PAGE, TestPages.stamped(page));
        }
    }

    private ExtentCache cache(final int frames)
    {
        return books.track(ExtentCache.builder().device(device).translator(store).capacityFrames(frames)
            .readahead(false).build());
    }

    private static void readAll(final CachedFile cached, final int pages) throws IOException
    {
        for (int page = 0; page < pages; page++)
        {
            final ByteBuffer dst = ByteBuffer.allocate(PAGE);
            cached.read((long)page * PAGE, dst);
            assertEquals(page, TestPages.stampOf(dst, 0, "page " + page));
        }
    }

    @Test
    void loweringTheCapacityReclaimsAtOnceAndTheCacheThenHoldsNoMoreThanIt() throws IOException
    {
        final ExtentCache cache = cache(PAGES);
        final CachedFile cached = cache.file(file);
        readAll(cached, PAGES);
        assertEquals(PAGES, cache.stats().framesResident());

        assertEquals(0, cache.setCapacityFrames(16), "every frame over the limit was clean and unpinned");
        assertEquals(16, cache.capacityFrames());
        assertEquals(16, cache.stats().framesResident());
        assertEquals(PAGES - 16, cache.stats().framesParked());
        assertEquals(PAGES, cache.stats().capacityFrames(), "the frames reserved stay reserved");
        assertNull(cache.checkBooks());

        readAll(cached, PAGES);
        assertTrue(cache.stats().framesResident() <= 16, "misses reclaimed within the lower capacity: " +
            cache.stats());
        assertEquals(0, cache.stats().framesFree());

        assertEquals(0, cache.setCapacityFrames(PAGES));
        assertEquals(0, cache.stats().framesParked());
        readAll(cached, PAGES);
        assertEquals(PAGES, cache.stats().framesResident(), "raised again, the cache holds every page");
    }

    @Test
    void theCapacityNeverGoesBelowWhatIsPinnedAndPinnedFramesStay() throws IOException
    {
        final ExtentCache cache = cache(PAGES);
        final CachedFile cached = cache.file(file);
        final List<PinnedPage> pins = new ArrayList<>();
        for (int page = 0; page < 20; page++)
        {
            pins.add(cached.pin((long)page * PAGE));
        }
        readAll(cached, PAGES);
        assertEquals(8, cache.setCapacityFrames(12), "the 20 pinned frames stay in service, 8 over the capacity");
        assertEquals(12, cache.capacityFrames());
        assertEquals(20, cache.stats().framesResident(), "every unpinned frame went, no pinned one");
        for (int page = 0; page < 20; page++)
        {
            assertEquals(page, TestPages.stampOf(pins.get(page).byteBuffer(), 0, "pinned page " + page),
                "a pinned frame keeps its bytes");
        }

        assertEquals(0, cache.setCapacityFrames(24));
        assertTrue(cache.stats().framesResident() <= 24);
        pins.forEach(PinnedPage::close);
        assertEquals(0, cache.setCapacityFrames(8), "unpinned, they are reclaimed");
        assertTrue(cache.stats().framesResident() <= 8);
        readAll(cached, PAGES);
    }

    /**
     * The pins a flush holds on its pages until their sync returns are the cache's own, not the caller's: a capacity
     * change while such a sync runs is taken (the pages are parked once written), not refused as "below what is
     * pinned".
     */
    @Test
    void theCachesOwnWriteBackPinsDoNotRefuseACapacityChange() throws Exception
    {
        final ScriptedDevice scripted = new ScriptedDevice(PAGE, 1024);
        final ExtentStore scriptedStore = new ExtentStore(scripted);
        final long id = scriptedStore.create();
        final ExtentCache cache = books.track(ExtentCache.builder().device(scripted).translator(scriptedStore)
            .capacityFrames(PAGES).readahead(false).build());
        final CachedFile cached = cache.file(id);
        for (int page = 0; page < 30; page++)
        {
            cached.write((long)page * PAGE, TestPages.stamped(2000 + page));
        }
        scripted.holdNextSync(false);
        final CompletableFuture<Void> flush = CompletableFuture.runAsync(() ->
        {
            try
            {
                cached.flush();
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException(ex);
            }
        }, TestThreads.POOL);
        try
        {
            assertTrue(scripted.syncEntered.await(30, TimeUnit.SECONDS), "the flush reached its sync");
            cache.setCapacityFrames(8);
            assertEquals(8, cache.capacityFrames());
        }
        finally
        {
            scripted.releaseSync();
            flush.get(30, TimeUnit.SECONDS);
        }
        assertEquals(0, cache.setCapacityFrames(8), "written back, the pages are clean and reclaimed");
        for (int page = 0; page < 30; page++)
        {
            final ByteBuffer dst = ByteBuffer.allocate(PAGE);
            cached.read((long)page * PAGE, dst);
            assertEquals(2000 + page, TestPages.stampOf(dst, 0, "page " + page));
        }
    }

    @Test
    void dirtyPagesWhoseWriteBackFailsStayAndAreParkedOnceWrittenBack() throws IOException
    {
        final ExtentCache cache = cache(PAGES);
        final CachedFile cached = cache.file(file);
        for (int page = 0; page < 30; page++)
        {
            cached.write((long)page * PAGE, TestPages.stamped(1000 + page));
        }
        device.failWrites = true;
        final int over = cache.setCapacityFrames(8);
        assertTrue(over >= 22, "the dirty pages could not be written back, so they stay in use: over=" + over);
        assertEquals(30, cache.stats().dirtyFrames(), "nothing lost");
        device.failWrites = false;
        cached.flush();
        assertEquals(0, cache.setCapacityFrames(8), "written back, they are clean and reclaimed");
        assertTrue(cache.stats().framesResident() <= 8);
        for (int page = 0; page < 30; page++)
        {
            final ByteBuffer dst = ByteBuffer.allocate(PAGE);
            cached.read((long)page * PAGE, dst);
            assertEquals(1000 + page, TestPages.stampOf(dst, 0, "page " + page));
        }
    }

    @Test
    void outOfRangeCapacitiesAndAClosedCacheAreRefused()
    {
        final ExtentCache cache = cache(PAGES);
        final IllegalArgumentException low = assertThrows(IllegalArgumentException.class,
            () -> cache.setCapacityFrames(ExtentCache.MIN_CAPACITY - 1));
        assertTrue(low.getMessage().contains("frames=" + (ExtentCache.MIN_CAPACITY - 1)), low.getMessage());
        assertThrows(IllegalArgumentException.class, () -> cache.setCapacityFrames(PAGES + 1),
            "above the frames reserved");
        cache.close();
        assertThrows(IllegalStateException.class, () -> cache.setCapacityFrames(16));
    }

    @Test
    void readersRacingCapacityChangesGetTheirBytesAndTheBooksBalance() throws Exception
    {
        final ExtentCache cache = cache(PAGES);
        final CachedFile cached = cache.file(file);
        final long seed = System.nanoTime();
        final AtomicBoolean stop = new AtomicBoolean();
        final List<CompletableFuture<Long>> readers = new ArrayList<>();
        for (int r = 0; r < 2; r++)
        {
            final long readerSeed = seed + r;
            readers.add(CompletableFuture.supplyAsync(() ->
            {
                final Random random = new Random(readerSeed);
                final ByteBuffer dst = ByteBuffer.allocate(PAGE);
                long reads = 0;
                while (!stop.get())
                {
                    final int page = random.nextInt(PAGES);
                    dst.clear();
                    try
                    {
                        cached.read((long)page * PAGE, dst);
                    }
                    catch (final IOException ex)
                    {
                        throw new UncheckedIOException("seed " + readerSeed, ex);
                    }
                    assertEquals(page, TestPages.stampOf(dst, 0, "page " + page), "seed " + readerSeed);
                    reads++;
                }
                return reads;
            }, TestThreads.POOL));
        }
        final Random random = new Random(seed);
        try
        {
            for (int i = 0; i < 2000; i++)
            {
                final int frames = ExtentCache.MIN_CAPACITY + random.nextInt(PAGES - ExtentCache.MIN_CAPACITY + 1);
                cache.setCapacityFrames(frames);
                assertTrue(cache.stats().framesResident() + cache.stats().framesFree() <= PAGES, "seed " + seed);
            }
        }
        finally
        {
            stop.set(true);
        }
        long reads = 0;
        for (final CompletableFuture<Long> reader : readers)
        {
            reads += reader.get();
        }
        assertTrue(reads > 0, "seed " + seed);
        assertEquals(0, cache.setCapacityFrames(ExtentCache.MIN_CAPACITY), "seed " + seed);
        assertTrue(cache.stats().framesResident() <= ExtentCache.MIN_CAPACITY, "seed " + seed);
    }

    /** A memory device whose writes fail while {@link #failWrites} is set. */
    private static final class WriteFailingDevice extends ForwardingBlockDevice
    {
        volatile boolean failWrites;

        WriteFailingDevice(final MemoryBlockDevice memory)
        {
            super(memory);
        }

        @Override
        public void write(final long block, final ByteBuffer src) throws IOException
        {
            if (failWrites)
            {
                throw new IOException("injected write failure: block=" + block);
            }
            super.write(block, src);
        }
    }
}
