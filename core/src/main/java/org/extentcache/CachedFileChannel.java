package org.extentcache;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.NoSuchFileException;
import java.util.Objects;

/**
 * A {@link FileChannel} over one file of an {@link ExtentCache}, so code written for {@code FileChannel} reads and
 * writes through the cache: positional and relative reads and writes, scattering and gathering, size, truncate,
 * force, position, {@code transferTo} and {@code transferFrom}. Reads and writes have the cache's semantics
 * ({@link CachedFile}): writes copy-on-write shared pages and stay in the cache until {@link #force} (or write-back).
 *
 * <p>{@link #map} and {@link #lock} throw {@link UnsupportedOperationException}: a mapping would hand out the
 * cache's frames without copy-on-write (use {@link CachedFile#pin} for zero-copy reads), and file locks belong to
 * the operating system's files, which a translator's file need not be.
 *
 * <p><b>Thread safety:</b> as {@code FileChannel}: positional operations may run concurrently; relative operations
 * and {@link #position(long)} are serialized on the channel. Closing the channel does not close the cache or the
 * file; the cache must outlive the channel.
 */
public final class CachedFileChannel extends FileChannel
{
    private static final int TRANSFER_CHUNK = 64 * 1024;

    private final ExtentCache cache;
    private final CachedFile file;
    private final Object positionLock = new Object();
    private long position;

    private CachedFileChannel(final ExtentCache cache, final CachedFile file)
    {
        this.cache = cache;
        this.file = file;
    }

    /**
     * Opens a channel at position 0 over a file of the cache.
     *
     * @param cache the cache.
     * @param file  the translator's file id.
     * @return the channel; closing it leaves the cache and the file as they are.
     * @throws NoSuchFileException   if the translator does not know the file.
     * @throws IllegalStateException if the cache is closed.
     */
    public static CachedFileChannel open(final ExtentCache cache, final long file) throws NoSuchFileException
    {
        return new CachedFileChannel(cache, cache.file(file));
    }

    @Override
    public int read(final ByteBuffer dst) throws IOException
    {
        ensureOpen();
        synchronized (positionLock)
        {
            final int n = read(dst, position);
            if (n > 0)
            {
                position += n;
            }
            return n;
        }
    }

    @Override
    public long read(final ByteBuffer[] dsts, final int offset, final int length) throws IOException
    {
        Objects.checkFromIndexSize(offset, length, dsts.length);
        ensureOpen();
        synchronized (positionLock)
        {
            long total = 0;
            for (int i = offset; i < offset + length; i++)
            {
                if (!dsts[i].hasRemaining())
                {
                    continue;
                }
                final int n = read(dsts[i], position);
                if (n < 0)
                {
                    return total == 0 ? -1 : total;
                }
                position += n;
                total += n;
                if (dsts[i].hasRemaining())
                {
                    break;
                }
            }
            return total;
        }
    }

    @Override
    public int write(final ByteBuffer src) throws IOException
    {
        ensureOpen();
        synchronized (positionLock)
        {
            final int n = write(src, position);
            position += n;
            return n;
        }
    }

    @Override
    public long write(final ByteBuffer[] srcs, final int offset, final int length) throws IOException
    {
        Objects.checkFromIndexSize(offset, length, srcs.length);
        ensureOpen();
        synchronized (positionLock)
        {
            long total = 0;
            for (int i = offset; i < offset + length; i++)
            {
                final int n = write(srcs[i], position);
                position += n;
                total += n;
            }
            return total;
        }
    }

    @Override
    public long position() throws IOException
    {
        ensureOpen();
        synchronized (positionLock)
        {
            return position;
        }
    }

    @Override
    public FileChannel position(final long newPosition) throws IOException
    {
        if (newPosition < 0)
        {
            throw new IllegalArgumentException("position must be >= 0: position=" + newPosition);
        }
        ensureOpen();
        synchronized (positionLock)
        {
            position = newPosition;
        }
        return this;
    }

    @Override
    public long size() throws IOException
    {
        ensureOpen();
        return file.size();
    }

    /**
     * Truncates the file to {@code size} if it is larger (through the translator's {@code truncate}); a larger
     * {@code size} leaves the file alone. Either way a position past {@code size} moves back to it.
     */
    @Override
    public FileChannel truncate(final long size) throws IOException
    {
        if (size < 0)
        {
            throw new IllegalArgumentException("size must be >= 0: size=" + size);
        }
        ensureOpen();
        synchronized (positionLock)
        {
            if (size < file.size())
            {
                cache.translator().truncate(file.id(), size);
            }
            if (position > size)
            {
                position = size;
            }
        }
        return this;
    }

    /**
     * Writes the file's dirty pages to the device and syncs it ({@link CachedFile#flush()}); {@code metaData} is
     * ignored: the translator keeps the file's metadata.
     */
    @Override
    public void force(final boolean metaData) throws IOException
    {
        ensureOpen();
        file.flush();
    }

    @Override
    public long transferTo(final long position, final long count, final WritableByteChannel target) throws IOException
    {
        checkTransfer(position, count);
        ensureOpen();
        final long end = Math.min(file.size(), position + Math.min(count, Long.MAX_VALUE - position));
        final ByteBuffer chunk = ByteBuffer.allocate(TRANSFER_CHUNK);
        long at = position;
        while (at < end)
        {
            chunk.clear().limit((int)Math.min(chunk.capacity(), end - at));
            final int n = file.read(at, chunk);
            if (n <= 0)
            {
                break;
            }
            chunk.flip();
            while (chunk.hasRemaining())
            {
                final int written = target.write(chunk);
                if (written == 0 && chunk.hasRemaining())
                {
                    return at + chunk.position() - position; // a non-blocking target that is full
                }
            }
            at += n;
        }
        return at - position;
    }

    @Override
    public long transferFrom(final ReadableByteChannel src, final long position, final long count) throws IOException
    {
        checkTransfer(position, count);
        ensureOpen();
        if (position > file.size())
        {
            return 0;
        }
        final ByteBuffer chunk = ByteBuffer.allocate(TRANSFER_CHUNK);
        long done = 0;
        while (done < count)
        {
            chunk.clear().limit((int)Math.min(chunk.capacity(), count - done));
            final int n = src.read(chunk);
            if (n <= 0)
            {
                break;
            }
            chunk.flip();
            file.write(position + done, chunk);
            done += n;
        }
        return done;
    }

    @Override
    public int read(final ByteBuffer dst, final long position) throws IOException
    {
        if (dst.isReadOnly())
        {
            throw new IllegalArgumentException("Read-only buffer");
        }
        if (position < 0)
        {
            throw new IllegalArgumentException("Negative position");
        }
        ensureOpen();
        return file.read(position, dst);
    }

    @Override
    public int write(final ByteBuffer src, final long position) throws IOException
    {
        if (position < 0)
        {
            throw new IllegalArgumentException("Negative position");
        }
        ensureOpen();
        return file.write(position, src);
    }

    /**
     * Not supported: a mapping would expose the cache's frames without copy-on-write; use {@link CachedFile#pin}.
     */
    @Override
    public MappedByteBuffer map(final MapMode mode, final long position, final long size)
    {
        throw new UnsupportedOperationException("an ExtentCache file cannot be memory-mapped: its pages are the " +
            "cache's shared frames and a mapping would bypass copy-on-write; use CachedFile.pin for zero-copy reads");
    }

    /**
     * Not supported: file locks are the operating system's, and a translator's file need not be an OS file.
     */
    @Override
    public FileLock lock(final long position, final long size, final boolean shared)
    {
        throw new UnsupportedOperationException("an ExtentCache file cannot be locked: file locks belong to the " +
            "operating system's files, and a translator's file need not be one; coordinate writers in the engine");
    }

    /**
     * Not supported, as {@link #lock}.
     */
    @Override
    public FileLock tryLock(final long position, final long size, final boolean shared)
    {
        return lock(position, size, shared);
    }

    @Override
    protected void implCloseChannel()
    {
        // the cache and the file stay open: nothing to release
    }

    private void ensureOpen() throws ClosedChannelException
    {
        if (!isOpen())
        {
            throw new ClosedChannelException();
        }
    }

    private static void checkTransfer(final long position, final long count)
    {
        if (position < 0 || count < 0)
        {
            throw new IllegalArgumentException("position and count must be >= 0: position=" + position +
                " count=" + count);
        }
    }

}
