package org.extentcache.bench.jmh;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;

/**
 * Turns the suite's JMH results ({@code -rf json}) into a Markdown table with baseline ratios and the DESIGN.md
 * performance targets marked met or not met ({@value #MARKDOWN_FILE}), and a bar chart of the time per operation at
 * 4 KiB pages ({@value #CHART_FILE}). Everything comes from the JSON file alone; the only other inputs are the
 * batch sizes of the single-shot benchmarks ({@link SharingHitBenchmark#BATCH}, {@link CopyOnWriteBenchmark#BATCH},
 * {@link MergeWriteBenchmark#BATCH}) and the page sizes {@link HitBenchmark} declares, read from the classes rather
 * than repeated here.
 *
 * <p>Run after the suite: {@code mvn -q -B -Pjmh-report -DskipTests verify} reads {@code docs/jmh-results.json}
 * and writes both files to {@code docs/}; {@code -Djmh.results=FILE} and {@code -Djmh.report.out=DIR} change
 * either, and {@code -Pjmh,jmh-report} runs the suite and then the report. Directly:
 * {@code java -cp ... org.extentcache.bench.jmh.JmhReport RESULTS.json OUT_DIR}. The Markdown also goes to stdout.
 * Exit status 2 for bad arguments (usage on stderr), 1 if the file cannot be read or is not JMH's JSON, or the
 * report cannot be written.
 *
 * <p>What the numbers mean:
 * <ul>
 *   <li><b>Per operation.</b> Times are shown in ns per operation and throughputs in operations per µs. The
 *       single-shot benchmarks time a whole batch ({@code ss} mode, one invocation = one batch as far as JMH
 *       knows), so their score, error and allocation are divided by the batch size.</li>
 *   <li><b>Errors</b> are JMH's: the half-width of the 99.9% confidence interval, or n/a when JMH had too few
 *       iterations to give one (it writes {@code "NaN"}). A ratio's error adds the relative errors of its two
 *       scores: rough, and on the generous side.</li>
 *   <li><b>Verdicts</b> compare the point estimate with the target. A verdict whose measured interval straddles
 *       the limit is as good as a coin flip; the ratio's error says when that is so.</li>
 *   <li><b>Allocation</b> is JMH's {@code gc.alloc.rate.norm} (GC profiler, {@code -prof gc}). JMH 1.37 writes
 *       that key; older versions wrote {@code \u00b7gc.alloc.rate.norm}, with a leading middle dot. Both are
 *       read.</li>
 * </ul>
 *
 * <p>The jobs are apart: {@link JmhResultsFile} reads the JSON into {@link JmhResult}s, {@link Suite} knows the
 * benchmarks, their baselines and batches, {@link Targets} judges the targets, {@link MarkdownReport} writes the
 * Markdown and {@link JmhChart} draws the chart; this class is the command.
 *
 * <p>Stateless: the parsing and formatting functions are pure and thread-safe; two runs writing to the same
 * output directory at once race on its files.
 */
public final class JmhReport
{
    /** The Markdown report's file name in the output directory. */
    static final String MARKDOWN_FILE = "jmh-results.md";
    /** The chart's file name in the output directory. */
    static final String CHART_FILE = "jmh-results.png";

    /** What {@code --help} and a bad command line print. */
    static final String USAGE = String.join("\n",
        "usage: JmhReport RESULTS.json OUT_DIR",
        "  RESULTS.json  JMH results written with -rf json (the suite writes docs/jmh-results.json)",
        "  OUT_DIR       where " + MARKDOWN_FILE + " and " + CHART_FILE + " go (created if missing)",
        "The Markdown is printed to stdout as well. Through Maven: mvn -q -B -Pjmh-report -DskipTests verify",
        "[-Djmh.results=FILE] [-Djmh.report.out=DIR]");

    private JmhReport()
    {
    }

    /**
     * @param args {@code RESULTS.json OUT_DIR}; see {@link #USAGE}.
     */
    public static void main(final String[] args)
    {
        final int status = run(args, System.out, System.err);
        if (status != 0)
        {
            System.exit(status);
        }
    }

    /**
     * The command without {@code System.exit}: reads the results, writes the report and the chart, prints the
     * report.
     *
     * @param args command-line arguments.
     * @param out  where the Markdown goes.
     * @param err  where usage, errors and the names of the files written go.
     * @return the exit status: 0 done, 1 unreadable or invalid results or an unwritable output, 2 bad arguments.
     */
    static int run(final String[] args, final PrintStream out, final PrintStream err)
    {
        if (args.length == 1 && ("--help".equals(args[0]) || "-h".equals(args[0])))
        {
            out.println(USAGE);
            return 0;
        }
        if (args.length != 2 || args[0].isBlank() || args[1].isBlank())
        {
            err.println("error: expected two arguments, the JSON results file and the output directory; got " +
                args.length + ": " + String.join(" ", args));
            err.println(USAGE);
            return 2;
        }
        final Path json;
        final Path outDir;
        try
        {
            json = Path.of(args[0]);
            outDir = Path.of(args[1]);
        }
        catch (final InvalidPathException ex)
        {
            err.println("error: not a path: " + ex.getMessage());
            err.println(USAGE);
            return 2;
        }

        final List<JmhResult> results;
        final Instant modified;
        try
        {
            results = JmhResultsFile.read(json);
            modified = Files.getLastModifiedTime(json).toInstant();
        }
        catch (final IOException ex)
        {
            err.println("error: cannot read JMH results " + json + ": " + describe(ex));
            return 1;
        }
        catch (final IllegalArgumentException ex)
        {
            err.println("error: " + json + " is not JMH JSON results (-rf json): " + ex.getMessage());
            return 1;
        }

        final String markdown = MarkdownReport.markdown(results, modified, Machine.current());
        final Path md = outDir.resolve(MARKDOWN_FILE);
        final Path png = outDir.resolve(CHART_FILE);
        try
        {
            Files.createDirectories(outDir);
            Files.writeString(md, markdown, StandardCharsets.UTF_8);
            JmhChart.write(results, modified, png);
        }
        catch (final IOException ex)
        {
            err.println("error: cannot write the report to " + outDir + ": " + describe(ex));
            return 1;
        }
        out.print(markdown);
        out.flush();
        err.println("wrote " + md + " and " + png);
        return 0;
    }

    private static String describe(final IOException ex)
    {
        if (ex instanceof NoSuchFileException)
        {
            return "no such file: " + ex.getMessage();
        }
        if (ex instanceof AccessDeniedException)
        {
            return "permission denied: " + ex.getMessage();
        }
        return null == ex.getMessage() ? ex.toString() : ex.getMessage();
    }
}
