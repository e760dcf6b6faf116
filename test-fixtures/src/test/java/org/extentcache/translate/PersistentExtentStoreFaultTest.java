package org.extentcache.translate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.Arrays;

import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.testing.FaultyBlockDevice;
import org.junit.jupiter.api.Test;

/**
 * The persistent mode of {@link ExtentStore} over a {@link FaultyBlockDevice}: a failed snapshot frees nothing the
 * durable state needs, and a failed close still closes. The rest is in core's {@code PersistentExtentStoreTest}.
 */
class PersistentExtentStoreFaultTest
{
    private static final int PS = 4096;
    private static final int BLOCKS = 64;

    private static ByteBuffer filled(final int value, final int length)
    {
        final byte[] bytes = new byte[length];
        Arrays.fill(bytes, (byte)value);
        return ByteBuffer.wrap(bytes);
    }

    private static byte[] contents(final ExtentStore store, final long file) throws IOException
    {
        final ByteBuffer bytes = ByteBuffer.allocate((int)store.size(file));
        store.read(file, 0, bytes);
        return bytes.array();
    }

    private static long blockOf(final ExtentStore store, final long file, final long page) throws IOException
    {
        final Extent extent = new Extent();
        store.translate(file, page, extent);
        return extent.blockOf(page);
    }

    @Test
    void aBlockIsFreedOnlyOnceTheSnapshotThatDropsItHasSynced() throws IOException
    {
        final FaultyBlockDevice device = FaultyBlockDevice.writeThrough(new MemoryBlockDevice(PS, BLOCKS));
        final ExtentStore store = ExtentStore.format(device);
        final long a = store.create();
        store.write(a, 0, filled(1, PS));
        store.commit(a);
        final long old = blockOf(store, a, 0);
        store.write(a, 0, filled(2, PS));
        final long allocated = store.allocatedBlocks();

        device.failNthWrite(1);                                  // the chain's write: nothing points at the chain
        assertThrows(IOException.class, () -> store.commit(a));
        assertEquals(allocated, store.allocatedBlocks(), "the failed snapshot's chain is freed, nothing else");
        assertEquals(1, store.refCount(old), "the old durable block stays pinned");

        device.failNthWrite(2);                                  // the superblock write: it may have landed
        assertThrows(IOException.class, () -> store.commit(a));
        assertEquals(1, store.refCount(old), "an uncertain snapshot keeps what either snapshot maps");
        assertTrue(store.allocatedBlocks() > allocated, "and keeps its chain");

        store.commit(a);
        assertEquals(0, store.refCount(old), "freed once a superseding snapshot synced");
        assertEquals(0, store.durableRefCount(old));
        assertEquals(allocated - 1, store.allocatedBlocks(), "no metadata block leaked");
    }

    @Test
    void closeSyncsAndAFailedCloseStillCloses() throws IOException
    {
        final FaultyBlockDevice device = FaultyBlockDevice.writeThrough(new MemoryBlockDevice(PS, BLOCKS));
        final ExtentStore store = ExtentStore.format(device);
        final long a = store.create();
        store.write(a, 0, filled(1, 10));
        store.close();
        assertArrayEquals(filled(1, 10).array(), contents(ExtentStore.open(device), a));

        final ExtentStore failing = ExtentStore.open(device);
        failing.write(a, 0, filled(2, 10));
        device.failNextSync();
        assertThrows(UncheckedIOException.class, failing::close);
        assertThrows(IllegalStateException.class, () -> failing.exists(a));
        assertArrayEquals(filled(1, 10).array(), contents(ExtentStore.open(device), a));
    }
}
