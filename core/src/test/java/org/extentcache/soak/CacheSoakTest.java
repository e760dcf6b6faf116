package org.extentcache.soak;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The long randomized soak of the cache: several threads, each with its own files under the built-in extent store,
 * write (partial and whole pages, through the cache and around it), read, pin (briefly, and across other
 * operations), clone files and ranges, punch holes, truncate, delete, flush their files and flush the whole cache,
 * over a {@code FaultyBlockDevice} (volatile write cache, failed and short reads and writes, failed syncs) and a
 * cache far smaller than the data, so that reclaim runs all the time. Every read is checked against each thread's
 * in-heap model, bytes stamped with the operation that wrote them ({@link Stamp}); every successful flush is checked
 * against the device; checkpoints check the books and the whole device. See {@link SoakWorker} for what each
 * operation and each failure means, {@link Soak} for the checkpoints and the watchdog.
 *
 * <h2>Running it</h2>
 * The long soak is tagged {@code soak} and excluded from the normal build; the {@code soak} profile runs it alone:
 * <pre>
 *   mvn -B -ntp -pl core verify -Psoak -Dsoak.ops=100000000
 *   mvn -B -ntp -pl core verify -Psoak -Dsoak.ops=100000000 -Dsoak.maxMinutes=40      # stop cleanly after 40 min
 *   mvn -B -ntp -pl core verify -Psoak -Dsoak.seed=N -Dsoak.threads=1 -Dsoak.ops=M     # exact replay, one thread
 * </pre>
 * Default 10^8 operations, 4 threads, 128 frames; every knob is a {@code -Dsoak.*} property ({@link SoakConfig}),
 * e.g. {@code -Dsoak.cacheFlush=false} leaves out cache-wide flushes, {@code -Dsoak.faultOneIn=0} injects no read or
 * write fault. The seed and all knobs are printed at the start; a failure prints the seed, the thread, the operation
 * number, that thread's last operations and the options that run it again. Progress and ops/s are printed every
 * 30 s and at the end.
 *
 * <p>Open bugs it runs into with the default knobs, and the knobs that step around them to soak the rest:
 * <ul>
 *   <li>a failed sync inside a cache-wide flush, racing a clone and a copy-on-write of a page the flush wrote,
 *       loses that write (a few million operations; {@link SoakFindingsTest} reproduces it): avoided by
 *       {@code -Dsoak.syncFaultOneIn=0} or {@code -Dsoak.cacheFlush=false};</li>
 *   <li>with 64 frames or fewer, cache-wide flushes (holding the pages they wrote pinned while they wait for each
 *       file's writer lock) and writers (holding their file's lock while they wait for a frame) stall each other
 *       until a miss gives up after 10 s with "no frame can be reclaimed": avoided by {@code -Dsoak.frames=128} (the
 *       default) or {@code -Dsoak.cacheFlush=false}.</li>
 * </ul>
 *
 * <p>The normal build runs 200 000 operations of the same soak ({@code -Dsoak.ops} and the other knobs apply) as a
 * regression test, in two halves that each leave out one ingredient of the open bug that
 * {@link SoakFindingsTest#aFailedCacheWideSyncDoesNotRedirtyOverAPageRewrittenMeanwhile()} reproduces (a failed sync
 * inside a cache-wide flush racing a writer), so that it does not fail the build at random while that bug is open:
 * per-file flushes with failed syncs, then cache-wide flushes without. Once it is fixed, one half with every
 * ingredient replaces them.
 */
class CacheSoakTest
{
    /** The bar: at least 10^8 model operations. */
    private static final long SOAK_OPS = 100_000_000L;
    private static final long SHORT_OPS = 200_000L;

    @Test
    @Tag("soak")
    void soak()
    {
        final SoakConfig config = SoakConfig.fromSystemProperties(SOAK_OPS);
        final long done = Soak.run(config);
        if (config.maxMinutes() <= 0)
        {
            assertEquals(config.opsPerThread() * config.threads(), done, "every operation ran");
        }
    }

    @Test
    void shortSoakWithFileFlushesAndFailedSyncs()
    {
        runAll(SoakConfig.fromSystemProperties(SHORT_OPS / 2).withoutCacheFlush());
    }

    @Test
    void shortSoakWithCacheWideFlushes()
    {
        runAll(SoakConfig.fromSystemProperties(SHORT_OPS / 2).withoutSyncFaults());
    }

    private static void runAll(final SoakConfig config)
    {
        assertEquals(config.opsPerThread() * config.threads(), Soak.run(config), "every operation ran");
    }
}
