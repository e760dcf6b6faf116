package org.extentcache.translate;

import static org.extentcache.translate.StoreBytes.blockOf;
import static org.extentcache.translate.StoreBytes.contents;
import static org.extentcache.translate.StoreBytes.filled;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.extentcache.CacheBooks;
import org.extentcache.CachedFile;
import org.extentcache.ExtentCache;
import org.extentcache.device.BlockDevice;
import org.extentcache.device.CrashingBlockDevice;
import org.extentcache.device.ForwardingBlockDevice;
import org.extentcache.device.MemoryBlockDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The persistent mode of {@link ExtentStore}: format and open, what a snapshot records, the refusal messages, the
 * rules that keep durable blocks intact (not reused before a superseding snapshot synced, read as shared), group
 * commit, and failures that leave the previous durable state standing. {@link PersistentStoreCrashTest} crashes it.
 */
class PersistentExtentStoreTest
{
    private static final int PS = 4096;
    private static final int BLOCKS = 64;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    private static boolean sharedAt(final ExtentStore store, final long file, final long page) throws IOException
    {
        final Extent extent = new Extent();
        store.translate(file, page, extent);
        return extent.isShared();
    }

    @Test
    void formatThenOpenRoundTripsFilesHolesClonesSizesAndTheAttachment() throws IOException
    {
        final CrashingBlockDevice device = new CrashingBlockDevice(PS, BLOCKS);
        final ExtentStore store = ExtentStore.format(device);
        assertTrue(store.isPersistent());
        final long a = store.create();
        store.write(a, 0, filled(1, PS));
        store.write(a, 3L * PS + 100, filled(2, 500));           // a hole at pages 1 and 2, a partial last page
        final long b = store.cloneFile(a);
        store.write(b, PS, filled(3, PS));                       // b fills a's hole
        final long c = store.create();
        store.truncate(c, 10 * PS + 7);                           // all hole
        final long deleted = store.create();
        store.write(deleted, 0, filled(4, 10));
        store.delete(deleted);
        store.setAttachment(new byte[]{9, 8, 7});
        final byte[] contentA = contents(store, a);
        final byte[] contentB = contents(store, b);
        store.close();

        final ExtentStore reopened = ExtentStore.open(device.syncedImage());
        assertArrayEquals(contentA, contents(reopened, a));
        assertArrayEquals(contentB, contents(reopened, b));
        assertEquals(3L * PS + 600, reopened.size(a));
        assertEquals(10 * PS + 7, reopened.size(c));
        assertEquals(Extent.HOLE, blockOf(reopened, a, 1));
        assertEquals(Extent.HOLE, blockOf(reopened, c, 0));
        assertEquals(blockOf(reopened, a, 0), blockOf(reopened, b, 0), "the clone still shares page 0's block");
        assertEquals(2 + 1, reopened.refCount(blockOf(reopened, a, 0)), "two pages and the durable pin");
        assertFalse(reopened.exists(deleted));
        assertArrayEquals(new byte[]{9, 8, 7}, reopened.attachment());
        assertTrue(reopened.create() > deleted, "file ids are not reused");
    }

    @Test
    void anEmptyStoreReopensEmptyWithAnEmptyAttachment() throws IOException
    {
        final CrashingBlockDevice device = new CrashingBlockDevice(PS, BLOCKS);
        ExtentStore.format(device);
        final ExtentStore reopened = ExtentStore.open(device.syncedImage());
        assertFalse(reopened.exists(1));
        assertEquals(0, reopened.attachment().length);
        assertEquals(1, reopened.create());
        assertEquals(1, reopened.snapshotSequence());
    }

    @Test
    void aDeviceWithoutAStoreIsRefused() throws IOException
    {
        final MemoryBlockDevice device = new MemoryBlockDevice(PS, BLOCKS);
        device.write(0, filled(0x55, 2 * PS));
        final IOException refused = assertThrows(IOException.class, () -> ExtentStore.open(device));
        assertTrue(refused.getMessage().startsWith("device holds no ExtentStore"), refused.getMessage());
    }

    @Test
    void aStoreOfAnotherFormatVersionIsRefusedNamingBothVersions() throws IOException
    {
        final MemoryBlockDevice device = new MemoryBlockDevice(PS, BLOCKS);
        ExtentStore.format(device).close();
        final ByteBuffer slot = ByteBuffer.allocate(PS);
        device.read(0, slot);
        slot.putInt(SuperblockDescriptor.VERSION_OFFSET, 3);
        device.write(0, slot.clear());
        final IOException refused = assertThrows(IOException.class, () -> ExtentStore.open(device));
        assertTrue(refused.getMessage().startsWith(
            "device holds an ExtentStore of format version 3; this library reads version 1"), refused.getMessage());
    }

    @Test
    void aDeviceOfAnotherGeometryIsRefused() throws IOException
    {
        final MemoryBlockDevice small = new MemoryBlockDevice(PS, BLOCKS);
        ExtentStore.format(small).close();
        final MemoryBlockDevice large = new MemoryBlockDevice(PS, 2 * BLOCKS);
        final ByteBuffer all = ByteBuffer.allocate(BLOCKS * PS);
        small.read(0, all);
        large.write(0, all.flip());
        final IOException refused = assertThrows(IOException.class, () -> ExtentStore.open(large));
        assertTrue(refused.getMessage().contains("formatted for blockSize=4096 blockCount=64, the device has " +
            "blockSize=4096 blockCount=128"), refused.getMessage());
    }

    @Test
    void corruptSuperblocksAndSnapshotsAreRefusedSayingWhatIsDamaged() throws IOException
    {
        final MemoryBlockDevice device = new MemoryBlockDevice(PS, BLOCKS);
        final ExtentStore store = ExtentStore.format(device);
        store.sync();                                            // sequence 2 in slot 1; slot 0 holds sequence 1
        store.close();                                           // sequence 3 in slot 0
        final ByteBuffer slot = ByteBuffer.allocate(PS);
        device.read(0, slot);
        device.write(slot.getLong(SuperblockDescriptor.SNAPSHOT_BLOCK_OFFSET), filled(0x77, PS));
        assertEquals(2, ExtentStore.open(device).snapshotSequence(),
            "the newest snapshot's chain is garbage, so the older slot's snapshot wins");
        device.read(1, slot.clear());
        device.write(slot.getLong(SuperblockDescriptor.SNAPSHOT_BLOCK_OFFSET), filled(0x77, PS));
        device.read(0, slot.clear());
        final IOException snapshots = assertThrows(IOException.class, () -> ExtentStore.open(device));
        assertTrue(snapshots.getMessage().startsWith("device holds an ExtentStore but no intact metadata snapshot"),
            snapshots.getMessage());
        assertTrue(snapshots.getMessage().contains("slot 0: sequence 3"), snapshots.getMessage());

        slot.putLong(SuperblockDescriptor.SEQUENCE_OFFSET, 99);  // CRC no longer matches
        device.write(0, slot.clear());
        device.write(1, slot.clear());
        final IOException superblocks = assertThrows(IOException.class, () -> ExtentStore.open(device));
        assertTrue(superblocks.getMessage().startsWith("device holds an ExtentStore but neither superblock is intact"),
            superblocks.getMessage());
    }

    @Test
    void openFallsBackToTheOlderSlotWhenTheNewestSuperblockIsTorn() throws IOException
    {
        final CrashingBlockDevice device = new CrashingBlockDevice(PS, BLOCKS);
        final ExtentStore store = ExtentStore.format(device);
        final long a = store.create();
        store.write(a, 0, filled(1, 100));
        store.sync();                                            // sequence 2, slot 1
        final CrashingBlockDevice image = device.syncedImage();
        final ByteBuffer slot = ByteBuffer.allocate(PS);
        image.read(1, slot);
        slot.put(20, (byte)~slot.get(20));                       // inside the sequence: the CRC catches it
        image.write(1, slot.clear());
        final ExtentStore reopened = ExtentStore.open(image);
        assertEquals(1, reopened.snapshotSequence());
        assertFalse(reopened.exists(a), "the store as the older snapshot recorded it");
    }

    @Test
    void formatNeedsRoomForTheSlotsAndASnapshot()
    {
        final IllegalArgumentException tooSmall = assertThrows(IllegalArgumentException.class,
            () -> ExtentStore.format(new MemoryBlockDevice(PS, 2)));
        assertTrue(tooSmall.getMessage().contains("at least 3 blocks"), tooSmall.getMessage());
    }

    @Test
    void durableBlocksReadAsSharedAndAreNotReusedUntilASupersedingSnapshotSynced() throws IOException
    {
        final CrashingBlockDevice device = new CrashingBlockDevice(PS, BLOCKS);
        final ExtentStore store = ExtentStore.format(device);
        final long a = store.create();
        store.write(a, 0, filled(1, PS));
        final long before = blockOf(store, a, 0);
        assertFalse(sharedAt(store, a, 0), "a block no durable map references is the file's own");
        store.commit(a);
        assertTrue(sharedAt(store, a, 0), "a durable block reads as shared: a write must copy it");
        assertEquals(2, store.refCount(before));

        store.write(a, 0, filled(2, PS));                       // the current map drops the block...
        assertEquals(1, store.refCount(before), "...but the durable map still pins it");
        assertEquals(1, store.durableRefCount(before));
        final long free = store.freeBlocks();
        for (int i = 0; i < free; i++)
        {
            final long file = store.create();
            store.write(file, 0, filled(3, PS));
            assertTrue(blockOf(store, file, 0) != before, "a pinned block is never allocated");
        }
        assertThrows(IOException.class, () -> store.write(store.create(), 0, filled(3, PS)));
        final IOException full = assertThrows(IOException.class, store::sync);
        assertTrue(full.getMessage().contains("device full: the metadata snapshot needs"), full.getMessage());
        assertEquals(1, store.refCount(before), "a snapshot that failed frees nothing");

        final ExtentStore recovered = ExtentStore.open(device.syncedImage());
        assertArrayEquals(filled(1, PS).array(), contents(recovered, a), "the previous durable state stands");
    }

    @Test
    void commitOfAnUnchangedFileWritesNoSnapshot() throws IOException
    {
        final ExtentStore store = ExtentStore.format(new MemoryBlockDevice(PS, BLOCKS));
        final long a = store.create();
        store.write(a, 0, filled(1, 10));
        store.commit(a);
        final long sequence = store.snapshotSequence();
        store.commit(a);
        assertEquals(sequence, store.snapshotSequence());
        store.write(a, 0, filled(2, 10));
        store.commit(a);
        assertEquals(sequence + 1, store.snapshotSequence());
    }

    @Test
    void syncLeavesAFileTheCacheWroteSinceItsLastCommitAsItWasCommitted() throws IOException
    {
        final CrashingBlockDevice device = new CrashingBlockDevice(PS, BLOCKS);
        final ExtentStore store = ExtentStore.format(device);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store).pageSize(PS)
            .capacityFrames(8).dirtyExpiry(Duration.ZERO).build());
        final long a = store.create();
        final long b = store.create();
        final CachedFile cachedA = cache.file(a);
        cachedA.write(0, filled(1, PS));
        cachedA.flush();                                         // commits a: page 0 = 1
        cachedA.write(0, filled(2, PS));                         // copy on write to a block the cache committed
        cachedA.write(PS, filled(3, 10));                        // and an extension
        store.write(b, 0, filled(4, 100));                       // the store's own write: data before the map
        store.cloneFile(a);                                      // a clone writes a's data back and syncs it...
        store.sync();                                            // ...but a was not committed: sync leaves it

        final ExtentStore recovered = ExtentStore.open(device.syncedImage());
        assertArrayEquals(filled(1, PS).array(), contents(recovered, a));
        assertArrayEquals(filled(4, 100).array(), contents(recovered, b));

        cachedA.flush();
        final ExtentStore committed = ExtentStore.open(device.syncedImage());
        assertEquals(PS + 10, committed.size(a));
    }

    @Test
    void aWriteInPlaceAfterACommitCopiesOnWriteInstead() throws IOException
    {
        final CrashingBlockDevice device = new CrashingBlockDevice(PS, BLOCKS);
        final ExtentStore store = ExtentStore.format(device);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store).pageSize(PS)
            .capacityFrames(8).dirtyExpiry(Duration.ZERO).build());
        final long a = store.create();
        final CachedFile file = cache.file(a);
        file.write(0, filled(1, PS));
        file.write(0, filled(2, PS));
        final long first = blockOf(store, a, 0);
        file.flush();
        file.write(0, filled(3, PS));
        assertTrue(blockOf(store, a, 0) != first, "the first write after a commit takes a new block");
        final long second = blockOf(store, a, 0);
        file.write(0, filled(4, PS));
        assertEquals(second, blockOf(store, a, 0), "later writes before the next commit go in place");
        store.cloneFile(a);                                      // written back for the clone, not committed
        final ExtentStore recovered = ExtentStore.open(device.currentImage());
        assertArrayEquals(filled(2, PS).array(), contents(recovered, a), "the committed block was never rewritten");
    }

    @Test
    void concurrentCommitsShareSnapshots() throws Exception
    {
        final SlowSyncDevice device = new SlowSyncDevice(new MemoryBlockDevice(PS, 256));
        final ExtentStore store = ExtentStore.format(device);
        final int threads = 8;
        final long[] files = new long[threads];
        for (int i = 0; i < threads; i++)
        {
            files[i] = store.create();
        }
        final long before = store.snapshotSequence();
        final ExecutorService pool = Executors.newFixedThreadPool(threads);
        try
        {
            final CountDownLatch start = new CountDownLatch(1);
            final List<Future<?>> done = new ArrayList<>();
            for (int i = 0; i < threads; i++)
            {
                final int index = i;
                done.add(pool.submit(() ->
                {
                    start.await();
                    store.write(files[index], 0, filled(index + 1, 100));
                    store.commit(files[index]);
                    return null;
                }));
            }
            start.countDown();
            for (final Future<?> future : done)
            {
                future.get(30, TimeUnit.SECONDS);
            }
        }
        finally
        {
            pool.shutdownNow();
        }
        final long snapshots = store.snapshotSequence() - before;
        assertTrue(snapshots < threads, "8 commits shared snapshots: " + snapshots + " written");
        store.close();
        final ExtentStore recovered = ExtentStore.open(device);
        for (int i = 0; i < threads; i++)
        {
            assertArrayEquals(filled(i + 1, 100).array(), contents(recovered, files[i]));
        }
    }

    @Test
    void theInMemoryStoreIsUnchanged() throws IOException
    {
        final ExtentStore store = new ExtentStore(new MemoryBlockDevice(PS, BLOCKS));
        assertFalse(store.isPersistent());
        final long a = store.create();
        store.write(a, 0, filled(1, PS));
        store.commit(a);
        store.commit(12345);                                     // the Translator default: nothing, no check
        store.sync();
        assertFalse(sharedAt(store, a, 0));
        assertEquals(1, store.refCount(blockOf(store, a, 0)));
        assertEquals(0, store.snapshotSequence());
        store.setAttachment(new byte[]{1});
        assertArrayEquals(new byte[]{1}, store.attachment());
        assertThrows(IllegalArgumentException.class,
            () -> store.setAttachment(new byte[SnapshotDescriptor.MAX_ATTACHMENT + 1]));
        store.close();
    }

    /** A device whose syncs take 20 ms, so that commits pile up behind one. */
    private static final class SlowSyncDevice extends ForwardingBlockDevice
    {
        SlowSyncDevice(final BlockDevice delegate)
        {
            super(delegate);
        }

        @Override
        public void sync() throws IOException
        {
            try
            {
                Thread.sleep(20);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", ex);
            }
            delegate.sync();
        }
    }
}
