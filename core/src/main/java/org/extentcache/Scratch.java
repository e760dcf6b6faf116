package org.extentcache;

import org.extentcache.translate.Extent;

/**
 * Per-thread working space for the miss and write paths, so they allocate nothing: the translation flyweight, the
 * handles gathered by fault-around, and whether the last {@link DeviceCache#acquire} read the device.
 */
final class Scratch
{
    /** Pages mapped ahead after a sharing hit, at most. */
    static final int FAULT_AROUND = 16;

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(() -> new Scratch(true));

    final Extent extent = new Extent();
    /** Room for a fault-around's handles, or a readahead window's. */
    final long[] handles = new long[Math.max(FAULT_AROUND, FrameReadahead.ADVISED_WINDOW)];
    boolean loaded;
    /** {@link FrameClaims#findOrClaim}'s answer: {@code {handle, outcome, stateWord}}. */
    final long[] claim = new long[3];
    /** Pages the last {@link FrameReadahead#readAhead} covered, the page that missed included; 0 if it read none. */
    int readAhead;
    /** Frames a content-index lookup nominates for merging ({@link PageMerger}). */
    final int[] mergeCandidates = new int[org.extentcache.merge.ContentIndex.MAX_CANDIDATES];
    /**
     * A page of the caller's bytes, copied out of a direct source before the cache takes the page for writing: a
     * source over a mapped file can fault, and the fault must reach the caller before any frame changes state.
     */
    final byte[] staging;
    /** True while {@link #staging} holds a write's page (a nested write stages elsewhere). */
    boolean stagingInUse;
    /** Misses and writes of this thread inside {@link #forMiss}: from 1 on, a nested one gets a fresh scratch. */
    private int missesInside;

    /** @param own true for a thread's scratch; false for a nested miss's ({@link #forMiss}), which stages nothing. */
    private Scratch(final boolean own)
    {
        this.staging = own ? new byte[ExtentCache.MAX_PAGE_SIZE] : null;
    }

    /**
     * @return this thread's scratch; not to be held across calls that may use it again.
     */
    static Scratch get()
    {
        return SCRATCH.get();
    }

    /**
     * This thread's scratch for a miss or a write, which keeps its translation, window and flags in it across the
     * translator's and the device's calls; or, for one nested in another of this thread (a translator or device
     * reading or writing through a cache), a fresh one, so the nested call cannot overwrite what the outer one still
     * needs. Allocates only then (about 1 KiB; its {@link #staging} is null: staging uses the thread's own, see
     * {@link #stagingInUse}). Pair it with {@link #leftMiss} in a {@code finally}.
     *
     * @return the scratch the miss is to use.
     */
    static Scratch forMiss()
    {
        final Scratch own = SCRATCH.get();
        return 0 == own.missesInside++ ? own : new Scratch(false);
    }

    /** The miss that called {@link #forMiss} is done. */
    static void leftMiss()
    {
        SCRATCH.get().missesInside--;
    }
}
