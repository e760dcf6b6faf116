package org.extentcache.frame;

/**
 * Layout of one frame's metadata record in the off-heap metadata region, and of the state word inside it.
 *
 * <p>One record per frame, {@link #RECORD_LENGTH} bytes, at {@code frame * RECORD_LENGTH}; the state word is
 * 8-byte aligned so it can be read and CASed atomically.
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                        State word (64)                        |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                       Device block (64)                       |
 *  |                                                               |
 *  +---------------+-----------------------------------------------+
 *  |  Referenced   |                 Reserved (24)                 |
 *  +---------------+-----------------------------------------------+
 *  |                       Next free frame (32)                    |
 *  +---------------------------------------------------------------+
 * </pre>
 *
 * <p><b>State word</b> (see {@link Handle} for the generation's place in a handle, which is the same):
 * <pre>
 *   63                                     28 27      20 19             0
 *  +-----------------------------------------+----------+----------------+
 *  |           generation (36 bits)          | state (8)|   pins (20)    |
 *  +-----------------------------------------+----------+----------------+
 * </pre>
 * <ul>
 *   <li><b>generation</b> starts at 1 and is bumped each time the frame is freed; a {@link Handle} is valid while its
 *       generation equals the frame's. A frame whose generation would reach {@link #MAX_GENERATION} is
 *       {@link #RETIRED} instead, so a generation is never reused and a stale handle can never become valid again.</li>
 *   <li><b>state</b>: low four bits the base state ({@link #FREE}, {@link #LOADING}, {@link #UPTODATE},
 *       {@link #WRITING}, {@link #ORPHAN}, {@link #RETIRED}); bit 4 the {@link #DIRTY} flag (the frame holds bytes
 *       the device does not have yet); bit 5 the {@link #MERGED} flag (the frame also serves other blocks with the
 *       same bytes, so it is never written in place).</li>
 *   <li><b>pins</b>: references that keep the frame's memory and contents stable: the loading thread, threads
 *       waiting for the load, and readers copying on the slow path.</li>
 * </ul>
 * <p><b>Referenced byte</b>: the CLOCK bit, with one more value. {@link #NOT_REFERENCED}: loaded and used once (a load
 * is the first use), or passed by the hand since its last use; {@link #REFERENCED}: used again since; {@link #READ_AHEAD}:
 * read ahead and not used yet, so its first use leaves it {@link #NOT_REFERENCED}, as a load would, and a
 * speculative claim ({@link FrameArena#sweepUnreferenced}) does not take it from the window that read it.
 *
 * <p>The device block field is written only while no reader can trust it: by the claiming thread (under the arena
 * lock, state {@link #FREE}) before the release store of the state word that publishes the frame, and when the
 * frame is freed (state {@link #ORPHAN}, unindexed); it is read after an
 * acquire load of the state word, and trusted only if a later CAS or re-read of the word shows it unchanged.
 */
public final class FrameDescriptor
{
    /** Offset of the state word. */
    public static final int STATE_WORD_OFFSET = 0;
    /** Offset of the device block the frame holds. */
    public static final int DEVICE_BLOCK_OFFSET = STATE_WORD_OFFSET + Long.BYTES;
    /** Offset of the CLOCK reference byte. */
    public static final int REFERENCED_OFFSET = DEVICE_BLOCK_OFFSET + Long.BYTES;
    /** Referenced byte: not used since the hand passed, or used only by the load. */
    public static final byte NOT_REFERENCED = 0;
    /** Referenced byte: used since the hand passed (a second chance). */
    public static final byte REFERENCED = 1;
    /** Referenced byte: read ahead, not used yet. */
    public static final byte READ_AHEAD = 2;
    /** Offset of the next frame on the free list, or {@link #NO_FRAME}. */
    public static final int NEXT_FREE_OFFSET = REFERENCED_OFFSET + Integer.BYTES;
    /** Bytes in one record. */
    public static final int RECORD_LENGTH = NEXT_FREE_OFFSET + Integer.BYTES;

    /** Bits of the pin count. */
    public static final int PINS_BITS = 20;
    /** Bits of the state. */
    public static final int STATE_BITS = 8;
    /** Bits of the generation. */
    public static final int GENERATION_BITS = Long.SIZE - STATE_BITS - PINS_BITS;

    /** Shift of the state field. */
    public static final int STATE_SHIFT = PINS_BITS;
    /** Shift of the generation field; equal to {@link Handle#GENERATION_SHIFT}. */
    public static final int GENERATION_SHIFT = STATE_SHIFT + STATE_BITS;

    /** Most pins a frame can hold. */
    public static final long MAX_PINS = (1L << PINS_BITS) - 1;
    /** Mask of the pin count. */
    public static final long PINS_MASK = MAX_PINS;
    /** Mask of the state, once shifted down. */
    public static final long STATE_MASK = (1L << STATE_BITS) - 1;
    /** The generation a frame never reaches: it is retired first. */
    public static final long MAX_GENERATION = (1L << GENERATION_BITS) - 1;
    /** First generation of every frame; handles are therefore never 0. */
    public static final long FIRST_GENERATION = 1;

    /** On the free list: no block, no pins. */
    public static final int FREE = 0;
    /** In the device index; the claiming thread is reading the block from the device. Readers wait. */
    public static final int LOADING = 1;
    /** In the device index with the block's bytes. */
    public static final int UPTODATE = 2;
    /** Out of the device index (invalidated while loading, or the load failed); freed by the last unpin. */
    public static final int ORPHAN = 3;
    /** Out of service for good: its generations are used up. */
    public static final int RETIRED = 4;
    /**
     * Owned by one writer: being written in place (readers wait and re-read; no pins may be taken), or claimed and
     * being filled before it is published in the device index.
     */
    public static final int WRITING = 5;
    /** Flag: the frame's bytes are newer than the device's. Never set on a shared block's frame. */
    public static final int DIRTY = 0x10;
    /**
     * Flag: the frame is merged, serving blocks besides its own (content merging): never written in place, so a write
     * to any page mapped to it goes copy-on-write. Set on an {@link #UPTODATE}, clean frame; cleared when it is freed.
     */
    public static final int MERGED = 0x20;
    /** Mask of the base state within the state field. */
    public static final int BASE_STATE_MASK = 0x0F;

    /** "No frame" in the free-list link and in lookups. */
    public static final int NO_FRAME = -1;

    private FrameDescriptor()
    {
    }

    /**
     * @param frame frame number.
     * @return offset of the frame's record in the metadata region.
     */
    public static int recordOffset(final int frame)
    {
        return frame * RECORD_LENGTH;
    }

    /**
     * @param frame frame number.
     * @return offset of the frame's state word.
     */
    public static int stateWordOffset(final int frame)
    {
        return recordOffset(frame) + STATE_WORD_OFFSET;
    }

    /**
     * @param frame frame number.
     * @return offset of the frame's device block.
     */
    public static int deviceBlockOffset(final int frame)
    {
        return recordOffset(frame) + DEVICE_BLOCK_OFFSET;
    }

    /**
     * @param frame frame number.
     * @return offset of the frame's reference byte.
     */
    public static int referencedOffset(final int frame)
    {
        return recordOffset(frame) + REFERENCED_OFFSET;
    }

    /**
     * @param frame frame number.
     * @return offset of the frame's free-list link.
     */
    public static int nextFreeOffset(final int frame)
    {
        return recordOffset(frame) + NEXT_FREE_OFFSET;
    }

    /**
     * @param generation generation, {@code 1 .. MAX_GENERATION - 1}.
     * @param state      state.
     * @param pins       pin count.
     * @return the packed state word.
     */
    public static long packStateWord(final long generation, final int state, final long pins)
    {
        return (generation << GENERATION_SHIFT) | ((long)state << STATE_SHIFT) | pins;
    }

    /**
     * @param word a state word.
     * @return its generation.
     */
    public static long generation(final long word)
    {
        return word >>> GENERATION_SHIFT;
    }

    /**
     * @param word a state word.
     * @return its state.
     */
    public static int state(final long word)
    {
        return (int)((word >>> STATE_SHIFT) & STATE_MASK);
    }

    /**
     * @param word a state word.
     * @return its base state, without flags.
     */
    public static int baseState(final long word)
    {
        return state(word) & BASE_STATE_MASK;
    }

    /**
     * @param word a state word.
     * @return true if the {@link #DIRTY} flag is set.
     */
    public static boolean isDirty(final long word)
    {
        return (state(word) & DIRTY) != 0;
    }

    /**
     * @param word a state word.
     * @return true if the {@link #MERGED} flag is set.
     */
    public static boolean isMerged(final long word)
    {
        return (state(word) & MERGED) != 0;
    }

    /**
     * @param word a state word.
     * @return true if the frame is {@link #UPTODATE} and clean (merged or not): what reclaim and merging accept.
     */
    public static boolean isCleanUpToDate(final long word)
    {
        return (state(word) & ~MERGED) == UPTODATE;
    }

    /**
     * @param word a state word.
     * @return its pin count.
     */
    public static long pins(final long word)
    {
        return word & PINS_MASK;
    }

    /**
     * @param word  a state word.
     * @param state the new state.
     * @return the word with its state replaced.
     */
    public static long withState(final long word, final int state)
    {
        return (word & ~(STATE_MASK << STATE_SHIFT)) | ((long)state << STATE_SHIFT);
    }

    /**
     * @param state a state.
     * @return its name, for messages.
     */
    public static String stateName(final int state)
    {
        if ((state & DIRTY) != 0)
        {
            return stateName(state & ~DIRTY) + "|DIRTY";
        }
        if ((state & MERGED) != 0)
        {
            return stateName(state & ~MERGED) + "|MERGED";
        }
        switch (state)
        {
            case WRITING: return "WRITING";
            case FREE: return "FREE";
            case LOADING: return "LOADING";
            case UPTODATE: return "UPTODATE";
            case ORPHAN: return "ORPHAN";
            case RETIRED: return "RETIRED";
            default: return "UNKNOWN(" + state + ")";
        }
    }
}
