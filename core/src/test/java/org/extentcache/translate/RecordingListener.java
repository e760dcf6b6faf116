package org.extentcache.translate;

import java.util.ArrayList;
import java.util.List;

/**
 * Records a translator's listener calls as strings, for tests that compare the calls a change makes.
 */
class RecordingListener implements TranslationListener
{
    final List<String> events = new ArrayList<>();

    @Override
    public void pagesChanged(final long file, final long firstPage, final long pageCount, final long size)
    {
        events.add("pagesChanged(" + file + ", " + firstPage + ", " + pageCount + ", " + size + ")");
    }

    @Override
    public void blocksInvalidated(final long firstBlock, final long blockCount)
    {
        events.add("blocksInvalidated(" + firstBlock + ", " + blockCount + ")");
    }

    @Override
    public void fileDeleted(final long file)
    {
        events.add("fileDeleted(" + file + ")");
    }

    /** @return the calls recorded since the last take, and forgets them. */
    List<String> take()
    {
        final List<String> taken = new ArrayList<>(events);
        events.clear();
        return taken;
    }
}
