package org.extentcache.translate;

import static org.extentcache.translate.SuperblockDescriptor.BLOCK_COUNT_OFFSET;
import static org.extentcache.translate.SuperblockDescriptor.BLOCK_SIZE_OFFSET;
import static org.extentcache.translate.SuperblockDescriptor.FORMAT_VERSION;
import static org.extentcache.translate.SuperblockDescriptor.MAGIC;
import static org.extentcache.translate.SuperblockDescriptor.MAGIC_OFFSET;
import static org.extentcache.translate.SuperblockDescriptor.SEQUENCE_OFFSET;
import static org.extentcache.translate.SuperblockDescriptor.SNAPSHOT_BLOCK_OFFSET;
import static org.extentcache.translate.SuperblockDescriptor.SNAPSHOT_CRC_OFFSET;
import static org.extentcache.translate.SuperblockDescriptor.SNAPSHOT_LENGTH_OFFSET;
import static org.extentcache.translate.SuperblockDescriptor.SUPERBLOCK_CRC_OFFSET;
import static org.extentcache.translate.SuperblockDescriptor.VERSION_OFFSET;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * One superblock, as written to or read from a slot ({@link SuperblockDescriptor} has the layout), and what reading
 * a slot found there.
 *
 * <p><b>Thread safety:</b> immutable.
 */
final class Superblock
{
    /** What a slot holds. */
    enum Status
    {
        /** No superblock magic: not a store, or a slot never written (or zeroed by a format). */
        ABSENT,
        /** The magic and a format version other than {@link SuperblockDescriptor#FORMAT_VERSION}. */
        OTHER_VERSION,
        /** The magic and this version, but the superblock's CRC does not check out (a torn write). */
        CORRUPT,
        /** An intact superblock of this version. */
        VALID
    }

    final Status status;
    final int slot;
    final int version;
    final long sequence;
    final int blockSize;
    final long blockCount;
    final long snapshotBlock;
    final long snapshotLength;
    final int snapshotCrc;

    /**
     * A superblock to write.
     *
     * @param slot           the slot it goes to.
     * @param sequence       its sequence, higher than any written before.
     * @param blockSize      the device's block size.
     * @param blockCount     the device's block count.
     * @param snapshotBlock  the first block of the snapshot chain.
     * @param snapshotLength the payload's length in bytes.
     * @param snapshotCrc    the payload's CRC32C.
     */
    Superblock(final int slot, final long sequence, final int blockSize, final long blockCount,
        final long snapshotBlock, final long snapshotLength, final int snapshotCrc)
    {
        this(Status.VALID, slot, FORMAT_VERSION, sequence, blockSize, blockCount, snapshotBlock, snapshotLength,
            snapshotCrc);
    }

    private Superblock(final Status status, final int slot, final int version, final long sequence,
        final int blockSize, final long blockCount, final long snapshotBlock, final long snapshotLength,
        final int snapshotCrc)
    {
        this.status = status;
        this.slot = slot;
        this.version = version;
        this.sequence = sequence;
        this.blockSize = blockSize;
        this.blockCount = blockCount;
        this.snapshotBlock = snapshotBlock;
        this.snapshotLength = snapshotLength;
        this.snapshotCrc = snapshotCrc;
    }

    /**
     * Reads what a slot's block holds.
     *
     * @param slot  the slot number.
     * @param block the block's bytes, from position 0; at least {@link SuperblockDescriptor#LENGTH} long.
     * @return what the slot holds; only a {@link Status#VALID} one has meaningful fields past the version.
     */
    static Superblock decode(final int slot, final ByteBuffer block)
    {
        if (block.getLong(MAGIC_OFFSET) != MAGIC)
        {
            return new Superblock(Status.ABSENT, slot, 0, 0, 0, 0, 0, 0, 0);
        }
        final int version = block.getInt(VERSION_OFFSET);
        if (version != FORMAT_VERSION)
        {
            return new Superblock(Status.OTHER_VERSION, slot, version, 0, 0, 0, 0, 0, 0);
        }
        final Status status = block.getInt(SUPERBLOCK_CRC_OFFSET) == crc(block) ? Status.VALID : Status.CORRUPT;
        return new Superblock(status, slot, version, block.getLong(SEQUENCE_OFFSET), block.getInt(BLOCK_SIZE_OFFSET),
            block.getLong(BLOCK_COUNT_OFFSET), block.getLong(SNAPSHOT_BLOCK_OFFSET),
            block.getLong(SNAPSHOT_LENGTH_OFFSET), block.getInt(SNAPSHOT_CRC_OFFSET));
    }

    /**
     * Writes this superblock at the start of {@code block}, with its CRC; the caller zeroes the rest.
     *
     * @param block a block-size buffer.
     */
    void encode(final ByteBuffer block)
    {
        block.putLong(MAGIC_OFFSET, MAGIC)
            .putInt(VERSION_OFFSET, version)
            .putInt(BLOCK_SIZE_OFFSET, blockSize)
            .putLong(SEQUENCE_OFFSET, sequence)
            .putLong(BLOCK_COUNT_OFFSET, blockCount)
            .putLong(SNAPSHOT_BLOCK_OFFSET, snapshotBlock)
            .putLong(SNAPSHOT_LENGTH_OFFSET, snapshotLength)
            .putInt(SNAPSHOT_CRC_OFFSET, snapshotCrc);
        block.putInt(SUPERBLOCK_CRC_OFFSET, crc(block));
    }

    private static int crc(final ByteBuffer block)
    {
        final CRC32C crc = new CRC32C();
        crc.update(block.duplicate().position(0).limit(SUPERBLOCK_CRC_OFFSET));
        return (int)crc.getValue();
    }

    /**
     * @return a description for messages.
     */
    @Override
    public String toString()
    {
        switch (status)
        {
            case ABSENT:
                return "slot " + slot + ": no superblock";
            case OTHER_VERSION:
                return "slot " + slot + ": format version " + version;
            case CORRUPT:
                return "slot " + slot + ": superblock CRC mismatch (torn or overwritten)";
            default:
                return "slot " + slot + ": sequence " + sequence + ", snapshot at block " + snapshotBlock + ", " +
                    snapshotLength + " bytes";
        }
    }
}
