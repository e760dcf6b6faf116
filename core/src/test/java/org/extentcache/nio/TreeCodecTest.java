package org.extentcache.nio;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The names' binary form: a random tree survives a round trip node for node; another version, a cut and trailing
 * bytes are refused with a message saying which. Replay with {@code -Dextentcache.seed=N}.
 */
final class TreeCodecTest
{
    @Test
    void aRandomTreeSurvivesARoundTrip() throws IOException
    {
        final long seed = Long.getLong("extentcache.seed", System.nanoTime());
        final SplittableRandom random = new SplittableRandom(seed);
        final StoreTree tree = new StoreTree();
        long file = 0;
        for (int i = 0; i < 200; i++)
        {
            final String[] dir = {"d" + random.nextInt(5), "e" + random.nextInt(3)};
            if (null == tree.find(Arrays.copyOf(dir, 1)))
            {
                tree.addDirectory(Arrays.copyOf(dir, 1), "/" + dir[0]);
            }
            if (null == tree.find(dir))
            {
                tree.addDirectory(dir, "/" + String.join("/", dir));
            }
            final String[] name = {dir[0], dir[1], "f" + i + "\u00e9"};
            tree.addFile(name, "/" + String.join("/", name), ++file).modified = random.nextLong(1L << 41);
        }
        final byte[] bytes = TreeCodec.encode(tree, file);
        final TreeCodec.Decoded decoded = TreeCodec.decode(bytes);
        assertEquals(file, decoded.highestFile(), "seed=" + seed);
        assertSameNode(tree.root(), decoded.tree().root(), "/", seed);
        assertArrayEquals(bytes, TreeCodec.encode(decoded.tree(), file), "seed=" + seed + ": encoding is stable");
        assertEquals(tree.files(), decoded.tree().files());
    }

    private static void assertSameNode(final StoreTree.Node a, final StoreTree.Node b, final String path,
        final long seed)
    {
        final String where = "seed=" + seed + " (replay with -Dextentcache.seed=" + seed + ") at " + path;
        assertEquals(a.key, b.key, where);
        assertEquals(a.isDirectory(), b.isDirectory(), where);
        assertEquals(List.of(a.created, a.modified, a.accessed), List.of(b.created, b.modified, b.accessed), where);
        if (a.isDirectory())
        {
            assertEquals(a.children.keySet(), b.children.keySet(), where);
            for (final String name : a.children.keySet())
            {
                assertSameNode(a.children.get(name), b.children.get(name), path + name + "/", seed);
            }
        }
    }

    @Test
    void anotherVersionACutAndTrailingBytesAreRefused() throws IOException
    {
        final StoreTree tree = new StoreTree();
        tree.addFile(new String[] {"a"}, "/a", 7);
        final byte[] bytes = TreeCodec.encode(tree, 7);

        final byte[] future = bytes.clone();
        future[0] = 2;
        assertTrue(assertThrows(IOException.class, () -> TreeCodec.decode(future)).getMessage()
            .contains("format version 2"));
        assertTrue(assertThrows(IOException.class, () -> TreeCodec.decode(Arrays.copyOf(bytes, bytes.length - 3)))
            .getMessage().contains("cut short"));
        assertTrue(assertThrows(IOException.class, () -> TreeCodec.decode(Arrays.copyOf(bytes, bytes.length + 1)))
            .getMessage().contains("after the tree"));
        final StoreTree.Node back = TreeCodec.decode(bytes).tree().find(new String[] {"a"});
        assertEquals(7, back.file());
    }
}
