package org.extentcache.nio;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;

/**
 * The binary form of a {@link StoreTree}, kept as the ExtentStore's attachment so names survive a restart of the
 * store. Big-endian ({@link DataOutputStream}):
 *
 * <pre>
 *   tree  := version:u8 (= 1)  highestFile:i64  node(root)
 *   node  := kind:u8 (0 file, 1 directory)  key:i64  created:i64  modified:i64  accessed:i64
 *            [directory: count:i32  (name:modified-UTF-8  node) * count]
 * </pre>
 * Times are milliseconds since the epoch. {@code highestFile} is the highest store file id the file system ever
 * named, so a mount can find store files left without a name (see {@link StoreFileSystem}).
 *
 * <p>Costs: encoding is O(nodes), done on every change of the names; about 40 bytes plus the name per node.
 */
final class TreeCodec
{
    /** The format written; another is refused. */
    static final int VERSION = 1;
    private static final int FILE = 0;
    private static final int DIRECTORY = 1;

    private TreeCodec()
    {
    }

    /** The decoded tree and the highest file id it recorded. */
    record Decoded(StoreTree tree, long highestFile)
    {
    }

    static byte[] encode(final StoreTree tree, final long highestFile)
    {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes))
        {
            out.writeByte(VERSION);
            out.writeLong(highestFile);
            write(out, tree.root());
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("writing to memory cannot fail", ex);
        }
        return bytes.toByteArray();
    }

    /**
     * @throws IOException naming what is wrong: another version, or bytes cut short or corrupt.
     */
    static Decoded decode(final byte[] bytes) throws IOException
    {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes)))
        {
            final int version = in.readUnsignedByte();
            if (version != VERSION)
            {
                throw new IOException("extentcache names of format version " + version + " cannot be read: this " +
                    "version reads format " + VERSION);
            }
            final long highest = in.readLong();
            final StoreTree.Node root = read(in);
            if (!root.isDirectory())
            {
                throw new IOException("extentcache names are corrupt: the root is not a directory");
            }
            if (in.read() >= 0)
            {
                throw new IOException("extentcache names are corrupt: bytes after the tree");
            }
            return new Decoded(new StoreTree(root), highest);
        }
        catch (final java.io.EOFException ex)
        {
            throw new IOException("extentcache names are corrupt: cut short at " + bytes.length + " bytes", ex);
        }
    }

    private static void write(final DataOutputStream out, final StoreTree.Node node) throws IOException
    {
        out.writeByte(node.isDirectory() ? DIRECTORY : FILE);
        out.writeLong(node.key);
        out.writeLong(node.created);
        out.writeLong(node.modified);
        out.writeLong(node.accessed);
        if (node.isDirectory())
        {
            out.writeInt(node.children.size());
            for (final Map.Entry<String, StoreTree.Node> child : node.children.entrySet())
            {
                out.writeUTF(child.getKey());
                write(out, child.getValue());
            }
        }
    }

    private static StoreTree.Node read(final DataInputStream in) throws IOException
    {
        final int kind = in.readUnsignedByte();
        if (kind != FILE && kind != DIRECTORY)
        {
            throw new IOException("extentcache names are corrupt: node kind " + kind);
        }
        final StoreTree.Node node = new StoreTree.Node(in.readLong(), kind == DIRECTORY, in.readLong(),
            in.readLong(), in.readLong());
        if (node.isDirectory())
        {
            final int count = in.readInt();
            if (count < 0)
            {
                throw new IOException("extentcache names are corrupt: a directory of " + count + " entries");
            }
            for (int i = 0; i < count; i++)
            {
                final String name = in.readUTF();
                node.children.put(name, read(in));
            }
        }
        return node;
    }
}
