package org.extentcache.fs;

import java.io.IOException;
import java.io.InterruptedIOException;
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
 * <h2>Open counts</h2>
 * Each open is counted, read-only and writable apart: one id per file however many times it is opened, writes
 * allowed while a writable open is outstanding, and the file closed (written back, synced, forgotten) when its
 * last open is released. The first writable open of a file opened read-only gives it a writable channel; the file
 * keeps it until it closes. A last close runs its write-back outside the lock with the file marked
 * {@link OpenFile#closing}: an open of the file meanwhile waits for it on {@link #lock}, then opens the file again
 * (or, if the close failed and the file stayed open, counts an open of it).
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
        while (true)
        {
            OpenFile existing;
            synchronized (lock)
            {
                ensureOpen();
                existing = byPath.get(real);
                if (null != existing && !hold(existing, writable))
                {
                    continue; // its close finished meanwhile: look again
                }
            }
            if (null != existing)
            {
                return reopen(existing, real, writable);
            }
            final long opened = openNew(real, writable);
            if (opened > 0)
            {
                return opened;
            }
        }
    }

    /**
     * Opens a file that was not open under its path: installs it, or counts an open of the file if another hard
     * link (or another thread) opened it meanwhile.
     *
     * @return its id; or 0 if the open file found waited for a close: look the path up again.
     */
    private long openNew(final Path real, final boolean writable) throws IOException
    {
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
        OpenFile existing;
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
                    count(file, writable, 1);
                    files.put(file.id, file);
                    byPath.put(real, file);
                    byInode.put(loaded.attrs().inodeKey(), file);
                    return file.id;
                }
                if (!hold(existing, writable))
                {
                    existing = null;
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
        return null == existing ? 0 : reopen(existing, real, writable);
    }

    /**
     * Counts an open of a file found open; caller holds {@link #lock}. If the file's last close is running, waits
     * for it to end instead.
     *
     * @return true if the open was counted; false if it waited for a close (the file may be gone: look again).
     */
    private boolean hold(final OpenFile file, final boolean writable) throws IOException
    {
        if (file.closing)
        {
            try
            {
                lock.wait();
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted waiting for " + file.path + " to close");
            }
            return false;
        }
        count(file, writable, 1);
        return true;
    }

    /** Adds {@code delta} to the file's count of opens of the kind; caller holds {@link #lock}. */
    private static void count(final OpenFile file, final boolean writable, final int delta)
    {
        if (writable)
        {
            file.writers += delta;
        }
        else
        {
            file.readers += delta;
        }
    }

    /**
     * {@link #open} of a file already open (by this path or another hard link), its open counted: gives it a
     * writable channel if this open writes and it had none, and revalidates it. If that fails, the open is released
     * again.
     */
    private long reopen(final OpenFile existing, final Path real, final boolean writable) throws IOException
    {
        try
        {
            if (writable && !existing.writable)
            {
                upgrade(existing);
            }
            revalidate(existing.id);
            return existing.id;
        }
        catch (final IOException | RuntimeException | Error ex)
        {
            try
            {
                close(existing.id, writable);
            }
            catch (final IOException | RuntimeException closing)
            {
                ex.addSuppressed(closing);
            }
            throw ex;
        }
    }

    /**
     * Gives a file opened read-only a channel that writes, for its first writable open. The read-only channel it
     * replaces stays open until the file closes ({@link OpenFile#retired}). The cache is told every page changed,
     * so it translates them again: a read-only file's private pages were reported shared (see
     * {@link OpenFile#translate}).
     */
    private void upgrade(final OpenFile state) throws IOException
    {
        final FileChannel channel = FileIo.openChannel(state.anchor.handle(), true);
        FileChannel unused = channel;
        try
        {
            synchronized (lock)
            {
                if (state.writable || state.closed)
                {
                    return; // another open upgraded it meanwhile
                }
                state.layoutLock.writeLock().lock();
                try
                {
                    synchronized (state)
                    {
                        state.retired = state.channel;
                        state.channel = channel;
                        state.writable = true;
                        unused = null;
                    }
                }
                finally
                {
                    state.layoutLock.writeLock().unlock();
                }
                listeners.pagesChanged(state.id, 0, Long.MAX_VALUE, state.size);
            }
        }
        finally
        {
            if (null != unused)
            {
                unused.close();
            }
        }
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

    /**
     * See {@link FileSystemTranslator#close(long)}: releases a read-only open if the file has one, else a writable
     * one.
     */
    void close(final long file) throws IOException
    {
        final boolean writable;
        synchronized (lock)
        {
            writable = get(file).readers == 0;
        }
        close(file, writable);
    }

    /** See {@link FileSystemTranslator#close(long, boolean)}. */
    void close(final long file, final boolean writable) throws IOException
    {
        final OpenFile state;
        synchronized (lock)
        {
            state = get(file);
            if (state.closing)
            {
                throw new NoSuchFileException(state.path.toString(), null, "closing: its last open was released");
            }
            if ((writable ? state.writers : state.readers) == 0)
            {
                throw new IllegalStateException(state + " has no " + (writable ? "writable" : "read-only") +
                    " open to close: readers=" + state.readers + " writers=" + state.writers);
            }
            count(state, writable, -1);
            if (state.readers + state.writers > 0)
            {
                return;
            }
            state.closing = true;
        }
        boolean forgotten = false;
        try
        {
            try (Listeners.Announcement change = listeners.announce(file))
            {
                change.before(0, Long.MAX_VALUE, false);
                io.sync(state);
                final List<long[]> stale = new ArrayList<>();
                synchronized (lock)
                {
                    if (files.remove(file, state))
                    {
                        byPath.remove(state.path, state);
                        byInode.remove(state.attrs.inodeKey(), state);
                        state.layoutLock.writeLock().lock();
                        try
                        {
                            // closed means gone: its private pages' keys can never be named again, and a block no
                            // open file maps is not trusted at the next open either (the file system may reuse it)
                            trust.dropLoaded(state, 0, false, true, stale);
                            trust.unvouch(state, 0, stale);
                            state.closed = true;
                        }
                        finally
                        {
                            state.layoutLock.writeLock().unlock();
                        }
                        listeners.fileDeleted(file);
                    }
                    forgotten = true;
                }
                listeners.invalidate(stale); // outside the lock: the cache may wait for a load of one of them
                closeChannels(state);
            }
        }
        finally
        {
            synchronized (lock)
            {
                state.closing = false;
                if (!forgotten)
                {
                    count(state, writable, 1); // the write-back or the sync failed: the file stays open
                }
                lock.notifyAll(); // opens waiting for this close look again
            }
        }
    }

    /** Closes a file's channels, anchor and the read-only channel an upgrade retired. */
    private static void closeChannels(final OpenFile state) throws IOException
    {
        try
        {
            FileIo.closeChannels(state);
        }
        finally
        {
            final FileChannel retired = state.retired;
            state.retired = null;
            if (null != retired)
            {
                retired.close();
            }
        }
    }

    /** See {@link FileSystemTranslator#renamed}. */
    void renamed(final Path source, final Path target)
    {
        synchronized (lock)
        {
            forget(target);
            final List<OpenFile> moved = new ArrayList<>();
            byPath.entrySet().removeIf(entry ->
            {
                if (entry.getKey().startsWith(source))
                {
                    entry.getValue().path = target.resolve(source.relativize(entry.getKey()));
                    moved.add(entry.getValue());
                    return true;
                }
                return false;
            });
            for (final OpenFile file : moved)
            {
                byPath.put(file.path, file);
            }
        }
    }

    /** See {@link FileSystemTranslator#openIdOf}. */
    long idOf(final Path path)
    {
        final Path real;
        try
        {
            real = path.toRealPath();
        }
        catch (final IOException ex)
        {
            return -1;
        }
        synchronized (lock)
        {
            final OpenFile file = byPath.get(real);
            return null == file || file.closing ? -1 : file.id;
        }
    }

    /** See {@link FileSystemTranslator#unlinked}. */
    void unlinked(final Path path)
    {
        synchronized (lock)
        {
            forget(path);
        }
    }

    /** Open files at or under {@code path} are no longer reached by their paths; caller holds {@link #lock}. */
    private void forget(final Path path)
    {
        byPath.keySet().removeIf(open -> open.startsWith(path));
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
                closeChannels(state);
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
     * @return the open file with this id, with a writable open outstanding.
     * @throws NoSuchFileException   if there is none.
     * @throws AccessDeniedException if it has no writable open.
     */
    OpenFile writable(final long file) throws IOException
    {
        final OpenFile state = get(file);
        if (0 == state.writers)
        {
            throw new AccessDeniedException(state.path.toString(), null, (state.writable ?
                "its writable opens are closed" : "opened read-only") +
                ": open it with FileSystemTranslator.open(path, true) to write through the cache");
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
