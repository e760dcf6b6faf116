package org.extentcache.testing;

import org.extentcache.device.BlockDevice;
import org.extentcache.device.FileBlockDevice;
import org.extentcache.device.MemoryBlockDevice;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The faults of {@link FaultyBlockDevice}: each fires exactly when armed and names its block; seeded streams replay;
 * the volatile write cache loses exactly the unsynced writes in a crash; and under concurrent transfers with faults
 * every write followed by a successful sync survives a crash.
 *
 * <p>Every block written here is stamped: its first 8 bytes hold a non-zero stamp and the rest derive from it, so a
 * read names the write whose bytes came back (stamp 0 means never written: zeros), and a torn block is caught. The
 * concurrency test is seeded; replay it with {@code -Dextentcache.seed=N}. After each test the books are checked: no
 * more injected failures than transfers.
 */
class FaultyBlockDeviceTest
{
    private static final int BLOCK_SIZE = 512;
    private static final long BLOCK_COUNT = 64;
    private static final Pattern SHORT_TRANSFER =
        Pattern.compile("injected short (read|write): block=(\\d+) transferred=(\\d+) of (\\d+) blocks");

    @TempDir
    Path directory;

    private final List<FaultyBlockDevice> devices = new ArrayList<>();

    /**
     * How the wrapper handles writes; tests of behaviour common to both run once per mode.
     */
    enum Mode
    {
        WRITE_THROUGH,
        VOLATILE_WRITE_CACHE;

        FaultyBlockDevice wrap(final BlockDevice delegate)
        {
            return this == WRITE_THROUGH ?
                FaultyBlockDevice.writeThrough(delegate) : FaultyBlockDevice.withVolatileWriteCache(delegate);
        }
    }

    @AfterEach
    void checkBooksAndClose() throws IOException
    {
        for (final FaultyBlockDevice device : devices)
        {
            assertTrue(device.injectedReadFailures() <= device.reads(), device.toString());
            assertTrue(device.injectedWriteFailures() <= device.writes(), device.toString());
            assertTrue(device.unsyncedBlocks() <= device.blockCount(), device.toString());
            device.close();
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Failed transfers
    // ---------------------------------------------------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(Mode.class)
    void failNthReadFailsThatReadOnceAndNamesTheBlock(final Mode mode) throws IOException
    {
        final FaultyBlockDevice device = open(mode);
        write(device, 17, 5);
        device.failNthRead(3);
        assertEquals(5, readStamp(device, 17));
        assertEquals(5, readStamp(device, 17));

        final ByteBuffer dst = ByteBuffer.allocate(BLOCK_SIZE + 8).position(8);
        final IOException third = assertThrows(IOException.class, () -> device.read(17, dst));
        assertEquals("injected read failure: block=17 blocks=1 fault=failNth", third.getMessage());
        assertEquals(8, dst.position(), "a failed read leaves the destination's position unchanged");

        for (int i = 0; i < 10; i++)
        {
            assertEquals(5, readStamp(device, 17), "the fault fires once");
        }
        assertEquals(13, device.reads());
        assertEquals(1, device.injectedReadFailures());
        assertEquals(0, device.injectedWriteFailures());
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void failNthWriteFailsThatWriteOnceAndChangesNothing(final Mode mode) throws IOException
    {
        final FaultyBlockDevice device = open(mode);
        write(device, 17, 1);
        device.failNthWrite(2);
        write(device, 3, 2);

        final ByteBuffer src = stamped(3, 4);
        final IOException second = assertThrows(IOException.class, () -> device.write(17, src));
        assertEquals("injected write failure: block=17 blocks=2 fault=failNth", second.getMessage());
        assertEquals(0, src.position(), "a failed write leaves the source's position unchanged");
        assertArrayEquals(new long[] {1, 0}, readStamps(device, 17, 2), "a failed write changes nothing");

        write(device, 17, 5, 6);
        assertArrayEquals(new long[] {5, 6}, readStamps(device, 17, 2), "the fault fires once");
        assertEquals(1, device.injectedWriteFailures());
        assertEquals(0, device.injectedReadFailures());
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void failBlockFailsEveryTransferTouchingItUntilHealed(final Mode mode) throws IOException
    {
        final FaultyBlockDevice device = open(mode);
        write(device, 3, 1, 2, 3, 4);
        device.failBlock(5);
        for (int i = 0; i < 3; i++)
        {
            final IOException read = assertThrows(IOException.class,
                () -> device.read(4, ByteBuffer.allocate(2 * BLOCK_SIZE)));
            assertEquals("injected read failure: block=4 blocks=2 fault=failBlock(5)", read.getMessage());
            final IOException written = assertThrows(IOException.class, () -> device.write(5, stamped(9, 9, 9)));
            assertEquals("injected write failure: block=5 blocks=3 fault=failBlock(5)", written.getMessage());
        }
        assertArrayEquals(new long[] {1, 2}, readStamps(device, 3, 2), "transfers beside the block proceed");
        assertArrayEquals(new long[] {4}, readStamps(device, 6, 1));
        write(device, 6, 7);

        device.healBlock(5);
        assertArrayEquals(new long[] {2, 3, 7}, readStamps(device, 4, 3), "a failed write changed nothing");

        device.failBlock(9);
        device.failBlock(5);
        final IOException lowest = assertThrows(IOException.class,
            () -> device.read(0, ByteBuffer.allocate(16 * BLOCK_SIZE)));
        assertEquals("injected read failure: block=0 blocks=16 fault=failBlock(5)", lowest.getMessage());
        device.clearFaults();
        readStamps(device, 0, 16);
        assertEquals(4, device.injectedReadFailures());
        assertEquals(3, device.injectedWriteFailures());
    }

    @Test
    void armingRejectsBadArgumentsNamingThem()
    {
        final FaultyBlockDevice device = open(Mode.VOLATILE_WRITE_CACHE);
        assertMessage("n must be >= 1: n=0", () -> device.failNthRead(0));
        assertMessage("n must be >= 1: n=-3", () -> device.failNthWrite(-3));
        assertMessage("n must be >= 0: n=-1", () -> device.failReadsOneIn(-1, 0));
        assertMessage("n must be >= 0: n=-2", () -> device.failWritesOneIn(-2, 0));
        assertMessage("n must be >= 0: n=-5", () -> device.shortTransfersOneIn(-5, 0));
        assertMessage("block outside the device: block=64 blockCount=64", () -> device.failBlock(BLOCK_COUNT));
        assertMessage("block outside the device: block=-1 blockCount=64", () -> device.healBlock(-1));
        assertThrows(NullPointerException.class, () -> FaultyBlockDevice.writeThrough(null));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Seeded one-in-n
    // ---------------------------------------------------------------------------------------------------------------

    @Test
    void oneInNReplaysForTheSameSeedAtRoughlyTheRightRate()
    {
        final int transfers = 10_000;
        final BitSet first = oneInNPattern(42, transfers, 0);
        final BitSet replay = oneInNPattern(42, transfers, 0);
        assertEquals(first, replay, "same seed, same failures");
        assertNotEquals(first, oneInNPattern(43, transfers, 0), "another seed, other failures");

        int readFailures = 0;
        int writeFailures = 0;
        for (int bit = first.nextSetBit(0); bit >= 0; bit = first.nextSetBit(bit + 1))
        {
            if ((bit & 1) == 0)
            {
                writeFailures++;
            }
            else
            {
                readFailures++;
            }
        }
        assertTrue(readFailures > 800 && readFailures < 1200, "about 1 in 10 reads fail: " + readFailures);
        assertTrue(writeFailures > 800 && writeFailures < 1200, "about 1 in 10 writes fail: " + writeFailures);

        final BitSet withNth = oneInNPattern(42, transfers, 5);
        final BitSet expected = (BitSet)first.clone();
        expected.set(2 * (5 - 1) + 1);
        assertEquals(expected, withNth, "another armed fault does not shift the seeded pattern");
    }

    @Test
    void oneInOneFailsEveryTransferAndZeroDisarms() throws IOException
    {
        final FaultyBlockDevice device = open(Mode.VOLATILE_WRITE_CACHE);
        device.failReadsOneIn(1, 7);
        device.failWritesOneIn(1, 7);
        for (long block = 0; block < BLOCK_COUNT; block++)
        {
            final long b = block;
            final IOException read = assertThrows(IOException.class, () -> device.read(b, ByteBuffer.allocate(BLOCK_SIZE)));
            assertEquals("injected read failure: block=" + b + " blocks=1 fault=oneIn(1)", read.getMessage());
            final IOException written = assertThrows(IOException.class, () -> device.write(b, stamped(1)));
            assertEquals("injected write failure: block=" + b + " blocks=1 fault=oneIn(1)", written.getMessage());
        }
        device.failReadsOneIn(0, 7);
        device.failWritesOneIn(0, 7);
        for (long block = 0; block < BLOCK_COUNT; block++)
        {
            write(device, block, block + 1);
            assertEquals(block + 1, readStamp(device, block));
        }
        assertEquals(BLOCK_COUNT, device.injectedReadFailures());
        assertEquals(BLOCK_COUNT, device.injectedWriteFailures());
    }

    @Test
    void clearFaultsDisarmsEverything() throws IOException
    {
        final FaultyBlockDevice device = open(Mode.VOLATILE_WRITE_CACHE);
        device.failNthRead(1);
        device.failNthWrite(1);
        device.failReadsOneIn(1, 1);
        device.failWritesOneIn(1, 1);
        device.shortTransfersOneIn(1, 1);
        device.failBlock(0);
        device.failNextSync();
        device.clearFaults();

        write(device, 0, 1, 2);
        assertArrayEquals(new long[] {1, 2}, readStamps(device, 0, 2));
        device.sync();
        assertEquals(0, device.injectedReadFailures() + device.injectedWriteFailures() + device.injectedSyncFailures());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Short transfers
    // ---------------------------------------------------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(Mode.class)
    void shortWriteAppliesOnlyAPrefix(final Mode mode) throws IOException
    {
        final FaultyBlockDevice device = open(mode);
        final long[] model = {101, 102, 103, 104, 105, 106, 107, 108};
        write(device, 8, model);
        final Set<Long> prefixes = new HashSet<>();
        for (int seed = 0; seed < 20; seed++)
        {
            final long[] stamps = new long[model.length];
            for (int i = 0; i < stamps.length; i++)
            {
                stamps[i] = 1000L * (seed + 1) + i;
            }
            final ByteBuffer src = stamped(stamps);
            device.shortTransfersOneIn(1, seed);
            final long writtenBefore = device.blocksWritten();
            final IOException ex = assertThrows(IOException.class, () -> device.write(8, src));
            device.clearFaults();

            final long transferred = shortTransferred(ex, "write", 8, 8);
            assertEquals(0, src.position(), "a short write leaves the source's position unchanged");
            assertEquals(writtenBefore + transferred, device.blocksWritten(), "the prefix counts as written");
            System.arraycopy(stamps, 0, model, 0, (int)transferred);
            assertArrayEquals(model, readStamps(device, 8, 8), "seed " + seed + ": exactly the prefix applied");
            prefixes.add(transferred);
        }
        assertTrue(prefixes.size() > 3, "prefixes vary with the seed: " + prefixes);
    }

    @Test
    void shortReadRestoresTheDestinationsPosition() throws IOException
    {
        final FaultyBlockDevice device = open(Mode.VOLATILE_WRITE_CACHE);
        write(device, 0, 1, 2, 3, 4);
        device.shortTransfersOneIn(1, 11);
        final ByteBuffer dst = ByteBuffer.allocate(4 * BLOCK_SIZE + 16).position(16);
        final IOException multi = assertThrows(IOException.class, () -> device.read(0, dst));
        shortTransferred(multi, "read", 0, 4);
        assertEquals(16, dst.position(), "a short read leaves the destination's position unchanged");

        final IOException single = assertThrows(IOException.class, () -> device.read(3, ByteBuffer.allocate(BLOCK_SIZE)));
        assertEquals("injected short read: block=3 transferred=0 of 1 blocks", single.getMessage());
        assertEquals(0, device.blocksRead(), "a short read delivers nothing");
        assertEquals(2, device.injectedReadFailures());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Volatile write cache and crash
    // ---------------------------------------------------------------------------------------------------------------

    @Test
    void cachedWritesAreReadBeforeSyncButDoNotReachTheDelegate() throws IOException
    {
        final MemoryBlockDevice memory = new MemoryBlockDevice(BLOCK_SIZE, BLOCK_COUNT);
        final FaultyBlockDevice device = track(FaultyBlockDevice.withVolatileWriteCache(memory));
        write(device, 3, 7, 8);
        write(device, 6, 9);
        assertArrayEquals(new long[] {0, 7, 8, 0, 9, 0}, readStamps(device, 2, 6), "cache over the delegate");
        assertEquals(0, memory.blocksWritten(), "nothing reaches the delegate before sync");
        assertEquals(3, device.unsyncedBlocks());
        assertEquals(3, device.blocksWritten());
    }

    @Test
    void crashLosesExactlyTheUnsyncedWrites() throws IOException
    {
        final MemoryBlockDevice memory = new MemoryBlockDevice(BLOCK_SIZE, BLOCK_COUNT);
        final FaultyBlockDevice device = track(FaultyBlockDevice.withVolatileWriteCache(memory));
        write(device, 1, 1, 2);
        device.sync();
        assertEquals(2, memory.blocksWritten(), "sync applies the cache");
        write(device, 2, 3);
        write(device, 5, 4);
        assertEquals(2, device.unsyncedBlocks());

        assertEquals(2, device.crash());
        assertEquals(0, device.unsyncedBlocks());
        assertArrayEquals(new long[] {0, 1, 2, 0, 0, 0}, readStamps(device, 0, 6), "synced kept, unsynced lost");
        assertArrayEquals(new long[] {0, 1, 2, 0, 0, 0}, readStamps(memory, 0, 6));
        assertEquals(0, device.crash(), "nothing left to lose");

        write(device, 5, 6);
        assertArrayEquals(new long[] {6}, readStamps(device, 5, 1), "usable after a crash");
    }

    @Test
    void syncedWritesSurviveACrash() throws IOException
    {
        final MemoryBlockDevice memory = new MemoryBlockDevice(BLOCK_SIZE, BLOCK_COUNT);
        final FaultyBlockDevice device = track(FaultyBlockDevice.withVolatileWriteCache(memory));
        write(device, 10, 1, 2, 3);
        write(device, 20, 4);
        write(device, 11, 5);
        device.sync();
        assertEquals(0, device.unsyncedBlocks());
        assertEquals(1, device.syncs());
        assertEquals(0, device.crash());
        assertArrayEquals(new long[] {1, 5, 3}, readStamps(device, 10, 3));
        assertArrayEquals(new long[] {4}, readStamps(memory, 20, 1));
    }

    @Test
    void failedSyncLeavesTheWritesUnsynced() throws IOException
    {
        final MemoryBlockDevice memory = new MemoryBlockDevice(BLOCK_SIZE, BLOCK_COUNT);
        final FaultyBlockDevice device = track(FaultyBlockDevice.withVolatileWriteCache(memory));
        write(device, 4, 1, 2, 3);
        device.failNextSync();
        final IOException ex = assertThrows(IOException.class, device::sync);
        assertEquals("injected sync failure: unsyncedBlocks=3", ex.getMessage());
        assertEquals(3, device.unsyncedBlocks());
        assertEquals(0, memory.blocksWritten(), "a failed sync applies nothing");
        assertEquals(1, device.injectedSyncFailures());
        assertEquals(0, device.syncs());
        assertEquals(3, device.crash());
        assertArrayEquals(new long[] {0, 0, 0}, readStamps(device, 4, 3));

        write(device, 4, 4);
        device.sync();
        device.crash();
        assertArrayEquals(new long[] {4}, readStamps(device, 4, 1), "the sync fault fires once");
    }

    @Test
    void shortWriteIntoTheCacheIsLostInACrash() throws IOException
    {
        final FaultyBlockDevice device = open(Mode.VOLATILE_WRITE_CACHE);
        long transferred = 0;
        for (int seed = 0; transferred == 0; seed++)
        {
            device.shortTransfersOneIn(1, seed);
            final IOException ex = assertThrows(IOException.class, () -> device.write(0, stamped(1, 2, 3, 4)));
            transferred = shortTransferred(ex, "write", 0, 4);
        }
        device.clearFaults();
        assertEquals(transferred, device.unsyncedBlocks(), "the prefix is cached");
        assertEquals(transferred, device.crash());
        assertArrayEquals(new long[] {0, 0, 0, 0}, readStamps(device, 0, 4));
    }

    @Test
    void writeThroughReachesTheDelegateAtOnceAndCrashLosesNothing() throws IOException
    {
        final MemoryBlockDevice memory = new MemoryBlockDevice(BLOCK_SIZE, BLOCK_COUNT);
        final FaultyBlockDevice device = track(FaultyBlockDevice.writeThrough(memory));
        assertFalse(device.hasVolatileWriteCache());
        write(device, 2, 1, 2);
        assertEquals(2, memory.blocksWritten());
        assertEquals(0, device.unsyncedBlocks());
        assertEquals(0, device.crash());
        assertArrayEquals(new long[] {1, 2}, readStamps(device, 2, 2));

        device.failNextSync();
        final IOException ex = assertThrows(IOException.class, device::sync);
        assertEquals("injected sync failure: unsyncedBlocks=0", ex.getMessage());
        device.sync();
        assertEquals(1, device.syncs());
    }

    @Test
    void closeWritesTheCacheBackUnlessCrashedFirst() throws IOException
    {
        final Path path = directory.resolve("device");
        final FaultyBlockDevice clean = FaultyBlockDevice.withVolatileWriteCache(FileBlockDevice.open(path, BLOCK_SIZE, 16));
        write(clean, 2, 9);
        clean.close();
        clean.close();
        final IOException closed = assertThrows(IOException.class, () -> clean.read(2, ByteBuffer.allocate(BLOCK_SIZE)));
        assertEquals("device is closed", closed.getMessage());

        final FaultyBlockDevice crashed =
            FaultyBlockDevice.withVolatileWriteCache(FileBlockDevice.open(path, BLOCK_SIZE, 16));
        assertArrayEquals(new long[] {9}, readStamps(crashed, 2, 1), "a clean close keeps cached writes");
        write(crashed, 3, 10);
        assertEquals(1, crashed.crash());
        crashed.close();

        try (FileBlockDevice file = FileBlockDevice.open(path, BLOCK_SIZE, 16))
        {
            assertArrayEquals(new long[] {9, 0}, readStamps(file, 2, 2), "a crash before close loses them");
        }
    }

    @Test
    void countsTransfersBlocksAndInjectedFailures() throws IOException
    {
        final FaultyBlockDevice device = open(Mode.VOLATILE_WRITE_CACHE);
        write(device, 0, 1, 2);
        readStamps(device, 0, 2);
        device.failNthRead(1);
        assertThrows(IOException.class, () -> device.read(0, ByteBuffer.allocate(BLOCK_SIZE)));
        device.failNthWrite(1);
        assertThrows(IOException.class, () -> device.write(0, stamped(3, 4, 5)));
        device.failNextSync();
        assertThrows(IOException.class, device::sync);
        device.sync();
        assertThrows(IllegalArgumentException.class, () -> device.read(BLOCK_COUNT, ByteBuffer.allocate(BLOCK_SIZE)));
        assertThrows(IllegalArgumentException.class, () -> device.write(0, ByteBuffer.allocate(1)));

        assertEquals(2, device.reads());
        assertEquals(2, device.writes());
        assertEquals(1, device.syncs());
        assertEquals(2, device.blocksRead());
        assertEquals(2, device.blocksWritten());
        assertEquals(1, device.injectedReadFailures());
        assertEquals(1, device.injectedWriteFailures());
        assertEquals(1, device.injectedSyncFailures());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Concurrency
    // ---------------------------------------------------------------------------------------------------------------

    /**
     * Four threads each own 16 consecutive blocks and write, read and sync them under one-in-n read, write and short
     * faults and occasional sync failures. Each thread keeps, per block, the stamp last applied, the stamp its own
     * last successful sync made durable, and every stamp applied since (another thread's sync may have made any of
     * them durable). Reads must return the last applied stamp. After a crash, a block whose last applied write was
     * followed by a successful sync holds exactly that stamp; any other holds the durable stamp or a later one.
     */
    @Test
    void syncedWritesSurviveACrashUnderConcurrentFaults() throws Exception
    {
        final long seed = Long.getLong("extentcache.seed", System.nanoTime());
        final int threads = 4;
        final int blocksPerThread = (int)(BLOCK_COUNT / threads);
        final int ops = 3_000;
        final FaultyBlockDevice device = open(Mode.VOLATILE_WRITE_CACHE);
        device.failReadsOneIn(7, seed);
        device.failWritesOneIn(5, seed + 1);
        device.shortTransfersOneIn(9, seed + 2);

        final long[][] last = new long[threads][blocksPerThread];
        final long[][] durable = new long[threads][blocksPerThread];
        final List<List<Set<Long>>> since = new ArrayList<>();
        final CountDownLatch start = new CountDownLatch(1);
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final Thread[] workers = new Thread[threads];
        for (int t = 0; t < threads; t++)
        {
            final int thread = t;
            final List<Set<Long>> mine = new ArrayList<>();
            for (int i = 0; i < blocksPerThread; i++)
            {
                mine.add(new HashSet<>());
            }
            since.add(mine);
            workers[t] = new Thread(() ->
            {
                try
                {
                    start.await();
                    runWorker(device, seed, thread, blocksPerThread, ops, last[thread], durable[thread], mine);
                }
                catch (final Throwable ex)
                {
                    failure.compareAndSet(null, ex);
                }
            }, "worker-" + t);
            workers[t].start();
        }
        start.countDown();
        for (final Thread worker : workers)
        {
            worker.join();
        }
        if (null != failure.get())
        {
            throw new AssertionError("a worker failed, seed=" + seed, failure.get());
        }

        device.clearFaults();
        assertTrue(device.injectedReadFailures() > 0 && device.injectedWriteFailures() > 0, "faults fired");
        assertTrue(device.syncs() > 0, "some syncs succeeded");
        device.crash();
        int exact = 0;
        for (int t = 0; t < threads; t++)
        {
            final long[] found = readStamps(device, (long)t * blocksPerThread, blocksPerThread);
            for (int i = 0; i < blocksPerThread; i++)
            {
                final long block = (long)t * blocksPerThread + i;
                final Set<Long> possible = since.get(t).get(i);
                if (possible.isEmpty())
                {
                    exact++;
                    assertEquals(durable[t][i], found[i], "block " + block + ": synced stamp " +
                        describe(durable[t][i]) + " lost, found " + describe(found[i]) + ", seed=" + seed);
                }
                else
                {
                    assertTrue(found[i] == durable[t][i] || possible.contains(found[i]), "block " + block +
                        ": found " + describe(found[i]) + ", neither the synced " + describe(durable[t][i]) +
                        " nor a later write, seed=" + seed);
                }
            }
        }
        assertTrue(exact > 0, "some blocks were synced after their last write, seed=" + seed);
    }

    private static void runWorker(
        final FaultyBlockDevice device,
        final long seed,
        final int thread,
        final int blocksPerThread,
        final int ops,
        final long[] last,
        final long[] durable,
        final List<Set<Long>> since) throws IOException
    {
        final SplittableRandom random = new SplittableRandom(seed + 100 + thread);
        final long base = (long)thread * blocksPerThread;
        for (int op = 1; op <= ops; op++)
        {
            final int choice = random.nextInt(10);
            final int first = random.nextInt(blocksPerThread);
            final int count = 1 + random.nextInt(Math.min(3, blocksPerThread - first));
            if (choice < 5)
            {
                final long[] stamps = new long[count];
                for (int i = 0; i < count; i++)
                {
                    stamps[i] = stampOf(thread, op, i);
                }
                long applied = count;
                try
                {
                    device.write(base + first, stamped(stamps));
                }
                catch (final IOException ex)
                {
                    applied = ex.getMessage().startsWith("injected short write") ?
                        shortTransferred(ex, "write", base + first, count) : 0;
                    if (0 == applied && !ex.getMessage().startsWith("injected"))
                    {
                        throw ex;
                    }
                }
                for (int i = 0; i < applied; i++)
                {
                    last[first + i] = stamps[i];
                    since.get(first + i).add(stamps[i]);
                }
            }
            else if (choice < 9)
            {
                final ByteBuffer dst = ByteBuffer.allocate(count * BLOCK_SIZE);
                try
                {
                    device.read(base + first, dst);
                }
                catch (final IOException ex)
                {
                    if (!ex.getMessage().startsWith("injected"))
                    {
                        throw ex;
                    }
                    continue;
                }
                for (int i = 0; i < count; i++)
                {
                    final long found = stampAt(dst, i);
                    if (found != last[first + i])
                    {
                        throw new AssertionError("thread " + thread + " op " + op + " block " + (base + first + i) +
                            ": read " + describe(found) + " but last wrote " + describe(last[first + i]));
                    }
                }
            }
            else
            {
                if (0 == random.nextInt(4))
                {
                    device.failNextSync();
                }
                try
                {
                    device.sync();
                }
                catch (final IOException ex)
                {
                    if (!ex.getMessage().startsWith("injected sync failure"))
                    {
                        throw ex;
                    }
                    continue;
                }
                System.arraycopy(last, 0, durable, 0, blocksPerThread);
                for (final Set<Long> stamps : since)
                {
                    stamps.clear();
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------------------------

    private FaultyBlockDevice open(final Mode mode)
    {
        return track(mode.wrap(new MemoryBlockDevice(BLOCK_SIZE, BLOCK_COUNT)));
    }

    private FaultyBlockDevice track(final FaultyBlockDevice device)
    {
        devices.add(device);
        return device;
    }

    /**
     * Runs {@code transfers} rounds of one write then one read, cycling over the device, under one-in-10 read and
     * write failures seeded from {@code seed} (differently for reads and writes, so the two streams differ).
     *
     * @param nthRead if positive, also arms {@link FaultyBlockDevice#failNthRead} with it.
     * @return bit 2r set if round r's write failed, bit 2r + 1 if its read failed.
     */
    private BitSet oneInNPattern(final long seed, final int transfers, final long nthRead)
    {
        final FaultyBlockDevice device = open(Mode.VOLATILE_WRITE_CACHE);
        device.failWritesOneIn(10, seed);
        device.failReadsOneIn(10, seed ^ 0x5DEECE66DL);
        if (nthRead > 0)
        {
            device.failNthRead(nthRead);
        }
        final BitSet failed = new BitSet();
        final ByteBuffer src = stamped(1);
        final ByteBuffer dst = ByteBuffer.allocate(BLOCK_SIZE);
        for (int round = 0; round < transfers; round++)
        {
            final long block = round % BLOCK_COUNT;
            try
            {
                device.write(block, src.clear());
            }
            catch (final IOException ex)
            {
                assertTrue(ex.getMessage().startsWith("injected write failure: block=" + block + " blocks=1 fault="),
                    ex.getMessage());
                failed.set(2 * round);
            }
            try
            {
                device.read(block, dst.clear());
            }
            catch (final IOException ex)
            {
                assertTrue(ex.getMessage().startsWith("injected read failure: block=" + block + " blocks=1 fault="),
                    ex.getMessage());
                failed.set(2 * round + 1);
            }
        }
        return failed;
    }

    /**
     * Checks a short transfer's message and returns the blocks it transferred.
     */
    private static long shortTransferred(
        final IOException ex, final String operation, final long block, final long blocks)
    {
        final Matcher matcher = SHORT_TRANSFER.matcher(ex.getMessage());
        assertTrue(matcher.matches(), ex.getMessage());
        assertEquals(operation, matcher.group(1), ex.getMessage());
        assertEquals(block, Long.parseLong(matcher.group(2)), ex.getMessage());
        assertEquals(blocks, Long.parseLong(matcher.group(4)), ex.getMessage());
        final long transferred = Long.parseLong(matcher.group(3));
        assertTrue(transferred >= 0 && transferred < blocks, ex.getMessage());
        return transferred;
    }

    private static void assertMessage(final String expected, final Runnable arming)
    {
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, arming::run);
        assertEquals(expected, ex.getMessage());
    }

    private static long stampOf(final int thread, final int op, final int index)
    {
        return ((long)(thread + 1) << 32) | ((long)op << 2) | index;
    }

    private static String describe(final long stamp)
    {
        if (0 == stamp)
        {
            return "0 (never written)";
        }
        return stamp + " (thread " + ((stamp >>> 32) - 1) + " op " + ((stamp & 0xFFFF_FFFFL) >>> 2) +
            " block " + (stamp & 3) + " of its write)";
    }

    /**
     * @return one stamped block per stamp, ready to write.
     */
    private static ByteBuffer stamped(final long... stamps)
    {
        final ByteBuffer buffer = ByteBuffer.allocate(stamps.length * BLOCK_SIZE);
        for (final long stamp : stamps)
        {
            buffer.putLong(stamp);
            for (int i = Long.BYTES; i < BLOCK_SIZE; i++)
            {
                buffer.put((byte)(stamp * 31 + i));
            }
        }
        return buffer.flip();
    }

    private static void write(final BlockDevice device, final long block, final long... stamps) throws IOException
    {
        final ByteBuffer src = stamped(stamps);
        device.write(block, src);
        assertEquals(src.limit(), src.position());
    }

    private static long readStamp(final BlockDevice device, final long block) throws IOException
    {
        return readStamps(device, block, 1)[0];
    }

    private static long[] readStamps(final BlockDevice device, final long block, final int blocks) throws IOException
    {
        final ByteBuffer dst = ByteBuffer.allocate(blocks * BLOCK_SIZE);
        device.read(block, dst);
        assertEquals(dst.limit(), dst.position());
        final long[] stamps = new long[blocks];
        for (int i = 0; i < blocks; i++)
        {
            stamps[i] = stampAt(dst, i);
        }
        return stamps;
    }

    /**
     * @return the stamp of the {@code index}-th block in {@code buffer}, 0 for zeros.
     * @throws AssertionError if the block is neither zeros nor one whole stamped block.
     */
    private static long stampAt(final ByteBuffer buffer, final int index)
    {
        final int offset = index * BLOCK_SIZE;
        final long stamp = buffer.getLong(offset);
        for (int i = Long.BYTES; i < BLOCK_SIZE; i++)
        {
            final byte expected = 0 == stamp ? 0 : (byte)(stamp * 31 + i);
            if (buffer.get(offset + i) != expected)
            {
                throw new AssertionError("block " + index + " of the read is torn: stamp " + describe(stamp) +
                    " but byte " + i + " is " + buffer.get(offset + i));
            }
        }
        return stamp;
    }
}
