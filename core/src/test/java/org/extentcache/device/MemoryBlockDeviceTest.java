package org.extentcache.device;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.ByteBuffer;

import org.junit.jupiter.api.Test;

/**
 * {@link MemoryBlockDevice} against the {@link BlockDeviceContractTest}, plus its transfer counters.
 */
class MemoryBlockDeviceTest extends BlockDeviceContractTest
{
    @Override
    protected BlockDevice newDevice(final int blockSize, final long blockCount)
    {
        return new MemoryBlockDevice(blockSize, blockCount);
    }

    @Test
    void countsBlocksTransferred() throws IOException
    {
        final MemoryBlockDevice device = (MemoryBlockDevice)open(512, 16);
        device.write(2, ByteBuffer.allocate(3 * 512));
        device.read(0, ByteBuffer.allocate(512));
        assertEquals(3, device.blocksWritten());
        assertEquals(1, device.blocksRead());
    }
}
