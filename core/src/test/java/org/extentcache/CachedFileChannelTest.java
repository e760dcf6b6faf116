package org.extentcache;

import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Conformance: the same seeded operation sequences run against a {@link CachedFileChannel} and against a real
 * {@link FileChannel} on a temporary file; every result, position, size and byte must agree. Replay with
 * {@code -Dextentcache.seed=N}.
 */
class CachedFileChannelTest
{
    private static final int PAGE = 4096;
    private static final long LIMIT = 40L * PAGE;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    private final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 2048);
    private final ExtentStore store = new ExtentStore(device);
    private final ExtentCache cache = books.track(
        ExtentCache.builder().device(device).translator(store).capacityFrames(16).build());

    @Test
    void behavesLikeAFileChannel(@TempDir final Path dir) throws IOException
    {
        final long seed = Long.getLong("extentcache.seed", System.nanoTime());
        final SplittableRandom random = new SplittableRandom(seed);
        try (FileChannel real = FileChannel.open(dir.resolve("real"), StandardOpenOption.CREATE,
            StandardOpenOption.READ, StandardOpenOption.WRITE);
            CachedFileChannel cached = CachedFileChannel.open(cache, store.create()))
        {
            for (int op = 1; op <= 5000; op++)
            {
                try
                {
                    step(op, random, real, cached);
                }
                catch (final AssertionError | IOException | RuntimeException ex)
                {
                    throw new AssertionError("seed=" + seed + " op=" + op + " (replay with -Dextentcache.seed=" +
                        seed + "): " + ex, ex);
                }
            }
            cached.force(true);
            assertEquals(real.size(), cached.size());
            final ByteBuffer a = ByteBuffer.allocate((int)real.size());
            final ByteBuffer b = ByteBuffer.allocate((int)real.size());
            real.read(a, 0);
            cached.read(b, 0);
            assertArrayEquals(a.array(), b.array(), "seed=" + seed + ": final contents");
        }
    }

    private static void step(final int op, final SplittableRandom random, final FileChannel real,
        final CachedFileChannel cached) throws IOException
    {
        final long size = real.size();
        final int kind = random.nextInt(12);
        final long position = random.nextLong(Math.min(size + 2 * PAGE, LIMIT));
        final int length = random.nextInt(3 * PAGE);
        switch (kind)
        {
            case 0, 1 ->
            {
                final byte[] data = bytes(op, length);
                assertEquals(real.write(ByteBuffer.wrap(data), position),
                    cached.write(ByteBuffer.wrap(data), position), "positional write");
            }
            case 2 ->
            {
                final byte[] data = bytes(op, length);
                assertEquals(real.write(ByteBuffer.wrap(data)), cached.write(ByteBuffer.wrap(data)), "write");
            }
            case 3 ->
            {
                final ByteBuffer[] a = {ByteBuffer.wrap(bytes(op, length / 2)), ByteBuffer.wrap(bytes(op + 1, 100))};
                final ByteBuffer[] b = {ByteBuffer.wrap(bytes(op, length / 2)), ByteBuffer.wrap(bytes(op + 1, 100))};
                assertEquals(real.write(a), cached.write(b), "gathering write");
            }
            case 4, 5 ->
            {
                final ByteBuffer a = ByteBuffer.allocate(length);
                final ByteBuffer b = ByteBuffer.allocateDirect(length);
                assertEquals(real.read(a, position), cached.read(b, position), "positional read at " + position);
                assertContentsEqual(a, b);
            }
            case 6 ->
            {
                final ByteBuffer a = ByteBuffer.allocate(length);
                final ByteBuffer b = ByteBuffer.allocate(length);
                assertEquals(real.read(a), cached.read(b), "read");
                assertContentsEqual(a, b);
            }
            case 7 ->
            {
                final ByteBuffer[] a = {ByteBuffer.allocate(length / 2), ByteBuffer.allocate(PAGE)};
                final ByteBuffer[] b = {ByteBuffer.allocate(length / 2), ByteBuffer.allocate(PAGE)};
                assertEquals(real.read(a), cached.read(b), "scattering read");
                assertContentsEqual(a[0], b[0]);
                assertContentsEqual(a[1], b[1]);
            }
            case 8 ->
            {
                real.position(position);
                cached.position(position);
            }
            case 9 ->
            {
                final long newSize = random.nextLong(size + PAGE);
                real.truncate(newSize);
                cached.truncate(newSize);
            }
            case 10 ->
            {
                final ByteArrayOutputStream a = new ByteArrayOutputStream();
                final ByteArrayOutputStream b = new ByteArrayOutputStream();
                assertEquals(real.transferTo(position, length, Channels.newChannel(a)),
                    cached.transferTo(position, length, Channels.newChannel(b)), "transferTo");
                assertArrayEquals(a.toByteArray(), b.toByteArray(), "transferTo bytes");
            }
            default ->
            {
                final byte[] data = bytes(op, length);
                assertEquals(real.transferFrom(Channels.newChannel(new ByteArrayInputStream(data)), position, length),
                    cached.transferFrom(Channels.newChannel(new ByteArrayInputStream(data)), position, length),
                    "transferFrom at " + position + " size " + size);
            }
        }
        assertEquals(real.position(), cached.position(), "position after op " + op);
        assertEquals(real.size(), cached.size(), "size after op " + op);
    }

    private static void assertContentsEqual(final ByteBuffer a, final ByteBuffer b)
    {
        assertEquals(a.position(), b.position(), "bytes read");
        final byte[] x = new byte[a.position()];
        final byte[] y = new byte[b.position()];
        a.flip().get(x);
        b.flip().get(y);
        assertArrayEquals(x, y, "bytes");
    }

    private static byte[] bytes(final int op, final int length)
    {
        final byte[] data = new byte[length];
        Arrays.fill(data, (byte)op);
        for (int i = 0; i < length; i += 97)
        {
            data[i] = (byte)(op >>> 8);
        }
        return data;
    }

    @Test
    void mapSaysWhyItIsNotSupportedAndAClosedChannelRefusesUse() throws IOException
    {
        final CachedFileChannel channel = CachedFileChannel.open(cache, store.create());
        assertTrue(assertThrows(UnsupportedOperationException.class,
            () -> channel.map(FileChannel.MapMode.READ_ONLY, 0, 1)).getMessage().contains("pin"));
        channel.close();
        assertThrows(ClosedChannelException.class, () -> channel.read(ByteBuffer.allocate(1)));
        assertThrows(ClosedChannelException.class, channel::size);
        assertThrows(ClosedChannelException.class, channel::lock);
        assertThrows(ClosedChannelException.class, channel::tryLock);
    }
}
