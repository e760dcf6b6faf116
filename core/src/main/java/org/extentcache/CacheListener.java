package org.extentcache;

import org.extentcache.translate.TranslationListener;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The {@link ExtentCache}'s {@link TranslationListener}: keeps its file mappings and frames consistent with the
 * translator. A change the translator is about to make to a file ({@link #beforeChange}) has the file's dirty pages
 * in the range written back and its writers held off until {@link #afterChange}; remapped pages drop the file's
 * handles for them ({@link #pagesChanged}); freed or rewritten blocks drop their frames ({@link #blocksInvalidated});
 * a deleted file leaves the cache's file table with its mapping emptied ({@link #fileDeleted}).
 *
 * <p>Thread-safe: the translator may call it from any thread, at once. A {@code beforeChange} and its
 * {@code afterChange} come on one thread (the writer lock taken in the first is released in the second), nested
 * innermost last. Registered by the cache once every field of the cache is set, removed at its close.
 */
final class CacheListener implements TranslationListener
{
    private final ExtentCache cache;
    private final ConcurrentHashMap<Long, CachedFile> files;
    private final DeviceCache frames;
    /** Files whose writer lock this thread took in {@link #beforeChange}, innermost last; null for none. */
    private final ThreadLocal<java.util.ArrayDeque<Object>> changing =
        ThreadLocal.withInitial(java.util.ArrayDeque::new);
    private final Object none = new Object();

    /**
     * @param cache  the cache whose views it brackets and replaces.
     * @param files  the cache's file table.
     * @param frames the cache's frames, whose blocks it invalidates.
     */
    CacheListener(final ExtentCache cache, final ConcurrentHashMap<Long, CachedFile> files, final DeviceCache frames)
    {
        this.cache = cache;
        this.files = files;
        this.frames = frames;
    }

    @Override
    public void beforeChange(final long file, final long firstPage, final long pageCount, final boolean discard)
        throws IOException
    {
        // a view being closed still brackets the change (its writer may be mid-write); a new one is made, so a
        // writer that starts now waits, unless the cache is closing
        final java.util.ArrayDeque<Object> held = changing.get();
        while (true)
        {
            CachedFile cached = cache.isClosed() ? null : files.get(file);
            if (null != cached && cached.isForgotten())
            {
                cached = null; // closed in the cache: its lock keeps no writer out
            }
            if (null == cached && !cache.isClosing())
            {
                try
                {
                    cached = cache.file(file); // a view closed in the cache is replaced by a fresh one
                }
                catch (final NoSuchFileException | IllegalStateException ex)
                {
                    cached = null;
                }
            }
            held.addLast(null == cached ? none : cached);
            if (null == cached || cached.changeComing(firstPage, pageCount, discard))
            {
                return;
            }
            held.pollLast(); // closed in the cache while this waited for its lock: bracket the next view
        }
    }

    @Override
    public void afterChange(final long file)
    {
        final Object cached = changing.get().pollLast();
        if (cached instanceof CachedFile)
        {
            ((CachedFile)cached).changeDone();
        }
    }

    @Override
    public void pagesChanged(final long file, final long firstPage, final long pageCount, final long size)
    {
        final CachedFile cached = files.get(file);
        if (null != cached)
        {
            cached.changed(firstPage, pageCount, size);
        }
    }

    @Override
    public void blocksInvalidated(final long firstBlock, final long blockCount)
    {
        if (cache.isClosed())
        {
            return;
        }
        for (long block = firstBlock; block < firstBlock + blockCount; block++)
        {
            frames.invalidate(block);
        }
    }

    @Override
    public void fileDeleted(final long file)
    {
        final CachedFile cached = files.remove(file);
        if (null != cached)
        {
            cached.markDeleted();
        }
    }
}
