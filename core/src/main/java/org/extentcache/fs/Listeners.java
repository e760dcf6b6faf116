package org.extentcache.fs;

import org.extentcache.translate.TranslationListener;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The {@link TranslationListener}s of a {@link FileSystemTranslator} (its cache's, and tests'), and the calls the
 * translator makes to them: {@link Announcement}s bracketing a change, and the news that pages translate differently,
 * that block keys are stale, or that a file is gone.
 *
 * <h2>Costs</h2>
 * Each call goes to every listener; a cache's listener drops stale frames block by block, a device-index lookup
 * each, so {@link #invalidate} costs the cache the number of blocks in its ranges: callers name only keys that may
 * have frames.
 *
 * <p><b>Thread safety:</b> safe for concurrent use; listeners are held in a copy-on-write list.
 */
final class Listeners
{
    private final CopyOnWriteArrayList<TranslationListener> listeners = new CopyOnWriteArrayList<>();

    void add(final TranslationListener listener)
    {
        listeners.add(listener);
    }

    void remove(final TranslationListener listener)
    {
        listeners.remove(listener);
    }

    /** @return an announcement of a change of {@code file}, to the listeners registered now. */
    Announcement announce(final long file)
    {
        return new Announcement(file);
    }

    /** Tells every listener that pages of {@code file} translate differently, or its size changed. */
    void pagesChanged(final long file, final long firstPage, final long pageCount, final long size)
    {
        for (final TranslationListener listener : listeners)
        {
            listener.pagesChanged(file, firstPage, pageCount, size);
        }
    }

    /** Tells every listener that the key ranges {@code [range[0], range[1])} are stale, then empties the list. */
    void invalidate(final List<long[]> ranges)
    {
        for (final long[] range : ranges)
        {
            for (final TranslationListener listener : listeners)
            {
                listener.blocksInvalidated(range[0], range[1] - range[0]);
            }
        }
        ranges.clear();
    }

    /** Tells every listener that the blocks {@code [first, first + count)} are stale. */
    void blocksInvalidated(final long first, final long count)
    {
        for (final TranslationListener listener : listeners)
        {
            listener.blocksInvalidated(first, count);
        }
    }

    /** Tells every listener that {@code file} is gone. */
    void fileDeleted(final long file)
    {
        for (final TranslationListener listener : listeners)
        {
            listener.fileDeleted(file);
        }
    }

    /**
     * Brackets one change of a file for the listeners: {@link TranslationListener#beforeChange} to each listener
     * registered when it starts, then {@link TranslationListener#afterChange} on close to exactly those that were
     * told (also those whose {@code beforeChange} threw), in reverse order. Called without the translator's locks.
     */
    final class Announcement implements AutoCloseable
    {
        private final TranslationListener[] told = listeners.toArray(new TranslationListener[0]);
        private final long file;
        private int count;

        Announcement(final long file)
        {
            this.file = file;
        }

        void before(final long firstPage, final long pageCount, final boolean discard) throws IOException
        {
            for (final TranslationListener listener : told)
            {
                count++;
                listener.beforeChange(file, firstPage, pageCount, discard);
            }
        }

        @Override
        public void close()
        {
            RuntimeException failure = null;
            for (int i = count - 1; i >= 0; i--)
            {
                try
                {
                    told[i].afterChange(file);
                }
                catch (final RuntimeException ex)
                {
                    failure = FileIo.firstOf(failure, ex);
                }
            }
            if (null != failure)
            {
                throw failure;
            }
        }
    }
}
