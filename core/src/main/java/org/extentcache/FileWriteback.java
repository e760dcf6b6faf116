package org.extentcache;

import org.agrona.collections.Long2LongHashMap;
import org.extentcache.frame.Handle;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One file's dirty pages and their write-back: the file's writer lock, the set of pages with dirty frames, and every
 * path that writes them to the device. {@link CachedFile} writes pages and records them here; flushes, changes of the
 * file announced by the translator, the throttle, misses that need frames and the background write-back write them
 * back through here.
 *
 * <h2>Durable, or dirty</h2>
 * Every write-back keeps the frames it wrote pinned until its device sync has answered, so a clean frame is either
 * durable or still pinned by the write-back that is syncing it. If the sync fails, the pages are dirty again and the
 * next write-back writes them again. A sync that succeeds vouches only for writes made since the last sync that
 * failed, anywhere on the device: Linux reports a failed {@code fsync} once and may have dropped the pages with it,
 * so the next {@code fsync} succeeds without them. Each write-back therefore records the count of failed syncs that
 * could drop its pages ({@link DeviceCache#syncFailuresCovering}: any over a block device; over files, whole syncs and
 * its own file's) before it writes; if the count moved by the time its sync succeeded, its pages are dirty again and
 * the caller hears of it.
 *
 * <h2>Concurrency</h2>
 * The writer lock ({@link #lock()}) serializes this file's writers, its write-backs and the translator's changes of
 * it (like the kernel's {@code i_rwsem}); readers never take it. {@link #dirtyPages} belongs to its holder. A
 * cache-wide flush writes several files back and then syncs once; its write-backs wait in {@link #awaitingSync}
 * (under its own monitor) so that a change of their range syncs first and settles them. A flush never waits for a
 * writer lock while it pins frames: after a sync that failed, its write-back goes to {@link #unsettled}, and
 * whichever thread holds or next takes the writer lock marks those pages dirty again and releases their pins (a
 * writer waiting for a frame does it through {@link #writeBackForRoom}).
 *
 * <h2>Costs</h2>
 * A write-back sorts the file's dirty pages (O(d log d) for d dirty pages), writes each, and syncs the device once.
 * The throttle, a miss that needs frames and the background write-back each cost a device sync.
 */
final class FileWriteback
{
    /** {@link #dirtySince} when the file has no dirty page. */
    private static final long CLEAN = Long.MIN_VALUE;

    private final CachedFile owner;
    private final DeviceCache frames;
    private final long file;
    private final ReentrantLock writerLock = new ReentrantLock();
    /** Page &rarr; handle of its dirty frame. Guarded by {@link #writerLock}. */
    private final Long2LongHashMap dirtyPages = new Long2LongHashMap(Handle.NONE);
    /** Write-backs of cache-wide flushes waiting for their sync; guarded by its own monitor. */
    private final List<WriteBack> awaitingSync = new ArrayList<>();
    /** Write-backs whose sync failed, waiting for the writer lock to be marked dirty again and unpinned. */
    private final ConcurrentLinkedQueue<WriteBack> unsettled = new ConcurrentLinkedQueue<>();
    /** {@link System#nanoTime()} when the file last went from clean to dirty, or {@link #CLEAN}. */
    private volatile long dirtySince = CLEAN;
    /**
     * A page was dirtied since the translator last committed the file ({@link CachedFile#flush}): its data may be
     * durable (a cache-wide flush, the background write-back) and its metadata not. Written under {@link #writerLock};
     * volatile so that a cache-wide flush can skip files with nothing to commit without taking their locks.
     */
    private volatile boolean uncommitted;

    FileWriteback(final CachedFile owner, final DeviceCache frames, final long file)
    {
        this.owner = owner;
        this.frames = frames;
        this.file = file;
    }

    /** Takes the writer lock, then settles failed flushes waiting for it. */
    void lock()
    {
        writerLock.lock();
        settleLocked();
    }

    /** Releases the writer lock; failed flushes that arrived meanwhile are settled first, or by a later holder. */
    void unlock()
    {
        settleLocked();
        writerLock.unlock();
        settleIfFree();
    }

    boolean isHeldByCurrentThread()
    {
        return writerLock.isHeldByCurrentThread();
    }

    /**
     * Records a page's new dirty frame; the caller holds the lock.
     *
     * @param page   the page.
     * @param handle its dirty frame.
     */
    void dirtied(final long page, final long handle)
    {
        dirtyPages.put(page, handle);
        uncommitted = true;
        noteDirty();
    }

    /** @return true if a page was dirtied since the last successful commit; the caller holds the lock. */
    boolean uncommittedLocked()
    {
        return uncommitted;
    }

    /** @return {@link #uncommittedLocked()} read without the lock: a hint, exact only under it. */
    boolean mayBeUncommitted()
    {
        return uncommitted;
    }

    /**
     * Takes the writer lock if no other thread holds it, settling failed flushes as {@link #lock()} does.
     *
     * @return true if taken: release it with {@link #unlock()}.
     */
    boolean tryLock()
    {
        if (!writerLock.tryLock())
        {
            return false;
        }
        settleLocked();
        return true;
    }

    /** The translator committed the file, every page being durable; the caller holds the lock. */
    void committedLocked()
    {
        uncommitted = false;
    }

    /**
     * @return the dirty pages, page &rarr; handle; the caller holds the lock and does not change them.
     */
    Long2LongHashMap dirtyPages()
    {
        return dirtyPages;
    }

    /**
     * @return true if some page of the file is dirty, or written back by a cache-wide flush that has not settled
     * yet: what must be made durable before the file can be closed in the cache. The caller holds the lock.
     */
    boolean hasUndurablePagesLocked()
    {
        synchronized (awaitingSync)
        {
            return !dirtyPages.isEmpty() || !awaitingSync.isEmpty() || !unsettled.isEmpty();
        }
    }

    /**
     * @return pages with dirty frames; takes the lock.
     */
    int dirtyPageCount()
    {
        lock();
        try
        {
            return dirtyPages.size();
        }
        finally
        {
            unlock();
        }
    }

    /**
     * Writes back the dirty pages of {@code [firstPage, firstPage + pageCount)} keeping them pinned, syncs the device
     * (always if {@code alwaysSync}, else only if a page of the range was written here or by a cache-wide flush still
     * waiting for its sync), and releases the pins. A sync that fails, or that cannot vouch for the pages (see the
     * class comment), leaves every page it covered dirty. The caller holds the lock.
     *
     * @return the first failure (a page's write, then the sync), or {@code null}.
     * @throws RuntimeException from the device or translator, after the pages written are dirty again and unpinned.
     */
    IOException writeBackDurably(final long firstPage, final long pageCount, final boolean alwaysSync)
    {
        final WriteBack written = writeBack(firstPage, pageCount);
        try
        {
            if (alwaysSync || written.count > 0 || awaitingSyncIn(firstPage, pageCount))
            {
                syncOrRedirty(written, firstPage, pageCount);
            }
            return written.failure;
        }
        catch (final IOException ex)
        {
            return firstOf(written.failure, ex);
        }
        finally
        {
            written.unpinAll();
            settleLocked(); // failed flushes that arrived meanwhile: the holder may go on to wait for something else
        }
    }

    /**
     * {@link #writeBackDurably} of the whole file, once more if the first sync could not vouch for pages written
     * before another sync failed (they are dirty again, and writing them again makes them durable). The caller
     * holds the lock.
     *
     * @return the first failure, or {@code null}.
     */
    IOException flushLocked()
    {
        return writeBackDurablyOrAgain(0, Long.MAX_VALUE, true);
    }

    /**
     * {@link #writeBackDurably}, once more if the first sync could not vouch for pages written before another sync
     * failed. The caller holds the lock.
     *
     * @return the first failure of the last attempt, or {@code null}.
     */
    IOException writeBackDurablyOrAgain(final long firstPage, final long pageCount, final boolean alwaysSync)
    {
        final IOException failure = writeBackDurably(firstPage, pageCount, alwaysSync);
        return failure instanceof EarlierSyncFailure ? writeBackDurably(firstPage, pageCount, alwaysSync) : failure;
    }

    /** More than half the arena is dirty: write this file back (and sync). Failures leave the pages dirty. */
    void throttle()
    {
        // a failure is counted in writebackFailures; the pages stay dirty and flush() retries and reports them
        writeBackDurably(0, Long.MAX_VALUE, false);
    }

    /**
     * Writes back every dirty page, keeping the written frames pinned, without syncing: for the cache-wide flush,
     * which syncs and then calls {@link #finishFlush}. Until then the write-back waits in {@link #awaitingSync}.
     *
     * @param wait false to give up, returning {@code null}, if another thread holds the writer lock.
     * @return the write-back, or {@code null}.
     */
    WriteBack writeBackAll(final boolean wait)
    {
        if (wait)
        {
            lock();
        }
        else if (writerLock.tryLock())
        {
            settleLocked();
        }
        else
        {
            return null;
        }
        try
        {
            final WriteBack written = owner.isGone() ? new WriteBack(0, frames.syncs.failuresCovering(file)) :
                writeBack(0, Long.MAX_VALUE);
            synchronized (awaitingSync)
            {
                awaitingSync.add(written);
            }
            return written;
        }
        finally
        {
            unlock();
        }
    }

    /**
     * Ends a cache-wide flush for this file. After a sync that succeeded and can vouch for the pages, releases the
     * pins at once, taking no lock. Otherwise the pages must be marked dirty again under the writer lock: done now
     * if the lock is free, else by its holder, so the flush never waits for a writer while it pins frames.
     *
     * @return false if the sync succeeded but could not vouch for the pages (they will be dirty again).
     */
    boolean finishFlush(final WriteBack written, final boolean synced)
    {
        if (synced && written.syncFailures == frames.syncs.failuresCovering(file))
        {
            synchronized (awaitingSync)
            {
                awaitingSync.remove(written);
            }
            written.unpinAll();
            return true;
        }
        synchronized (awaitingSync)
        {
            written.failedSync(); // settled pages let go now, and any settled from here on as they are settled
        }
        unsettled.add(written);
        settleIfFree();
        return !synced;
    }

    /**
     * Writes back and syncs every dirty page if the writer lock is free now (or held by this thread): for a miss
     * that found no frame to reclaim. Settles failed flushes first, whose pins may be what the miss waits for.
     *
     * @return true if a page was written back or a pin released.
     */
    boolean writeBackForRoom()
    {
        if ((CLEAN == dirtySince && unsettled.isEmpty()) || owner.isGone() || !writerLock.tryLock())
        {
            return false;
        }
        try
        {
            final boolean released = settleLocked();
            final int before = dirtyPages.size();
            writeBackDurably(0, Long.MAX_VALUE, false);
            return released || dirtyPages.size() < before;
        }
        finally
        {
            unlock();
        }
    }

    /**
     * Writes back and syncs every dirty page if the file has had dirty pages for {@code expiryNanos} or longer: the
     * background write-back. Waits for the writer lock.
     *
     * @return true if the file had expired dirty pages (whether or not their write-back succeeded).
     */
    boolean writeBackIfExpired(final long now, final long expiryNanos)
    {
        final long since = dirtySince;
        if (CLEAN == since || now - since < expiryNanos || owner.isGone())
        {
            return false;
        }
        lock();
        try
        {
            if (!owner.isGone())
            {
                writeBackDurably(0, Long.MAX_VALUE, false);
            }
            return true;
        }
        finally
        {
            unlock();
        }
    }

    /** Settles failed flushes if the writer lock is free, for as long as some arrive. */
    private void settleIfFree()
    {
        while (!unsettled.isEmpty() && writerLock.tryLock())
        {
            try
            {
                settleLocked();
            }
            finally
            {
                writerLock.unlock();
            }
        }
    }

    /**
     * Marks the pages of failed flushes dirty again and releases their pins; the caller holds the lock.
     *
     * @return true if any pin was released.
     */
    private boolean settleLocked()
    {
        boolean released = false;
        WriteBack failed;
        while (null != (failed = unsettled.poll()))
        {
            synchronized (awaitingSync)
            {
                awaitingSync.remove(failed);
            }
            try
            {
                redirty(failed);
            }
            finally
            {
                released |= failed.count > 0;
                failed.unpinAll();
            }
        }
        return released;
    }

    /**
     * Syncs this file's pages (the device's sync, shared with concurrent flushes, or the file's own); if the sync
     * fails or cannot vouch for {@code written}, marks every page just written dirty
     * again (their frames are still pinned, so none was reclaimed meanwhile), and so are the pages of the range a
     * cache-wide flush wrote and has not synced; else those are durable and the flush need not mark them again.
     *
     * @throws IOException if the sync failed or could not vouch for the pages.
     */
    private void syncOrRedirty(final WriteBack written, final long firstPage, final long pageCount) throws IOException
    {
        final long failures;
        try
        {
            failures = frames.syncs.syncFile(file);
        }
        catch (final Throwable ex)
        {
            redirty(written);
            settleAwaiting(firstPage, pageCount, Long.MIN_VALUE);
            if (!(ex instanceof IOException))
            {
                throw ex;
            }
            throw new IOException("flushing file " + file + ": device sync failed; its " + written.count / 2 +
                " written pages stay dirty: " + ex.getMessage(), ex);
        }
        final boolean pendingLost = settleAwaiting(firstPage, pageCount, failures);
        if (written.syncFailures != failures || pendingLost)
        {
            redirty(written);
            throw new EarlierSyncFailure("flushing file " + file + ": a device sync failed after its " +
                written.count / 2 + " pages were written and may have dropped them; they stay dirty (flush again)",
                frames.syncs.lastFailure());
        }
    }

    /**
     * A sync of the range answered for the pages cache-wide flushes wrote there: durable if it succeeded with no
     * failed sync since they were written ({@code failures} still what it was then), else dirty again.
     *
     * @return true if some page in the range is dirty again: the caller's sync did not make it durable.
     */
    private boolean settleAwaiting(final long firstPage, final long pageCount, final long failures)
    {
        boolean redirtied = false;
        synchronized (awaitingSync)
        {
            for (final WriteBack pending : awaitingSync)
            {
                redirtied |= pending.settle(firstPage, pageCount, pending.syncFailures != failures);
            }
        }
        return redirtied;
    }

    /**
     * Before a write-back: pages that cache-wide flushes wrote and that a failed sync may have dropped since (their
     * count moved) are dirty again now, so this write-back writes them, rather than take them for written.
     */
    private void settleStaleAwaiting()
    {
        final long failures = frames.syncs.failuresCovering(file);
        synchronized (awaitingSync)
        {
            for (final WriteBack pending : awaitingSync)
            {
                if (pending.syncFailures != failures)
                {
                    pending.settle(0, Long.MAX_VALUE, true);
                }
            }
        }
    }

    private boolean awaitingSyncIn(final long firstPage, final long pageCount)
    {
        synchronized (awaitingSync)
        {
            for (final WriteBack pending : awaitingSync)
            {
                if (pending.covers(firstPage, pageCount))
                {
                    return true;
                }
            }
            return false;
        }
    }

    /**
     * Marks what a write-back wrote dirty again: its sync failed. A page written meanwhile is not touched (its newer
     * frame is the dirty one, and the older frame may be another file's now); a frame no longer valid is not either.
     */
    private void redirty(final WriteBack written)
    {
        for (int i = 0; i < written.count; i += 2)
        {
            if (!written.settled(i))
            {
                written.settle(i);
                redirtyPage(written.pages[i], written.pages[i + 1]);
            }
        }
    }

    private void redirtyPage(final long page, final long handle)
    {
        if (!dirtyPages.containsKey(page) && frames.writes.redirty(handle))
        {
            dirtyPages.put(page, handle);
            noteDirty();
        }
    }

    /** Keeps {@link #dirtySince} in step with {@link #dirtyPages}; the caller holds the lock. */
    private void noteDirty()
    {
        if (dirtyPages.isEmpty())
        {
            dirtySince = CLEAN;
        }
        else if (CLEAN == dirtySince)
        {
            dirtySince = System.nanoTime();
        }
    }

    /**
     * Writes back the dirty pages in {@code [firstPage, firstPage + pageCount)}, in page order, leaving each written
     * frame pinned until the caller's {@link WriteBack#unpinAll()}. Does not sync the device. A page that fails stays
     * dirty and the others are still tried. The caller holds the lock.
     *
     * @return what was written, and the first failure (naming the file, page and block), if any.
     */
    private WriteBack writeBack(final long firstPage, final long pageCount)
    {
        settleStaleAwaiting();
        final long end = firstPage + Math.min(pageCount, Long.MAX_VALUE - firstPage);
        long[] pages = new long[dirtyPages.size()];
        int count = 0;
        final Long2LongHashMap.KeyIterator keys = dirtyPages.keySet().iterator();
        while (keys.hasNext())
        {
            final long page = keys.nextValue();
            if (page >= firstPage && page < end)
            {
                pages[count++] = page;
            }
        }
        pages = Arrays.copyOf(pages, count);
        Arrays.sort(pages);
        final WriteBack result = new WriteBack(count, frames.syncs.failuresCovering(file));
        try
        {
            for (final long page : pages)
            {
                final long handle = dirtyPages.get(page);
                try
                {
                    if (frames.writes.writeback(handle, true))
                    {
                        result.pages[result.count++] = page;
                        result.pages[result.count++] = handle;
                    }
                    dirtyPages.remove(page);
                }
                catch (final IOException ex)
                {
                    result.failure = firstOf(result.failure, new IOException("flushing file " + file +
                        " page " + page + " (device block " + frames.blockOf(handle) + ") failed: " +
                        ex.getMessage(), ex));
                }
            }
        }
        catch (final RuntimeException | Error ex)
        {
            // the device or translator broke its contract: nothing written here was synced, so it is all dirty again,
            // and no pin outlives the call
            redirty(result);
            result.unpinAll();
            throw ex;
        }
        finally
        {
            noteDirty();
        }
        return result;
    }

    /** A sync succeeded, but another failed after the pages were written: they are dirty again. */
    static final class EarlierSyncFailure extends IOException
    {
        private static final long serialVersionUID = 1L;

        EarlierSyncFailure(final String message, final Throwable syncFailure)
        {
            super(message, syncFailure);
        }
    }

    /** The outcome of a write-back: the pages written and their pinned handles, and the first failure. */
    final class WriteBack
    {
        /** {@code {page, handle, page, handle, ...}} for the pages written. */
        final long[] pages;
        /** {@link DeviceCache#syncFailuresCovering} before the first page was written. */
        final long syncFailures;
        int count;
        IOException failure;
        /**
         * Per pair: its sync question is answered (durable, or dirty again), so a failed sync must not mark it dirty
         * (again). Set by a sync of the page's range that ran before this write-back's own.
         */
        private final BitSet settled = new BitSet();
        /** Per pair: its pin is released. Under the {@link #awaitingSync} monitor. */
        private final BitSet released = new BitSet();
        /**
         * The cache-wide flush's sync failed: a pair settled from now on lets its pin go at once, for this
         * write-back may reach {@link #unsettled} after the writer-lock holder's last look there. Under the
         * {@link #awaitingSync} monitor.
         */
        private boolean syncFailed;

        WriteBack(final int capacity, final long syncFailures)
        {
            this.pages = new long[2 * capacity];
            this.syncFailures = syncFailures;
        }

        /** Releases every pin this write-back still holds; once. */
        void unpinAll()
        {
            synchronized (awaitingSync)
            {
                for (int i = 0; i < count; i += 2)
                {
                    release(i);
                }
            }
        }

        boolean settled(final int pair)
        {
            return settled.get(pair);
        }

        void settle(final int pair)
        {
            settled.set(pair);
        }

        /** True if an unsettled page written here lies in the range. */
        boolean covers(final long firstPage, final long pageCount)
        {
            final long end = firstPage + Math.min(pageCount, Long.MAX_VALUE - firstPage);
            for (int i = 0; i < count; i += 2)
            {
                if (!settled.get(i) && pages[i] >= firstPage && pages[i] < end)
                {
                    return true;
                }
            }
            return false;
        }

        /**
         * A sync of the range ran before this write-back's own: its pages in the range are durable, or dirty again
         * now ({@code redirty}); either way this write-back's sync no longer decides for them. The caller holds the
         * writer lock.
         */
        boolean settle(final long firstPage, final long pageCount, final boolean redirty)
        {
            final long end = firstPage + Math.min(pageCount, Long.MAX_VALUE - firstPage);
            boolean redirtied = false;
            for (int i = 0; i < count; i += 2)
            {
                if (!settled.get(i) && pages[i] >= firstPage && pages[i] < end)
                {
                    settled.set(i);
                    if (redirty)
                    {
                        redirtyPage(pages[i], pages[i + 1]);
                        redirtied = true;
                    }
                    if (syncFailed)
                    {
                        release(i);
                    }
                }
            }
            return redirtied;
        }

        /**
         * The cache-wide flush's sync failed, and it cannot wait for the writer lock: releases the pins of pairs
         * already settled (durable, or dirty again and so safe from reclaim), and from now on {@link #settle} releases
         * each pair it settles. The caller holds the {@link #awaitingSync} monitor.
         */
        void failedSync()
        {
            syncFailed = true;
            for (int i = 0; i < count; i += 2)
            {
                if (settled.get(i))
                {
                    release(i);
                }
            }
        }

        /** Releases a pair's pin, once; the caller holds the {@link #awaitingSync} monitor. */
        private void release(final int pair)
        {
            if (!released.get(pair))
            {
                released.set(pair);
                frames.pins.unpin(pages[pair + 1]);
            }
        }
    }

    /**
     * Keeps the first failure and attaches later ones to it as suppressed, for operations that go on after one
     * page or file fails.
     *
     * @return {@code first}, or {@code next} if there was none yet.
     */
    static IOException firstOf(final IOException first, final IOException next)
    {
        if (null == first)
        {
            return next;
        }
        first.addSuppressed(next);
        return first;
    }
}
