package org.extentcache;

import org.extentcache.frame.FrameArena;
import org.extentcache.frame.FrameDescriptor;
import org.extentcache.frame.Handle;

/**
 * Where threads wait for a frame to finish loading: a fixed table of monitors hashed by frame number, like the
 * kernel's hashed page wait queues ({@code page_waitqueue()}). No per-frame heap object exists; a waiter parks on
 * its frame's bucket and re-checks that frame's state word, so a wake-up for another frame in the same bucket costs
 * one spurious re-check and nothing else.
 *
 * <p>Pairing: the loader changes the state word (CAS, volatile) and then calls {@link #wakeAll} under the bucket's
 * monitor; the waiter checks the state word under the same monitor before each {@code wait()}, so no wake-up is lost.
 */
final class FrameWaiters
{
    private final Object[] buckets;
    private final int mask;
    /**
     * Set once the cache is closing ({@link #closing}), before every bucket is woken: a wait for a load gives up, for
     * the loader may be the thread closing the cache (a writer's device read), waiting for the waiter's read to
     * leave the {@link ReaderGate}. Written under no monitor; read under the bucket's, after the wake-up.
     */
    private volatile boolean closing;

    FrameWaiters(final int bucketCount)
    {
        final int size = Integer.highestOneBit(Math.max(1, bucketCount - 1)) << 1;
        buckets = new Object[size];
        for (int i = 0; i < size; i++)
        {
            buckets[i] = new Object();
        }
        mask = size - 1;
    }

    /**
     * Waits while the frame named by {@code handle} is still {@link FrameDescriptor#LOADING} at the handle's
     * generation, or until the cache is closing ({@link #closing}: the frame may still be loading then). Interrupts are
     * remembered and restored on return, not acted on: the load finishes on its own.
     *
     * @param arena  the frames.
     * @param handle a pinned handle to the frame.
     */
    void awaitLoaded(final FrameArena arena, final long handle)
    {
        final int frame = Handle.frame(handle);
        final Object bucket = buckets[frame & mask];
        boolean interrupted = false;
        synchronized (bucket)
        {
            while (!closing && isLoading(arena.stateWord(frame), handle))
            {
                try
                {
                    bucket.wait();
                }
                catch (final InterruptedException ex)
                {
                    interrupted = true;
                }
            }
        }
        if (interrupted)
        {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Waits until the frame's state word is no longer {@code word} (a writer owns the frame). Interrupts are
     * remembered and restored, as in {@link #awaitLoaded}.
     *
     * @param arena the frames.
     * @param frame frame number.
     * @param word  the word seen.
     */
    void awaitChange(final FrameArena arena, final int frame, final long word)
    {
        final Object bucket = buckets[frame & mask];
        boolean interrupted = false;
        synchronized (bucket)
        {
            while (arena.stateWord(frame) == word)
            {
                try
                {
                    bucket.wait();
                }
                catch (final InterruptedException ex)
                {
                    interrupted = true;
                }
            }
        }
        if (interrupted)
        {
            Thread.currentThread().interrupt();
        }
    }

    /** The cache is closing: every wait for a load returns now, and every later one at once. */
    void closing()
    {
        closing = true;
        for (final Object bucket : buckets)
        {
            synchronized (bucket)
            {
                bucket.notifyAll();
            }
        }
    }

    /**
     * Wakes every thread waiting on the frame's bucket; call after the frame left {@code LOADING}.
     *
     * @param frame frame number.
     */
    void wakeAll(final int frame)
    {
        final Object bucket = buckets[frame & mask];
        synchronized (bucket)
        {
            bucket.notifyAll();
        }
    }

    private static boolean isLoading(final long word, final long handle)
    {
        return Handle.matches(handle, word) && FrameDescriptor.state(word) == FrameDescriptor.LOADING;
    }
}
