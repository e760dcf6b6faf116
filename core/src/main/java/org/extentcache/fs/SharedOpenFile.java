package org.extentcache.fs;

import org.extentcache.shm.SharedCache;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * One file a process opened through {@link SharedFiles}: the inode it holds, its channels (buffered, and
 * {@code O_DIRECT} where the file system takes it), its layout (which pages are holes, private, or physical blocks
 * keyed for the shared cache), the epoch it was opened in, and its file mapping: a handle per page, in segments of
 * {@value #SEGMENT_PAGES} allocated when a page of theirs is first mapped.
 *
 * <p><b>Thread safety:</b> reads may run on any threads; {@link #reload} replaces the layout and the mapping as a
 * whole (readers see the old or the new); {@link #close} closes the channels, after which reads fail with an
 * {@link IOException}.
 */
final class SharedOpenFile
{
    static final int SEGMENT_SHIFT = 12;
    static final int SEGMENT_PAGES = 1 << SEGMENT_SHIFT;

    final long id;
    final Path path;
    private final int pageShift;
    private final InodeAnchor anchor;
    private volatile FileChannel channel;
    private volatile FileChannel direct;
    private final int directAlign;
    /** The layout, the size and the mapping, replaced together. */
    volatile View view;
    volatile boolean closed;
    /**
     * Set by {@code SharedFiles} when it takes the file out of its open files, under its lock, before the file is
     * closed; read under the same lock by a publication, which then leaves the file out of the vouchers.
     */
    boolean removed;

    /**
     * The epoch at which this file's current layout was last found current (its attributes unchanged and its extents
     * still mapping every block it vouches for): the epoch read before its view's extents were, or later after a check by
     * {@code SharedFiles#confirm}. Raised under this object's monitor.
     */
    volatile long confirmedEpoch;

    /**
     * What a read of the file goes by: replaced as one by {@link #reload}.
     *
     * @param epoch   the epoch this layout was read in: the file trusts vouches of files confirmed since.
     * @param voucher this layout's number in the process's vouches; a new layout, a new number.
     */
    record View(Layout layout, FileAttributes attrs, long epoch, int voucher, String noSharing,
        AtomicReferenceArray<AtomicLongArray> handles)
    {
        long size()
        {
            return attrs.size();
        }
    }

    SharedOpenFile(final long id, final Path path, final int pageSize, final boolean directReads) throws IOException
    {
        this.id = id;
        this.path = path;
        this.pageShift = Integer.numberOfTrailingZeros(pageSize);
        this.anchor = InodeAnchor.open(path);
        FileChannel opened = null;
        try
        {
            opened = FileIo.openChannel(anchor.handle(), false);
            final int align = directReads ? FileIo.directAlignment(path, pageSize) : -1;
            this.direct = align < 0 ? null : FileIo.openDirectChannel(anchor.handle()); // null: buffered reads
            this.directAlign = align < 0 ? pageSize : align;
            this.channel = opened;
        }
        catch (final IOException | RuntimeException ex)
        {
            FileIo.closeQuietly(opened, ex);
            anchor.closeQuietly(ex);
            throw ex;
        }
    }

    Path handle()
    {
        return anchor.handle();
    }

    boolean readsDirectly()
    {
        return null != direct;
    }

    /**
     * Installs a freshly read layout, with an empty mapping, confirmed in the epoch read before its extents were
     * ({@code confirmed}, at most {@code epoch}).
     */
    void reload(final Layout layout, final FileAttributes attrs, final long epoch, final long confirmed,
        final int voucher, final String noSharing)
    {
        final long segments = (layout.pages + SEGMENT_PAGES - 1) >>> SEGMENT_SHIFT;
        if (segments > Integer.MAX_VALUE)
        {
            throw new IllegalArgumentException(path + " is too large: " + layout.pages + " pages");
        }
        view = new View(layout, attrs, epoch, voucher, noSharing, new AtomicReferenceArray<>((int)segments));
        confirmedEpoch = confirmed;
    }

    /** @return the page's handle in the mapping, or {@link SharedCache#NO_HANDLE}. */
    static long handle(final View view, final long page)
    {
        final AtomicLongArray segment = view.handles().get((int)(page >>> SEGMENT_SHIFT));
        return null == segment ? SharedCache.NO_HANDLE :
            segment.getAcquire((int)(page & (SEGMENT_PAGES - 1)));
    }

    static void handle(final View view, final long page, final long handle)
    {
        final int index = (int)(page >>> SEGMENT_SHIFT);
        AtomicLongArray segment = view.handles().get(index);
        if (null == segment)
        {
            view.handles().compareAndSet(index, null, new AtomicLongArray(SEGMENT_PAGES));
            segment = view.handles().get(index);
        }
        segment.setRelease((int)(page & (SEGMENT_PAGES - 1)), handle);
    }

    /** @return bytes of Java heap the mapping holds (segments allocated, 8 bytes a page, plus the table). */
    static long mappingBytes(final View view)
    {
        long bytes = 16L + 4L * view.handles().length();
        for (int i = 0; i < view.handles().length(); i++)
        {
            if (null != view.handles().get(i))
            {
                bytes += 16L + 8L * SEGMENT_PAGES;
            }
        }
        return bytes;
    }

    /**
     * Reads page {@code page} into {@code dst} (exactly a page of room, page-aligned if it is to go direct), zeros past
     * end-of-file: with {@code O_DIRECT} where open, else through the kernel's page cache.
     *
     * @throws IOException naming the page and the file; an interrupt closes the channel it hit, which is reopened for
     *     the next read, and reaches the caller as a {@link ClosedByInterruptException}.
     */
    void readPage(final long page, final ByteBuffer dst) throws IOException
    {
        final int start = dst.position();
        final long offset = page << pageShift;
        try
        {
            final FileChannel directChannel = direct;
            final boolean aligned = null != directChannel && isAligned(dst);
            while (dst.hasRemaining())
            {
                final FileChannel through = aligned ? directChannel : channel;
                final int read;
                try
                {
                    read = through.read(dst, offset + (dst.position() - start));
                }
                catch (final ClosedByInterruptException ex)
                {
                    reopen(through);
                    throw ex;
                }
                if (read < 0 || (aligned && (dst.position() - start) % directAlign != 0))
                {
                    break; // end-of-file (a direct read stops short there)
                }
            }
            while (dst.hasRemaining())
            {
                dst.put((byte)0);
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            dst.position(start);
            if (ex instanceof ClosedByInterruptException)
            {
                throw (ClosedByInterruptException)ex;
            }
            throw new IOException("reading page " + page + " of " + path + ": " + ex, ex);
        }
    }

    private boolean isAligned(final ByteBuffer dst)
    {
        return dst.isDirect() && dst.remaining() % directAlign == 0 &&
            (org.agrona.BufferUtil.address(dst) + dst.position()) % directAlign == 0;
    }

    /** Reads private bytes straight from the file (they are never cached): {@code dst} fills up to its limit. */
    void readPrivate(final long position, final ByteBuffer dst) throws IOException
    {
        final int start = dst.position();
        while (dst.hasRemaining())
        {
            final FileChannel through = channel;
            final int read;
            try
            {
                read = through.read(dst, position + (dst.position() - start));
            }
            catch (final ClosedByInterruptException ex)
            {
                reopen(through);
                dst.position(start);
                throw ex;
            }
            if (read < 0)
            {
                while (dst.hasRemaining())
                {
                    dst.put((byte)0);
                }
            }
        }
    }

    /** A channel an interrupt closed is opened again through the anchor (the same inode), unless the file closed. */
    private synchronized void reopen(final FileChannel failed)
    {
        if (closed || anchor.isClosed())
        {
            return;
        }
        if (failed == direct)
        {
            direct = FileIo.openDirectChannel(anchor.handle()); // null: buffered reads from now on
        }
        else if (failed == channel)
        {
            try
            {
                channel = FileIo.openChannel(anchor.handle(), false);
            }
            catch (final IOException ex)
            {
                // left closed: the next read fails with an IOException naming the page and the file
            }
        }
    }

    synchronized void close() throws IOException
    {
        closed = true;
        IOException failure = null;
        for (final FileChannel open : new FileChannel[] {channel, direct})
        {
            try
            {
                if (null != open)
                {
                    open.close();
                }
            }
            catch (final IOException ex)
            {
                failure = FileIo.firstOf(failure, ex);
            }
        }
        try
        {
            anchor.close();
        }
        catch (final IOException ex)
        {
            failure = FileIo.firstOf(failure, ex);
        }
        if (null != failure)
        {
            throw failure;
        }
    }
}
