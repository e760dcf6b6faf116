package org.extentcache.translate;

/**
 * Reference counts of device blocks, and the block allocator built on them: the one place a block's count changes.
 *
 * <p>A block's count is the number of file pages that map it. A block is <em>free</em> at count 0,
 * <em>allocated</em> from 1, and <em>shared</em> from 2. Transitions, each a plain write under the owner's lock:
 * <pre>
 *   free --{@link #allocate}--&gt; 1 --{@link #retain}--&gt; 2 --retain--&gt; ... (at most maxRefCount)
 *   free &lt;--{@link #release}-- 1 &lt;--{@link #release}-- 2 &lt;--release-- ...
 * </pre>
 * Two {@link BlockBitmap}s mirror the counts so searches are fast: {@code allocated} (count &gt;= 1) gives the
 * allocator its lowest free block, and {@code shared} (count &gt;= 2) gives the translator the end of a run of
 * equally shared blocks in {@code O(log64 blockCount)}.
 *
 * <p><b>Costs:</b> counts live in chunks of {@value #CHUNK_BLOCKS} {@code int}s allocated when a block of the chunk
 * is first allocated (a large, mostly free device costs little); the two bitmaps cost {@code blockCount / 4} bytes
 * up front.
 *
 * <p><b>Misuse</b> fails fast with {@link IllegalStateException}: retaining or releasing a free block (a double
 * release or a release after free), allocating an allocated block, and retaining past {@code maxRefCount}.
 *
 * <p><b>Thread safety:</b> none; {@link ExtentStore} guards it with its lock.
 */
final class BlockRefCounts
{
    static final int CHUNK_SHIFT = 16;
    static final int CHUNK_BLOCKS = 1 << CHUNK_SHIFT;
    private static final int CHUNK_MASK = CHUNK_BLOCKS - 1;

    private final long blockCount;
    private final int maxRefCount;
    private final int[][] chunks;
    private final BlockBitmap allocated;
    private final BlockBitmap shared;
    private long allocatedCount;

    /**
     * @param blockCount  number of device blocks, from 1 to {@code Integer.MAX_VALUE}.
     * @param maxRefCount the largest count a block may reach, {@code >= 2}; {@code Integer.MAX_VALUE} outside tests.
     * @throws IllegalArgumentException naming the offending value.
     */
    BlockRefCounts(final long blockCount, final int maxRefCount)
    {
        if (maxRefCount < 2)
        {
            throw new IllegalArgumentException("maxRefCount must be >= 2: maxRefCount=" + maxRefCount);
        }
        this.allocated = new BlockBitmap(blockCount);
        this.shared = new BlockBitmap(blockCount);
        this.blockCount = blockCount;
        this.maxRefCount = maxRefCount;
        this.chunks = new int[(int)((blockCount + CHUNK_MASK) >>> CHUNK_SHIFT)][];
    }

    /**
     * @return number of device blocks.
     */
    long blockCount()
    {
        return blockCount;
    }

    /**
     * @return blocks with a count of at least 1.
     */
    long allocatedCount()
    {
        return allocatedCount;
    }

    /**
     * @return blocks with a count of 0.
     */
    long freeCount()
    {
        return blockCount - allocatedCount;
    }

    /**
     * @param block a device block in {@code [0, blockCount)}.
     * @return its reference count, 0 when free.
     */
    int refCount(final long block)
    {
        final int[] chunk = chunks[(int)(block >>> CHUNK_SHIFT)];
        return null == chunk ? 0 : chunk[(int)(block & CHUNK_MASK)];
    }

    /**
     * @param block a device block in {@code [0, blockCount)}.
     * @return whether more than one file page maps it.
     */
    boolean isShared(final long block)
    {
        return shared.get(block);
    }

    /**
     * @param from first block to look at.
     * @return the lowest free block at or after {@code from}, or {@code blockCount} if none.
     */
    long nextFree(final long from)
    {
        return allocated.nextClear(from);
    }

    /**
     * @param from first block to look at.
     * @return the lowest allocated block at or after {@code from}, or {@code blockCount} if none.
     */
    long nextAllocated(final long from)
    {
        return allocated.nextSet(from);
    }

    /**
     * @param block a device block.
     * @return the first block after {@code block} whose shared-ness differs from it, or {@code blockCount}.
     */
    long endOfSharedness(final long block)
    {
        return shared.get(block) ? shared.nextClear(block) : shared.nextSet(block);
    }

    /**
     * @param block a device block.
     * @return the first block of the run of blocks ending at {@code block} whose shared-ness equals it.
     */
    long startOfSharedness(final long block)
    {
        return 1 + (shared.get(block) ? shared.previousClear(block) : shared.previousSet(block));
    }

    /**
     * Takes a free block: its count becomes 1.
     *
     * @param block a free device block.
     * @throws IllegalStateException if the block is not free.
     */
    void allocate(final long block)
    {
        final int count = refCount(block);
        if (count != 0)
        {
            throw new IllegalStateException("block is not free: block=" + block + " refCount=" + count);
        }
        int[] chunk = chunks[(int)(block >>> CHUNK_SHIFT)];
        if (null == chunk)
        {
            chunk = new int[CHUNK_BLOCKS];
            chunks[(int)(block >>> CHUNK_SHIFT)] = chunk;
        }
        chunk[(int)(block & CHUNK_MASK)] = 1;
        allocated.set(block);
        allocatedCount++;
    }

    /**
     * Adds a reference to an allocated block.
     *
     * @param block an allocated device block.
     * @throws IllegalStateException if the block is free (retain after free) or already at the largest count.
     */
    void retain(final long block)
    {
        final int count = refCount(block);
        if (count == 0)
        {
            throw new IllegalStateException("retain of a free block: block=" + block);
        }
        if (count >= maxRefCount)
        {
            throw new IllegalStateException(
                "reference count overflow: block=" + block + " refCount=" + count + " maxRefCount=" + maxRefCount);
        }
        chunks[(int)(block >>> CHUNK_SHIFT)][(int)(block & CHUNK_MASK)] = count + 1;
        if (count == 1)
        {
            shared.set(block);
        }
    }

    /**
     * Drops a reference to an allocated block, freeing it when the count reaches 0.
     *
     * @param block an allocated device block.
     * @return true if the block is now free.
     * @throws IllegalStateException if the block is already free (double release or release after free).
     */
    boolean release(final long block)
    {
        final int count = refCount(block);
        if (count == 0)
        {
            throw new IllegalStateException("release of a free block: block=" + block);
        }
        chunks[(int)(block >>> CHUNK_SHIFT)][(int)(block & CHUNK_MASK)] = count - 1;
        if (count == 2)
        {
            shared.clear(block);
        }
        else if (count == 1)
        {
            allocated.clear(block);
            allocatedCount--;
            return true;
        }
        return false;
    }
}
