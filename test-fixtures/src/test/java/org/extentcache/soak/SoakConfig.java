package org.extentcache.soak;

import java.util.SplittableRandom;

/**
 * The soak's knobs, each a {@code -Dsoak.NAME=value} system property (Maven passes {@code -D} options on its command
 * line through to the test JVM). {@link #replayFlags()} prints them in that form.
 *
 * @param seed            {@code soak.seed}: seeds every thread's operations and the device's fault streams;
 *                        default random (printed).
 * @param ops             {@code soak.ops}: model operations in all, split evenly between the threads.
 * @param threads         {@code soak.threads}: worker threads, each owning its own files (default 4, at most 16). With
 *                        1 the run is deterministic and a failure replays exactly.
 * @param frames          {@code soak.frames}: cache capacity in 4 KiB frames (default 128, against up to
 *                        {@code threads * files * maxPages} pages of data: reclaim runs all the time).
 * @param files           {@code soak.files}: most files a thread holds at once (default 4).
 * @param maxPages        {@code soak.maxPages}: largest file, in pages (default 64).
 * @param faultOneIn      {@code soak.faultOneIn}: each device read and each device write fails with probability 1/n
 *                        (default 500; 0 for none).
 * @param shortOneIn      {@code soak.shortOneIn}: each device transfer is cut short (a prefix of its blocks moves,
 *                        then it fails) with probability 1/n (default 2000; 0 for none).
 * @param syncFaultOneIn  {@code soak.syncFaultOneIn}: before each flush, with probability 1/n, the device's next sync
 *                        is armed to fail, whoever's sync that turns out to be (default 10; 0 for none).
 * @param cacheFlush      {@code soak.cacheFlush}: threads also call the cache-wide {@code ExtentCache.flush()}
 *                        (default true).
 * @param volatileCache   {@code soak.volatileCache}: the device keeps writes in a volatile cache until a sync, so a
 *                        failed sync really loses durability until a later one succeeds (default true).
 * @param checkEvery      {@code soak.checkEvery}: operations per thread between checkpoints (default a tenth of each
 *                        thread's operations, within 1 000..100 000).
 * @param maxPins         {@code soak.maxPins}: most pins a thread holds across other operations (default 3).
 * @param stallSeconds    {@code soak.stallSeconds}: no operation finishing for this long is a hang: the soak dumps
 *                        every thread and fails (default 60; the cache gives up on a frame after 10 s).
 * @param maxMinutes      {@code soak.maxMinutes}: stop cleanly at the first checkpoint after this long, with the final
 *                        checks (default 0: no limit).
 * @param progressSeconds {@code soak.progressSeconds}: print progress this often (default 30).
 */
record SoakConfig(long seed, long ops, int threads, int frames, int files, int maxPages, int faultOneIn,
    int shortOneIn, int syncFaultOneIn, boolean cacheFlush, boolean volatileCache, long checkEvery, int maxPins,
    int stallSeconds, double maxMinutes, int progressSeconds)
{
    static final int PAGE = 4096;

    SoakConfig
    {
        if (threads < 1 || threads > Stamp.MAX_THREADS)
        {
            throw new IllegalArgumentException("soak.threads must be 1.." + Stamp.MAX_THREADS + ": threads=" + threads);
        }
        if (ops < threads || files < 2 || maxPages < 4 || frames < 16 || checkEvery < 1 || maxPins < 0)
        {
            throw new IllegalArgumentException("soak knobs out of range: " + replayFlags(seed, ops, threads, frames,
                files, maxPages, faultOneIn, shortOneIn, syncFaultOneIn, cacheFlush, volatileCache, checkEvery, maxPins));
        }
    }

    /**
     * Reads the knobs from {@code soak.*} system properties.
     *
     * @param defaultOps operations when {@code soak.ops} is not set.
     * @return the configuration.
     */
    static SoakConfig fromSystemProperties(final long defaultOps)
    {
        final Long seed = Long.getLong("soak.seed");
        return new SoakConfig(
            null != seed ? seed : new SplittableRandom().nextLong(),
            Long.getLong("soak.ops", defaultOps),
            Integer.getInteger("soak.threads", 4),
            Integer.getInteger("soak.frames", 128),
            Integer.getInteger("soak.files", 4),
            Integer.getInteger("soak.maxPages", 64),
            Integer.getInteger("soak.faultOneIn", 500),
            Integer.getInteger("soak.shortOneIn", 2000),
            Integer.getInteger("soak.syncFaultOneIn", 10),
            Boolean.parseBoolean(System.getProperty("soak.cacheFlush", "true")),
            Boolean.parseBoolean(System.getProperty("soak.volatileCache", "true")),
            Long.getLong("soak.checkEvery", Math.max(1_000, Math.min(100_000,
                Long.getLong("soak.ops", defaultOps) / Integer.getInteger("soak.threads", 4) / 10))),
            Integer.getInteger("soak.maxPins", 3),
            Integer.getInteger("soak.stallSeconds", 60),
            Double.parseDouble(System.getProperty("soak.maxMinutes", "0")),
            Integer.getInteger("soak.progressSeconds", 30));
    }

    /**
     * @return operations per thread.
     */
    long opsPerThread()
    {
        return (ops + threads - 1) / threads;
    }

    /**
     * @return blocks on the device: room for every file at its largest twice over (copy-on-write takes a fresh block
     * before it frees the old one), so "device full" never happens and a leaked block shows in the checkpoint's count.
     */
    long deviceBlocks()
    {
        return 2L * threads * files * maxPages + 256;
    }

    /**
     * @return the {@code -D} options that run this configuration again.
     */
    String replayFlags()
    {
        return replayFlags(seed, ops, threads, frames, files, maxPages, faultOneIn, shortOneIn, syncFaultOneIn,
            cacheFlush, volatileCache, checkEvery, maxPins);
    }

    private static String replayFlags(final long seed, final long ops, final int threads, final int frames,
        final int files, final int maxPages, final int faultOneIn, final int shortOneIn, final int syncFaultOneIn,
        final boolean cacheFlush, final boolean volatileCache, final long checkEvery, final int maxPins)
    {
        return "-Dsoak.seed=" + seed + " -Dsoak.ops=" + ops + " -Dsoak.threads=" + threads + " -Dsoak.frames=" +
            frames + " -Dsoak.files=" + files + " -Dsoak.maxPages=" + maxPages + " -Dsoak.faultOneIn=" + faultOneIn +
            " -Dsoak.shortOneIn=" + shortOneIn + " -Dsoak.syncFaultOneIn=" + syncFaultOneIn + " -Dsoak.cacheFlush=" +
            cacheFlush + " -Dsoak.volatileCache=" + volatileCache + " -Dsoak.checkEvery=" + checkEvery +
            " -Dsoak.maxPins=" + maxPins;
    }
}
