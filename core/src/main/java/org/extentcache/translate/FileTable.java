package org.extentcache.translate;

import java.nio.file.NoSuchFileException;
import java.util.Arrays;
import java.util.Objects;

import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.collections.LongObjConsumer;

/**
 * The files of an {@link ExtentStore}: each id's size and {@link ExtentMap}, the next id to hand out, and the
 * translation of a file page to an {@link Extent}.
 *
 * <h2>Model</h2>
 * Ids run from 1 upwards and are never reused. A {@link FileState} is a file's size in bytes and its map from page
 * index to device block; a page no run covers is a hole. Whether a mapped page is shared comes from the block
 * reference counts ({@link BlockRefCounts}), which this table reads but never changes.
 *
 * <h2>Concurrency</h2>
 * Guarded by the store's {@link StoreLock}. {@link #create} takes the write lock; {@link #nextFileId},
 * {@link #exists}, {@link #size} and {@link #translate} take the read lock and run concurrently with each other.
 * Every other method is called by a piece of the store that already holds the lock (the write lock to change
 * anything).
 *
 * <h2>Costs</h2>
 * A primitive hash map from id to state. {@link #translate}: {@code O(log E)} binary search over the file's
 * {@code E} runs plus {@code O(log64 B)} to find where shared-ness changes among {@code B} blocks; it allocates
 * nothing (the caller supplies the {@link Extent}). Memory: 24 bytes per run per file.
 *
 * <p><b>Thread safety:</b> as above; the states it hands out are the lock's too.
 */
final class FileTable
{
    /** One file: its size in bytes and its extent map; changed only under the store's write lock. */
    static final class FileState
    {
        long size;
        final ExtentMap map;

        FileState(final long size, final ExtentMap map)
        {
            this.size = size;
            this.map = map;
        }
    }

    private final StoreLock lock;
    private final BlockRefCounts blocks;
    private final Long2ObjectHashMap<FileState> files = new Long2ObjectHashMap<>();
    private long nextFileId = 1;

    /**
     * @param lock   the store's lock.
     * @param blocks the store's block reference counts, read to say whether a page is shared.
     */
    FileTable(final StoreLock lock, final BlockRefCounts blocks)
    {
        this.lock = lock;
        this.blocks = blocks;
    }

    /**
     * Creates an empty file under the write lock.
     *
     * @return its id.
     * @throws IllegalStateException if the store is closed.
     */
    long create()
    {
        lock.write().lock();
        try
        {
            lock.ensureOpen();
            return add(0, new ExtentMap());
        }
        finally
        {
            lock.write().unlock();
        }
    }

    /**
     * @return the id the next new file gets, under the read lock.
     * @throws IllegalStateException if the store is closed.
     */
    long nextFileId()
    {
        lock.read().lock();
        try
        {
            lock.ensureOpen();
            return nextFileId;
        }
        finally
        {
            lock.read().unlock();
        }
    }

    /**
     * @return true if the file exists, under the read lock.
     * @throws IllegalStateException if the store is closed.
     */
    boolean exists(final long file)
    {
        lock.read().lock();
        try
        {
            lock.ensureOpen();
            return files.containsKey(file);
        }
        finally
        {
            lock.read().unlock();
        }
    }

    /**
     * @return the file's size, under the read lock.
     * @throws NoSuchFileException   if the file does not exist.
     * @throws IllegalStateException if the store is closed.
     */
    long size(final long file) throws NoSuchFileException
    {
        lock.read().lock();
        try
        {
            lock.ensureOpen();
            return get(file).size;
        }
        finally
        {
            lock.read().unlock();
        }
    }

    /**
     * Sets {@code extent} to the maximal run around {@code page}, under the read lock: see
     * {@link ExtentStore#translate}.
     *
     * @throws IllegalArgumentException if {@code page < 0}.
     * @throws NullPointerException     if {@code extent} is null.
     * @throws NoSuchFileException      if the file does not exist.
     * @throws IllegalStateException    if the store is closed.
     */
    void translate(final long file, final long page, final Extent extent) throws NoSuchFileException
    {
        PageGeometry.checkNotNegative("page", page);
        Objects.requireNonNull(extent, "extent");
        lock.read().lock();
        try
        {
            lock.ensureOpen();
            final ExtentMap map = get(file).map;
            final int run = map.floorRun(page);
            if (run >= 0 && page < map.endPage(run))
            {
                final long runPage = map.filePage(run);
                final long runBlock = map.deviceBlock(run);
                final long block = runBlock + (page - runPage);
                final long first = Math.max(runBlock, blocks.startOfSharedness(block));
                final long end = Math.min(runBlock + map.pageCount(run), blocks.endOfSharedness(block));
                extent.set(runPage + (first - runBlock), end - first, first, blocks.isShared(block));
            }
            else
            {
                final long holeStart = run >= 0 ? map.endPage(run) : 0;
                final long holeEnd = run + 1 < map.runCount() ? map.filePage(run + 1) : Long.MAX_VALUE;
                extent.set(holeStart, holeEnd - holeStart, Extent.HOLE, false);
            }
        }
        finally
        {
            lock.read().unlock();
        }
    }

    /**
     * The caller holds the lock.
     *
     * @return the file's state.
     * @throws NoSuchFileException if the file does not exist.
     */
    FileState get(final long file) throws NoSuchFileException
    {
        final FileState state = files.get(file);
        if (null == state)
        {
            throw new NoSuchFileException(null, null, "file " + file + " does not exist");
        }
        return state;
    }

    /**
     * The caller holds the lock.
     *
     * @return the file's state, or null if it does not exist.
     */
    FileState find(final long file)
    {
        return files.get(file);
    }

    /**
     * Adds a file with the next id; the caller holds the write lock.
     *
     * @param size its size.
     * @param map  its map, taken over.
     * @return its id.
     */
    long add(final long size, final ExtentMap map)
    {
        final long file = nextFileId++;
        files.put(file, new FileState(size, map));
        return file;
    }

    /**
     * Puts a recovered file; the caller holds the write lock or owns the store alone.
     */
    void restore(final long file, final long size, final ExtentMap map)
    {
        files.put(file, new FileState(size, map));
    }

    /**
     * Sets the recovered next id; the caller holds the write lock or owns the store alone.
     */
    void restoreNextFileId(final long next)
    {
        nextFileId = next;
    }

    /**
     * Drops a file; the caller holds the write lock.
     */
    void remove(final long file)
    {
        files.remove(file);
    }

    /**
     * The caller holds the lock.
     *
     * @return the id the next new file gets.
     */
    long peekNextFileId()
    {
        return nextFileId;
    }

    /**
     * The caller holds the lock.
     *
     * @return every file id, ascending.
     */
    long[] sortedIds()
    {
        final long[] ids = new long[files.size()];
        final int[] count = new int[1];
        files.forEachLong((id, state) -> ids[count[0]++] = id);
        Arrays.sort(ids);
        return ids;
    }

    /**
     * Calls {@code action} for every file, in no particular order; the caller holds the lock.
     */
    void forEach(final LongObjConsumer<FileState> action)
    {
        files.forEachLong(action);
    }
}
