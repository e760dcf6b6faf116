package org.extentcache.fs;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The files open in a {@link FileSystemTranslator} and their lifecycle: opening a file (or revalidating it if it is
 * open already, by its path or by another hard link), reloading it when it changed or its extents moved, closing it
 * and closing them all. Ids are never reused, so a stale id fails rather than naming another file.
 *
 * <h2>Reload</h2>
 * A revalidation first compares the file's attributes with what the path names now, then (if they are unchanged) its
 * extents with the blocks it vouches for ({@link ExtentReader#currentLayout}, one FIEMAP outside the locks). To
 * reload, it announces the change to the cache (which writes the file's dirty pages back and keeps its writers out),
 * reads the extents again outside the locks, then under the translator's lock and the file's write lock drops what
 * was loaded through the file, publishes the new layout ({@link BlockTrust#publish}) and, if the path now names
 * another file, moves the file's anchor and channels to it. A revalidation that finds its anchor let go by a
 * concurrent one starts again.
 *
 * <p><b>Thread safety:</b> safe for concurrent use. {@link #lock} is the translator's lock: it guards the registry
 * (ids, paths, inodes), the block owners and every change of a file's layout; it is taken before a file's write lock
 * and never while calling a listener's {@code beforeChange}.
 */
final class OpenFiles
{
    /** The translator's lock (see the class comment). */
    final Object lock = new Object();
    private final int pageShift;
    private final FileIo io;
    private final ExtentReader reader;
    private final BlockTrust trust;
    private final Listeners listeners;
    private final ConcurrentHashMap<Long, OpenFile> files = new ConcurrentHashMap<>();
    /** Under {@link #lock}. */
    private final Map<Path, OpenFile> byPath = new HashMap<>();
    /** Open files by inode, so hard links to one file share its id; under {@link #lock}. */
    private final Map<Object, OpenFile> byInode = new HashMap<>();
    /** Under {@link #lock}. */
    private long nextId = 1;
    /** Under {@link #lock}. */
    private boolean closed;

    OpenFiles(final int pageShift, final FileIo io, final ExtentReader reader, final BlockTrust trust,
        final Listeners listeners)
    {
        this.pageShift = pageShift;
        this.io = io;
        this.reader = reader;
        this.trust = trust;
        this.listeners = listeners;
    }

    /** @return the open file with this id, or null. */
    OpenFile find(final long file)
    {
        return files.get(file);
    }

    /** @return the open files now (a live view: files opened or closed meanwhile may or may not be in it). */
    Collection<OpenFile> all()
    {
        return files.values();
    }

    /** @return ids of the open files, ascending. */
    long[] ids()
    {
        return files.keySet().stream().mapToLong(Long::longValue).sorted().toArray();
    }

    /** @return how many files are open. */
    int count()
    {
        return files.size();
    }

    /** See {@link FileSystemTranslator#open(Path, boolean)}. */
    long open(final Path path, final boolean writable) throws IOException
    {
        final Path real = path.toRealPath();
        if (!Files.isRegularFile(real))
        {
            throw new IllegalArgumentException("not a regular file: " + real);
        }
        OpenFile existing;
        synchronized (lock)
        {
            ensureOpen();
            existing = byPath.get(real);
        }
        if (null != existing)
        {
            return reopen(existing, real, writable);
        }

        final InodeAnchor anchor = InodeAnchor.open(real);
        final FileChannel channel;
        try
        {
            channel = FileIo.openChannel(anchor.handle(), writable);
        }
        catch (final IOException | RuntimeException ex)
        {
            anchor.closeQuietly(ex);
            throw ex;
        }
        try
        {
            final ExtentReader.Loaded loaded = reader.load(anchor.handle(), real);
            synchronized (lock)
            {
                ensureOpen();
                existing = byPath.get(real);
                if (null == existing)
                {
                    existing = byInode.get(loaded.attrs().inodeKey()); // another hard link to an open file
                }
                if (null == existing)
                {
                    if (nextId > BlockKeys.FILE_MASK)
                    {
                        throw new IOException("too many files opened over this translator's life: " + nextId);
                    }
                    final OpenFile file = new OpenFile(nextId++, real, writable, pageShift, channel, anchor);
                    file.layoutLock.writeLock().lock();
                    try
                    {
                        trust.publish(file, loaded);
                    }
                    finally
                    {
                        file.layoutLock.writeLock().unlock();
                    }
                    file.direct = io.openDirect(file, anchor.handle());
                    files.put(file.id, file);
                    byPath.put(real, file);
                    byInode.put(loaded.attrs().inodeKey(), file);
                    return file.id;
                }
            }
        }
        catch (final IOException | RuntimeException | Error ex)
        {
            FileIo.closeQuietly(channel, ex);
            anchor.closeQuietly(ex);
            throw ex;
        }
        try
        {
            channel.close(); // open already: under another name, or another thread opened it meanwhile
        }
        finally
        {
            anchor.close();
        }
        return reopen(existing, real, writable);
    }

    /** {@link #open} of a file already open (by this path or another hard link): revalidates it. */
    private long reopen(final OpenFile existing, final Path real, final boolean writable) throws IOException
    {
        if (writable && !existing.writable)
        {
            throw new IllegalArgumentException(real + " is open read-only" + (real.equals(existing.path) ? "" :
                " as " + existing.path) + "; close it before opening it writable");
        }
        revalidate(existing.id);
        return existing.id;
    }

    /** See {@link FileSystemTranslator#revalidate}. */
    boolean revalidate(final long file) throws IOException
    {
        while (true)
        {
            try
            {
                return revalidateOnce(file);
            }
            catch (final RevalidateAgain again)
            {
                // another revalidation replaced the anchor this one read through: start again
            }
        }
    }

    /**
     * Whether a file whose attributes are unchanged no longer maps every block it vouches for (dedupe,
     * defragmentation): one FIEMAP, outside the locks, compared under the file's read lock. A file that vouches for
     * nothing (no sharing, or no physical pages) is not read.
     */
    private boolean extentsMoved(final OpenFile state) throws IOException
    {
        final Layout layout;
        state.layoutLock.readLock().lock();
        try
        {
            layout = state.layout;
        }
        finally
        {
            state.layoutLock.readLock().unlock();
        }
        if (!layout.hasPhysical())
        {
            return false;
        }
        final Layout now = reader.currentLayout(state);
        state.layoutLock.readLock().lock();
        try
        {
            return state.stale || !state.layout.keepsBlocks(now, state.written);
        }
        finally
        {
            state.layoutLock.readLock().unlock();
        }
    }

    /** Thrown (after the Announcement closed) when a revalidation must start again. */
    private static final class RevalidateAgain extends RuntimeException
    {
        private static final long serialVersionUID = 1L;

        RevalidateAgain()
        {
            super(null, null, false, false);
        }
    }

    private boolean revalidateOnce(final long file) throws IOException
    {
        final OpenFile state = get(file);
        final FileAttributes now = FileAttributes.of(state.path);
        if (now.equals(state.attrs) && !state.stale && !extentsMoved(state))
        {
            return false;
        }
        try (Listeners.Announcement change = listeners.announce(file))
        {
            change.before(0, Long.MAX_VALUE, false);
            final boolean replaced = !FileAttributes.of(state.path).sameFile(state.attrs);
            // the path names another file now: hold the new one's inode, and read it through that
            InodeAnchor anchor = replaced ? InodeAnchor.open(state.path) : null;
            FileChannel channel = null;
            FileChannel direct = null;
            try
            {
                final InodeAnchor reading = replaced ? anchor : state.anchor;
                final ExtentReader.Loaded loaded = reader.load(reading.handle(), state.path);
                if (replaced)
                {
                    io.sync(state); // the write-backs just made went to the old file: durable before it is let go
                }
                synchronized (lock)
                {
                    ensureOpen();
                    if (files.get(file) != state)
                    {
                        throw new NoSuchFileException(state.path.toString(), null, "closed during revalidation");
                    }
                    if (reading.isClosed())
                    {
                        // a concurrent revalidate let it go during the load: what was read may be another file's
                        throw new RevalidateAgain();
                    }
                    final FileAttributes old = state.attrs;
                    if (replaced)
                    {
                        channel = FileIo.openChannel(anchor.handle(), state.writable);
                        direct = io.openDirect(state, anchor.handle());
                    }
                    state.layoutLock.writeLock().lock();
                    try
                    {
                        final List<long[]> stale = new ArrayList<>();
                        trust.unvouch(state, 0, null);
                        // loaded through the changed file: may hold its new bytes, or its old ones
                        trust.dropLoaded(state, 0, true, true, stale);
                        trust.publish(state, loaded);
                        if (replaced)
                        {
                            // no reader is in readBlock now: none reads the new file under the old layout's keys
                            synchronized (state)
                            {
                                final FileChannel oldChannel = state.channel;
                                final FileChannel oldDirect = state.direct;
                                final InodeAnchor oldAnchor = state.anchor;
                                state.channel = channel;
                                state.direct = direct;
                                state.anchor = anchor;
                                channel = oldChannel; // closed below
                                direct = oldDirect;
                                anchor = oldAnchor;
                            }
                            byInode.remove(old.inodeKey(), state);
                            byInode.putIfAbsent(loaded.attrs().inodeKey(), state);
                        }
                        listeners.invalidate(stale);
                    }
                    finally
                    {
                        state.layoutLock.writeLock().unlock();
                    }
                    listeners.pagesChanged(file, 0, Long.MAX_VALUE, state.size);
                }
            }
            finally
            {
                // the replaced channels and anchor, or new ones never installed
                try
                {
                    if (null != direct)
                    {
                        direct.close();
                    }
                }
                finally
                {
                    try
                    {
                        if (null != channel)
                        {
                            channel.close();
                        }
                    }
                    finally
                    {
                        if (null != anchor)
                        {
                            anchor.close();
                        }
                    }
                }
            }
            return true;
        }
    }

    /** See {@link FileSystemTranslator#close(long)}. */
    void close(final long file) throws IOException
    {
        final OpenFile state = get(file);
        try (Listeners.Announcement change = listeners.announce(file))
        {
            change.before(0, Long.MAX_VALUE, false);
            io.sync(state);
            synchronized (lock)
            {
                if (files.remove(file, state))
                {
                    byPath.remove(state.path, state);
                    byInode.remove(state.attrs.inodeKey(), state);
                    state.layoutLock.writeLock().lock();
                    try
                    {
                        trust.unvouch(state, 0, null);
                        state.closed = true;
                    }
                    finally
                    {
                        state.layoutLock.writeLock().unlock();
                    }
                    listeners.fileDeleted(file);
                }
            }
            FileIo.closeChannels(state);
        }
    }

    /** See {@link FileSystemTranslator#close()}. */
    void closeAll() throws IOException
    {
        final List<OpenFile> open;
        synchronized (lock)
        {
            if (closed)
            {
                return;
            }
            closed = true;
            open = new ArrayList<>(files.values());
            files.clear();
            byPath.clear();
            byInode.clear();
        }
        IOException failure = null;
        for (final OpenFile state : open)
        {
            state.closed = true;
            try
            {
                FileIo.closeChannels(state);
            }
            catch (final IOException ex)
            {
                failure = FileIo.firstOf(failure, ex);
            }
        }
        if (null != failure)
        {
            throw failure;
        }
    }

    /**
     * @return the open file with this id.
     * @throws NoSuchFileException if there is none.
     */
    OpenFile get(final long file) throws NoSuchFileException
    {
        final OpenFile state = files.get(file);
        if (null == state)
        {
            throw new NoSuchFileException("file " + file, null, "not open in this FileSystemTranslator");
        }
        return state;
    }

    /**
     * @return the open file with this id, opened writable.
     * @throws NoSuchFileException   if there is none.
     * @throws AccessDeniedException if it was opened read-only.
     */
    OpenFile writable(final long file) throws IOException
    {
        final OpenFile state = get(file);
        if (!state.writable)
        {
            throw new AccessDeniedException(state.path.toString(), null,
                "opened read-only: open it with FileSystemTranslator.open(path, true) to write through the cache");
        }
        return state;
    }

    /** Caller holds {@link #lock}: the file was not closed since it was looked up, so its anchor is open. */
    void ensureStillOpen(final long file, final OpenFile state) throws NoSuchFileException
    {
        ensureOpen();
        if (files.get(file) != state)
        {
            throw new NoSuchFileException(state.path.toString(), null, "closed meanwhile");
        }
    }

    private void ensureOpen()
    {
        if (closed)
        {
            throw new IllegalStateException("FileSystemTranslator is closed");
        }
    }
}
