package org.extentcache;

import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.ExtentStore;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.SplittableRandom;

/**
 * For merging tests: an extent store in memory and plain copies of an image in it (each file written with the
 * image's bytes, on blocks of its own, so the store shares nothing and only content merging can), with the reads
 * that check them.
 */
final class PlainCopies
{
    static final int PAGE = 4096;

    final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 1024);
    final ExtentStore store = new ExtentStore(device);
    private final int pages;

    /**
     * @param pages pages of the images.
     */
    PlainCopies(final int pages)
    {
        this.pages = pages;
    }

    /**
     * @param seed the image's seed.
     * @return seeded random bytes, the image's size.
     */
    byte[] image(final int seed)
    {
        final byte[] bytes = new byte[pages * PAGE];
        new SplittableRandom(seed).nextBytes(bytes);
        return bytes;
    }

    /**
     * @return {@code count} new files, each written with the image's bytes.
     */
    long[] copies(final byte[] image, final int count) throws IOException
    {
        final long[] files = new long[count];
        for (int i = 0; i < count; i++)
        {
            files[i] = store.create();
            store.write(files[i], 0, ByteBuffer.wrap(image));
        }
        return files;
    }

    /**
     * @return the file's first image-size bytes, read through the cache.
     */
    byte[] read(final ExtentCache cache, final long file) throws IOException
    {
        final ByteBuffer dst = ByteBuffer.allocate(pages * PAGE);
        while (dst.hasRemaining())
        {
            cache.file(file).read(dst.position(), dst);
        }
        return dst.array();
    }

    /**
     * @return the file's first image-size bytes, read from the store (the device), around the cache.
     */
    byte[] onDevice(final long file) throws IOException
    {
        final ByteBuffer dst = ByteBuffer.allocate(pages * PAGE);
        store.read(file, 0, dst);
        return dst.array();
    }
}
