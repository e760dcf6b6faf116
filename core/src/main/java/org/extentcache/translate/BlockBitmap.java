package org.extentcache.translate;

/**
 * A fixed-size bit set over device blocks that finds the next or previous set or clear bit in
 * {@code O(log64 size)} word operations, however far away that bit is.
 *
 * <p><b>Layout:</b> {@code words} holds one bit per block. Above it sit two summary trees of 64-way fan-out, one
 * for each kind of search:
 * <pre>
 *   anySet[0]   bit w set  &lt;=&gt; words[w] != 0            (some block in word w is set)
 *   anyClear[0] bit w set  &lt;=&gt; words[w] != -1           (some block in word w is clear)
 *   anySet[k]   bit w set  &lt;=&gt; anySet[k - 1][w] != 0     (likewise anyClear[k])
 * </pre>
 * The top level is a single word. Bits of the last word of {@code words} past {@link #size()} stay clear, so that
 * word always counts as "some bit clear"; searches clamp what they find to {@link #size()}.
 *
 * <p><b>Costs:</b> {@link #set} and {@link #clear} change one word and walk up the summaries only while a word
 * turns empty or non-empty: {@code O(1)} usually, {@code O(log64 size)} at worst. Searches climb until a summary
 * word has a candidate and descend by {@code numberOfTrailingZeros}/{@code numberOfLeadingZeros}: at most
 * {@code 2 * levels + 2} word reads (about 12 for 2^31 bits), no allocation. Memory is
 * {@code size / 8 * (1 + 2/63)} bytes, allocated up front.
 *
 * <p><b>Thread safety:</b> none; {@link ExtentStore} guards it with its lock.
 */
final class BlockBitmap
{
    private static final int WORD_SHIFT = 6;
    private static final int WORD_BITS = 1 << WORD_SHIFT;
    private static final int BIT_MASK = WORD_BITS - 1;

    private final long size;
    private final long[] words;
    private final long[][] anySet;
    private final long[][] anyClear;

    /**
     * @param size number of bits, from 1 to {@code Integer.MAX_VALUE}; all start clear.
     * @throws IllegalArgumentException naming the offending value.
     */
    BlockBitmap(final long size)
    {
        if (size < 1 || size > Integer.MAX_VALUE)
        {
            throw new IllegalArgumentException("size must be from 1 to " + Integer.MAX_VALUE + ": size=" + size);
        }
        this.size = size;
        this.words = new long[wordCount(size)];
        int levels = 0;
        for (long bits = words.length; ; bits = wordCount(bits))
        {
            levels++;
            if (wordCount(bits) == 1)
            {
                break;
            }
        }
        this.anySet = new long[levels][];
        this.anyClear = new long[levels][];
        long bits = words.length;
        for (int level = 0; level < levels; level++)
        {
            anySet[level] = new long[wordCount(bits)];
            anyClear[level] = new long[wordCount(bits)];
            for (long bit = 0; bit < bits; bit++)
            {
                anyClear[level][(int)(bit >>> WORD_SHIFT)] |= 1L << bit;
            }
            bits = wordCount(bits);
        }
    }

    /**
     * @return the number of bits.
     */
    long size()
    {
        return size;
    }

    /**
     * @param index a bit index in {@code [0, size)}.
     * @return whether the bit is set.
     */
    boolean get(final long index)
    {
        return (words[(int)(index >>> WORD_SHIFT)] & (1L << index)) != 0;
    }

    /**
     * Sets a bit.
     *
     * @param index a bit index in {@code [0, size)}.
     */
    void set(final long index)
    {
        final int wordIndex = (int)(index >>> WORD_SHIFT);
        final long before = words[wordIndex];
        final long after = before | (1L << index);
        words[wordIndex] = after;
        if (before == 0)
        {
            markNonEmpty(anySet, wordIndex);
        }
        if (after == -1L)
        {
            markEmpty(anyClear, wordIndex);
        }
    }

    /**
     * Clears a bit.
     *
     * @param index a bit index in {@code [0, size)}.
     */
    void clear(final long index)
    {
        final int wordIndex = (int)(index >>> WORD_SHIFT);
        final long before = words[wordIndex];
        final long after = before & ~(1L << index);
        words[wordIndex] = after;
        if (after == 0)
        {
            markEmpty(anySet, wordIndex);
        }
        if (before == -1L)
        {
            markNonEmpty(anyClear, wordIndex);
        }
    }

    /**
     * @param from first bit index to look at, {@code >= 0}.
     * @return the first set bit at or after {@code from}, or {@link #size()} if there is none.
     */
    long nextSet(final long from)
    {
        return next(from, false, anySet);
    }

    /**
     * @param from first bit index to look at, {@code >= 0}.
     * @return the first clear bit at or after {@code from}, or {@link #size()} if there is none.
     */
    long nextClear(final long from)
    {
        return next(from, true, anyClear);
    }

    /**
     * @param from last bit index to look at, {@code < size}.
     * @return the last set bit at or before {@code from}, or -1 if there is none.
     */
    long previousSet(final long from)
    {
        return previous(from, false, anySet);
    }

    /**
     * @param from last bit index to look at, {@code < size}.
     * @return the last clear bit at or before {@code from}, or -1 if there is none.
     */
    long previousClear(final long from)
    {
        return previous(from, true, anyClear);
    }

    private long next(final long from, final boolean clearBits, final long[][] summary)
    {
        if (from >= size)
        {
            return size;
        }
        int index = (int)(from >>> WORD_SHIFT);
        final long first = word(index, clearBits) & (-1L << from);
        if (first != 0)
        {
            return Math.min(size, ((long)index << WORD_SHIFT) + Long.numberOfTrailingZeros(first));
        }

        int level = 0;
        long target = (long)index + 1;
        while (true)
        {
            if (level == summary.length)
            {
                return size;
            }
            final long[] bits = summary[level];
            final int summaryIndex = (int)(target >>> WORD_SHIFT);
            if (summaryIndex >= bits.length)
            {
                return size;
            }
            final long candidates = bits[summaryIndex] & (-1L << target);
            if (candidates != 0)
            {
                index = (summaryIndex << WORD_SHIFT) + Long.numberOfTrailingZeros(candidates);
                break;
            }
            target = (long)summaryIndex + 1;
            level++;
        }
        while (level > 0)
        {
            level--;
            index = (index << WORD_SHIFT) + Long.numberOfTrailingZeros(summary[level][index]);
        }
        return Math.min(size, ((long)index << WORD_SHIFT) + Long.numberOfTrailingZeros(word(index, clearBits)));
    }

    private long previous(final long from, final boolean clearBits, final long[][] summary)
    {
        if (from < 0)
        {
            return -1;
        }
        int index = (int)(from >>> WORD_SHIFT);
        final long first = word(index, clearBits) & (-1L >>> (BIT_MASK - (from & BIT_MASK)));
        if (first != 0)
        {
            return ((long)index << WORD_SHIFT) + BIT_MASK - Long.numberOfLeadingZeros(first);
        }

        int level = 0;
        long target = (long)index - 1;
        while (true)
        {
            if (target < 0 || level == summary.length)
            {
                return -1;
            }
            final int summaryIndex = (int)(target >>> WORD_SHIFT);
            final long candidates = summary[level][summaryIndex] & (-1L >>> (BIT_MASK - (target & BIT_MASK)));
            if (candidates != 0)
            {
                index = (summaryIndex << WORD_SHIFT) + BIT_MASK - Long.numberOfLeadingZeros(candidates);
                break;
            }
            target = (long)summaryIndex - 1;
            level++;
        }
        while (level > 0)
        {
            level--;
            index = (index << WORD_SHIFT) + BIT_MASK - Long.numberOfLeadingZeros(summary[level][index]);
        }
        return ((long)index << WORD_SHIFT) + BIT_MASK - Long.numberOfLeadingZeros(word(index, clearBits));
    }

    private long word(final int index, final boolean clearBits)
    {
        return clearBits ? ~words[index] : words[index];
    }

    private static void markNonEmpty(final long[][] summary, final int wordIndex)
    {
        int index = wordIndex;
        for (final long[] bits : summary)
        {
            final int summaryIndex = index >>> WORD_SHIFT;
            final long before = bits[summaryIndex];
            bits[summaryIndex] = before | (1L << index);
            if (before != 0)
            {
                return;
            }
            index = summaryIndex;
        }
    }

    private static void markEmpty(final long[][] summary, final int wordIndex)
    {
        int index = wordIndex;
        for (final long[] bits : summary)
        {
            final int summaryIndex = index >>> WORD_SHIFT;
            final long after = bits[summaryIndex] & ~(1L << index);
            bits[summaryIndex] = after;
            if (after != 0)
            {
                return;
            }
            index = summaryIndex;
        }
    }

    private static int wordCount(final long bits)
    {
        return (int)((bits + BIT_MASK) >>> WORD_SHIFT);
    }
}
