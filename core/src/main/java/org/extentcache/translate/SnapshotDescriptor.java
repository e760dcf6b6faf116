package org.extentcache.translate;

/**
 * Layout of a persistent {@link ExtentStore}'s metadata snapshot: a byte string (the <em>payload</em>) stored in a
 * chain of device blocks that the superblock points at ({@link SuperblockDescriptor}).
 *
 * <p><b>A chain block</b> (big-endian):
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+  0
 *  |          next block of the chain, or -1 after the last        |
 *  |                                                               |
 *  +---------------------------------------------------------------+  8
 *  |         the next (blockSize - 8) bytes of the payload ...     |
 *  +---------------------------------------------------------------+
 * </pre>
 * The last block's bytes past the payload's end are zeros.
 *
 * <p><b>The payload</b> (big-endian, no padding; its length and CRC32C are in the superblock):
 * <pre>
 *   long  sequence            equals the superblock's: a chain never passes for another snapshot's
 *   long  nextFileId          the id the next created file gets
 *   int   attachmentLength    then that many bytes: {@link ExtentStore#setAttachment}
 *   int   fileCount           then, per file, in ascending id order:
 *     long  id
 *     long  size              bytes
 *     int   runCount          then, per run, in ascending page order, not overlapping:
 *       long  filePage
 *       long  deviceBlock     of filePage; the run maps consecutive blocks
 *       long  pageCount       &gt;= 1
 * </pre>
 * Reference counts and the allocator's state are not stored: they are derived from the maps when the store opens
 * (a block is referenced once per page that maps it; the slots and the chain are the store's own), so they can
 * never disagree with them.
 */
final class SnapshotDescriptor
{
    /** Bytes of a chain block's header: the next block's number. */
    static final int NEXT_BLOCK_OFFSET = 0;
    static final int HEADER_LENGTH = 8;
    /** The next-block value of a chain's last block. */
    static final long END_OF_CHAIN = -1;

    /** Payload bytes before the attachment: sequence, nextFileId and the attachment's length. */
    static final int PAYLOAD_HEADER_LENGTH = 8 + 8 + 4;
    /** Bytes of a file's record before its runs: id, size, run count. */
    static final int FILE_HEADER_LENGTH = 8 + 8 + 4;
    /** Bytes of one run: file page, device block, page count. */
    static final int RUN_LENGTH = 3 * 8;
    /** The largest attachment: 16 MiB. */
    static final int MAX_ATTACHMENT = 16 << 20;

    private SnapshotDescriptor()
    {
    }

    /**
     * @param blockSize device block size.
     * @return payload bytes one chain block carries.
     */
    static int payloadPerBlock(final int blockSize)
    {
        return blockSize - HEADER_LENGTH;
    }

    /**
     * @param payloadLength bytes of payload.
     * @param blockSize     device block size.
     * @return chain blocks needed for it, at least 1.
     */
    static int blocksFor(final long payloadLength, final int blockSize)
    {
        final int per = payloadPerBlock(blockSize);
        return (int)Math.max(1, (payloadLength + per - 1) / per);
    }
}
