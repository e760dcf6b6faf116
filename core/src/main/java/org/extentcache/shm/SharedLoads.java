package org.extentcache.shm;

import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;

import static org.extentcache.shm.SharedLayout.LOADING;
import static org.extentcache.shm.SharedLayout.READY;
import static org.extentcache.shm.SharedLayout.generationOf;
import static org.extentcache.shm.SharedLayout.stateOf;
import static org.extentcache.shm.SharedLayout.stateWord;

/**
 * One client's loads into a shared cache file ({@link SharedCache#load}): find the key, wait for another client's
 * load of it, or claim a frame under the allocation lock and fill it outside the lock.
 *
 * <h2>A load, step by step</h2>
 * <ol>
 *   <li>{@link SharedIndex#find} without a lock: READY, done; LOADING by someone, wait for its state word to change
 *       (polling: Java has no cross-process wake-up), recovering the loader if its lease ran out; RECLAIMING, back
 *       off (it settles under the lock).</li>
 *   <li>Absent: under the lock, look again; still absent, claim a frame ({@link FrameSweep}), set its key, index it.
 *       The frame is LOADING by this client from then on.</li>
 *   <li>Outside the lock, the caller's loader fills the frame through a page view of its own; then CAS LOADING to
 *       READY, the release the readers' acquire of the state word pairs with. A loader that throws, leaves bytes
 *       unfilled or loses the frame to a recovery (this process was taken for dead) gives the frame up: out of the
 *       index and FREE, under the lock, in a {@code finally}.</li>
 * </ol>
 * A loader runs on the calling thread and may load other keys (each fill has a page view of its own, {@link Fills});
 * loading its own key again, or closing the cache, would wait for itself and is refused.
 *
 * <h2>Closing</h2>
 * {@link #closeAndDrain} sets {@code closed} and waits for the loads in flight; a load counts itself in before it
 * reads {@code closed} (the Dekker pair of {@code ReaderGate}), and waits give up once it is set.
 *
 * <p><b>Thread safety:</b> safe for concurrent use.
 */
final class SharedLoads
{
    private static final int LOAD_ATTEMPTS = 200;

    private final SharedFile file;
    private final SharedLayout layout;
    private final UnsafeBuffer meta;
    private final FrameRecords records;
    private final SharedIndex index;
    private final FrameSweep sweep;
    private final ClientTable clients;
    private final ClientLease lease;
    private final AtomicInteger loadsInFlight = new AtomicInteger();
    /** Per thread: the fills its loaders are running, innermost last (a loader may load another key). */
    private final ThreadLocal<Fills> fills;
    private final ThreadLocal<long[]> found = ThreadLocal.withInitial(() -> new long[1]);
    private volatile boolean closed;

    SharedLoads(final SharedFile file, final FrameRecords records, final SharedIndex index, final FrameSweep sweep,
        final ClientTable clients, final ClientLease lease)
    {
        this.file = file;
        this.layout = file.layout;
        this.meta = file.meta;
        this.records = records;
        this.index = index;
        this.sweep = sweep;
        this.clients = clients;
        this.lease = lease;
        this.fills = ThreadLocal.withInitial(() -> new Fills(file.chunkMaps));
    }

    /** @return true if this thread is inside a loader (a close from there would wait for itself). */
    boolean inLoader()
    {
        return fills.get().inLoader();
    }

    /** Refuses loads from now on and waits for those in flight. */
    void closeAndDrain()
    {
        closed = true;
        for (int spins = 0; 0 != loadsInFlight.get(); spins++)
        {
            SharedLock.backOff(spins);
        }
    }

    private void checkOpen()
    {
        if (closed)
        {
            throw new IllegalStateException("shared cache " + file.path + " is closed");
        }
    }

    /** See {@link SharedCache#load}. */
    long load(final long key, final SharedCache.PageLoader loader) throws IOException
    {
        Objects.requireNonNull(loader, "loader");
        loadsInFlight.incrementAndGet();
        try
        {
            checkOpen(); // after the increment: close's wait for loads sees this one (Dekker, as ReaderGate)
            final long[] word = found.get();
            for (int attempt = 0; ; attempt++)
            {
                final int frame = index.find(key, word);
                if (frame >= 0)
                {
                    final int state = stateOf(word[0]);
                    if (READY == state)
                    {
                        records.touch(frame);
                        return SharedCache.handle(frame, generationOf(word[0]));
                    }
                    if (LOADING == state)
                    {
                        if (SharedLayout.clientOf(word[0]) == lease.slot() && fills.get().filling(frame))
                        {
                            throw new IllegalStateException("the loader of key " + key + " asked the cache for " +
                                "key " + key + " itself: it would wait for its own load");
                        }
                        awaitChange(frame, word[0]);
                    }
                    else
                    {
                        SharedLock.backOff(attempt); // RECLAIMING: settles under the lock
                    }
                    continue;
                }
                final int claimed = claim(key);
                if (claimed >= 0)
                {
                    return fill(claimed, key, loader);
                }
                if (-1 == claimed)
                {
                    if (attempt >= LOAD_ATTEMPTS)
                    {
                        throw new IllegalStateException("no frame of " + file.path + " can be claimed for key " +
                            key + ": all " + layout.frames + " frames are pinned or loading");
                    }
                    SharedLock.backOff(attempt + 200); // park: pins and loads are released meanwhile
                }
            }
        }
        finally
        {
            loadsInFlight.decrementAndGet();
        }
    }

    /**
     * Under the lock: if the key is still absent, claims a frame, sets its key and indexes it.
     *
     * @return the frame (LOADING by this client), -1 if no frame could be claimed, -2 if the key appeared.
     */
    private int claim(final long key)
    {
        final long now = System.currentTimeMillis();
        lease.lock();
        try
        {
            lease.checkMember();
            if (index.find(key, found.get()) >= 0)
            {
                return -2;
            }
            final int frame = sweep.claim(lease.slot(), now);
            if (frame >= 0)
            {
                records.key(frame, key);
                index.insert(key, frame);
            }
            return frame;
        }
        finally
        {
            lease.unlock();
        }
    }

    private long fill(final int frame, final long key, final SharedCache.PageLoader loader) throws IOException
    {
        final long loading = records.state(frame);
        final Fills mine = fills.get();
        boolean published = false;
        final ByteBuffer page = mine.push(frame, file.frameOffset(frame), layout.pageSize, layout.framesPerChunk());
        try
        {
            loader.load(key, page);
            if (page.hasRemaining())
            {
                throw new IllegalStateException("the loader of key " + key + " left " + page.remaining() +
                    " bytes of the page unfilled");
            }
            final long ready = stateWord(generationOf(loading), 0, READY);
            if (!records.casState(frame, loading, ready)) // release: pairs with the readers' acquire of the word
            {
                throw lease.expelledException();
            }
            published = true;
            meta.getAndAddLong(SharedLayout.LOADS_OFFSET, 1);
            records.touch(frame);
            return SharedCache.handle(frame, generationOf(ready));
        }
        finally
        {
            mine.pop();
            if (!published)
            {
                abandon(frame, loading, key);
            }
        }
    }

    /** A failed load: out of the index and FREE, if the frame is still this load's (recovery may have taken it). */
    private void abandon(final int frame, final long loading, final long key)
    {
        lease.lock();
        try
        {
            if (records.state(frame) == loading)
            {
                index.remove(key, frame);
                records.casState(frame, loading,
                    stateWord(SharedLayout.nextGeneration(generationOf(loading)), 0, SharedLayout.FREE));
            }
        }
        finally
        {
            lease.unlock();
        }
    }

    /**
     * The fills one thread is running, innermost last: a loader may load another key, and each fill gets a view of
     * its own (one duplicate of each chunk per depth, made the first time a depth is reached), so an inner fill never
     * re-aims the page an outer loader is filling. Also says whether this thread is inside a loader (close refuses)
     * and which frames it is filling (a load of one of them would wait for itself).
     */
    private static final class Fills
    {
        private final ByteBuffer[] chunks;
        private ByteBuffer[][] views = new ByteBuffer[1][];
        private int[] frames = new int[1];
        private int depth;

        Fills(final ByteBuffer[] chunks)
        {
            this.chunks = chunks;
        }

        ByteBuffer push(final int frame, final int offset, final int pageSize, final int framesPerChunk)
        {
            if (depth == frames.length)
            {
                frames = java.util.Arrays.copyOf(frames, depth * 2);
                views = java.util.Arrays.copyOf(views, depth * 2);
            }
            if (null == views[depth])
            {
                views[depth] = new ByteBuffer[chunks.length];
            }
            final int chunk = frame / framesPerChunk;
            ByteBuffer view = views[depth][chunk];
            if (null == view)
            {
                view = chunks[chunk].duplicate();
                views[depth][chunk] = view;
            }
            frames[depth++] = frame;
            view.clear();
            view.position(offset);
            view.limit(offset + pageSize);
            return view;
        }

        void pop()
        {
            depth--;
        }

        boolean filling(final int frame)
        {
            for (int i = 0; i < depth; i++)
            {
                if (frames[i] == frame)
                {
                    return true;
                }
            }
            return false;
        }

        boolean inLoader()
        {
            return 0 != depth;
        }
    }

    /** Waits for a LOADING frame's state word to change, recovering its loader if its lease ran out. */
    private void awaitChange(final int frame, final long loading) throws InterruptedIOException
    {
        for (int spins = 0; records.state(frame) == loading; spins++)
        {
            checkOpen();
            if (Thread.currentThread().isInterrupted())
            {
                throw new InterruptedIOException("interrupted waiting for frame " + frame + " of " + file.path +
                    " to load");
            }
            final long loader = clients.session(SharedLayout.clientOf(loading));
            if (0 != loader && clients.expired(loader, System.currentTimeMillis(), file.leaseMillis))
            {
                lease.recoverDead(loader);
            }
            SharedLock.backOff(spins);
        }
    }
}
