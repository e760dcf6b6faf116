package org.extentcache.nio;

import org.extentcache.CachedFileChannel;
import org.extentcache.ChannelLocks;
import org.extentcache.ChannelOptions;
import org.extentcache.ExtentCache;
import org.extentcache.FileLockTable;
import org.extentcache.fs.FileSystemTranslator;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.AccessMode;
import java.nio.file.CopyOption;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileStore;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An {@code extentcache} file system over a directory of real files: paths, directories, attributes, renames and
 * deletes go to the real file system; file contents are read and written through one {@link ExtentCache} over a
 * {@link FileSystemTranslator} that this file system owns, so files that share extents (reflink copies) share
 * cached frames.
 *
 * <h2>Channels and the translator</h2>
 * Each channel of a file counts one open of it in the translator, read-only or writable as the channel is
 * ({@link FileSystemTranslator#open(Path, boolean)}); closing the channel releases it, and the last close writes
 * the file back and forgets it. A rename or delete through this file system tells the translator
 * ({@link FileSystemTranslator#renamed}, {@link FileSystemTranslator#unlinked}), so open channels keep their file
 * (POSIX: a deleted file stays readable and writable until its last close) and a new file at the old path is a new
 * file. Changes made around this file system follow the translator's close-to-open consistency.
 *
 * <h2>Locks</h2>
 * The operating system's locks on the real file: Linux open file description locks ({@link NativeCalls} says why
 * not the JDK's), through one descriptor of the file per open file (opened on the first lock, closed with the
 * file's last channel here). Another process cannot lock what this file system locked (so two JVMs cannot open one
 * H2 database), whether it uses these locks or the JDK's; nor can another channel of this JVM that is not this file
 * system's (its {@code tryLock} returns null). Among this file system's channels, overlapping locks throw
 * {@code OverlappingFileLockException} ({@link FileLockTable}), as the JDK's channels do. A waiting {@code lock}
 * waits in the kernel and is not interruptible.
 *
 * <h2>Reflink</h2>
 * {@link ExtentCacheCopyOption#REFLINK} copies with {@code FICLONE} ({@link FileClone}), after writing back the
 * source's dirty pages.
 *
 * <h2>Costs</h2>
 * Reading the attributes of a regular file looks its real path up among the translator's open files, to report
 * the cache's size of a file written and not yet written back. A directory opened for reading is the real directory's
 * {@code FileChannel}, whose {@code force} syncs it.
 *
 * <p><b>Thread safety:</b> safe for concurrent use. Ownership: the file system owns its translator and cache and
 * closes both; the directory is the caller's.
 */
public final class DirectoryFileSystem extends ExtentCacheFileSystem
{
    private final Path root;
    private final FileSystemTranslator translator;
    private final ExtentCache cache;
    private final ExtentCacheFileStore fileStore;
    /** Per translator file id: this file system's channels of it and its lock channel; guarded by itself. */
    private final Map<Long, OpenFile> open = new HashMap<>();

    /**
     * Orders changes of names (delete, rename) against opens: a change of the real names and the translator's
     * {@code unlinked}/{@code renamed} are one step under the write lock, and an open (its create and the
     * translator's open) runs under the read lock, so no open finds a deleted or replaced file still registered
     * under its old path and revalidates it onto the new file there.
     */
    private final java.util.concurrent.locks.ReadWriteLock names = new java.util.concurrent.locks.ReentrantReadWriteLock();

    /** Locks among this file system's channels, by translator file id: the JVM's overlap rule. */
    private final FileLockTable jvmLocks = new FileLockTable();

    /** One real file with channels open here. */
    private static final class OpenFile
    {
        int channels;
        /** The descriptor the file's OFD locks are taken through, opened on the first lock; or -1. */
        int lockFd = -1;
        Path lockPath;
    }

    private DirectoryFileSystem(final ExtentCacheFileSystemProvider provider, final String name, final Path root,
        final FileSystemTranslator translator, final ExtentCache cache) throws IOException
    {
        super(provider, name);
        this.root = root;
        this.translator = translator;
        this.cache = cache;
        final FileStore real = Files.getFileStore(root);
        this.fileStore = new ExtentCacheFileStore(name, "extentcache-directory (" + real.type() + ')',
            new ExtentCacheFileStore.Space()
            {
                @Override
                public long total() throws IOException
                {
                    return real.getTotalSpace();
                }

                @Override
                public long usable() throws IOException
                {
                    return real.getUsableSpace();
                }
            });
    }

    /**
     * @throws NotDirectoryException if the directory is not one.
     * @throws IOException           if it does not exist.
     */
    static DirectoryFileSystem open(final ExtentCacheFileSystemProvider provider, final String name,
        final Path directory, final FileSystemOptions options) throws IOException
    {
        final Path root = directory.toRealPath();
        if (!Files.isDirectory(root))
        {
            throw new NotDirectoryException(root.toString());
        }
        final FileSystemTranslator translator = new FileSystemTranslator(options.pageSize(), options.directReads());
        try
        {
            final ExtentCache cache = ExtentCache.builder().translator(translator).pageSize(options.pageSize())
                .capacityBytes(options.capacityBytes()).build();
            try
            {
                return new DirectoryFileSystem(provider, name, root, translator, cache);
            }
            catch (final IOException | RuntimeException | Error ex)
            {
                cache.close();
                throw ex;
            }
        }
        catch (final IOException | RuntimeException | Error ex)
        {
            try
            {
                translator.close();
            }
            catch (final IOException closing)
            {
                ex.addSuppressed(closing);
            }
            throw ex;
        }
    }

    @Override
    public ExtentCache cache()
    {
        return cache;
    }

    /**
     * @return the real directory this file system wraps.
     */
    public Path directory()
    {
        return root;
    }

    /**
     * @param path a path of this file system.
     * @return the real file it names.
     */
    public Path realPath(final Path path)
    {
        final String[] names = ExtentCachePath.of(path).absoluteNames();
        return names.length == 0 ? root : root.resolve(String.join("/", names));
    }

    @Override
    void closeContents() throws IOException
    {
        IOException failure = null;
        try
        {
            cache.flush();
        }
        catch (final IOException ex)
        {
            failure = ex;
        }
        final List<OpenFile> locking = new ArrayList<>();
        synchronized (open)
        {
            locking.addAll(open.values());
            open.clear();
        }
        for (final OpenFile file : locking)
        {
            try
            {
                closeLocks(file);
            }
            catch (final IOException ex)
            {
                failure = addTo(failure, ex);
            }
        }
        cache.close();
        try
        {
            translator.close();
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

    @Override
    FileStore fileStore()
    {
        return fileStore;
    }

    @Override
    FileChannel newFileChannel(final ExtentCachePath path, final Set<? extends OpenOption> options,
        final FileAttribute<?>... attrs) throws IOException
    {
        final ChannelOptions mode = ChannelOptions.of(options);
        final Path real = realPath(path);
        if (Files.isDirectory(real))
        {
            if (mode.write())
            {
                throw new FileSystemException(path.toString(), null, "Is a directory");
            }
            return FileChannel.open(real, StandardOpenOption.READ); // to be forced, as Lucene does
        }
        final long id;
        names.readLock().lock();
        try
        {
            id = createAndOpen(path, real, mode, attrs);
        }
        finally
        {
            names.readLock().unlock();
        }
        synchronized (open)
        {
            open.computeIfAbsent(id, key -> new OpenFile()).channels++;
        }
        try
        {
            final Object key = new Object();
            return track(key, CachedFileChannel.open(cache, id, mode, locksOf(id), () ->
            {
                untrack(key);
                released(id, mode.write());
            }));
        }
        catch (final IOException | RuntimeException | Error ex)
        {
            try
            {
                released(id, mode.write());
            }
            catch (final IOException | RuntimeException closing)
            {
                ex.addSuppressed(closing);
            }
            throw ex;
        }
    }

    /** Creates the file if the options ask, and opens it in the translator; caller holds the read lock of names. */
    private long createAndOpen(final ExtentCachePath path, final Path real, final ChannelOptions mode,
        final FileAttribute<?>... attrs) throws IOException
    {
        if (mode.createNew())
        {
            Files.createFile(real, attrs);
        }
        else if (mode.create())
        {
            try
            {
                Files.createFile(real, attrs);
            }
            catch (final FileAlreadyExistsException ex)
            {
                // CREATE opens what is there
            }
        }
        else if (!Files.exists(real))
        {
            throw new NoSuchFileException(path.toString());
        }
        return translator.open(real, mode.write());
    }

    /**
     * The file's locks: the JVM's overlap rule among this file system's channels, then the operating system's OFD
     * lock on the real file.
     */
    private ChannelLocks locksOf(final long id)
    {
        final ChannelLocks local = jvmLocks.locksOf(id);
        return (position, size, shared, wait) ->
        {
            final ChannelLocks.Held held = local.acquire(position, size, shared, wait);
            final int fd;
            final Path path;
            try
            {
                final boolean locked;
                synchronized (open)
                {
                    final OpenFile file = lockFile(id);
                    fd = file.lockFd;
                    path = file.lockPath;
                    // a tryLock under the monitor: the descriptor cannot be closed (and its number reused) meanwhile
                    locked = wait || NativeCalls.lock(fd, position, size, shared, false, path);
                }
                if (!locked || (wait && !NativeCalls.lock(fd, position, size, shared, true, path)))
                {
                    held.release();
                    return null;
                }
            }
            catch (final IOException | RuntimeException | Error ex)
            {
                held.release();
                throw ex;
            }
            return () ->
            {
                try
                {
                    synchronized (open)
                    {
                        // only through the file's descriptor while it is open: once the file's last channel or the
                        // file system closed it (releasing its locks), its number may be another file's
                        final OpenFile file = open.get(id);
                        if (null != file && file.lockFd == fd)
                        {
                            NativeCalls.unlock(fd, position, size, path);
                        }
                    }
                }
                finally
                {
                    held.release();
                }
            };
        };
    }

    /** The open file with its lock descriptor opened; caller holds {@link #open}'s monitor. */
    private OpenFile lockFile(final long id) throws IOException
    {
        final OpenFile file = open.get(id);
        if (null == file)
        {
            throw new java.nio.channels.ClosedChannelException();
        }
        if (file.lockFd < 0)
        {
            final Path real = translator.path(id);
            // through the inode the translator holds: the path may name another file now, or none
            final int fd = translator.withInode(id, inode ->
            {
                try
                {
                    return NativeCalls.open(inode, NativeCalls.O_RDWR | NativeCalls.O_CLOEXEC, 0, null);
                }
                catch (final AccessDeniedException ex)
                {
                    return NativeCalls.open(inode, NativeCalls.O_RDONLY | NativeCalls.O_CLOEXEC, 0, null); // shared
                }
            });
            file.lockFd = fd;
            file.lockPath = real;
        }
        return file;
    }

    /** Closes the file's lock descriptor, which releases its locks. */
    private static void closeLocks(final OpenFile file) throws IOException
    {
        if (file.lockFd >= 0)
        {
            final int fd = file.lockFd;
            file.lockFd = -1;
            NativeCalls.close(fd, file.lockPath);
        }
    }

    /** A channel closed: releases its open in the translator, and the lock descriptor with the file's last. */
    private void released(final long id, final boolean writable) throws IOException
    {
        if (!isOpen())
        {
            return; // the file system closed the translator and every lock descriptor
        }
        OpenFile last = null;
        synchronized (open)
        {
            final OpenFile file = open.get(id);
            if (null != file && --file.channels == 0)
            {
                open.remove(id);
                last = file;
            }
        }
        try
        {
            translator.close(id, writable);
        }
        finally
        {
            if (null != last)
            {
                closeLocks(last);
            }
        }
    }

    @Override
    DirectoryStream<Path> newDirectoryStream(final ExtentCachePath dir, final DirectoryStream.Filter<? super Path> filter)
        throws IOException
    {
        final DirectoryStream<Path> real = Files.newDirectoryStream(realPath(dir));
        return new DirectoryStream<>()
        {
            @Override
            public Iterator<Path> iterator()
            {
                final Iterator<Path> names = real.iterator();
                return new Iterator<>()
                {
                    private Path next;

                    @Override
                    public boolean hasNext()
                    {
                        while (null == next && names.hasNext())
                        {
                            final Path entry = dir.resolve(names.next().getFileName().toString());
                            try
                            {
                                if (filter.accept(entry))
                                {
                                    next = entry;
                                }
                            }
                            catch (final IOException ex)
                            {
                                throw new java.nio.file.DirectoryIteratorException(ex);
                            }
                        }
                        return null != next;
                    }

                    @Override
                    public Path next()
                    {
                        if (!hasNext())
                        {
                            throw new java.util.NoSuchElementException();
                        }
                        final Path entry = next;
                        next = null;
                        return entry;
                    }
                };
            }

            @Override
            public void close() throws IOException
            {
                real.close();
            }
        };
    }

    @Override
    void createDirectory(final ExtentCachePath dir, final FileAttribute<?>... attrs) throws IOException
    {
        Files.createDirectory(realPath(dir), attrs);
    }

    @Override
    void delete(final ExtentCachePath path) throws IOException
    {
        final Path real = realPath(path);
        names.writeLock().lock();
        try
        {
            Files.delete(real);
            translator.unlinked(real);
        }
        finally
        {
            names.writeLock().unlock();
        }
    }

    @Override
    void copy(final ExtentCachePath source, final ExtentCachePath target, final CopyOptions options)
        throws IOException
    {
        if (!options.reflink())
        {
            if (!realPath(source).equals(realPath(target)))
            {
                ExtentCacheFileSystemProvider.copyBytes(source, target, options);
            }
            return;
        }
        final Path from = realPath(source);
        final Path to = realPath(target);
        final BasicFileAttributes attributes = Files.readAttributes(from, BasicFileAttributes.class);
        if (!attributes.isRegularFile())
        {
            throw new FileSystemException(source.toString(), target.toString(),
                "REFLINK copies regular files only: the source is " + (attributes.isDirectory() ? "a directory" :
                "not a regular file"));
        }
        if (Files.exists(to, LinkOption.NOFOLLOW_LINKS))
        {
            if (Files.isSameFile(from, to))
            {
                return; // Files.copy's contract: the same file completes without copying
            }
            if (!options.replaceExisting())
            {
                throw new FileAlreadyExistsException(target.toString());
            }
            names.writeLock().lock();
            try
            {
                Files.delete(to);
                translator.unlinked(to);
            }
            finally
            {
                names.writeLock().unlock();
            }
        }
        writeBack(from);
        FileClone.cloneFile(from, to);
        if (options.copyAttributes())
        {
            Files.getFileAttributeView(to, BasicFileAttributeView.class).setTimes(attributes.lastModifiedTime(),
                attributes.lastAccessTime(), attributes.creationTime());
        }
    }

    /** Writes the file's dirty pages back, if the cache has the file open. */
    private void writeBack(final Path real) throws IOException
    {
        final long id = translator.open(real, false);
        try
        {
            cache.file(id).flush();
        }
        finally
        {
            translator.close(id, false);
        }
    }

    @Override
    void move(final ExtentCachePath source, final ExtentCachePath target, final CopyOptions options)
        throws IOException
    {
        if (options.reflink())
        {
            throw new UnsupportedOperationException("REFLINK is a copy option, not a move option");
        }
        final List<CopyOption> real = new ArrayList<>(2); // ATOMIC_MOVE replaces, as rename(2) does
        if (options.replaceExisting())
        {
            real.add(StandardCopyOption.REPLACE_EXISTING);
        }
        if (options.atomicMove())
        {
            real.add(StandardCopyOption.ATOMIC_MOVE);
        }
        final Path from = realPath(source);
        final Path to = realPath(target);
        names.writeLock().lock();
        try
        {
            Files.move(from, to, real.toArray(new CopyOption[0]));
            translator.renamed(from, to);
        }
        finally
        {
            names.writeLock().unlock();
        }
    }

    @Override
    boolean isSameFile(final ExtentCachePath a, final ExtentCachePath b) throws IOException
    {
        return Files.isSameFile(realPath(a), realPath(b));
    }

    @Override
    void checkAccess(final ExtentCachePath path, final AccessMode... modes) throws IOException
    {
        final Path real = realPath(path);
        real.getFileSystem().provider().checkAccess(real, modes);
    }

    @Override
    BasicFileAttributes readAttributes(final ExtentCachePath path) throws IOException
    {
        final Path real = realPath(path);
        final BasicFileAttributes attrs = Files.readAttributes(real, BasicFileAttributes.class);
        if (!attrs.isRegularFile())
        {
            return attrs;
        }
        final long size = cachedSize(real);
        if (size < 0 || size == attrs.size())
        {
            return attrs;
        }
        return new NodeAttributes(attrs.lastModifiedTime().toMillis(), attrs.lastAccessTime().toMillis(),
            attrs.creationTime().toMillis(), false, size, attrs.fileKey());
    }

    /** @return the cache's size of the file if a channel of it is open here, else -1. */
    private long cachedSize(final Path real) throws IOException
    {
        // by what the path reaches now: a file deleted or renamed over while open keeps its old path in the translator
        final long id = translator.openIdOf(real);
        if (id < 0)
        {
            return -1;
        }
        try
        {
            return cache.file(id).size();
        }
        catch (final NoSuchFileException ex)
        {
            return -1; // closed meanwhile
        }
    }

    @Override
    void setTimes(final ExtentCachePath path, final FileTime lastModified, final FileTime lastAccess,
        final FileTime create) throws IOException
    {
        Files.getFileAttributeView(realPath(path), BasicFileAttributeView.class).setTimes(lastModified, lastAccess,
            create);
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
}
