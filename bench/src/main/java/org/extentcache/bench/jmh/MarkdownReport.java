package org.extentcache.bench.jmh;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Writes the JMH report as Markdown: a header naming the JVM, the run settings and the machine; warnings about
 * results that mislead (a single-shot batch size other than the class's, several JVMs); one table row per result
 * in suite order with its per-operation score, allocation and ratio to its baseline; and the targets table from
 * {@link Targets}.
 *
 * <p>Stateless and thread-safe.
 */
final class MarkdownReport
{
    /** How the report writes times: minutes, in UTC. */
    static final DateTimeFormatter DATE =
        DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'", Locale.ROOT).withZone(ZoneOffset.UTC);

    private MarkdownReport()
    {
    }

    /**
     * The whole Markdown report.
     *
     * @param results  the run's results.
     * @param modified when the results file was last modified: when the run ended.
     * @param machine  the machine generating the report.
     * @return the report, ending in a newline.
     */
    static String markdown(final List<JmhResult> results, final Instant modified, final Machine machine)
    {
        final StringBuilder out = new StringBuilder("# JMH results\n\n");
        out.append(header(results, modified, machine)).append("\n\n");
        for (final String warning : warnings(results))
        {
            out.append("**Warning:** ").append(warning).append("\n\n");
        }

        out.append("| benchmark | params | score ± error | alloc B/op | baseline | ratio |\n");
        out.append("| --- | --- | --- | --- | --- | --- |\n");
        for (final JmhResult r : Suite.sorted(results))
        {
            out.append("| ").append(r.name())
                .append(" | ").append(paramsText(r))
                .append(" | ").append(r.perOp().text())
                .append(" | ").append(Score.allocText(r.allocPerOp()));
            final String baselineName = Suite.baseline(r.name());
            if (null == baselineName)
            {
                out.append(" | ").append(Score.NONE).append(" | ").append(Score.NONE);
            }
            else
            {
                final JmhResult sameParams = Suite.find(results, baselineName, r.params());
                final JmhResult baseline = null != sameParams ? sameParams :
                    Suite.find(results, baselineName, null == r.pageSize() ? Suite.FOUR_KIB : r.pageSize());
                if (null == baseline)
                {
                    out.append(" | ").append(Suite.shortName(baselineName)).append(" (not run) | ")
                        .append(Score.NONE);
                }
                else if (!baseline.perOp().unit().equals(r.perOp().unit()))
                {
                    out.append(" | ").append(Suite.shortName(baselineName)).append(" (in ")
                        .append(baseline.perOp().unit()).append(") | ").append(Score.NONE);
                }
                else
                {
                    out.append(" | ").append(Suite.shortName(baselineName))
                        .append(" | ").append(r.perOp().over(baseline.perOp()).ratioText());
                }
            }
            out.append(" |\n");
        }
        if (results.isEmpty())
        {
            out.append("| (no results in the file) | | | | | |\n");
        }
        out.append("\nScores are per operation: ns/op for times, ops/us for throughputs; the single-shot batch ")
            .append("benchmarks' times (and allocations) are divided by their batch. ± is JMH's 99.9% confidence ")
            .append("half-interval (n/a: too few iterations for one). Ratio = score / baseline score at the same ")
            .append("parameters (else at the same page size), ± the sum of both relative errors. Allocation is JMH's gc.alloc.rate.norm ")
            .append("(").append(Score.NONE).append(" without -prof gc); for the single-shot benchmarks it includes ")
            .append("their per-iteration setup and teardown (clones made and deleted).\n\n");

        out.append("## Targets (DESIGN.md, 4 KiB pages)\n\n");
        out.append("| target | measured | verdict |\n");
        out.append("| --- | --- | --- |\n");
        for (final Targets.Target target : Targets.targets(results))
        {
            out.append("| ").append(target.what()).append(" | ").append(target.measured()).append(" | ")
                .append(target.verdict().label).append(" |\n");
        }
        out.append("\nA verdict is met or not met only when the whole ± interval lies on one side of the limit; ")
            .append("an interval that straddles the limit, or a score without one, is \"cannot tell\".\n");
        return out.toString();
    }

    private static String header(final List<JmhResult> results, final Instant modified, final Machine machine)
    {
        final Set<String> jvms = new LinkedHashSet<>();
        final Map<String, Set<String>> settings = new LinkedHashMap<>();
        for (final JmhResult r : results)
        {
            jvms.add(r.jvm());
            settings.computeIfAbsent(r.settings(), s -> new LinkedHashSet<>()).add(r.mode());
        }
        final List<String> runs = new ArrayList<>();
        for (final Map.Entry<String, Set<String>> entry : settings.entrySet())
        {
            runs.add(String.join(", ", entry.getValue()) + " runs: " + entry.getKey());
        }
        return "JVM: " + (jvms.isEmpty() ? "unknown (no results)" : String.join("; ", jvms)) +
            "; results file modified " + DATE.format(modified) +
            "; " + (runs.isEmpty() ? "no runs" : String.join("; ", runs)) +
            "; report generated on a machine with " + machine.text() + " (not necessarily the one that ran the " +
            "benchmarks).";
    }

    private static List<String> warnings(final List<JmhResult> results)
    {
        final List<String> warnings = new ArrayList<>();
        final Set<String> jvms = new LinkedHashSet<>();
        for (final JmhResult r : results)
        {
            jvms.add(r.jvm());
            final int batch = r.batch();
            if (batch > 1 && r.measurementBatchSize() > 0 && r.measurementBatchSize() != batch)
            {
                warnings.add(r.name() + " ran with batch size " + r.measurementBatchSize() + " (JMH -bs), but " +
                    "its class's BATCH is " + batch + "; its per-operation figures are divided by " + batch +
                    " and are wrong by " + String.format(Locale.ROOT, "%.3g", (double)r.measurementBatchSize() /
                    batch) + "×.");
            }
        }
        if (jvms.size() > 1)
        {
            warnings.add("the results come from " + jvms.size() + " different JVMs; ratios across them mean " +
                "little.");
        }
        return warnings;
    }

    static String paramsText(final JmhResult r)
    {
        final List<String> parts = new ArrayList<>();
        for (final Map.Entry<String, String> entry : r.params().entrySet())
        {
            parts.add(entry.getKey() + "=" + entry.getValue());
        }
        if (r.threads() != 1)
        {
            parts.add("threads=" + r.threads());
        }
        if (r.batch() != 1)
        {
            parts.add("batch=" + r.batch() + " (score ÷ " + r.batch() + ")");
        }
        return parts.isEmpty() ? Score.NONE : String.join(", ", parts);
    }
}
