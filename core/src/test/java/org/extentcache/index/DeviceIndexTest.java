package org.extentcache.index;

import org.extentcache.frame.FrameArena;
import org.junit.jupiter.api.Test;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static org.extentcache.frame.FrameDescriptor.NO_FRAME;
import static org.junit.jupiter.api.Assertions.*;

class DeviceIndexTest
{
    /** Random inserts and removals against a HashMap, at load factors up to the maximum, with colliding keys. */
    @Test
    void agreesWithHashMapUnderRandomInsertAndRemove()
    {
        final long seed = Long.getLong("extentcache.seed", System.nanoTime());
        final SplittableRandom random = new SplittableRandom(seed);
        final int capacity = 1000;
        try (FrameArena arena = new FrameArena(4096, capacity);
            DeviceIndex index = new DeviceIndex(capacity, arena.metadata()))
        {
            final Map<Long, Integer> model = new HashMap<>();
            final ArrayDeque<Integer> freeFrames = new ArrayDeque<>();
            for (int f = 0; f < capacity; f++)
            {
                freeFrames.add(f);
            }
            for (int op = 0; op < 200_000; op++)
            {
                final long block = random.nextInt(3000) * (random.nextBoolean() ? 1L : 1L << 33);
                final Integer frame = model.get(block);
                final int found = index.find(block);
                assertEquals(null == frame ? NO_FRAME : frame, found, "seed=" + seed + " op=" + op + " block=" + block);
                if (null == frame && !freeFrames.isEmpty())
                {
                    final int f = freeFrames.poll();
                    arena.deviceBlock(f, block);
                    index.insert(block, f);
                    model.put(block, f);
                }
                else if (null != frame && random.nextInt(3) != 0)
                {
                    assertTrue(index.remove(block, frame), "seed=" + seed + " op=" + op);
                    arena.deviceBlock(frame, -1);
                    model.remove(block);
                    freeFrames.add(frame);
                }
                assertEquals(model.size(), index.size(), "seed=" + seed);
            }
            for (final Map.Entry<Long, Integer> e : model.entrySet())
            {
                assertEquals(e.getValue().intValue(), index.findLocked(e.getKey()), "seed=" + seed);
            }
        }
    }

    @Test
    void removeOfWrongFrameLeavesTheEntry()
    {
        try (FrameArena arena = new FrameArena(4096, 8); DeviceIndex index = new DeviceIndex(8, arena.metadata()))
        {
            arena.deviceBlock(3, 42);
            index.insert(42, 3);
            assertFalse(index.remove(42, 4));
            assertFalse(index.remove(43, 3));
            assertEquals(3, index.find(42));
            assertTrue(index.remove(42, 3));
            assertEquals(NO_FRAME, index.find(42));
        }
    }

    @Test
    void costsAboutElevenBytesPerFrame()
    {
        try (FrameArena arena = new FrameArena(4096, 3000); DeviceIndex index = new DeviceIndex(3000, arena.metadata()))
        {
            assertTrue(index.bytesReserved() <= 3000 * 11L, "bytes=" + index.bytesReserved());
        }
    }
}
