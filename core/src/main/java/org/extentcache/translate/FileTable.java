package org.extentcache.translate;

import java.nio.file.NoSuchFileException;
import java.util.Arrays;
import java.util.Objects;

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
 * Guarded by the store's {@link StoreLock}. {@link #create} takes the write lock; {@link #nextFileId} and
 * {@link #exists} take the read lock. Every other method is called by a piece of the store that already holds the
 * lock (the write lock to change anything), except the two queries on the read path of every cache miss,
 * {@link #translate} and {@link #size}, which read optimistically:
 * <ol>
 *   <li>{@link StoreLock#tryOptimisticRead} (0 while a writer holds the write lock), and the closed flag;</li>
 *   <li>read the file's state without any lock, computing into locals and the caller's {@link Extent};</li>
 *   <li>{@link StoreLock#validate}: true means no write-lock hold overlapped the read, so what was read is the
 *       state between two mutations, exactly what the read lock would have given; return it.</li>
 *   <li>Otherwise, or if step 2 gave up, do it all again under the read lock.</li>
 * </ol>
 *
 * <h2>Torn reads</h2>
 * Step 2 may overlap a writer, and then reads a mixture of old, new and half-changed state: an {@link ExtentMap}
 * whose arrays are being shifted or replaced one after the other, a run count ahead of or behind its arrays, a file
 * index mid-resize or mid-shift, a bitmap whose summary words disagree with its words. Nothing read there is acted
 * on before step 3, so a wrong value is harmless; what must not happen is a read that never ends or that harms
 * anything else. The argument, piece by piece:
 * <ul>
 *   <li><b>Termination.</b> Every loop on the path is bounded by something the reader holds in a local or a final
 *       field: {@link FileIndex#get} probes at most its capacity, {@link ExtentMap#floorRun} is a binary search
 *       ({@code low} rises or {@code high} falls every step), and the {@link BlockBitmap} searches climb and descend
 *       at most its (final) number of levels.</li>
 *   <li><b>Exceptions.</b> A torn read can index outside an array (a run count or a bit index that belongs to
 *       another generation of the arrays) or, through a racily published {@link ExtentMap}, find an array field
 *       still null. Both are {@code RuntimeException}s, thrown before anything is changed; {@link #translate}
 *       catches them and retries under the read lock. A bug that throws the same way would throw again there, so
 *       nothing is hidden. {@link Extent#set} rejecting a torn run is caught the same way; extra checks reject a
 *       block outside the device or an empty run before they reach it.</li>
 *   <li><b>No side effects.</b> The path allocates nothing and writes only the caller's {@code Extent}, which the
 *       retry overwrites; the caller sees it only after a validation or the retry.</li>
 *   <li><b>Why validation suffices.</b> Every change to what the path reads (file index, maps, sizes, reference-count
 *       bitmaps, the closed flag) is made holding the write lock, and {@link StoreLock} ties every outermost hold to
 *       the stamped lock's write mode, whose memory-order pair with {@code validate} is described there.</li>
 * </ul>
 * Agrona's {@code Long2ObjectHashMap}, used here before, was replaced by {@link FileIndex} for the first point: its
 * lookup probe has no bound.
 *
 * <h2>Costs</h2>
 * A primitive hash map from id to state. {@link #translate}: {@code O(log E)} binary search over the file's
 * {@code E} runs plus {@code O(log64 B)} to find where shared-ness changes among {@code B} blocks; it allocates
 * nothing (the caller supplies the {@link Extent}) and, unless a writer overlaps it, writes no shared memory (no
 * lock word, no hold counter). A read overlapped by a writer is done twice, the second time waiting for the
 * writer. Memory: 24 bytes per run per file.
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
    private final FileIndex files = new FileIndex();
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
            return null != files.get(file);
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
        final long stamp = lock.tryOptimisticRead();
        if (0 != stamp && !lock.isClosed())
        {
            final FileState state = files.get(file);
            if (null != state)
            {
                final long size = state.size;
                if (lock.validate(stamp))
                {
                    return size;
                }
            }
        }
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
     * Sets {@code extent} to the maximal run around {@code page}: see {@link ExtentStore#translate}. Reads
     * optimistically first, then under the read lock if a writer overlapped the read (see the class comment).
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
        final long stamp = lock.tryOptimisticRead();
        if (0 != stamp && !lock.isClosed())
        {
            try
            {
                final FileState state = files.get(file);
                if (null != state && translate(state.map, page, extent) && lock.validate(stamp))
                {
                    return;
                }
            }
            catch (final RuntimeException torn)
            {
                // only a read torn by a writer gets here (see the class comment): the read lock settles it
            }
        }
        lock.read().lock();
        try
        {
            lock.ensureOpen();
            if (!translate(get(file).map, page, extent))
            {
                throw new IllegalStateException("extent map is not normalised: file=" + file + " page=" + page);
            }
        }
        finally
        {
            lock.read().unlock();
        }
    }

    /**
     * Sets {@code extent} from {@code map}, or returns false if what it read cannot be a consistent map (never
     * under the lock). Called under the read lock, or under an optimistic stamp: see the class comment for why
     * torn state can only make it compute a wrong answer, return false or throw.
     */
    private boolean translate(final ExtentMap map, final long page, final Extent extent)
    {
        final int run = map.floorRun(page);
        if (run >= 0 && page < map.endPage(run))
        {
            final long runPage = map.filePage(run);
            final long runBlock = map.deviceBlock(run);
            final long runPages = map.pageCount(run);
            final long block = runBlock + (page - runPage);
            if (block < 0 || block >= blocks.blockCount())
            {
                return false;
            }
            final long first = Math.max(runBlock, blocks.startOfSharedness(block));
            final long end = Math.min(runBlock + runPages, blocks.endOfSharedness(block));
            if (end <= first)
            {
                return false;
            }
            extent.set(runPage + (first - runBlock), end - first, first, blocks.isShared(block));
        }
        else
        {
            final long holeStart = run >= 0 ? map.endPage(run) : 0;
            final long holeEnd = run + 1 < map.runCount() ? map.filePage(run + 1) : Long.MAX_VALUE;
            if (holeEnd <= holeStart)
            {
                return false;
            }
            extent.set(holeStart, holeEnd - holeStart, Extent.HOLE, false);
        }
        return true;
    }

    /**
     * For tests: see {@link ExtentStore#mapUnderLock}.
     */
    long[] mapUnderLock(final long file, final int pages)
    {
        lock.read().lock();
        try
        {
            final FileState state = files.get(file);
            if (null == state)
            {
                return null;
            }
            final long[] map = new long[pages + 1];
            for (int page = 0; page < pages; page++)
            {
                map[page] = state.map.blockAt(page);
            }
            map[pages] = state.size;
            return map;
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
        files.forEach((id, state) -> ids[count[0]++] = id);
        Arrays.sort(ids);
        return ids;
    }

    /**
     * Calls {@code action} for every file, in no particular order; the caller holds the lock.
     */
    void forEach(final LongObjConsumer<FileState> action)
    {
        files.forEach(action);
    }
}
