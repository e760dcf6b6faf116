package org.extentcache.translate;

import static org.extentcache.translate.StoreBytes.contents;
import static org.extentcache.translate.StoreBytes.filled;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;

import org.extentcache.CacheBooks;
import org.extentcache.CachedFile;
import org.extentcache.ExtentCache;
import org.extentcache.device.BlockDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Review findings on the persistent {@link ExtentStore}: a device sync that fails may drop the writes it was to make
 * durable (Linux reports a failed {@code fsync} once, marks the pages clean and the next {@code fsync} succeeds
 * without them: the rule {@code DeviceSync} and {@code FileWriteback} already follow for the cache's own pages). A
 * snapshot whose own sync succeeds after such a failure must not point at a block whose write was dropped.
 */
class ReviewStoreFindingsTest
{
    private static final int PS = 4096;
    private static final int BLOCKS = 64;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    /**
     * The store's own write is not synced; the snapshot's chain sync fails and drops it; the retry's sync succeeds
     * and its superblock maps the block whose write was dropped. After a power loss the file reads another file's
     * old bytes.
     */
    @Test
    void aSnapshotRetriedAfterAFailedSyncDoesNotMapAStoreWriteTheFailedSyncDropped() throws IOException
    {
        final FsyncDroppingDevice device = new FsyncDroppingDevice(PS, BLOCKS);
        final ExtentStore store = ExtentStore.format(device);
        final long old = store.create();
        store.write(old, 0, filled(7, PS));
        store.sync();
        store.delete(old);
        store.sync();                                            // old's block is free again, holding 7s

        final long file = store.create();
        store.write(file, 0, filled(1, PS));                     // into a free block: not synced yet
        device.failNextSync();
        assertThrows(IOException.class, store::sync);            // the chain's sync fails: the data write is dropped
        try
        {
            store.sync();                                        // this sync succeeds: is file durable with its 1s?
        }
        catch (final IOException ex)
        {
            return;                                              // refusing is fine: no false promise was made
        }
        final ExtentStore recovered = ExtentStore.open(device.durableImage());
        assertArrayEquals(filled(1, PS).array(), contents(recovered, file),
            "a synced snapshot maps a block whose data write a failed sync dropped");
    }

    /**
     * The store's own write is not synced; the cache's flush of another file fails its device sync, which drops it;
     * the store's next snapshot syncs fine and maps the dropped block.
     */
    @Test
    void aStoreSyncAfterTheCacheSawASyncFailDoesNotMapAStoreWriteItDropped() throws IOException
    {
        final FsyncDroppingDevice device = new FsyncDroppingDevice(PS, BLOCKS);
        final ExtentStore store = ExtentStore.format(device);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store).pageSize(PS)
            .capacityFrames(8).dirtyExpiry(Duration.ofHours(1)).build());
        final long old = store.create();
        store.write(old, 0, filled(7, PS));
        store.sync();
        store.delete(old);
        store.sync();

        final long file = store.create();
        final long other = store.create();
        store.write(file, 0, filled(1, PS));                     // the store's own write, not synced
        cache.file(other).write(0, filled(2, PS));
        device.failNextSync();
        assertThrows(IOException.class, () -> cache.file(other).flush()); // drops file's write too
        try
        {
            store.sync();
        }
        catch (final IOException ex)
        {
            return;
        }
        final ExtentStore recovered = ExtentStore.open(device.durableImage());
        assertArrayEquals(filled(1, PS).array(), contents(recovered, file),
            "a synced snapshot maps a block whose data write another caller's failed sync dropped");
    }

    /**
     * The cache writes a page back; before its own sync, a snapshot of the store (another thread's sync) fails its
     * sync and so drops that page; the cache's sync then succeeds, the cache counts no failure and vouches for the
     * page, and the flush commits a map that points at the dropped block.
     */
    @Test
    void aCacheFlushAfterTheStoresSnapshotSyncFailedDoesNotCommitADroppedPage() throws IOException
    {
        final FsyncDroppingDevice device = new FsyncDroppingDevice(PS, BLOCKS);
        final ExtentStore store = ExtentStore.format(device);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store).pageSize(PS)
            .capacityFrames(8).dirtyExpiry(Duration.ofHours(1)).build());
        final long file = store.create();
        final CachedFile cached = cache.file(file);
        cached.write(0, filled(1, PS));
        final boolean[] fired = new boolean[1];
        device.onNextWrite(() ->
        {
            fired[0] = true;                                     // the cache's page write has just landed, unsynced
            device.failNextSync();
            assertThrows(IOException.class, store::sync);        // a concurrent snapshot whose sync fails
        });
        try
        {
            cached.flush();
        }
        catch (final IOException ex)
        {
            return;                                              // refusing is fine: no false promise was made
        }
        org.junit.jupiter.api.Assertions.assertTrue(fired[0], "the hook ran");
        final ExtentStore recovered = ExtentStore.open(device.durableImage());
        assertArrayEquals(filled(1, PS).array(), contents(recovered, file),
            "a flush that returned committed a page that a failed sync dropped");
    }

    /**
     * A full device cannot be freed without a reopen: a deleted file's blocks stay pinned until a snapshot that drops
     * it syncs, and that snapshot needs a free block for its chain. Not fixed: the store would have to keep blocks in
     * reserve for its next snapshot (its size depends on the runs), a change of the allocator's rules.
     */
    @Test
    @org.junit.jupiter.api.Disabled("review finding, not fixed: a full device cannot be freed without reopening")
    void deletingADurableFileOnAFullDeviceLetsTheNextSyncFreeItsBlocks() throws IOException
    {
        final FsyncDroppingDevice device = new FsyncDroppingDevice(PS, 16);
        final ExtentStore store = ExtentStore.format(device);
        final long a = store.create();
        store.write(a, 0, filled(1, (int)(store.freeBlocks() - 1) * PS));
        store.commit(a);                                         // a is durable; its chain replaced the first one
        final long b = store.create();
        store.write(b, 0, filled(2, (int)store.freeBlocks() * PS));
        org.junit.jupiter.api.Assertions.assertEquals(0, store.freeBlocks());
        store.delete(a);                                         // its blocks stay pinned until a snapshot drops it
        store.sync();                                            // "device full": no block for the chain, ever
        org.junit.jupiter.api.Assertions.assertTrue(store.freeBlocks() > 0);
    }

    /** After a failed sync the store refuses snapshots; reopening recovers the last synced one and works again. */
    @Test
    void afterAFailedSyncEverySnapshotFailsUntilTheStoreIsReopened() throws IOException
    {
        final FsyncDroppingDevice device = new FsyncDroppingDevice(PS, BLOCKS);
        final ExtentStore store = ExtentStore.format(device);
        final long file = store.create();
        store.write(file, 0, filled(1, PS));
        store.commit(file);
        store.write(file, 0, filled(2, PS));
        device.failNextSync();
        assertThrows(IOException.class, () -> store.commit(file));
        final IOException later = assertThrows(IOException.class, () -> store.commit(file));
        org.junit.jupiter.api.Assertions.assertTrue(later.getMessage().contains("reopen the store"), later::getMessage);
        assertThrows(IOException.class, store::sync);

        final FsyncDroppingDevice image = device.durableImage();
        final ExtentStore reopened = ExtentStore.open(image);
        assertArrayEquals(filled(1, PS).array(), contents(reopened, file), "the last synced snapshot stands");
        reopened.write(file, 0, filled(3, PS));
        reopened.commit(file);
        assertArrayEquals(filled(3, PS).array(), contents(ExtentStore.open(image.durableImage()), file));
    }

    /**
     * A device with Linux's {@code fsync} error semantics: a sync that fails drops every write made since the last
     * sync (they never reach the durable image), and the next sync succeeds without them. Reads see every write.
     */
    static final class FsyncDroppingDevice implements BlockDevice
    {
        private final int blockSize;
        private final byte[][] current;
        private final byte[][] durable;
        private final boolean[] unsynced;
        private boolean failNextSync;
        private Runnable onNextWrite;

        FsyncDroppingDevice(final int blockSize, final int blockCount)
        {
            this.blockSize = blockSize;
            this.current = new byte[blockCount][];
            this.durable = new byte[blockCount][];
            this.unsynced = new boolean[blockCount];
        }

        synchronized void failNextSync()
        {
            failNextSync = true;
        }

        synchronized void onNextWrite(final Runnable hook)
        {
            onNextWrite = hook;
        }

        /** @return a device holding only what reached the durable image: a power loss now. */
        synchronized FsyncDroppingDevice durableImage()
        {
            final FsyncDroppingDevice image = new FsyncDroppingDevice(blockSize, current.length);
            for (int b = 0; b < current.length; b++)
            {
                image.current[b] = durable[b];
                image.durable[b] = durable[b];
            }
            return image;
        }

        @Override
        public int blockSize()
        {
            return blockSize;
        }

        @Override
        public long blockCount()
        {
            return current.length;
        }

        @Override
        public synchronized void read(final long block, final ByteBuffer dst)
        {
            final long blocks = BlockDevice.checkTransfer(this, block, dst.remaining());
            for (long b = block; b < block + blocks; b++)
            {
                final byte[] bytes = current[(int)b];
                dst.put(null == bytes ? new byte[blockSize] : bytes);
            }
        }

        @Override
        public void write(final long block, final ByteBuffer src)
        {
            final Runnable hook;
            synchronized (this)
            {
                final long blocks = BlockDevice.checkTransfer(this, block, src.remaining());
                for (long b = block; b < block + blocks; b++)
                {
                    final byte[] bytes = new byte[blockSize];
                    src.get(bytes);
                    current[(int)b] = bytes;
                    unsynced[(int)b] = true;
                }
                hook = onNextWrite;
                onNextWrite = null;
            }
            if (null != hook)
            {
                hook.run();
            }
        }

        @Override
        public synchronized void sync() throws IOException
        {
            final boolean fail = failNextSync;
            failNextSync = false;
            for (int b = 0; b < current.length; b++)
            {
                if (unsynced[b])
                {
                    unsynced[b] = false;
                    if (!fail)
                    {
                        durable[b] = current[b];
                    }
                }
            }
            if (fail)
            {
                throw new IOException("injected sync failure: the unsynced writes are dropped (Linux fsync errors)");
            }
        }

        @Override
        public void close()
        {
        }
    }
}
