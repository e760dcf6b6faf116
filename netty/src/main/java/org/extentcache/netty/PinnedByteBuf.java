package org.extentcache.netty;

import io.netty.buffer.AbstractReferenceCountedByteBuf;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import org.extentcache.FramePin;
import org.extentcache.PinnedPage;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.ReadOnlyBufferException;
import java.nio.channels.FileChannel;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.ScatteringByteChannel;

/**
 * A read-only Netty {@link ByteBuf} over one pinned page whose reference count <em>is</em> a frame pin: the buffer
 * takes a pin of its own on the frame when it is made ({@link PinnedPage#retainFrame()}, core's public
 * {@link FramePin}), {@link #retain()} keeps that pin, and the release that brings the count to zero releases the
 * {@code FramePin}, exactly once. Make one with {@link #of(PinnedPage)}, so that
 * {@code ctx.writeAndFlush(PinnedByteBuf.of(page))} works: Netty releases the buffer after writing it, the caller closes the
 * {@link PinnedPage}, and neither release depends on the other or on the order they come in.
 *
 * <h2>Ownership: who releases what</h2>
 * <ul>
 *   <li>Each buffer starts with a reference count of 1, owned by whoever called {@link #of(PinnedPage)}. That
 *       owner releases it, or hands it to Netty (a channel write), which releases it. Every {@link #retain()} needs
 *       one more {@link #release()}. The frame stays pinned, its bytes unchanged, until the count reaches zero.</li>
 *   <li>The buffer's pin is not the {@code PinnedPage}'s: {@link PinnedPage#close()} releases only the page's pin,
 *       whether or not the buffer was released; the buffer stays readable until its own last release, even if the
 *       flyweight {@code PinnedPage} is closed and re-pinned to another page meanwhile.</li>
 *   <li>A buffer never released keeps its frame pinned; the cache reports it at close as a frame still pinned.</li>
 *   <li>Slices and duplicates share the buffer's count (Netty's derived buffers): {@code retainedSlice()} and
 *       {@code retainedDuplicate()} take a reference; {@code slice()} and {@code duplicate()} do not and are valid
 *       only while the buffer is. {@link #copy} returns an ordinary Netty buffer, owned by the caller, with no
 *       pin.</li>
 *   <li>A page of a hole is a page of zeros that no frame holds: such a buffer takes no pin, and reads zeros from the
 *       JVM's one zero page ({@code ZeroPage}, never freed), so it stays valid for its own lifetime even after the
 *       cache closes.</li>
 * </ul>
 *
 * <h2>After the last release</h2>
 * Every access throws Netty's {@link io.netty.util.IllegalReferenceCountException}: reads, bulk transfers,
 * {@link #nioBuffer}, {@link #copy}, {@link #retain()}, and the same through any slice or duplicate. A second
 * {@link #release()} throws it too and unpins nothing. Behind Netty's check, the last release also swaps the page
 * view for an empty one, so even with {@code -Dio.netty.buffer.checkAccessible=false} a read after release throws
 * {@link IndexOutOfBoundsException} instead of touching frame memory (on the releasing thread, or one that saw the
 * release through a happens-before edge, as Netty's own event-loop hand-off gives).
 * <p>
 * What it cannot revoke: a {@link ByteBuffer} from {@link #nioBuffer}, {@link #nioBuffers} or
 * {@link #internalNioBuffer} is a plain JDK view of the frame, as with any Netty direct buffer. It is valid only
 * while this buffer's count is above zero; do not keep it past the release.
 *
 * <h2>Thread safety</h2>
 * Reference counting is atomic: any thread may {@link #retain()} or {@link #release()}, and the last release unpins
 * on the thread that makes it (a CAS on the frame's state word; the cache's allocation lock too if the frame was
 * orphaned by a copy-on-write and this was its last pin). Reads by index may run on several threads at once while
 * the count is above zero: the frame is pinned, so its bytes do not change, and bulk reads work on a view of their
 * own. Reader and writer indices are not thread-safe, as in every {@code ByteBuf}: give each thread its own
 * {@code retainedDuplicate()}.
 *
 * <h2>Costs</h2>
 * Making one allocates the buffer, a {@link FramePin} and a {@link ByteBuffer} view of the frame and takes a pin (one
 * CAS); it is not a hit-path operation, use {@link PinnedPage#buffer()} for allocation-free reads. Bulk reads ({@code getBytes},
 * {@code nioBuffer}) allocate a small view each. Writes throw {@link ReadOnlyBufferException}.
 *
 * <h2>No JVM flags</h2>
 * Built on Netty's public API only ({@link AbstractReferenceCountedByteBuf} over the JDK {@link ByteBuffer} that
 * {@link FramePin#byteBuffer()} hands out), no memory addresses and no {@code io.netty.util.internal}: it needs no
 * {@code --add-opens} and no {@code -Dio.netty.tryReflectionSetAccessible}, only what core itself needs. This
 * module's tests run with core's one flag and nothing else to prove it.
 */
public final class PinnedByteBuf extends AbstractReferenceCountedByteBuf
{
    /** The view after the last release: no bytes, so the JDK bounds-checks any read to an exception. */
    private static final ByteBuffer RELEASED = ByteBuffer.allocateDirect(0).asReadOnlyBuffer();
    /** Largest chunk {@link #getBytes(int, OutputStream, int)} copies through the heap at a time. */
    private static final int STREAM_CHUNK = 8192;

    private final FramePin pin;
    /** Read-only, big-endian, limit = the page's length; {@link #RELEASED} after the last release. */
    private ByteBuffer page;

    /**
     * Makes a buffer over a pinned page, with a frame pin of its own.
     *
     * @param page a pinned page; it stays the caller's to close, before or after this buffer's release.
     * @return a new read-only buffer over the page, reference count 1, reader index 0, writer index
     * {@link PinnedPage#length()}. The caller owns it: release it, or hand it to Netty to release (a channel write
     * does). It stays valid until its own last release, whether the page is closed or re-pinned before or after.
     * @throws IllegalStateException if the page is not pinned, or its frame's pin count is full; nothing is pinned.
     */
    public static ByteBuf of(final PinnedPage page)
    {
        final FramePin pin = page.retainFrame();
        try
        {
            return new PinnedByteBuf(pin);
        }
        catch (final RuntimeException | Error ex)
        {
            pin.release();
            throw ex;
        }
    }

    private PinnedByteBuf(final FramePin pin)
    {
        super(pin.length());
        this.pin = pin;
        this.page = pin.byteBuffer();
        writerIndex(pin.length());
    }

    /** The last release: releases the frame pin. Netty calls it once, when the count goes from 1 to 0. */
    @Override
    protected void deallocate()
    {
        page = RELEASED;
        pin.release();
    }

    /** A fresh view of {@code [index, index + length)}, positioned at {@code index}; the caller checked both. */
    private ByteBuffer view(final int index, final int length)
    {
        return page.duplicate().limit(index + length).position(index);
    }

    // ---- reads: the view's own bounds check stands behind Netty's

    @Override
    protected byte _getByte(final int index)
    {
        return page.get(index);
    }

    @Override
    protected short _getShort(final int index)
    {
        return page.getShort(index);
    }

    @Override
    protected short _getShortLE(final int index)
    {
        return Short.reverseBytes(page.getShort(index));
    }

    @Override
    protected int _getUnsignedMedium(final int index)
    {
        final ByteBuffer page = this.page;
        return (page.get(index) & 0xff) << 16 | (page.get(index + 1) & 0xff) << 8 | page.get(index + 2) & 0xff;
    }

    @Override
    protected int _getUnsignedMediumLE(final int index)
    {
        final ByteBuffer page = this.page;
        return page.get(index) & 0xff | (page.get(index + 1) & 0xff) << 8 | (page.get(index + 2) & 0xff) << 16;
    }

    @Override
    protected int _getInt(final int index)
    {
        return page.getInt(index);
    }

    @Override
    protected int _getIntLE(final int index)
    {
        return Integer.reverseBytes(page.getInt(index));
    }

    @Override
    protected long _getLong(final int index)
    {
        return page.getLong(index);
    }

    @Override
    protected long _getLongLE(final int index)
    {
        return Long.reverseBytes(page.getLong(index));
    }

    @Override
    public ByteBuf getBytes(final int index, final ByteBuf dst, final int dstIndex, final int length)
    {
        checkDstIndex(index, length, dstIndex, dst.capacity());
        dst.setBytes(dstIndex, view(index, length));
        return this;
    }

    @Override
    public ByteBuf getBytes(final int index, final byte[] dst, final int dstIndex, final int length)
    {
        checkDstIndex(index, length, dstIndex, dst.length);
        view(index, length).get(dst, dstIndex, length);
        return this;
    }

    @Override
    public ByteBuf getBytes(final int index, final ByteBuffer dst)
    {
        final int length = dst.remaining();
        checkIndex(index, length);
        dst.put(view(index, length));
        return this;
    }

    @Override
    public ByteBuf getBytes(final int index, final OutputStream out, final int length) throws IOException
    {
        checkIndex(index, length);
        final ByteBuffer src = view(index, length);
        final byte[] chunk = new byte[Math.min(length, STREAM_CHUNK)];
        while (src.hasRemaining())
        {
            final int n = Math.min(chunk.length, src.remaining());
            src.get(chunk, 0, n);
            out.write(chunk, 0, n);
        }
        return this;
    }

    @Override
    public int getBytes(final int index, final GatheringByteChannel out, final int length) throws IOException
    {
        checkIndex(index, length);
        return out.write(view(index, length));
    }

    @Override
    public int getBytes(final int index, final FileChannel out, final long position, final int length)
        throws IOException
    {
        checkIndex(index, length);
        return out.write(view(index, length), position);
    }

    @Override
    public ByteBuf copy(final int index, final int length)
    {
        checkIndex(index, length);
        final ByteBuf copy = alloc().directBuffer(length, maxCapacity());
        try
        {
            return copy.writeBytes(view(index, length));
        }
        catch (final RuntimeException | Error ex)
        {
            copy.release();
            throw ex;
        }
    }

    @Override
    public int nioBufferCount()
    {
        return 1;
    }

    /**
     * @return a read-only view of the frame, position 0, limit {@code length}; valid only while this buffer's
     * reference count is above zero (it cannot be revoked).
     */
    @Override
    public ByteBuffer nioBuffer(final int index, final int length)
    {
        checkIndex(index, length);
        return view(index, length).slice();
    }

    /**
     * @return a new read-only view of the frame, position {@code index}, limit {@code index + length}; valid only
     * while this buffer's reference count is above zero (it cannot be revoked).
     */
    @Override
    public ByteBuffer internalNioBuffer(final int index, final int length)
    {
        checkIndex(index, length);
        return view(index, length);
    }

    @Override
    public ByteBuffer[] nioBuffers(final int index, final int length)
    {
        return new ByteBuffer[]{nioBuffer(index, length)};
    }

    // ---- what it is

    /** @return the page's length; 0 after the last release. */
    @Override
    public int capacity()
    {
        return page.limit();
    }

    @Override
    public ByteBufAllocator alloc()
    {
        return UnpooledByteBufAllocator.DEFAULT;
    }

    @Override
    @Deprecated
    public ByteOrder order()
    {
        return ByteOrder.BIG_ENDIAN;
    }

    @Override
    public ByteBuf unwrap()
    {
        return null;
    }

    @Override
    public boolean isDirect()
    {
        return true;
    }

    @Override
    public boolean isReadOnly()
    {
        return true;
    }

    @Override
    public ByteBuf asReadOnly()
    {
        return this;
    }

    @Override
    public boolean isContiguous()
    {
        return true;
    }

    @Override
    public boolean hasArray()
    {
        return false;
    }

    /** @throws UnsupportedOperationException always: the page is off-heap. */
    @Override
    public byte[] array()
    {
        throw new UnsupportedOperationException("a pinned page is off-heap: it has no array");
    }

    /** @throws UnsupportedOperationException always: the page is off-heap. */
    @Override
    public int arrayOffset()
    {
        throw new UnsupportedOperationException("a pinned page is off-heap: it has no array");
    }

    @Override
    public boolean hasMemoryAddress()
    {
        return false;
    }

    /** @throws UnsupportedOperationException always: the page's address is not handed out. */
    @Override
    public long memoryAddress()
    {
        throw new UnsupportedOperationException("a pinned page does not hand out its address");
    }

    // ---- writes: read-only

    /** @throws ReadOnlyBufferException always. */
    @Override
    public ByteBuf capacity(final int newCapacity)
    {
        throw new ReadOnlyBufferException();
    }

    @Override
    protected void _setByte(final int index, final int value)
    {
        throw new ReadOnlyBufferException();
    }

    @Override
    protected void _setShort(final int index, final int value)
    {
        throw new ReadOnlyBufferException();
    }

    @Override
    protected void _setShortLE(final int index, final int value)
    {
        throw new ReadOnlyBufferException();
    }

    @Override
    protected void _setMedium(final int index, final int value)
    {
        throw new ReadOnlyBufferException();
    }

    @Override
    protected void _setMediumLE(final int index, final int value)
    {
        throw new ReadOnlyBufferException();
    }

    @Override
    protected void _setInt(final int index, final int value)
    {
        throw new ReadOnlyBufferException();
    }

    @Override
    protected void _setIntLE(final int index, final int value)
    {
        throw new ReadOnlyBufferException();
    }

    @Override
    protected void _setLong(final int index, final long value)
    {
        throw new ReadOnlyBufferException();
    }

    @Override
    protected void _setLongLE(final int index, final long value)
    {
        throw new ReadOnlyBufferException();
    }

    /** @throws ReadOnlyBufferException always. */
    @Override
    public ByteBuf setBytes(final int index, final ByteBuf src, final int srcIndex, final int length)
    {
        throw new ReadOnlyBufferException();
    }

    /** @throws ReadOnlyBufferException always. */
    @Override
    public ByteBuf setBytes(final int index, final byte[] src, final int srcIndex, final int length)
    {
        throw new ReadOnlyBufferException();
    }

    /** @throws ReadOnlyBufferException always. */
    @Override
    public ByteBuf setBytes(final int index, final ByteBuffer src)
    {
        throw new ReadOnlyBufferException();
    }

    /** @throws ReadOnlyBufferException always. */
    @Override
    public int setBytes(final int index, final InputStream in, final int length)
    {
        throw new ReadOnlyBufferException();
    }

    /** @throws ReadOnlyBufferException always. */
    @Override
    public int setBytes(final int index, final ScatteringByteChannel in, final int length)
    {
        throw new ReadOnlyBufferException();
    }

    /** @throws ReadOnlyBufferException always. */
    @Override
    public int setBytes(final int index, final FileChannel in, final long position, final int length)
    {
        throw new ReadOnlyBufferException();
    }
}
