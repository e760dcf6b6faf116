package org.extentcache.testing;

import org.extentcache.device.BlockDevice;
import org.extentcache.device.BlockDeviceContractTest;
import org.extentcache.device.MemoryBlockDevice;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Nested;

/**
 * {@link FaultyBlockDevice} with no faults armed, over a {@link MemoryBlockDevice}, against the
 * {@link BlockDeviceContractTest}: here with a volatile write cache (writes live in the overlay until synced), and
 * in {@link WriteThrough} passing writes straight through. After each test the books must show no injected failure.
 */
class FaultyBlockDeviceContractTest extends BlockDeviceContractTest
{
    private final List<FaultyBlockDevice> made = new ArrayList<>();

    @Override
    protected BlockDevice newDevice(final int blockSize, final long blockCount)
    {
        final FaultyBlockDevice device =
            FaultyBlockDevice.withVolatileWriteCache(new MemoryBlockDevice(blockSize, blockCount));
        made.add(device);
        return device;
    }

    @AfterEach
    void checkNoFaultWasInjected()
    {
        checkBooks(made);
    }

    /**
     * No fault armed means none injected, and the counters add up.
     */
    static void checkBooks(final List<FaultyBlockDevice> devices)
    {
        for (final FaultyBlockDevice device : devices)
        {
            assertEquals(0, device.injectedReadFailures(), device.toString());
            assertEquals(0, device.injectedWriteFailures(), device.toString());
            assertEquals(0, device.injectedSyncFailures(), device.toString());
            assertTrue(device.blocksRead() >= device.reads(), "every successful read moves a block: " + device);
            assertTrue(device.blocksWritten() >= device.writes(), "every successful write moves a block: " + device);
        }
    }

    /**
     * The same contract with writes passed straight to the delegate.
     */
    @Nested
    class WriteThrough extends BlockDeviceContractTest
    {
        private final List<FaultyBlockDevice> writeThroughMade = new ArrayList<>();

        @Override
        protected BlockDevice newDevice(final int blockSize, final long blockCount)
        {
            final FaultyBlockDevice device = FaultyBlockDevice.writeThrough(new MemoryBlockDevice(blockSize, blockCount));
            writeThroughMade.add(device);
            return device;
        }

        @AfterEach
        void checkNoFaultWasInjectedWritingThrough()
        {
            checkBooks(writeThroughMade);
            for (final FaultyBlockDevice device : writeThroughMade)
            {
                assertEquals(0, device.unsyncedBlocks(), device.toString());
            }
        }
    }
}
