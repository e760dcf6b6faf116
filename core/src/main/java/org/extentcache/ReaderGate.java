package org.extentcache;

import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

/**
 * Keeps a cache's off-heap memory (the device index, the merge tables, the frame arena) from being freed while a
 * lock-free read is inside it: every read, pin, miss, merge pass and statistics snapshot {@link #enter}s before it
 * touches that memory and {@link #exit}s when it is done, and {@link #close} waits for every read inside to leave
 * before the caller frees anything. Writers need no gate: close drains them through each file's writer lock.
 *
 * <h2>Layout</h2>
 * A counter of reads inside per slot, each slot on its own 128 bytes (a cache line and the line the adjacent-line
 * prefetcher pairs with it), and the {@link #closed} flag. A thread always uses the slot its id names
 * ({@code id & mask}), so its enter and its exit hit the same counter; threads that share a slot just add to it.
 * A slot's count is the number of reads inside that went through it, never negative, and zero when none is.
 *
 * <h2>Ordering (Dekker)</h2>
 * <pre>
 *   reader: enter = getAndIncrement(slot)   [volatile RMW]  then  read closed      [volatile load]
 *   closer: close = write closed = true     [volatile store] then read each slot   [volatile load]
 * </pre>
 * Volatile accesses have one total order that agrees with each thread's program order. If the reader's load of
 * {@link #closed} comes before the closer's store in it, then so does the reader's increment, and the closer's
 * scan, which comes after its store, sees the increment and waits until the reader's {@link #exit}. Otherwise the
 * reader's load sees {@code true}, and the reader backs out (decrement, then {@code IllegalStateException}) without
 * touching the memory. Neither a reader inside with the memory freed nor both missing each other is possible. The
 * exit's decrement (a volatile RMW) is a release that the closer's scan reads with a volatile load (an acquire), so
 * everything the reader did to the memory happens before the closer frees it.
 *
 * <h2>Deadlock</h2>
 * Close waits only for reads already inside. Such a read never waits for the closer: claim waits give up once the
 * cache is closing ({@link FrameClaims#closing}), and so do waits for a frame's load ({@link FrameWaiters#closing}:
 * the loader may be a writer closing the cache from its device read), and writers are out before close gets here.
 * A read does not wait for a writer's lock inside the gate ({@link FileAdvice}'s write-back is outside it). A pin held is not a
 * read inside (its {@code pin} call has returned), so a thread that holds pins may close; its pins keep the arena
 * ({@link PinCounts#close}). The one read that would wait for itself is a close called from inside a read of the
 * same cache, by its translator or device during a miss or an advice (the places a read runs the caller's code):
 * they mark the thread ({@link #inMiss}, {@link #enterMarked}), and {@link #refuseCloseFromInside} makes that close
 * throw instead.
 *
 * <h2>Costs</h2>
 * Each public read call: two atomic adds (lock-prefixed on x86, each about the price of the CAS a pin pays) on a
 * line the thread mostly has to itself (threads whose ids share a slot contend on it), and one volatile load (a
 * plain load on x86); none inside a call's loop over pages, none on a thread-local. Close:
 * a scan of the slots, then waits as long as the slowest read inside (a device read, a translation). Memory:
 * {@code 128 * (slots + 1)} bytes on the heap (the first 128 keep the array's header, which every access reads, off
 * the first counter's line: sharing it took 2 threads on hits from 1.65 times 1 thread's throughput to 0.92 in
 * {@code HitScalingBenchmark}).
 *
 * <p>Thread-safe. Owned by its {@link DeviceCache}.
 */
final class ReaderGate
{
    /** Longs from one slot's counter to the next: 128 bytes. */
    private static final int SLOT_STRIDE = 16;
    /** Spins of a closer waiting for a slot before it parks between looks. */
    private static final int SPINS = 1000;
    /** How long a closer parks between looks at a slot that still has reads inside. */
    private static final long PARK_NANOS = 50_000;

    private final AtomicLongArray counts;
    private final int mask;
    /**
     * Per thread: misses (and advice) of this cache it is in, where its translator or device may call back. Counted
     * per gate, not one mark per thread, so a miss of this cache stays marked while a nested one of another cache
     * (its device reading through that cache) runs. One {@code int[1]} per thread that misses.
     */
    private final ThreadLocal<int[]> missDepth = ThreadLocal.withInitial(() -> new int[1]);
    /** Written once by {@link #close}, before its scan; read by every {@link #enter} after its increment. */
    private volatile boolean closed;

    /** A gate with a slot per two processors' worth of threads: at least 8, a power of two. */
    ReaderGate()
    {
        this(Math.max(8, Integer.highestOneBit(Runtime.getRuntime().availableProcessors() * 2 - 1) << 1));
    }

    /**
     * @param slots counters, a power of two.
     * @throws IllegalArgumentException if {@code slots} is not a positive power of two.
     */
    ReaderGate(final int slots)
    {
        if (slots <= 0 || Integer.bitCount(slots) != 1)
        {
            throw new IllegalArgumentException("slots must be a positive power of two: slots=" + slots);
        }
        // a stride of padding before the first slot too: the array's header (its length, read by every access's bounds
        // check) must not share a line with a counter another thread writes
        this.counts = new AtomicLongArray((slots + 1) * SLOT_STRIDE);
        this.mask = slots - 1;
    }

    /**
     * Lets the calling thread in; pair it with {@link #exit} in a {@code finally} on the same thread.
     *
     * @throws IllegalStateException if the cache is closed (nothing is held then).
     */
    void enter()
    {
        final int slot = slot();
        counts.getAndIncrement(slot);
        if (closed)
        {
            counts.getAndDecrement(slot);
            throw new IllegalStateException("cache is closed");
        }
    }

    /** Lets the calling thread out: after this it touches none of the cache's off-heap memory. */
    void exit()
    {
        counts.getAndDecrement(slot());
    }

    /**
     * Runs {@code read} inside the gate, for calls that allocate anyway (a statistics snapshot, a merge pass).
     *
     * @return what {@code read} returns.
     * @throws IllegalStateException if the cache is closed.
     */
    <T> T supply(final Supplier<T> read)
    {
        enter();
        try
        {
            return read.get();
        }
        finally
        {
            exit();
        }
    }

    /**
     * Shuts the gate and returns once no read is inside: after this no read touches the memory, and the caller may
     * free it. Idempotent. Must not be called by a thread inside the gate ({@link #refuseCloseFromInside}).
     */
    void close()
    {
        closed = true;
        for (int slot = 0; slot <= mask; slot++)
        {
            int spins = 0;
            while (0 != counts.get((slot + 1) * SLOT_STRIDE))
            {
                if (++spins < SPINS)
                {
                    Thread.onSpinWait();
                }
                else
                {
                    LockSupport.parkNanos(this, PARK_NANOS);
                }
            }
        }
    }

    /**
     * Marks the calling thread as in a miss of this cache, where the translator and the device run: until
     * {@link #leftMiss} a close on this thread would wait for the thread itself. Nests, within a cache and across
     * caches.
     *
     * @return this gate, to pass to {@link #leftMiss}.
     */
    ReaderGate inMiss()
    {
        missDepth.get()[0]++;
        return this;
    }

    /**
     * @param marked what {@link #inMiss} returned.
     */
    static void leftMiss(final ReaderGate marked)
    {
        marked.missDepth.get()[0]--;
    }

    /**
     * {@link #enter} and {@link #inMiss} at once, for gated work outside the miss path that runs the translator or
     * the device (advice): pair it with {@link #exitMarked} in a {@code finally}.
     *
     * @return what {@link #inMiss} returned.
     * @throws IllegalStateException if the cache is closed (nothing is held then).
     */
    ReaderGate enterMarked()
    {
        enter();
        return inMiss();
    }

    /**
     * @param marked what {@link #enterMarked} returned.
     */
    void exitMarked(final ReaderGate marked)
    {
        leftMiss(marked);
        exit();
    }

    /**
     * @throws IllegalStateException if the calling thread is in a miss of this cache (a translator or device calling
     *                               close from inside a read): that close would wait for its own read to leave.
     */
    void refuseCloseFromInside()
    {
        if (missDepth.get()[0] > 0)
        {
            throw new IllegalStateException("close called from inside a read of the same cache (by its translator " +
                "or device): it would wait for that read to leave; close the cache after the read returns");
        }
    }

    /** @return true once {@link #close} has begun. */
    boolean isClosed()
    {
        return closed;
    }

    private int slot()
    {
        return indexOf(Thread.currentThread().getId());
    }

    /** @return the index of the counter a thread of id {@code threadId} uses: never within the array's first line. */
    int indexOf(final long threadId)
    {
        return (((int)threadId & mask) + 1) * SLOT_STRIDE;
    }
}
