package org.extentcache.index;

/**
 * The hash that places device blocks in the cache's open-addressing tables ({@link DeviceIndex} and the merge
 * package's alias table).
 */
public final class BlockHash
{
    private BlockHash()
    {
    }

    /**
     * Stafford's variant 13 of the MurmurHash3 finalizer: every input bit affects every output bit, and it is a
     * bijection on {@code long}, so distinct blocks never collide in the full 64 bits.
     *
     * @param block device block (or any {@code long} key).
     * @return its mixed bits.
     */
    public static long mix(final long block)
    {
        long z = block;
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
