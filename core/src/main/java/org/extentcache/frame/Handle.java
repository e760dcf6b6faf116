package org.extentcache.frame;

/**
 * A handle: the packed {@code long} a file mapping holds for one of its pages, naming a frame and the generation the
 * frame had when the handle was made.
 * <pre>
 *   63                                     28 27                         0
 *  +-----------------------------------------+----------------------------+
 *  |           generation (36 bits)          |     frame number (28)      |
 *  +-----------------------------------------+----------------------------+
 * </pre>
 * The generation sits at the same bits as in the frame's state word ({@link FrameDescriptor}), so a handle is valid
 * exactly when {@code (handle ^ stateWord) >>> GENERATION_SHIFT == 0}. Generations start at 1, so {@link #NONE}
 * (0) is never a valid handle and serves as the "no handle" sentinel in file mappings.
 */
public final class Handle
{
    /** Bits of the frame number. */
    public static final int FRAME_BITS = FrameDescriptor.STATE_BITS + FrameDescriptor.PINS_BITS;
    /** Shift of the generation; equal to {@link FrameDescriptor#GENERATION_SHIFT}. */
    public static final int GENERATION_SHIFT = FRAME_BITS;
    /** Mask of the frame number. */
    public static final long FRAME_MASK = (1L << FRAME_BITS) - 1;
    /** Most frames a cache can have. */
    public static final int MAX_FRAMES = (int)FRAME_MASK;
    /** No handle. */
    public static final long NONE = 0;

    static
    {
        if (GENERATION_SHIFT != FrameDescriptor.GENERATION_SHIFT)
        {
            throw new AssertionError("handle and state word disagree on the generation's place");
        }
    }

    private Handle()
    {
    }

    /**
     * @param frame      frame number, {@code 0 .. MAX_FRAMES - 1}.
     * @param generation the frame's generation.
     * @return the handle.
     */
    public static long handle(final int frame, final long generation)
    {
        return (generation << GENERATION_SHIFT) | frame;
    }

    /**
     * @param handle a handle.
     * @return its frame number.
     */
    public static int frame(final long handle)
    {
        return (int)(handle & FRAME_MASK);
    }

    /**
     * @param handle a handle.
     * @return its generation.
     */
    public static long generation(final long handle)
    {
        return handle >>> GENERATION_SHIFT;
    }

    /**
     * @param handle    a handle.
     * @param stateWord the frame's state word.
     * @return true if the handle's generation is the frame's current one.
     */
    public static boolean matches(final long handle, final long stateWord)
    {
        return ((handle ^ stateWord) >>> GENERATION_SHIFT) == 0;
    }

    /**
     * @param handle a handle.
     * @return it in words, for messages.
     */
    public static String toString(final long handle)
    {
        return NONE == handle ? "NONE" : "frame=" + frame(handle) + " generation=" + generation(handle);
    }
}
