package org.extentcache.bench.jmh;

import org.extentcache.CachedFile;
import org.extentcache.ExtentCache;
import org.extentcache.device.FileBlockDevice;
import org.extentcache.translate.ExtentStore;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * A device file in the temporary directory, an extent store over it, a base file of random pages, and a cache:
 * what every benchmark starts from. Built in {@code @Setup}, closed in {@code @TearDown}.
 */
final class Fixture implements AutoCloseable
{
    final int pageSize;
    final Path path;
    final FileBlockDevice device;
    final ExtentStore store;
    final long base;
    final int basePages;
    ExtentCache cache;

    Fixture(final int pageSize, final int basePages, final long deviceBlocks) throws IOException
    {
        this.pageSize = pageSize;
        this.basePages = basePages;
        this.path = Files.createTempFile("extentcache-jmh", ".img");
        this.device = FileBlockDevice.open(path, pageSize, deviceBlocks);
        this.store = new ExtentStore(device);
        this.base = store.create();
        final SplittableRandom random = new SplittableRandom(42);
        final ByteBuffer page = ByteBuffer.allocateDirect(pageSize);
        for (int p = 0; p < basePages; p++)
        {
            page.clear();
            while (page.hasRemaining())
            {
                page.putLong(random.nextLong());
            }
            store.write(base, (long)p * pageSize, page.flip());
        }
        device.sync();
    }

    /**
     * Builds the cache over the store.
     *
     * @param frames capacity in frames.
     * @return the cache.
     */
    ExtentCache cache(final int frames)
    {
        cache = ExtentCache.builder().device(device).translator(store).pageSize(pageSize).capacityFrames(frames)
            .build();
        return cache;
    }

    /**
     * Builds the cache over the store, with content merging on or off.
     *
     * @param frames capacity in frames.
     * @param merge  true for {@code mergeIdenticalPages(true)} with as many alias records as frames.
     * @return the cache.
     */
    ExtentCache cache(final int frames, final boolean merge)
    {
        final ExtentCache.Builder builder = ExtentCache.builder().device(device).translator(store).pageSize(pageSize)
            .capacityFrames(frames);
        if (merge)
        {
            builder.mergeIdenticalPages(true).mergeAliases(frames);
        }
        cache = builder.build();
        return cache;
    }

    /**
     * Writes a plain copy of the base through the store, page by page: the same bytes at freshly allocated blocks,
     * so the copy shares no block with the base (what {@code cp} without {@code --reflink} leaves on ext4).
     *
     * @return the copy's file id.
     */
    long plainCopyOfBase() throws IOException
    {
        final long copy = store.create();
        final ByteBuffer page = ByteBuffer.allocateDirect(pageSize);
        for (int p = 0; p < basePages; p++)
        {
            final long at = (long)p * pageSize;
            store.read(base, at, page.clear());
            store.write(copy, at, page.flip());
        }
        return copy;
    }

    /**
     * Reads every page of a file through the cache once.
     */
    void readAll(final CachedFile file) throws IOException
    {
        final ByteBuffer dst = ByteBuffer.allocateDirect(pageSize);
        for (long at = 0; file.read(at, dst.clear()) > 0; at += pageSize)
        {
            dst.clear();
        }
    }

    @Override
    public void close() throws IOException
    {
        if (null != cache)
        {
            cache.close();
        }
        store.close();
        device.close();
        Files.deleteIfExists(path);
    }
}
