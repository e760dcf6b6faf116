package org.extentcache;

import java.nio.ByteBuffer;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Page contents the tests write and check: bytes all of one value, and pages of one repeated 8-byte stamp; and the
 * bytes a cached file reads.
 */
final class TestPages
{
    static final int PAGE = 4096;

    private TestPages()
    {
    }

    /**
     * @return the bytes one read of {@code length} bytes at {@code position} returns (zeros past what it read).
     */
    static byte[] read(final CachedFile file, final long position, final int length) throws java.io.IOException
    {
        final ByteBuffer dst = ByteBuffer.allocate(length);
        file.read(position, dst);
        return dst.array();
    }

    /**
     * @return a heap buffer of {@code length} bytes, each {@code value}.
     */
    static ByteBuffer filled(final int length, final int value)
    {
        final byte[] bytes = new byte[length];
        Arrays.fill(bytes, (byte)value);
        return ByteBuffer.wrap(bytes);
    }

    /**
     * Fails, naming the first byte that is not {@code value}.
     */
    static void assertBytes(final int value, final byte[] bytes, final String what)
    {
        for (int i = 0; i < bytes.length; i++)
        {
            if (bytes[i] != (byte)value)
            {
                fail(what + ": byte " + i + " is " + bytes[i] + ", expected " + (byte)value);
            }
        }
    }

    /**
     * @return a page holding {@code stamp} in every 8-byte word, ready to write.
     */
    static ByteBuffer stamped(final long stamp)
    {
        final ByteBuffer page = ByteBuffer.allocate(PAGE);
        while (page.hasRemaining())
        {
            page.putLong(stamp);
        }
        return page.flip();
    }

    /**
     * Checks that the page at {@code offset} holds one stamp in every word: not torn.
     *
     * @return the stamp.
     * @throws AssertionError naming the page and the first word that differs.
     */
    static long stampOf(final ByteBuffer bytes, final int offset, final String page)
    {
        final long first = bytes.getLong(offset);
        for (int i = 8; i < PAGE; i += 8)
        {
            final long word = bytes.getLong(offset + i);
            if (word != first)
            {
                throw new AssertionError("torn page " + page + ": stamp " + first + " at byte 0 but " + word +
                    " at byte " + i);
            }
        }
        return first;
    }
}
