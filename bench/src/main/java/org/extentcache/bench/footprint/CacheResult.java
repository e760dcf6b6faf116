package org.extentcache.bench.footprint;

/**
 * What one cache needed and got for one run of the workload.
 *
 * @param name                 the cache.
 * @param residentBytes        off-heap bytes of cached data held at the end.
 * @param reservedBytes        off-heap bytes reserved in all (frames or buffers, plus off-heap metadata).
 * @param offHeapMetadataBytes off-heap metadata (frame records, device index).
 * @param heapMetadataBytes    Java heap the cache retained, measured after GC against a baseline taken before it
 *                             was built.
 * @param directPoolBytes      growth of the JVM's direct buffer pool while the cache was alive: the JVM's own
 *                             account of the off-heap memory, to set beside {@code reservedBytes}.
 * @param operations           page reads served.
 * @param hits                 page reads served without a device read.
 * @param deviceReads          blocks read from the device.
 * @param elapsedNanos         time to serve every read.
 */
record CacheResult(
    String name,
    long residentBytes,
    long reservedBytes,
    long offHeapMetadataBytes,
    long heapMetadataBytes,
    long directPoolBytes,
    long operations,
    long hits,
    long deviceReads,
    long elapsedNanos)
{
    /**
     * @return metadata on and off heap.
     */
    long metadataBytes()
    {
        return offHeapMetadataBytes + heapMetadataBytes;
    }

    /**
     * @return memory the cache needs for what it holds: resident data plus all metadata.
     */
    long totalBytes()
    {
        return residentBytes + metadataBytes();
    }

    /**
     * @return hits over reads.
     */
    double hitRatio()
    {
        return operations == 0 ? 0 : (double)hits / operations;
    }

    /**
     * @return reads served per second.
     */
    double readsPerSecond()
    {
        return elapsedNanos == 0 ? 0 : operations * 1e9 / elapsedNanos;
    }
}
