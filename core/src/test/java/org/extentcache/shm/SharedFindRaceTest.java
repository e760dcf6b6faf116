package org.extentcache.shm;

import org.extentcache.TestThreads;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * One key, loaded at once by threads of two clients, over and over (invalidated between rounds): it must be loaded
 * once per round, into one frame. A load that finds the key absent under the allocation lock claims a frame for it,
 * so the look under the lock must not miss a frame that another client's load publishes (LOADING to READY, a CAS done
 * outside the lock) while it looks.
 */
class SharedFindRaceTest
{
    private static final int ROUNDS = 300_000;

    private Path dir;
    private final List<SharedCache> clients = new ArrayList<>();

    @BeforeEach
    void setUp() throws IOException
    {
        dir = ShmDir.create();
        for (int i = 0; i < 2; i++)
        {
            clients.add(SharedCache.builder(dir.resolve("cache")).frames(16).leaseMillis(5000).join());
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

    @Test
    void aKeyLoadedAtOnceByTwoClientsIsLoadedOnce() throws Exception
    {
        final CyclicBarrier start = new CyclicBarrier(2);
        final long[][] handles = new long[2][ROUNDS];
        final List<CompletableFuture<Void>> tasks = new ArrayList<>();
        for (int t = 0; t < 2; t++)
        {
            final SharedCache client = clients.get(t);
            final long[] mine = handles[t];
            tasks.add(CompletableFuture.runAsync(() ->
            {
                try
                {
                    for (int round = 0; round < ROUNDS; round++)
                    {
                        start.await(10, TimeUnit.SECONDS);
                        mine[round] = client.load(round, SharedCacheRaceTest.STAMP);
                    }
                }
                catch (final IOException ex)
                {
                    throw new UncheckedIOException(ex);
                }
                catch (final Exception ex)
                {
                    throw new IllegalStateException(ex);
                }
            }, TestThreads.POOL));
        }
        for (final CompletableFuture<Void> task : tasks)
        {
            task.get(120, TimeUnit.SECONDS);
        }
        int twice = 0;
        for (int round = 0; round < ROUNDS; round++)
        {
            if (handles[0][round] != handles[1][round])
            {
                twice++;
            }
        }
        System.out.println("SharedFindRaceTest: " + ROUNDS + " rounds, " + twice + " keys loaded twice; " +
            clients.get(0).stats());
        assertEquals(0, twice, "keys loaded into two frames");
        assertEquals(ROUNDS, clients.get(0).stats().loads());
    }
}
