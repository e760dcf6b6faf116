package org.extentcache.bench.jmh;

import org.junit.jupiter.api.Test;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

import java.util.Collection;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Keeps the JMH suite compiling and working: one benchmark, in this JVM, one short iteration. Not a measurement.
 */
class JmhSmokeTest
{
    @Test
    void aFileHitBenchmarkRuns() throws RunnerException
    {
        final Options options = new OptionsBuilder()
            .include(HitBenchmark.class.getName() + ".fileHit")
            .param("pageSize", "4096")
            .forks(0)
            .warmupIterations(0)
            .measurementIterations(1)
            .measurementTime(TimeValue.milliseconds(200))
            .shouldFailOnError(true)
            .build();
        final Collection<RunResult> results = new Runner(options).run();
        assertEquals(1, results.size());
        final double score = results.iterator().next().getPrimaryResult().getScore();
        assertTrue(score > 0 && score < 1_000_000, "ns per file hit: " + score);
    }
}
