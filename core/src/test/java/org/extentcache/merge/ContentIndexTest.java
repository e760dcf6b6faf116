package org.extentcache.merge;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ContentIndexTest
{
    @Test
    void domainsAreKeptApart()
    {
        try (ContentIndex index = new ContentIndex(8))
        {
            assertTrue(index.insert(1, 5, 0, 42));
            assertTrue(index.insert(2, 5, 1, 42));
            final int[] found = new int[ContentIndex.MAX_CANDIDATES];
            assertEquals(1, index.candidates(0, 42, found));
            assertEquals(1, found[0]);
            assertEquals(1, index.candidates(1, 42, found));
            assertEquals(2, found[0]);
            assertEquals(0, index.candidates(2, 42, found));
            assertEquals(5, index.generation(1));
            assertTrue(index.insert(1, 6, 0, 43), "re-indexing a frame replaces its entry");
            assertEquals(0, index.candidates(0, 42, found));
            assertEquals(1, index.candidates(0, 43, found));
            assertEquals(6, index.generation(1));
            assertTrue(index.remove(1));
            assertFalse(index.remove(1));
            assertEquals(0, index.candidates(0, 42, found));
        }
    }

    @Test
    void aCrowdOfEqualHashesIsCapped()
    {
        try (ContentIndex index = new ContentIndex(16))
        {
            for (int frame = 0; frame < 16; frame++)
            {
                assertEquals(frame < ContentIndex.MAX_CANDIDATES, index.insert(frame, 1, 0, 7), "frame " + frame);
            }
            assertEquals(ContentIndex.MAX_CANDIDATES, index.size());
        }
    }

    /** A seeded random sequence against a model, with a hash that collides often; replay with -Dextentcache.seed=N. */
    @Test
    void agreesWithAModel()
    {
        final long seed = Long.getLong("extentcache.seed", System.nanoTime());
        final SplittableRandom random = new SplittableRandom(seed);
        final int frames = 64;
        final Map<Integer, long[]> model = new HashMap<>();
        final int[] found = new int[ContentIndex.MAX_CANDIDATES];
        try (ContentIndex index = new ContentIndex(frames))
        {
            for (int op = 0; op < 200_000; op++)
            {
                final int frame = random.nextInt(frames);
                final int domain = random.nextInt(3);
                final long hash = random.nextInt(6);
                final String where = "seed=" + seed + " op=" + op + " frame=" + frame;
                final int choice = random.nextInt(3);
                if (choice == 0)
                {
                    model.remove(frame);
                    final long crowd = model.values().stream().filter(k -> k[0] == domain && k[1] == hash).count();
                    final boolean inserted = index.insert(frame, op, domain, hash);
                    assertEquals(crowd < ContentIndex.MAX_CANDIDATES, inserted, where);
                    if (inserted)
                    {
                        model.put(frame, new long[]{domain, hash});
                    }
                }
                else if (choice == 1)
                {
                    assertEquals(null != model.remove(frame), index.remove(frame), where);
                }
                else
                {
                    final Set<Integer> expected = new HashSet<>();
                    model.forEach((f, k) -> {
                        if (k[0] == domain && k[1] == hash)
                        {
                            expected.add(f);
                        }
                    });
                    final int n = index.candidates(domain, hash, found);
                    final Set<Integer> actual = new HashSet<>();
                    for (int i = 0; i < n; i++)
                    {
                        actual.add(found[i]);
                    }
                    assertEquals(expected, actual, where);
                }
                assertEquals(model.size(), index.size(), where);
            }
        }
    }
}
