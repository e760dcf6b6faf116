package org.extentcache.translate;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;

import org.agrona.collections.LongArrayList;

/**
 * The {@link TranslationListener}s of an {@link ExtentStore}, and how each mutation tells them: an
 * {@link Announcement} before it, outside the store's lock, and a {@link Notification} after it, under the lock.
 *
 * <h2>Order</h2>
 * A {@link Notification} gathers what one mutation changed while it runs and {@link Notification#dispatch sends}
 * it in the order {@link ExtentStore} documents: {@code pagesChanged} for each file, then
 * {@code blocksInvalidated} with consecutive blocks grouped, then {@code fileDeleted}. A listener that throws does
 * not stop the others; the first exception is rethrown, the later ones suppressed in it. An {@link Announcement}
 * calls {@code beforeChange} for each file in the order added and, when closed, {@code afterChange} in reverse
 * order, only to the listeners that were told.
 *
 * <h2>Concurrency</h2>
 * The listener list is a {@link CopyOnWriteArrayList}: adding and removing take no store lock, and each
 * announcement or dispatch walks the list as it was when it started. {@link Notification#dispatch} is called
 * holding the store's write lock (so a freed block cannot be reallocated before every listener heard of it);
 * {@link Announcement}s are made and closed without it, by the thread making the mutation.
 *
 * <h2>Costs</h2>
 * A few small objects per mutation (the notification's list and tree map, the announcement's copy of the listener
 * array); nothing on the read path.
 *
 * <p><b>Thread safety:</b> the list is safe for concurrent use; a notification or announcement belongs to one
 * mutation and its thread.
 */
final class StoreListeners
{
    private final CopyOnWriteArrayList<TranslationListener> listeners = new CopyOnWriteArrayList<>();

    /**
     * @param listener the listener to add.
     * @throws NullPointerException if {@code listener} is null.
     */
    void add(final TranslationListener listener)
    {
        listeners.add(Objects.requireNonNull(listener, "listener"));
    }

    void remove(final TranslationListener listener)
    {
        listeners.remove(listener);
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
     * @return a new, empty notification for one mutation.
     */
    Notification notification()
    {
        return new Notification();
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
        final Notification notification = new Notification();
        for (int i = 0; i < freed.size(); i++)
        {
            notification.blocksInvalidated(freed.getLong(i), 1);
        }
        notification.dispatch();
    }

    /**
     * What one mutation tells the listeners, gathered while it runs and sent in the documented order by
     * {@link #dispatch}, still under the write lock.
     */
    final class Notification
    {
        private final List<long[]> pagesChanged = new ArrayList<>(2);
        private final TreeMap<Long, Long> invalidated = new TreeMap<>();
        private long deletedFile;
        private boolean deleted;

        void pagesChanged(final long file, final long firstPage, final long pageCount, final long size)
        {
            pagesChanged.add(new long[]{file, firstPage, pageCount, size});
        }

        void blocksInvalidated(final long firstBlock, final long blockCount)
        {
            invalidated.put(firstBlock, blockCount);
        }

        void fileDeleted(final long file)
        {
            deletedFile = file;
            deleted = true;
        }

        /**
         * Tells every listener, in the documented order.
         *
         * @throws RuntimeException the first a listener threw, once all were told.
         */
        void dispatch()
        {
            RuntimeException failure = null;
            for (final long[] change : pagesChanged)
            {
                for (final TranslationListener listener : listeners)
                {
                    try
                    {
                        listener.pagesChanged(change[0], change[1], change[2], change[3]);
                    }
                    catch (final RuntimeException ex)
                    {
                        failure = addFailure(failure, ex);
                    }
                }
            }
            long first = -1;
            long end = -1;
            for (final Map.Entry<Long, Long> range : invalidated.entrySet())
            {
                if (range.getKey() != end)
                {
                    failure = invalidate(first, end, failure);
                    first = range.getKey();
                }
                end = range.getKey() + range.getValue();
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
        private final TranslationListener[] told = listeners.toArray(new TranslationListener[0]);
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
