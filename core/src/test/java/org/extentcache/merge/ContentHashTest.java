package org.extentcache.merge;

import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

class ContentHashTest
{
    @Test
    void equalBytesHashEquallyAndOneBitChangesTheHash()
    {
        final ByteBuffer a = ByteBuffer.allocateDirect(4096);
        final ByteBuffer b = ByteBuffer.allocateDirect(4096);
        try
        {
            for (int i = 0; i < 4096; i++)
            {
                a.put(i, (byte)(i * 31));
                b.put(i, (byte)(i * 31));
            }
            final long addressA = new UnsafeBuffer(a).addressOffset();
            final long addressB = new UnsafeBuffer(b).addressOffset();
            final ContentHash hash = ContentHash.xxh3();
            assertEquals(hash.hash(addressA, 4096), hash.hash(addressB, 4096));
            b.put(4095, (byte)(b.get(4095) ^ 1));
            assertNotEquals(hash.hash(addressA, 4096), hash.hash(addressB, 4096));
        }
        finally
        {
            BufferUtil.free(a);
            BufferUtil.free(b);
        }
    }
}
