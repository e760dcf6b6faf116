package org.extentcache.bench.jmh;

import java.util.Map;

/**
 * One benchmark at one parameter set, as JMH wrote it: the primary score in its own unit, the allocation per
 * invocation. {@link #perOp()} and {@link #allocPerOp()} give the numbers the report shows. Read by
 * {@link JmhResultsFile}.
 *
 * @param benchmark             fully qualified method, e.g. {@code org.extentcache.bench.jmh.HitBenchmark.fileHit}.
 * @param mode                  JMH mode: {@code avgt}, {@code thrpt}, {@code ss}, {@code sample}.
 * @param threads               benchmark threads.
 * @param forks                 forks.
 * @param params                {@code @Param} values by name, empty if the benchmark has none.
 * @param score                 primary score in {@code scoreUnit}.
 * @param scoreError            its 99.9% half-interval, NaN if JMH gave none.
 * @param scoreUnit             e.g. {@code ns/op}, {@code us/op}, {@code ops/us}.
 * @param alloc                 {@code gc.alloc.rate.norm} in bytes per invocation, NaN without {@code -prof gc}.
 * @param allocError            its half-interval, NaN if none.
 * @param warmupIterations      warm-up iterations per fork.
 * @param warmupTime            warm-up iteration time as JMH wrote it, e.g. {@code "1 s"}.
 * @param measurementIterations measurement iterations per fork.
 * @param measurementTime       measurement iteration time as JMH wrote it.
 * @param measurementBatchSize  invocations per single-shot measurement, 0 if JMH did not say.
 * @param vmName                e.g. {@code OpenJDK 64-Bit Server VM}.
 * @param vmVersion             e.g. {@code 17.0.15+6-Debian-1deb12u1}.
 * @param jdkVersion            e.g. {@code 17.0.15}.
 */
record JmhResult(
    String benchmark,
    String mode,
    int threads,
    int forks,
    Map<String, String> params,
    double score,
    double scoreError,
    String scoreUnit,
    double alloc,
    double allocError,
    int warmupIterations,
    String warmupTime,
    int measurementIterations,
    String measurementTime,
    int measurementBatchSize,
    String vmName,
    String vmVersion,
    String jdkVersion)
{
    /**
     * @return {@code Class.method}, the name the report uses.
     */
    String name()
    {
        final int method = benchmark.lastIndexOf('.');
        final int type = method <= 0 ? -1 : benchmark.lastIndexOf('.', method - 1);
        return benchmark.substring(type + 1);
    }

    /**
     * @return operations per invocation: the benchmark's {@code BATCH} for a batch benchmark in single-shot mode,
     * otherwise 1.
     */
    int batch()
    {
        return "ss".equals(mode) ? Suite.batch(name()) : 1;
    }

    /**
     * @return the score per single operation: ns/op for times, ops/µs for throughputs.
     */
    Score perOp()
    {
        final Score normalized = Score.normalize(score, scoreError, scoreUnit);
        final int batch = batch();
        return batch == 1 ? normalized :
            new Score(normalized.value() / batch, normalized.error() / batch, normalized.unit());
    }

    /**
     * @return bytes allocated per single operation, NaN if not measured.
     */
    double allocPerOp()
    {
        return alloc / batch();
    }

    /**
     * @return the page size parameter, or null if the benchmark has none.
     */
    String pageSize()
    {
        return params.get(Suite.PAGE_SIZE);
    }

    /**
     * @return the run settings, e.g. {@code 2 forks, 3 × 1 s warm-up, 5 × 1 s measurement}.
     */
    String settings()
    {
        final String forkText = forks + (forks == 1 ? " fork" : " forks");
        if ("ss".equals(mode))
        {
            return forkText + ", " + warmupIterations + " warm-up and " + measurementIterations +
                " measured single-shot batches";
        }
        return forkText + ", " + warmupIterations + " × " + warmupTime + " warm-up, " + measurementIterations +
            " × " + measurementTime + " measurement";
    }

    /**
     * @return the JVM as the header shows it.
     */
    String jvm()
    {
        return (vmName + " " + vmVersion).trim() + " (JDK " + jdkVersion + ")";
    }
}
