package org.extentcache.fs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.OpenOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ArrayBlockingQueue;

/**
 * The I/O of a {@link FileSystemTranslator}'s open files: a missed page is read through the file whose page missed,
 * at that page's offset, with the file's own channel, bytes past end-of-file as zeros; with {@code O_DIRECT} where
 * asked for and the file system takes it (through a page-aligned bounce page from the translator's pool, since
 * frames are not aligned). Write-backs and truncations go through the file's buffered channel, and {@link #sync} forces a file
 * only if a write completed since its last force.
 *
 * <h2>Interrupts</h2>
 * A {@link FileChannel} closes itself for every thread when a thread blocked in it is interrupted. Each transfer then
 * reopens the channel through the file's {@link InodeAnchor} (so it reaches the inode that was opened, whatever the
 * path names now) and runs again with the interrupt status cleared, restoring it afterwards: an interrupt never costs
 * the file, or the cache above it.
 *
 * <h2>Costs</h2>
 * A read is one {@code pread} (two if an {@code O_DIRECT} read stops short on a block boundary) plus, with
 * {@code O_DIRECT}, a copy of the page from the bounce page and a take and a put on the pool (a lock each). No
 * allocation once the pool holds a page for each concurrent reader. A readahead run ({@link #readRun}) is one
 * {@code pread} of the whole run into a run buffer ({@value #RUN_BOUNCE_BYTES} bytes of direct memory, pooled
 * likewise) and a copy of each page into its frame.
 *
 * <p><b>Thread safety:</b> safe for concurrent use; a file's channels are swapped under the file's monitor.
 */
final class FileIo
{
    /** {@code O_DIRECT} as an open option ({@link NativeLibc#O_DIRECT}), {@code null} where the JDK lacks it. */
    static final OpenOption DIRECT = NativeLibc.O_DIRECT;

    private static final int MAX_ATTEMPTS = 5;
    private static final int NO_CHANNEL = Integer.MIN_VALUE;
    /** Bounce pages kept for reuse; more readers at once allocate more, and those beyond this are dropped after. */
    private static final int MAX_POOLED_BOUNCES = 64;
    /** Readahead run buffers kept for reuse. */
    private static final int MAX_POOLED_RUN_BOUNCES = 8;
    /**
     * Bytes of a readahead run buffer: 256 KiB, the cache's largest window with 4 KiB pages (larger runs get a buffer
     * of their size). Direct memory, one per reader reading a run at once, kept for reuse up to
     * {@link #MAX_POOLED_RUN_BOUNCES}.
     */
    static final int RUN_BOUNCE_BYTES = 256 * 1024;

    private final int pageSize;
    private final int pageShift;
    private final boolean directReads;
    /**
     * Page-aligned pages for {@code O_DIRECT} reads (frames are not aligned), one taken per read in progress and
     * put back after: a pool of this translator's own, not a {@code ThreadLocal}, so that the pages go with the
     * translator instead of staying reachable from every thread that ever read through it.
     */
    private final ArrayBlockingQueue<ByteBuffer> bounces = new ArrayBlockingQueue<>(MAX_POOLED_BOUNCES);
    /** Aligned buffers for readahead runs ({@link #readRun}), as {@link #bounces} is for single pages. */
    private final ArrayBlockingQueue<ByteBuffer> runBounces = new ArrayBlockingQueue<>(MAX_POOLED_RUN_BOUNCES);
    /** Direct memory this translator's bounce pages and run buffers took, ever (freed by the GC, not counted down). */
    private final java.util.concurrent.atomic.AtomicLong directBytes = new java.util.concurrent.atomic.AtomicLong();

    /**
     * @return direct memory the bounce pages and run buffers took so far: what the translator holds beside the
     * cache's reservation (returned to the JVM by the GC once the translator is unreachable).
     */
    long directBytesAllocated()
    {
        return directBytes.get();
    }

    /**
     * @param pageSize    bytes per page, a power of two (checked by the translator).
     * @param directReads true to read with {@code O_DIRECT} where the file system takes it.
     */
    FileIo(final int pageSize, final boolean directReads)
    {
        this.pageSize = pageSize;
        this.pageShift = Integer.numberOfTrailingZeros(pageSize);
        this.directReads = directReads;
    }

    /**
     * Reads one page of the file into {@code dst} (exactly a page of room): with {@code O_DIRECT} if the file has a
     * direct channel, else (or for what it leaves) through the kernel's page cache; zeros past end-of-file.
     *
     * @throws IOException naming the page and the file; {@code dst}'s position is then back where it was.
     */
    void read(final OpenFile state, final long page, final ByteBuffer dst) throws IOException
    {
        final int start = dst.position();
        try
        {
            final long offset = page << pageShift;
            if (null != state.direct)
            {
                readDirect(state, offset, dst);
            }
            while (dst.hasRemaining())
            {
                if (channelRead(state, dst, offset + (dst.position() - start)) < 0)
                {
                    while (dst.hasRemaining())
                    {
                        dst.put((byte)0);
                    }
                }
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            dst.position(start);
            throw new IOException("reading page " + page + " of " + state.path + ": " + ex, ex);
        }
    }

    /**
     * Reads a run of pages of the file in one transfer (two if an {@code O_DIRECT} read stops short on a block
     * boundary) into a bounce buffer, page-aligned for {@code O_DIRECT}, then copies each page whose entry in
     * {@code blocks} is not a hole into its buffer; zeros past end-of-file. For readahead.
     *
     * @param firstPage the file page of {@code blocks[from]}.
     * @throws IOException naming the pages and the file; the buffers may then hold anything.
     */
    void readRun(final OpenFile state, final long firstPage, final long[] blocks, final ByteBuffer[] dsts,
        final int from, final int count) throws IOException
    {
        final int bytes = count << pageShift;
        ByteBuffer bounce = runBounces.poll();
        if (null == bounce || bounce.capacity() < bytes)
        {
            // one size for the runs a cache reads (its largest window) unless a larger run is asked for
            final int room = Math.max(bytes, RUN_BOUNCE_BYTES);
            bounce = ByteBuffer.allocateDirect(room + pageSize - 1).alignedSlice(pageSize);
            directBytes.addAndGet(room + pageSize - 1L);
        }
        try
        {
            final ByteBuffer run = bounce.clear().limit(bytes);
            final long offset = firstPage << pageShift;
            if (null != state.direct)
            {
                while (run.hasRemaining())
                {
                    final int read = transfer(state, true, channel -> channel.read(run, offset + run.position()));
                    // a direct read stops short only at end-of-file, or (rarely) on a block boundary
                    if (NO_CHANNEL == read || read <= 0 || run.position() % state.directAlign != 0)
                    {
                        break;
                    }
                }
            }
            while (run.hasRemaining())
            {
                if (channelRead(state, run, offset + run.position()) < 0)
                {
                    while (run.hasRemaining())
                    {
                        run.put((byte)0);
                    }
                }
            }
            for (int i = 0; i < count; i++)
            {
                if (org.extentcache.translate.Extent.HOLE != blocks[from + i])
                {
                    final ByteBuffer dst = dsts[from + i];
                    dst.put(run.limit((i + 1) << pageShift).position(i << pageShift));
                }
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            throw new IOException("reading pages " + firstPage + ".." + (firstPage + count - 1) + " of " +
                state.path + ": " + ex, ex);
        }
        finally
        {
            runBounces.offer(bounce);
        }
    }

    /** Cuts or extends the file on disk to {@code size} bytes through its channel (reopened after an interrupt). */
    void truncate(final OpenFile state, final long size) throws IOException
    {
        transfer(state, false, channel ->
        {
            channel.truncate(size);
            return 0;
        });
    }

    /**
     * Forces the file if a write completed since its last successful force. Serialized per file, so a caller whose
     * write another thread's force may have missed waits for that force and then forces again itself.
     */
    void sync(final OpenFile state) throws IOException
    {
        synchronized (state.syncLock)
        {
            final long target = state.writes.get();
            if (target <= state.synced)
            {
                return;
            }
            try
            {
                transfer(state, false, channel ->
                {
                    channel.force(true);
                    return 0;
                });
            }
            catch (final IOException | RuntimeException ex)
            {
                throw new IOException("syncing " + state.path + " failed: " + ex, ex);
            }
            state.synced = target;
        }
    }

    /**
     * Reads one page with {@code O_DIRECT} into this thread's aligned page and copies it into {@code dst}, zeros
     * past end-of-file. If the file's direct channel is gone, {@code dst} is left for the buffered channel to fill.
     */
    private void readDirect(final OpenFile state, final long offset, final ByteBuffer dst) throws IOException
    {
        ByteBuffer bounce = bounces.poll();
        if (null == bounce)
        {
            bounce = ByteBuffer.allocateDirect(2 * pageSize - 1).alignedSlice(pageSize);
            directBytes.addAndGet(2L * pageSize - 1);
        }
        try
        {
            readDirect(state, offset, dst, bounce.clear().limit(pageSize)); // the aligned slice may hold two pages
        }
        finally
        {
            bounces.offer(bounce);
        }
    }

    private void readDirect(final OpenFile state, final long offset, final ByteBuffer dst, final ByteBuffer page)
        throws IOException
    {
        while (page.hasRemaining())
        {
            final int read = transfer(state, true, channel -> channel.read(page, offset + page.position()));
            if (NO_CHANNEL == read)
            {
                return;
            }
            // a direct read stops short only at end-of-file, or (rarely) on a block boundary
            if (read <= 0 || page.position() % state.directAlign != 0)
            {
                break;
            }
        }
        while (page.hasRemaining())
        {
            page.put((byte)0);
        }
        dst.put(page.flip());
    }

    /**
     * A transfer an interrupt hits may complete, advance the buffer and still throw: a retry goes on from where the
     * buffer is, not from {@code position} again.
     */
    private int channelRead(final OpenFile state, final ByteBuffer dst, final long position) throws IOException
    {
        final int start = dst.position();
        return transfer(state, false, channel -> channel.read(dst, position + (dst.position() - start)));
    }

    /**
     * Writes from {@code src} at {@code position}, as far as one transfer goes; the buffer's position advances.
     */
    void write(final OpenFile state, final ByteBuffer src, final long position) throws IOException
    {
        final int start = src.position();
        transfer(state, false, channel -> channel.write(src, position + (src.position() - start)));
    }

    /** One positional transfer on a channel. */
    @FunctionalInterface
    private interface Transfer
    {
        int run(FileChannel channel) throws IOException;
    }

    /**
     * Runs a transfer on the file's buffered or direct channel. A FileChannel closes itself for every thread when a
     * thread blocked in it is interrupted: the transfer then reopens it and runs again with the interrupt status
     * cleared, and restores it afterwards, so an interrupt never costs the file or the cache above it (as
     * {@link org.extentcache.device.FileBlockDevice} does).
     *
     * @return the transfer's result, or {@link #NO_CHANNEL} if a direct channel was asked for and there is none.
     */
    private int transfer(final OpenFile state, final boolean direct, final Transfer transfer) throws IOException
    {
        boolean interrupted = false;
        try
        {
            for (int attempt = 1; ; attempt++)
            {
                final FileChannel channel = direct ? state.direct : state.channel;
                if (null == channel)
                {
                    return NO_CHANNEL;
                }
                try
                {
                    return transfer.run(channel);
                }
                catch (final ClosedChannelException ex)
                {
                    if (state.closed || attempt == MAX_ATTEMPTS)
                    {
                        throw ex;
                    }
                    interrupted |= Thread.interrupted();
                    reopen(state, channel, direct);
                }
            }
        }
        finally
        {
            if (interrupted)
            {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Replaces a channel that an interrupt closed, unless another thread did or the file was closed. The path is
     * opened again, so the new channel is checked to reach the file the layout describes: if the path was replaced
     * (a rename) or removed since, the file opened is unreachable and the transfer fails.
     */
    private void reopen(final OpenFile state, final FileChannel failed, final boolean direct) throws IOException
    {
        synchronized (state)
        {
            if (state.closed || (direct ? state.direct : state.channel) != failed)
            {
                return;
            }
            final Path handle = state.anchor.handle();
            final FileChannel fresh = direct ? openDirect(state, handle) : openChannel(handle, state.writable);
            boolean same = null == fresh || state.anchor.holdsInode();
            try
            {
                same = same || FileAttributes.of(state.path).sameFile(state.attrs);
            }
            finally
            {
                if (!same)
                {
                    fresh.close();
                }
            }
            if (!same)
            {
                throw new IOException(state.path + " names another file than the one opened here (replaced since): " +
                    "its channel, closed by an interrupt, cannot be reopened; revalidate or close it");
            }
            if (direct)
            {
                state.direct = fresh;
            }
            else
            {
                state.channel = fresh;
            }
        }
    }

    static FileChannel openChannel(final Path handle, final boolean writable) throws IOException
    {
        return writable ?
            FileChannel.open(handle, StandardOpenOption.READ, StandardOpenOption.WRITE) :
            FileChannel.open(handle, StandardOpenOption.READ);
    }

    /** {@code O_DIRECT} read channel for a file, or null if not asked for or the file system refuses it. */
    FileChannel openDirect(final OpenFile state, final Path handle)
    {
        if (!directReads)
        {
            return null;
        }
        final int align = directAlignment(state.path, pageSize);
        if (align < 0)
        {
            return null;
        }
        state.directAlign = align;
        return openDirectChannel(handle);
    }

    /**
     * @return the alignment {@code O_DIRECT} reads of pages of {@code pageSize} need on the file system of
     *     {@code path} (its block size), or -1 where they cannot be used: the JDK lacks {@code O_DIRECT}, the block is
     *     larger than a page or does not divide it, or the file store cannot tell.
     */
    static int directAlignment(final Path path, final int pageSize)
    {
        if (null == DIRECT)
        {
            return -1;
        }
        try
        {
            final long blockSize = Files.getFileStore(path).getBlockSize();
            return blockSize <= pageSize && pageSize % blockSize == 0 ? (int)blockSize : -1;
        }
        catch (final IOException | UnsupportedOperationException ex)
        {
            return -1;
        }
    }

    /** @return an {@code O_DIRECT} read channel through {@code handle}, or null if the file system refuses one. */
    static FileChannel openDirectChannel(final Path handle)
    {
        try
        {
            return FileChannel.open(handle, StandardOpenOption.READ, DIRECT);
        }
        catch (final IOException | UnsupportedOperationException ex)
        {
            return null; // e.g. tmpfs on older kernels: EINVAL
        }
    }

    static void closeChannels(final OpenFile state) throws IOException
    {
        final FileChannel direct;
        final FileChannel channel;
        final InodeAnchor anchor;
        synchronized (state) // after state.closed is set: a reopen either ran before, or sees it and opens nothing
        {
            direct = state.direct;
            channel = state.channel;
            anchor = state.anchor;
            state.direct = null;
        }
        try
        {
            channel.close();
        }
        finally
        {
            try
            {
                if (null != direct)
                {
                    direct.close();
                }
            }
            finally
            {
                anchor.close();
            }
        }
    }

    /** @return {@code first}, with {@code next} added to its suppressed ones; or {@code next} if there is no first. */
    static <T extends Exception> T firstOf(final T first, final T next)
    {
        if (null == first)
        {
            return next;
        }
        first.addSuppressed(next);
        return first;
    }

    static void closeQuietly(final FileChannel channel, final Throwable failure)
    {
        try
        {
            channel.close();
        }
        catch (final IOException ex)
        {
            failure.addSuppressed(ex);
        }
    }
}
