package org.extentcache;

import org.extentcache.device.CrashingBlockDevice;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Over a persistent {@link ExtentStore}, what the cache makes durable survives a crash: a file's flush, the
 * cache-wide flush (one metadata snapshot for every file it flushed), and {@link ExtentCache#closeFile}. What was
 * only written stays lost, never half-mapped.
 */
class PersistentFlushTest
{
    private static final int PAGE = 4096;
    private static final int FILES = 5;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    private final CrashingBlockDevice device = new CrashingBlockDevice(PAGE, 2048);

    private ExtentCache cache(final ExtentStore store)
    {
        return books.track(ExtentCache.builder().device(device).translator(store).capacityFrames(64)
            .claimTimeout(Duration.ofSeconds(3)).build());
    }

    @Test
    void aCacheWideFlushMakesEveryFileDurableWithOneSnapshot() throws IOException
    {
        final ExtentStore store = ExtentStore.format(device);
        final ExtentCache cache = cache(store);
        final long[] ids = new long[FILES];
        for (int i = 0; i < FILES; i++)
        {
            ids[i] = store.create();
            cache.file(ids[i]).write(0, ByteBuffer.wrap(filled((byte)(i + 1), 3 * PAGE)));
        }
        final long before = store.snapshotSequence();
        cache.flush();
        assertEquals(before + 1, store.snapshotSequence(), "one snapshot for all " + FILES + " files");
        cache.file(ids[0]).write(0, ByteBuffer.wrap(filled((byte)9, PAGE))); // written, never flushed

        final ExtentStore recovered = ExtentStore.open(device.syncedImage());
        for (int i = 0; i < FILES; i++)
        {
            assertArrayEquals(filled((byte)(i + 1), 3 * PAGE), read(recovered, ids[i], 3 * PAGE), "file " + i);
        }
        recovered.close();
        cache.flush();
    }

    @Test
    void aFileFlushAndACloseInTheCacheAreDurable() throws IOException
    {
        final ExtentStore store = ExtentStore.format(device);
        final ExtentCache cache = cache(store);
        final long a = store.create();
        final long b = store.create();
        cache.file(a).write(0, ByteBuffer.wrap(filled((byte)1, 2 * PAGE)));
        cache.file(b).write(0, ByteBuffer.wrap(filled((byte)2, 2 * PAGE)));
        cache.file(a).flush();
        ExtentStore recovered = ExtentStore.open(device.syncedImage());
        assertArrayEquals(filled((byte)1, 2 * PAGE), read(recovered, a, 2 * PAGE));
        assertEquals(0, recovered.size(b), "b was only written: after a crash it is the empty file it was created as");
        recovered.close();

        cache.closeFile(b);
        recovered = ExtentStore.open(device.syncedImage());
        assertArrayEquals(filled((byte)2, 2 * PAGE), read(recovered, b, 2 * PAGE));
        recovered.close();
    }

    private static byte[] read(final ExtentStore store, final long file, final int length) throws IOException
    {
        final ByteBuffer dst = ByteBuffer.allocate(length);
        store.read(file, 0, dst);
        return dst.array();
    }

    private static byte[] filled(final byte value, final int length)
    {
        final byte[] bytes = new byte[length];
        Arrays.fill(bytes, value);
        return bytes;
    }
}
