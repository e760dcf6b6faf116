package org.extentcache.shm;

import org.extentcache.TestThreads;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Threads of three clients (three joins in one JVM: three mappings, three slots) racing loads, lock-free reads,
 * pins and invalidations over 4x more keys than frames, so the sweep reuses frames under readers all the time. Every
 * page holds words derived from its key (the multiplier is odd, so a word names its key: the message says whose
 * bytes a bad read saw); a read the cache reports valid must hold exactly its key's words (the
 * seqlock validation), a pinned view must keep its words until unpinned, and the books must add up at the end.
 * Seeded: {@code -Dextentcache.seed=N} replays the operation choices (not the interleaving).
 */
class SharedCacheRaceTest
{
    private static final int FRAMES = 32;
    private static final int KEYS = 128;
    private static final long RUN_NANOS = TimeUnit.SECONDS.toNanos(3);

    private Path dir;
    private final List<SharedCache> clients = new ArrayList<>();

    @BeforeEach
    void setUp() throws IOException
    {
        dir = ShmDir.create();
        for (int i = 0; i < 3; i++)
        {
            clients.add(SharedCache.builder(dir.resolve("cache")).frames(FRAMES).leaseMillis(5000).join());
        }
    }

    @AfterEach
    void tearDown() throws IOException
    {
        for (final SharedCache client : clients)
        {
            client.close();
        }
        ShmDir.delete(dir);
    }

    static long word(final long key, final int index)
    {
        return key * 0x9E3779B97F4A7C15L ^ index;
    }

    static final SharedCache.PageLoader STAMP = (key, page) ->
    {
        for (int i = 0; page.hasRemaining(); i++)
        {
            page.putLong(word(key, i));
        }
    };

    /** @return null if every word is the key's, else what is wrong. */
    static String check(final long key, final ByteBuffer page)
    {
        for (int i = 0; i < page.limit() / Long.BYTES; i++)
        {
            final long got = page.getLong(i * Long.BYTES);
            if (got != word(key, i))
            {
                return "key " + key + " word " + i + ": got " + Long.toHexString(got) + " (key " +
                    (got ^ i) * 0xF1DE83E19937733DL + "'s?)";
            }
        }
        return null;
    }

    @Test
    void validatedReadsAndPinnedViewsNeverShowAnotherKeysBytes() throws Exception
    {
        final long seed = Long.getLong("extentcache.seed", System.nanoTime());
        System.out.println("SharedCacheRaceTest seed " + seed + " (replay with -Dextentcache.seed=" + seed + ")");
        final AtomicBoolean failed = new AtomicBoolean();
        final AtomicLong reads = new AtomicLong();
        final AtomicLong staleReads = new AtomicLong();
        final AtomicLong pins = new AtomicLong();
        final List<CompletableFuture<String>> tasks = new ArrayList<>();
        for (int t = 0; t < 4; t++)
        {
            final SharedCache client = clients.get(t % clients.size());
            final SplittableRandom random = new SplittableRandom(seed + t);
            tasks.add(CompletableFuture.supplyAsync(() -> run(client, random, failed, reads, staleReads, pins),
                TestThreads.POOL));
        }
        for (final CompletableFuture<String> task : tasks)
        {
            final String error = task.get(60, TimeUnit.SECONDS);
            assertEquals(null, error, "seed " + seed);
        }
        System.out.println("SharedCacheRaceTest: " + reads.get() + " validated reads, " + staleReads.get() +
            " found stale, " + pins.get() + " pins, " + clients.get(0).stats());
        final SharedCacheStats stats = clients.get(0).stats();
        assertEquals(FRAMES, stats.framesReady() + stats.framesLoading() + stats.framesDropped() +
            stats.framesLost() + stats.framesFree(), stats.toString());
        assertEquals(0, stats.framesLoading(), stats.toString());
        assertTrue(stats.reclaims() > 0, "the sweep never reused a frame: " + stats);
        for (final SharedCache client : clients)
        {
            assertEquals(0, client.stats().pagesPinnedHere());
        }
    }

    private static String run(final SharedCache client, final SplittableRandom random, final AtomicBoolean failed,
        final AtomicLong reads, final AtomicLong staleReads, final AtomicLong pins)
    {
        final ByteBuffer page = ByteBuffer.allocate(client.pageSize());
        final long end = System.nanoTime() + RUN_NANOS;
        try
        {
            while (System.nanoTime() < end && !failed.get())
            {
                final long key = random.nextInt(KEYS);
                final int op = random.nextInt(10);
                long handle = client.lookup(key);
                if (SharedCache.NO_HANDLE == handle || op < 3)
                {
                    handle = client.load(key, STAMP);
                }
                if (op == 9)
                {
                    client.invalidate(handle);
                    continue;
                }
                if (op >= 7)
                {
                    final SharedPage pinned = client.pin(handle);
                    if (null == pinned)
                    {
                        continue;
                    }
                    try
                    {
                        pins.incrementAndGet();
                        final ByteBuffer before = ByteBuffer.allocate(client.pageSize());
                        pinned.buffer().getBytes(0, before, 0, client.pageSize());
                        String error = check(key, before);
                        for (int i = 0; null == error && i < 50; i++)
                        {
                            Thread.onSpinWait();
                            final ByteBuffer now = ByteBuffer.allocate(client.pageSize());
                            pinned.buffer().getBytes(0, now, 0, client.pageSize());
                            error = check(key, now);
                        }
                        if (null != error)
                        {
                            failed.set(true);
                            return "pinned view changed: " + error;
                        }
                    }
                    finally
                    {
                        pinned.close();
                    }
                    continue;
                }
                page.clear();
                if (client.read(handle, 0, page, client.pageSize()))
                {
                    reads.incrementAndGet();
                    final String error = check(key, page);
                    if (null != error)
                    {
                        failed.set(true);
                        return "validated read of another key's bytes: " + error;
                    }
                }
                else
                {
                    staleReads.incrementAndGet();
                }
            }
            return null;
        }
        catch (final IOException ex)
        {
            failed.set(true);
            throw new UncheckedIOException(ex);
        }
        catch (final RuntimeException ex)
        {
            failed.set(true);
            throw ex;
        }
    }
}
