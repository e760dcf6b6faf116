package org.extentcache.soak;

import org.agrona.collections.LongHashSet;
import org.extentcache.CacheBooks;
import org.extentcache.CacheStats;
import org.extentcache.CachedFile;
import org.extentcache.ExtentCache;
import org.extentcache.testing.FaultyBlockDevice;
import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.ExtentStore;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.LockInfo;
import java.lang.management.ManagementFactory;
import java.lang.management.MonitorInfo;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.Phaser;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

/**
 * Runs one soak: {@link SoakConfig#threads()} {@link SoakWorker}s over one cache, one extent store and one
 * fault-injecting device with a volatile write cache over a memory device; checkpoints; a watchdog; the report.
 *
 * <h2>Checkpoints</h2>
 * Every {@link SoakConfig#checkEvery()} operations per thread, and after the last, every thread releases its pins
 * and waits at a {@link Phaser}; the last to arrive runs the checkpoint while the others wait, so nothing else
 * touches the cache: faults off, one cache-wide flush (which must succeed), then the books ({@code checkBooks()}
 * null, no tracked pin, no dirty frame and no dirty page in any file), the device (no unsynced block; every file's
 * bytes on the memory device exactly the model's, found through the store's translation; no page past end of file
 * mapped; allocated blocks exactly the distinct blocks files map, none reserved) and every file read back through the
 * cache. Then faults are armed again with fresh seeds derived from the run's seed.
 *
 * <h2>Failures and hangs</h2>
 * The first failure stops every thread and is reported with the seed, the thread, its operation number and its
 * last operations, and the {@code -D} options that run the same configuration again. With one thread a run is
 * deterministic and replays exactly; with several, each thread's operation choices are fixed by the seed but the
 * interleaving (and so which transfer draws which fault) is not. A watchdog fails the run, with every thread's
 * stack and the locks they hold and wait for, when no operation completes for {@link SoakConfig#stallSeconds()};
 * the hung threads are daemons and the cache is then left open (closing it under them would be unsafe).
 */
final class Soak
{
    /** No operation completing for this long prints every thread once (the soak goes on). */
    private static final long SLOW_NANOS = TimeUnit.SECONDS.toNanos(5);

    final SoakConfig config;
    final MemoryBlockDevice disk;
    final FaultyBlockDevice device;
    final ExtentStore store;
    final ExtentCache cache;
    /** Operations completed, all threads. */
    final LongAdder ops = new LongAdder();

    private final SoakWorker[] workers;
    private final Phaser phaser;
    private final long lastPhase;
    private final AtomicReference<AssertionError> failure = new AtomicReference<>();
    private final AtomicInteger running = new AtomicInteger();
    private final DeviceCheck deviceCheck;
    private final byte[] readBack;
    private final PrintStream out = System.out;
    private final long startNanos = System.nanoTime();
    private volatile boolean stopping;
    private volatile boolean stoppedOnTime;
    private volatile int checkpoints;

    private Soak(final SoakConfig config)
    {
        this.config = config;
        this.disk = new MemoryBlockDevice(SoakConfig.PAGE, config.deviceBlocks());
        this.device = config.volatileCache() ? FaultyBlockDevice.withVolatileWriteCache(disk) :
            FaultyBlockDevice.writeThrough(disk);
        this.store = new ExtentStore(device);
        this.cache = ExtentCache.builder().device(device).translator(store).capacityFrames(config.frames())
            .leakReporter(this::reportLeak).build();
        this.deviceCheck = new DeviceCheck(store, disk, config.opsPerThread());
        this.readBack = new byte[config.maxPages() * SoakConfig.PAGE];
        this.lastPhase = (config.opsPerThread() + config.checkEvery() - 1) / config.checkEvery() - 1;
        this.workers = new SoakWorker[config.threads()];
        this.phaser = new Phaser(config.threads())
        {
            @Override
            protected boolean onAdvance(final int phase, final int parties)
            {
                return checkpointAndStop(phase, parties);
            }
        };
        for (int t = 0; t < workers.length; t++)
        {
            workers[t] = new SoakWorker(this, t);
        }
    }

    /**
     * Runs a soak to the end and prints its report.
     *
     * @param config the knobs.
     * @return the operations completed.
     * @throws AssertionError naming the seed, thread and operation of the first failure, or describing a hang.
     */
    static long run(final SoakConfig config)
    {
        return new Soak(config).run();
    }

    private long run()
    {
        out.println("soak: starting " + config.replayFlags() + " (" + config.opsPerThread() + " ops per thread, " +
            config.deviceBlocks() + " device blocks, checkpoint every " + config.checkEvery() + " ops per thread)");
        armFaults(0);
        final Thread[] threads = new Thread[workers.length];
        running.set(workers.length);
        for (int t = 0; t < threads.length; t++)
        {
            threads[t] = new Thread(workers[t], "soak-" + t);
            threads[t].setDaemon(true);
            threads[t].start();
        }
        final boolean hung = watch(threads);
        final long nanos = System.nanoTime() - startNanos;
        final long total = ops.sum();
        final AssertionError failed = failure.get();
        if (hung)
        {
            throw failed; // the hung threads are still in the cache: leave it open
        }
        try
        {
            report(total, nanos);
        }
        finally
        {
            try
            {
                close(null == failed);
            }
            catch (final AssertionError ex)
            {
                if (null == failed)
                {
                    throw new AssertionError("SOAK FAILED at the end (seed " + config.seed() + "): closing the " +
                        "cache: " + ex.getMessage() + String.format("%nrun the same again: mvn -B -ntp -o " +
                        "-pl test-fixtures -am verify -Psoak %s", config.replayFlags()), ex);
                }
            }
        }
        if (null != failed)
        {
            throw failed;
        }
        return total;
    }

    /**
     * Waits for the workers, printing progress and watching for a hang.
     *
     * @return true if the run hung (the failure is recorded).
     */
    private boolean watch(final Thread[] threads)
    {
        long lastOps = -1;
        int lastPhaseSeen = -1;
        long lastChange = System.nanoTime();
        boolean slowDumped = false;
        long nextProgress = lastChange + TimeUnit.SECONDS.toNanos(config.progressSeconds());
        long opsAtProgress = 0;
        long progressAt = lastChange;
        while (running.get() > 0)
        {
            try
            {
                threads[0].join(200);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                fail(null, new AssertionError("interrupted while waiting for the soak"));
                return true;
            }
            final long now = System.nanoTime();
            final long done = ops.sum();
            final int phase = phaser.getPhase();
            if (done != lastOps || phase != lastPhaseSeen)
            {
                lastOps = done;
                lastPhaseSeen = phase;
                lastChange = now;
                slowDumped = false;
            }
            else if (!slowDumped && now - lastChange > SLOW_NANOS && running.get() > 0)
            {
                slowDumped = true; // once per stall: where everyone is while it lasts (a miss gives up after 10 s)
                out.println("soak: no operation completed for " + TimeUnit.NANOSECONDS.toSeconds(SLOW_NANOS) + " s" +
                    describeWorkers() + threadDump());
            }
            if (now - lastChange > TimeUnit.SECONDS.toNanos(config.stallSeconds()) && running.get() > 0)
            {
                fail(null, new AssertionError("hang: no operation completed for " + config.stallSeconds() + " s" +
                    describeWorkers() + threadDump()));
                return true;
            }
            if (now - nextProgress >= 0)
            {
                final double seconds = (now - progressAt) / 1e9;
                out.printf("soak: %,d ops (%.1f%%), %,.0f ops/s now, %,.0f ops/s overall, %d checkpoints passed, " +
                    "%s%n", done, 100.0 * done / (config.opsPerThread() * config.threads()),
                    (done - opsAtProgress) / seconds, done / ((now - startNanos) / 1e9), checkpoints, brief());
                opsAtProgress = done;
                progressAt = now;
                nextProgress = now + TimeUnit.SECONDS.toNanos(config.progressSeconds());
            }
        }
        for (final Thread thread : threads)
        {
            try
            {
                thread.join();
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
        }
        return false;
    }

    /**
     * @return whether an exception came from a fault the {@link FaultyBlockDevice} injected: its message, or that of
     * a cause or suppressed exception, says "injected".
     */
    static boolean isInjected(final Throwable failure)
    {
        return isInjected(failure, 0);
    }

    private static boolean isInjected(final Throwable failure, final int depth)
    {
        if (null == failure || depth > 8)
        {
            return false;
        }
        if (null != failure.getMessage() && failure.getMessage().contains("injected "))
        {
            return true;
        }
        for (final Throwable suppressed : failure.getSuppressed())
        {
            if (isInjected(suppressed, depth + 1))
            {
                return true;
            }
        }
        return isInjected(failure.getCause(), depth + 1);
    }

    boolean stopping()
    {
        return stopping;
    }

    /**
     * A worker's checkpoint: waits for every thread; the last to arrive runs the checks.
     *
     * @return true to go on; false when the run is over (finished, failed or out of time).
     */
    boolean checkpoint()
    {
        final int phase = phaser.arriveAndAwaitAdvance();
        return phase >= 0 && !stopping;
    }

    /** A worker is done, normally or not. */
    void leave()
    {
        phaser.arriveAndDeregister();
        running.decrementAndGet();
    }

    /**
     * Records the first failure and stops every thread.
     *
     * @param worker the failing worker, or {@code null} for a checkpoint or the watchdog.
     */
    void fail(final SoakWorker worker, final Throwable cause)
    {
        final StringBuilder message = new StringBuilder("SOAK FAILED after " + ops.sum() + " ops (seed " +
            config.seed() + "): ");
        message.append(cause instanceof AssertionError ? cause.getMessage() : "thread " +
            (null == worker ? "?" : worker.thread + " op " + worker.op + " (" + worker.current + ")") + " threw " + cause);
        message.append(String.format("%nrun the same again: mvn -B -ntp -o -pl test-fixtures -am verify -Psoak %s",
            config.replayFlags()));
        if (config.threads() > 1)
        {
            message.append(String.format("%n(exact replay needs -Dsoak.threads=1; with several threads the " +
                "interleaving differs from run to run)"));
        }
        for (final SoakWorker each : workers)
        {
            if (null == worker || each == worker)
            {
                message.append(String.format("%nthread %d's last operations:%s", each.thread, each.history()));
            }
        }
        if (!(cause instanceof AssertionError))
        {
            message.append(String.format("%nwhere every thread was when it was thrown:%s%s", describeWorkers(),
                threadDump()));
        }
        final AssertionError error = new AssertionError(message.toString(), cause);
        if (failure.compareAndSet(null, error))
        {
            out.println(message);
            cause.printStackTrace(out);
        }
        stopping = true;
        phaser.forceTermination();
    }

    private boolean checkpointAndStop(final int phase, final int parties)
    {
        if (stopping || null != failure.get() || 0 == parties)
        {
            return true;
        }
        try
        {
            check(phase);
        }
        catch (final Throwable ex)
        {
            fail(null, ex instanceof AssertionError ? ex : new AssertionError("checkpoint " + phase + " threw " + ex,
                ex));
            return true;
        }
        checkpoints = phase + 1;
        if (phase >= lastPhase)
        {
            return true;
        }
        if (config.maxMinutes() > 0 && System.nanoTime() - startNanos > (long)(config.maxMinutes() * 60e9))
        {
            stoppedOnTime = true;
            stopping = true;
            return true;
        }
        armFaults(phase + 1);
        return false;
    }

    /** The checkpoint's checks, with every worker waiting; throws {@link AssertionError} naming what is wrong. */
    private void check(final int phase) throws IOException
    {
        final String at = "checkpoint " + phase + " (after " + ops.sum() + " ops): ";
        device.clearFaults();
        try
        {
            cache.flush();
        }
        catch (final IOException ex)
        {
            throw new AssertionError(at + "a cache-wide flush with no fault armed failed: " + ex, ex);
        }
        final String books = cache.checkBooks();
        if (null != books)
        {
            throw new AssertionError(at + "books after a successful flush: " + books);
        }
        if (0 != cache.trackedPins())
        {
            throw new AssertionError(at + cache.trackedPins() + " pins still tracked with every soak pin released");
        }
        final CacheStats stats = cache.stats();
        if (0 != stats.dirtyFrames())
        {
            throw new AssertionError(at + stats.dirtyFrames() + " dirty frames after a successful flush: " + stats);
        }
        if (0 != device.unsyncedBlocks())
        {
            throw new AssertionError(at + device.unsyncedBlocks() + " blocks still unsynced after a successful flush");
        }
        if (0 != store.reservedBlocks())
        {
            throw new AssertionError(at + store.reservedBlocks() + " blocks reserved and never committed or released");
        }
        final LongHashSet blocks = new LongHashSet();
        for (final SoakWorker worker : workers)
        {
            for (final FileModel file : worker.files)
            {
                final CachedFile cached = cache.file(file.id);
                if (0 != cached.dirtyPageCount())
                {
                    throw new AssertionError(at + file + " of thread " + worker.thread + " has " +
                        cached.dirtyPageCount() + " dirty pages after a successful flush");
                }
                if (cached.size() != file.size)
                {
                    throw new AssertionError(at + file + " of thread " + worker.thread + ": the cache says size " +
                        cached.size());
                }
                final String problem = deviceCheck.check(file, blocks);
                if (null != problem)
                {
                    throw new AssertionError(at + "thread " + worker.thread + "'s " + problem);
                }
                final int read = cached.read(0, ByteBuffer.wrap(readBack, 0, (int)file.size));
                final int mismatch = Arrays.mismatch(readBack, 0, (int)file.size, file.bytes, 0, (int)file.size);
                if (read != (file.size == 0 ? 0 : file.size) || mismatch >= 0)
                {
                    throw new AssertionError(at + "thread " + worker.thread + "'s " + file + " read through the cache " +
                        "returned " + read + " bytes, first differing at offset " + mismatch + ": " +
                        (mismatch < 0 ? "" : Stamp.describe(readBack, read, mismatch, 0, config.opsPerThread()) +
                        " but the model holds " + Stamp.describe(file.bytes, file.bytes.length, mismatch, 0,
                        config.opsPerThread())));
                }
            }
        }
        if (store.allocatedBlocks() != blocks.size())
        {
            throw new AssertionError(at + "the store has " + store.allocatedBlocks() + " blocks allocated but the " +
                "files map " + blocks.size() + ": blocks leaked");
        }
    }

    /** Pins and dirty pages left at close are news only if the run passed: a failed run stops threads mid-way. */
    private void reportLeak(final String leak)
    {
        if (null == failure.get())
        {
            out.println("soak: " + leak);
        }
    }

    private void armFaults(final long round)
    {
        final long base = Stamp.mix(config.seed() ^ Stamp.mix(round));
        if (config.faultOneIn() > 0)
        {
            device.failReadsOneIn(config.faultOneIn(), base + 1);
            device.failWritesOneIn(config.faultOneIn(), base + 2);
        }
        if (config.shortOneIn() > 0)
        {
            device.shortTransfersOneIn(config.shortOneIn(), base + 3);
        }
    }

    /** After the run: with no failure, the books and the off-heap memory must balance; everything is closed. */
    private void close(final boolean checkBooks)
    {
        try
        {
            if (checkBooks)
            {
                CacheBooks.check(cache);
            }
        }
        finally
        {
            cache.close();
            store.close();
            try
            {
                device.close();
            }
            catch (final IOException ex)
            {
                out.println("soak: closing the device failed: " + ex);
            }
        }
    }

    private void report(final long total, final long nanos)
    {
        final double seconds = nanos / 1e9;
        final StringBuilder kinds = new StringBuilder();
        for (final SoakWorker.Op kind : SoakWorker.Op.values())
        {
            long done = 0;
            long faulted = 0;
            for (final SoakWorker worker : workers)
            {
                done += worker.done[kind.ordinal()];
                faulted += worker.faulted[kind.ordinal()];
            }
            kinds.append(String.format(" %s=%,d(%,d faulted)", kind, done, faulted));
        }
        out.printf("soak: %s %,d ops in %.1f s: %,.0f ops/s, %d checkpoints passed%s%n  ops:%s%n  %s%n  cache: %s%n",
            null != failure.get() ? "FAILED after" : stoppedOnTime ? "stopped on time after" : "passed", total,
            seconds, total / seconds, checkpoints, stoppedOnTime ? " (soak.maxMinutes=" + config.maxMinutes() + ")" :
            "", kinds, brief(), cache.isClosed() ? "closed" : cache.stats());
    }

    private String brief()
    {
        if (cache.isClosed())
        {
            return "";
        }
        final CacheStats stats = cache.stats();
        return String.format("reclaims=%,d copyOnWrites=%,d writebacks=%,d writebackFailures=%,d loadFailures=%,d " +
            "deviceReads=%,d; device: injected read=%,d write=%,d sync=%,d, syncs=%,d",
            stats.reclaims(), stats.copyOnWrites(), stats.writebacks(), stats.writebackFailures(),
            stats.loadFailures(), stats.deviceReads(), device.injectedReadFailures(), device.injectedWriteFailures(),
            device.injectedSyncFailures(), device.syncs());
    }

    private String describeWorkers()
    {
        final StringBuilder out = new StringBuilder();
        for (final SoakWorker worker : workers)
        {
            out.append(String.format("%n  thread %d at op %d (%s)", worker.thread, worker.op, worker.current));
        }
        return out.toString();
    }

    /** Every thread's full stack, with the locks it holds and the one it waits for, and any deadlock found. */
    private static String threadDump()
    {
        final ThreadMXBean bean = ManagementFactory.getThreadMXBean();
        final StringBuilder out = new StringBuilder();
        final long[] deadlocked = bean.findDeadlockedThreads();
        out.append(String.format("%ndeadlocked threads: %s", null == deadlocked ? "none found by the JVM" :
            Arrays.toString(deadlocked)));
        for (final ThreadInfo info : bean.dumpAllThreads(true, true))
        {
            out.append(String.format("%n\"%s\" id=%d %s", info.getThreadName(), info.getThreadId(),
                info.getThreadState()));
            if (null != info.getLockName())
            {
                out.append(" waiting for ").append(info.getLockName());
                if (null != info.getLockOwnerName())
                {
                    out.append(" held by \"").append(info.getLockOwnerName()).append('"');
                }
            }
            final StackTraceElement[] stack = info.getStackTrace();
            for (int i = 0; i < stack.length; i++)
            {
                out.append(String.format("%n    at %s", stack[i]));
                for (final MonitorInfo monitor : info.getLockedMonitors())
                {
                    if (monitor.getLockedStackDepth() == i)
                    {
                        out.append(String.format("%n    - locked %s", monitor));
                    }
                }
            }
            for (final LockInfo lock : info.getLockedSynchronizers())
            {
                out.append(String.format("%n    - holds %s", lock));
            }
        }
        return out.toString();
    }
}
