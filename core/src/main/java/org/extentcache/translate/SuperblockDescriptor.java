package org.extentcache.translate;

/**
 * Layout of a persistent {@link ExtentStore}'s superblock: the 56 bytes at the start of device block 0 or 1 (the two
 * <em>slots</em>, reserved for ever) that name the store's format and point at its current metadata snapshot.
 *
 * <p><b>Layout</b> (big-endian; the rest of the block is zeros and ignored):
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+  0
 *  |                 magic "EXTSTORE" (8 bytes)                    |
 *  |                                                               |
 *  +-------------------------------+-------------------------------+  8
 *  |        format version         |          block size           |
 *  +-------------------------------+-------------------------------+ 16
 *  |                sequence (higher is newer)                     |
 *  |                                                               |
 *  +---------------------------------------------------------------+ 24
 *  |                        block count                            |
 *  |                                                               |
 *  +---------------------------------------------------------------+ 32
 *  |             first block of the snapshot chain                 |
 *  |                                                               |
 *  +---------------------------------------------------------------+ 40
 *  |                 snapshot length in bytes                      |
 *  |                                                               |
 *  +-------------------------------+-------------------------------+ 48
 *  |     CRC32C of the snapshot    |  CRC32C of bytes [0, 52)      |
 *  +-------------------------------+-------------------------------+ 56
 * </pre>
 * The magic and the format version stay at offsets 0 and 8 in every format version, so any later library can say
 * which version a device holds; everything after them may change with the version. The superblock lies within the
 * first 512-byte sector of its block, so a write torn at a sector boundary either wrote it whole or not at all, and
 * its own CRC catches anything else.
 */
final class SuperblockDescriptor
{
    /** "EXTSTORE" in ASCII. */
    static final long MAGIC = 0x4558_5453_544F_5245L;
    /** The only format version this library reads and writes. */
    static final int FORMAT_VERSION = 1;
    /** Number of superblock slots: device blocks {@code 0 .. SLOT_COUNT - 1}. */
    static final int SLOT_COUNT = 2;

    static final int MAGIC_OFFSET = 0;
    static final int VERSION_OFFSET = 8;
    static final int BLOCK_SIZE_OFFSET = 12;
    static final int SEQUENCE_OFFSET = 16;
    static final int BLOCK_COUNT_OFFSET = 24;
    static final int SNAPSHOT_BLOCK_OFFSET = 32;
    static final int SNAPSHOT_LENGTH_OFFSET = 40;
    static final int SNAPSHOT_CRC_OFFSET = 48;
    static final int SUPERBLOCK_CRC_OFFSET = 52;
    /** Bytes of a superblock; its CRC covers {@code [0, SUPERBLOCK_CRC_OFFSET)}. */
    static final int LENGTH = 56;

    private SuperblockDescriptor()
    {
    }
}
