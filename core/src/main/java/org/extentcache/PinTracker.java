package org.extentcache;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * The cache's record of the pins it handed out ({@link ExtentCache.Builder#trackPins}): where each live pin was taken,
 * so a double or foreign unpin is caught and close reports what is still pinned, and what close finds left behind
 * (pins, unflushed pages) goes to the leak reporter. Thread-safe.
 */
final class PinTracker
{
    private final boolean track;
    private final Consumer<String> reporter;
    /** Pins held, with where each was taken; only when {@link #track}. */
    private final Set<PinnedPage> live = ConcurrentHashMap.newKeySet();

    /**
     * @param track    whether to record every pin (a stack trace each).
     * @param reporter where close's reports go.
     */
    PinTracker(final boolean track, final Consumer<String> reporter)
    {
        this.track = track;
        this.reporter = reporter;
    }

    /**
     * @param page a page just pinned.
     */
    void pinned(final PinnedPage page)
    {
        if (track)
        {
            page.pinnedAt = new Throwable("pinned at position " + page.position() + " by " +
                Thread.currentThread().getName());
            live.add(page);
        }
    }

    /**
     * @param page a page about to be unpinned.
     * @throws IllegalStateException if tracking is on and the cache did not issue this pin or it was released.
     */
    void released(final PinnedPage page)
    {
        if (track && !live.remove(page))
        {
            throw new IllegalStateException("unpin of a pin this cache did not issue or already released: " + page);
        }
    }

    /**
     * @return pins held, as tracked (0 when tracking is off).
     */
    int count()
    {
        return live.size();
    }

    /**
     * Reports what the cache still held when it closed.
     *
     * @param dirtyFrames  dirty pages never flushed (their writes are lost).
     * @param pinnedFrames frames still pinned (reported one by one, with their origin, when tracking is on).
     */
    void reportAtClose(final int dirtyFrames, final int pinnedFrames)
    {
        if (dirtyFrames != 0)
        {
            reporter.accept("ExtentCache closed with " + dirtyFrames + " dirty pages not flushed: those writes are " +
                "lost (call flush() before close())");
        }
        if (track)
        {
            for (final PinnedPage page : live)
            {
                final StringWriter trace = new StringWriter();
                page.pinnedAt.printStackTrace(new PrintWriter(trace));
                reporter.accept("ExtentCache closed with a page still pinned (its frame's memory is kept until " +
                    "it is unpinned): " + page + "\n" + trace);
            }
        }
        else if (pinnedFrames != 0)
        {
            reporter.accept("ExtentCache closed with " + pinnedFrames + " frames still pinned; the frames' memory " +
                "is kept until the last of them is unpinned (build with trackPins(true), or " +
                "-Dextentcache.trackPins=true, to see where they were pinned)");
        }
    }
}
