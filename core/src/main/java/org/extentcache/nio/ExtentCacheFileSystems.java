package org.extentcache.nio;

import org.extentcache.device.BlockDevice;
import org.extentcache.translate.ExtentStore;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Typed entry points to the {@code extentcache} file systems, without env maps. Each file system is registered with
 * the installed {@link ExtentCacheFileSystemProvider} under a name, so its paths' URIs
 * ({@code extentcache://NAME/...}) lead back to it while it is open; close it to free the name.
 *
 * <pre>{@code
 * try (ExtentCacheFileSystem fs = ExtentCacheFileSystems.overDirectory(Path.of("/data"), FileSystemOptions.DEFAULTS))
 * {
 *     Files.copy(fs.getPath("/base.db"), fs.getPath("/clone.db"), ExtentCacheCopyOption.REFLINK);
 * }
 * }</pre>
 *
 * <p><b>Thread safety:</b> safe for concurrent use.
 */
public final class ExtentCacheFileSystems
{
    private static final AtomicLong NEXT_NAME = new AtomicLong();

    private ExtentCacheFileSystems()
    {
    }

    /**
     * A file system over a directory of real files, under a fresh name.
     *
     * @param directory the directory; its files are read and written through the file system's cache.
     * @param options   the cache's options.
     * @return the file system; the caller closes it.
     * @throws IOException if the directory does not exist or is not one.
     */
    public static DirectoryFileSystem overDirectory(final Path directory, final FileSystemOptions options)
        throws IOException
    {
        return overDirectory(freshName("dir"), directory, options);
    }

    /**
     * A file system over a directory of real files.
     *
     * @param name      its name: the authority of its URIs.
     * @param directory the directory.
     * @param options   the cache's options.
     * @return the file system; the caller closes it.
     * @throws java.nio.file.FileSystemAlreadyExistsException if one of that name is open.
     * @throws IOException                                    if the directory does not exist or is not one.
     */
    public static DirectoryFileSystem overDirectory(final String name, final Path directory,
        final FileSystemOptions options) throws IOException
    {
        return ExtentCacheFileSystemProvider.instance().newDirectoryFileSystem(Objects.requireNonNull(name, "name"),
            Objects.requireNonNull(directory, "directory"), Objects.requireNonNull(options, "options"));
    }

    /**
     * A file system over an ExtentStore, under a fresh name. Names kept in the store by an earlier file system are
     * mounted (and reconciled with the store's files, see {@link StoreFileSystem}).
     *
     * @param store   the store; the caller keeps it and closes it after the file system.
     * @param device  the store's device, which the cache reads; the caller keeps it.
     * @param options the cache's options (its page size is the store's).
     * @return the file system; the caller closes it.
     * @throws IOException if the store's names cannot be read.
     */
    public static StoreFileSystem overStore(final ExtentStore store, final BlockDevice device,
        final FileSystemOptions options) throws IOException
    {
        return overStore(freshName("store"), store, device, options);
    }

    /**
     * A file system over an ExtentStore; see {@link #overStore(ExtentStore, BlockDevice, FileSystemOptions)}.
     *
     * @param name    its name: the authority of its URIs.
     * @param store   the store.
     * @param device  the store's device.
     * @param options the cache's options.
     * @return the file system; the caller closes it.
     * @throws java.nio.file.FileSystemAlreadyExistsException if one of that name is open.
     * @throws IOException                                    if the store's names cannot be read.
     */
    public static StoreFileSystem overStore(final String name, final ExtentStore store, final BlockDevice device,
        final FileSystemOptions options) throws IOException
    {
        return ExtentCacheFileSystemProvider.instance().newStoreFileSystem(Objects.requireNonNull(name, "name"),
            Objects.requireNonNull(store, "store"), Objects.requireNonNull(device, "device"),
            Objects.requireNonNull(options, "options"));
    }

    private static String freshName(final String kind)
    {
        return kind + '-' + NEXT_NAME.incrementAndGet() + '-' + Long.toHexString(ProcessHandle.current().pid());
    }
}
