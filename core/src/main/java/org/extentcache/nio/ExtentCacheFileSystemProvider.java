package org.extentcache.nio;

import org.extentcache.device.BlockDevice;
import org.extentcache.translate.ExtentStore;

import java.io.IOException;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.AccessMode;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.CopyOption;
import java.nio.file.DirectoryStream;
import java.nio.file.FileStore;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystemNotFoundException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.FileAttributeView;
import java.nio.file.attribute.FileTime;
import java.nio.file.spi.FileSystemProvider;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The {@code extentcache} file system provider, installed through {@code META-INF/services}: file systems whose
 * file contents are read and written through an {@link org.extentcache.ExtentCache}, so code written against
 * {@code java.nio.file} ({@code Files}, {@code FileChannel.open}, {@code Path}) runs over the cache unchanged.
 *
 * <h2>File systems</h2>
 * {@code FileSystems.newFileSystem(URI.create("extentcache://NAME"), env)} creates the file system NAME, of one of
 * two kinds, chosen by the env ({@link FileSystemOptions} lists the keys):
 * <ul>
 *   <li>over a directory of real files ({@value FileSystemOptions#DIRECTORY}): {@link DirectoryFileSystem};</li>
 *   <li>over an {@link ExtentStore} ({@value FileSystemOptions#STORE} and {@value FileSystemOptions#DEVICE}):
 *       {@link StoreFileSystem}.</li>
 * </ul>
 * {@link ExtentCacheFileSystems} does the same without env maps. Paths are {@code extentcache://NAME/a/b}.
 *
 * <h2>The registry</h2>
 * The provider keeps the open file systems by name: the one piece of provider-wide state, which the
 * {@code java.nio} SPI requires so that {@code Path.of(URI)} and {@code FileSystems.getFileSystem(URI)} find a file
 * system by its URI. A name is taken from {@code newFileSystem} until that file system is closed.
 *
 * <h2>Copies and moves</h2>
 * A move within a file system is one rename; with ATOMIC_MOVE it replaces an existing target (a file or an empty
 * directory) as {@code rename(2)} and the default provider on Linux do, without it only with REPLACE_EXISTING.
 * {@code Files.copy} copies bytes through the cache, or, with {@link ExtentCacheCopyOption#REFLINK}, by reference
 * (never falling back to bytes). Between two {@code extentcache} file systems a copy copies bytes, a REFLINK copy
 * fails ({@code EXDEV}), and a move is a copy and a delete (or fails with {@link AtomicMoveNotSupportedException}
 * if ATOMIC_MOVE is asked for).
 *
 * <p><b>Thread safety:</b> safe for concurrent use.
 */
public final class ExtentCacheFileSystemProvider extends FileSystemProvider
{
    /** The URI scheme. */
    public static final String SCHEME = "extentcache";

    private final ConcurrentHashMap<String, ExtentCacheFileSystem> fileSystems = new ConcurrentHashMap<>();

    /**
     * For the service loader; use {@link #instance()} to reach the installed provider.
     */
    public ExtentCacheFileSystemProvider()
    {
    }

    /**
     * @return the installed provider (the one {@code Path.of(URI)} reaches), or, where the service loader cannot see
     * this class, one instance of this class loader's.
     */
    public static ExtentCacheFileSystemProvider instance()
    {
        return Installed.PROVIDER;
    }

    @Override
    public String getScheme()
    {
        return SCHEME;
    }

    /**
     * Creates a file system named by the URI's authority ({@code extentcache://NAME}).
     *
     * @throws FileSystemAlreadyExistsException if one of that name is open.
     * @throws IllegalArgumentException         if the URI has no authority, or the env names neither or both kinds,
     *                                          or a value is wrong (the message names the key).
     * @throws IOException                      if the directory does not exist, or the store's names cannot be read.
     */
    @Override
    public FileSystem newFileSystem(final URI uri, final Map<String, ?> env) throws IOException
    {
        final String name = nameOf(uri);
        final FileSystemOptions options = FileSystemOptions.fromEnv(env);
        final Path directory = FileSystemOptions.directoryOf(env);
        final ExtentStore store = FileSystemOptions.objectOf(env, FileSystemOptions.STORE, ExtentStore.class);
        if ((null == directory) == (null == store))
        {
            throw new IllegalArgumentException("env must give exactly one of " + FileSystemOptions.DIRECTORY + " and " +
                FileSystemOptions.STORE + ": " + env.keySet());
        }
        if (null != directory)
        {
            return newDirectoryFileSystem(name, directory, options);
        }
        final BlockDevice device = FileSystemOptions.objectOf(env, FileSystemOptions.DEVICE, BlockDevice.class);
        if (null == device)
        {
            throw new IllegalArgumentException("env " + FileSystemOptions.STORE + " needs " +
                FileSystemOptions.DEVICE + ", the store's BlockDevice");
        }
        return newStoreFileSystem(name, store, device, options);
    }

    DirectoryFileSystem newDirectoryFileSystem(final String name, final Path directory,
        final FileSystemOptions options) throws IOException
    {
        checkFree(name);
        return register(DirectoryFileSystem.open(this, name, directory, options));
    }

    StoreFileSystem newStoreFileSystem(final String name, final ExtentStore store, final BlockDevice device,
        final FileSystemOptions options) throws IOException
    {
        checkFree(name);
        return register(StoreFileSystem.open(this, name, store, device, options));
    }

    /**
     * @throws FileSystemNotFoundException if no file system of the URI's name is open.
     */
    @Override
    public ExtentCacheFileSystem getFileSystem(final URI uri)
    {
        final String name = nameOf(uri);
        final ExtentCacheFileSystem fs = fileSystems.get(name);
        if (null == fs)
        {
            throw new FileSystemNotFoundException("no extentcache file system named " + name + " is open");
        }
        return fs;
    }

    @Override
    public Path getPath(final URI uri)
    {
        final String path = uri.getPath();
        return getFileSystem(uri).getPath(null == path || path.isEmpty() ? "/" : path);
    }

    @Override
    public SeekableByteChannel newByteChannel(final Path path, final Set<? extends OpenOption> options,
        final FileAttribute<?>... attrs) throws IOException
    {
        return newFileChannel(path, options, attrs);
    }

    /**
     * Opens a channel: over a regular file, the file system's own {@link org.extentcache.CachedFileChannel}, with
     * the options {@link org.extentcache.ChannelOptions} lists; a directory opens for reading only, to be forced.
     */
    @Override
    public FileChannel newFileChannel(final Path path, final Set<? extends OpenOption> options,
        final FileAttribute<?>... attrs) throws IOException
    {
        final ExtentCachePath p = ExtentCachePath.of(path);
        p.getFileSystem().ensureOpen();
        return p.getFileSystem().newFileChannel(p, options, attrs);
    }

    @Override
    public DirectoryStream<Path> newDirectoryStream(final Path dir, final DirectoryStream.Filter<? super Path> filter)
        throws IOException
    {
        final ExtentCachePath p = ExtentCachePath.of(dir);
        p.getFileSystem().ensureOpen();
        return p.getFileSystem().newDirectoryStream(p, Objects.requireNonNull(filter, "filter"));
    }

    @Override
    public void createDirectory(final Path dir, final FileAttribute<?>... attrs) throws IOException
    {
        final ExtentCachePath p = ExtentCachePath.of(dir);
        p.getFileSystem().ensureOpen();
        p.getFileSystem().createDirectory(p, attrs);
    }

    @Override
    public void delete(final Path path) throws IOException
    {
        final ExtentCachePath p = ExtentCachePath.of(path);
        p.getFileSystem().ensureOpen();
        p.getFileSystem().delete(p);
    }

    @Override
    public void copy(final Path source, final Path target, final CopyOption... options) throws IOException
    {
        final ExtentCachePath from = ExtentCachePath.of(source);
        final ExtentCachePath to = ExtentCachePath.of(target);
        final CopyOptions copy = CopyOptions.of(options);
        from.getFileSystem().ensureOpen();
        to.getFileSystem().ensureOpen();
        if (from.getFileSystem() == to.getFileSystem())
        {
            from.getFileSystem().copy(from, to, copy);
            return;
        }
        if (copy.reflink())
        {
            throw new FileSystemException(source.toUri().toString(), target.toUri().toString(),
                "REFLINK copy between two extentcache file systems is impossible (EXDEV: they share no blocks); " +
                "copy without REFLINK to copy the bytes");
        }
        copyBytes(from, to, copy);
    }

    @Override
    public void move(final Path source, final Path target, final CopyOption... options) throws IOException
    {
        final ExtentCachePath from = ExtentCachePath.of(source);
        final ExtentCachePath to = ExtentCachePath.of(target);
        final CopyOptions move = CopyOptions.of(options);
        from.getFileSystem().ensureOpen();
        to.getFileSystem().ensureOpen();
        if (from.getFileSystem() == to.getFileSystem())
        {
            from.getFileSystem().move(from, to, move);
            return;
        }
        if (move.atomicMove())
        {
            throw new AtomicMoveNotSupportedException(source.toUri().toString(), target.toUri().toString(),
                "between two extentcache file systems a move is a copy and a delete");
        }
        copyBytes(from, to, move);
        delete(from);
    }

    /** A byte copy of a file (or an empty directory) through the channels of two file systems. */
    static void copyBytes(final ExtentCachePath from, final ExtentCachePath to, final CopyOptions options)
        throws IOException
    {
        final BasicFileAttributes attributes = from.getFileSystem().readAttributes(from);
        if (options.replaceExisting())
        {
            Files.deleteIfExists(to);
        }
        if (attributes.isDirectory())
        {
            Files.createDirectory(to);
        }
        else
        {
            try (FileChannel in = FileChannel.open(from, StandardOpenOption.READ);
                FileChannel out = FileChannel.open(to, StandardOpenOption.WRITE, StandardOpenOption.CREATE_NEW))
            {
                final long size = in.size();
                long done = 0;
                while (done < size)
                {
                    final long n = in.transferTo(done, size - done, out);
                    if (n <= 0)
                    {
                        break;
                    }
                    done += n;
                }
            }
        }
        if (options.copyAttributes())
        {
            to.getFileSystem().setTimes(to, attributes.lastModifiedTime(), attributes.lastAccessTime(),
                attributes.creationTime());
        }
    }

    @Override
    public boolean isSameFile(final Path path, final Path path2) throws IOException
    {
        if (path.equals(path2))
        {
            return true;
        }
        if (!(path instanceof ExtentCachePath a) || !(path2 instanceof ExtentCachePath b) ||
            a.getFileSystem() != b.getFileSystem())
        {
            return false;
        }
        a.getFileSystem().ensureOpen();
        return a.getFileSystem().isSameFile(a, b);
    }

    /**
     * @return true if the file name starts with a dot.
     */
    @Override
    public boolean isHidden(final Path path)
    {
        final Path name = ExtentCachePath.of(path).getFileName();
        return null != name && name.toString().startsWith(".");
    }

    @Override
    public FileStore getFileStore(final Path path) throws IOException
    {
        final ExtentCachePath p = ExtentCachePath.of(path);
        p.getFileSystem().ensureOpen();
        p.getFileSystem().readAttributes(p);
        return p.getFileSystem().fileStore();
    }

    @Override
    public void checkAccess(final Path path, final AccessMode... modes) throws IOException
    {
        final ExtentCachePath p = ExtentCachePath.of(path);
        p.getFileSystem().ensureOpen();
        p.getFileSystem().checkAccess(p, modes);
    }

    @Override
    public <V extends FileAttributeView> V getFileAttributeView(final Path path, final Class<V> type,
        final LinkOption... options)
    {
        final ExtentCachePath p = ExtentCachePath.of(path);
        if (type != BasicFileAttributeView.class)
        {
            return null;
        }
        return type.cast(new BasicFileAttributeView()
        {
            @Override
            public String name()
            {
                return "basic";
            }

            @Override
            public BasicFileAttributes readAttributes() throws IOException
            {
                p.getFileSystem().ensureOpen();
                return p.getFileSystem().readAttributes(p);
            }

            @Override
            public void setTimes(final FileTime lastModifiedTime, final FileTime lastAccessTime,
                final FileTime createTime) throws IOException
            {
                p.getFileSystem().ensureOpen();
                p.getFileSystem().setTimes(p, lastModifiedTime, lastAccessTime, createTime);
            }
        });
    }

    /**
     * @throws UnsupportedOperationException for attribute types other than {@link BasicFileAttributes}.
     */
    @Override
    public <A extends BasicFileAttributes> A readAttributes(final Path path, final Class<A> type,
        final LinkOption... options) throws IOException
    {
        if (type != BasicFileAttributes.class)
        {
            throw new UnsupportedOperationException("extentcache file systems have basic attributes only: " + type);
        }
        final ExtentCachePath p = ExtentCachePath.of(path);
        p.getFileSystem().ensureOpen();
        return type.cast(p.getFileSystem().readAttributes(p));
    }

    @Override
    public Map<String, Object> readAttributes(final Path path, final String attributes, final LinkOption... options)
        throws IOException
    {
        return BasicAttributeNames.read(readAttributes(path, BasicFileAttributes.class), attributes);
    }

    @Override
    public void setAttribute(final Path path, final String attribute, final Object value,
        final LinkOption... options) throws IOException
    {
        final FileTime time = BasicAttributeNames.timeToSet(attribute, value);
        final BasicFileAttributeView view = getFileAttributeView(path, BasicFileAttributeView.class);
        switch (BasicAttributeNames.nameOf(attribute))
        {
            case "lastModifiedTime" -> view.setTimes(time, null, null);
            case "lastAccessTime" -> view.setTimes(null, time, null);
            default -> view.setTimes(null, null, time);
        }
    }

    /** Removes a closed file system from the registry. */
    void unregister(final ExtentCacheFileSystem fs)
    {
        fileSystems.remove(fs.name(), fs);
    }

    private void checkFree(final String name)
    {
        if (fileSystems.containsKey(name))
        {
            throw new FileSystemAlreadyExistsException("an extentcache file system named " + name + " is open");
        }
    }

    private <F extends ExtentCacheFileSystem> F register(final F fs) throws IOException
    {
        if (null != fileSystems.putIfAbsent(fs.name(), fs))
        {
            try
            {
                fs.close();
            }
            finally
            {
                // the registry entry is the other file system's: close() removed nothing
                checkFree(fs.name());
            }
        }
        return fs;
    }

    private static String nameOf(final URI uri)
    {
        if (!SCHEME.equalsIgnoreCase(uri.getScheme()))
        {
            throw new IllegalArgumentException("not an " + SCHEME + " URI: " + uri);
        }
        final String name = uri.getAuthority();
        if (null == name || name.isEmpty())
        {
            throw new IllegalArgumentException("an " + SCHEME + " URI names its file system as its authority " +
                "(extentcache://NAME/path): " + uri);
        }
        return name;
    }

    /** The installed provider, found once. */
    private static final class Installed
    {
        static final ExtentCacheFileSystemProvider PROVIDER = find();

        private Installed()
        {
        }

        private static ExtentCacheFileSystemProvider find()
        {
            for (final FileSystemProvider provider : FileSystemProvider.installedProviders())
            {
                if (provider instanceof ExtentCacheFileSystemProvider ours)
                {
                    return ours;
                }
            }
            return new ExtentCacheFileSystemProvider();
        }
    }
}
