package org.extentcache.soak;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The bytes the soak writes, stamped with the operation that wrote them (xfstests {@code fsx} style), so that a bad
 * read names the operation whose bytes came back.
 *
 * <p>Every 8-byte-aligned word of a file, at byte offset {@code 8 * w}, written by operation {@code id} holds
 * {@code mix(((id + 1) << INDEX_BITS) | (w & INDEX_MASK))}, little-endian; a write that starts or ends inside a word
 * writes only its part of it. {@code mix} is the SplitMix64 finalizer, a bijection, so every byte depends on both
 * the operation and the offset (two operations never write the same byte pattern at one offset, and a page moved
 * to the wrong offset is told apart) and a whole word can be decoded back:
 * <pre>
 *   unmix(word):  63                          24 23                 0
 *                 +------------------------------+-------------------+
 *                 |   id + 1   (40 bits)         | w mod 2^24        |
 *                 +------------------------------+-------------------+
 *   id:           63                       THREAD_BITS    0
 *                 +------------------------------+---------+
 *                 |   the thread's op number     | thread  |
 *                 +------------------------------+---------+
 * </pre>
 * A word of zeros is a hole, a punched range or bytes never written.
 */
final class Stamp
{
    /** Bits of the word index kept in a stamp: offsets are told apart modulo 128 MiB. */
    static final int INDEX_BITS = 24;
    static final long INDEX_MASK = (1L << INDEX_BITS) - 1;
    /** Bits of the thread number in an operation id. */
    static final int THREAD_BITS = 4;
    static final int MAX_THREADS = 1 << THREAD_BITS;

    private static final long MIX1 = 0xbf58476d1ce4e5b9L;
    private static final long MIX2 = 0x94d049bb133111ebL;
    private static final long UNMIX1 = inverse(MIX1);
    private static final long UNMIX2 = inverse(MIX2);
    private static final VarHandle LITTLE_ENDIAN_LONGS =
        MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private Stamp()
    {
    }

    /**
     * @return the id of a thread's {@code op}-th operation.
     */
    static long id(final int thread, final long op)
    {
        return (op << THREAD_BITS) | thread;
    }

    static int threadOf(final long id)
    {
        return (int)(id & (MAX_THREADS - 1));
    }

    static long opOf(final long id)
    {
        return id >>> THREAD_BITS;
    }

    /**
     * @return the stamp word operation {@code id} writes at word {@code wordIndex} (byte offset {@code 8 * wordIndex}).
     */
    static long word(final long id, final long wordIndex)
    {
        return mix(((id + 1) << INDEX_BITS) | (wordIndex & INDEX_MASK));
    }

    /**
     * Fills {@code dst[0, length)} with the bytes operation {@code id} writes at file offsets {@code position...}.
     */
    static void fill(final long id, final long position, final byte[] dst, final int length)
    {
        int i = 0;
        while (i < length)
        {
            final long at = position + i;
            final long word = word(id, at >>> 3);
            if (0 == (at & 7) && i + Long.BYTES <= length)
            {
                LITTLE_ENDIAN_LONGS.set(dst, i, word);
                i += Long.BYTES;
                continue;
            }
            for (int b = (int)(at & 7); b < Long.BYTES && i < length; b++)
            {
                dst[i++] = (byte)(word >>> (Byte.SIZE * b));
            }
        }
    }

    /**
     * Says whose bytes sit at {@code bytes[index]}, file offset {@code offsetOfIndex0 + index}: decodes the aligned
     * word around it if {@code bytes} holds all of it.
     *
     * @param maxOp the largest op number any thread has issued; a word that decodes past it is not a stamp.
     */
    static String describe(final byte[] bytes, final int length, final int index, final long offsetOfIndex0,
        final long maxOp)
    {
        final long at = offsetOfIndex0 + index;
        final int aligned = index - (int)(at & 7);
        final String single = String.format("byte 0x%02x", bytes[index] & 0xFF);
        if (aligned < 0 || aligned + Long.BYTES > length)
        {
            return single + " (its word was not wholly read)";
        }
        long word = 0;
        for (int k = Long.BYTES - 1; k >= 0; k--)
        {
            word = (word << Byte.SIZE) | (bytes[aligned + k] & 0xFF);
        }
        if (0 == word)
        {
            return single + " in a word of zeros";
        }
        final long value = unmix(word);
        final long id = (value >>> INDEX_BITS) - 1;
        final long index24 = value & INDEX_MASK;
        if (id < 0 || opOf(id) > maxOp)
        {
            return single + String.format(" in word 0x%016x, not one stamp (torn, mixed or foreign bytes)", word);
        }
        final String who = "bytes of op " + opOf(id) + " of thread " + threadOf(id);
        if (index24 == ((at >>> 3) & INDEX_MASK))
        {
            return single + ", " + who;
        }
        return single + ", " + who + " written for file offset " + (index24 << 3) + " (mod " + ((INDEX_MASK + 1) << 3) +
            "): moved here by a clone, or misplaced";
    }

    /** The SplitMix64 finalizer: a bijection of 64-bit words. */
    static long mix(final long value)
    {
        long x = value;
        x = (x ^ (x >>> 30)) * MIX1;
        x = (x ^ (x >>> 27)) * MIX2;
        return x ^ (x >>> 31);
    }

    /** The inverse of {@link #mix}. */
    static long unmix(final long value)
    {
        long x = unshift(value, 31);
        x = unshift(x * UNMIX2, 27);
        return unshift(x * UNMIX1, 30);
    }

    /** Inverts {@code x ^ (x >>> shift)}. */
    private static long unshift(final long value, final int shift)
    {
        long x = value;
        for (int bits = shift; bits < Long.SIZE; bits += shift)
        {
            x = value ^ (x >>> shift);
        }
        return x;
    }

    /** The multiplicative inverse of an odd number modulo 2^64 (Newton's iteration doubles the correct bits). */
    private static long inverse(final long odd)
    {
        long x = odd;
        for (int i = 0; i < 5; i++)
        {
            x *= 2 - odd * x;
        }
        return x;
    }
}
