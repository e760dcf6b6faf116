package org.extentcache.translate;

/**
 * The page geometry of an {@link ExtentStore} (pages are the device's blocks) and the checks of the byte and page
 * arguments its operations take.
 *
 * <p>Every check fails fast with {@code IllegalArgumentException} naming the offending values, before the store
 * takes its lock or tells a listener anything.
 *
 * <p><b>Thread safety:</b> immutable; {@link #zeros} is a shared page of zeros that nobody may write.
 */
final class PageGeometry
{
    private final int pageSize;
    private final int pageShift;
    private final long pageMask;
    private final byte[] zeros;

    /**
     * @param blockSize the device's block size.
     * @throws IllegalArgumentException if it is not a power of two.
     */
    PageGeometry(final int blockSize)
    {
        if (blockSize <= 0 || Integer.bitCount(blockSize) != 1)
        {
            throw new IllegalArgumentException("device block size must be a power of two: blockSize=" + blockSize);
        }
        this.pageSize = blockSize;
        this.pageShift = Integer.numberOfTrailingZeros(blockSize);
        this.pageMask = blockSize - 1;
        this.zeros = new byte[blockSize];
    }

    int pageSize()
    {
        return pageSize;
    }

    /**
     * @return {@code log2(pageSize)}: {@code position >>> pageShift()} is the page holding a byte.
     */
    int pageShift()
    {
        return pageShift;
    }

    /**
     * @return {@code pageSize - 1}: {@code position & pageMask()} is a byte's offset in its page.
     */
    long pageMask()
    {
        return pageMask;
    }

    /**
     * @return a page of zeros, shared: read it, never write it.
     */
    byte[] zeros()
    {
        return zeros;
    }

    /**
     * @return how many pages {@code bytes} bytes span from a page boundary.
     */
    long pagesFor(final long bytes)
    {
        return (bytes >>> pageShift) + ((bytes & pageMask) == 0 ? 0 : 1);
    }

    /**
     * @return true if the bytes of {@code page} before end of file ({@code size}) all lie in
     * {@code [position, end)}.
     */
    boolean isWholePage(final long size, final long page, final long position, final long end)
    {
        final long pageStart = page << pageShift;
        return position <= pageStart && Math.min(pageStart + pageSize, size) <= end;
    }

    /**
     * @throws IllegalArgumentException if {@code position} or {@code length} is negative, or their sum overflows.
     */
    static void checkRange(
        final String positionName, final long position, final String lengthName, final long length)
    {
        if (position < 0)
        {
            throw new IllegalArgumentException(positionName + " must be >= 0: " + positionName + "=" + position);
        }
        if (length < 0)
        {
            throw new IllegalArgumentException(lengthName + " must be >= 0: " + lengthName + "=" + length);
        }
        if (position > Long.MAX_VALUE - length)
        {
            throw new IllegalArgumentException(positionName + " + " + lengthName + " overflows: " +
                positionName + "=" + position + " " + lengthName + "=" + length);
        }
    }

    /**
     * @throws IllegalArgumentException if {@code position} is not a multiple of the page size.
     */
    void checkAligned(final String name, final long position)
    {
        if ((position & pageMask) != 0)
        {
            throw new IllegalArgumentException(
                name + " must be page-aligned: " + name + "=" + position + " pageSize=" + pageSize);
        }
    }

    /**
     * @throws IllegalArgumentException if {@code value < 0}, named {@code name} (a page index or a size).
     */
    static void checkNotNegative(final String name, final long value)
    {
        if (value < 0)
        {
            throw new IllegalArgumentException(name + " must be >= 0: " + name + "=" + value);
        }
    }
}
