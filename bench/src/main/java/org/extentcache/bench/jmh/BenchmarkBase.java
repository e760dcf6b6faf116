package org.extentcache.bench.jmh;

import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * The run settings every benchmark shares, in one place: average time per operation in nanoseconds, 2 forks,
 * 3 warm-up and 5 measurement iterations of 1 s. Benchmarks that must reset state between batches override the
 * mode with single-shot batches and say so.
 *
 * <p>Run the whole suite (JSON to {@code docs/jmh-results.json}, with the GC profiler):
 * {@code mvn -q -B -Pjmh -DskipTests verify}; quick mode:
 * {@code mvn -q -B -Pjmh -DskipTests verify -Djmh.args="-f 1 -wi 1 -w 1s -i 2 -r 1s -prof gc"}; one benchmark:
 * add its name as a JMH include pattern, e.g. {@code -Djmh.args="HitBenchmark.fileHit -prof gc"}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(2)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public abstract class BenchmarkBase
{
}
