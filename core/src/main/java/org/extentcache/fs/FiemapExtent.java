package org.extentcache.fs;

/**
 * One extent of a file as {@code FS_IOC_FIEMAP} reports it ({@code struct fiemap_extent}): {@code length} bytes of
 * the file starting at byte {@code logical} live on the file system's device starting at byte {@code physical}.
 *
 * <p>The physical address is a snapshot taken when {@link Fiemap#extents} ran: a later write to a copy-on-write
 * file system (XFS with reflink, btrfs) moves the written range, and defragmentation or a clone can move or share
 * it. Whether {@code physical} names real, readable bytes at all depends on the {@link #flags() flags}: see
 * {@link #hasStablePhysical()}.
 *
 * <p>Thread safety: immutable.
 *
 * @param logical  byte offset of the extent in the file, {@code >= 0}.
 * @param physical byte offset of the extent on the device, {@code >= 0}; meaningless (often 0) when
 *                 {@link #hasStablePhysical()} is false.
 * @param length   length of the extent in bytes, {@code >= 0}; {@code logical + length} does not overflow.
 * @param flags    {@code FIEMAP_EXTENT_*} bits, see the constants in {@link Fiemap}.
 */
public record FiemapExtent(long logical, long physical, long length, int flags)
{
    /**
     * Flags any of which mean {@link #physical()} does not name this file's data as plain bytes on the device: not
     * yet allocated ({@code UNKNOWN}, {@code DELALLOC}), transformed ({@code ENCODED}, {@code DATA_ENCRYPTED}),
     * packed with other data ({@code NOT_ALIGNED}, {@code DATA_INLINE}, {@code DATA_TAIL}), or allocated but reading
     * as zeros ({@code UNWRITTEN}).
     */
    private static final int UNSTABLE_PHYSICAL_FLAGS = Fiemap.FIEMAP_EXTENT_UNKNOWN
        | Fiemap.FIEMAP_EXTENT_DELALLOC
        | Fiemap.FIEMAP_EXTENT_ENCODED
        | Fiemap.FIEMAP_EXTENT_DATA_ENCRYPTED
        | Fiemap.FIEMAP_EXTENT_NOT_ALIGNED
        | Fiemap.FIEMAP_EXTENT_DATA_INLINE
        | Fiemap.FIEMAP_EXTENT_DATA_TAIL
        | Fiemap.FIEMAP_EXTENT_UNWRITTEN;

    /**
     * Validates the extent.
     *
     * @throws IllegalArgumentException if a value is negative or {@code logical + length} overflows, naming the
     *                                  values.
     */
    public FiemapExtent
    {
        if (logical < 0 || physical < 0 || length < 0 || logical + length < 0)
        {
            throw new IllegalArgumentException(
                "extent values must be >= 0 and logical + length must not overflow: logical=" + logical +
                ", physical=" + physical + ", length=" + length);
        }
    }

    /**
     * @return the byte offset in the file just past this extent, {@code logical + length}.
     */
    public long logicalEnd()
    {
        return logical + length;
    }

    /**
     * @param flag one or more {@code FIEMAP_EXTENT_*} bits.
     * @return true if every bit of {@code flag} is set on this extent.
     */
    public boolean has(final int flag)
    {
        return (flags & flag) == flag;
    }

    /**
     * @return true if the kernel reports the extent's blocks as shared with another file or snapshot
     *         ({@code FIEMAP_EXTENT_SHARED}), as after a reflink copy.
     */
    public boolean isShared()
    {
        return has(Fiemap.FIEMAP_EXTENT_SHARED);
    }

    /**
     * Whether {@link #physical()} names real on-disk bytes of this file, stored plainly, that can be read at that
     * address and used as a key for them: none of {@code UNKNOWN}, {@code DELALLOC}, {@code ENCODED},
     * {@code DATA_ENCRYPTED}, {@code NOT_ALIGNED}, {@code DATA_INLINE}, {@code DATA_TAIL} or {@code UNWRITTEN} is set.
     *
     * @return true if the physical address is usable as the location of this extent's bytes.
     */
    public boolean hasStablePhysical()
    {
        return (flags & UNSTABLE_PHYSICAL_FLAGS) == 0;
    }

    @Override
    public String toString()
    {
        return "FiemapExtent{logical=" + logical + ", physical=" + physical + ", length=" + length +
            ", flags=0x" + Integer.toHexString(flags) + ' ' + Fiemap.flagNames(flags) + '}';
    }
}
