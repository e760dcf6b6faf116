package org.extentcache.fs;

/**
 * The "device blocks" {@link FileSystemTranslator} answers: keys, packed in a {@code long}. A page whose extent the
 * kernel reports at a stable physical address (not delayed-allocation, unknown, inline, encoded, encrypted, unwritten
 * or unaligned) is keyed by (file system, physical block) and reported shared, so the cache never writes it in
 * place; any other page is <em>private</em> to its file, keyed by (file, page). Pages the kernel reports no extent
 * for are holes and have no key.
 *
 * <h2>Layout</h2>
 * <pre>
 *   physical key:
 *    63 62 61                  48 47                                               0
 *   +--+--+----------------------+--------------------------------------------------+
 *   | 0| 0| file system index    |                  physical block                  |
 *   +--+--+----------------------+--------------------------------------------------+
 *          DEVICE_BITS (14)                         BLOCK_BITS (48)
 *
 *   private key:
 *    63 62 61                        36 35                                         0
 *   +--+--+----------------------------+--------------------------------------------+
 *   | 0| 1|          file id           |                 page index                 |
 *   +--+--+----------------------------+--------------------------------------------+
 *        PRIVATE   FILE_BITS (26)                         PAGE_BITS (36)
 * </pre>
 * The file system index is the translator's number for an {@code st_dev} (see
 * {@link FileSystemTranslator#sharingUnavailableReason}); a physical block is the FIEMAP physical address divided by
 * the page size. Keys are never negative.
 */
final class BlockKeys
{
    /** Marks a private key: {@code PRIVATE | file << PAGE_BITS | page}. */
    static final long PRIVATE = 1L << 62;
    /** Bits of a page index in a private key: files up to 2^36 pages. */
    static final int PAGE_BITS = 36;
    /** Bits of a file id in a private key. */
    static final int FILE_BITS = 26;
    /** Bits of a physical block in a physical key: {@code deviceIndex << BLOCK_BITS | block}. */
    static final int BLOCK_BITS = 48;
    /** Bits of a file system's index in a physical key. */
    static final int DEVICE_BITS = 14;
    /** The largest page index a private key holds, plus one. */
    static final long PAGE_MASK = (1L << PAGE_BITS) - 1;
    /** The largest file id a private key holds. */
    static final long FILE_MASK = (1L << FILE_BITS) - 1;

    private BlockKeys()
    {
    }

    /** @return the private key of a file's page. */
    static long privateKey(final long file, final long page)
    {
        return PRIVATE | file << PAGE_BITS | page;
    }

    /** @return true if {@code key} is a private key (not a physical one, nor negative). */
    static boolean isPrivate(final long key)
    {
        return key >= 0 && (key & PRIVATE) != 0;
    }

    /** @return the file id of a private key. */
    static long fileOf(final long privateKey)
    {
        return (privateKey >>> PAGE_BITS) & FILE_MASK;
    }

    /** @return the page index of a private key. */
    static long pageOf(final long privateKey)
    {
        return privateKey & PAGE_MASK;
    }

    /** @return a file system index shifted into place in a physical key. */
    static long deviceBits(final int deviceIndex)
    {
        return (long)deviceIndex << BLOCK_BITS;
    }
}
