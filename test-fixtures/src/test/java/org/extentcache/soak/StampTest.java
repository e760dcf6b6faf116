package org.extentcache.soak;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The soak's stamps decode back to the operation and offset that wrote them. */
class StampTest
{
    @Test
    void mixIsABijectionUndoneByUnmix()
    {
        final SplittableRandom random = new SplittableRandom(1);
        for (int i = 0; i < 100_000; i++)
        {
            final long value = random.nextLong();
            assertEquals(value, Stamp.unmix(Stamp.mix(value)));
        }
        assertEquals(0, Stamp.unmix(Stamp.mix(0)));
        assertEquals(-1, Stamp.unmix(Stamp.mix(-1)));
    }

    @Test
    void fillWritesEachWordsBytesLittleEndianFromAnyOffset()
    {
        final long id = Stamp.id(3, 12_345);
        for (int position = 0; position < 24; position++)
        {
            final byte[] bytes = new byte[37];
            Stamp.fill(id, position, bytes, bytes.length);
            for (int i = 0; i < bytes.length; i++)
            {
                final long at = position + i;
                assertEquals((byte)(Stamp.word(id, at >>> 3) >>> (8 * (at & 7))), bytes[i], "offset " + at);
            }
        }
    }

    @Test
    void describeNamesTheOperationAndSaysWhenBytesMoved()
    {
        final byte[] bytes = new byte[64];
        Stamp.fill(Stamp.id(2, 77), 4096, bytes, bytes.length);
        assertTrue(Stamp.describe(bytes, bytes.length, 13, 4096, 100).endsWith("bytes of op 77 of thread 2"),
            Stamp.describe(bytes, bytes.length, 13, 4096, 100));
        final String moved = Stamp.describe(bytes, bytes.length, 13, 8192, 100);
        assertTrue(moved.contains("op 77 of thread 2 written for file offset 4104"), moved);
        assertTrue(Stamp.describe(new byte[16], 16, 3, 0, 100).contains("zeros"));
        assertTrue(Stamp.describe(bytes, bytes.length, 13, 4096, 50).contains("not one stamp"),
            "an op past the last one issued is not a stamp");
        assertTrue(Stamp.describe(bytes, 12, 9, 4096, 100).contains("not wholly read"));
    }

    @Test
    void twoOperationsNeverWriteTheSameWordAtOneOffset()
    {
        assertNotEquals(Stamp.word(Stamp.id(0, 1), 5), Stamp.word(Stamp.id(0, 2), 5));
        assertNotEquals(Stamp.word(Stamp.id(0, 1), 5), Stamp.word(Stamp.id(1, 1), 5));
        assertNotEquals(Stamp.word(Stamp.id(0, 1), 5), Stamp.word(Stamp.id(0, 1), 6));
    }
}
