package org.extentcache.bench.footprint;

import org.extentcache.device.BlockDevice;
import org.extentcache.translate.Extent;
import org.extentcache.translate.ExtentStore;
import org.agrona.BufferUtil;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.function.Function;

/**
 * What a Java developer would build instead of ExtentCache: a chunk cache in the design of Cassandra's
 * {@code ChunkCache}, a Caffeine {@link Cache} keyed by <em>(file, page index)</em> whose values are direct
 * {@link ByteBuffer}s of one page each ({@code "caffeine"}). Because the key names the file, reflink clones of one
 * image are cached once per file, exactly like the kernel's page cache.
 *
 * <h2>Design</h2>
 * <ul>
 *   <li><b>Bound</b>: {@code maximumWeight(budgetBytes)} with every page weighing {@code pageSize}, so at most
 *       {@code budgetBytes / pageSize} pages are held (W-TinyLFU decides which); unbounded if the budget is
 *       {@code <= 0} or {@link Long#MAX_VALUE}.</li>
 *   <li><b>Synchronous maintenance</b>: {@code executor(Runnable::run)} runs eviction and the removal listener on the
 *       reading thread before {@link Cache#get} returns, so resident bytes never exceed the budget once a read has
 *       returned, and the measurement is deterministic.</li>
 *   <li><b>Eager free</b>: the removal listener frees each evicted buffer at once ({@link BufferUtil#free}) rather
 *       than waiting for the garbage collector, so the JVM's direct-memory pool tracks {@link #residentBytes()}
 *       exactly.</li>
 *   <li><b>The one page in use is never freed under the reader.</b> W-TinyLFU may reject a page the moment it is
 *       loaded: the maintenance run inside {@code get} evicts it, and the listener is told, before {@code get}
 *       returns it. The listener therefore defers freeing the page being read until it has been copied out.
 *       Cassandra, which reads concurrently, solves the same problem with a reference count on each chunk; here one
 *       thread reads, so one deferred buffer is enough.</li>
 *   <li><b>Holes</b> are cached as a page of zeros, as a real chunk cache would; their first read counts neither as
 *       a hit nor as a device read.</li>
 * </ul>
 *
 * <h2>Costs</h2>
 * Every lookup allocates a key (32 bytes) and goes through a {@code ConcurrentHashMap} and Caffeine's read buffer.
 * Every page held costs, besides its direct buffer, a Caffeine node, a hash-map entry, a key, and a
 * {@code DirectByteBuffer} with its {@code Cleaner}: a couple of hundred bytes of heap per page, which the footprint
 * tool measures after GC. A miss allocates all of that. Once the budget is full, W-TinyLFU turns away a new page
 * that has not been seen more often than the page it would evict, so in a scan larger than the budget many pages are
 * read, allocated and freed at once. This is what people build; it is not tuned.
 *
 * <p><b>Thread safety:</b> not thread-safe, as {@link MeasuredCache} allows: one thread reads, and the listener
 * runs on it.
 *
 * <p><b>Ownership:</b> the caller owns the store and the device and closes them after this cache; the cache owns
 * its buffers and frees every one in {@link #close()}.
 */
public final class CaffeineChunkCache implements MeasuredCache
{
    private final ExtentStore store;
    private final BlockDevice device;
    private final int pageSize;
    private final int pageShift;
    private final long pageMask;
    private final Cache<ChunkKey, ByteBuffer> cache;
    private final Function<ChunkKey, ByteBuffer> loader = this::load;
    private final Extent extent = new Extent();
    private long hits;
    private long deviceReads;
    private long residentPages;
    private boolean loaded;
    private ChunkKey reading;
    private ByteBuffer deferredFree;
    private boolean closed;

    /**
     * Builds an empty cache over {@code store}'s files.
     *
     * @param store       translates file pages to device blocks and gives file sizes.
     * @param device      the device the store's blocks live on.
     * @param budgetBytes most bytes of pages to hold; {@code <= 0} or {@link Long#MAX_VALUE} for no bound.
     * @throws NullPointerException     if {@code store} or {@code device} is null.
     * @throws IllegalArgumentException if the store's page size differs from the device's block size.
     */
    public CaffeineChunkCache(final ExtentStore store, final BlockDevice device, final long budgetBytes)
    {
        this.store = Objects.requireNonNull(store, "store");
        this.device = Objects.requireNonNull(device, "device");
        this.pageSize = store.pageSize();
        if (pageSize != device.blockSize() || Integer.bitCount(pageSize) != 1)
        {
            throw new IllegalArgumentException("page size must be the device's block size, a power of two: pageSize=" +
                pageSize + " blockSize=" + device.blockSize());
        }
        this.pageShift = Integer.numberOfTrailingZeros(pageSize);
        this.pageMask = pageSize - 1;
        final Caffeine<ChunkKey, ByteBuffer> builder = Caffeine.newBuilder()
            .executor(Runnable::run)
            .removalListener(this::removed);
        if (budgetBytes > 0 && budgetBytes != Long.MAX_VALUE)
        {
            final int weight = pageSize;
            builder.maximumWeight(budgetBytes).weigher((final ChunkKey key, final ByteBuffer page) -> weight);
        }
        this.cache = builder.build();
    }

    @Override
    public String name()
    {
        return "caffeine";
    }

    /**
     * {@inheritDoc}
     *
     * <p>{@link java.nio.channels.FileChannel#read(ByteBuffer, long)} semantics over the store's file size; a read
     * may span pages. On a failure {@code dst}'s position is unchanged (its contents past it are undefined) and the
     * failed page is not cached.
     *
     * @throws NullPointerException              if {@code dst} is null.
     * @throws IllegalArgumentException          if {@code position < 0}.
     * @throws java.nio.file.NoSuchFileException if the file does not exist.
     * @throws IllegalStateException             if the cache is closed.
     */
    @Override
    public int read(final long file, final long position, final ByteBuffer dst) throws IOException
    {
        Objects.requireNonNull(dst, "dst");
        if (position < 0)
        {
            throw new IllegalArgumentException("position must be >= 0: position=" + position);
        }
        if (closed)
        {
            throw new IllegalStateException("cache is closed: name=" + name());
        }
        final long size = store.size(file);
        if (!dst.hasRemaining())
        {
            return 0;
        }
        if (position >= size)
        {
            return -1;
        }
        final int total = (int)Math.min(dst.remaining(), size - position);
        final int start = dst.position();
        try
        {
            long at = position;
            int copied = 0;
            while (copied < total)
            {
                final int inPage = (int)(at & pageMask);
                final int length = Math.min(total - copied, pageSize - inPage);
                copyOut(file, at >>> pageShift, inPage, dst, start + copied, length);
                copied += length;
                at += length;
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            dst.position(start);
            throw ex;
        }
        dst.position(start + total);
        return total;
    }

    /**
     * Copies {@code length} bytes at {@code inPage} of one page into {@code dst} at {@code index}, loading the page
     * on a miss, then frees the page if it was evicted while it was being read.
     */
    private void copyOut(final long file, final long page, final int inPage, final ByteBuffer dst, final int index,
        final int length) throws IOException
    {
        reading = new ChunkKey(file, page);
        loaded = false;
        try
        {
            final ByteBuffer buffer = cache.get(reading, loader);
            dst.put(index, buffer, inPage, length);
            if (!loaded)
            {
                hits++;
            }
        }
        catch (final UncheckedIOException ex)
        {
            throw ex.getCause();
        }
        finally
        {
            reading = null;
            if (null != deferredFree)
            {
                BufferUtil.free(deferredFree);
                deferredFree = null;
            }
        }
    }

    /**
     * The mapping function: a new direct page, zeros for a hole, else read from the device.
     *
     * @throws UncheckedIOException wrapping the translation or device failure; the page is freed and not cached.
     */
    private ByteBuffer load(final ChunkKey key)
    {
        final ByteBuffer buffer = ByteBuffer.allocateDirect(pageSize);
        try
        {
            store.translate(key.file(), key.page(), extent);
            if (!extent.isHole())
            {
                device.read(extent.blockOf(key.page()), buffer);
                deviceReads++;
            }
        }
        catch (final IOException ex)
        {
            BufferUtil.free(buffer);
            throw new UncheckedIOException(ex);
        }
        catch (final RuntimeException ex)
        {
            BufferUtil.free(buffer);
            throw ex;
        }
        buffer.clear();
        residentPages++;
        loaded = true;
        return buffer;
    }

    /**
     * The removal listener (evicted by size, or invalidated by {@link #close()}): frees the page now, or, if it is
     * the page being read, once the reader has copied it out.
     */
    private void removed(final ChunkKey key, final ByteBuffer buffer, final RemovalCause cause)
    {
        residentPages--;
        if (null != reading && reading.equals(key))
        {
            deferredFree = buffer;
        }
        else
        {
            BufferUtil.free(buffer);
        }
    }

    @Override
    public long hits()
    {
        return hits;
    }

    @Override
    public long deviceReads()
    {
        return deviceReads;
    }

    /**
     * {@inheritDoc}
     *
     * @return pages held times the page size, exact: buffers are allocated on a miss and freed on removal.
     */
    @Override
    public long residentBytes()
    {
        return residentPages * pageSize;
    }

    /**
     * {@inheritDoc}
     *
     * @return {@link #residentBytes()}: buffers are allocated on demand, nothing is reserved ahead.
     */
    @Override
    public long reservedBytes()
    {
        return residentBytes();
    }

    /**
     * {@inheritDoc}
     *
     * @return 0: keys, nodes and the hash table live on the Java heap.
     */
    @Override
    public long offHeapMetadataBytes()
    {
        return 0;
    }

    /**
     * Invalidates every page and frees its buffer; idempotent. The store and the device stay open.
     */
    @Override
    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        cache.invalidateAll();
        cache.cleanUp();
    }

    @Override
    public String toString()
    {
        return "CaffeineChunkCache{pageSize=" + pageSize + ", residentPages=" + residentPages + ", hits=" + hits +
            ", deviceReads=" + deviceReads + ", closed=" + closed + '}';
    }

    /**
     * The cache key, one per lookup as in Cassandra's {@code ChunkCache.Key}.
     *
     * @param file the store's file id.
     * @param page the page index in the file.
     */
    private record ChunkKey(long file, long page)
    {
    }
}
