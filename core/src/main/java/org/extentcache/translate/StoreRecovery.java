package org.extentcache.translate;

import static org.extentcache.translate.SuperblockDescriptor.FORMAT_VERSION;
import static org.extentcache.translate.SuperblockDescriptor.SLOT_COUNT;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import org.agrona.collections.LongHashSet;
import org.extentcache.device.BlockDevice;

/**
 * Finds a persistent {@link ExtentStore}'s last synced snapshot on a device, or says exactly why there is none; and
 * erases the slots for a format.
 *
 * <h2>Recovery</h2>
 * Both slots are read. A slot with the magic and another format version refuses the device (its layout past the
 * version is unknown). Of the intact superblocks of this version, the one with the highest sequence whose
 * snapshot chain reads back with the right length, CRC and sequence wins; if its snapshot does not check out, the
 * other one is tried. Because a new superblock is written only after its chain and data are synced, and blocks of
 * the live snapshot are freed only after a newer superblock is synced, the winner's chain and every block its maps
 * point at hold exactly what they held when it was written.
 *
 * <p><b>Costs:</b> two block reads, then one read per chain block; decoding is linear in the payload, and checking
 * that no map points into the chain is linear in the pages mapped.
 *
 * <p><b>Thread safety:</b> stateless.
 */
final class StoreRecovery
{
    /** The snapshot recovery chose. */
    static final class Recovered
    {
        final Superblock superblock;
        final long[] chain;
        final long highestSequence;
        final SnapshotCodec.Decoded snapshot;

        Recovered(final Superblock superblock, final long[] chain, final long highestSequence,
            final SnapshotCodec.Decoded snapshot)
        {
            this.superblock = superblock;
            this.chain = chain;
            this.highestSequence = highestSequence;
            this.snapshot = snapshot;
        }
    }

    private StoreRecovery()
    {
    }

    /**
     * Zeroes both slots and syncs, so that no superblock of an earlier store survives a format.
     *
     * @param device the device.
     * @throws IOException if the device fails.
     */
    static void eraseSlots(final BlockDevice device) throws IOException
    {
        device.write(0, ByteBuffer.allocate(SLOT_COUNT * device.blockSize()));
        device.sync();
    }

    /**
     * @param device the device.
     * @return the newest intact snapshot.
     * @throws IOException saying what the device holds instead: no store, a store of another format version, a store
     *                     formatted for another geometry, or a store whose superblocks or snapshots are all damaged;
     *                     or a device error.
     */
    static Recovered recover(final BlockDevice device) throws IOException
    {
        final int blockSize = device.blockSize();
        final Superblock[] slots = new Superblock[SLOT_COUNT];
        for (int slot = 0; slot < SLOT_COUNT; slot++)
        {
            final ByteBuffer block = ByteBuffer.allocate(blockSize);
            device.read(slot, block);
            slots[slot] = Superblock.decode(slot, block.clear());
        }
        final List<Superblock> valid = new ArrayList<>(SLOT_COUNT);
        boolean anyMagic = false;
        for (final Superblock slot : slots)
        {
            if (slot.status == Superblock.Status.OTHER_VERSION)
            {
                throw new IOException("device holds an ExtentStore of format version " + slot.version +
                    "; this library reads version " + FORMAT_VERSION + " (" + slot + ", device " + device + ")");
            }
            anyMagic |= slot.status != Superblock.Status.ABSENT;
            if (slot.status == Superblock.Status.VALID)
            {
                if (slot.blockSize != blockSize || slot.blockCount != device.blockCount())
                {
                    throw new IOException("device geometry differs from the ExtentStore it holds: the store was " +
                        "formatted for blockSize=" + slot.blockSize + " blockCount=" + slot.blockCount +
                        ", the device has blockSize=" + blockSize + " blockCount=" + device.blockCount() +
                        " (" + device + ")");
                }
                valid.add(slot);
            }
        }
        if (!anyMagic)
        {
            throw new IOException("device holds no ExtentStore: neither block 0 nor block 1 holds a superblock " +
                "(format it first; device " + device + ")");
        }
        if (valid.isEmpty())
        {
            throw new IOException("device holds an ExtentStore but neither superblock is intact: " + slots[0] + "; " +
                slots[1] + " (device " + device + ")");
        }
        valid.sort((a, b) -> Long.compare(b.sequence, a.sequence));
        final StringBuilder problems = new StringBuilder();
        for (final Superblock superblock : valid)
        {
            try
            {
                return read(device, superblock, valid.get(0).sequence);
            }
            catch (final IOException ex)
            {
                problems.append(problems.length() == 0 ? "" : "; ").append(superblock).append(": ")
                    .append(ex.getMessage());
            }
        }
        throw new IOException("device holds an ExtentStore but no intact metadata snapshot: " + problems +
            " (device " + device + ")");
    }

    private static Recovered read(final BlockDevice device, final Superblock superblock, final long highestSequence)
        throws IOException
    {
        final SnapshotChain.Read chain = SnapshotChain.read(device, superblock.snapshotBlock,
            superblock.snapshotLength);
        final int crc = SnapshotChain.crc(chain.payload);
        if (crc != superblock.snapshotCrc)
        {
            throw new IOException("snapshot CRC mismatch: found " + Integer.toHexString(crc) + ", superblock says " +
                Integer.toHexString(superblock.snapshotCrc));
        }
        final SnapshotCodec.Decoded snapshot = SnapshotCodec.decode(chain.payload, superblock.sequence,
            Integer.numberOfTrailingZeros(device.blockSize()), device.blockCount());
        final LongHashSet chainBlocks = new LongHashSet();
        for (final long block : chain.blocks)
        {
            chainBlocks.add(block);
        }
        for (final SnapshotCodec.FileRecord file : snapshot.files)
        {
            for (int run = 0; run < file.runs.size(); run++)
            {
                final long first = file.runs.deviceBlock(run);
                for (long block = first; block < first + file.runs.pageCount(run); block++)
                {
                    if (chainBlocks.contains(block))
                    {
                        throw new IOException("corrupt metadata snapshot: file " + file.id + " maps block " + block +
                            ", which holds the snapshot itself");
                    }
                }
            }
        }
        return new Recovered(superblock, chain.blocks, highestSequence, snapshot);
    }
}
