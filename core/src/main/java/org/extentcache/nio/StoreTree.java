package org.extentcache.nio;

import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

/**
 * The names of a {@link StoreFileSystem}: a tree of directories whose leaves name ExtentStore files by id, with
 * each node's times. Paths are given as arrays of names from the root (absolute and normalized).
 *
 * <p>Each node has a key, its {@code fileKey}: a file's is its store id, a directory's a negative number, so they
 * never collide and survive a restart ({@link TreeCodec} stores them).
 *
 * <p><b>Thread safety:</b> not thread-safe; the file system calls it under its namespace lock.
 */
final class StoreTree
{
    /** One file or directory. */
    static final class Node
    {
        final long key;
        /** Null for a file; the entries by name, sorted, for a directory. */
        final TreeMap<String, Node> children;
        long created;
        long modified;
        long accessed;

        Node(final long key, final boolean directory, final long created, final long modified, final long accessed)
        {
            this.key = key;
            this.children = directory ? new TreeMap<>() : null;
            this.created = created;
            this.modified = modified;
            this.accessed = accessed;
        }

        boolean isDirectory()
        {
            return null != children;
        }

        /** @return the store file id of a file. */
        long file()
        {
            return key;
        }
    }

    private final Node root;
    /** The next directory key: directories count down from -1 (the root). */
    private long nextDirectoryKey;

    /** An empty tree: the root directory alone. */
    StoreTree()
    {
        this(new Node(-1, true, now(), now(), now()));
    }

    /** A tree decoded by {@link TreeCodec}. */
    StoreTree(final Node root)
    {
        this.root = root;
        this.nextDirectoryKey = Math.min(-1, lowestKey(root)) - 1;
    }

    Node root()
    {
        return root;
    }

    static long now()
    {
        return System.currentTimeMillis();
    }

    /** @return the node at the path, or null if there is none. */
    Node find(final String[] names)
    {
        Node node = root;
        for (final String name : names)
        {
            if (!node.isDirectory())
            {
                return null;
            }
            node = node.children.get(name);
            if (null == node)
            {
                return null;
            }
        }
        return node;
    }

    /**
     * @return the node at the path.
     * @throws NoSuchFileException if there is none.
     */
    Node get(final String[] names, final String path) throws NoSuchFileException
    {
        final Node node = find(names);
        if (null == node)
        {
            throw new NoSuchFileException(path);
        }
        return node;
    }

    /**
     * @return the directory holding the path's last name.
     * @throws NoSuchFileException   if it does not exist.
     * @throws NotDirectoryException if it is a file.
     */
    Node parent(final String[] names, final String path) throws FileSystemException
    {
        if (names.length == 0)
        {
            throw new FileSystemException(path, null, "the root has no parent");
        }
        Node node = root;
        for (int i = 0; i < names.length - 1; i++)
        {
            node = node.children.get(names[i]);
            if (null == node)
            {
                throw new NoSuchFileException(path, null, "no parent directory");
            }
            if (!node.isDirectory())
            {
                throw new NotDirectoryException(path);
            }
        }
        return node;
    }

    /**
     * Names a store file at a free path.
     *
     * @throws FileAlreadyExistsException if the path exists.
     */
    Node addFile(final String[] names, final String path, final long file) throws FileSystemException
    {
        final Node parent = parent(names, path);
        final String name = names[names.length - 1];
        if (parent.children.containsKey(name))
        {
            throw new FileAlreadyExistsException(path);
        }
        final long time = now();
        final Node node = new Node(file, false, time, time, time);
        parent.children.put(name, node);
        parent.modified = time;
        return node;
    }

    /**
     * @throws FileAlreadyExistsException if the path exists.
     */
    void addDirectory(final String[] names, final String path) throws FileSystemException
    {
        final Node parent = parent(names, path);
        final String name = names[names.length - 1];
        if (parent.children.containsKey(name))
        {
            throw new FileAlreadyExistsException(path);
        }
        final long time = now();
        parent.children.put(name, new Node(nextDirectoryKey--, true, time, time, time));
        parent.modified = time;
    }

    /**
     * Removes a file or an empty directory.
     *
     * @return the node removed.
     * @throws NoSuchFileException        if there is none.
     * @throws DirectoryNotEmptyException if it is a directory with entries.
     */
    Node remove(final String[] names, final String path) throws FileSystemException
    {
        final Node parent = parent(names, path);
        final Node node = parent.children.get(names[names.length - 1]);
        if (null == node)
        {
            throw new NoSuchFileException(path);
        }
        if (node.isDirectory() && !node.children.isEmpty())
        {
            throw new DirectoryNotEmptyException(path);
        }
        parent.children.remove(names[names.length - 1]);
        parent.modified = now();
        return node;
    }

    /**
     * Renames a node, replacing what the target names if asked to (a file, or an empty directory).
     *
     * @return the node replaced, or null.
     * @throws NoSuchFileException         if the source does not exist.
     * @throws FileAlreadyExistsException  if the target exists and {@code replace} is false.
     * @throws DirectoryNotEmptyException  if the target is a directory with entries.
     * @throws FileSystemException         if a directory would move into itself.
     */
    Node rename(final String[] from, final String fromPath, final String[] to, final String toPath,
        final boolean replace) throws FileSystemException
    {
        final Node source = get(from, fromPath);
        if (java.util.Arrays.equals(from, to))
        {
            return null;
        }
        if (source.isDirectory() && to.length > from.length && java.util.Arrays.equals(from, 0, from.length, to, 0,
            from.length))
        {
            throw new FileSystemException(fromPath, toPath, "cannot move a directory into itself");
        }
        final Node targetParent = parent(to, toPath);
        final String name = to[to.length - 1];
        final Node replaced = targetParent.children.get(name);
        if (null != replaced)
        {
            if (!replace)
            {
                throw new FileAlreadyExistsException(toPath);
            }
            if (replaced.isDirectory() && !replaced.children.isEmpty())
            {
                throw new DirectoryNotEmptyException(toPath);
            }
        }
        final Node sourceParent = parent(from, fromPath);
        sourceParent.children.remove(from[from.length - 1]);
        targetParent.children.put(name, source);
        final long time = now();
        sourceParent.modified = time;
        targetParent.modified = time;
        return replaced;
    }

    /** @return the store ids of every file named, in tree order. */
    List<Long> files()
    {
        final List<Long> files = new ArrayList<>();
        collect(root, files);
        return files;
    }

    /** Drops every file whose id {@code keep} refuses. */
    void retainFiles(final java.util.function.LongPredicate keep)
    {
        retain(root, keep);
    }

    private static void retain(final Node dir, final java.util.function.LongPredicate keep)
    {
        dir.children.values().removeIf(node -> !node.isDirectory() && !keep.test(node.file()));
        for (final Node node : dir.children.values())
        {
            if (node.isDirectory())
            {
                retain(node, keep);
            }
        }
    }

    private static void collect(final Node node, final List<Long> files)
    {
        if (!node.isDirectory())
        {
            files.add(node.file());
            return;
        }
        for (final Node child : node.children.values())
        {
            collect(child, files);
        }
    }

    private static long lowestKey(final Node node)
    {
        long lowest = node.key;
        if (node.isDirectory())
        {
            for (final Node child : node.children.values())
            {
                lowest = Math.min(lowest, lowestKey(child));
            }
        }
        return lowest;
    }
}
