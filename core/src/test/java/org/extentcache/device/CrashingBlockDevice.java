package org.extentcache.device;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A {@link BlockDevice} that loses power: for crash tests.
 *
 * <p>It keeps two images: what the device holds now (reads see every completed write) and what it held at the last
 * successful {@link #sync} (the only state a power loss is sure to keep), plus every block write since. Once
 * {@link #crashAfter} operations (writes and syncs) have run, the next one fails and so does every later transfer or
 * sync: {@code IOException("device crashed ...")}. A write that fails that way may still land (it was in flight).
 * {@link #crashImage} then builds what a disk could hold after the power loss: the synced image plus a random subset
 * of the unsynced block writes, applied in order, some of them torn (only a prefix of their 512-byte sectors
 * written).
 *
 * <p><b>Thread safety:</b> every method is {@code synchronized}.
 */
public final class CrashingBlockDevice implements BlockDevice
{
    /** Bytes of a sector: the unit a torn write keeps or loses. */
    public static final int SECTOR = 512;

    private final int blockSize;
    private final long blockCount;
    private final byte[][] current;
    private final byte[][] synced;
    private final List<long[]> pendingBlocks = new ArrayList<>();
    private final List<byte[]> pendingBytes = new ArrayList<>();
    private long operations;
    private long crashAt = Long.MAX_VALUE;
    private long syncs;
    private long crashAtSync = Long.MAX_VALUE;
    private boolean crashed;
    private int tornWrites;
    private int survivingWrites;
    private int lostWrites;

    /**
     * @param blockSize  bytes per block, a multiple of {@value #SECTOR}.
     * @param blockCount blocks, up to {@code Integer.MAX_VALUE}.
     */
    public CrashingBlockDevice(final int blockSize, final int blockCount)
    {
        if (blockSize < SECTOR || blockSize % SECTOR != 0 || Integer.bitCount(blockSize) != 1)
        {
            throw new IllegalArgumentException("blockSize must be a power of two >= 512: blockSize=" + blockSize);
        }
        this.blockSize = blockSize;
        this.blockCount = blockCount;
        this.current = new byte[blockCount][];
        this.synced = new byte[blockCount][];
    }

    @Override
    public int blockSize()
    {
        return blockSize;
    }

    @Override
    public long blockCount()
    {
        return blockCount;
    }

    /**
     * Arms the crash: operation number {@code operation} (counting writes and syncs from the device's creation, the
     * first being 1) fails, and everything after it.
     *
     * @param operation the operation that fails.
     */
    public synchronized void crashAfter(final long operation)
    {
        crashAt = operation;
    }

    /**
     * Arms the crash at a sync, where the most writes are unsynced: the {@code sync}-th sync from the device's
     * creation (the first being 1) fails, and everything after it.
     *
     * @param sync the sync that fails.
     */
    public synchronized void crashAtSync(final long sync)
    {
        crashAtSync = sync;
    }

    /**
     * @return syncs so far, including one that crashed.
     */
    public synchronized long syncs()
    {
        return syncs;
    }

    /**
     * Crashes now, if it has not yet.
     */
    public synchronized void crashNow()
    {
        crashed = true;
    }

    /**
     * @return whether the device has crashed.
     */
    public synchronized boolean crashed()
    {
        return crashed;
    }

    /**
     * @return writes and syncs so far, including the one that crashed.
     */
    public synchronized long operations()
    {
        return operations;
    }

    /**
     * @return block writes since the last sync, lost or kept by the crash image.
     */
    public synchronized int unsyncedWrites()
    {
        return pendingBlocks.size();
    }

    @Override
    public synchronized void read(final long block, final ByteBuffer dst) throws IOException
    {
        final long blocks = BlockDevice.checkTransfer(this, block, dst.remaining());
        if (crashed)
        {
            throw new IOException("device crashed (simulated power loss): read of block " + block);
        }
        for (long b = block; b < block + blocks; b++)
        {
            final byte[] bytes = current[(int)b];
            if (null == bytes)
            {
                dst.put(new byte[blockSize]);
            }
            else
            {
                dst.put(bytes);
            }
        }
    }

    @Override
    public synchronized void write(final long block, final ByteBuffer src) throws IOException
    {
        final long blocks = BlockDevice.checkTransfer(this, block, src.remaining());
        final boolean crashing = tick();
        if (crashed && !crashing)
        {
            throw new IOException("device crashed (simulated power loss): write of block " + block);
        }
        for (long b = block; b < block + blocks; b++)
        {
            final byte[] bytes = new byte[blockSize];
            src.get(bytes);
            if (!crashing)
            {
                current[(int)b] = bytes;
            }
            pendingBlocks.add(new long[]{b});
            pendingBytes.add(bytes);
        }
        if (crashing)
        {
            throw new IOException("device crashed (simulated power loss) during a write of block " + block +
                " (operation " + operations + "); it may or may not have landed");
        }
    }

    @Override
    public synchronized void sync() throws IOException
    {
        if (crashed)
        {
            throw new IOException("device crashed (simulated power loss): sync");
        }
        final boolean crashing = tick();
        syncs++;
        if (crashing || syncs >= crashAtSync)
        {
            crashed = true;
            throw new IOException("device crashed (simulated power loss) during sync " + syncs + " (operation " +
                operations + ")");
        }
        for (int i = 0; i < pendingBlocks.size(); i++)
        {
            synced[(int)pendingBlocks.get(i)[0]] = pendingBytes.get(i);
        }
        pendingBlocks.clear();
        pendingBytes.clear();
    }

    /** Counts an operation; returns true if it is the one that crashes. */
    private boolean tick()
    {
        if (crashed)
        {
            return false;
        }
        operations++;
        if (operations >= crashAt)
        {
            crashed = true;
            return true;
        }
        return false;
    }

    /**
     * Builds what the disk holds after the crash: the synced image plus, for each unsynced block write in order,
     * the whole write, a torn prefix of 1 to {@code blockSize / 512 - 1} sectors of it, or nothing.
     *
     * @param random chooses the fate of each write.
     * @return a new, uncrashed device holding the image, with nothing unsynced.
     */
    public synchronized CrashingBlockDevice crashImage(final Random random)
    {
        final CrashingBlockDevice image = new CrashingBlockDevice(blockSize, (int)blockCount);
        for (int b = 0; b < blockCount; b++)
        {
            image.synced[b] = synced[b];
            image.current[b] = synced[b];
        }
        final int sectors = blockSize / SECTOR;
        for (int i = 0; i < pendingBlocks.size(); i++)
        {
            final int block = (int)pendingBlocks.get(i)[0];
            final int fate = random.nextInt(10);
            if (fate < 4)
            {
                image.current[block] = pendingBytes.get(i);
                survivingWrites++;
            }
            else if (fate < 6 && sectors > 1)
            {
                final byte[] torn = null == image.current[block] ? new byte[blockSize] : image.current[block].clone();
                final int kept = (1 + random.nextInt(sectors - 1)) * SECTOR;
                System.arraycopy(pendingBytes.get(i), 0, torn, 0, kept);
                image.current[block] = torn;
                tornWrites++;
            }
            else
            {
                lostWrites++;
            }
        }
        System.arraycopy(image.current, 0, image.synced, 0, (int)blockCount);
        return image;
    }

    /**
     * @return a new, uncrashed device holding what this one held at its last sync: the image of a crash that lost
     * every unsynced write.
     */
    public synchronized CrashingBlockDevice syncedImage()
    {
        final CrashingBlockDevice image = new CrashingBlockDevice(blockSize, (int)blockCount);
        System.arraycopy(synced, 0, image.synced, 0, (int)blockCount);
        System.arraycopy(synced, 0, image.current, 0, (int)blockCount);
        return image;
    }

    /**
     * @return a new, uncrashed device holding what this one holds now, every write landed.
     */
    public synchronized CrashingBlockDevice currentImage()
    {
        final CrashingBlockDevice image = new CrashingBlockDevice(blockSize, (int)blockCount);
        System.arraycopy(current, 0, image.synced, 0, (int)blockCount);
        System.arraycopy(current, 0, image.current, 0, (int)blockCount);
        return image;
    }

    /**
     * @return "kept/torn/lost" counts of unsynced writes over every {@link #crashImage} built from this device.
     */
    public synchronized String crashImageStats()
    {
        return "kept=" + survivingWrites + " torn=" + tornWrites + " lost=" + lostWrites;
    }

    /**
     * @return the write counts behind {@link #crashImageStats}: kept, torn, lost.
     */
    public synchronized int[] crashImageCounts()
    {
        return new int[]{survivingWrites, tornWrites, lostWrites};
    }

    @Override
    public void close()
    {
    }

    @Override
    public String toString()
    {
        return "CrashingBlockDevice{blockSize=" + blockSize + ", blockCount=" + blockCount + ", operations=" +
            operations + ", crashed=" + crashed + '}';
    }
}
