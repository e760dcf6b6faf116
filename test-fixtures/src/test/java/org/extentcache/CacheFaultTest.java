package org.extentcache;

import org.extentcache.testing.FaultyBlockDevice;
import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.Extent;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Faults: with one read and one write in 50 failing, writes, reads and flushes over clones lose nothing that a
 * successful flush acknowledged, every successful read is right, and after a crash that drops every write the
 * device had not synced, every acknowledged page is on the device.
 *
 * <p>Each page version is a whole page of one stamp (whole-page writes need no device read, so writes themselves
 * never fail; reads and flushes do). After each successful flush of a file the test records, per page, the block it
 * maps and the stamp it holds: that is what was acknowledged. A block may legitimately hold a later stamp written to
 * it in place afterwards (and synced by another flush); anything else is a lost write.
 */
class CacheFaultTest
{
    private static final int PAGE = 4096;
    private static final int PAGES = 32;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    @Test
    void acknowledgedFlushesSurviveFaultsAndACrash() throws IOException
    {
        final long seed = Long.getLong("extentcache.seed", System.nanoTime());
        final int ops = Integer.getInteger("extentcache.faultOps", 20_000);
        final FaultyBlockDevice device = FaultyBlockDevice.withVolatileWriteCache(new MemoryBlockDevice(PAGE, 2048));
        final ExtentStore store = new ExtentStore(device);
        final ExtentCache cache = books.track(
            ExtentCache.builder().device(device).translator(store).capacityFrames(48).build());
        final SplittableRandom random = new SplittableRandom(seed);

        final long base = store.create();
        store.write(base, 0, ByteBuffer.allocate(PAGES * PAGE));
        device.sync();
        final List<Long> files = new ArrayList<>(List.of(base));
        for (int c = 0; c < 3; c++)
        {
            files.add(store.cloneFile(base));
        }
        final Map<Long, long[]> current = new HashMap<>();
        for (final long file : files)
        {
            current.put(file, new long[PAGES]);
        }
        /** Acknowledged: file -> per page {block, stamp}. */
        final Map<Long, long[][]> acknowledged = new HashMap<>();
        /** Stamps written into each block in place, in order. */
        final Map<Long, List<Long>> writtenToBlock = new HashMap<>();

        device.failReadsOneIn(50, seed);
        device.failWritesOneIn(50, seed + 1);
        int readFailures = 0;
        int flushFailures = 0;
        int flushes = 0;
        final Extent extent = new Extent();
        try
        {
            for (int op = 1; op <= ops; op++)
            {
                final long file = files.get(random.nextInt(files.size()));
                final CachedFile cached = cache.file(file);
                final int page = random.nextInt(PAGES);
                final int choice = random.nextInt(100);
                if (choice < 45)
                {
                    final ByteBuffer data = ByteBuffer.allocate(PAGE);
                    while (data.hasRemaining())
                    {
                        data.putLong(op);
                    }
                    cached.write((long)page * PAGE, data.flip());
                    current.get(file)[page] = op;
                    store.translate(file, page, extent);
                    writtenToBlock.computeIfAbsent(extent.blockOf(page), b -> new ArrayList<>()).add((long)op);
                }
                else if (choice < 90)
                {
                    final ByteBuffer dst = ByteBuffer.allocate(PAGE);
                    try
                    {
                        cached.read((long)page * PAGE, dst);
                    }
                    catch (final IOException ex)
                    {
                        assertTrue(ex.getMessage().contains("device block"), ex.getMessage());
                        readFailures++;
                        continue;
                    }
                    assertEquals(current.get(file)[page], dst.getLong(random.nextInt(PAGE / 8) * 8),
                        "op " + op + ": file " + file + " page " + page);
                }
                else
                {
                    try
                    {
                        cached.flush();
                    }
                    catch (final IOException ex)
                    {
                        assertTrue(ex.getMessage().contains("file " + file), ex.getMessage());
                        flushFailures++;
                        continue;
                    }
                    flushes++;
                    final long[][] ack = new long[PAGES][];
                    for (int p = 0; p < PAGES; p++)
                    {
                        store.translate(file, p, extent);
                        ack[p] = new long[]{extent.blockOf(p), current.get(file)[p], writtenCount(writtenToBlock,
                            extent.blockOf(p))};
                    }
                    acknowledged.put(file, ack);
                }
            }
        }
        catch (final AssertionError | IOException | RuntimeException ex)
        {
            throw new AssertionError("seed=" + seed + " (replay with -Dextentcache.seed=" + seed + "): " +
                ex.getMessage(), ex);
        }
        assertTrue(readFailures > 0 && flushFailures > 0 && flushes > 0,
            "faults hit reads and flushes: readFailures=" + readFailures + " flushFailures=" + flushFailures);

        device.crash();
        device.clearFaults();
        for (final Map.Entry<Long, long[][]> entry : acknowledged.entrySet())
        {
            for (int p = 0; p < PAGES; p++)
            {
                final long[] ack = entry.getValue()[p];
                final ByteBuffer onDevice = ByteBuffer.allocate(PAGE);
                device.read(ack[0], onDevice);
                final long stamp = onDevice.getLong(0);
                final List<Long> later = writtenToBlock.getOrDefault(ack[0], List.of());
                final boolean laterInPlace = later.subList((int)Math.min(ack[2], later.size()), later.size())
                    .contains(stamp);
                assertTrue(stamp == ack[1] || laterInPlace, "seed=" + seed + ": file " + entry.getKey() + " page " +
                    p + " acknowledged stamp " + ack[1] + " in block " + ack[0] + ", but the device holds " + stamp);
            }
        }
        // The cache's frames hold bytes the crashed device lost: drop the cache without checking it against them.
        CacheBooks.check(cache);
    }

    private static long writtenCount(final Map<Long, List<Long>> writtenToBlock, final long block)
    {
        final List<Long> stamps = writtenToBlock.get(block);
        return null == stamps ? 0 : stamps.size();
    }

    /** The cache-wide flush keeps what it wrote dirty when the device sync fails (fsync-EIO: the device drops it). */
    @Test
    void aCacheWideFlushWhoseSyncFailsKeepsItsPagesDirty() throws IOException
    {
        final FaultyBlockDevice device = FaultyBlockDevice.withVolatileWriteCache(new MemoryBlockDevice(PAGE, 64));
        final ExtentStore store = new ExtentStore(device);
        final ExtentCache cache = books.track(
            ExtentCache.builder().device(device).translator(store).capacityFrames(16).build());
        final long id = store.create();
        store.write(id, 0, TestPages.filled(PAGE, 1));
        device.sync();
        final CachedFile file = cache.file(id);
        file.write(0, TestPages.filled(PAGE, 2));
        device.failNextSync();
        assertThrows(IOException.class, cache::flush);
        assertEquals(1, file.dirtyPageCount(), "still dirty after the failed sync");
        device.crash();
        cache.flush();
        final ByteBuffer onDevice = ByteBuffer.allocate(PAGE);
        store.read(id, 0, onDevice);
        assertEquals(2, onDevice.get(0), "the second flush wrote the page again and it survived the crash");
    }

    @Test
    void aFailedFlushLeavesPagesDirtyAndALaterFlushSucceeds() throws IOException
    {
        final FaultyBlockDevice device = FaultyBlockDevice.withVolatileWriteCache(new MemoryBlockDevice(PAGE, 64));
        final ExtentStore store = new ExtentStore(device);
        final ExtentCache cache = books.track(
            ExtentCache.builder().device(device).translator(store).capacityFrames(16).build());
        final long id = store.create();
        final CachedFile file = cache.file(id);
        file.write(0, ByteBuffer.wrap(new byte[3 * PAGE]).put(PAGE, (byte)7));
        final Extent extent = new Extent();
        store.translate(id, 1, extent);
        device.failBlock(extent.blockOf(1));
        final IOException ex = assertThrows(IOException.class, file::flush);
        assertTrue(ex.getMessage().contains("file " + id + " page 1 (device block " + extent.blockOf(1) + ")"),
            ex.getMessage());
        assertEquals(1, file.dirtyPageCount(), "only the failed page stays dirty");
        assertEquals(1, cache.stats().writebackFailures());

        device.failNextSync();
        assertThrows(IOException.class, file::flush, "a failed sync fails the flush");
        device.clearFaults();
        file.flush();
        assertEquals(0, file.dirtyPageCount());
        device.crash();
        final ByteBuffer onDevice = ByteBuffer.allocate(PAGE);
        device.read(extent.blockOf(1), onDevice);
        assertEquals(7, onDevice.get(0), "the retried flush reached the device and survives a crash");
    }

    /** Moved from {@code ExtentCacheTest}, which no longer sees {@link FaultyBlockDevice}. */
    @Test
    void aFailedDeviceReadReachesTheCallerAndTheNextReadRetries() throws IOException
    {
        final FaultyBlockDevice failing = FaultyBlockDevice.writeThrough(new MemoryBlockDevice(PAGE, 4096));
        final ExtentStore store = new ExtentStore(failing);
        final ExtentCache cache = books.track(
            ExtentCache.builder().device(failing).translator(store).capacityFrames(8).build());
        final long id = store.create();
        store.write(id, 0, TestPages.filled(PAGE, 5));
        final CachedFile file = cache.file(id);
        failing.failNthRead(1);
        final ByteBuffer dst = ByteBuffer.allocate(PAGE);
        final IOException ex = assertThrows(IOException.class, () -> file.read(0, dst));
        assertTrue(ex.getMessage().contains("block"), ex.getMessage());
        assertEquals(0, cache.stats().framesResident(), "no half-filled frame stays");
        assertEquals(PAGE, file.read(0, dst.clear()));
        TestPages.assertBytes(5, dst.array(), "retry succeeds");
        assertEquals(1, cache.stats().loadFailures());
    }
}
