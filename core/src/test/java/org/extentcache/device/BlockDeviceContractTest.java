package org.extentcache.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The contract every {@link BlockDevice} passes: one subclass per implementation supplies {@link #newDevice}.
 *
 * <p>Devices made through {@link #open} are closed after each test.
 */
public abstract class BlockDeviceContractTest
{
    private static final int BLOCK_SIZE = 512;
    private static final long BLOCK_COUNT = 64;

    private final List<BlockDevice> devices = new ArrayList<>();

    /**
     * @param blockSize  bytes per block.
     * @param blockCount number of blocks.
     * @return a new, empty device; the suite closes it.
     * @throws IOException if the device cannot be made.
     */
    protected abstract BlockDevice newDevice(int blockSize, long blockCount) throws IOException;

    /**
     * Makes a device the suite closes after the test.
     *
     * @param blockSize  bytes per block.
     * @param blockCount number of blocks.
     * @return the device.
     * @throws IOException if the device cannot be made.
     */
    protected final BlockDevice open(final int blockSize, final long blockCount) throws IOException
    {
        final BlockDevice device = newDevice(blockSize, blockCount);
        devices.add(device);
        return device;
    }

    @AfterEach
    void closeDevices() throws IOException
    {
        for (final BlockDevice device : devices)
        {
            device.close();
        }
    }

    /**
     * @param seed  distinguishes patterns.
     * @param bytes length.
     * @return a deterministic, non-zero pattern.
     */
    protected static byte[] pattern(final int seed, final int bytes)
    {
        final byte[] data = new byte[bytes];
        for (int i = 0; i < bytes; i++)
        {
            data[i] = (byte)(1 + (seed * 31 + i * 7) % 251);
        }
        return data;
    }

    @Test
    void reportsItsGeometry() throws IOException
    {
        final BlockDevice device = open(4096, 10);
        assertEquals(4096, device.blockSize());
        assertEquals(10, device.blockCount());
    }

    @Test
    void rejectsBadGeometry()
    {
        final IllegalArgumentException notPowerOfTwo =
            assertThrows(IllegalArgumentException.class, () -> open(1000, 4));
        assertTrue(notPowerOfTwo.getMessage().contains("blockSize=1000"), notPowerOfTwo.getMessage());
        final IllegalArgumentException noBlocks = assertThrows(IllegalArgumentException.class, () -> open(512, 0));
        assertTrue(noBlocks.getMessage().contains("blockCount=0"), noBlocks.getMessage());
    }

    @Test
    void roundTripsMultiBlockTransfers() throws IOException
    {
        final BlockDevice device = open(BLOCK_SIZE, BLOCK_COUNT);
        final byte[] data = pattern(1, 3 * BLOCK_SIZE);
        final ByteBuffer src = ByteBuffer.wrap(data);
        device.write(5, src);
        assertEquals(src.limit(), src.position(), "write advances the source to its limit");

        final ByteBuffer dst = ByteBuffer.allocate(3 * BLOCK_SIZE);
        device.read(5, dst);
        assertEquals(dst.limit(), dst.position(), "read advances the destination to its limit");
        assertArrayEquals(data, dst.array());

        final ByteBuffer middle = ByteBuffer.allocateDirect(BLOCK_SIZE);
        device.read(6, middle);
        final byte[] middleBytes = new byte[BLOCK_SIZE];
        middle.flip().get(middleBytes);
        assertArrayEquals(Arrays.copyOfRange(data, BLOCK_SIZE, 2 * BLOCK_SIZE), middleBytes);
    }

    @Test
    void transfersHonourBufferPositionAndLimit() throws IOException
    {
        final BlockDevice device = open(BLOCK_SIZE, BLOCK_COUNT);
        final byte[] data = pattern(2, BLOCK_SIZE);
        final ByteBuffer src = ByteBuffer.allocate(BLOCK_SIZE + 100);
        src.position(100).put(data).position(100);
        device.write(BLOCK_COUNT - 1, src);
        assertEquals(BLOCK_SIZE + 100, src.position());

        final ByteBuffer dst = ByteBuffer.allocate(BLOCK_SIZE + 50);
        dst.position(50);
        device.read(BLOCK_COUNT - 1, dst);
        assertEquals(BLOCK_SIZE + 50, dst.position());
        assertArrayEquals(data, Arrays.copyOfRange(dst.array(), 50, 50 + BLOCK_SIZE));
    }

    @Test
    void unwrittenBlocksReadAsZeros() throws IOException
    {
        final BlockDevice device = open(BLOCK_SIZE, BLOCK_COUNT);
        device.write(3, ByteBuffer.wrap(pattern(3, BLOCK_SIZE)));
        final ByteBuffer dst = ByteBuffer.wrap(pattern(4, 2 * BLOCK_SIZE));
        device.read(1, dst);
        assertArrayEquals(new byte[2 * BLOCK_SIZE], dst.array());
    }

    @Test
    void rejectsTransfersOutsideTheDevice() throws IOException
    {
        final BlockDevice device = open(BLOCK_SIZE, BLOCK_COUNT);
        final IllegalArgumentException past = assertThrows(IllegalArgumentException.class,
            () -> device.read(BLOCK_COUNT, ByteBuffer.allocate(BLOCK_SIZE)));
        assertTrue(past.getMessage().contains("block=" + BLOCK_COUNT), past.getMessage());
        assertTrue(past.getMessage().contains("blockCount=" + BLOCK_COUNT), past.getMessage());

        final IllegalArgumentException straddling = assertThrows(IllegalArgumentException.class,
            () -> device.write(BLOCK_COUNT - 1, ByteBuffer.allocate(2 * BLOCK_SIZE)));
        assertTrue(straddling.getMessage().contains("blocks=2"), straddling.getMessage());

        final IllegalArgumentException negative = assertThrows(IllegalArgumentException.class,
            () -> device.read(-1, ByteBuffer.allocate(BLOCK_SIZE)));
        assertTrue(negative.getMessage().contains("block=-1"), negative.getMessage());
    }

    @Test
    void rejectsTransfersOfPartialBlocks() throws IOException
    {
        final BlockDevice device = open(BLOCK_SIZE, BLOCK_COUNT);
        final ByteBuffer partial = ByteBuffer.allocate(BLOCK_SIZE + 1);
        final IllegalArgumentException write = assertThrows(IllegalArgumentException.class,
            () -> device.write(0, partial));
        assertTrue(write.getMessage().contains("length=" + (BLOCK_SIZE + 1)), write.getMessage());
        assertEquals(0, partial.position(), "a rejected transfer does not move the buffer");

        final IllegalArgumentException empty = assertThrows(IllegalArgumentException.class,
            () -> device.read(0, ByteBuffer.allocate(0)));
        assertTrue(empty.getMessage().contains("length=0"), empty.getMessage());

        final IllegalArgumentException small = assertThrows(IllegalArgumentException.class,
            () -> device.read(0, ByteBuffer.allocate(100)));
        assertTrue(small.getMessage().contains("length=100"), small.getMessage());
    }

    @Test
    void concurrentWritersToDifferentBlocksDoNotInterfere() throws Exception
    {
        final BlockDevice device = open(BLOCK_SIZE, BLOCK_COUNT);
        final int rounds = 200;
        final CountDownLatch start = new CountDownLatch(1);
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final Thread[] writers = new Thread[2];
        for (int t = 0; t < writers.length; t++)
        {
            final int parity = t;
            writers[t] = new Thread(() ->
            {
                try
                {
                    start.await();
                    for (int round = 0; round < rounds; round++)
                    {
                        for (long block = parity; block < BLOCK_COUNT; block += 2)
                        {
                            device.write(block, ByteBuffer.wrap(pattern((int)(round * BLOCK_COUNT + block), BLOCK_SIZE)));
                        }
                    }
                }
                catch (final Throwable ex)
                {
                    failure.compareAndSet(null, ex);
                }
            }, "writer-" + t);
            writers[t].start();
        }
        start.countDown();
        for (final Thread writer : writers)
        {
            writer.join();
        }
        if (null != failure.get())
        {
            throw new AssertionError("a writer failed", failure.get());
        }
        for (long block = 0; block < BLOCK_COUNT; block++)
        {
            final ByteBuffer dst = ByteBuffer.allocate(BLOCK_SIZE);
            device.read(block, dst);
            assertArrayEquals(pattern((int)((rounds - 1) * BLOCK_COUNT + block), BLOCK_SIZE), dst.array(),
                "block " + block + " holds its last writer's bytes");
        }
    }

    @Test
    void failsAfterClose() throws IOException
    {
        final BlockDevice device = open(BLOCK_SIZE, BLOCK_COUNT);
        device.write(0, ByteBuffer.wrap(pattern(5, BLOCK_SIZE)));
        device.close();
        assertThrows(IOException.class, () -> device.read(0, ByteBuffer.allocate(BLOCK_SIZE)));
        assertThrows(IOException.class, () -> device.write(0, ByteBuffer.allocate(BLOCK_SIZE)));
    }

    @Test
    void syncSucceedsWhileOpen() throws IOException
    {
        final BlockDevice device = open(BLOCK_SIZE, BLOCK_COUNT);
        device.write(0, ByteBuffer.wrap(pattern(6, BLOCK_SIZE)));
        device.sync();
    }
}
