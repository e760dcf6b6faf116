package org.extentcache;

import org.extentcache.frame.FrameArena;
import org.extentcache.frame.Handle;
import org.extentcache.index.DeviceIndex;

import java.util.BitSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

import static org.extentcache.frame.FrameDescriptor.*;

/**
 * The pin counts of a {@link DeviceCache}'s frames, kept in the low bits of each frame's state word: taking and
 * releasing pins, and the arena's release at close, which waits for the last pin held then. (A {@link FramePin} is
 * one pin held as a view; this class counts them all.)
 *
 * <h2>Transitions</h2>
 * <pre>
 *   any frame: pin   = CAS word -&gt; word + 1 at an unchanged generation and state (refused at MAX_PINS)
 *   any frame: unpin = CAS word -&gt; word - 1
 *   ORPHAN, last unpin (CAS, then lock)------------------&gt; FREE, generation + 1; its load error dropped
 *   pinned at close (lock; CAS)--------------------------&gt; ORPHAN, counted in pinnedAtClose
 *   ORPHAN counted at close, last unpin (CAS, then lock)-&gt; uncounted; the last one frees the arena
 * </pre>
 *
 * <h2>Concurrency</h2>
 * Pins and unpins are one CAS on the state word each, without the lock; that CAS is the acquire/release pair that
 * orders a pinned reader's bytes against the frame's reuse. Only the unpin that leaves an orphan unpinned takes the
 * allocation lock, to free the frame (or, after close, to count it off). {@link #close} sets {@link #closed} under
 * the same lock, so an unpin that takes the lock after it sees it.
 *
 * <h2>Close</h2>
 * {@link #close} frees the arena at once only if no frame is pinned; otherwise every pinned frame is orphaned in the
 * same CAS that sees its pins, and counted, and the unpin that releases the last of them frees the arena: a view over
 * a pinned frame never points at freed memory.
 *
 * <h2>Costs</h2>
 * A pin or an unpin: one state-word load and one CAS (more under contention). The last unpin of an orphan: the lock,
 * a map removal and a free-list push. Close: one pass over the frames' state words.
 *
 * <p>Thread-safe. Owned by its {@link DeviceCache}.
 */
final class PinCounts
{
    private final FrameArena arena;
    private final ReentrantLock lock;
    /** Failed loads by handle ({@link FrameLoads}); a frame's last unpin drops its entry. */
    private final ConcurrentHashMap<Long, FrameLoads.LoadError> loadErrors;
    /** Set under {@link #lock} by {@link #close}; checked under it by callers that may race a close. */
    private volatile boolean closed;
    /** Frames still pinned when the cache closed; under {@link #lock}. The last one's unpin frees the arena. */
    private BitSet pinnedAtClose;

    PinCounts(final FrameArena arena, final ReentrantLock lock,
        final ConcurrentHashMap<Long, FrameLoads.LoadError> loadErrors)
    {
        this.arena = arena;
        this.lock = lock;
        this.loadErrors = loadErrors;
    }

    /**
     * Pins a frame found without the lock, if it still holds {@code block} and is loading or up to date (dirty or
     * not).
     *
     * @return the pinned handle, or {@link Handle#NONE} if the frame changed hands or is being written (take the
     * locked path).
     */
    static long tryPin(final FrameArena arena, final int frame, final long block)
    {
        while (true)
        {
            final long word = arena.stateWord(frame);
            final int state = baseState(word);
            if ((state != UPTODATE && state != LOADING) || pins(word) == MAX_PINS || arena.deviceBlock(frame) != block)
            {
                return Handle.NONE;
            }
            if (arena.casStateWord(frame, word, word + 1))
            {
                return Handle.handle(frame, generation(word));
            }
        }
    }

    /**
     * Pins the frame a file mapping's handle names, if the handle is still valid and the frame up to date: the
     * pinning counterpart of the optimistic file hit. One CAS.
     *
     * @param handle a handle from a file mapping.
     * @return true if pinned; the caller then owns the pin and must {@link #unpin} it.
     */
    boolean pinHandle(final long handle)
    {
        final int frame = Handle.frame(handle);
        while (true)
        {
            final long word = arena.stateWord(frame);
            if (!Handle.matches(handle, word) || baseState(word) != UPTODATE || pins(word) == MAX_PINS)
            {
                return false;
            }
            if (arena.casStateWord(frame, word, word + 1))
            {
                return true;
            }
        }
    }

    /**
     * Takes one more pin on a frame the caller already pins, whatever its state now (a frame orphaned by a
     * copy-on-write or an invalidation while pinned keeps its bytes until its last unpin): for a view that outlives
     * the pin it was made from, such as a retained Netty buffer. Released with {@link #unpin}.
     *
     * @param handle a handle the caller holds a pin on.
     * @throws IllegalStateException if the handle holds no pin, or the frame's pin count is full.
     */
    void retain(final long handle)
    {
        final int frame = Handle.frame(handle);
        while (true)
        {
            final long word = arena.stateWord(frame);
            if (!Handle.matches(handle, word) || pins(word) == 0)
            {
                throw new IllegalStateException("retain of a frame not pinned: " + Handle.toString(handle) +
                    " state=" + stateName(state(word)) + " pins=" + pins(word));
            }
            if (pins(word) == MAX_PINS)
            {
                throw new IllegalStateException("pin count overflow on frame " + frame + ": more than " + MAX_PINS +
                    " pins");
            }
            if (arena.casStateWord(frame, word, word + 1))
            {
                return;
            }
        }
    }

    /**
     * Releases a pin; frees the frame if it was orphaned and this was its last pin (after close: counts it off, and
     * frees the arena if it was the last pin held at close).
     *
     * @param handle the pinned handle.
     * @throws IllegalStateException if the handle holds no pin.
     */
    void unpin(final long handle)
    {
        final int frame = Handle.frame(handle);
        while (true)
        {
            final long word = arena.stateWord(frame);
            if (!Handle.matches(handle, word) || pins(word) == 0)
            {
                throw new IllegalStateException("unpin of a frame not pinned: " + Handle.toString(handle) +
                    " state=" + stateName(state(word)) + " pins=" + pins(word));
            }
            final long unpinned = word - 1;
            if (arena.casStateWord(frame, word, unpinned))
            {
                if (pins(unpinned) == 0 && state(unpinned) == ORPHAN)
                {
                    lock.lock();
                    try
                    {
                        loadErrors.remove(handle);
                        if (closed)
                        {
                            lastUnpinAfterCloseLocked(frame);
                        }
                        else
                        {
                            arena.free(frame, unpinned);
                        }
                    }
                    finally
                    {
                        lock.unlock();
                    }
                }
                return;
            }
        }
    }

    /**
     * Counts frames with pins, for reporting leaks at close; takes the lock.
     *
     * @return frames whose pin count is not zero.
     */
    int pinnedFrames()
    {
        lock.lock();
        try
        {
            return FrameBooks.pinnedFrames(arena);
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * Frees the device index, and the arena unless a frame is still pinned: then every pinned frame is orphaned and
     * counted, and the last of their unpins frees the arena (see the class comment). Idempotent.
     *
     * @param index  the cache's device index, freed at once.
     * @param merger the cache's content merging, whose tables are freed with the index; null if merging is off.
     */
    void close(final DeviceIndex index, final PageMerger merger)
    {
        lock.lock();
        try
        {
            if (closed)
            {
                return;
            }
            closed = true;
            index.close();
            if (null != merger)
            {
                merger.close();
            }
            final BitSet pinned = new BitSet();
            for (int frame = 0; frame < arena.capacity(); frame++)
            {
                while (true)
                {
                    final long word = arena.stateWord(frame);
                    if (pins(word) == 0)
                    {
                        break;
                    }
                    // orphaned in the same CAS that sees the pins: the unpin that takes the count to zero sees ORPHAN
                    // and comes to lastUnpinAfterCloseLocked
                    if (arena.casStateWord(frame, word, withState(word, ORPHAN)))
                    {
                        pinned.set(frame);
                        break;
                    }
                }
            }
            pinnedAtClose = pinned;
            if (pinned.isEmpty())
            {
                arena.close();
            }
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * @return true once {@link #close} ran; read under the lock by callers that may race it (it is set under it).
     */
    boolean isClosed()
    {
        return closed;
    }

    /** Under the lock: {@link #close} sets {@link #closed} under it, then frees the index. */
    void ensureOpenLocked()
    {
        if (closed)
        {
            throw new IllegalStateException("cache is closed");
        }
    }

    /** The last pin of {@code frame} went after close; caller holds the lock. Frees the arena after the last one. */
    private void lastUnpinAfterCloseLocked(final int frame)
    {
        if (pinnedAtClose.get(frame))
        {
            pinnedAtClose.clear(frame);
            if (pinnedAtClose.isEmpty())
            {
                arena.close();
            }
        }
    }
}
