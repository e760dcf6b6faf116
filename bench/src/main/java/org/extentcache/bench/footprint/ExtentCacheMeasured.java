package org.extentcache.bench.footprint;

import org.extentcache.CacheStats;
import org.extentcache.CachedFile;
import org.extentcache.ExtentCache;
import org.extentcache.device.BlockDevice;
import org.extentcache.translate.Translator;
import org.agrona.collections.Long2ObjectHashMap;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * ExtentCache under measurement: frames keyed by device block, so clones share one copy ({@code "extentcache"}),
 * or, over a {@link PerFileTranslator}, keyed by file and page like the kernel's page cache for reflinked files
 * ({@code "per-file"}).
 */
final class ExtentCacheMeasured implements MeasuredCache
{
    private final String name;
    private final ExtentCache cache;
    private final Long2ObjectHashMap<CachedFile> files = new Long2ObjectHashMap<>();

    ExtentCacheMeasured(final String name, final BlockDevice device, final Translator translator,
        final long capacityBytes)
    {
        this.name = name;
        this.cache = ExtentCache.builder().device(device).translator(translator).pageSize(device.blockSize())
            .capacityBytes(capacityBytes).build();
    }

    @Override
    public String name()
    {
        return name;
    }

    @Override
    public int read(final long file, final long position, final ByteBuffer dst) throws IOException
    {
        CachedFile cached = files.get(file);
        if (null == cached)
        {
            cached = cache.file(file);
            files.put(file, cached);
        }
        return cached.read(position, dst);
    }

    @Override
    public long hits()
    {
        final CacheStats stats = cache.stats();
        return stats.fileHits() + stats.sharingHits();
    }

    @Override
    public long deviceReads()
    {
        return cache.stats().deviceReads();
    }

    @Override
    public long residentBytes()
    {
        return cache.stats().frameBytesInUse();
    }

    @Override
    public long reservedBytes()
    {
        return cache.stats().offHeapBytesReserved();
    }

    @Override
    public long offHeapMetadataBytes()
    {
        return cache.stats().offHeapMetadataBytes();
    }

    /**
     * @return the cache's own estimate of its heap metadata (file mapping trees), to set beside the measured one.
     */
    long heapMetadataEstimate()
    {
        return cache.stats().heapMetadataBytes();
    }

    @Override
    public void close()
    {
        cache.close();
    }

}
