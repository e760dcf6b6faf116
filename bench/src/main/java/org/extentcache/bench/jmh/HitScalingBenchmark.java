package org.extentcache.bench.jmh;

import org.extentcache.CachedFile;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * File hits as the thread count grows, the count a parameter ({@code threads}: 1, 2, 4, 8, 16), so that a machine
 * with more cores than this project's 2 can report how the hit path scales (issue 14's target: 2 threads at least
 * 1.9 times one). {@link ThreadScalingBenchmark} measures 1 and 2 threads with JMH's own threads; JMH cannot make its
 * thread count a parameter, so here each invocation releases {@code threads} worker threads (started once per trial,
 * held at a barrier) that each read {@link #HITS} pages of one shared, fully cached file from their own offsets, and
 * ends when the last of them is done.
 *
 * <p>Score: nanoseconds per invocation, each invocation {@code threads * HITS} file hits. Throughput in hits per
 * microsecond is {@code threads * HITS * 1000 / score}; scaling from 1 to N threads is that throughput's ratio. A
 * thread count above the machine's cores measures contention on shared cores, not scaling.
 *
 * <p>Run: {@code mvn -q -B -Pjmh -DskipTests verify -Djmh.args="HitScalingBenchmark -p threads=1,2"} (the full list
 * on larger machines).
 */
@State(Scope.Benchmark)
public class HitScalingBenchmark extends BenchmarkBase
{
    /** File hits each worker makes per invocation. */
    public static final int HITS = 4096;
    static final int PAGES = 256;

    @Param({"1", "2", "4", "8", "16"})
    int threads;

    private Fixture fixture;
    private CachedFile file;
    private CyclicBarrier start;
    private CyclicBarrier done;
    private Thread[] workers;
    private volatile boolean stopping;
    private volatile Throwable failure;

    @Setup(Level.Trial)
    public void setUp() throws IOException
    {
        fixture = new Fixture(4096, PAGES, PAGES + 64);
        file = fixture.cache(2 * PAGES).file(fixture.base);
        fixture.readAll(file);
        start = new CyclicBarrier(threads + 1);
        done = new CyclicBarrier(threads + 1);
        workers = new Thread[threads];
        for (int t = 0; t < threads; t++)
        {
            final int first = t * 97;
            workers[t] = new Thread(() -> work(first), "hit-scaling-" + t);
            workers[t].setDaemon(true);
            workers[t].start();
        }
    }

    private void work(final int first)
    {
        final ByteBuffer dst = ByteBuffer.allocateDirect(4096);
        int page = first & (PAGES - 1);
        try
        {
            while (true)
            {
                start.await();
                if (stopping)
                {
                    return;
                }
                for (int i = 0; i < HITS; i++)
                {
                    page = (page + 1) & (PAGES - 1);
                    file.read((long)page * 4096, dst.clear());
                }
                done.await();
            }
        }
        catch (final IOException | RuntimeException | InterruptedException | BrokenBarrierException ex)
        {
            failure = ex;
            start.reset();
            done.reset();
        }
    }

    /**
     * Releases the workers and waits until each has made its {@link #HITS} file hits.
     *
     * @return the number of hits, for the blackhole.
     * @throws Exception if a worker failed, or the barrier did not trip within a minute.
     */
    @Benchmark
    public int hits() throws Exception
    {
        try
        {
            start.await(1, TimeUnit.MINUTES);
            done.await(1, TimeUnit.MINUTES);
        }
        catch (final BrokenBarrierException | TimeoutException ex)
        {
            throw new IllegalStateException("a worker failed: " + failure, null == failure ? ex : failure);
        }
        return threads * HITS;
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception
    {
        stopping = true;
        try
        {
            start.await(10, TimeUnit.SECONDS);
        }
        catch (final BrokenBarrierException | TimeoutException ex)
        {
            // a worker failed earlier: the others are gone or will see the broken barrier
        }
        for (final Thread worker : workers)
        {
            worker.join(TimeUnit.SECONDS.toMillis(10));
        }
        fixture.close();
        if (null != failure)
        {
            throw new UncheckedIOException(new IOException("a worker failed", failure));
        }
    }
}
