package org.extentcache;

import org.agrona.BufferUtil;
import org.agrona.MutableDirectBuffer;
import org.agrona.UnsafeApi;
import org.extentcache.frame.FrameArena;
import org.extentcache.frame.Handle;
import org.extentcache.mapping.FileMapping;
import org.extentcache.translate.Extent;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ReadOnlyBufferException;
import java.nio.file.NoSuchFileException;

import static org.extentcache.frame.FrameDescriptor.PINS_MASK;
import static org.extentcache.frame.FrameDescriptor.UPTODATE;
import static org.extentcache.frame.FrameDescriptor.state;

/**
 * One file as the cache sees it: its size and its mapping of page index to handle. Obtained from
 * {@link ExtentCache#file(long)}; one object per file id, shared by every caller.
 *
 * <h2>Reads</h2>
 * {@link #read(long, ByteBuffer)} behaves like {@link java.nio.channels.FileChannel#read(ByteBuffer, long)}: it
 * copies up to {@code dst.remaining()} bytes, stops early at end-of-file, and returns -1 when {@code position} is
 * at or past it. Holes read as zeros. A file hit is an optimistic copy: load the frame's state word, copy, fence,
 * re-load; if the frame changed in between (it was reclaimed or invalidated) the copy is discarded and the page is
 * read again by translation. The destination may therefore be written more than once for one call; only the last
 * write counts, and it is what the call returns.
 *
 * <h2>Thread safety</h2>
 * Safe for concurrent use. Reads racing a change of the file (clone-range over it, punch, truncate, delete) see the
 * old or the new contents of each page.
 *
 * <h2>Allocation</h2>
 * A file hit allocates nothing. A miss allocates a few small objects (an {@link Extent}, a buffer view for the
 * device read).
 */
public final class CachedFile
{
    private static final long UNKNOWN_SIZE = -1;

    private final ExtentCache cache;
    private final DeviceCache frames;
    private final FrameArena arena;
    private final long file;
    private final FileMapping mapping = new FileMapping();
    private final int pageShift;
    private final long pageMask;
    private volatile long size = UNKNOWN_SIZE;
    private volatile boolean deleted;
    private volatile boolean closed;

    CachedFile(final ExtentCache cache, final long file)
    {
        this.cache = cache;
        this.frames = cache.frames();
        this.arena = frames.arena();
        this.file = file;
        this.pageShift = Integer.numberOfTrailingZeros(cache.pageSize());
        this.pageMask = cache.pageSize() - 1L;
    }

    /**
     * @return the translator's id of this file.
     */
    public long id()
    {
        return file;
    }

    /**
     * @return the file's size in bytes as last reported by the translator.
     * @throws NoSuchFileException if the file was deleted.
     */
    public long size() throws NoSuchFileException
    {
        ensureReadable();
        return size;
    }

    /**
     * @return slots of this file's mapping that hold a handle (some may be stale); 8 bytes each.
     */
    public long handleCount()
    {
        return mapping.handleCount();
    }

    /**
     * Reads bytes at {@code position} into {@code dst}, like {@code FileChannel.read(dst, position)}.
     *
     * @param position file offset, {@code >= 0}.
     * @param dst      destination; its position advances by the bytes read. Heap or direct, not read-only.
     * @return bytes read, 0 if {@code dst} has no room, or -1 if {@code position} is at or past end-of-file.
     * @throws IllegalArgumentException if {@code position < 0}.
     * @throws ReadOnlyBufferException  if {@code dst} is read-only.
     * @throws NoSuchFileException      if the file was deleted.
     * @throws IOException              if the device fails a read the call needs.
     * @throws IllegalStateException    if the cache is closed.
     */
    public int read(final long position, final ByteBuffer dst) throws IOException
    {
        if (dst.isReadOnly())
        {
            throw new ReadOnlyBufferException();
        }
        final int start = dst.position();
        final int length = dst.remaining();
        final int n = dst.isDirect() ?
            read(position, null, BufferUtil.address(dst) + start, length) :
            read(position, dst.array(), BufferUtil.ARRAY_BASE_OFFSET + dst.arrayOffset() + start, length);
        if (n > 0)
        {
            dst.position(start + n);
        }
        return n;
    }

    /**
     * Reads up to {@code length} bytes at {@code position} into an Agrona buffer.
     *
     * @param position file offset, {@code >= 0}.
     * @param dst      destination buffer.
     * @param offset   where in {@code dst} to start.
     * @param length   most bytes to read.
     * @return bytes read, 0 if {@code length} is 0, or -1 if {@code position} is at or past end-of-file.
     * @throws IllegalArgumentException  if {@code position < 0}.
     * @throws IndexOutOfBoundsException if {@code [offset, offset + length)} is outside {@code dst}.
     * @throws NoSuchFileException       if the file was deleted.
     * @throws IOException               if the device fails a read the call needs.
     * @throws IllegalStateException     if the cache is closed.
     */
    public int read(final long position, final MutableDirectBuffer dst, final int offset, final int length)
        throws IOException
    {
        dst.boundsCheck(offset, length);
        return read(position, dst.byteArray(), dst.addressOffset() + offset, length);
    }

    private int read(final long position, final Object base, final long address, final int length) throws IOException
    {
        if (position < 0)
        {
            throw new IllegalArgumentException("position must be >= 0: position=" + position);
        }
        ensureReadable();
        if (0 == length)
        {
            return 0;
        }
        final long fileSize = size;
        if (position >= fileSize)
        {
            return -1;
        }
        final int total = (int)Math.min(length, fileSize - position);
        int done = 0;
        while (done < total)
        {
            final long at = position + done;
            final int inPage = (int)(at & pageMask);
            final int n = (int)Math.min(total - done, pageMask + 1 - inPage);
            readPage(at >>> pageShift, inPage, base, address + done, n);
            done += n;
        }
        return total;
    }

    private void readPage(final long page, final int inPage, final Object base, final long address, final int length)
        throws IOException
    {
        final long handle = mapping.get(page);
        if (Handle.NONE != handle)
        {
            final int frame = Handle.frame(handle);
            final long before = arena.stateWord(frame);
            if (Handle.matches(handle, before) && state(before) == UPTODATE)
            {
                UnsafeApi.copyMemory(null, arena.address(frame) + inPage, base, address, length);
                UnsafeApi.loadFence();
                final long after = arena.stateWord(frame);
                if (((before ^ after) & ~PINS_MASK) == 0)
                {
                    arena.markReferenced(frame);
                    cache.fileHits.increment();
                    return;
                }
            }
        }
        readPageByTranslation(page, inPage, base, address, length);
    }

    private void readPageByTranslation(
        final long page, final int inPage, final Object base, final long address, final int length) throws IOException
    {
        final Extent extent = new Extent();
        while (true)
        {
            final long version = mapping.version();
            cache.translator().translate(file, page, extent);
            final long block = extent.blockOf(page);
            if (Extent.HOLE == block)
            {
                UnsafeApi.setMemory(base, address, length, (byte)0);
                if (mapping.version() == version)
                {
                    return;
                }
                continue;
            }
            final long handle = frames.acquire(block);
            try
            {
                UnsafeApi.copyMemory(null, arena.address(Handle.frame(handle)) + inPage, base, address, length);
                mapping.install(page, handle);
            }
            finally
            {
                frames.unpin(handle);
            }
            if (mapping.version() == version)
            {
                return;
            }
            mapping.remove(page, handle);
        }
    }

    FileMapping mapping()
    {
        return mapping;
    }

    void initSize(final long initial)
    {
        SIZE_INIT.compareAndSet(this, UNKNOWN_SIZE, initial);
    }

    void changed(final long firstPage, final long pageCount, final long newSize)
    {
        size = newSize;
        mapping.clear(firstPage, pageCount);
    }

    void markDeleted()
    {
        deleted = true;
        mapping.clearAll();
    }

    void markClosed()
    {
        closed = true;
        mapping.clearAll();
    }

    private void ensureReadable() throws NoSuchFileException
    {
        if (closed)
        {
            throw new IllegalStateException("cache is closed");
        }
        if (deleted)
        {
            throw new NoSuchFileException("file " + file + " was deleted");
        }
    }

    private static final java.lang.invoke.VarHandle SIZE_INIT;

    static
    {
        try
        {
            SIZE_INIT = java.lang.invoke.MethodHandles.lookup().findVarHandle(CachedFile.class, "size", long.class);
        }
        catch (final ReflectiveOperationException ex)
        {
            throw new ExceptionInInitializerError(ex);
        }
    }

    @Override
    public String toString()
    {
        return "CachedFile{file=" + file + ", size=" + size + ", handles=" + mapping.handleCount() + '}';
    }
}
