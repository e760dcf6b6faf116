package org.extentcache.bench.jmh;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The DESIGN.md performance targets, each judged from the results at 4 KiB pages: a ratio of two benchmarks against
 * its limit, the pin's time and allocation, zero allocation on hits and pins at every page size. A verdict compares
 * the point estimate with the limit; the ratio's error, shown with it, says when the run cannot tell.
 *
 * <p>Stateless and thread-safe.
 */
final class Targets
{
    /** An allocation this small per operation is zero: JMH's own bookkeeping amortised over the iteration. */
    static final double ZERO_ALLOC_TOLERANCE = 0.1;

    /** A target's outcome. */
    enum Verdict
    {
        /** The measurement meets the target. */
        MET("met"),
        /** The measurement misses the target. */
        NOT_MET("not met"),
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

    private Targets()
    {
    }

    /**
     * Evaluates each DESIGN.md performance target at 4 KiB pages.
     *
     * @param results the run's results.
     * @return one row per target, in DESIGN.md's order, allocation and memory last.
     */
    static List<Target> targets(final List<JmhResult> results)
    {
        final List<Target> targets = new ArrayList<>();
        targets.add(ratioTarget(results, "file hit, copy out 4 KiB ≤ 1.3× a bare 4 KiB off-heap copy",
            Suite.FILE_HIT, Suite.BARE_COPY, Score.NS_PER_OP, 1.3, true));
        targets.add(pinTarget(results));
        targets.add(ratioTarget(results, "sharing hit (first read through a clone) ≤ 3× a file hit",
            Suite.SHARING_HIT, Suite.FILE_HIT, Score.NS_PER_OP, 3, true));
        targets.add(ratioTarget(results, "miss served from the device ≤ 1.2× a bare FileChannel.read of 4 KiB",
            Suite.MISS, Suite.FILE_CHANNEL_READ, Score.NS_PER_OP, 1.2, true));
        targets.add(ratioTarget(results, "hit throughput vs Caffeine holding direct buffers ≥ 1× " +
            "(time ratio caffeineHit / fileHit)", Suite.CAFFEINE_HIT, Suite.FILE_HIT, Score.NS_PER_OP, 1, false));
        targets.add(ratioTarget(results, "2 threads vs 1 on hits ≥ 1.8× (throughput)",
            Suite.HITS_2_THREADS, Suite.HITS_1_THREAD, Score.OPS_PER_US, 1.8, false));
        targets.add(zeroAllocTarget(results));
        targets.add(new Target("memory for N fully-read clones of an S-byte image ≤ S × 1.01 + " +
            "N × (S / page) × 8 B", "see footprint tool", Verdict.ELSEWHERE));
        return Collections.unmodifiableList(targets);
    }

    private static Target ratioTarget(final List<JmhResult> results, final String what, final String numerator,
        final String denominator, final String unit, final double limit, final boolean atMost)
    {
        final JmhResult top = Suite.find(results, numerator, Suite.FOUR_KIB);
        final JmhResult bottom = Suite.find(results, denominator, Suite.FOUR_KIB);
        final String formula = Suite.shortName(numerator) + " / " + Suite.shortName(denominator);
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
        final boolean met = atMost ? ratio.value() <= limit : ratio.value() >= limit;
        return new Target(what, formula + " = " + ratio.ratioText(), met ? Verdict.MET : Verdict.NOT_MET);
    }

    private static String missing(final JmhResult a, final String aName, final JmhResult b, final String bName)
    {
        final List<String> names = new ArrayList<>();
        if (null == a)
        {
            names.add(Suite.shortName(aName));
        }
        if (null == b)
        {
            names.add(Suite.shortName(bName));
        }
        return String.join(", ", names);
    }

    private static Target pinTarget(final List<JmhResult> results)
    {
        final String what = "file hit, zero-copy pin + unpin ≤ 40 ns, 0 B/op (±" + ZERO_ALLOC_TOLERANCE + ")";
        final JmhResult pin = Suite.find(results, Suite.PIN_UNPIN, Suite.FOUR_KIB);
        if (null == pin)
        {
            return new Target(what, "not run: pinUnpin", Verdict.NOT_RUN);
        }
        final Score time = pin.perOp();
        final double alloc = pin.allocPerOp();
        final boolean fast = Score.NS_PER_OP.equals(time.unit()) && time.value() <= 40;
        final String measured = time.text() + ", " + Score.allocText(alloc) + " B/op";
        if (!fast)
        {
            return new Target(what, measured, Verdict.NOT_MET);
        }
        if (Double.isNaN(alloc))
        {
            return new Target(what, measured + " (allocation needs -prof gc)", Verdict.NOT_MEASURED);
        }
        return new Target(what, measured, Math.abs(alloc) <= ZERO_ALLOC_TOLERANCE ? Verdict.MET : Verdict.NOT_MET);
    }

    private static Target zeroAllocTarget(final List<JmhResult> results)
    {
        final String what = "hits and pins allocate 0 B/op (±" + ZERO_ALLOC_TOLERANCE + "), every page size";
        final List<String> sizes = Suite.hitPageSizes(results);
        final List<String> parts = new ArrayList<>();
        int measured = 0;
        int ran = 0;
        int over = 0;
        for (final String name : List.of(Suite.FILE_HIT, Suite.PIN_UNPIN))
        {
            final List<String> cells = new ArrayList<>();
            for (final String size : sizes)
            {
                final JmhResult r = Suite.find(results, name, size);
                final double alloc = null == r ? Double.NaN : r.allocPerOp();
                if (null != r)
                {
                    ran++;
                }
                if (!Double.isNaN(alloc))
                {
                    measured++;
                    over += Math.abs(alloc) <= ZERO_ALLOC_TOLERANCE ? 0 : 1;
                }
                cells.add(size + ": " + (null == r ? "not run" : Score.allocText(alloc)));
            }
            parts.add(Suite.shortName(name) + " " + String.join(", ", cells));
        }
        final int cases = 2 * sizes.size();
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
        return new Target(what, "B/op by page size: " + String.join("; ", parts), verdict);
    }
}
