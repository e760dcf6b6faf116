package org.extentcache.nio;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.NonWritableChannelException;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/**
 * A directory of a {@link StoreFileSystem} opened for reading, as {@code FileChannel.open(dir, READ)} opens one on
 * Linux: it exists to be forced (Lucene syncs a directory after renaming into it), and {@link #force} makes the
 * file system's names durable. Reads fail with {@code IOException("Is a directory")} as on Linux; writes, locks and
 * mappings are refused.
 *
 * <p><b>Thread safety:</b> safe for concurrent use.
 */
final class DirectoryChannel extends FileChannel
{
    /** What forcing the directory does. */
    @FunctionalInterface
    interface Force
    {
        void force() throws IOException;
    }

    private final String path;
    private final Force force;

    DirectoryChannel(final String path, final Force force)
    {
        this.path = path;
        this.force = force;
    }

    private IOException isADirectory()
    {
        return new IOException("Is a directory: " + path);
    }

    private void ensureOpen() throws ClosedChannelException
    {
        if (!isOpen())
        {
            throw new ClosedChannelException();
        }
    }

    @Override
    public int read(final ByteBuffer dst) throws IOException
    {
        ensureOpen();
        throw isADirectory();
    }

    @Override
    public long read(final ByteBuffer[] dsts, final int offset, final int length) throws IOException
    {
        ensureOpen();
        throw isADirectory();
    }

    @Override
    public int read(final ByteBuffer dst, final long position) throws IOException
    {
        ensureOpen();
        throw isADirectory();
    }

    @Override
    public int write(final ByteBuffer src)
    {
        throw new NonWritableChannelException();
    }

    @Override
    public long write(final ByteBuffer[] srcs, final int offset, final int length)
    {
        throw new NonWritableChannelException();
    }

    @Override
    public int write(final ByteBuffer src, final long position)
    {
        throw new NonWritableChannelException();
    }

    @Override
    public long position() throws IOException
    {
        ensureOpen();
        return 0;
    }

    @Override
    public FileChannel position(final long newPosition) throws IOException
    {
        ensureOpen();
        return this;
    }

    @Override
    public long size() throws IOException
    {
        ensureOpen();
        return 0;
    }

    @Override
    public FileChannel truncate(final long size)
    {
        throw new NonWritableChannelException();
    }

    /** Makes the file system's names durable. */
    @Override
    public void force(final boolean metaData) throws IOException
    {
        ensureOpen();
        force.force();
    }

    @Override
    public long transferTo(final long position, final long count, final WritableByteChannel target)
        throws IOException
    {
        ensureOpen();
        throw isADirectory();
    }

    @Override
    public long transferFrom(final ReadableByteChannel src, final long position, final long count)
    {
        throw new NonWritableChannelException();
    }

    /**
     * @throws UnsupportedOperationException always: a directory cannot be mapped.
     */
    @Override
    public MappedByteBuffer map(final MapMode mode, final long position, final long size)
    {
        throw new UnsupportedOperationException("a directory cannot be mapped: " + path);
    }

    /**
     * @throws UnsupportedOperationException always: directories of a store file system take no locks.
     */
    @Override
    public FileLock lock(final long position, final long size, final boolean shared)
    {
        throw new UnsupportedOperationException("a directory cannot be locked: " + path);
    }

    /**
     * @throws UnsupportedOperationException always, as {@link #lock}.
     */
    @Override
    public FileLock tryLock(final long position, final long size, final boolean shared)
    {
        return lock(position, size, shared);
    }

    @Override
    protected void implCloseChannel()
    {
        // nothing held
    }
}
