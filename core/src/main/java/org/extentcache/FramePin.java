package org.extentcache;

import org.extentcache.frame.Handle;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;

/**
 * One more pin on the frame behind a {@link PinnedPage}, held apart from the page's own pin, with a read-only
 * {@link ByteBuffer} view of the page: the service-provider interface for views that must outlive the
 * {@code PinnedPage} they were made from, such as the Netty {@code ByteBuf} of the {@code extentcache-netty} module,
 * whose reference count ends in one {@link #release()}. Take one with {@link PinnedPage#retainFrame()}.
 *
 * <h2>Ownership: who releases what</h2>
 * Whoever called {@link PinnedPage#retainFrame()} owns the pin and must {@link #release()} it exactly once, whatever
 * happens to the {@code PinnedPage} meanwhile: closing the page releases only the page's own pin, and re-pinning the
 * flyweight to another page leaves this one alone. Until the release the frame is never reclaimed, reused or
 * modified (a write to the page goes to a new frame), even after the cache closes: the last release of a pin held at
 * close frees the cache's memory. A pin never released keeps its frame, and the cache reports it at close as a frame
 * still pinned. A pin of a hole holds no frame: its view reads the JVM's one page of zeros, which is never freed.
 *
 * <h2>The view and its lifetime</h2>
 * {@link #byteBuffer()} is valid exactly until {@link #release()}. A {@code ByteBuffer} cannot be revoked, so the
 * release does what it can: it sets that buffer's position and limit to 0, so a kept reference throws on every read,
 * and {@link #byteBuffer()} throws {@link IllegalStateException} from then on. Not covered: a caller who sets the limit
 * again, and every {@code duplicate()} or {@code slice()} taken from the view, which read memory the pin no longer
 * protects. A view built on this pin must stop using such buffers at the release (the Netty module swaps its view
 * for an empty one in the same step).
 *
 * <h2>Thread safety</h2>
 * {@link #release()} may be called from any thread, and exactly one call releases the pin (a CAS on
 * {@code released}; the pin's own release is a CAS on the frame's state word, plus the cache's allocation lock if the
 * frame was orphaned by a copy-on-write and this was its last pin); every other call throws. The view may be read by
 * several threads at once by absolute index until the release; its position and limit are not thread-safe, so take a
 * {@code duplicate()} per thread. A thread that reads after another thread's release must see that release through
 * a happens-before edge to be guaranteed the exception.
 *
 * <h2>Costs</h2>
 * Taking one allocates this object and one {@code ByteBuffer} and takes a pin (one CAS on the frame's state word). It
 * is not a hit-path operation: read through {@link PinnedPage#buffer()} for allocation-free reads.
 */
public final class FramePin
{
    private static final VarHandle RELEASED;

    static
    {
        try
        {
            RELEASED = MethodHandles.lookup().findVarHandle(FramePin.class, "released", boolean.class);
        }
        catch (final ReflectiveOperationException ex)
        {
            throw new ExceptionInInitializerError(ex);
        }
    }

    private final DeviceCache frames;
    private final long handle;
    private final long position;
    private final ByteBuffer view;
    private final int length;
    /**
     * Set once, by the CAS in {@link #release()} (a volatile write); read by the volatile loads in
     * {@link #byteBuffer()} and {@link #isReleased()}, which see it once the release happened-before them.
     */
    private volatile boolean released;

    /**
     * Takes a pin of its own on a frame the caller already pins.
     *
     * @param frames   the cache's frames.
     * @param handle   a handle the caller holds a pin on, or {@link Handle#NONE} for a hole (the zero page).
     * @param length   bytes the view covers, from the page's first byte.
     * @param position file offset of the page's first byte, for messages.
     * @return the pin, owned by the caller.
     * @throws IllegalStateException if the handle holds no pin, or the frame's pin count is full; nothing is pinned.
     */
    static FramePin retain(final DeviceCache frames, final long handle, final int length, final long position)
    {
        final ByteBuffer view = frames.pageView(handle, length); // a hole's: the JVM's zero page, never freed
        if (Handle.NONE != handle)
        {
            frames.pins.retain(handle); // last: if it throws, nothing is pinned and no FramePin escapes
        }
        return new FramePin(frames, handle, view, length, position);
    }

    private FramePin(
        final DeviceCache frames, final long handle, final ByteBuffer view, final int length, final long position)
    {
        this.frames = frames;
        this.handle = handle;
        this.view = view;
        this.length = length;
        this.position = position;
    }

    /**
     * @return file offset of the page's first byte.
     */
    public long position()
    {
        return position;
    }

    /**
     * @return bytes the view covers: the page size, or fewer on the last page of the file.
     */
    public int length()
    {
        return length;
    }

    /**
     * @return true once {@link #release()} has been called.
     */
    public boolean isReleased()
    {
        return released;
    }

    /**
     * @return the read-only view of the page, big-endian, position 0 and limit {@link #length()} as made; the same
     * buffer on every call. Valid only until {@link #release()}: see the class comment.
     * @throws IllegalStateException if the pin was released.
     */
    public ByteBuffer byteBuffer()
    {
        if (released)
        {
            throw new IllegalStateException("frame pin already released: position=" + position);
        }
        return view;
    }

    /**
     * Releases the pin: the frame may be reclaimed or freed from now on, unless other pins hold it. Empties the view
     * (position and limit 0).
     *
     * @throws IllegalStateException if the pin was already released; nothing is released then.
     */
    public void release()
    {
        if (!RELEASED.compareAndSet(this, false, true))
        {
            throw new IllegalStateException("frame pin already released: position=" + position);
        }
        view.limit(0);
        if (Handle.NONE != handle)
        {
            frames.pins.unpin(handle); // after close too: the last pin released frees the arena
        }
    }

    @Override
    public String toString()
    {
        return "FramePin{position=" + position + ", length=" + length + ", released=" + released + '}';
    }
}
