package org.extentcache.shm;

import org.agrona.DirectBuffer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The bytes every process-level shared cache test expects in a key's page: a pure function of the key, so any
 * process can check any byte it reads without asking who loaded it, and a wrong byte names the key (and the word of
 * the page) it belongs to, or says it is no stamp at all (a dead loader's garbage).
 *
 * <pre>
 *    63      56 55                                   16 15              0
 *   +----------+---------------------------------------+-----------------+
 *   |  TAG     |           key (40 bits)               |  word in page   |
 *   +----------+---------------------------------------+-----------------+
 * </pre>
 * Words are big-endian (a {@link ByteBuffer}'s default order).
 */
final class PageStamps
{
    static final long TAG = 0x5CL;
    private static final int TAG_SHIFT = 56;
    private static final int KEY_SHIFT = 16;
    private static final long KEY_MASK = (1L << (TAG_SHIFT - KEY_SHIFT)) - 1;
    private static final long WORD_MASK = (1L << KEY_SHIFT) - 1;
    /** What a loader that dies or fails mid-page writes: never a stamp (its tag byte is not {@link #TAG}). */
    static final long GARBAGE = 0xBADBAD00BADBAD00L;

    private PageStamps()
    {
    }

    static long word(final long key, final int wordIndex)
    {
        return TAG << TAG_SHIFT | (key & KEY_MASK) << KEY_SHIFT | wordIndex;
    }

    /** A loader filling the whole page with its key's stamp. */
    static void fill(final long key, final ByteBuffer page)
    {
        for (int i = 0; page.hasRemaining(); i++)
        {
            page.putLong(word(key, i));
        }
    }

    /** Writes garbage over the first half of the page (the page's position moves past it). */
    static void garbageHalf(final ByteBuffer page)
    {
        final int words = page.remaining() / Long.BYTES / 2;
        for (int i = 0; i < words; i++)
        {
            page.putLong(GARBAGE ^ i);
        }
    }

    /** @return what a word holds: "key 17 word 3", or "no stamp 0xbadbad00badbad03". */
    static String describe(final long value)
    {
        if (value >>> TAG_SHIFT != TAG)
        {
            return "no stamp 0x" + Long.toHexString(value);
        }
        return "key " + (value >>> KEY_SHIFT & KEY_MASK) + " word " + (value & WORD_MASK);
    }

    /**
     * Checks {@code length} bytes copied from offset {@code pageOffset} of {@code key}'s page (both multiples of 8).
     *
     * @return null if they are the key's, else what was found at the first wrong word.
     */
    static String check(final long key, final ByteBuffer copy, final int from, final int pageOffset, final int length)
    {
        for (int at = 0; at < length; at += Long.BYTES)
        {
            final int wordIndex = (pageOffset + at) / Long.BYTES;
            final long value = copy.getLong(from + at);
            if (value != word(key, wordIndex))
            {
                return "key " + key + " word " + wordIndex + ": expected " + describe(word(key, wordIndex)) +
                    ", found " + describe(value);
            }
        }
        return null;
    }

    /** As {@link #check(long, ByteBuffer, int, int, int)}, for a whole pinned page's view. */
    static String check(final long key, final DirectBuffer page, final int pageSize)
    {
        for (int wordIndex = 0; wordIndex < pageSize / Long.BYTES; wordIndex++)
        {
            final long value = page.getLong(wordIndex * Long.BYTES, ByteOrder.BIG_ENDIAN);
            if (value != word(key, wordIndex))
            {
                return "key " + key + " word " + wordIndex + ": expected " + describe(word(key, wordIndex)) +
                    ", found " + describe(value);
            }
        }
        return null;
    }
}
