package org.extentcache.translate;

import java.io.IOException;

import org.agrona.collections.LongHashSet;

/**
 * The block books of an {@link ExtentStore}: how many file pages reference each device block
 * ({@link BlockRefCounts}), which free blocks a mutation picks, the blocks the cache holds reserved, and the one
 * remapping step every mutation ends with, {@link #replacePages}.
 *
 * <h2>References</h2>
 * Every page that maps a block holds one reference to it; a reserved block holds one for the page it will be
 * committed to; a persistent store's durable maps hold one more each ({@link DurableState}). A block with none is
 * free. Allocation is lowest free block first. A mutation first picks its blocks without taking them
 * ({@link #pickFreeBlocks}, {@link #nextFree}), writes its data there, and only then takes them
 * ({@link #takeBlocks}) and remaps ({@link #replacePages}), so a failed write leaves the books as they were.
 * Each freed or newly taken block is added to the mutation's {@link StoreListeners.Notification}. The remapping
 * step reuses two scratch {@link RunList}s held here, under the write lock, so remapping one page allocates
 * nothing.
 *
 * <h2>Concurrency</h2>
 * Guarded by the store's {@link StoreLock}. {@link #refCount}, {@link #allocatedBlocks}, {@link #freeBlocks} and
 * {@link #reservedBlocks} take the read lock themselves; every other method is called holding the write lock.
 *
 * <h2>Costs</h2>
 * Finding free blocks and where shared-ness changes is {@code O(log64 B)} per run ({@link BlockBitmap}); taking and
 * dropping references is {@code O(1)} per block. Memory: {@code B / 4} bytes of bitmaps up front and 4 bytes per
 * block of reference counts, allocated in chunks as blocks are first used; a hash set of reserved blocks.
 *
 * <p><b>Thread safety:</b> as above.
 */
final class BlockLedger
{
    private final StoreLock lock;
    private final BlockRefCounts blocks;
    private final LongHashSet reserved = new LongHashSet();
    /** Scratch for {@link #replacePages}: the runs the range mapped before. */
    private final RunList replaced = new RunList();
    /** Scratch for {@link #replacePages}: the runs {@link ExtentMap#replace} splices in. */
    private final RunList segment = new RunList();

    /**
     * @param lock        the store's lock.
     * @param blockCount  the device's blocks.
     * @param maxRefCount the largest reference count of a block.
     */
    BlockLedger(final StoreLock lock, final long blockCount, final int maxRefCount)
    {
        this.lock = lock;
        this.blocks = new BlockRefCounts(blockCount, maxRefCount);
    }

    /**
     * @return the reference counts themselves, for the file table's translation and the durable state.
     */
    BlockRefCounts counts()
    {
        return blocks;
    }

    /**
     * @return the block's reference count, under the read lock.
     * @throws IllegalArgumentException if the block is outside the device.
     * @throws IllegalStateException    if the store is closed.
     */
    int refCount(final long block)
    {
        if (block < 0 || block >= blocks.blockCount())
        {
            throw new IllegalArgumentException(
                "block outside the device: block=" + block + " blockCount=" + blocks.blockCount());
        }
        lock.read().lock();
        try
        {
            lock.ensureOpen();
            return blocks.refCount(block);
        }
        finally
        {
            lock.read().unlock();
        }
    }

    /**
     * @return blocks with at least one reference, under the read lock.
     * @throws IllegalStateException if the store is closed.
     */
    long allocatedBlocks()
    {
        lock.read().lock();
        try
        {
            lock.ensureOpen();
            return blocks.allocatedCount();
        }
        finally
        {
            lock.read().unlock();
        }
    }

    /**
     * @return blocks with no reference, under the read lock.
     * @throws IllegalStateException if the store is closed.
     */
    long freeBlocks()
    {
        lock.read().lock();
        try
        {
            lock.ensureOpen();
            return blocks.freeCount();
        }
        finally
        {
            lock.read().unlock();
        }
    }

    /**
     * @return blocks reserved and not yet committed or released, under the read lock; works on a closed store.
     */
    int reservedBlocks()
    {
        lock.read().lock();
        try
        {
            return reserved.size();
        }
        finally
        {
            lock.read().unlock();
        }
    }

    /**
     * @throws IOException {@code "device full: ..."} if fewer than {@code needed} blocks are free.
     */
    void checkFree(final long needed) throws IOException
    {
        if (needed > blocks.freeCount())
        {
            throw new IOException("device full: blockCount=" + blocks.blockCount() + " free=" + blocks.freeCount() +
                " needed=" + needed);
        }
    }

    /**
     * @return the lowest free block at or after {@code from}, not taken.
     */
    long nextFree(final long from)
    {
        return blocks.nextFree(from);
    }

    /**
     * Picks, without taking them, the lowest free blocks for {@code pageCount} pages from {@code firstPage}; the
     * caller checked that enough are free.
     */
    RunList pickFreeBlocks(final long firstPage, final long pageCount)
    {
        final RunList runs = new RunList();
        long page = firstPage;
        long remaining = pageCount;
        long from = 0;
        while (remaining > 0)
        {
            final long start = blocks.nextFree(from);
            final long end = Math.min(blocks.nextAllocated(start), start + remaining);
            runs.add(page, start, end - start);
            page += end - start;
            remaining -= end - start;
            from = end;
        }
        return runs;
    }

    /**
     * Adds a reference to every block of {@code runs}; on overflow drops the ones it added and rethrows.
     *
     * @throws IllegalStateException if a block's reference count would overflow; then nothing changed.
     */
    void retainAll(final RunList runs)
    {
        for (int i = 0; i < runs.size(); i++)
        {
            final long first = runs.deviceBlock(i);
            final long end = first + runs.pageCount(i);
            for (long block = first; block < end; block++)
            {
                try
                {
                    blocks.retain(block);
                }
                catch (final IllegalStateException ex)
                {
                    for (long undo = first; undo < block; undo++)
                    {
                        blocks.release(undo);
                    }
                    for (int j = 0; j < i; j++)
                    {
                        for (long undo = runs.deviceBlock(j); undo < runs.deviceBlock(j) + runs.pageCount(j); undo++)
                        {
                            blocks.release(undo);
                        }
                    }
                    throw ex;
                }
            }
        }
    }

    /**
     * Takes the freshly written blocks of {@code fresh} (count 1) and reports them as invalidated.
     */
    void takeBlocks(final RunList fresh, final StoreListeners.Notification notification)
    {
        for (int i = 0; i < fresh.size(); i++)
        {
            final long first = fresh.deviceBlock(i);
            for (long block = first; block < first + fresh.pageCount(i); block++)
            {
                blocks.allocate(block);
            }
            notification.blocksInvalidated(first, fresh.pageCount(i));
        }
    }

    /**
     * Makes the range map {@code runs} (whose references the caller already holds) and drops the references of the
     * blocks the range mapped before, reporting those freed. Allocates nothing for a small range: it works in two
     * scratch lists of this ledger, which are safe to reuse because every caller holds the write lock and nothing
     * in here calls out (the listeners hear of the change later, from the notification, when these lists are no
     * longer in use).
     */
    void replacePages(
        final ExtentMap map, final long firstPage, final long pageCount, final RunList runs,
        final StoreListeners.Notification notification)
    {
        replaced.clear();
        map.collect(firstPage, pageCount, replaced);
        map.replace(firstPage, pageCount, runs, segment);
        for (int i = 0; i < replaced.size(); i++)
        {
            final long first = replaced.deviceBlock(i);
            for (long block = first; block < first + replaced.pageCount(i); block++)
            {
                if (blocks.release(block))
                {
                    notification.blocksInvalidated(block, 1);
                }
            }
        }
    }

    /**
     * Takes the lowest free block, holding it reserved with one reference.
     *
     * @return the block.
     * @throws IOException {@code "device full: ..."} if no block is free.
     */
    long reserve() throws IOException
    {
        checkFree(1);
        final long block = blocks.nextFree(0);
        blocks.allocate(block);
        reserved.add(block);
        return block;
    }

    /**
     * Ends a reservation; the block keeps its reference.
     *
     * @throws IllegalArgumentException if the block is not reserved.
     */
    void unreserve(final long block)
    {
        if (!reserved.remove(block))
        {
            throw new IllegalArgumentException("block is not reserved: block=" + block);
        }
    }

    /**
     * Drops one reference.
     *
     * @return true if the block is now free.
     */
    boolean release(final long block)
    {
        return blocks.release(block);
    }

    /**
     * Adds the reference of a recovered map's page: takes a free block, or retains a taken one.
     */
    void restoreReference(final long block)
    {
        if (blocks.refCount(block) == 0)
        {
            blocks.allocate(block);
        }
        else
        {
            blocks.retain(block);
        }
    }
}
