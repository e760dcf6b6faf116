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
 *   mvn -B -ntp -pl test-fixtures -am verify -Psoak -Dsoak.ops=100000000
 *   mvn -B -ntp -pl test-fixtures -am verify -Psoak -Dsoak.ops=100000000 -Dsoak.maxMinutes=40      # stop cleanly after 40 min
 *   mvn -B -ntp -pl test-fixtures -am verify -Psoak -Dsoak.seed=N -Dsoak.threads=1 -Dsoak.ops=M     # exact replay, one thread
 * </pre>
 * Default 10^8 operations, 4 threads, 128 frames; every knob is a {@code -Dsoak.*} property ({@link SoakConfig}),
 * e.g. {@code -Dsoak.cacheFlush=false} leaves out cache-wide flushes, {@code -Dsoak.faultOneIn=0} injects no read or
 * write fault. The seed and all knobs are printed at the start; a failure prints the seed, the thread, the operation
 * number, that thread's last operations and the options that run it again. Progress and ops/s are printed every
 * 30 s and at the end.
 *
 * <p>The normal build runs 200 000 operations of the same soak, with every ingredient, as a regression test
 * ({@code -Dsoak.ops} and the other knobs apply). Two bugs it found earlier are fixed and have their own tests: a
 * failed sync inside a cache-wide flush, racing a clone and a copy-on-write of a page the flush wrote, lost that
 * write ({@link SoakFindingsTest}); and with 64 frames or fewer, cache-wide flushes and writers stalled each other
 * until a miss gave up ({@code FlushFailureTest}).
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
    void shortSoak()
    {
        runAll(SoakConfig.fromSystemProperties(SHORT_OPS));
    }

    private static void runAll(final SoakConfig config)
    {
        assertEquals(config.opsPerThread() * config.threads(), Soak.run(config), "every operation ran");
    }
}
