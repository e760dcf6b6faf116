package org.extentcache.bench.jmh;

import org.extentcache.bench.jmh.Targets.Target;
import org.extentcache.bench.jmh.Targets.Verdict;
import org.junit.jupiter.api.Test;
import org.knowm.xchart.CategoryChart;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The JMH report on a hand-written results file shaped like JMH 1.37's {@code -rf json} output: parsing (the
 * allocation metric with and without the middle dot JMH used to put in front of it, a {@code "NaN"} error, params
 * present and absent, every mode), conversion to per-operation figures, ratios and their errors, each target met
 * and not met, missing benchmarks, the Markdown, the chart and the command's exit codes.
 */
class JmhReportTest
{
    private static final String PACKAGE = "org.extentcache.bench.jmh.";

    /**
     * One of each benchmark of the suite, at 4 KiB unless the benchmark has no page size, plus fileHit and pinUnpin
     * at 16 KiB. The numbers are chosen so each ratio is exact: fileHit / bareCopy = 1.2 (met), pinUnpin 35 ns and
     * 0.01 B/op (met), sharingHit 300 ns per op / fileHit = 3.125 (not met), miss / fileChannelRead = 1.1 (met),
     * caffeineHit / fileHit = 1.25 (met), hits2Threads / hits1Thread = 1.7 (not met), pinUnpin at 16 KiB allocates
     * 24 B/op (not met).
     */
    private static final String FIXTURE = """
        [
            {
                "jmhVersion" : "1.37",
                "benchmark" : "org.extentcache.bench.jmh.HitBenchmark.bareCopy",
                "mode" : "avgt", "threads" : 1, "forks" : 2,
                "jvm" : "/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
                "jvmArgs" : [ "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED", "-Dquote=\\"x\\"" ],
                "jdkVersion" : "17.0.15", "vmName" : "OpenJDK 64-Bit Server VM",
                "vmVersion" : "17.0.15+6-Debian-1deb12u1",
                "warmupIterations" : 3, "warmupTime" : "1 s", "warmupBatchSize" : 1,
                "measurementIterations" : 5, "measurementTime" : "1 s", "measurementBatchSize" : 1,
                "params" : { "pageSize" : "4096" },
                "primaryMetric" : {
                    "score" : 80.0, "scoreError" : 4.0, "scoreConfidence" : [ 76.0, 84.0 ],
                    "scorePercentiles" : { "0.0" : 78.1, "100.0" : 82.3 },
                    "scoreUnit" : "ns/op", "rawData" : [ [ 79.5, 80.5 ], [ 78.1, 82.3 ] ]
                },
                "secondaryMetrics" : {
                    "\u00b7gc.alloc.rate" : { "score" : 0.001, "scoreError" : "NaN", "scoreUnit" : "MB/sec" },
                    "\u00b7gc.alloc.rate.norm" : { "score" : 0.0, "scoreError" : 0.0, "scoreUnit" : "B/op" }
                }
            },
            {
                "benchmark" : "org.extentcache.bench.jmh.HitBenchmark.fileHit",
                "mode" : "avgt", "threads" : 1, "forks" : 2,
                "jdkVersion" : "17.0.15", "vmName" : "OpenJDK 64-Bit Server VM",
                "vmVersion" : "17.0.15+6-Debian-1deb12u1",
                "warmupIterations" : 3, "warmupTime" : "1 s",
                "measurementIterations" : 5, "measurementTime" : "1 s", "measurementBatchSize" : 1,
                "params" : { "pageSize" : "4096" },
                "primaryMetric" : { "score" : 96.0, "scoreError" : 4.8, "scoreUnit" : "ns/op" },
                "secondaryMetrics" : {
                    "gc.alloc.rate.norm" : { "score" : 0.02, "scoreError" : "NaN", "scoreUnit" : "B/op" },
                    "gc.count" : { "score" : 0.0, "scoreError" : "NaN", "scoreUnit" : "counts" }
                }
            },
            {
                "benchmark" : "org.extentcache.bench.jmh.HitBenchmark.fileHit",
                "mode" : "avgt", "threads" : 1, "forks" : 2,
                "jdkVersion" : "17.0.15", "vmName" : "OpenJDK 64-Bit Server VM",
                "vmVersion" : "17.0.15+6-Debian-1deb12u1",
                "warmupIterations" : 3, "warmupTime" : "1 s",
                "measurementIterations" : 5, "measurementTime" : "1 s", "measurementBatchSize" : 1,
                "params" : { "pageSize" : "16384" },
                "primaryMetric" : { "score" : 300.0, "scoreError" : 3.0, "scoreUnit" : "ns/op" },
                "secondaryMetrics" : {
                    "\u00b7gc.alloc.rate.norm" : { "score" : 0.0, "scoreError" : 0.0, "scoreUnit" : "B/op" }
                }
            },
            {
                "benchmark" : "org.extentcache.bench.jmh.HitBenchmark.pinUnpin",
                "mode" : "avgt", "threads" : 1, "forks" : 2,
                "jdkVersion" : "17.0.15", "vmName" : "OpenJDK 64-Bit Server VM",
                "vmVersion" : "17.0.15+6-Debian-1deb12u1",
                "warmupIterations" : 3, "warmupTime" : "1 s",
                "measurementIterations" : 5, "measurementTime" : "1 s", "measurementBatchSize" : 1,
                "params" : { "pageSize" : "4096" },
                "primaryMetric" : { "score" : 0.035, "scoreError" : 0.001, "scoreUnit" : "us/op" },
                "secondaryMetrics" : {
                    "gc.alloc.rate.norm" : { "score" : 0.01, "scoreError" : 0.01, "scoreUnit" : "B/op" }
                }
            },
            {
                "benchmark" : "org.extentcache.bench.jmh.HitBenchmark.pinUnpin",
                "mode" : "avgt", "threads" : 1, "forks" : 2,
                "jdkVersion" : "17.0.15", "vmName" : "OpenJDK 64-Bit Server VM",
                "vmVersion" : "17.0.15+6-Debian-1deb12u1",
                "warmupIterations" : 3, "warmupTime" : "1 s",
                "measurementIterations" : 5, "measurementTime" : "1 s", "measurementBatchSize" : 1,
                "params" : { "pageSize" : "16384" },
                "primaryMetric" : { "score" : 36.0, "scoreError" : 1.0, "scoreUnit" : "ns/op" },
                "secondaryMetrics" : {
                    "gc.alloc.rate.norm" : { "score" : 24.0, "scoreError" : 0.5, "scoreUnit" : "B/op" }
                }
            },
            {
                "benchmark" : "org.extentcache.bench.jmh.HitBenchmark.caffeineHit",
                "mode" : "avgt", "threads" : 1, "forks" : 2,
                "jdkVersion" : "17.0.15", "vmName" : "OpenJDK 64-Bit Server VM",
                "vmVersion" : "17.0.15+6-Debian-1deb12u1",
                "warmupIterations" : 3, "warmupTime" : "1 s",
                "measurementIterations" : 5, "measurementTime" : "1 s", "measurementBatchSize" : 1,
                "params" : { "pageSize" : "4096" },
                "primaryMetric" : { "score" : 120.0, "scoreError" : 3.6, "scoreUnit" : "ns/op" },
                "secondaryMetrics" : {
                    "gc.alloc.rate.norm" : { "score" : 16.0, "scoreError" : 0.0, "scoreUnit" : "B/op" }
                }
            },
            {
                "benchmark" : "org.extentcache.bench.jmh.HitBenchmark.perFileHit",
                "mode" : "avgt", "threads" : 1, "forks" : 2,
                "jdkVersion" : "17.0.15", "vmName" : "OpenJDK 64-Bit Server VM",
                "vmVersion" : "17.0.15+6-Debian-1deb12u1",
                "warmupIterations" : 3, "warmupTime" : "1 s",
                "measurementIterations" : 5, "measurementTime" : "1 s", "measurementBatchSize" : 1,
                "params" : { "pageSize" : "4096" },
                "primaryMetric" : { "score" : 100.0, "scoreError" : 5.0, "scoreUnit" : "ns/op" },
                "secondaryMetrics" : { }
            },
            {
                "benchmark" : "org.extentcache.bench.jmh.SharingHitBenchmark.sharingHit",
                "mode" : "ss", "threads" : 1, "forks" : 2,
                "jdkVersion" : "17.0.15", "vmName" : "OpenJDK 64-Bit Server VM",
                "vmVersion" : "17.0.15+6-Debian-1deb12u1",
                "warmupIterations" : 10, "warmupTime" : "1 s", "warmupBatchSize" : 16384,
                "measurementIterations" : 20, "measurementTime" : "1 s", "measurementBatchSize" : 16384,
                "primaryMetric" : { "score" : 4915.2, "scoreError" : 163.84, "scoreUnit" : "us/op" },
                "secondaryMetrics" : {
                    "gc.alloc.rate.norm" : { "score" : 0.0, "scoreError" : 0.0, "scoreUnit" : "B/op" }
                }
            },
            {
                "benchmark" : "org.extentcache.bench.jmh.MissBenchmark.fileChannelRead",
                "mode" : "avgt", "threads" : 1, "forks" : 2,
                "jdkVersion" : "17.0.15", "vmName" : "OpenJDK 64-Bit Server VM",
                "vmVersion" : "17.0.15+6-Debian-1deb12u1",
                "warmupIterations" : 3, "warmupTime" : "1 s",
                "measurementIterations" : 5, "measurementTime" : "1 s", "measurementBatchSize" : 1,
                "params" : { "pageSize" : "4096" },
                "primaryMetric" : { "score" : 1000.0, "scoreError" : 50.0, "scoreUnit" : "ns/op" }
            },
            {
                "benchmark" : "org.extentcache.bench.jmh.MissBenchmark.miss",
                "mode" : "avgt", "threads" : 1, "forks" : 2,
                "jdkVersion" : "17.0.15", "vmName" : "OpenJDK 64-Bit Server VM",
                "vmVersion" : "17.0.15+6-Debian-1deb12u1",
                "warmupIterations" : 3, "warmupTime" : "1 s",
                "measurementIterations" : 5, "measurementTime" : "1 s", "measurementBatchSize" : 1,
                "params" : { "pageSize" : "4096" },
                "primaryMetric" : { "score" : 1.1e3, "scoreError" : 55.0, "scoreUnit" : "ns/op" }
            },
            {
                "benchmark" : "org.extentcache.bench.jmh.WriteBenchmark.inPlaceWrite",
                "mode" : "avgt", "threads" : 1, "forks" : 2,
                "jdkVersion" : "17.0.15", "vmName" : "OpenJDK 64-Bit Server VM",
                "vmVersion" : "17.0.15+6-Debian-1deb12u1",
                "warmupIterations" : 3, "warmupTime" : "1 s",
                "measurementIterations" : 5, "measurementTime" : "1 s", "measurementBatchSize" : 1,
                "primaryMetric" : { "score" : 500.0, "scoreError" : 10.0, "scoreUnit" : "ns/op" }
            },
            {
                "benchmark" : "org.extentcache.bench.jmh.CopyOnWriteBenchmark.copyOnWriteWrite",
                "mode" : "ss", "threads" : 1, "forks" : 2,
                "jdkVersion" : "17.0.15", "vmName" : "OpenJDK 64-Bit Server VM",
                "vmVersion" : "17.0.15+6-Debian-1deb12u1",
                "warmupIterations" : 10, "warmupTime" : "1 s", "warmupBatchSize" : 2048,
                "measurementIterations" : 20, "measurementTime" : "1 s", "measurementBatchSize" : 2048,
                "primaryMetric" : { "score" : 2048.0, "scoreError" : "NaN", "scoreUnit" : "us/op" },
                "secondaryMetrics" : {
                    "gc.alloc.rate.norm" : { "score" : 98304.0, "scoreError" : "NaN", "scoreUnit" : "B/op" }
                }
            },
            {
                "benchmark" : "org.extentcache.bench.jmh.ZipfMixBenchmark.zipfMix",
                "mode" : "avgt", "threads" : 1, "forks" : 2,
                "jdkVersion" : "17.0.15", "vmName" : "OpenJDK 64-Bit Server VM",
                "vmVersion" : "17.0.15+6-Debian-1deb12u1",
                "warmupIterations" : 3, "warmupTime" : "1 s",
                "measurementIterations" : 5, "measurementTime" : "1 s", "measurementBatchSize" : 1,
                "primaryMetric" : { "score" : 400.0, "scoreError" : "NaN", "scoreUnit" : "ns/op" }
            },
            {
                "benchmark" : "org.extentcache.bench.jmh.ThreadScalingBenchmark.hits1Thread",
                "mode" : "thrpt", "threads" : 1, "forks" : 2,
                "jdkVersion" : "17.0.15", "vmName" : "OpenJDK 64-Bit Server VM",
                "vmVersion" : "17.0.15+6-Debian-1deb12u1",
                "warmupIterations" : 3, "warmupTime" : "1 s",
                "measurementIterations" : 5, "measurementTime" : "1 s", "measurementBatchSize" : 1,
                "primaryMetric" : { "score" : 10.0, "scoreError" : 0.5, "scoreUnit" : "ops/us" }
            },
            {
                "benchmark" : "org.extentcache.bench.jmh.ThreadScalingBenchmark.hits2Threads",
                "mode" : "thrpt", "threads" : 2, "forks" : 2,
                "jdkVersion" : "17.0.15", "vmName" : "OpenJDK 64-Bit Server VM",
                "vmVersion" : "17.0.15+6-Debian-1deb12u1",
                "warmupIterations" : 3, "warmupTime" : "1 s",
                "measurementIterations" : 5, "measurementTime" : "1 s", "measurementBatchSize" : 1,
                "primaryMetric" : { "score" : 17.0, "scoreError" : 0.85, "scoreUnit" : "ops/us" }
            }
        ]
        """;

    private static final Machine MACHINE = new Machine(2, 24L << 30);
    private static final Instant MODIFIED = Instant.parse("2026-11-22T10:41:00Z");

    private static final List<JmhResult> RESULTS = JmhResultsFile.parse(FIXTURE);

    private static JmhResult result(final List<JmhResult> results, final String name, final String pageSize)
    {
        final JmhResult r = Suite.find(results, name, pageSize);
        assertNotNull(r, name + " at " + pageSize + " in the results");
        return r;
    }

    /**
     * The fixture's text without the results of the named benchmarks, parsed, so the "not run" cases go through the
     * parser too. Cuts the array at its top-level objects (the fixture has no braces inside strings).
     */
    private static List<JmhResult> without(final String... names)
    {
        final StringBuilder json = new StringBuilder("[");
        int depth = 0;
        int start = -1;
        for (int i = 0; i < FIXTURE.length(); i++)
        {
            final char c = FIXTURE.charAt(i);
            if (c == '{' && depth++ == 0)
            {
                start = i;
            }
            else if (c == '}' && --depth == 0)
            {
                final String object = FIXTURE.substring(start, i + 1);
                if (Arrays.stream(names).noneMatch(n -> object.contains("\"" + PACKAGE + n + "\"")))
                {
                    json.append(json.length() > 1 ? ",\n" : "").append(object);
                }
            }
        }
        return JmhResultsFile.parse(json.append(']').toString());
    }

    private static Verdict verdict(final List<Target> targets, final String prefix)
    {
        return target(targets, prefix).verdict();
    }

    private static Target target(final List<Target> targets, final String prefix)
    {
        return targets.stream().filter(t -> t.what().startsWith(prefix)).findFirst()
            .orElseThrow(() -> new AssertionError("no target starting '" + prefix + "' in " + targets));
    }

    @Test
    void parsesEveryModeParamsPresentAndAbsentNaNErrorsAndBothAllocationKeys()
    {
        assertEquals(15, RESULTS.size());

        final JmhResult bareCopy = RESULTS.get(0);
        assertEquals(PACKAGE + "HitBenchmark.bareCopy", bareCopy.benchmark());
        assertEquals("HitBenchmark.bareCopy", bareCopy.name());
        assertEquals("avgt", bareCopy.mode());
        assertEquals(Map.of("pageSize", "4096"), bareCopy.params());
        assertEquals(80.0, bareCopy.score());
        assertEquals(4.0, bareCopy.scoreError());
        assertEquals(0.0, bareCopy.alloc(), "\u00b7gc.alloc.rate.norm, the key with the middle dot");
        assertEquals("OpenJDK 64-Bit Server VM 17.0.15+6-Debian-1deb12u1 (JDK 17.0.15)", bareCopy.jvm());
        assertEquals("2 forks, 3 × 1 s warm-up, 5 × 1 s measurement", bareCopy.settings());

        final JmhResult fileHit = result(RESULTS, Suite.FILE_HIT, "4096");
        assertEquals(0.02, fileHit.alloc(), "gc.alloc.rate.norm, the key without the middle dot");
        assertTrue(Double.isNaN(fileHit.allocError()), "\"NaN\" as a string");
        assertEquals(300.0, result(RESULTS, Suite.FILE_HIT, "16384").score());

        final JmhResult sharing = result(RESULTS, Suite.SHARING_HIT, null);
        assertEquals("ss", sharing.mode());
        assertEquals(Map.of(), sharing.params(), "no params member");
        assertEquals(16384, sharing.measurementBatchSize());
        assertEquals("2 forks, 10 warm-up and 20 measured single-shot batches", sharing.settings());

        final JmhResult cow = result(RESULTS, Suite.COPY_ON_WRITE, null);
        assertTrue(Double.isNaN(cow.scoreError()), "\"NaN\" primary error");

        final JmhResult perFile = result(RESULTS, Suite.PER_FILE_HIT, "4096");
        assertTrue(Double.isNaN(perFile.alloc()), "empty secondaryMetrics: allocation not measured");
        assertTrue(Double.isNaN(result(RESULTS, Suite.MISS, "4096").alloc()), "no secondaryMetrics");

        final JmhResult two = result(RESULTS, Suite.HITS_2_THREADS, null);
        assertEquals("thrpt", two.mode());
        assertEquals(2, two.threads());
        assertEquals("ops/us", two.scoreUnit());
    }

    @Test
    void convertsToNanosecondsPerSingleOperationDividingBatchesByTheirClassConstant()
    {
        final Score pin = result(RESULTS, Suite.PIN_UNPIN, "4096").perOp();
        assertEquals(35.0, pin.value(), 1e-9, "us/op to ns/op");
        assertEquals(1.0, pin.error(), 1e-9);
        assertEquals("ns/op", pin.unit());

        final JmhResult sharing = result(RESULTS, Suite.SHARING_HIT, null);
        assertEquals(SharingHitBenchmark.BATCH, sharing.batch());
        assertEquals(4915.2 * 1000 / SharingHitBenchmark.BATCH, sharing.perOp().value(), 1e-9);
        assertEquals(163.84 * 1000 / SharingHitBenchmark.BATCH, sharing.perOp().error(), 1e-9);
        assertEquals(300.0, sharing.perOp().value(), 1e-9);

        final JmhResult cow = result(RESULTS, Suite.COPY_ON_WRITE, null);
        assertEquals(CopyOnWriteBenchmark.BATCH, cow.batch());
        assertEquals(1000.0, cow.perOp().value(), 1e-9);
        assertTrue(Double.isNaN(cow.perOp().error()));
        assertEquals(48.0, cow.allocPerOp(), 1e-9, "allocation per batch divided too");

        final JmhResult hits = result(RESULTS, Suite.HITS_1_THREAD, null);
        assertEquals(1, hits.batch());
        assertEquals(new Score(10.0, 0.5, "ops/us"), hits.perOp());

        assertEquals(new Score(2.0, 0.5, "ns/op"), Score.normalize(2.0, 0.5, "ns/op"));
        assertEquals(3e9, Score.normalize(3, 0, "s/op").value(), 1e-3);
        assertEquals(0.005, Score.normalize(5, 0, "ops/ms").value(), 1e-12);
        assertEquals(2000.0, Score.normalize(2, 0, "ops/ns").value(), 1e-9);
        final IllegalArgumentException unit =
            assertThrows(IllegalArgumentException.class, () -> Score.normalize(1, 0, "MB/sec"));
        assertTrue(unit.getMessage().contains("MB/sec"), unit.getMessage());
    }

    @Test
    void aRatioAddsTheRelativeErrorsOfItsScores()
    {
        final Score ratio = result(RESULTS, Suite.FILE_HIT, "4096").perOp()
            .over(result(RESULTS, Suite.BARE_COPY, "4096").perOp());
        assertEquals(1.2, ratio.value(), 1e-9);
        assertEquals(1.2 * (4.8 / 96 + 4.0 / 80), ratio.error(), 1e-9);
        assertEquals("1.20 (±0.12)", ratio.ratioText());

        final Score unknown = result(RESULTS, Suite.ZIPF_MIX, null).perOp()
            .over(result(RESULTS, Suite.IN_PLACE_WRITE, null).perOp());
        assertEquals(0.8, unknown.value(), 1e-9);
        assertEquals("0.80 (± n/a)", unknown.ratioText(), "a NaN error makes the ratio's error unknown");
        assertEquals("n/a", new Score(1, 0, "ns/op").over(new Score(0, 0, "ns/op")).ratioText());
    }

    @Test
    void eachTargetIsMetOrNotMetFromTheMeasuredRatio()
    {
        final List<Target> targets = Targets.targets(RESULTS);
        assertEquals(8, targets.size());

        assertEquals(Verdict.MET, verdict(targets, "file hit, copy out"));
        assertEquals("fileHit / bareCopy = 1.20 (±0.12)", target(targets, "file hit, copy out").measured());
        assertEquals(Verdict.MET, verdict(targets, "file hit, zero-copy pin"));
        assertEquals("35.00 ± 1.00 ns/op, 0.01 B/op", target(targets, "file hit, zero-copy pin").measured());
        assertEquals(Verdict.NOT_MET, verdict(targets, "sharing hit"));
        assertEquals("sharingHit / fileHit = 3.13 (±0.26)", target(targets, "sharing hit").measured());
        assertEquals(Verdict.MET, verdict(targets, "miss"));
        assertEquals("miss / fileChannelRead = 1.10 (±0.11)", target(targets, "miss").measured());
        assertEquals(Verdict.MET, verdict(targets, "hit throughput vs Caffeine"));
        assertEquals("caffeineHit / fileHit = 1.25 (±0.10)",
            target(targets, "hit throughput vs Caffeine").measured());
        assertEquals(Verdict.NOT_MET, verdict(targets, "2 threads vs 1"));
        assertEquals("hits2Threads / hits1Thread = 1.70 (±0.17)", target(targets, "2 threads vs 1").measured());
        assertEquals(Verdict.NOT_MET, verdict(targets, "hits and pins allocate"), "pinUnpin at 16 KiB: 24 B/op");
        assertEquals("B/op by page size: fileHit 4096: 0.02, 16384: 0.00, 65536: not run; pinUnpin 4096: 0.01, " +
            "16384: 24.00, 65536: not run", target(targets, "hits and pins allocate").measured());
        assertEquals(Verdict.ELSEWHERE, verdict(targets, "memory"));
        assertEquals("see footprint tool", target(targets, "memory").measured());
    }

    @Test
    void theOppositeVerdictsWhenTheNumbersCrossTheLimits()
    {
        final String faster = FIXTURE
            .replace("\"score\" : 4915.2,", "\"score\" : 4000.0,")               // sharing 244 ns: 2.2x, met
            .replace("\"score\" : 96.0,", "\"score\" : 110.0,")                  // fileHit 1.375x bareCopy
            .replace("\"score\" : 17.0,", "\"score\" : 19.5,")                   // 1.95x on 2 threads, met
            .replace("\"score\" : 0.035,", "\"score\" : 0.041,")                 // pin 41 ns, not met
            .replace("\"score\" : 1.1e3,", "\"score\" : 1250.0,")                // miss 1.25x, not met
            .replace("\"score\" : 120.0,", "\"score\" : 100.0,")                 // Caffeine faster, not met
            .replace("\"score\" : 24.0,", "\"score\" : 0.08,");                  // within 0.1 B/op
        final List<Target> targets = Targets.targets(JmhResultsFile.parse(faster));
        assertEquals(Verdict.NOT_MET, verdict(targets, "file hit, copy out"));
        assertEquals(Verdict.NOT_MET, verdict(targets, "file hit, zero-copy pin"));
        assertEquals(Verdict.MET, verdict(targets, "sharing hit"));
        assertEquals(Verdict.NOT_MET, verdict(targets, "miss"));
        assertEquals(Verdict.NOT_MET, verdict(targets, "hit throughput vs Caffeine"));
        assertEquals(Verdict.MET, verdict(targets, "2 threads vs 1"));
        assertEquals(Verdict.MET_WHERE_RUN, verdict(targets, "hits and pins allocate"),
            "every measured case is within 0.1 B/op, but 65536 was not run");

        final String allocating = FIXTURE.replace("\"score\" : 0.01, \"scoreError\" : 0.01",
            "\"score\" : 0.2, \"scoreError\" : 0.01");
        assertEquals(Verdict.NOT_MET, verdict(Targets.targets(JmhResultsFile.parse(allocating)),
            "file hit, zero-copy pin"), "35 ns but 0.2 B/op");
    }

    @Test
    void missingBenchmarksAreNotRun()
    {
        final List<JmhResult> results = without("MissBenchmark.miss", "ThreadScalingBenchmark.hits1Thread",
            "ThreadScalingBenchmark.hits2Threads", "SharingHitBenchmark.sharingHit", "HitBenchmark.bareCopy");
        assertEquals(10, results.size());
        final List<Target> targets = Targets.targets(results);
        assertEquals(Verdict.NOT_RUN, verdict(targets, "file hit, copy out"));
        assertEquals("not run: bareCopy", target(targets, "file hit, copy out").measured());
        assertEquals(Verdict.NOT_RUN, verdict(targets, "sharing hit"));
        assertEquals(Verdict.NOT_RUN, verdict(targets, "miss"));
        assertEquals("not run: miss", target(targets, "miss").measured());
        assertEquals(Verdict.NOT_RUN, verdict(targets, "2 threads vs 1"));
        assertEquals("not run: hits2Threads, hits1Thread", target(targets, "2 threads vs 1").measured());
        assertEquals(Verdict.MET, verdict(targets, "hit throughput vs Caffeine"), "both still there");

        final List<Target> none = Targets.targets(List.of());
        for (final Target t : none.subList(0, 7))
        {
            assertEquals(Verdict.NOT_RUN, t.verdict(), t.toString());
        }
        final String markdown = MarkdownReport.markdown(results, MODIFIED, MACHINE);
        assertTrue(markdown.contains("| HitBenchmark.fileHit | pageSize=4096 | 96.00 ± 4.80 ns/op | 0.02 | " +
            "bareCopy (not run) | — |"), markdown);
    }

    @Test
    void pinTargetWithoutTheGcProfilerIsNotMeasured()
    {
        final String noGc = FIXTURE.replace("gc.alloc.rate.norm", "gc.alloc.rate.other");
        final List<JmhResult> results = JmhResultsFile.parse(noGc);
        assertTrue(Double.isNaN(result(results, Suite.PIN_UNPIN, "4096").alloc()));
        final List<Target> targets = Targets.targets(results);
        assertEquals(Verdict.NOT_MEASURED, verdict(targets, "file hit, zero-copy pin"));
        assertEquals(Verdict.NOT_MEASURED, verdict(targets, "hits and pins allocate"));
    }

    @Test
    void theMarkdownHasTheHeaderTheTableInSuiteOrderAndTheTargets()
    {
        final String markdown = MarkdownReport.markdown(RESULTS, MODIFIED, MACHINE);
        assertTrue(markdown.startsWith("# JMH results\n\nJVM: OpenJDK 64-Bit Server VM 17.0.15+6-Debian-1deb12u1 " +
            "(JDK 17.0.15); "), markdown);
        assertTrue(markdown.contains("results file modified 2026-11-22 10:41 UTC"), markdown);
        assertTrue(markdown.contains("avgt, thrpt runs: 2 forks, 3 × 1 s warm-up, 5 × 1 s measurement"), markdown);
        assertTrue(markdown.contains("; ss runs: 2 forks, 10 warm-up and 20 measured single-shot batches; report"),
            markdown);
        assertTrue(markdown.contains("report generated on a machine with 2 cores, 24.0 GiB RAM"), markdown);

        final String[] rows = {
            "| HitBenchmark.bareCopy | pageSize=4096 | 80.00 ± 4.00 ns/op | 0.00 | — | — |",
            "| HitBenchmark.fileHit | pageSize=4096 | 96.00 ± 4.80 ns/op | 0.02 | bareCopy | 1.20 (±0.12) |",
            "| HitBenchmark.fileHit | pageSize=16384 | 300.0 ± 3.0 ns/op | 0.00 | bareCopy (not run) | — |",
            "| HitBenchmark.pinUnpin | pageSize=4096 | 35.00 ± 1.00 ns/op | 0.01 | fileHit | 0.36 (±0.03) |",
            "| HitBenchmark.pinUnpin | pageSize=16384 | 36.00 ± 1.00 ns/op | 24.00 | fileHit | 0.12 (±0.005) |",
            "| HitBenchmark.caffeineHit | pageSize=4096 | 120.0 ± 3.6 ns/op | 16.00 | fileHit | 1.25 (±0.10) |",
            "| HitBenchmark.perFileHit | pageSize=4096 | 100.0 ± 5.0 ns/op | — | fileHit | 1.04 (±0.10) |",
            "| SharingHitBenchmark.sharingHit | batch=16384 (score ÷ 16384) | 300.0 ± 10.0 ns/op | 0.00 | fileHit " +
                "| 3.13 (±0.26) |",
            "| MissBenchmark.fileChannelRead | pageSize=4096 | 1,000 ± 50 ns/op | — | — | — |",
            "| MissBenchmark.miss | pageSize=4096 | 1,100 ± 55 ns/op | — | fileChannelRead | 1.10 (±0.11) |",
            "| WriteBenchmark.inPlaceWrite | — | 500.0 ± 10.0 ns/op | — | — | — |",
            "| CopyOnWriteBenchmark.copyOnWriteWrite | batch=2048 (score ÷ 2048) | 1,000 ± n/a ns/op | 48.00 | " +
                "inPlaceWrite | 2.00 (± n/a) |",
            "| ZipfMixBenchmark.zipfMix | — | 400.0 ± n/a ns/op | — | — | — |",
            "| ThreadScalingBenchmark.hits1Thread | — | 10.00 ± 0.50 ops/us | — | — | — |",
            "| ThreadScalingBenchmark.hits2Threads | threads=2 | 17.00 ± 0.85 ops/us | — | hits1Thread | " +
                "1.70 (±0.17) |",
        };
        int last = -1;
        for (final String row : rows)
        {
            final int at = markdown.indexOf(row + "\n");
            assertTrue(at > last, "row in order: " + row + "\n" + markdown);
            last = at;
        }
        assertTrue(markdown.contains("| sharing hit (first read through a clone) ≤ 3× a file hit | " +
            "sharingHit / fileHit = 3.13 (±0.26) | not met |"), markdown);
        assertTrue(markdown.contains("| file hit, copy out 4 KiB ≤ 1.3× a bare 4 KiB off-heap copy | " +
            "fileHit / bareCopy = 1.20 (±0.12) | met |"), markdown);
        assertTrue(markdown.contains("| see footprint tool | — |"), markdown);
        assertFalse(markdown.contains("Warning"), markdown);
    }

    @Test
    void warnsWhenTheRunsBatchSizeDiffersFromTheClassConstant()
    {
        final List<JmhResult> results = JmhResultsFile.parse(FIXTURE.replace("\"measurementBatchSize\" : 2048",
            "\"measurementBatchSize\" : 1024"));
        final String markdown = MarkdownReport.markdown(results, MODIFIED, MACHINE);
        assertTrue(markdown.contains("**Warning:** CopyOnWriteBenchmark.copyOnWriteWrite ran with batch size 1024 " +
            "(JMH -bs), but its class's BATCH is 2048"), markdown);
    }

    @Test
    void thePageSizesComeFromHitBenchmarksParamAnnotation()
    {
        assertEquals(List.of("4096", "16384", "65536"), Suite.hitPageSizes(List.of()));
    }

    @Test
    void theChartIsAPng(@TempDir final Path dir) throws IOException
    {
        final Path png = dir.resolve("chart.png");
        JmhChart.write(RESULTS, MODIFIED, png);
        assertTrue(Files.size(png) > 0);
        final BufferedImage image = ImageIO.read(png.toFile());
        assertNotNull(image, "a readable PNG");
        assertTrue(image.getWidth() > 0 && image.getHeight() > 0);

        final Path partial = dir.resolve("partial.png");
        JmhChart.write(without("HitBenchmark.bareCopy", "ZipfMixBenchmark.zipfMix"), MODIFIED, partial);
        assertTrue(Files.size(partial) > 0, "benchmarks not run leave a gap, not a failure");
        final Path empty = dir.resolve("empty.png");
        JmhChart.write(List.of(), MODIFIED, empty);
        assertTrue(Files.size(empty) > 0);
    }

    @Test
    void theChartHasALogAxisWithDecadeEndsABarSeriesPerKindAndLabelsWhatWasNotRun()
    {
        final CategoryChart chart = JmhChart.chart(RESULTS, MODIFIED);
        assertTrue(chart.getStyler().isYAxisLogarithmic());
        assertEquals(10.0, chart.getStyler().getYAxisMin(), "below pinUnpin's 35 - 1 ns, a power of ten");
        assertEquals(10_000.0, chart.getStyler().getYAxisMax(), "above miss's 1,100 + 55 ns, a power of ten");
        assertEquals(List.of("ExtentCache", "per-file (same engine)", "Caffeine", "no cache (baseline)"),
            List.copyOf(chart.getSeriesMap().keySet()), "every kind has a bar, each its own series and colour");
        final List<?> labels = List.copyOf(chart.getSeriesMap().get("ExtentCache").getXData());
        assertEquals(JmhChart.BARS.size(), labels.size());
        assertEquals("fileHit: 96.00 ± 4.80 ns/op", labels.get(1));
        assertEquals("sharingHit (per op): 300.0 ± 10.0 ns/op", labels.get(5));

        final CategoryChart partial = JmhChart.chart(without("HitBenchmark.bareCopy", "HitBenchmark.caffeineHit"),
            MODIFIED);
        assertFalse(partial.getSeriesMap().containsKey("Caffeine"), "no Caffeine bar, no Caffeine legend entry");
        assertEquals("bareCopy: not run", List.copyOf(partial.getSeriesMap().get("ExtentCache").getXData()).get(0));

        final CategoryChart empty = JmhChart.chart(List.of(), MODIFIED);
        assertEquals(1, empty.getSeriesMap().size(), "one empty series lays out the axis");
        assertEquals(1.0, empty.getStyler().getYAxisMin());
        assertEquals(1000.0, empty.getStyler().getYAxisMax());
    }

    @Test
    void theAxisEndsAreThePowersOfTenAroundTheValues()
    {
        assertEquals(10.0, JmhChart.decade(34, false));
        assertEquals(100.0, JmhChart.decade(34, true));
        assertEquals(100.0, JmhChart.decade(100, false));
        assertEquals(100.0, JmhChart.decade(100, true), "a power of ten is its own end");
        assertEquals(0.1, JmhChart.decade(0.35, false), 1e-12);
    }

    @Test
    void theCommandWritesBothFilesAndPrintsTheMarkdown(@TempDir final Path dir) throws IOException
    {
        final Path json = dir.resolve("jmh-results.json");
        Files.writeString(json, FIXTURE, StandardCharsets.UTF_8);
        Files.setLastModifiedTime(json, FileTime.from(MODIFIED));
        final Path out = dir.resolve("docs");
        final Captured run = run(json.toString(), out.toString());
        assertEquals(0, run.status, run.err);
        final String markdown = Files.readString(out.resolve(JmhReport.MARKDOWN_FILE), StandardCharsets.UTF_8);
        assertEquals(markdown, run.out, "the same Markdown on stdout");
        assertTrue(markdown.contains("results file modified 2026-11-22 10:41 UTC"), markdown);
        assertTrue(Files.size(out.resolve(JmhReport.CHART_FILE)) > 0);
        assertTrue(run.err.contains("wrote"), run.err);
    }

    @Test
    void badArgumentsPrintUsageAndExit2()
    {
        for (final String[] args : List.of(new String[0], new String[]{"only-one.json"},
            new String[]{"a.json", "out", "extra"}, new String[]{"", "out"}))
        {
            final Captured run = run(args);
            assertEquals(2, run.status, String.join(" ", args));
            assertTrue(run.err.contains("usage: JmhReport RESULTS.json OUT_DIR"), run.err);
            assertEquals("", run.out);
        }
        final Captured help = run("--help");
        assertEquals(0, help.status);
        assertTrue(help.out.startsWith("usage:"), help.out);
    }

    @Test
    void unreadableOrInvalidResultsNameTheFileAndExit1(@TempDir final Path dir) throws IOException
    {
        final Path missing = dir.resolve("missing.json");
        final Captured absent = run(missing.toString(), dir.resolve("out").toString());
        assertEquals(1, absent.status);
        assertTrue(absent.err.contains(missing.toString()) && absent.err.contains("no such file"), absent.err);
        assertFalse(Files.exists(dir.resolve("out")), "nothing written");

        final Path truncated = dir.resolve("truncated.json");
        Files.writeString(truncated, FIXTURE.substring(0, FIXTURE.length() / 2), StandardCharsets.UTF_8);
        final Captured invalid = run(truncated.toString(), dir.resolve("out").toString());
        assertEquals(1, invalid.status);
        assertTrue(invalid.err.contains(truncated.toString()) && invalid.err.contains("invalid JSON at line"),
            invalid.err);

        final Path notJmh = dir.resolve("object.json");
        Files.writeString(notJmh, "{\"benchmark\": \"x\"}", StandardCharsets.UTF_8);
        final Captured object = run(notJmh.toString(), dir.resolve("out").toString());
        assertEquals(1, object.status);
        assertTrue(object.err.contains(notJmh.toString()) && object.err.contains("expected an array"), object.err);

        final Path noScore = dir.resolve("noscore.json");
        Files.writeString(noScore, "[{\"benchmark\": \"a.B.c\", \"mode\": \"avgt\", \"primaryMetric\": " +
            "{\"scoreUnit\": \"ns/op\"}}]", StandardCharsets.UTF_8);
        final Captured score = run(noScore.toString(), dir.resolve("out").toString());
        assertEquals(1, score.status);
        assertTrue(score.err.contains("result 0 (a.B.c): primaryMetric.score must be a number"), score.err);
    }

    @Test
    void badJsonIsRejectedSayingWhere()
    {
        assertEquals(Double.NaN, JmhResultsFile.number("NaN", "x"));
        assertEquals(Double.POSITIVE_INFINITY, JmhResultsFile.number("Infinity", "x"));
        assertEquals(-250.0, JmhResultsFile.number(-2.5e2, "x"));
        assertEquals(1.0, JmhResultsFile.number(1, "x"));

        final IllegalArgumentException trailing =
            assertThrows(IllegalArgumentException.class, () -> JmhResultsFile.parse("[1,\n 2,]"));
        assertTrue(trailing.getMessage().startsWith("invalid JSON at line 2, column "), trailing.getMessage());
        for (final String bad : List.of("", "[", "{\"a\" 1}", "[01]", "\"\u0001\"", "\"\\x\"", "[1] 2", "tru", "-"))
        {
            final IllegalArgumentException ex =
                assertThrows(IllegalArgumentException.class, () -> JmhResultsFile.parse(bad), bad);
            assertTrue(ex.getMessage().startsWith("invalid JSON at line 1, column "), ex.getMessage());
        }
    }

    private record Captured(int status, String out, String err)
    {
    }

    private static Captured run(final String... args)
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final int status;
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
             PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8))
        {
            status = JmhReport.run(args, o, e);
        }
        return new Captured(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }
}
