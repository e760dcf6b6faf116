package org.extentcache.bench.footprint;

import org.extentcache.CacheStats;
import org.extentcache.CachedFile;
import org.extentcache.ExtentCache;
import org.extentcache.device.BlockDevice;
import org.extentcache.translate.FileBackedTranslator;
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
    private final int pageSize;
    private long pagesRead;

    ExtentCacheMeasured(final String name, final BlockDevice device, final Translator translator,
        final long capacityBytes)
    {
        this(name, device, translator, capacityBytes, 0);
    }

    /**
     * @param mergeAliases with content merging on, the alias records to reserve; 0 for merging off.
     */
    ExtentCacheMeasured(final String name, final BlockDevice device, final Translator translator,
        final long capacityBytes, final int mergeAliases)
    {
        this.name = name;
        this.pageSize = device.blockSize();
        this.cache = merging(ExtentCache.builder().device(device).translator(translator).pageSize(pageSize)
            .capacityBytes(capacityBytes), mergeAliases).build();
    }

    /**
     * A cache over a translator that does its own I/O (no device), such as a {@code FileSystemTranslator}; file ids
     * are the translator's.
     */
    ExtentCacheMeasured(final String name, final FileBackedTranslator translator, final long capacityBytes,
        final int mergeAliases)
    {
        this.name = name;
        this.pageSize = translator.pageSize();
        this.cache = merging(ExtentCache.builder().translator(translator).pageSize(pageSize)
            .capacityBytes(capacityBytes), mergeAliases).build();
    }

    private static ExtentCache.Builder merging(final ExtentCache.Builder builder, final int mergeAliases)
    {
        return mergeAliases > 0 ? builder.mergeIdenticalPages(true).mergeAliases(mergeAliases) : builder;
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
        final int n = cached.read(position, dst);
        if (n > 0)
        {
            pagesRead += ((position + n - 1) / pageSize) - position / pageSize + 1;
        }
        return n;
    }

    /**
     * Pages read without a device read: every page read minus the blocks read. (The cache's own file-hit and
     * sharing-hit counters would count a page mapped ahead by fault-around twice: once when mapped, once when read.)
     */
    @Override
    public long hits()
    {
        return pagesRead - deviceReads();
    }

    /** Blocks read from the device: those read for their own miss and those read ahead with them. */
    @Override
    public long deviceReads()
    {
        final org.extentcache.CacheStats stats = cache.stats();
        return stats.deviceReads() + stats.pagesReadAhead();
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
     * @return which resident frames open files can reach now (walks the files).
     */
    org.extentcache.Residency residency()
    {
        return cache.residency();
    }

    /**
     * @return the cache's counters and memory now.
     */
    CacheStats stats()
    {
        return cache.stats();
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
