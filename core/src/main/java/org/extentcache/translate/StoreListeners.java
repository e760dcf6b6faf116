package org.extentcache.translate;

import java.io.IOException;
import java.util.Arrays;
import java.util.Objects;

import org.agrona.collections.LongArrayList;

/**
 * The {@link TranslationListener}s of an {@link ExtentStore}, and how each mutation tells them: an
 * {@link Announcement} before it, outside the store's lock, and a {@link Notification} after it, under the lock.
 *
 * <h2>Order</h2>
 * A {@link Notification} gathers what one mutation changed while it runs and {@link Notification#dispatch sends}
 * it in the order {@link ExtentStore} documents: {@code pagesChanged} for each file, in the order added, then
 * {@code blocksInvalidated} in block order with consecutive blocks grouped (a block range added twice counts once,
 * with the count added last), then {@code fileDeleted}. A listener that throws does not stop the others; the first
 * exception is rethrown, the later ones suppressed in it. An {@link Announcement} calls {@code beforeChange} for
 * each file in the order added and, when closed, {@code afterChange} in reverse order, only to the listeners that
 * were told.
 *
 * <h2>Concurrency</h2>
 * The listeners are a copy-on-write array: {@link #add} and {@link #remove} replace it whole under this object's
 * monitor (a volatile store, read by the volatile load that starts each round of calls), and take no store lock.
 * Each round of calls in a dispatch (one change, one block range, the deletion) walks the array as it was when
 * that round started; an announcement walks the array as it was when it was made. {@link Notification#dispatch} is
 * called holding the store's write lock (so a freed block cannot be reallocated before every listener heard of
 * it); {@link Announcement}s are made and closed without it, by the thread making the mutation.
 *
 * <h2>Reuse</h2>
 * {@link #notification} hands out one scratch {@link Notification}, reset, to a caller holding the store's write
 * lock: only one thread at a time can hold it, and a mutation gathers its notification without calling out, so
 * the only way a second mutation can start while the scratch one is live is from a listener, on the same thread,
 * during its {@link Notification#dispatch} (the write lock is reentrant; {@link TranslationListener} forbids it,
 * but nothing stops it). While the scratch notification dispatches, or when the caller does not hold the write
 * lock, {@link #notification} returns a new one instead, so an outer dispatch never sees its changes overwritten.
 * A mutation that fails before dispatching abandons the scratch notification; the next one resets it.
 *
 * <h2>Costs</h2>
 * A notification's changes and block ranges are primitive arrays, reused; ranges added in increasing block order
 * (a single-page commit, a write) are never sorted, others get one stable merge sort at dispatch. So the cache's
 * single-page commit allocates nothing here. An announcement costs three small objects per mutation. A mutation
 * that touched more than {@link #RETAINED_CAPACITY} block ranges leaves the scratch arrays to be dropped back to
 * their initial size at the next reset.
 *
 * <p><b>Thread safety:</b> the listener array is safe for concurrent use; a notification or announcement belongs
 * to one mutation and its thread.
 */
final class StoreListeners
{
    /** Block ranges (and page changes) a reset scratch notification keeps room for. */
    static final int RETAINED_CAPACITY = 1024;
    private static final TranslationListener[] NONE = new TranslationListener[0];
    private static final int CHANGE_STRIDE = 4;

    private final StoreLock lock;
    /** Replaced whole, never modified in place; written under this object's monitor. */
    private volatile TranslationListener[] listeners = NONE;
    private final Notification scratch = new Notification();

    /**
     * @param lock the store's lock: the scratch notification is only handed out to its write-lock holder.
     */
    StoreListeners(final StoreLock lock)
    {
        this.lock = lock;
    }

    /**
     * @param listener the listener to add.
     * @throws NullPointerException if {@code listener} is null.
     */
    void add(final TranslationListener listener)
    {
        Objects.requireNonNull(listener, "listener");
        synchronized (this)
        {
            final TranslationListener[] current = listeners;
            final TranslationListener[] grown = Arrays.copyOf(current, current.length + 1);
            grown[current.length] = listener;
            listeners = grown;
        }
    }

    /**
     * Removes the first registration of {@code listener}, if any.
     */
    void remove(final TranslationListener listener)
    {
        synchronized (this)
        {
            final TranslationListener[] current = listeners;
            for (int i = 0; i < current.length; i++)
            {
                if (Objects.equals(listener, current[i]))
                {
                    final TranslationListener[] shrunk = new TranslationListener[current.length - 1];
                    System.arraycopy(current, 0, shrunk, 0, i);
                    System.arraycopy(current, i + 1, shrunk, i, current.length - i - 1);
                    listeners = shrunk;
                    return;
                }
            }
        }
    }

    /**
     * @return a new announcement over the listeners registered now; the caller closes it when its mutation is done
     * or abandoned.
     */
    Announcement announce()
    {
        return new Announcement();
    }

    /**
     * @return an empty notification for one mutation: this store's scratch one, reset, if the caller holds the
     * write lock and the scratch one is not dispatching (see Reuse above), else a new one. The caller dispatches it
     * before it releases the write lock, or abandons it.
     */
    Notification notification()
    {
        if (scratch.dispatching || !lock.readWriteLock().isWriteLockedByCurrentThread())
        {
            return new Notification();
        }
        scratch.reset();
        return scratch;
    }

    /**
     * Tells the listeners of blocks freed by dropping durable references; the caller holds the write lock.
     *
     * @param freed the blocks, one each.
     */
    void blocksFreed(final LongArrayList freed)
    {
        if (freed.isEmpty())
        {
            return;
        }
        final Notification notification = notification();
        for (int i = 0; i < freed.size(); i++)
        {
            notification.blocksInvalidated(freed.getLong(i), 1);
        }
        notification.dispatch();
    }

    /**
     * What one mutation tells the listeners, gathered while it runs and sent in the documented order by
     * {@link #dispatch}, still under the write lock.
     *
     * <p><b>Layout:</b> {@code changes} holds {@link #CHANGE_STRIDE} longs per {@code pagesChanged}, in the order
     * added: file, first page, page count, size. {@code firstBlocks[i]} and {@code blockCounts[i]} are the
     * {@code i}th block range added; {@code inOrder} stays true while each range starts after the one before, and
     * otherwise {@link #dispatch} sorts them (stably, into {@code sortBlocks} and {@code sortCounts}) first.
     */
    final class Notification
    {
        private long[] changes = new long[2 * CHANGE_STRIDE];
        private int changeCount;
        private long[] firstBlocks = new long[4];
        private long[] blockCounts = new long[4];
        private long[] sortBlocks;
        private long[] sortCounts;
        private int rangeCount;
        private boolean inOrder = true;
        private long deletedFile;
        private boolean deleted;
        private boolean dispatching;

        /** Empties this notification for the next mutation; large arrays go back to their initial size. */
        private void reset()
        {
            if (changes.length > RETAINED_CAPACITY * CHANGE_STRIDE)
            {
                changes = new long[2 * CHANGE_STRIDE];
            }
            if (firstBlocks.length > RETAINED_CAPACITY)
            {
                firstBlocks = new long[4];
                blockCounts = new long[4];
            }
            if (null != sortBlocks && sortBlocks.length > RETAINED_CAPACITY)
            {
                sortBlocks = null;
                sortCounts = null;
            }
            changeCount = 0;
            rangeCount = 0;
            inOrder = true;
            deleted = false;
            deletedFile = 0;
        }

        void pagesChanged(final long file, final long firstPage, final long pageCount, final long size)
        {
            final int at = changeCount * CHANGE_STRIDE;
            if (at == changes.length)
            {
                changes = Arrays.copyOf(changes, at * 2);
            }
            changes[at] = file;
            changes[at + 1] = firstPage;
            changes[at + 2] = pageCount;
            changes[at + 3] = size;
            changeCount++;
        }

        void blocksInvalidated(final long firstBlock, final long blockCount)
        {
            if (rangeCount == firstBlocks.length)
            {
                firstBlocks = Arrays.copyOf(firstBlocks, rangeCount * 2);
                blockCounts = Arrays.copyOf(blockCounts, rangeCount * 2);
            }
            if (rangeCount > 0 && firstBlock <= firstBlocks[rangeCount - 1])
            {
                inOrder = false;
            }
            firstBlocks[rangeCount] = firstBlock;
            blockCounts[rangeCount] = blockCount;
            rangeCount++;
        }

        void fileDeleted(final long file)
        {
            deletedFile = file;
            deleted = true;
        }

        /**
         * Tells every listener, in the documented order. While it runs, {@link StoreListeners#notification} hands a
         * nested mutation a new notification rather than this one.
         *
         * @throws RuntimeException the first a listener threw, once all were told.
         */
        void dispatch()
        {
            dispatching = true;
            try
            {
                send();
            }
            finally
            {
                dispatching = false;
            }
        }

        private void send()
        {
            RuntimeException failure = null;
            for (int change = 0; change < changeCount; change++)
            {
                final int at = change * CHANGE_STRIDE;
                for (final TranslationListener listener : listeners)
                {
                    try
                    {
                        listener.pagesChanged(changes[at], changes[at + 1], changes[at + 2], changes[at + 3]);
                    }
                    catch (final RuntimeException ex)
                    {
                        failure = addFailure(failure, ex);
                    }
                }
            }
            if (!inOrder)
            {
                sortRanges();
            }
            long first = -1;
            long end = -1;
            for (int i = 0; i < rangeCount; i++)
            {
                final long block = firstBlocks[i];
                if (i + 1 < rangeCount && firstBlocks[i + 1] == block)
                {
                    continue;
                }
                if (block != end)
                {
                    failure = invalidate(first, end, failure);
                    first = block;
                }
                end = block + blockCounts[i];
            }
            failure = invalidate(first, end, failure);
            if (deleted)
            {
                for (final TranslationListener listener : listeners)
                {
                    try
                    {
                        listener.fileDeleted(deletedFile);
                    }
                    catch (final RuntimeException ex)
                    {
                        failure = addFailure(failure, ex);
                    }
                }
            }
            if (null != failure)
            {
                throw failure;
            }
        }

        /**
         * Sorts the block ranges by first block, stably (so of two ranges with the same first block, the one added
         * last stays last and {@link #send} keeps it): a bottom-up merge sort swapping between the range arrays and
         * the sort arrays. {@code O(n log n)}; allocates the sort arrays only when they are too small.
         */
        private void sortRanges()
        {
            if (null == sortBlocks || sortBlocks.length < rangeCount)
            {
                sortBlocks = new long[firstBlocks.length];
                sortCounts = new long[firstBlocks.length];
            }
            long[] fromBlocks = firstBlocks;
            long[] fromCounts = blockCounts;
            long[] toBlocks = sortBlocks;
            long[] toCounts = sortCounts;
            for (int width = 1; width < rangeCount; width *= 2)
            {
                for (int low = 0; low < rangeCount; low += 2 * width)
                {
                    final int middle = Math.min(low + width, rangeCount);
                    final int high = Math.min(low + 2 * width, rangeCount);
                    int left = low;
                    int right = middle;
                    for (int to = low; to < high; to++)
                    {
                        if (left < middle && (right >= high || fromBlocks[left] <= fromBlocks[right]))
                        {
                            toBlocks[to] = fromBlocks[left];
                            toCounts[to] = fromCounts[left++];
                        }
                        else
                        {
                            toBlocks[to] = fromBlocks[right];
                            toCounts[to] = fromCounts[right++];
                        }
                    }
                }
                final long[] swapBlocks = fromBlocks;
                final long[] swapCounts = fromCounts;
                fromBlocks = toBlocks;
                fromCounts = toCounts;
                toBlocks = swapBlocks;
                toCounts = swapCounts;
            }
            firstBlocks = fromBlocks;
            blockCounts = fromCounts;
            sortBlocks = toBlocks;
            sortCounts = toCounts;
            inOrder = true;
        }

        private RuntimeException invalidate(final long first, final long end, final RuntimeException failure)
        {
            RuntimeException result = failure;
            if (first >= 0)
            {
                for (final TranslationListener listener : listeners)
                {
                    try
                    {
                        listener.blocksInvalidated(first, end - first);
                    }
                    catch (final RuntimeException ex)
                    {
                        result = addFailure(result, ex);
                    }
                }
            }
            return result;
        }

        private RuntimeException addFailure(final RuntimeException failure, final RuntimeException ex)
        {
            if (null == failure)
            {
                return ex;
            }
            failure.addSuppressed(ex);
            return failure;
        }
    }

    /**
     * Listeners told of a coming change by {@link #add}, outside the store's lock; closing it tells them the change
     * is over. One per mutation, closed by the thread that made it.
     */
    final class Announcement implements AutoCloseable
    {
        private final TranslationListener[] told = listeners;
        private final long[] files = new long[2];
        private final int[] toldCount = new int[2];
        private int fileCount;

        /**
         * Tells every listener that {@code file}'s pages are about to change; at most two files per announcement.
         *
         * @throws IOException if a listener fails to prepare (a cache's write-back); the listeners told so far are
         *                     still told {@code afterChange} when this closes.
         */
        void add(final long file, final long firstPage, final long pageCount, final boolean discard) throws IOException
        {
            final int slot = fileCount++;
            files[slot] = file;
            for (final TranslationListener listener : told)
            {
                toldCount[slot]++;
                listener.beforeChange(file, firstPage, pageCount, discard);
            }
        }

        @Override
        public void close()
        {
            for (int slot = fileCount - 1; slot >= 0; slot--)
            {
                for (int i = toldCount[slot] - 1; i >= 0; i--)
                {
                    told[i].afterChange(files[slot]);
                }
            }
        }
    }
}
