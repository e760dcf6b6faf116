package org.extentcache;

import org.agrona.UnsafeApi;
import org.extentcache.frame.FrameArena;
import org.extentcache.frame.Handle;
import org.extentcache.index.DeviceIndex;
import org.extentcache.merge.AliasTable;
import org.extentcache.translate.Extent;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;

import static org.extentcache.frame.FrameDescriptor.*;

/**
 * Readahead for files read through themselves ({@link BlockIo#readsThroughFiles()}): a sequential miss loads a window
 * of the file's following pages with one read through the file, at its offset
 * ({@link org.extentcache.translate.FileBackedTranslator#readBlocks}), instead of one read per page. The window's size
 * and when to read one are the file's business ({@link CachedFile}: the kernel's on-demand readahead, a window that
 * starts at {@link #INITIAL_WINDOW} pages and doubles on each further sequential miss up to
 * {@link #MAX_WINDOW}); this class claims, reads and publishes the window's frames.
 *
 * <h2>Transitions</h2>
 * Each page of the window goes through the states a single-page load does ({@link FrameLoads}), in one batch:
 * <pre>
 *   FREE --speculative claim (lock; release store)--------&gt; LOADING, pins=1 (the reader), indexed
 *   LOADING --run read ok and page still current (CAS)----&gt; UPTODATE, unpinned (the first page keeps the pin)
 *   LOADING --run read failed, or page not read-----------&gt; ORPHAN, unindexed, nothing recorded (waiters retry)
 *   LOADING --invalidate(block) while the read runs-------&gt; ORPHAN (by the invalidation); never published
 * </pre>
 * Pages whose block is already indexed (cached, loading or an alias) are skipped, not read into a second frame.
 *
 * <h2>Hot frames stay</h2>
 * A speculative claim takes a frame from the free list, else one the CLOCK sweep would take with its reference bit
 * already clear ({@link FrameClaims#claimSpeculativeLocked}); it clears no bit, waits for nothing and writes nothing
 * back, and examines at most {@code 64 + 8 * window} frames for the whole window. The window ends at the first page
 * that cannot get a frame so: readahead never evicts a frame used since the hand last passed to make room for a page
 * nobody asked for. A page read ahead is published marked {@code READ_AHEAD}: its first use leaves it unreferenced,
 * as a load's page is, so a scan read ahead leaves frames the next window may take, and does not turn every page it
 * read into a hot one.
 *
 * <h2>Failures</h2>
 * A failed run read (or one that throws anything) orphans every frame of the window with nothing recorded, so nobody
 * gets an error for a page they did not ask for, and threads that waited on one of those frames load it themselves.
 * The caller then loads the page it missed alone, and gets that read's error if it fails too.
 *
 * <h2>Costs</h2>
 * One lock for the whole window's claims, one read for the run (a bounce copy per page with {@code O_DIRECT}), a CAS
 * and a wake-up per page. Allocates the window's arrays and a buffer view per page: a miss path.
 *
 * <p>Thread-safe. Owned by its {@link DeviceCache}.
 */
final class FrameReadahead
{
    /** Pages of the first window, read at the second sequential miss. */
    static final int INITIAL_WINDOW = 4;
    /** Pages of the largest window (256 KiB with 4 KiB pages). */
    static final int MAX_WINDOW = 64;
    /** Pages of a window read under {@link Advice#SEQUENTIAL} or {@link Advice#WILLNEED}: twice the largest. */
    static final int ADVISED_WINDOW = 2 * MAX_WINDOW;
    /**
     * Frames the speculative sweep may examine per page of a window, all claims of the window together, besides
     * {@link #SWEEP_STEPS_BASE}; then the window ends.
     */
    private static final int SWEEP_STEPS_PER_PAGE = 8;
    /** Frames the speculative sweep of a window may examine besides {@link #SWEEP_STEPS_PER_PAGE} per page. */
    private static final int SWEEP_STEPS_BASE = 64;

    private final BlockIo io;
    private final FrameArena arena;
    private final DeviceIndex index;
    private final ReentrantLock lock;
    private final FrameWaiters waiters;
    private final PinCounts pins;
    private final FrameClaims claims;
    private final FrameLoads loads;
    private final AliasTable aliases;
    private final LongAdder deviceReads;
    /** Pages read ahead: published by a window besides the page that missed. */
    final LongAdder pagesReadAhead = new LongAdder();
    /** Window reads that failed (each followed by a single-page load of the page that missed). */
    final LongAdder failures = new LongAdder();

    FrameReadahead(final BlockIo io, final FrameArena arena, final DeviceIndex index, final ReentrantLock lock,
        final FrameWaiters waiters, final PinCounts pins, final FrameClaims claims, final FrameLoads loads,
        final LongAdder deviceReads)
    {
        this.io = io;
        this.arena = arena;
        this.index = index;
        this.lock = lock;
        this.waiters = waiters;
        this.pins = pins;
        this.claims = claims;
        this.loads = loads;
        this.aliases = claims.aliases;
        this.deviceReads = deviceReads;
    }

    /**
     * Reads a window of {@code file} from {@code firstPage} (which missed) in one read, within the extent that
     * translates {@code firstPage}, and publishes every page read.
     *
     * @param extent    the translation of {@code firstPage}: the window stays inside its run.
     * @param filePages pages of the file; the window stays below.
     * @param window    most pages to read, {@code firstPage} included.
     * @param scratch   this thread's scratch: {@code readAhead} is set to the pages the window covered (0 if none was
     *                  read).
     * @return a pinned handle to {@code firstPage}'s frame, up to date; or {@link Handle#NONE} if it was not read
     * here (no frame for it, it was cached meanwhile, the read failed, or its block changed): load it alone.
     */
    long readAhead(final long file, final long firstPage, final Extent extent, final long filePages,
        final int window, final Scratch scratch)
    {
        scratch.readAhead = 0;
        final long end = Math.min(Math.min(firstPage + window, extent.filePage() + extent.pageCount()), filePages);
        if (end - firstPage < 2 || Extent.HOLE == extent.blockOf(firstPage))
        {
            return Handle.NONE;
        }
        final int count = (int)(end - firstPage);
        // everything the window needs is allocated before its first claim: nothing between a claim and the settle
        // below may throw (an OutOfMemoryError there would leave frames LOADING and pinned for good)
        final long[] blocks = new long[count];
        final long[] asked = new long[count]; // the translator marks pages it did not read as holes in blocks
        final long[] claimed = new long[count]; // Handle.NONE (0) where nothing was claimed
        final ByteBuffer[] dsts = new ByteBuffer[count];
        final int[] budget = {SWEEP_STEPS_BASE + SWEEP_STEPS_PER_PAGE * count};
        java.util.Arrays.fill(blocks, Extent.HOLE);
        java.util.Arrays.fill(asked, Extent.HOLE);
        int pages = 0;
        boolean read = false;
        try
        {
            lock.lock();
            try
            {
                if (pins.isClosed())
                {
                    return Handle.NONE;
                }
                for (; pages < count; pages++)
                {
                    final long block = extent.blockOf(firstPage + pages);
                    if (NO_FRAME != index.findLocked(block) || (null != aliases && NO_FRAME != aliases.find(block)))
                    {
                        continue; // cached, loading or an alias: nothing to read
                    }
                    final int frame = claims.claimSpeculativeLocked(budget);
                    if (NO_FRAME == frame)
                    {
                        break;
                    }
                    claimed[pages] = claims.indexLoadingLocked(frame, block);
                    asked[pages] = block;
                    blocks[pages] = block;
                }
            }
            finally
            {
                lock.unlock();
            }
            boolean any = false;
            for (int i = 0; i < pages; i++)
            {
                if (Handle.NONE != claimed[i])
                {
                    dsts[i] = arena.frameBuffer(Handle.frame(claimed[i]));
                    any = true;
                }
            }
            if (!any)
            {
                return Handle.NONE;
            }
            UnsafeApi.storeFence(); // the claims' word changes are visible before any byte the read stores
            try
            {
                io.readRun(file, firstPage, blocks, dsts, pages);
                read = true;
            }
            catch (final IOException ex)
            {
                failures.increment(); // nobody asked for these pages: no error recorded, the missed page loads alone
            }
        }
        finally
        {
            // on any throwable too, from the first claim on: no frame of the window stays LOADING or pinned
            scratch.readAhead = read ? pages : 0;
            settle(file, claimed, asked, read ? blocks : null, count);
        }
        return claimed[0];
    }

    /**
     * Publishes each frame whose page was read ({@code read[i]} not a hole) and orphans the others; unpins all but
     * the first page's published frame, whose pin goes to the caller. On return {@code claimed[0]} is that pinned
     * handle, or {@link Handle#NONE} if the first page was not published.
     *
     * @param read what the translator left of the blocks asked for, or null if the read failed.
     */
    private void settle(final long file, final long[] claimed, final long[] asked, final long[] read, final int pages)
    {
        for (int i = 0; i < pages; i++)
        {
            final long handle = claimed[i];
            if (Handle.NONE == handle)
            {
                continue;
            }
            if (null == read || Extent.HOLE == read[i])
            {
                claimed[i] = Handle.NONE;
                loads.failLoad(handle, asked[i], file, null);
                continue;
            }
            if (0 != i)
            {
                arena.markReadAhead(Handle.frame(handle)); // the frame is this thread's until published
            }
            if (!publish(handle))
            {
                claimed[i] = Handle.NONE; // invalidated meanwhile: publish released the pin
                continue;
            }
            if (0 == i)
            {
                deviceReads.increment();
                continue; // the caller's pin
            }
            pagesReadAhead.increment();
            pins.unpin(handle);
        }
    }

    /**
     * LOADING to UPTODATE, as {@link FrameLoads#load} does it; if the block was invalidated meanwhile (the frame is
     * ORPHAN), wakes its waiters and drops the pin instead.
     *
     * @return true if published (the pin stays).
     */
    private boolean publish(final long handle)
    {
        final int frame = Handle.frame(handle);
        while (true)
        {
            final long word = arena.stateWord(frame);
            if (baseState(word) != LOADING)
            {
                waiters.wakeAll(frame);
                pins.unpin(handle);
                return false;
            }
            if (arena.casStateWord(frame, word, withState(word, UPTODATE)))
            {
                waiters.wakeAll(frame);
                return true;
            }
        }
    }
}
