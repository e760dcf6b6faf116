package org.extentcache.merge;

import net.openhft.hashing.LongHashFunction;

/**
 * The 64-bit hash of a frame's bytes that content merging looks frames up by. A match only nominates a frame: the
 * merge compares the bytes before it shares anything, so a weak hash costs comparisons, never correctness (the
 * tests run with one that sends every page to a handful of values).
 *
 * <p>Implementations must be thread-safe and must not allocate.
 */
@FunctionalInterface
public interface ContentHash
{
    /**
     * @param address off-heap address of the bytes.
     * @param length  how many bytes.
     * @return their hash.
     */
    long hash(long address, int length);

    /**
     * XXH3 (64-bit) from OpenHFT's zero-allocation-hashing, over off-heap memory without copying. On JDK 24 and
     * later its first use prints the JDK's one-time warning about {@code sun.misc.Unsafe}, which the library uses;
     * {@code --sun-misc-unsafe-memory-access=allow} silences it.
     *
     * @return the default hash.
     */
    static ContentHash xxh3()
    {
        return Xxh3.INSTANCE;
    }

    /** Holder, so the library's class is loaded only when merging is used. */
    final class Xxh3 implements ContentHash
    {
        static final Xxh3 INSTANCE = new Xxh3();

        private final LongHashFunction function = LongHashFunction.xx3();

        private Xxh3()
        {
        }

        @Override
        public long hash(final long address, final int length)
        {
            return function.hashMemory(address, length);
        }
    }
}
