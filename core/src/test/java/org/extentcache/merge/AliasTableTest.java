package org.extentcache.merge;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.extentcache.frame.FrameDescriptor.NO_FRAME;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AliasTableTest
{
    @Test
    void addFindRemoveKeepsTheOtherAliasesOfAFrame()
    {
        try (AliasTable aliases = new AliasTable(8, 4))
        {
            assertTrue(aliases.add(100, 2));
            assertTrue(aliases.add(200, 2));
            assertTrue(aliases.add(300, 1));
            assertEquals(2, aliases.find(100));
            assertEquals(2, aliases.aliasCount(2));
            assertEquals(2, aliases.remove(100));
            assertEquals(NO_FRAME, aliases.find(100));
            assertEquals(2, aliases.find(200), "removing one alias leaves the frame's other alias");
            assertEquals(1, aliases.find(300));
            assertEquals(NO_FRAME, aliases.remove(100));
            assertEquals(1, aliases.removeAll(2));
            assertFalse(aliases.hasAliases(2));
            assertEquals(1, aliases.size());
        }
    }

    @Test
    void aFullTableRefusesAndAnAliasCannotBeAddedTwice()
    {
        try (AliasTable aliases = new AliasTable(2, 2))
        {
            assertTrue(aliases.add(1, 0));
            assertThrows(IllegalStateException.class, () -> aliases.add(1, 1));
            assertTrue(aliases.add(2, 0));
            assertFalse(aliases.add(3, 1), "full");
            aliases.remove(1);
            assertTrue(aliases.add(3, 1), "a removed record is reused");
            assertThrows(IllegalArgumentException.class, () -> aliases.add(4, 2));
        }
    }

    @Test
    void popAliasTakesEachAliasOnce()
    {
        try (AliasTable aliases = new AliasTable(4, 1))
        {
            aliases.add(7, 0);
            aliases.add(8, 0);
            final long first = aliases.popAlias(0);
            final long second = aliases.popAlias(0);
            assertEquals(15, first + second);
            assertEquals(AliasTable.NO_BLOCK, aliases.popAlias(0));
        }
    }

    /** A seeded random sequence against a map; replay with -Dextentcache.seed=N. */
    @Test
    void agreesWithAMapModel()
    {
        final long seed = Long.getLong("extentcache.seed", System.nanoTime());
        final SplittableRandom random = new SplittableRandom(seed);
        final int frames = 16;
        final int capacity = 64;
        final Map<Long, Integer> model = new HashMap<>();
        try (AliasTable aliases = new AliasTable(capacity, frames))
        {
            for (int op = 0; op < 200_000; op++)
            {
                final long block = random.nextLong(256) * 4096 + random.nextInt(3);
                final int choice = random.nextInt(10);
                final String where = "seed=" + seed + " op=" + op + " block=" + block;
                if (choice < 4)
                {
                    if (!model.containsKey(block))
                    {
                        final int frame = random.nextInt(frames);
                        final boolean added = aliases.add(block, frame);
                        assertEquals(model.size() < capacity, added, where);
                        if (added)
                        {
                            model.put(block, frame);
                        }
                    }
                }
                else if (choice < 7)
                {
                    final Integer frame = model.remove(block);
                    assertEquals(null == frame ? NO_FRAME : frame, aliases.remove(block), where);
                }
                else if (choice < 8)
                {
                    final int frame = random.nextInt(frames);
                    final List<Long> dropped = new ArrayList<>();
                    model.forEach((b, f) -> {
                        if (f == frame)
                        {
                            dropped.add(b);
                        }
                    });
                    dropped.forEach(model::remove);
                    assertEquals(dropped.size(), aliases.removeAll(frame), where);
                }
                else
                {
                    final Integer frame = model.get(block);
                    assertEquals(null == frame ? NO_FRAME : frame, aliases.find(block), where);
                }
                assertEquals(model.size(), aliases.size(), where);
            }
            for (final Map.Entry<Long, Integer> e : model.entrySet())
            {
                assertEquals(e.getValue(), aliases.find(e.getKey()), "seed=" + seed);
            }
            for (int frame = 0; frame < frames; frame++)
            {
                final int f = frame;
                assertEquals(model.values().stream().filter(v -> v == f).count(), aliases.aliasCount(frame),
                    "seed=" + seed);
            }
        }
    }
}
