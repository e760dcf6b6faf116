package org.extentcache.soak;

import java.util.Arrays;

/**
 * The in-heap model of one file: its bytes and its size. Bytes at and past the size are always zeros, as the extent
 * store keeps them on the device (its "zero tail"), so growing a file exposes zeros. Owned by one soak thread; not
 * thread-safe.
 */
final class FileModel
{
    final long id;
    final byte[] bytes;
    long size;

    /**
     * @param id       the extent store's file id.
     * @param capacity the largest size the soak lets the file reach.
     */
    FileModel(final long id, final int capacity)
    {
        this.id = id;
        this.bytes = new byte[capacity];
    }

    /**
     * @return a model of a whole-file clone of this file.
     */
    FileModel cloneAs(final long cloneId)
    {
        final FileModel clone = new FileModel(cloneId, bytes.length);
        System.arraycopy(bytes, 0, clone.bytes, 0, bytes.length);
        clone.size = size;
        return clone;
    }

    /** A write of {@code length} bytes of {@code data} at {@code position}; the file grows to cover it. Writing
     * nothing changes nothing, not even the size. */
    void write(final long position, final byte[] data, final int length)
    {
        if (0 == length)
        {
            return;
        }
        System.arraycopy(data, 0, bytes, (int)position, length);
        size = Math.max(size, position + length);
    }

    /** {@code [position, position + length)} reads as zeros; the size does not change. */
    void punchHole(final long position, final long length)
    {
        final long end = Math.min(size, position + length);
        if (position < end)
        {
            Arrays.fill(bytes, (int)position, (int)end, (byte)0);
        }
    }

    void truncate(final long newSize)
    {
        if (newSize < size)
        {
            Arrays.fill(bytes, (int)newSize, (int)size, (byte)0);
        }
        size = newSize;
    }

    /** Clone-range from {@code src}: its bytes {@code [srcPos, srcPos + length)} at {@code dstPos} here. */
    void cloneRangeFrom(final FileModel src, final long srcPos, final long dstPos, final long length)
    {
        System.arraycopy(src.bytes, (int)srcPos, bytes, (int)dstPos, (int)length);
        size = Math.max(size, dstPos + length);
    }

    @Override
    public String toString()
    {
        return "file " + id + " (size " + size + ")";
    }
}
