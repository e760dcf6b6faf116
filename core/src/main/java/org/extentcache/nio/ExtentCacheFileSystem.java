package org.extentcache.nio;

import org.extentcache.ExtentCache;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AccessMode;
import java.nio.file.ClosedFileSystemException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileStore;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.WatchService;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * An {@code extentcache} file system: paths ({@link ExtentCachePath}, shared by both kinds) and the operations the
 * provider forwards to the file system of a path. Two kinds: {@link DirectoryFileSystem} over a directory of real
 * files, and {@link StoreFileSystem} over an ExtentStore. Each owns one {@link ExtentCache} that every channel of it
 * reads and writes through.
 *
 * <p>Only the {@code basic} attribute view is supported; there are no symbolic links, no watch service and no user
 * principals. Path matchers ({@code glob:}, {@code regex:}) are the default file system's, applied to the path
 * string.
 *
 * <p><b>Thread safety:</b> safe for concurrent use. {@link #close()} closes the channels still open (their later
 * calls throw {@code ClosedChannelException}), flushes, closes the cache (and what the file system owns) and removes
 * it from the provider's registry.
 */
public abstract class ExtentCacheFileSystem extends FileSystem
{
    private final ExtentCacheFileSystemProvider provider;
    private final String name;
    private final AtomicBoolean open = new AtomicBoolean(true);
    /** The channels open now, by a key each channel's close action removes; closed with the file system. */
    private final java.util.concurrent.ConcurrentHashMap<Object, java.nio.channels.Channel> channels =
        new java.util.concurrent.ConcurrentHashMap<>();

    ExtentCacheFileSystem(final ExtentCacheFileSystemProvider provider, final String name)
    {
        this.provider = provider;
        this.name = name;
    }

    /**
     * @return the name in the provider's registry: the authority of this file system's URIs.
     */
    public final String name()
    {
        return name;
    }

    /**
     * @return the cache every channel of this file system reads and writes through (statistics, tests).
     */
    public abstract ExtentCache cache();

    @Override
    public final ExtentCacheFileSystemProvider provider()
    {
        return provider;
    }

    /**
     * Closes the channels still open (releasing their locks), flushes every file, closes the cache and whatever the
     * file system owns (over real files, its translator), and removes it from the provider's registry. The caller
     * keeps an ExtentStore and device it passed in. Later calls do nothing.
     *
     * @throws IOException if the flush or a close fails; the file system is closed anyway.
     */
    @Override
    public final void close() throws IOException
    {
        if (!open.compareAndSet(true, false))
        {
            return;
        }
        IOException failure = null;
        try
        {
            for (final java.nio.channels.Channel channel : channels.values())
            {
                try
                {
                    channel.close(); // its close action sees the file system closed and leaves the rest to us
                }
                catch (final IOException ex)
                {
                    failure = ex;
                }
            }
            channels.clear();
            closeContents();
        }
        catch (final IOException ex)
        {
            if (null != failure)
            {
                ex.addSuppressed(failure);
            }
            failure = ex;
        }
        finally
        {
            provider.unregister(this);
        }
        if (null != failure)
        {
            throw failure;
        }
    }

    /**
     * Registers a channel just opened, to be closed with the file system; its close action calls
     * {@link #untrack} with the same key.
     *
     * @throws java.nio.file.ClosedFileSystemException if the file system closed meanwhile (the channel is closed).
     */
    final <C extends java.nio.channels.Channel> C track(final Object key, final C channel) throws IOException
    {
        channels.put(key, channel);
        if (!open.get())
        {
            channels.remove(key);
            channel.close();
            throw new ClosedFileSystemException();
        }
        return channel;
    }

    /** A tracked channel closed. */
    final void untrack(final Object key)
    {
        channels.remove(key);
    }

    @Override
    public final boolean isOpen()
    {
        return open.get();
    }

    @Override
    public final boolean isReadOnly()
    {
        return false;
    }

    @Override
    public final String getSeparator()
    {
        return "/";
    }

    @Override
    public final Iterable<Path> getRootDirectories()
    {
        return List.of(ExtentCachePath.root(this));
    }

    @Override
    public final Iterable<FileStore> getFileStores()
    {
        return List.of(fileStore());
    }

    @Override
    public final Set<String> supportedFileAttributeViews()
    {
        return Set.of("basic");
    }

    @Override
    public final Path getPath(final String first, final String... more)
    {
        return ExtentCachePath.parse(this, first, more);
    }

    @Override
    public final PathMatcher getPathMatcher(final String syntaxAndPattern)
    {
        final PathMatcher matcher = FileSystems.getDefault().getPathMatcher(syntaxAndPattern);
        return path -> matcher.matches(Path.of(path.toString()));
    }

    /**
     * Not supported.
     *
     * @throws UnsupportedOperationException always.
     */
    @Override
    public final UserPrincipalLookupService getUserPrincipalLookupService()
    {
        throw new UnsupportedOperationException("extentcache file systems have no user principals");
    }

    /**
     * Not supported.
     *
     * @throws UnsupportedOperationException always.
     */
    @Override
    public final WatchService newWatchService()
    {
        throw new UnsupportedOperationException("extentcache file systems have no watch service");
    }

    @Override
    public String toString()
    {
        return ExtentCacheFileSystemProvider.SCHEME + "://" + name;
    }

    /** @throws ClosedFileSystemException if closed. */
    final void ensureOpen()
    {
        if (!open.get())
        {
            throw new ClosedFileSystemException();
        }
    }

    /** Flushes and closes what the file system owns; called once by {@link #close()}. */
    abstract void closeContents() throws IOException;

    /** The one file store. */
    abstract FileStore fileStore();

    abstract FileChannel newFileChannel(ExtentCachePath path, Set<? extends OpenOption> options,
        FileAttribute<?>... attrs) throws IOException;

    abstract DirectoryStream<Path> newDirectoryStream(ExtentCachePath dir, DirectoryStream.Filter<? super Path> filter)
        throws IOException;

    abstract void createDirectory(ExtentCachePath dir, FileAttribute<?>... attrs) throws IOException;

    abstract void delete(ExtentCachePath path) throws IOException;

    abstract void copy(ExtentCachePath source, ExtentCachePath target, CopyOptions options) throws IOException;

    abstract void move(ExtentCachePath source, ExtentCachePath target, CopyOptions options) throws IOException;

    abstract boolean isSameFile(ExtentCachePath a, ExtentCachePath b) throws IOException;

    abstract void checkAccess(ExtentCachePath path, AccessMode... modes) throws IOException;

    abstract BasicFileAttributes readAttributes(ExtentCachePath path) throws IOException;

    abstract void setTimes(ExtentCachePath path, FileTime lastModified, FileTime lastAccess, FileTime create)
        throws IOException;
}
