package org.extentcache;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.NonReadableChannelException;
import java.nio.channels.NonWritableChannelException;
import java.nio.channels.OverlappingFileLockException;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A {@link FileChannel} over one file of an {@link ExtentCache}, so code written for {@code FileChannel} reads and
 * writes through the cache: positional and relative reads and writes, scattering and gathering, size, truncate,
 * force, position, {@code transferTo}, {@code transferFrom} and byte-range locks. Reads and writes have the cache's
 * semantics ({@link CachedFile}): writes copy-on-write shared pages and stay in the cache until {@link #force} (or
 * write-back).
 *
 * <h2>Options</h2>
 * A channel opened with {@link #open(ExtentCache, long, ChannelOptions, ChannelLocks, Closeable)} has the mode and
 * behaviour its {@link ChannelOptions} ask for: read-only, write-only or both ({@code NonWritableChannelException}
 * and {@code NonReadableChannelException} otherwise), truncated as it opens, appending, or forcing after every write
 * ({@code SYNC}, {@code DSYNC}). {@link #open(ExtentCache, long)} reads and writes.
 *
 * <h2>Locks</h2>
 * {@link #lock} and {@link #tryLock} follow the {@code FileChannel} contract: a shared lock needs a readable channel
 * and an exclusive one a writable channel; a lock overlapping one held in this JVM on the same file, by this or
 * another channel, throws {@link OverlappingFileLockException}; closing the channel releases its locks. The
 * {@link ChannelLocks} strategy given at open decides what else a lock excludes: nothing outside this process
 * ({@link FileLockTable}, for files one process owns), or other processes too (the operating system's lock on a
 * real file).
 *
 * <h2>Not supported</h2>
 * {@link #map} throws {@link UnsupportedOperationException}: a mapping would hand out the cache's frames without
 * copy-on-write (use {@link CachedFile#pin} for zero-copy reads).
 *
 * <p><b>Thread safety:</b> as {@code FileChannel}: positional operations may run concurrently; relative operations
 * and {@link #position(long)} are serialized on the channel. Closing the channel does not close the cache; the cache
 * must outlive the channel. Ownership: the channel releases its locks and runs its close action once, when closed.
 */
public final class CachedFileChannel extends FileChannel
{
    private static final int TRANSFER_CHUNK = 64 * 1024;
    /**
     * {@code transferFrom} past the end of the file grows it from JDK 22 on (JDK-8303260); before, it transfers
     * nothing. The channel keeps the contract of the JDK it runs on.
     */
    private static final boolean TRANSFER_FROM_GROWS = Runtime.version().feature() >= 22;

    private final ExtentCache cache;
    private final CachedFile file;
    private final ChannelOptions options;
    private final ChannelLocks locks;
    private final Closeable onClose;
    private final Object positionLock = new Object();
    private long position;
    /** Reads, writes, truncates, transfers and forces in progress; see {@link #startOperation()}. */
    private final AtomicInteger inFlight = new AtomicInteger();
    /** This thread's operations among {@link #inFlight}: a close from inside one of them does not wait for them. */
    private final ThreadLocal<int[]> ownOperations = ThreadLocal.withInitial(() -> new int[1]);
    /** The thread that closed the channel from inside its own operation, which then stops; null if none did. */
    private volatile Thread closedInside;
    /** Locks taken through this channel and not yet released; guarded by itself. */
    private final Set<CachedFileLock> held = new HashSet<>();

    private CachedFileChannel(final ExtentCache cache, final CachedFile file, final ChannelOptions options,
        final ChannelLocks locks, final Closeable onClose)
    {
        this.cache = cache;
        this.file = file;
        this.options = options;
        this.locks = locks;
        this.onClose = onClose;
    }

    /**
     * Opens a channel at position 0 over a file of the cache, for reading and writing, with process-local locks
     * ({@link FileLockTable}) shared by every channel this method opens on the same file.
     *
     * @param cache the cache.
     * @param file  the translator's file id.
     * @return the channel; closing it leaves the cache and the file as they are.
     * @throws NoSuchFileException   if the translator does not know the file.
     * @throws IllegalStateException if the cache is closed.
     */
    public static CachedFileChannel open(final ExtentCache cache, final long file) throws NoSuchFileException
    {
        final CachedFile cached = cache.file(file);
        return new CachedFileChannel(cache, cached, ChannelOptions.READ_WRITE, FileLockTable.JVM.locksOf(cached),
            () -> { });
    }

    /**
     * Opens a channel at position 0 over a file of the cache with the given options. If they ask to truncate
     * ({@code TRUNCATE_EXISTING} with {@code WRITE}), the file is cut to 0 bytes first. Creating the file is the
     * caller's job: it must exist.
     *
     * @param cache   the cache.
     * @param file    the translator's file id.
     * @param options the channel's mode and behaviour.
     * @param locks   how the channel takes its locks: shared by every channel of the file that must exclude this one.
     * @param onClose run once when the channel closes, after its locks are released (the owner's bookkeeping, such
     *                as closing the file in its translator); its exception reaches the caller of {@code close}.
     * @return the channel.
     * @throws NoSuchFileException   if the translator does not know the file.
     * @throws IOException           if truncating fails (the channel is then not opened, and {@code onClose} is
     *                               not run).
     * @throws IllegalStateException if the cache is closed.
     */
    public static CachedFileChannel open(final ExtentCache cache, final long file, final ChannelOptions options,
        final ChannelLocks locks, final Closeable onClose) throws IOException
    {
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(locks, "locks");
        Objects.requireNonNull(onClose, "onClose");
        final CachedFile cached = cache.file(file);
        if (options.truncateExisting() && cached.size() > 0)
        {
            cache.translator().truncate(file, 0);
        }
        return new CachedFileChannel(cache, cached, options, locks, onClose);
    }

    /**
     * @return the cached file this channel reads and writes.
     */
    public CachedFile file()
    {
        return file;
    }

    /**
     * @return the options the channel was opened with.
     */
    public ChannelOptions options()
    {
        return options;
    }

    @Override
    public int read(final ByteBuffer dst) throws IOException
    {
        startRead();
        try
        {
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
        finally
        {
            endOperation();
        }
    }

    @Override
    public long read(final ByteBuffer[] dsts, final int offset, final int length) throws IOException
    {
        Objects.checkFromIndexSize(offset, length, dsts.length);
        startRead();
        try
        {
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
        finally
        {
            endOperation();
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>In append mode the bytes go to the end of the file, and the position moves past them.
     */
    @Override
    public int write(final ByteBuffer src) throws IOException
    {
        startWrite();
        try
        {
            synchronized (positionLock)
            {
                if (options.append())
                {
                    position = file.size();
                }
                final int n = file.write(position, src);
                position += n;
                forceIfSync();
                return n;
            }
        }
        finally
        {
            endOperation();
        }
    }

    @Override
    public long write(final ByteBuffer[] srcs, final int offset, final int length) throws IOException
    {
        Objects.checkFromIndexSize(offset, length, srcs.length);
        startWrite();
        try
        {
            synchronized (positionLock)
            {
                if (options.append())
                {
                    position = file.size();
                }
                long total = 0;
                for (int i = offset; i < offset + length; i++)
                {
                    final int n = file.write(position, srcs[i]);
                    position += n;
                    total += n;
                }
                forceIfSync();
                return total;
            }
        }
        finally
        {
            endOperation();
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>In append mode, the file's size.
     */
    @Override
    public long position() throws IOException
    {
        ensureOpen();
        synchronized (positionLock)
        {
            return options.append() ? file.size() : position;
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
     *
     * @throws NonWritableChannelException if the channel was not opened for writing.
     */
    @Override
    public FileChannel truncate(final long size) throws IOException
    {
        if (size < 0)
        {
            throw new IllegalArgumentException("size must be >= 0: size=" + size);
        }
        startWrite();
        try
        {
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
            forceIfSync();
            return this;
        }
        finally
        {
            endOperation();
        }
    }

    /**
     * Writes this file's dirty pages to the device, syncs, and commits the file's metadata in the translator
     * ({@link CachedFile#flush()}); other files' dirty pages are not written. {@code metaData} is ignored: the
     * translator's metadata of the file is always committed. Allowed on a read-only channel, as in the JDK.
     */
    @Override
    public void force(final boolean metaData) throws IOException
    {
        startOperation();
        try
        {
            file.flush();
        }
        finally
        {
            endOperation();
        }
    }

    /**
     * {@inheritDoc}
     *
     * @throws NonReadableChannelException if the channel was not opened for reading.
     */
    @Override
    public long transferTo(final long position, final long count, final WritableByteChannel target) throws IOException
    {
        checkTransfer(position, count);
        startRead();
        try
        {
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
                    ensureNotClosedInside();
                    if (written == 0 && chunk.hasRemaining())
                    {
                        return at + chunk.position() - position; // a non-blocking target that is full
                    }
                }
                at += n;
            }
            return at - position;
        }
        finally
        {
            endOperation();
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>A position past the end of the file transfers nothing on JDK 17 to 21 and grows the file (with zeros
     * between) from JDK 22 on, as the running JDK's {@code FileChannel} does.
     *
     * @throws NonWritableChannelException if the channel was not opened for writing.
     */
    @Override
    public long transferFrom(final ReadableByteChannel src, final long position, final long count) throws IOException
    {
        checkTransfer(position, count);
        startWrite();
        try
        {
            if (!TRANSFER_FROM_GROWS && position > file.size())
            {
                return 0;
            }
            final ByteBuffer chunk = ByteBuffer.allocate(TRANSFER_CHUNK);
            long done = 0;
            while (done < count)
            {
                chunk.clear().limit((int)Math.min(chunk.capacity(), count - done));
                final int n = src.read(chunk);
                ensureNotClosedInside();
                if (n <= 0)
                {
                    break;
                }
                chunk.flip();
                file.write(position + done, chunk);
                done += n;
            }
            forceIfSync();
            return done;
        }
        finally
        {
            endOperation();
        }
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
        startRead();
        try
        {
            return file.read(position, dst);
        }
        finally
        {
            endOperation();
        }
    }

    @Override
    public int write(final ByteBuffer src, final long position) throws IOException
    {
        if (position < 0)
        {
            throw new IllegalArgumentException("Negative position");
        }
        startWrite();
        try
        {
            final int n = file.write(position, src);
            forceIfSync();
            return n;
        }
        finally
        {
            endOperation();
        }
    }

    /**
     * Not supported: a mapping would expose the cache's frames without copy-on-write; use {@link CachedFile#pin}.
     *
     * @throws UnsupportedOperationException always, saying why.
     */
    @Override
    public MappedByteBuffer map(final MapMode mode, final long position, final long size)
    {
        throw new UnsupportedOperationException("an ExtentCache file cannot be memory-mapped: its pages are the " +
            "cache's shared frames and a mapping would bypass copy-on-write; use CachedFile.pin for zero-copy reads");
    }

    /**
     * Locks a range of the file, waiting for another process's lock if the channel's {@link ChannelLocks} has other
     * processes to wait for; see the class comment.
     *
     * @throws OverlappingFileLockException if a lock held in this JVM on the file overlaps the range.
     * @throws NonReadableChannelException  if {@code shared} and the channel was not opened for reading.
     * @throws NonWritableChannelException  if not {@code shared} and the channel was not opened for writing.
     * @throws ClosedChannelException       if the channel is closed.
     * @throws IllegalArgumentException     if {@code position} or {@code size} is negative.
     */
    @Override
    public FileLock lock(final long position, final long size, final boolean shared) throws IOException
    {
        return acquire(position, size, shared, true);
    }

    /**
     * As {@link #lock(long, long, boolean)}, but returns null rather than wait for another process's lock.
     */
    @Override
    public FileLock tryLock(final long position, final long size, final boolean shared) throws IOException
    {
        return acquire(position, size, shared, false);
    }

    private FileLock acquire(final long position, final long size, final boolean shared, final boolean wait)
        throws IOException
    {
        if (position < 0 || size < 0)
        {
            throw new IllegalArgumentException("Negative position or size: position=" + position + " size=" + size);
        }
        if (position + size < 0)
        {
            throw new IllegalArgumentException("Negative position + size: position=" + position + " size=" + size);
        }
        ensureOpen();
        if (shared && !options.read())
        {
            throw new NonReadableChannelException();
        }
        if (!shared && !options.write())
        {
            throw new NonWritableChannelException();
        }
        final ChannelLocks.Held lock = locks.acquire(position, size, shared, wait);
        if (null == lock)
        {
            return null;
        }
        final CachedFileLock granted = new CachedFileLock(this, position, size, shared, lock);
        synchronized (held)
        {
            if (isOpen())
            {
                held.add(granted);
                return granted;
            }
        }
        granted.releaseOnce(); // closed while locking: the close released the others, this one is released here
        throw new AsynchronousCloseException();
    }

    /**
     * Waits for the reads and writes in flight to end, releases the channel's locks, then runs the close action
     * given at open.
     */
    @Override
    protected void implCloseChannel() throws IOException
    {
        awaitOperations(); // a read or write in flight ends first: none lands after the close
        final List<CachedFileLock> locked;
        synchronized (held)
        {
            locked = new ArrayList<>(held);
            held.clear();
        }
        IOException failure = null;
        for (final CachedFileLock lock : locked)
        {
            try
            {
                lock.releaseOnce();
            }
            catch (final IOException ex)
            {
                failure = addTo(failure, ex);
            }
        }
        try
        {
            onClose.close();
        }
        catch (final IOException ex)
        {
            failure = addTo(failure, ex);
        }
        if (null != failure)
        {
            throw failure;
        }
    }

    private static IOException addTo(final IOException first, final IOException next)
    {
        if (null == first)
        {
            return next;
        }
        first.addSuppressed(next);
        return first;
    }

    private void forceIfSync() throws IOException
    {
        if (options.sync())
        {
            file.flush();
        }
    }

    /**
     * Starts an operation that reads or writes the file: {@link #implCloseChannel} waits until every operation
     * started has ended, so none lands after the channel (and its file system) closed. Ends with {@link #endOperation()}.
     */
    private void startOperation() throws ClosedChannelException
    {
        inFlight.incrementAndGet();
        ownOperations.get()[0]++;
        if (!isOpen())
        {
            endOperation();
            throw new ClosedChannelException();
        }
    }

    private void startRead() throws ClosedChannelException
    {
        startOperation();
        if (!options.read())
        {
            endOperation();
            throw new NonReadableChannelException();
        }
    }

    private void startWrite() throws ClosedChannelException
    {
        startOperation();
        if (!options.write())
        {
            endOperation();
            throw new NonWritableChannelException();
        }
    }

    private void endOperation()
    {
        ownOperations.get()[0]--;
        inFlight.decrementAndGet();
        if (!isOpen()) // the closer may wait for fewer than all (its own operations are not waited for)
        {
            synchronized (inFlight)
            {
                inFlight.notifyAll();
            }
        }
    }

    /** Waits, uninterruptibly, until the operations in flight when the channel closed have ended. */
    private void awaitOperations()
    {
        final int own = ownOperations.get()[0];
        if (own > 0)
        {
            closedInside = Thread.currentThread(); // a source or target of this thread's transfer closed it
        }
        boolean interrupted = false;
        synchronized (inFlight)
        {
            while (inFlight.get() > own)
            {
                try
                {
                    inFlight.wait();
                }
                catch (final InterruptedException ex)
                {
                    interrupted = true;
                }
            }
        }
        if (interrupted)
        {
            Thread.currentThread().interrupt();
        }
    }

    /** After calling out of an operation: stops it if the call closed the channel (nothing lands after a close). */
    private void ensureNotClosedInside() throws ClosedChannelException
    {
        if (closedInside == Thread.currentThread())
        {
            throw new ClosedChannelException();
        }
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

    /**
     * A lock taken through a {@link CachedFileChannel}: valid until released or until its channel closes.
     */
    private static final class CachedFileLock extends FileLock
    {
        private final CachedFileChannel owner;
        /** Null once released; guarded by this lock's monitor. */
        private ChannelLocks.Held lock;

        CachedFileLock(final CachedFileChannel owner, final long position, final long size, final boolean shared,
            final ChannelLocks.Held lock)
        {
            super(owner, position, size, shared);
            this.owner = owner;
            this.lock = lock;
        }

        @Override
        public synchronized boolean isValid()
        {
            return null != lock;
        }

        @Override
        public void release() throws IOException
        {
            if (!owner.isOpen())
            {
                throw new ClosedChannelException();
            }
            synchronized (owner.held)
            {
                owner.held.remove(this);
            }
            releaseOnce();
        }

        /** Releases the lock if it is still held; later calls do nothing. */
        synchronized void releaseOnce() throws IOException
        {
            final ChannelLocks.Held held = lock;
            lock = null;
            if (null != held)
            {
                held.release();
            }
        }
    }
}
