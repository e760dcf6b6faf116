package org.extentcache;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.extentcache.frame.Handle;

import java.nio.ByteBuffer;

/**
 * A pinned page: a zero-copy view of one cached page. While it is pinned the frame behind it is never reclaimed,
 * reused or modified; a write to the page goes to a new frame and this view keeps showing the bytes it was pinned
 * with. Pin with {@link CachedFile#pin(long)} (allocates a new {@code PinnedPage}, for {@code try (...)}) or
 * {@link CachedFile#pin(long, PinnedPage)} (re-uses a caller's flyweight: no allocation), and unpin with
 * {@link #close()}.
 *
 * <h2>Views</h2>
 * Each view covers {@link #length()} bytes: the whole page, or the part before end-of-file on the last page. Asking
 * for a view of a page not pinned throws {@link IllegalStateException}. A pin held when the cache closes keeps its
 * frame's memory until it is unpinned, so its views stay readable (and show the pinned bytes) until then.
 * <ul>
 *   <li>{@link #buffer()}: an Agrona {@link DirectBuffer} over the page. It is the flyweight's own, re-wrapped on
 *       each pin (allocation-free) and revoked on unpin: a kept reference then has capacity 0 and any access throws
 *       {@link IndexOutOfBoundsException} (unless Agrona's bounds checks are disabled, when it reads a zero-length
 *       heap array, never frame memory). Being the flyweight's, a reference kept past unpin shows the flyweight's
 *       <em>next</em> pin once it is re-pinned: take it again after each pin.</li>
 *   <li>{@link #byteBuffer()}: a read-only {@link ByteBuffer}, made on first use in each pin. A {@code ByteBuffer}
 *       cannot be revoked, so it is valid only until unpin, and unpin does what it can: it sets that buffer's
 *       position and limit to 0, so a kept reference throws ({@link IndexOutOfBoundsException} on absolute reads,
 *       {@link java.nio.BufferUnderflowException} on relative ones). Not covered, and reading memory the pin no
 *       longer protects (another block's bytes, or freed memory once the cache is closed): a caller who sets the
 *       limit again, and every {@code duplicate()}, {@code slice()} or {@code asReadOnlyBuffer()} taken from it.
 *       Never keep one past unpin; for a view that outlives the pin use {@link #retainFrame()}.</li>
 *   <li>{@link #retainFrame()}: a {@link FramePin}, a frame pin of its own with a read-only {@code ByteBuffer}
 *       view: a new one per call, owned by the caller, valid until its own release whatever happens to this
 *       {@code PinnedPage}. It is the service-provider interface that views outliving the page are built on: the
 *       {@code extentcache-netty} module's {@code PinnedByteBuf.of(page)}, a read-only Netty {@code ByteBuf} whose
 *       last release is the pin's release.</li>
 * </ul>
 *
 * <h2>Ownership and thread safety</h2>
 * The thread that pinned owns the pin and must unpin it exactly once, with {@link #close()}, whether or not pins
 * from {@link #retainFrame()} were released (they are pins of their own, which their releases drop). Unpinning twice,
 * or unpinning a page never pinned, throws {@link IllegalStateException} and releases nothing. The views may be read
 * by any thread while the page is pinned. A {@code PinnedPage} itself is not thread-safe. Pins still held when the
 * cache closes are reported, with the stack where each was taken when pin tracking is on
 * ({@link ExtentCache.Builder#trackPins}); such a pin still unpins with {@link #close()}, and the last unpin frees the
 * cache's memory.
 */
public final class PinnedPage implements AutoCloseable
{
    private static final byte[] REVOKED = new byte[0];

    private final UnsafeBuffer buffer = new UnsafeBuffer(REVOKED);
    private ExtentCache cache;
    private long handle = Handle.NONE;
    private int length;
    private long position;
    private boolean pinned;
    private ByteBuffer byteBuffer;
    Throwable pinnedAt;

    /**
     * An unpinned flyweight, for {@link CachedFile#pin(long, PinnedPage)}.
     */
    public PinnedPage()
    {
    }

    void pinned(final ExtentCache cache, final long handle, final long address, final int length, final long position)
    {
        if (pinned)
        {
            throw new IllegalStateException("page already pinned: unpin it before pinning again: position=" +
                this.position);
        }
        this.cache = cache;
        this.handle = handle;
        this.length = length;
        this.position = position;
        this.pinned = true;
        buffer.wrap(address, length);
    }

    /**
     * @return true while pinned.
     */
    public boolean isPinned()
    {
        return pinned;
    }

    /**
     * @return file offset of the page's first byte.
     */
    public long position()
    {
        return position;
    }

    /**
     * @return bytes the views cover: the page size, or fewer on the last page of the file.
     */
    public int length()
    {
        return length;
    }

    /**
     * @return the pinned handle ({@link Handle#NONE} for a hole, or when not pinned); for tests.
     */
    long handle()
    {
        return handle;
    }

    /**
     * @return the flyweight's Agrona view of the page: valid until unpin, revoked then (see the class comment).
     * @throws IllegalStateException if not pinned.
     */
    public DirectBuffer buffer()
    {
        ensurePinned();
        return buffer;
    }

    /**
     * @return a read-only {@link ByteBuffer} over the page, position 0, limit {@link #length()}; the same one for every
     * call in one pin. Valid until unpin, which sets its limit to 0; it cannot be revoked beyond that (see the class
     * comment).
     * @throws IllegalStateException if not pinned.
     */
    public ByteBuffer byteBuffer()
    {
        ensurePinned();
        if (null == byteBuffer)
        {
            byteBuffer = cache.frames().pageView(handle, length);
        }
        return byteBuffer;
    }

    /**
     * Takes one more pin on the page's frame, apart from this page's own, for a view that must outlive this
     * {@code PinnedPage}: see {@link FramePin}. Allocates.
     *
     * @return a new pin with a read-only view of the page, position 0, limit {@link #length()}. The caller owns it and
     * must {@link FramePin#release()} it exactly once; it stays valid until then, whether this page is closed or
     * re-pinned before or after.
     * @throws IllegalStateException if not pinned, or the frame's pin count is full; nothing is pinned then.
     */
    public FramePin retainFrame()
    {
        ensurePinned();
        return FramePin.retain(cache.frames(), handle, length, position);
    }

    /**
     * Unpins the page: the frame may be reclaimed or freed from now on, unless other pins hold it ({@link FramePin}s
     * from {@link #retainFrame()} not yet released hold their own). The {@link #buffer()} and {@link #byteBuffer()}
     * views are revoked; {@code FramePin}s are left alone.
     *
     * @throws IllegalStateException if the page is not pinned (a second unpin, or a flyweight never pinned), or, with
     *                               pin tracking on, the cache did not issue the pin; nothing is released then.
     */
    @Override
    public void close()
    {
        if (!pinned)
        {
            throw new IllegalStateException(null == cache ? "unpin of a page that was never pinned" :
                "page already unpinned: position=" + position);
        }
        pinned = false;
        revokeViews();
        final long pinnedHandle = handle;
        handle = Handle.NONE;
        cache.unpin(this, pinnedHandle);
    }

    private void revokeViews()
    {
        buffer.wrap(REVOKED);
        if (null != byteBuffer)
        {
            byteBuffer.limit(0);
            byteBuffer = null;
        }
    }

    private void ensurePinned()
    {
        if (!pinned)
        {
            throw new IllegalStateException("page is not pinned" + (null == cache ? "" : ": position=" + position));
        }
    }

    @Override
    public String toString()
    {
        return "PinnedPage{position=" + position + ", length=" + length + ", pinned=" + pinned + '}';
    }
}
