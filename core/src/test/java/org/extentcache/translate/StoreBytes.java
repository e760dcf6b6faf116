package org.extentcache.translate;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;

/** Bytes in and out of an {@link ExtentStore} for its tests: a filled buffer, a file's contents, a page's block. */
final class StoreBytes
{
    private StoreBytes()
    {
    }

    /**
     * @param value  the byte every position holds.
     * @param length bytes.
     * @return a heap buffer of {@code length} bytes, each {@code value}.
     */
    static ByteBuffer filled(final int value, final int length)
    {
        final byte[] bytes = new byte[length];
        Arrays.fill(bytes, (byte)value);
        return ByteBuffer.wrap(bytes);
    }

    /**
     * @return every byte of the file, read through the store.
     */
    static byte[] contents(final ExtentStore store, final long file) throws IOException
    {
        final ByteBuffer bytes = ByteBuffer.allocate((int)store.size(file));
        store.read(file, 0, bytes);
        return bytes.array();
    }

    /**
     * @return the device block the file's page maps to.
     */
    static long blockOf(final ExtentStore store, final long file, final long page) throws IOException
    {
        final Extent extent = new Extent();
        store.translate(file, page, extent);
        return extent.blockOf(page);
    }
}
