package org.extentcache.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link FileBlockDevice} against the {@link BlockDeviceContractTest}, each device a file in a temporary directory,
 * plus persistence across reopening.
 */
class FileBlockDeviceTest extends BlockDeviceContractTest
{
    @TempDir
    Path directory;

    private int fileCount;

    @Override
    protected BlockDevice newDevice(final int blockSize, final long blockCount) throws IOException
    {
        return FileBlockDevice.open(directory.resolve("device-" + fileCount++), blockSize, blockCount);
    }

    @Test
    void sizesTheFileToTheDevice() throws IOException
    {
        final FileBlockDevice device = (FileBlockDevice)open(4096, 8);
        assertEquals(8 * 4096, Files.size(device.path()));
    }

    @Test
    void reopeningKeepsTheData() throws IOException
    {
        final Path path = directory.resolve("persistent");
        final byte[] data = pattern(9, 2 * 512);
        try (FileBlockDevice device = FileBlockDevice.open(path, 512, 16))
        {
            device.write(7, ByteBuffer.wrap(data));
            device.sync();
            assertEquals(2, device.blocksWritten());
        }
        try (FileBlockDevice device = FileBlockDevice.open(path, 512, 16))
        {
            final ByteBuffer dst = ByteBuffer.allocate(2 * 512);
            device.read(7, dst);
            assertArrayEquals(data, dst.array());
            assertEquals(2, device.blocksRead());
        }
    }
}
