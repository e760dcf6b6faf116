package org.extentcache;

import org.extentcache.translate.Translator;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * The cache-wide flush ({@link ExtentCache#flush()}): every file's dirty pages written back, then one device sync for
 * all of them, in batches so that it never holds frames another thread needs.
 *
 * <h2>Batches</h2>
 * Each file's write-back keeps the frames it wrote pinned until the sync has answered ({@link FileWriteback}). The
 * flush takes each file's writer lock with {@code tryLock} once it holds pins: if a writer holds the file, the pages
 * written so far are synced and released first, and only then does it wait for the writer (who may be waiting for a
 * frame). It also syncs once the pages written pin a quarter of the arena. So one sync covers every file unless
 * writers are busy or the dirty pages are many.
 *
 * <h2>Failures</h2>
 * A sync that fails, or that succeeds but cannot vouch for the pages (a sync failed after they were written), leaves
 * them dirty; the flush reports the first failure and goes on with the other files. A file's own page write
 * failures are reported too, after the others are tried.
 */
final class CacheWideFlush
{
    private CacheWideFlush()
    {
    }

    /**
     * Flushes every file; see the class comment.
     *
     * @param files  the cache's files.
     * @param frames the cache's frames.
     * @throws IOException for the first file that failed (the others are flushed too; failed pages stay dirty).
     */
    static void flush(final Iterable<CachedFile> files, final DeviceCache frames) throws IOException
    {
        final List<CachedFile> batch = new ArrayList<>();
        final List<FileWriteback.WriteBack> written = new ArrayList<>();
        final int pinLimit = Math.max(1, frames.arena().capacity() / 4);
        IOException failure = null;
        int pinned = 0;
        boolean finished = false;
        try
        {
            for (final CachedFile file : files)
            {
                FileWriteback.WriteBack result = file.writeback().writeBackAll(batch.isEmpty());
                if (null == result)
                {
                    // a writer holds the file: never wait for it holding the batch's pins (it may need a frame)
                    failure = syncBatch(frames, batch, written, failure);
                    pinned = 0;
                    result = file.writeback().writeBackAll(true);
                }
                batch.add(file);
                written.add(result);
                failure = null == result.failure ? failure : FileWriteback.firstOf(failure, result.failure);
                pinned += result.count / 2;
                if (pinned >= pinLimit)
                {
                    failure = syncBatch(frames, batch, written, failure); // a quarter of the arena pinned is enough
                    pinned = 0;
                }
            }
            failure = syncBatch(frames, batch, written, failure);
            finished = true;
        }
        finally
        {
            if (!finished)
            {
                finishBatch(batch, written, false);
            }
        }
        if (null != failure)
        {
            throw failure;
        }
    }

    /**
     * After a flush that succeeded: has the translator make the metadata of every file written since its last commit
     * and with nothing left to write durable, in one call ({@link Translator#commit(long[])}, one metadata write for
     * a persistent store). Holds the writer lock of each such file across the call, as the commit contract asks. It
     * takes them with {@code tryLock}, so one busy file never delays the others' commit; a file whose lock was busy
     * is then committed on its own once its holder lets go (the holder need not write: a flush that returned has
     * made every file's data durable, and only the commit keeps it across a crash). Files never written since their
     * last commit are not locked at all.
     *
     * @param files      the cache's files.
     * @param translator the cache's translator.
     * @throws IOException if the translator could not make the metadata durable.
     */
    static void commitFlushed(final Collection<CachedFile> files, final Translator translator) throws IOException
    {
        final List<CachedFile> busy = new ArrayList<>();
        commitLocked(files, translator, busy);
        for (final CachedFile file : busy)
        {
            // its lock holder need not write (a translator change's bracket, the background write-back): the data
            // flushed is on the device, and only its commit makes it survive a crash. No pins are held here, so
            // waiting for the holder cannot keep it from a frame.
            commitLocked(List.of(file), translator, null);
        }
    }

    private static void commitLocked(final Collection<CachedFile> files, final Translator translator,
        final List<CachedFile> busy) throws IOException
    {
        final List<CachedFile> locked = new ArrayList<>();
        try
        {
            for (final CachedFile file : files)
            {
                if (!file.writeback().mayBeUncommitted())
                {
                    continue;
                }
                if (null == busy)
                {
                    file.writeback().lock();
                    locked.add(file);
                }
                else if (file.writeback().tryLock())
                {
                    locked.add(file);
                }
                else
                {
                    busy.add(file);
                }
            }
            final List<CachedFile> clean = new ArrayList<>(locked.size());
            for (final CachedFile file : locked)
            {
                if (!file.isGone() && file.writeback().uncommittedLocked() &&
                    !file.writeback().hasUndurablePagesLocked())
                {
                    clean.add(file);
                }
            }
            if (!clean.isEmpty())
            {
                translator.commit(clean.stream().mapToLong(CachedFile::id).toArray());
                for (final CachedFile file : clean)
                {
                    file.writeback().committedLocked(); // still locked: nothing written since the check
                }
            }
        }
        finally
        {
            for (int i = locked.size() - 1; i >= 0; i--)
            {
                locked.get(i).writeback().unlock();
            }
        }
    }

    /** Syncs the device for the batch's write-backs, then ends them (marked dirty again if the sync failed). */
    private static IOException syncBatch(final DeviceCache frames, final List<CachedFile> batch,
        final List<FileWriteback.WriteBack> written, final IOException failure)
    {
        boolean synced = false;
        IOException result = failure;
        try
        {
            frames.syncs.sync();
            synced = true;
        }
        catch (final IOException ex)
        {
            result = FileWriteback.firstOf(failure, new IOException(
                "flush: device sync failed; every page written stays dirty: " + ex.getMessage(), ex));
        }
        finally
        {
            if (!finishBatch(batch, written, synced))
            {
                result = FileWriteback.firstOf(result, new IOException("flush: a device sync failed after pages were " +
                    "written and may have dropped them; they stay dirty (flush again)", frames.syncs.lastFailure()));
            }
        }
        return result;
    }

    /** @return false if the sync succeeded but could not vouch for some file's pages (dirty again now). */
    private static boolean finishBatch(final List<CachedFile> batch,
        final List<FileWriteback.WriteBack> written, final boolean synced)
    {
        boolean vouched = true;
        for (int i = 0; i < batch.size(); i++)
        {
            vouched &= batch.get(i).writeback().finishFlush(written.get(i), synced);
        }
        batch.clear();
        written.clear();
        return vouched;
    }
}
