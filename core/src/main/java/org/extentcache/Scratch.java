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

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

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
    final byte[] staging = new byte[ExtentCache.MAX_PAGE_SIZE];
    /** True while {@link #staging} holds a write's page (a nested write stages elsewhere). */
    boolean stagingInUse;

    private Scratch()
    {
    }

    /**
     * @return this thread's scratch; not to be held across calls that may use it again.
     */
    static Scratch get()
    {
        return SCRATCH.get();
    }
}
