package org.extentcache.bench.jmh;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * The DESIGN.md performance targets, each judged from the results at 4 KiB pages: a ratio of two benchmarks measured
 * in one run against its limit, the pin's time and allocation, zero allocation on every hit, miss and write path.
 * A verdict is {@link Verdict#MET} or {@link Verdict#NOT_MET} only when the whole error interval lies on one side of
 * the limit; an interval that straddles it, or a score JMH gave no interval for, is {@link Verdict#CANNOT_TELL}.
 *
 * <p>Stateless and thread-safe.
 */
final class Targets
{
    /** An allocation this small per operation is zero: JMH's own bookkeeping amortised over the iteration. */
    static final double ZERO_ALLOC_TOLERANCE = 0.1;

    /** The time limit of a pin and unpin, in ns. */
    static final double PIN_LIMIT_NS = 30;

    /** A target's outcome. */
    enum Verdict
    {
        /** The whole interval meets the target. */
        MET("met"),
        /** The whole interval misses the target. */
        NOT_MET("not met"),
        /** The interval straddles the limit, or JMH gave none: this run cannot tell. */
        CANNOT_TELL("cannot tell"),
        /** Every measurement present meets the target, but some of the cases it covers were not run. */
        MET_WHERE_RUN("met where run"),
        /** A benchmark it needs is not in the results. */
        NOT_RUN("not run"),
        /** The benchmarks ran, without the GC profiler the target needs. */
        NOT_MEASURED("not measured"),
        /** Another tool measures it. */
        ELSEWHERE(Score.NONE);

        final String label;

        Verdict(final String label)
        {
            this.label = label;
        }
    }

    /**
     * One row of the targets table.
     *
     * @param what     the target as DESIGN.md states it.
     * @param measured what was measured, or why nothing was.
     * @param verdict  the outcome.
     */
    record Target(String what, String measured, Verdict verdict)
    {
    }

    /** A benchmark at the parameters a target reads it at. */
    private record Case(String name, Map<String, String> params)
    {
        JmhResult in(final List<JmhResult> results)
        {
            return Suite.find(results, name, params);
        }

        String shortName()
        {
            return Suite.shortName(name);
        }
    }

    private static final Map<String, String> FOUR_KIB = Map.of(Suite.PAGE_SIZE, Suite.FOUR_KIB);
    private static final Map<String, String> DIRECT = Map.of("directReads", "true");

    private Targets()
    {
    }

    /**
     * Evaluates each DESIGN.md performance target at 4 KiB pages.
     *
     * @param results the run's results.
     * @return one row per target, in DESIGN.md's order.
     */
    static List<Target> targets(final List<JmhResult> results)
    {
        final List<Target> targets = new ArrayList<>();
        targets.add(ratioTarget(results, "file hit, copy out 4 KiB ≤ 1.2× a bare 4 KiB off-heap copy",
            at4k(Suite.FILE_HIT), at4k(Suite.BARE_COPY), Score.NS_PER_OP, 1.2, true));
        targets.add(pinTarget(results));
        targets.add(ratioTarget(results, "sharing hit (first read through a clone) ≤ 2× a file hit",
            at4k(Suite.SHARING_HIT), at4k(Suite.FILE_HIT), Score.NS_PER_OP, 2, true));
        targets.add(ratioTarget(results, "miss served from the device (device file in the OS page cache) ≤ 1.2× a " +
            "bare FileChannel.read of 4 KiB", at4k(Suite.MISS), at4k(Suite.FILE_CHANNEL_READ), Score.NS_PER_OP, 1.2,
            true));
        targets.add(ratioTarget(results, "real-file miss with O_DIRECT ≤ 1.1× a bare O_DIRECT read",
            new Case(Suite.FS_MISS, DIRECT), new Case(Suite.FS_FILE_CHANNEL_READ, DIRECT), Score.NS_PER_OP, 1.1,
            true));
        targets.add(coldSequentialTarget(results));
        targets.add(ratioTarget(results, "cold random 4 KiB reads not slowed by readahead (≤ 1.05× the same reads " +
            "with readahead off)", any(Suite.COLD_CACHE_RANDOM), any(Suite.COLD_CACHE_RANDOM_NO_READAHEAD),
            Score.NS_PER_OP, 1.05, true));
        targets.add(zeroAllocTarget(results));
        targets.add(ratioTarget(results, "hit throughput vs Caffeine holding direct buffers ≥ 1.5× " +
            "(time ratio caffeineHit / fileHit)", at4k(Suite.CAFFEINE_HIT), at4k(Suite.FILE_HIT), Score.NS_PER_OP,
            1.5, false));
        targets.add(scalingTarget(results));
        targets.add(new Target("memory for N fully-read clones of an S-byte image ≤ S × 1.01 + " +
            "N × (S / page) × 8 B", "see footprint tool", Verdict.ELSEWHERE));
        targets.add(new Target("memory for N plain copies with merging on: the same bound as clones",
            "see footprint tool (--copies --merge)", Verdict.ELSEWHERE));
        return Collections.unmodifiableList(targets);
    }

    /**
     * @param score  a measurement with its error.
     * @param limit  the target's limit.
     * @param atMost true if the target is an upper bound.
     * @return met or not met if the whole interval is on one side of the limit, else cannot tell.
     */
    static Verdict judge(final Score score, final double limit, final boolean atMost)
    {
        final double error = score.error();
        if (Double.isNaN(score.value()) || Double.isInfinite(score.value()) || Double.isNaN(error) ||
            Double.isInfinite(error))
        {
            return Verdict.CANNOT_TELL;
        }
        final double low = score.value() - error;
        final double high = score.value() + error;
        if (atMost ? high <= limit : low >= limit)
        {
            return Verdict.MET;
        }
        if (atMost ? low > limit : high < limit)
        {
            return Verdict.NOT_MET;
        }
        return Verdict.CANNOT_TELL;
    }

    private static Case at4k(final String name)
    {
        return new Case(name, hasPageSize(name) ? FOUR_KIB : Map.of());
    }

    private static Case any(final String name)
    {
        return new Case(name, Map.of());
    }

    private static boolean hasPageSize(final String name)
    {
        return name.startsWith("HitBenchmark.") || name.startsWith("MissBenchmark.");
    }

    private static Target ratioTarget(final List<JmhResult> results, final String what, final Case numerator,
        final Case denominator, final String unit, final double limit, final boolean atMost)
    {
        final JmhResult top = numerator.in(results);
        final JmhResult bottom = denominator.in(results);
        final String formula = numerator.shortName() + " / " + denominator.shortName();
        if (null == top || null == bottom)
        {
            return new Target(what, "not run: " + missing(top, numerator, bottom, denominator), Verdict.NOT_RUN);
        }
        if (!unit.equals(top.perOp().unit()) || !unit.equals(bottom.perOp().unit()))
        {
            return new Target(what, "not comparable: the target needs both in " + unit + ", measured " +
                top.perOp().unit() + " and " + bottom.perOp().unit() + " (JMH -bm changed the mode?)",
                Verdict.NOT_RUN);
        }
        final Score ratio = top.perOp().over(bottom.perOp());
        return new Target(what, formula + " = " + ratio.ratioText(), judge(ratio, limit, atMost));
    }

    private static String missing(final JmhResult a, final Case aCase, final JmhResult b, final Case bCase)
    {
        final List<String> names = new ArrayList<>();
        if (null == a)
        {
            names.add(aCase.shortName());
        }
        if (null == b)
        {
            names.add(bCase.shortName());
        }
        return String.join(", ", names);
    }

    private static Target pinTarget(final List<JmhResult> results)
    {
        final String what = "file hit, zero-copy pin + unpin ≤ " + (long)PIN_LIMIT_NS + " ns, 0 B/op (±" +
            ZERO_ALLOC_TOLERANCE + ")";
        final JmhResult pin = Suite.find(results, Suite.PIN_UNPIN, Suite.FOUR_KIB);
        if (null == pin)
        {
            return new Target(what, "not run: pinUnpin", Verdict.NOT_RUN);
        }
        final Score time = pin.perOp();
        final double alloc = pin.allocPerOp();
        final String measured = time.text() + ", " + Score.allocText(alloc) + " B/op";
        if (!Score.NS_PER_OP.equals(time.unit()))
        {
            return new Target(what, measured + " (not in ns/op: JMH -bm changed the mode?)", Verdict.NOT_RUN);
        }
        final Verdict fast = judge(time, PIN_LIMIT_NS, true);
        if (Verdict.NOT_MET == fast)
        {
            return new Target(what, measured, Verdict.NOT_MET);
        }
        if (Double.isNaN(alloc))
        {
            return new Target(what, measured + " (allocation needs -prof gc)", Verdict.NOT_MEASURED);
        }
        if (Math.abs(alloc) > ZERO_ALLOC_TOLERANCE)
        {
            return new Target(what, measured, Verdict.NOT_MET);
        }
        return new Target(what, measured, fast);
    }

    /**
     * Cold sequential read: the cache's {@code O_DIRECT} pass against the kernel's buffered pass (a time ratio: at
     * most 1 means at least the kernel's rate), with the share of 1 MiB {@code O_DIRECT} reads' rate beside it, the
     * aim, reported but not judged.
     */
    private static Target coldSequentialTarget(final List<JmhResult> results)
    {
        final Target ratio = ratioTarget(results, "cold sequential read of a real file (O_DIRECT, with readahead) " +
            "≥ the kernel's buffered read (time ratio ≤ 1), aiming at 70% of 1 MiB O_DIRECT reads",
            any(Suite.COLD_CACHE_SEQUENTIAL), any(Suite.COLD_KERNEL_SEQUENTIAL), Score.NS_PER_OP, 1, true);
        final JmhResult cache = any(Suite.COLD_CACHE_SEQUENTIAL).in(results);
        final JmhResult direct1m = any(Suite.COLD_DIRECT_1M_SEQUENTIAL).in(results);
        if (null == cache || null == direct1m || Verdict.NOT_RUN == ratio.verdict())
        {
            return ratio;
        }
        final Score share = direct1m.perOp().over(cache.perOp());
        return new Target(ratio.what(), ratio.measured() + "; rate = " + Math.round(100 * share.value()) + "% (±" +
            (Double.isNaN(share.error()) ? "n/a" : Math.round(100 * share.error()) + "%") +
            ") of direct1mSequential's", ratio.verdict());
    }

    /**
     * Hits on 2 threads against 1, as throughput: {@link HitScalingBenchmark}'s time per invocation (each thread
     * makes the same number of hits) at 1 and 2 threads, or, where it did not run, {@link ThreadScalingBenchmark}'s
     * two throughputs.
     */
    private static Target scalingTarget(final List<JmhResult> results)
    {
        final String what = "2 threads vs 1 on hits ≥ 1.9× (throughput)";
        final JmhResult one = Suite.find(results, Suite.HIT_SCALING, Map.of("threads", "1"));
        final JmhResult two = Suite.find(results, Suite.HIT_SCALING, Map.of("threads", "2"));
        if (null == one || null == two)
        {
            return ratioTarget(results, what, any(Suite.HITS_2_THREADS), any(Suite.HITS_1_THREAD), Score.OPS_PER_US,
                1.9, false);
        }
        // time per invocation of threads × HITS hits: throughput(2) / throughput(1) = 2 × time(1) / time(2)
        final Score times = one.perOp().over(two.perOp());
        final Score ratio = new Score(2 * times.value(), 2 * times.error(), times.unit());
        return new Target(what, "hits threads=2 / threads=1 (2 × time at 1 / time at 2) = " + ratio.ratioText(),
            judge(ratio, 1.9, false));
    }

    /**
     * Zero allocation on every hit, miss and write path: file hits and pins at every page size, the sharing hit,
     * the misses (device and real file, every parameter run), the in-place write and the copy-on-write.
     */
    private static Target zeroAllocTarget(final List<JmhResult> results)
    {
        final String what = "every hit, miss and write path allocates 0 B/op (±" + ZERO_ALLOC_TOLERANCE + ")";
        final List<String> parts = new ArrayList<>();
        final int[] tally = new int[4]; // cases, ran, measured, over
        final List<String> sizes = Suite.hitPageSizes(results);
        for (final String name : List.of(Suite.FILE_HIT, Suite.PIN_UNPIN))
        {
            final List<String> cells = new ArrayList<>();
            for (final String size : sizes)
            {
                cells.add(size + ": " + allocCell(Suite.find(results, name, size), tally));
            }
            parts.add(Suite.shortName(name) + " " + String.join(", ", cells));
        }
        for (final String name : List.of(Suite.SHARING_HIT, Suite.MISS, Suite.FS_MISS, Suite.IN_PLACE_WRITE,
            Suite.COPY_ON_WRITE))
        {
            final List<JmhResult> runs = Suite.all(results, name);
            if (runs.isEmpty())
            {
                parts.add(name + " " + allocCell(null, tally));
                continue;
            }
            final List<String> cells = new ArrayList<>();
            for (final JmhResult r : runs)
            {
                final String params = r.params().isEmpty() ? "" : MarkdownReport.paramsText(r) + ": ";
                cells.add(params + allocCell(r, tally));
            }
            parts.add(name + " " + String.join(", ", cells));
        }
        final int cases = tally[0];
        final int ran = tally[1];
        final int measured = tally[2];
        final int over = tally[3];
        final Verdict verdict;
        if (over > 0)
        {
            verdict = Verdict.NOT_MET;
        }
        else if (ran == 0)
        {
            verdict = Verdict.NOT_RUN;
        }
        else if (measured == 0)
        {
            verdict = Verdict.NOT_MEASURED;
        }
        else
        {
            verdict = measured == cases ? Verdict.MET : Verdict.MET_WHERE_RUN;
        }
        return new Target(what, "B/op: " + String.join("; ", parts), verdict);
    }

    private static String allocCell(final JmhResult r, final int[] tally)
    {
        tally[0]++;
        if (null == r)
        {
            return "not run";
        }
        tally[1]++;
        final double alloc = r.allocPerOp();
        if (!Double.isNaN(alloc))
        {
            tally[2]++;
            tally[3] += Math.abs(alloc) <= ZERO_ALLOC_TOLERANCE ? 0 : 1;
        }
        return Score.allocText(alloc);
    }
}
