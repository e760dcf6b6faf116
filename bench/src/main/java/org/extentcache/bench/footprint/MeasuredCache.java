package org.extentcache.bench.footprint;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * One cache under measurement by the {@link FootprintTool}: every implementation serves the same reads of the same
 * files (ids from the extent store) and reports what it holds. Heap retained by the cache is measured by the tool
 * itself (after GC), not reported here.
 *
 * <p>Not thread-safe: the tool drives one cache at a time from one thread.
 */
public interface MeasuredCache extends AutoCloseable
{
    /**
     * @return the name shown in the report and the JSON ({@code "extentcache"}, {@code "per-file"},
     * {@code "caffeine"}).
     */
    String name();

    /**
     * Reads through the cache, like {@code FileChannel.read(dst, position)}.
     *
     * @param file     the extent store's file id.
     * @param position file offset.
     * @param dst      destination.
     * @return bytes read, or -1 at end-of-file.
     * @throws IOException if the device fails.
     */
    int read(long file, long position, ByteBuffer dst) throws IOException;

    /**
     * @return pages served without a device read since the cache was built.
     */
    long hits();

    /**
     * @return blocks read from the device since the cache was built.
     */
    long deviceReads();

    /**
     * @return bytes of cached data held now (frames or buffers in use, off-heap).
     */
    long residentBytes();

    /**
     * @return off-heap bytes reserved in all (frames or buffers plus any off-heap metadata).
     */
    long reservedBytes();

    /**
     * @return off-heap metadata bytes (frame records, index tables); 0 for caches that keep metadata on the heap.
     */
    long offHeapMetadataBytes();

    @Override
    void close();
}
