package org.extentcache.translate;

import java.io.IOException;
import java.util.List;

/**
 * A member's change notifications, moved into the group's file ids and block keys and passed to every listener
 * of the group. Each listener gets every call, even when an earlier listener throws (as an {@link ExtentStore}'s
 * own listeners do): a listener that throws must not keep a cache from hearing of a remap or a freed block, nor
 * from the {@code afterChange} that releases the file's writers. The first failure is rethrown once every
 * listener was told, the later ones suppressed in it.
 */
final class GroupListener implements TranslationListener
{
    /** The member's index in its group. */
    private final int member;
    /** The group's listeners (a cache's), copy-on-write. */
    private final List<TranslationListener> listeners;
    private final GroupKeys keys;

    GroupListener(final int member, final List<TranslationListener> listeners, final GroupKeys keys)
    {
        this.member = member;
        this.listeners = listeners;
        this.keys = keys;
    }

    @Override
    public void beforeChange(final long file, final long firstPage, final long pageCount, final boolean discard)
        throws IOException
    {
        final long groupFile = GroupKeys.fileId(member, file);
        IOException failure = null;
        RuntimeException unchecked = null;
        for (final TranslationListener listener : listeners)
        {
            try
            {
                listener.beforeChange(groupFile, firstPage, pageCount, discard);
            }
            catch (final IOException ex)
            {
                failure = TranslatorGroup.first(failure, ex);
            }
            catch (final RuntimeException ex)
            {
                unchecked = TranslatorGroup.first(unchecked, ex);
            }
        }
        if (null != failure)
        {
            if (null != unchecked)
            {
                failure.addSuppressed(unchecked);
            }
            throw failure;
        }
        if (null != unchecked)
        {
            throw unchecked;
        }
    }

    @Override
    public void afterChange(final long file)
    {
        final long groupFile = GroupKeys.fileId(member, file);
        RuntimeException failure = null;
        for (final TranslationListener listener : listeners)
        {
            try
            {
                listener.afterChange(groupFile);
            }
            catch (final RuntimeException ex)
            {
                failure = TranslatorGroup.first(failure, ex);
            }
        }
        throwIfAny(failure);
    }

    @Override
    public void pagesChanged(final long file, final long firstPage, final long pageCount, final long size)
    {
        final long groupFile = GroupKeys.fileId(member, file);
        RuntimeException failure = null;
        for (final TranslationListener listener : listeners)
        {
            try
            {
                listener.pagesChanged(groupFile, firstPage, pageCount, size);
            }
            catch (final RuntimeException ex)
            {
                failure = TranslatorGroup.first(failure, ex);
            }
        }
        throwIfAny(failure);
    }

    @Override
    public void blocksInvalidated(final long firstBlock, final long blockCount)
    {
        final List<TranslationListener> targets = listeners;
        long block = firstBlock;
        long left = blockCount;
        RuntimeException failure = null;
        while (left > 0 && block >= 0)
        {
            // one chunk at a time: each may sit anywhere in the group's key space, or nowhere
            final long inChunk = Math.min(left, GroupKeys.LOW_MASK + 1 - (block & GroupKeys.LOW_MASK));
            final long groupKey = keys.groupKeyIfKnown(member, block);
            if (GroupKeys.NONE != groupKey)
            {
                for (final TranslationListener listener : targets)
                {
                    try
                    {
                        listener.blocksInvalidated(groupKey, inChunk);
                    }
                    catch (final RuntimeException ex)
                    {
                        failure = TranslatorGroup.first(failure, ex);
                    }
                }
            }
            block += inChunk;
            left -= inChunk;
        }
        throwIfAny(failure);
    }

    @Override
    public void fileDeleted(final long file)
    {
        final long groupFile = GroupKeys.fileId(member, file);
        RuntimeException failure = null;
        for (final TranslationListener listener : listeners)
        {
            try
            {
                listener.fileDeleted(groupFile);
            }
            catch (final RuntimeException ex)
            {
                failure = TranslatorGroup.first(failure, ex);
            }
        }
        throwIfAny(failure);
    }

    private static void throwIfAny(final RuntimeException failure)
    {
        if (null != failure)
        {
            throw failure;
        }
    }
}
