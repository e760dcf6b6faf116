package org.extentcache;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.util.internal.PlatformDependent;
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
 * <ul>
 *   <li>{@link #buffer()}: an Agrona {@link DirectBuffer} over the page; re-wrapped on each pin, revoked on unpin
 *       (any access after unpin throws {@link IndexOutOfBoundsException}). Allocation-free.</li>
 *   <li>{@link #byteBuffer()}: a read-only {@link ByteBuffer}; allocated per pin on first use. A {@code ByteBuffer}
 *       cannot be revoked: do not touch it after unpin.</li>
 *   <li>{@link #byteBuf()}: a read-only Netty {@link ByteBuf} over the page's memory; allocated per pin on first use,
 *       released on unpin, so Netty throws {@code IllegalReferenceCountException} if it is used after.</li>
 * </ul>
 * Each view covers {@link #length()} bytes: the whole page, or the part before end-of-file on the last page.
 *
 * <h2>Ownership and thread safety</h2>
 * The thread that pinned owns the pin and must unpin it exactly once; unpinning twice, or unpinning a page never
 * pinned, throws {@link IllegalStateException}. The views may be read by any thread while the page is pinned. A
 * {@code PinnedPage} itself is not thread-safe. Pins still held when the cache closes are reported, with the stack
 * where each was taken when pin tracking is on ({@link ExtentCache.Builder#trackPins}).
 */
public final class PinnedPage implements AutoCloseable
{
    private static final byte[] REVOKED = new byte[0];

    private final UnsafeBuffer buffer = new UnsafeBuffer(REVOKED);
    private ExtentCache cache;
    private long handle = Handle.NONE;
    private long address;
    private int length;
    private long position;
    private boolean pinned;
    private ByteBuffer byteBuffer;
    private ByteBuf byteBuf;
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
        this.address = address;
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
     * @return an Agrona view of the page, valid until unpin.
     * @throws IllegalStateException if not pinned.
     */
    public DirectBuffer buffer()
    {
        ensurePinned();
        return buffer;
    }

    /**
     * @return a read-only {@link ByteBuffer} over the page, position 0, limit {@link #length()}; valid until unpin.
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
     * @return a read-only Netty {@link ByteBuf} over the page, reader index 0, writer index {@link #length()};
     * released on unpin.
     * @throws IllegalStateException if not pinned.
     */
    public ByteBuf byteBuf()
    {
        ensurePinned();
        if (null == byteBuf)
        {
            byteBuf = PlatformDependent.hasUnsafe() ?
                Unpooled.wrappedBuffer(address, length, false).asReadOnly() :
                Unpooled.wrappedBuffer(byteBuffer()).asReadOnly();
        }
        return byteBuf;
    }

    /**
     * Unpins the page: the frame may be reclaimed or freed from now on, and the views are revoked.
     *
     * @throws IllegalStateException if the page is not pinned (a second unpin, or a flyweight never pinned).
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
        buffer.wrap(REVOKED);
        byteBuffer = null;
        if (null != byteBuf)
        {
            byteBuf.release();
            byteBuf = null;
        }
        final long pinnedHandle = handle;
        handle = Handle.NONE;
        cache.unpin(this, pinnedHandle);
    }

    /** Revokes the views without unpinning: the cache closed under a leaked pin. */
    void revoke()
    {
        pinned = false;
        buffer.wrap(REVOKED);
        byteBuffer = null;
        byteBuf = null;
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
