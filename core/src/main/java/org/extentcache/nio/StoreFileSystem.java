package org.extentcache.nio;

import org.extentcache.CachedFileChannel;
import org.extentcache.ChannelOptions;
import org.extentcache.ExtentCache;
import org.extentcache.FileLockTable;
import org.extentcache.device.BlockDevice;
import org.extentcache.translate.ExtentStore;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AccessMode;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileStore;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An {@code extentcache} file system over an {@link ExtentStore}, in the manner of Jimfs: a tree of directories and
 * names ({@link StoreTree}) over the store's files, read and written through one {@link ExtentCache} the file system
 * builds over the store and its device.
 *
 * <h2>Names and restarts</h2>
 * The tree (names, store file ids, directories, times) is encoded ({@link TreeCodec}) into the store's attachment
 * ({@link StoreAttachment}) on every change of the names, and so becomes durable with the store's next snapshot:
 * any file's {@code force}, forcing a directory ({@code FileChannel.open(dir, READ).force(true)}, which syncs the
 * store) or closing the file system (which syncs it too). Mounting a store reconciles the two: names whose store
 * file is gone are dropped, and store files no name points to (left by a crash while a deleted file was still open)
 * are deleted.
 *
 * <h2>Delete while open, and the last close</h2>
 * As POSIX keeps an unlinked file: deleting (or renaming over) a file that has open channels removes its name at
 * once, and its channels go on reading and writing it; the store file is deleted when the last of them closes. The
 * last close of a file that keeps its name closes it in the cache ({@link ExtentCache#closeFile}): its pages are
 * made durable and its frames count as kept only as cache.
 *
 * <h2>Copies</h2>
 * {@code Files.copy} with {@link ExtentCacheCopyOption#REFLINK} writes the source's dirty pages back, clones it
 * ({@link ExtentStore#cloneFile}) and names the clone: the two share every block, and the cache's frames, until
 * either is written. Without it, a copy copies bytes. Locks are process-local ({@link FileLockTable}): the store
 * belongs to this process.
 *
 * <h2>Costs</h2>
 * Every change of the names re-encodes the whole tree (O(files)); a lookup walks the path's names. One lock guards
 * the names; reads and writes of open files never take it, but a file's last close writes its dirty pages back
 * while holding it.
 *
 * <p><b>Thread safety:</b> safe for concurrent use. Ownership: the caller owns the store and the device, and closes
 * them after this file system; the file system owns its cache.
 */
public final class StoreFileSystem extends ExtentCacheFileSystem
{
    private final ExtentStore store;
    private final ExtentCache cache;
    private final FileLockTable locks = new FileLockTable();
    private final ExtentCacheFileStore fileStore;
    /** The namespace lock: guards {@link #tree}, {@link #highestFile}, {@link #opens} and {@link #unlinked}. */
    private final Object namespace = new Object();
    private final StoreTree tree;
    private long highestFile;
    /** Channels open per store file. */
    private final Map<Long, Integer> opens = new HashMap<>();
    /** Store files whose name is gone while channels are open: deleted at their last close. */
    private final Set<Long> unlinked = new HashSet<>();

    private StoreFileSystem(final ExtentCacheFileSystemProvider provider, final String name, final ExtentStore store,
        final ExtentCache cache, final StoreTree tree, final long highestFile)
    {
        super(provider, name);
        this.store = store;
        this.cache = cache;
        this.tree = tree;
        this.highestFile = highestFile;
        final long pageSize = store.pageSize();
        this.fileStore = new ExtentCacheFileStore(name, "extentcache-store", new ExtentCacheFileStore.Space()
        {
            @Override
            public long total()
            {
                return (store.allocatedBlocks() + store.freeBlocks()) * pageSize;
            }

            @Override
            public long usable()
            {
                return store.freeBlocks() * pageSize;
            }
        });
    }

    /**
     * Mounts a store: reads its names, reconciles them with its files, and builds the cache.
     *
     * @throws IOException if the names cannot be decoded (another format version, corrupt), or an orphan cannot
     *                     be deleted.
     */
    static StoreFileSystem open(final ExtentCacheFileSystemProvider provider, final String name,
        final ExtentStore store, final BlockDevice device, final FileSystemOptions options) throws IOException
    {
        final byte[] bytes = StoreAttachment.load(store);
        final StoreTree tree;
        long highest = 0;
        if (bytes.length == 0)
        {
            tree = new StoreTree();
        }
        else
        {
            final TreeCodec.Decoded decoded = TreeCodec.decode(bytes);
            tree = decoded.tree();
            highest = decoded.highestFile();
        }
        tree.retainFiles(store::exists);
        final Set<Long> named = new HashSet<>(tree.files());
        // up to the store's own next id, not the names' highest: a file made (created, or cloned by a REFLINK copy)
        // whose name was not yet saved when another file's commit snapshotted the store is an orphan too
        highest = Math.max(highest, store.nextFileId() - 1);
        for (long file = 1; file <= highest; file++)
        {
            if (!named.contains(file) && store.exists(file))
            {
                store.delete(file); // an orphan: deleted while open, then the process stopped
            }
        }
        StoreAttachment.save(store, TreeCodec.encode(tree, highest));
        final ExtentCache cache = ExtentCache.builder().device(device).translator(store).pageSize(store.pageSize())
            .capacityBytes(options.capacityBytes()).build();
        return new StoreFileSystem(provider, name, store, cache, tree, highest);
    }

    @Override
    public ExtentCache cache()
    {
        return cache;
    }

    /**
     * @return the store (its owner's: do not close it while this file system is open).
     */
    public ExtentStore store()
    {
        return store;
    }

    /**
     * @param path a regular file of this file system.
     * @return its store file id.
     * @throws NoSuchFileException if there is no such file.
     */
    public long fileId(final Path path) throws IOException
    {
        final ExtentCachePath p = ExtentCachePath.of(path);
        synchronized (namespace)
        {
            final StoreTree.Node node = tree.get(p.absoluteNames(), p.toString());
            if (node.isDirectory())
            {
                throw new FileSystemException(p.toString(), null, "Is a directory");
            }
            return node.file();
        }
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
        try
        {
            final List<Long> gone;
            synchronized (namespace)
            {
                gone = new ArrayList<>(unlinked);
                unlinked.clear();
                opens.clear();
                saveNames();
            }
            for (final long file : gone)
            {
                store.delete(file);
            }
            StoreAttachment.sync(store);
        }
        catch (final IOException ex)
        {
            failure = addTo(failure, ex);
        }
        finally
        {
            cache.close();
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
        noAttributes(attrs);
        final ChannelOptions open = ChannelOptions.of(options);
        final String[] names = path.absoluteNames();
        final String text = path.toString();
        final long file;
        final StoreTree.Node node;
        synchronized (namespace)
        {
            final StoreTree.Node found = tree.find(names);
            if (null == found)
            {
                if (!open.create() && !open.createNew())
                {
                    throw new NoSuchFileException(text);
                }
                tree.parent(names, text); // before a store file is made for it
                final long created = store.create();
                highestFile = Math.max(highestFile, created);
                node = tree.addFile(names, text, created);
                saveNames();
            }
            else if (open.createNew())
            {
                throw new FileAlreadyExistsException(text);
            }
            else if (found.isDirectory())
            {
                if (open.write())
                {
                    throw new FileSystemException(text, null, "Is a directory");
                }
                return new DirectoryChannel(text, this::commitNames);
            }
            else
            {
                node = found;
            }
            file = node.file();
            opens.merge(file, 1, Integer::sum);
        }
        try
        {
            final Object key = new Object();
            return track(key, CachedFileChannel.open(cache, file, open, locks.locksOf(file), () ->
            {
                untrack(key);
                released(file, node, open.write());
            }));
        }
        catch (final IOException | RuntimeException | Error ex)
        {
            try
            {
                released(file, node, false);
            }
            catch (final IOException | RuntimeException closing)
            {
                ex.addSuppressed(closing);
            }
            throw ex;
        }
    }

    /** A channel of the file closed: at the last, an unlinked file is deleted. */
    private void released(final long file, final StoreTree.Node node, final boolean wrote) throws IOException
    {
        if (!isOpen())
        {
            return; // closing the file system deleted what was unlinked
        }
        final boolean delete;
        synchronized (namespace)
        {
            final int left = opens.merge(file, -1, Integer::sum);
            if (left > 0)
            {
                return;
            }
            opens.remove(file);
            delete = unlinked.remove(file);
            if (wrote)
            {
                node.modified = StoreTree.now();
            }
            if (!delete)
            {
                // closed means gone: its pages durable, its mapping dropped, its frames kept only as cache; under the
                // namespace lock, so no channel opens the file while the cache closes it
                cache.closeFile(file);
            }
        }
        if (delete)
        {
            store.delete(file);
        }
    }

    @Override
    DirectoryStream<Path> newDirectoryStream(final ExtentCachePath dir, final DirectoryStream.Filter<? super Path> filter)
        throws IOException
    {
        final List<String> entries;
        synchronized (namespace)
        {
            final StoreTree.Node node = tree.get(dir.absoluteNames(), dir.toString());
            if (!node.isDirectory())
            {
                throw new NotDirectoryException(dir.toString());
            }
            entries = new ArrayList<>(node.children.keySet());
        }
        return new DirectoryStream<>()
        {
            private boolean iterated;
            private boolean closed;

            @Override
            public Iterator<Path> iterator()
            {
                if (iterated || closed)
                {
                    throw new IllegalStateException(closed ? "directory stream is closed" : "iterator already taken");
                }
                iterated = true;
                final List<Path> accepted = new ArrayList<>();
                for (final String name : entries)
                {
                    final Path entry = dir.resolve(name);
                    try
                    {
                        if (filter.accept(entry))
                        {
                            accepted.add(entry);
                        }
                    }
                    catch (final IOException ex)
                    {
                        throw new DirectoryIteratorException(ex);
                    }
                }
                return accepted.iterator();
            }

            @Override
            public void close()
            {
                closed = true;
            }
        };
    }

    @Override
    void createDirectory(final ExtentCachePath dir, final FileAttribute<?>... attrs) throws IOException
    {
        noAttributes(attrs);
        synchronized (namespace)
        {
            tree.addDirectory(dir.absoluteNames(), dir.toString());
            saveNames();
        }
    }

    @Override
    void delete(final ExtentCachePath path) throws IOException
    {
        final long gone;
        synchronized (namespace)
        {
            gone = dispose(tree.remove(path.absoluteNames(), path.toString()));
            saveNames();
        }
        if (gone > 0)
        {
            store.delete(gone);
        }
    }

    /**
     * A node left the tree: a file with open channels is unlinked (deleted at its last close). Caller holds the
     * namespace lock.
     *
     * @return the store file to delete now, or 0.
     */
    private long dispose(final StoreTree.Node removed)
    {
        if (null == removed || removed.isDirectory())
        {
            return 0;
        }
        if (opens.containsKey(removed.file()))
        {
            unlinked.add(removed.file());
            return 0;
        }
        return removed.file();
    }

    @Override
    void copy(final ExtentCachePath source, final ExtentCachePath target, final CopyOptions options)
        throws IOException
    {
        final String[] from = source.absoluteNames();
        final String[] to = target.absoluteNames();
        if (java.util.Arrays.equals(from, to))
        {
            readAttributes(source); // must exist; copying a file onto itself does nothing
            return;
        }
        if (!options.reflink())
        {
            ExtentCacheFileSystemProvider.copyBytes(source, target, options);
            return;
        }
        final StoreTree.Node src;
        synchronized (namespace)
        {
            src = tree.get(from, source.toString());
            if (src.isDirectory())
            {
                throw new FileSystemException(source.toString(), target.toString(),
                    "REFLINK copies regular files only: the source is a directory");
            }
            checkTarget(to, target.toString(), options.replaceExisting());
            opens.merge(src.file(), 1, Integer::sum); // held: a delete meanwhile leaves it to the clone
        }
        try
        {
            cache.file(src.file()).flush(); // the clone holds what the cache holds
            final long clone = store.cloneFile(src.file());
            long replaced = 0;
            try
            {
                synchronized (namespace)
                {
                    highestFile = Math.max(highestFile, clone);
                    checkTarget(to, target.toString(), options.replaceExisting());
                    final StoreTree.Node old = tree.find(to);
                    if (null != old)
                    {
                        replaced = dispose(tree.remove(to, target.toString()));
                    }
                    final StoreTree.Node named = tree.addFile(to, target.toString(), clone);
                    if (options.copyAttributes())
                    {
                        named.created = src.created;
                        named.modified = src.modified;
                        named.accessed = src.accessed;
                    }
                    saveNames();
                }
            }
            catch (final IOException | RuntimeException | Error ex)
            {
                store.delete(clone);
                throw ex;
            }
            if (replaced > 0)
            {
                store.delete(replaced);
            }
        }
        finally
        {
            released(src.file(), src, false);
        }
    }

    /** Caller holds the namespace lock. */
    private void checkTarget(final String[] to, final String text, final boolean replace) throws IOException
    {
        tree.parent(to, text);
        final StoreTree.Node existing = tree.find(to);
        if (null != existing)
        {
            if (!replace)
            {
                throw new FileAlreadyExistsException(text);
            }
            if (existing.isDirectory() && !existing.children.isEmpty())
            {
                throw new java.nio.file.DirectoryNotEmptyException(text);
            }
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
        final long gone;
        synchronized (namespace)
        {
            // ATOMIC_MOVE replaces the target as rename(2) does, and as the default provider does on Linux
            gone = dispose(tree.rename(source.absoluteNames(), source.toString(), target.absoluteNames(),
                target.toString(), options.replaceExisting() || options.atomicMove()));
            saveNames();
        }
        if (gone > 0)
        {
            store.delete(gone);
        }
    }

    @Override
    boolean isSameFile(final ExtentCachePath a, final ExtentCachePath b) throws IOException
    {
        synchronized (namespace)
        {
            return tree.get(a.absoluteNames(), a.toString()) == tree.get(b.absoluteNames(), b.toString());
        }
    }

    /** Every access is allowed to what exists. */
    @Override
    void checkAccess(final ExtentCachePath path, final AccessMode... modes) throws IOException
    {
        synchronized (namespace)
        {
            tree.get(path.absoluteNames(), path.toString());
        }
    }

    @Override
    BasicFileAttributes readAttributes(final ExtentCachePath path) throws IOException
    {
        final StoreTree.Node node;
        final NodeAttributes times;
        final boolean open;
        synchronized (namespace)
        {
            node = tree.get(path.absoluteNames(), path.toString());
            times = new NodeAttributes(node.modified, node.accessed, node.created, node.isDirectory(), 0, node.key);
            open = !node.isDirectory() && opens.containsKey(node.file());
        }
        if (node.isDirectory())
        {
            return times;
        }
        // an open file's size is the cache's (it counts writes not yet written back); a closed file's is the store's
        return new NodeAttributes(times.modified(), times.accessed(), times.created(), false,
            open ? cache.file(node.file()).size() : store.size(node.file()), node.key);
    }

    @Override
    void setTimes(final ExtentCachePath path, final FileTime lastModified, final FileTime lastAccess,
        final FileTime create) throws IOException
    {
        synchronized (namespace)
        {
            final StoreTree.Node node = tree.get(path.absoluteNames(), path.toString());
            if (null != lastModified)
            {
                node.modified = lastModified.toMillis();
            }
            if (null != lastAccess)
            {
                node.accessed = lastAccess.toMillis();
            }
            if (null != create)
            {
                node.created = create.toMillis();
            }
            saveNames();
        }
    }

    /**
     * Forcing a directory: the names go to the store's attachment, and the store syncs (a snapshot that holds every
     * file whose data is on the device, and the names).
     */
    private void commitNames() throws IOException
    {
        synchronized (namespace)
        {
            saveNames();
        }
        StoreAttachment.sync(store);
    }

    /** Caller holds the namespace lock. */
    private void saveNames()
    {
        StoreAttachment.save(store, TreeCodec.encode(tree, highestFile));
    }

    private static void noAttributes(final FileAttribute<?>... attrs)
    {
        if (attrs.length > 0)
        {
            throw new UnsupportedOperationException("extentcache store file systems take no initial attributes: " +
                attrs[0].name());
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
}
