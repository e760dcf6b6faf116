package org.extentcache;

import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * fsx-style model test: a seeded random sequence of create / write / clone / clone-range / punch / truncate /
 * delete on the extent store, writes, flushes, reads and pins through a cache much smaller than the data, checked
 * against plain byte arrays. A pinned page must show, when it is unpinned, exactly the bytes it was pinned with,
 * whatever happened to the file meanwhile; at the end everything is flushed and the device itself must match. Every written byte is stamped with the number of the operation that wrote it, so a bad read names the
 * operation whose bytes came back. Replay with {@code -Dextentcache.seed=N}; size with {@code -Dextentcache.ops=N}.
 */
class CacheModelTest
{
    private static final int PAGE = 4096;
    private static final int MAX_PAGES = 24;
    private static final int MAX_FILES = 10;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    private final Map<Long, byte[]> model = new HashMap<>();
    private final Map<Long, Long> sizes = new HashMap<>();
    private final List<Long> live = new ArrayList<>();
    private final List<PinnedPage> pins = new ArrayList<>();
    private final List<byte[]> pinnedBytes = new ArrayList<>();

    /** Whether writes copy other files' pages (identical content for merging to find). */
    private boolean copies;

    @Test
    void randomOperationsMatchThePlainModel() throws IOException
    {
        run(builder -> builder, false);
    }

    /** Content merging on, with writes that copy pages between files, under reclaim. */
    @Test
    void randomOperationsMatchWithMerging() throws IOException
    {
        final CacheStats stats = run(builder -> builder.mergeIdenticalPages(true), true);
        assertTrue(stats.merges() > 0, stats.toString());
    }

    /** Content merging with a hash that sends every page to one of three values: collisions all the time. */
    @Test
    void randomOperationsMatchWithMergingUnderACollidingHash() throws IOException
    {
        final CacheStats stats = run(builder -> builder.mergeHash((address, length) ->
            Math.floorMod(org.agrona.UnsafeApi.getLong(address), 3)), true);
        assertTrue(stats.merges() > 0 && stats.mergeMismatches() > 0, stats.toString());
    }

    private CacheStats run(final java.util.function.UnaryOperator<ExtentCache.Builder> options, final boolean copying)
        throws IOException
    {
        copies = copying;
        final long seed = Long.getLong("extentcache.seed", System.nanoTime());
        final int ops = Integer.getInteger("extentcache.ops", 100_000);
        final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 4 * MAX_FILES * MAX_PAGES);
        final ExtentStore store = new ExtentStore(device);
        final ExtentCache cache = books.track(
            options.apply(ExtentCache.builder().device(device).translator(store).capacityFrames(32)).build());
        final SplittableRandom random = new SplittableRandom(seed);
        int op = 0;
        try
        {
            for (op = 1; op <= ops; op++)
            {
                step(op, random, store, cache);
            }
            while (!pins.isEmpty())
            {
                unpin(op, pins.size() - 1);
            }
            for (final long file : live)
            {
                verify(op, cache, file, 0, sizes.get(file));
            }
            cache.flush();
            for (final long file : live)
            {
                final ByteBuffer onDevice = ByteBuffer.allocate((int)(long)sizes.get(file));
                store.read(file, 0, onDevice);
                assertArrayEquals(Arrays.copyOf(model.get(file), onDevice.capacity()), onDevice.array(),
                    "file " + file + " on the device after the final flush");
            }
        }
        catch (final AssertionError | IOException | RuntimeException ex)
        {
            throw new AssertionError("seed=" + seed + " failed at op " + op + " (replay with -Dextentcache.seed=" +
                seed + "): " + ex.getMessage(), ex);
        }
        final CacheStats stats = cache.stats();
        assertTrue(stats.reclaims() > 0 && stats.fileHits() > 0 && stats.sharingHits() > 0, stats.toString());
        assertTrue(stats.copyOnWrites() > 0 && stats.writebacks() > 0, stats.toString());
        return stats;
    }

    private void step(final int op, final SplittableRandom random, final ExtentStore store, final ExtentCache cache)
        throws IOException
    {
        final int choice = random.nextInt(100);
        if (live.isEmpty() || (choice < 4 && live.size() < MAX_FILES))
        {
            final long file = store.create();
            track(file, new byte[0], 0);
            return;
        }
        final long file = live.get(random.nextInt(live.size()));
        final long size = sizes.get(file);
        final long limit = (long)MAX_PAGES * PAGE;
        if (copies && choice >= 14 && choice < 20)
        {
            copyPages(random, store, cache, file, choice < 16);
        }
        else if (choice < 20)
        {
            final long position = random.nextLong(Math.min(size + 2 * PAGE, limit - 1));
            final int length = (int)Math.min(1 + random.nextInt(3 * PAGE), limit - position);
            final byte[] data = new byte[length];
            for (int i = 0; i < length; i++)
            {
                data[i] = stamp(op, position + i);
            }
            if (choice < 7)
            {
                store.write(file, position, ByteBuffer.wrap(data));
            }
            else
            {
                assertEquals(length, cache.file(file).write(position, ByteBuffer.wrap(data)));
            }
            final byte[] content = grow(file, position + length);
            System.arraycopy(data, 0, content, (int)position, length);
        }
        else if (choice < 26 && live.size() < MAX_FILES)
        {
            final long clone = store.cloneFile(file);
            track(clone, Arrays.copyOf(model.get(file), (int)size), size);
        }
        else if (choice < 34)
        {
            cloneRange(random, store, file);
        }
        else if (choice < 39)
        {
            final long position = random.nextLong(size + 1);
            final long length = random.nextLong(size - position + PAGE + 1);
            store.punchHole(file, position, length);
            final long end = Math.min(size, position + length);
            if (position < end)
            {
                Arrays.fill(model.get(file), (int)position, (int)end, (byte)0);
            }
        }
        else if (choice < 44)
        {
            final long newSize = random.nextLong(limit + 1);
            store.truncate(file, newSize);
            final byte[] content = model.get(file);
            if (newSize < size)
            {
                Arrays.fill(content, (int)newSize, (int)size, (byte)0);
            }
            grow(file, newSize);
            sizes.put(file, newSize);
        }
        else if (choice < 46 && live.size() > 2)
        {
            unpinAll(op, file);
            store.delete(file);
            live.remove(Long.valueOf(file));
            model.remove(file);
            sizes.remove(file);
            final long gone = file;
            assertThrows(NoSuchFileException.class, () -> cache.file(gone));
        }
        else if (choice < 48)
        {
            cache.file(file).flush();
        }
        else if (choice < 53)
        {
            if (pins.size() < 4 && size > 0)
            {
                final long position = random.nextLong(size);
                final PinnedPage page = new PinnedPage();
                assertTrue(cache.file(file).pin(position, page));
                final long start = page.position();
                final byte[] expected = Arrays.copyOfRange(model.get(file), (int)start, (int)start + page.length());
                pins.add(page);
                pinnedBytes.add(expected);
                pinnedFiles.add(file);
                checkPinned(op, pins.size() - 1);
            }
            else if (!pins.isEmpty())
            {
                unpin(op, random.nextInt(pins.size()));
            }
        }
        else
        {
            final long position = random.nextLong(size + PAGE);
            final long length = 1 + random.nextInt(4 * PAGE);
            verify(op, cache, file, position, length);
        }
    }

    /**
     * Writes whole pages of one file (maybe itself) into another, page-aligned: plain copies of pages, identical bytes
     * at different blocks, for merging to find. The bytes keep the stamps of the operations that first wrote them.
     */
    private void copyPages(final SplittableRandom random, final ExtentStore store, final ExtentCache cache,
        final long file, final boolean throughStore) throws IOException
    {
        final long source = live.get(random.nextInt(live.size()));
        final int sourcePages = (int)(sizes.get(source) / PAGE);
        if (sourcePages == 0)
        {
            return;
        }
        final int first = random.nextInt(sourcePages);
        final int count = 1 + random.nextInt(Math.min(3, sourcePages - first));
        final long position = (long)random.nextInt(MAX_PAGES - count + 1) * PAGE;
        final byte[] data = Arrays.copyOfRange(model.get(source), first * PAGE, (first + count) * PAGE);
        if (throughStore)
        {
            store.write(file, position, ByteBuffer.wrap(data));
        }
        else
        {
            assertEquals(data.length, cache.file(file).write(position, ByteBuffer.wrap(data)));
        }
        final byte[] content = grow(file, position + data.length);
        System.arraycopy(data, 0, content, (int)position, data.length);
    }

    private final List<Long> pinnedFiles = new ArrayList<>();

    private void checkPinned(final int op, final int index)
    {
        final PinnedPage page = pins.get(index);
        final byte[] expected = pinnedBytes.get(index);
        for (int i = 0; i < expected.length; i++)
        {
            if (page.buffer().getByte(i) != expected[i])
            {
                fail("op " + op + ": pinned page at " + page.position() + " of file " + pinnedFiles.get(index) +
                    " changed at byte " + i + " while pinned: now " + page.buffer().getByte(i) + ", pinned with " +
                    expected[i]);
            }
        }
    }

    private void unpin(final int op, final int index)
    {
        checkPinned(op, index);
        pins.remove(index).close();
        pinnedBytes.remove(index);
        pinnedFiles.remove(index);
    }

    /** A file is about to be deleted: its pins' views stay valid, but the model forgets it; check and drop them. */
    private void unpinAll(final int op, final long file)
    {
        for (int i = pins.size() - 1; i >= 0; i--)
        {
            if (pinnedFiles.get(i) == file)
            {
                unpin(op, i);
            }
        }
    }

    private void cloneRange(final SplittableRandom random, final ExtentStore store, final long src) throws IOException
    {
        final long srcSize = sizes.get(src);
        if (srcSize == 0)
        {
            return;
        }
        final long dst = live.get(random.nextInt(live.size()));
        final long srcPages = (srcSize + PAGE - 1) / PAGE;
        final long srcPage = random.nextLong(srcPages);
        final long pages = 1 + random.nextLong(Math.min(4, srcPages - srcPage));
        final long dstPage = random.nextLong(MAX_PAGES - pages + 1);
        if (src == dst && srcPage < dstPage + pages && dstPage < srcPage + pages)
        {
            return;
        }
        long length = Math.min(pages * PAGE, srcSize - srcPage * PAGE);
        if (length % PAGE != 0 && dstPage * PAGE + length < sizes.get(dst))
        {
            length -= length % PAGE; // FICLONERANGE: an unaligned tail must reach the destination's end of file
            if (length == 0)
            {
                return;
            }
        }
        store.cloneRange(src, srcPage * PAGE, dst, dstPage * PAGE, length);
        final byte[] from = model.get(src);
        final byte[] copy = Arrays.copyOfRange(from, (int)(srcPage * PAGE), (int)(srcPage * PAGE + length));
        final byte[] to = grow(dst, dstPage * PAGE + length);
        System.arraycopy(copy, 0, to, (int)(dstPage * PAGE), copy.length);
    }

    private void verify(final int op, final ExtentCache cache, final long file, final long position, final long length)
        throws IOException
    {
        final long size = sizes.get(file);
        final ByteBuffer dst = ByteBuffer.allocate((int)length);
        final int n = cache.file(file).read(position, dst);
        if (0 == length)
        {
            assertEquals(0, n, "a read with no room returns 0, even at end-of-file");
            return;
        }
        if (position >= size)
        {
            assertEquals(-1, n, "read at " + position + " of file " + file + " size " + size);
            return;
        }
        assertEquals(Math.min(length, size - position), n, "bytes read from file " + file + " at " + position);
        final byte[] content = model.get(file);
        for (int i = 0; i < n; i++)
        {
            final long at = position + i;
            if (dst.get(i) != content[(int)at])
            {
                fail("op " + op + ": file " + file + " offset " + at + " (page " + at / PAGE + ") read " +
                    describe(dst.array(), i, position) + " but the model holds " +
                    describe(content, (int)at, 0));
            }
        }
    }

    /** Names the operation whose stamp sits at a byte, or says it is a zero. */
    private static String describe(final byte[] bytes, final int index, final long fileOffsetOfIndex0)
    {
        final long at = fileOffsetOfIndex0 + index;
        final int aligned = index - (int)(at & 3);
        if (aligned < 0 || aligned + 4 > bytes.length)
        {
            return "byte " + bytes[index];
        }
        int op = 0;
        for (int k = 0; k < 4; k++)
        {
            op |= (bytes[aligned + k] & 0xFF) << (8 * k);
        }
        return op == 0 ? "zeros" : "bytes of op " + op;
    }

    /** The byte op {@code op} writes at file offset {@code at}: little-endian op number, repeating every 4 bytes. */
    private static byte stamp(final int op, final long at)
    {
        return (byte)(op >>> (8 * (at & 3)));
    }

    private void track(final long file, final byte[] content, final long size)
    {
        live.add(file);
        model.put(file, Arrays.copyOf(content, MAX_PAGES * PAGE));
        sizes.put(file, size);
    }

    private byte[] grow(final long file, final long newEnd)
    {
        if (newEnd > sizes.get(file))
        {
            sizes.put(file, newEnd);
        }
        return model.get(file);
    }
}
