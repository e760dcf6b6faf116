package org.extentcache.bench.jmh;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.openjdk.jmh.annotations.Param;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintStream;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Turns the suite's JMH results ({@code -rf json}) into a Markdown table with baseline ratios and the DESIGN.md
 * performance targets marked met or not met ({@value #MARKDOWN_FILE}), and a bar chart of the time per operation at
 * 4 KiB pages ({@value #CHART_FILE}). Everything comes from the JSON file alone; the only other inputs are the
 * batch sizes of the single-shot benchmarks ({@link SharingHitBenchmark#BATCH}, {@link CopyOnWriteBenchmark#BATCH})
 * and the page sizes {@link HitBenchmark} declares, read from the classes rather than repeated here.
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

    // The suite's benchmarks by the name the report uses, Class.method.
    static final String BARE_COPY = "HitBenchmark.bareCopy";
    static final String FILE_HIT = "HitBenchmark.fileHit";
    static final String PIN_UNPIN = "HitBenchmark.pinUnpin";
    static final String CAFFEINE_HIT = "HitBenchmark.caffeineHit";
    static final String PER_FILE_HIT = "HitBenchmark.perFileHit";
    static final String FILE_CHANNEL_READ = "MissBenchmark.fileChannelRead";
    static final String MISS = "MissBenchmark.miss";
    static final String SHARING_HIT = "SharingHitBenchmark.sharingHit";
    static final String COPY_ON_WRITE = "CopyOnWriteBenchmark.copyOnWriteWrite";
    static final String IN_PLACE_WRITE = "WriteBenchmark.inPlaceWrite";
    static final String ZIPF_MIX = "ZipfMixBenchmark.zipfMix";
    static final String HITS_1_THREAD = "ThreadScalingBenchmark.hits1Thread";
    static final String HITS_2_THREADS = "ThreadScalingBenchmark.hits2Threads";

    /** The suite in report order; benchmarks not listed follow in file order. */
    private static final List<String> ORDER = List.of(BARE_COPY, FILE_HIT, PIN_UNPIN, CAFFEINE_HIT, PER_FILE_HIT,
        SHARING_HIT, FILE_CHANNEL_READ, MISS, IN_PLACE_WRITE, COPY_ON_WRITE, ZIPF_MIX, HITS_1_THREAD,
        HITS_2_THREADS);

    /** Each benchmark's baseline in the table: ratio = score / baseline score, at the same page size. */
    private static final Map<String, String> BASELINES = Map.of(
        FILE_HIT, BARE_COPY,
        PIN_UNPIN, FILE_HIT,
        CAFFEINE_HIT, FILE_HIT,
        PER_FILE_HIT, FILE_HIT,
        SHARING_HIT, FILE_HIT,
        MISS, FILE_CHANNEL_READ,
        COPY_ON_WRITE, IN_PLACE_WRITE,
        HITS_2_THREADS, HITS_1_THREAD);

    /** Operations per single-shot invocation of the batch benchmarks: the divisor for their scores. */
    private static final Map<String, Integer> BATCHES = Map.of(
        SHARING_HIT, SharingHitBenchmark.BATCH,
        COPY_ON_WRITE, CopyOnWriteBenchmark.BATCH);

    /** Time per operation, the unit every time is converted to. */
    static final String NS_PER_OP = "ns/op";
    /** Operations per microsecond, the unit every throughput is converted to. */
    static final String OPS_PER_US = "ops/us";
    private static final String PAGE_SIZE = "pageSize";
    private static final String FOUR_KIB = "4096";
    private static final String ALLOC_NORM = "gc.alloc.rate.norm";
    private static final char MIDDLE_DOT = '\u00b7';
    /** An allocation this small per operation is zero: JMH's own bookkeeping amortised over the iteration. */
    static final double ZERO_ALLOC_TOLERANCE = 0.1;
    private static final String NONE = "—";
    private static final DateTimeFormatter DATE =
        DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'", Locale.ROOT).withZone(ZoneOffset.UTC);

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

        final List<Result> results;
        final Instant modified;
        try
        {
            results = read(json);
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

        final String markdown = markdown(results, modified, Machine.current());
        final Path md = outDir.resolve(MARKDOWN_FILE);
        final Path png = outDir.resolve(CHART_FILE);
        try
        {
            Files.createDirectories(outDir);
            Files.writeString(md, markdown, StandardCharsets.UTF_8);
            Chart.write(results, modified, png);
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

    // ---------------------------------------------------------------------------------------------------------
    // Reading
    // ---------------------------------------------------------------------------------------------------------

    /**
     * Reads a JMH JSON results file.
     *
     * @param json the file.
     * @return its results, in file order.
     * @throws IOException              if the file cannot be read.
     * @throws IllegalArgumentException if it is not JSON, or not JMH's results array; the message says where.
     */
    static List<Result> read(final Path json) throws IOException
    {
        String text = Files.readString(json, StandardCharsets.UTF_8);
        if (text.startsWith("\ufeff"))
        {
            text = text.substring(1);
        }
        return parse(text);
    }

    /**
     * Parses JMH's JSON results: an array of one object per benchmark and parameter set.
     *
     * @param json the document.
     * @return the results, in document order.
     * @throws IllegalArgumentException if it is not JSON, or a result lacks {@code benchmark}, {@code mode},
     *                                  {@code primaryMetric.score} or {@code primaryMetric.scoreUnit}, or has a
     *                                  unit this report cannot convert; the message names the result.
     */
    static List<Result> parse(final String json)
    {
        final Object document = readJson(json);
        if (!(document instanceof List<?> array))
        {
            throw new IllegalArgumentException("expected an array of results, found " +
                describe(document));
        }
        final List<Result> results = new ArrayList<>(array.size());
        for (int i = 0; i < array.size(); i++)
        {
            final Object element = array.get(i);
            if (!(element instanceof Map<?, ?> object))
            {
                throw new IllegalArgumentException("result " + i + " must be an object, found " +
                    describe(element));
            }
            final Object benchmark = object.get("benchmark");
            final String where = "result " + i + (benchmark instanceof String ? " (" + benchmark + ")" : "");
            try
            {
                results.add(result(object));
            }
            catch (final IllegalArgumentException ex)
            {
                throw new IllegalArgumentException(where + ": " + ex.getMessage(), ex);
            }
        }
        return Collections.unmodifiableList(results);
    }

    /** Jackson, reading into plain maps, lists, strings, numbers and booleans; one document and nothing after it. */
    private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    /**
     * @param json a JSON document.
     * @return it as maps, lists, strings, numbers, booleans and nulls.
     * @throws IllegalArgumentException if it is not one JSON document; the message names the line and column.
     */
    static Object readJson(final String json)
    {
        try
        {
            return JSON.readValue(json, Object.class);
        }
        catch (final JsonProcessingException ex)
        {
            final JsonLocation where = ex.getLocation();
            throw new IllegalArgumentException("invalid JSON at line " + (null == where ? 1 : where.getLineNr()) +
                ", column " + (null == where ? 1 : where.getColumnNr()) + ": " + ex.getOriginalMessage(), ex);
        }
    }

    /**
     * @param value a parsed value: a number, or a string JMH writes for one ({@code "NaN"}, {@code "Infinity"}).
     * @param what  its name, for the message.
     * @return it as a double.
     * @throws IllegalArgumentException if it is neither.
     */
    static double number(final Object value, final String what)
    {
        if (value instanceof Number n)
        {
            return n.doubleValue();
        }
        if (value instanceof String text)
        {
            try
            {
                return Double.parseDouble(text);
            }
            catch (final NumberFormatException ex)
            {
                throw new IllegalArgumentException(what + " must be a number: \"" + text + "\"");
            }
        }
        throw new IllegalArgumentException(what + " must be a number: " + describe(value));
    }

    /** @return a short description of a parsed value for messages: its JSON type, and its text if a scalar. */
    static String describe(final Object value)
    {
        if (null == value)
        {
            return "null (or missing)";
        }
        if (value instanceof Map)
        {
            return "an object";
        }
        if (value instanceof List)
        {
            return "an array";
        }
        return value instanceof String ? "\"" + value + "\"" : value.toString();
    }

    private static Result result(final Map<?, ?> object)
    {
        final String benchmark = string(object, "benchmark", null);
        final String mode = string(object, "mode", null);
        final Map<?, ?> primary = object(object, "primaryMetric");
        if (null == primary)
        {
            throw new IllegalArgumentException("primaryMetric must be an object: " +
                describe(object.get("primaryMetric")));
        }
        final double score = number(primary.get("score"), "primaryMetric.score");
        final double scoreError = optionalNumber(primary, "scoreError", "primaryMetric.scoreError");
        final String scoreUnit = string(primary, "scoreUnit", null);
        Score.normalize(score, scoreError, scoreUnit);

        final Map<String, String> params = new TreeMap<>();
        final Map<?, ?> paramsObject = object(object, "params");
        if (null != paramsObject)
        {
            for (final Map.Entry<?, ?> entry : paramsObject.entrySet())
            {
                final Object value = entry.getValue();
                params.put(entry.getKey().toString(),
                    value instanceof Double d ? BigDecimal.valueOf(d).stripTrailingZeros().toPlainString() :
                    String.valueOf(value));
            }
        }

        double alloc = Double.NaN;
        double allocError = Double.NaN;
        final Map<?, ?> secondary = object(object, "secondaryMetrics");
        if (null != secondary)
        {
            for (final Map.Entry<?, ?> entry : secondary.entrySet())
            {
                final String name = entry.getKey().toString();
                final String bare = !name.isEmpty() && name.charAt(0) == MIDDLE_DOT ? name.substring(1) : name;
                if (ALLOC_NORM.equals(bare) && entry.getValue() instanceof Map<?, ?> metric)
                {
                    alloc = number(metric.get("score"), "secondaryMetrics." + name + ".score");
                    allocError = optionalNumber(metric, "scoreError", "secondaryMetrics." + name + ".scoreError");
                }
            }
        }

        return new Result(benchmark, mode, integer(object, "threads", 1), integer(object, "forks", 0),
            Collections.unmodifiableMap(params), score, scoreError, scoreUnit, alloc, allocError,
            integer(object, "warmupIterations", 0), string(object, "warmupTime", ""),
            integer(object, "measurementIterations", 0), string(object, "measurementTime", ""),
            integer(object, "measurementBatchSize", 0), string(object, "vmName", "unknown VM"),
            string(object, "vmVersion", ""), string(object, "jdkVersion", "unknown"));
    }

    /** A string member; {@code fallback} if absent, or an error if absent and no fallback. */
    private static String string(final Map<?, ?> object, final String name, final String fallback)
    {
        final Object value = object.get(name);
        if (value instanceof String s)
        {
            return s;
        }
        if (null == value && null != fallback)
        {
            return fallback;
        }
        throw new IllegalArgumentException(name + " must be a string: " + describe(value));
    }

    private static int integer(final Map<?, ?> object, final String name, final int fallback)
    {
        final Object value = object.get(name);
        if (null == value)
        {
            return fallback;
        }
        final double d = number(value, name);
        if (d != Math.rint(d) || Math.abs(d) > Integer.MAX_VALUE)
        {
            throw new IllegalArgumentException(name + " must be an integer: " + describe(value));
        }
        return (int)d;
    }

    private static double optionalNumber(final Map<?, ?> object, final String name, final String what)
    {
        final Object value = object.get(name);
        return null == value ? Double.NaN : number(value, what);
    }

    /** An object member, or null if absent; an error if present and not an object. */
    private static Map<?, ?> object(final Map<?, ?> object, final String name)
    {
        final Object value = object.get(name);
        if (null == value)
        {
            return null;
        }
        if (value instanceof Map<?, ?> map)
        {
            return map;
        }
        throw new IllegalArgumentException(name + " must be an object: " + describe(value));
    }

    // ---------------------------------------------------------------------------------------------------------
    // The model
    // ---------------------------------------------------------------------------------------------------------

    /**
     * One benchmark at one parameter set, as JMH wrote it: the primary score in its own unit, the allocation per
     * invocation. {@link #perOp()} and {@link #allocPerOp()} give the numbers the report shows.
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
    record Result(
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
         * @return operations per invocation: the benchmark's {@code BATCH} for a batch benchmark in single-shot
         * mode, otherwise 1.
         */
        int batch()
        {
            return "ss".equals(mode) ? BATCHES.getOrDefault(name(), 1) : 1;
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
            return params.get(PAGE_SIZE);
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

    /**
     * A number with its error and unit.
     *
     * @param value the value.
     * @param error its half-interval, NaN if unknown.
     * @param unit  {@code ns/op}, {@code ops/us}, {@code B/op} or {@code ×} for a ratio.
     */
    record Score(double value, double error, String unit)
    {
        private static final String[] TIME_UNITS = {"ns", "us", "µs", "ms", "s", "min"};
        private static final double[] NANOS = {1, 1e3, 1e3, 1e6, 1e9, 60e9};

        /**
         * Converts a JMH score to ns/op (time per operation) or ops/us (throughput).
         *
         * @param value a score.
         * @param error its error.
         * @param unit  its unit, {@code <time>/op} or {@code ops/<time>}.
         * @return the converted score.
         * @throws IllegalArgumentException for any other unit.
         */
        static Score normalize(final double value, final double error, final String unit)
        {
            final int slash = unit.indexOf('/');
            if (slash > 0)
            {
                final String left = unit.substring(0, slash);
                final String right = unit.substring(slash + 1);
                if ("op".equals(right))
                {
                    final double factor = nanos(left, unit);
                    return new Score(value * factor, error * factor, NS_PER_OP);
                }
                if ("ops".equals(left))
                {
                    final double factor = 1e3 / nanos(right, unit);
                    return new Score(value * factor, error * factor, OPS_PER_US);
                }
            }
            throw new IllegalArgumentException("unknown score unit: \"" + unit + "\" (expected <time>/op or " +
                "ops/<time>)");
        }

        private static double nanos(final String timeUnit, final String unit)
        {
            for (int i = 0; i < TIME_UNITS.length; i++)
            {
                if (TIME_UNITS[i].equals(timeUnit))
                {
                    return NANOS[i];
                }
            }
            throw new IllegalArgumentException("unknown time unit \"" + timeUnit + "\" in score unit \"" + unit +
                "\"");
        }

        /**
         * @param baseline the denominator, in the same unit.
         * @return this over the baseline, its error the sum of the relative errors (NaN if either is unknown).
         */
        Score over(final Score baseline)
        {
            final double ratio = value / baseline.value;
            final double relative = Math.abs(error / value) + Math.abs(baseline.error / baseline.value);
            return new Score(ratio, Math.abs(ratio) * relative, "×");
        }

        /**
         * @return e.g. {@code 90.4 ± 3.2 ns/op}, {@code 90.4 ± n/a ns/op}.
         */
        String text()
        {
            return number(value) + " ± " + (Double.isNaN(error) ? "n/a" : number(error, decimals(value))) + " " +
                unit;
        }

        /**
         * @return a ratio, e.g. {@code 1.21 (±0.10)}, {@code 1.21 (± n/a)}.
         */
        String ratioText()
        {
            if (Double.isNaN(value) || Double.isInfinite(value))
            {
                return "n/a";
            }
            return String.format(Locale.ROOT, "%.2f (%s)", value,
                Double.isNaN(error) || Double.isInfinite(error) ? "± n/a" :
                String.format(Locale.ROOT, error < 0.01 ? "±%.3f" : "±%.2f", error));
        }
    }

    /**
     * The machine running the report (not necessarily the one that ran the benchmarks).
     *
     * @param cores       available processors.
     * @param memoryBytes total memory, -1 if unknown.
     */
    record Machine(int cores, long memoryBytes)
    {
        /**
         * @return this machine: {@link Runtime#availableProcessors()} and {@code MemTotal} from
         * {@code /proc/meminfo} if readable.
         */
        static Machine current()
        {
            long memory = -1;
            try
            {
                for (final String line : Files.readAllLines(Path.of("/proc/meminfo"), StandardCharsets.US_ASCII))
                {
                    if (line.startsWith("MemTotal:"))
                    {
                        final String[] fields = line.trim().split("\\s+");
                        memory = Long.parseLong(fields[1]) * ("kB".equalsIgnoreCase(fields[2]) ? 1024 : 1);
                        break;
                    }
                }
            }
            catch (final IOException | RuntimeException ex)
            {
                memory = -1;
            }
            return new Machine(Runtime.getRuntime().availableProcessors(), memory);
        }

        /**
         * @return e.g. {@code 2 cores, 23.4 GiB RAM}.
         */
        String text()
        {
            return cores + (cores == 1 ? " core, " : " cores, ") + (memoryBytes < 0 ? "memory unknown" :
                String.format(Locale.ROOT, "%.1f GiB RAM", memoryBytes / (double)(1L << 30)));
        }
    }

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
        ELSEWHERE(NONE);

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

    // ---------------------------------------------------------------------------------------------------------
    // Lookups
    // ---------------------------------------------------------------------------------------------------------

    /**
     * @param results  results.
     * @param name     {@code Class.method}.
     * @param pageSize a page size, or null for a benchmark without one.
     * @return the first result of that benchmark at that page size (a benchmark without a page size parameter
     * matches any), or null if it was not run.
     */
    static Result find(final List<Result> results, final String name, final String pageSize)
    {
        for (final Result r : results)
        {
            if (r.name().equals(name) && (null == pageSize || null == r.pageSize() || pageSize.equals(r.pageSize())))
            {
                return r;
            }
        }
        return null;
    }

    /**
     * @param results results, for page sizes run with {@code -p pageSize=...} beyond the declared ones.
     * @return the page sizes {@link HitBenchmark} declares, plus any others the results hold, in numeric order.
     */
    static List<String> hitPageSizes(final List<Result> results)
    {
        final Set<String> sizes = new TreeSet<>(Comparator.comparingLong(JmhReport::numeric)
            .thenComparing(Comparator.naturalOrder()));
        try
        {
            final Param param = HitBenchmark.class.getDeclaredField(PAGE_SIZE).getAnnotation(Param.class);
            if (null != param)
            {
                sizes.addAll(List.of(param.value()));
            }
        }
        catch (final NoSuchFieldException ex)
        {
            throw new IllegalStateException("HitBenchmark has no " + PAGE_SIZE + " field", ex);
        }
        for (final Result r : results)
        {
            if (r.name().startsWith("HitBenchmark.") && null != r.pageSize())
            {
                sizes.add(r.pageSize());
            }
        }
        return List.copyOf(sizes);
    }

    private static long numeric(final String s)
    {
        try
        {
            return Long.parseLong(s);
        }
        catch (final NumberFormatException ex)
        {
            return Long.MAX_VALUE;
        }
    }

    private static String shortName(final String name)
    {
        return name.substring(name.indexOf('.') + 1);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Targets
    // ---------------------------------------------------------------------------------------------------------

    /**
     * Evaluates each DESIGN.md performance target at 4 KiB pages.
     *
     * @param results the run's results.
     * @return one row per target, in DESIGN.md's order, allocation and memory last.
     */
    static List<Target> targets(final List<Result> results)
    {
        final List<Target> targets = new ArrayList<>();
        targets.add(ratioTarget(results, "file hit, copy out 4 KiB ≤ 1.3× a bare 4 KiB off-heap copy",
            FILE_HIT, BARE_COPY, NS_PER_OP, 1.3, true));
        targets.add(pinTarget(results));
        targets.add(ratioTarget(results, "sharing hit (first read through a clone) ≤ 3× a file hit",
            SHARING_HIT, FILE_HIT, NS_PER_OP, 3, true));
        targets.add(ratioTarget(results, "miss served from the device ≤ 1.2× a bare FileChannel.read of 4 KiB",
            MISS, FILE_CHANNEL_READ, NS_PER_OP, 1.2, true));
        targets.add(ratioTarget(results, "hit throughput vs Caffeine holding direct buffers ≥ 1× " +
            "(time ratio caffeineHit / fileHit)", CAFFEINE_HIT, FILE_HIT, NS_PER_OP, 1, false));
        targets.add(ratioTarget(results, "2 threads vs 1 on hits ≥ 1.8× (throughput)",
            HITS_2_THREADS, HITS_1_THREAD, OPS_PER_US, 1.8, false));
        targets.add(zeroAllocTarget(results));
        targets.add(new Target("memory for N fully-read clones of an S-byte image ≤ S × 1.01 + " +
            "N × (S / page) × 8 B", "see footprint tool", Verdict.ELSEWHERE));
        return Collections.unmodifiableList(targets);
    }

    private static Target ratioTarget(final List<Result> results, final String what, final String numerator,
        final String denominator, final String unit, final double limit, final boolean atMost)
    {
        final Result top = find(results, numerator, FOUR_KIB);
        final Result bottom = find(results, denominator, FOUR_KIB);
        final String formula = shortName(numerator) + " / " + shortName(denominator);
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

    private static String missing(final Result a, final String aName, final Result b, final String bName)
    {
        final List<String> names = new ArrayList<>();
        if (null == a)
        {
            names.add(shortName(aName));
        }
        if (null == b)
        {
            names.add(shortName(bName));
        }
        return String.join(", ", names);
    }

    private static Target pinTarget(final List<Result> results)
    {
        final String what = "file hit, zero-copy pin + unpin ≤ 40 ns, 0 B/op (±" + ZERO_ALLOC_TOLERANCE + ")";
        final Result pin = find(results, PIN_UNPIN, FOUR_KIB);
        if (null == pin)
        {
            return new Target(what, "not run: pinUnpin", Verdict.NOT_RUN);
        }
        final Score time = pin.perOp();
        final double alloc = pin.allocPerOp();
        final boolean fast = NS_PER_OP.equals(time.unit()) && time.value() <= 40;
        final String measured = time.text() + ", " + allocText(alloc) + " B/op";
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

    private static Target zeroAllocTarget(final List<Result> results)
    {
        final String what = "hits and pins allocate 0 B/op (±" + ZERO_ALLOC_TOLERANCE + "), every page size";
        final List<String> sizes = hitPageSizes(results);
        final List<String> parts = new ArrayList<>();
        int measured = 0;
        int ran = 0;
        int over = 0;
        for (final String name : List.of(FILE_HIT, PIN_UNPIN))
        {
            final List<String> cells = new ArrayList<>();
            for (final String size : sizes)
            {
                final Result r = find(results, name, size);
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
                cells.add(size + ": " + (null == r ? "not run" : allocText(alloc)));
            }
            parts.add(shortName(name) + " " + String.join(", ", cells));
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

    // ---------------------------------------------------------------------------------------------------------
    // Markdown
    // ---------------------------------------------------------------------------------------------------------

    /**
     * Sorts results into report order: the suite's order, then page size, then other parameters; benchmarks
     * outside the suite last, in file order.
     *
     * @param results results in any order.
     * @return a sorted copy.
     */
    static List<Result> sorted(final List<Result> results)
    {
        final List<Result> sorted = new ArrayList<>(results);
        sorted.sort(Comparator.<Result>comparingInt(r -> ORDER.contains(r.name()) ?
            ORDER.indexOf(r.name()) : ORDER.size()).thenComparing(JmhReport::compareParams));
        return sorted;
    }

    private static int compareParams(final Result a, final Result b)
    {
        if (!ORDER.contains(a.name()) || !a.name().equals(b.name()))
        {
            return 0;
        }
        final Set<String> keys = new TreeSet<>(a.params().keySet());
        keys.addAll(b.params().keySet());
        for (final String key : keys)
        {
            final String x = a.params().getOrDefault(key, "");
            final String y = b.params().getOrDefault(key, "");
            final int byNumber = Long.compare(numeric(x), numeric(y));
            final int c = byNumber != 0 ? byNumber : x.compareTo(y);
            if (c != 0)
            {
                return c;
            }
        }
        return Integer.compare(a.threads(), b.threads());
    }

    /**
     * The whole Markdown report.
     *
     * @param results  the run's results.
     * @param modified when the results file was last modified: when the run ended.
     * @param machine  the machine generating the report.
     * @return the report, ending in a newline.
     */
    static String markdown(final List<Result> results, final Instant modified, final Machine machine)
    {
        final StringBuilder out = new StringBuilder("# JMH results\n\n");
        out.append(header(results, modified, machine)).append("\n\n");
        for (final String warning : warnings(results))
        {
            out.append("**Warning:** ").append(warning).append("\n\n");
        }

        out.append("| benchmark | params | score ± error | alloc B/op | baseline | ratio |\n");
        out.append("| --- | --- | --- | --- | --- | --- |\n");
        for (final Result r : sorted(results))
        {
            out.append("| ").append(r.name())
                .append(" | ").append(paramsText(r))
                .append(" | ").append(r.perOp().text())
                .append(" | ").append(allocText(r.allocPerOp()));
            final String baselineName = BASELINES.get(r.name());
            if (null == baselineName)
            {
                out.append(" | ").append(NONE).append(" | ").append(NONE);
            }
            else
            {
                final Result baseline = find(results, baselineName, null == r.pageSize() ? FOUR_KIB : r.pageSize());
                if (null == baseline)
                {
                    out.append(" | ").append(shortName(baselineName)).append(" (not run) | ").append(NONE);
                }
                else if (!baseline.perOp().unit().equals(r.perOp().unit()))
                {
                    out.append(" | ").append(shortName(baselineName)).append(" (in ")
                        .append(baseline.perOp().unit()).append(") | ").append(NONE);
                }
                else
                {
                    out.append(" | ").append(shortName(baselineName))
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
            .append("page size, ± the sum of both relative errors. Allocation is JMH's gc.alloc.rate.norm ")
            .append("(").append(NONE).append(" without -prof gc); for the single-shot benchmarks it includes ")
            .append("their per-iteration setup and teardown (clones made and deleted).\n\n");

        out.append("## Targets (DESIGN.md, 4 KiB pages)\n\n");
        out.append("| target | measured | verdict |\n");
        out.append("| --- | --- | --- |\n");
        for (final Target target : targets(results))
        {
            out.append("| ").append(target.what()).append(" | ").append(target.measured()).append(" | ")
                .append(target.verdict().label).append(" |\n");
        }
        out.append("\nA verdict compares the point estimate with the limit; when the ± interval straddles the ")
            .append("limit, the run cannot tell.\n");
        return out.toString();
    }

    private static String header(final List<Result> results, final Instant modified, final Machine machine)
    {
        final Set<String> jvms = new LinkedHashSet<>();
        final Map<String, Set<String>> settings = new LinkedHashMap<>();
        for (final Result r : results)
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

    private static List<String> warnings(final List<Result> results)
    {
        final List<String> warnings = new ArrayList<>();
        final Set<String> jvms = new LinkedHashSet<>();
        for (final Result r : results)
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

    private static String paramsText(final Result r)
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
        return parts.isEmpty() ? NONE : String.join(", ", parts);
    }

    private static String allocText(final double bytes)
    {
        return Double.isNaN(bytes) ? NONE : String.format(Locale.ROOT, "%,.2f", bytes);
    }

    /**
     * @param v a number.
     * @return it readably: no decimals from 1,000 up, one from 100, two from 1, three below; n/a if not finite.
     */
    static String number(final double v)
    {
        return number(v, decimals(v));
    }

    private static String number(final double v, final int decimals)
    {
        if (Double.isNaN(v) || Double.isInfinite(v))
        {
            return "n/a";
        }
        return String.format(Locale.ROOT, "%,." + decimals + "f", v);
    }

    private static int decimals(final double v)
    {
        final double a = Math.abs(v);
        return a >= 1000 ? 0 : a >= 100 ? 1 : a >= 1 ? 2 : 3;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Chart
    // ---------------------------------------------------------------------------------------------------------

    /**
     * The chart: horizontal bars of ns per operation at 4 KiB pages on a log axis, with error bars and the value
     * at each bar's end; benchmarks not run get a label and no bar. Plain {@code java.awt} in headless mode, like
     * the footprint tool's {@code SweepChart}.
     */
    static final class Chart
    {
        private static final int WIDTH = 960;
        private static final int LEFT = 220;
        private static final int RIGHT = 120;
        private static final int TOP = 80;
        private static final int BOTTOM = 60;
        private static final int ROW = 34;
        private static final int BAR = 20;
        private static final Color EXTENTCACHE = new Color(0x1f77b4);
        private static final Color PER_FILE = new Color(0xd62728);
        private static final Color CAFFEINE = new Color(0x2ca02c);
        private static final Color BASELINE = new Color(0x8c8c8c);

        /** The bars, top to bottom. */
        private static final List<String> BARS = List.of(BARE_COPY, FILE_HIT, PIN_UNPIN, CAFFEINE_HIT, PER_FILE_HIT,
            SHARING_HIT, FILE_CHANNEL_READ, MISS, IN_PLACE_WRITE, COPY_ON_WRITE, ZIPF_MIX);

        private Chart()
        {
        }

        /**
         * @param name a benchmark.
         * @return its bar's colour: ExtentCache, a peer cache, or a baseline without a cache.
         */
        private static Color color(final String name)
        {
            switch (name)
            {
                case BARE_COPY:
                case FILE_CHANNEL_READ:
                    return BASELINE;
                case PER_FILE_HIT:
                    return PER_FILE;
                case CAFFEINE_HIT:
                    return CAFFEINE;
                default:
                    return EXTENTCACHE;
            }
        }

        /**
         * Draws the chart.
         *
         * @param results  the run's results.
         * @param modified when the results file was last modified, for the subtitle.
         * @param png      the file to write.
         * @throws IOException if it cannot be written.
         */
        static void write(final List<Result> results, final Instant modified, final Path png) throws IOException
        {
            System.setProperty("java.awt.headless", "true");
            final List<Score> scores = new ArrayList<>();
            double low = Double.MAX_VALUE;
            double high = 0;
            for (final String name : BARS)
            {
                final Result r = find(results, name, FOUR_KIB);
                final Score score = null == r ? null : r.perOp();
                final boolean drawable = null != score && NS_PER_OP.equals(score.unit()) && score.value() > 0;
                scores.add(drawable ? score : null);
                if (drawable)
                {
                    final double error = Double.isNaN(score.error()) ? 0 : score.error();
                    low = Math.min(low, score.value() - error > 0 ? score.value() - error : score.value());
                    high = Math.max(high, score.value() + error);
                }
            }
            if (high == 0)
            {
                low = 1;
                high = 1000;
            }
            final double logLow = Math.log10(step(low, false));
            final double logHigh = Math.max(Math.log10(step(high, true)), logLow + Math.log10(2));

            final int height = TOP + ROW * BARS.size() + BOTTOM;
            final int plotWidth = WIDTH - LEFT - RIGHT;
            final int plotHeight = ROW * BARS.size();
            final BufferedImage image = new BufferedImage(WIDTH, height, BufferedImage.TYPE_INT_RGB);
            final Graphics2D g = image.createGraphics();
            try
            {
                g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
                g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
                g.setColor(Color.WHITE);
                g.fillRect(0, 0, WIDTH, height);

                g.setColor(Color.BLACK);
                g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
                g.drawString("ExtentCache JMH: ns per operation at 4 KiB pages (log scale; lower is better)", 20, 28);
                g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
                final String jvm = results.isEmpty() ? "no results" : results.get(0).jvm();
                g.drawString(jvm + ", results of " + DATE.format(modified) + "; error bars: 99.9% confidence",
                    20, 48);

                drawAxis(g, logLow, logHigh, plotWidth, plotHeight);
                g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
                final FontMetrics metrics = g.getFontMetrics();
                for (int i = 0; i < BARS.size(); i++)
                {
                    final String name = BARS.get(i);
                    final Score score = scores.get(i);
                    final int middle = TOP + ROW * i + ROW / 2;
                    final String label = shortName(name) + (BATCHES.containsKey(name) ? " (per op)" : "");
                    g.setColor(null == score ? Color.GRAY : Color.BLACK);
                    g.drawString(label, LEFT - 10 - metrics.stringWidth(label), middle + 4);
                    if (null == score)
                    {
                        g.drawString("not run", LEFT + 6, middle + 4);
                        continue;
                    }
                    final int end = x(score.value(), logLow, logHigh, plotWidth);
                    g.setColor(color(name));
                    g.fillRect(LEFT + 1, middle - BAR / 2, Math.max(1, end - LEFT - 1), BAR);
                    int textX = end;
                    if (!Double.isNaN(score.error()) && score.error() > 0)
                    {
                        final double lowEnd = score.value() - score.error();
                        final int from = lowEnd > 0 ? x(lowEnd, logLow, logHigh, plotWidth) : LEFT;
                        final int to = x(score.value() + score.error(), logLow, logHigh, plotWidth);
                        g.setColor(Color.BLACK);
                        g.setStroke(new BasicStroke(1.5f));
                        g.drawLine(from, middle, to, middle);
                        g.drawLine(from, middle - 5, from, middle + 5);
                        g.drawLine(to, middle - 5, to, middle + 5);
                        textX = Math.max(textX, to);
                    }
                    g.setColor(Color.BLACK);
                    g.drawString(number(score.value()) + " ns", textX + 6, middle + 4);
                }
                drawLegend(g, plotWidth);
            }
            finally
            {
                g.dispose();
            }
            if (!ImageIO.write(image, "png", png.toFile()))
            {
                throw new IOException("no PNG writer in this JVM");
            }
        }

        /**
         * @return the nearest 1-2-5 value (1, 2, 5, 10, 20, ...) at or above {@code value} if {@code up}, at or
         * below it otherwise: the axis ends there.
         */
        private static double step(final double value, final boolean up)
        {
            final double decade = Math.pow(10, Math.floor(Math.log10(value)));
            final double[] multiples = {1, 2, 5, 10};
            double bound = up ? 10 * decade : decade;
            for (final double m : multiples)
            {
                final double candidate = m * decade;
                if (up && candidate >= value * (1 - 1e-9))
                {
                    return candidate;
                }
                if (!up && candidate <= value * (1 + 1e-9))
                {
                    bound = candidate;
                }
            }
            return bound;
        }

        private static void drawAxis(final Graphics2D g, final double logLow, final double logHigh,
            final int plotWidth, final int plotHeight)
        {
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
            final FontMetrics metrics = g.getFontMetrics();
            final int bottom = TOP + plotHeight;
            for (int decade = (int)Math.floor(logLow); decade <= (int)Math.ceil(logHigh); decade++)
            {
                for (int m = 1; m <= 9; m++)
                {
                    final double value = m * Math.pow(10, decade);
                    final double log = Math.log10(value);
                    if (log < logLow - 1e-9 || log > logHigh + 1e-9)
                    {
                        continue;
                    }
                    final int at = x(value, logLow, logHigh, plotWidth);
                    final boolean labelled = m == 1 || m == 2 || m == 5 || logHigh - logLow < 1;
                    g.setColor(m == 1 ? new Color(0xcccccc) : new Color(0xeeeeee));
                    g.drawLine(at, TOP, at, bottom);
                    if (labelled)
                    {
                        g.setColor(Color.BLACK);
                        g.drawLine(at, bottom, at, bottom + 5);
                        final String label = decade >= 0 ? String.format(Locale.ROOT, "%,.0f", value) :
                            BigDecimal.valueOf(m).scaleByPowerOfTen(decade).toPlainString();
                        g.drawString(label, at - metrics.stringWidth(label) / 2, bottom + 18);
                    }
                }
            }
            g.setColor(Color.BLACK);
            g.drawLine(LEFT, TOP, LEFT, bottom);
            g.drawLine(LEFT, bottom, LEFT + plotWidth, bottom);
            final String axis = "ns per operation";
            g.drawString(axis, LEFT + plotWidth / 2 - metrics.stringWidth(axis) / 2, bottom + 40);
        }

        private static void drawLegend(final Graphics2D g, final int plotWidth)
        {
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
            final FontMetrics metrics = g.getFontMetrics();
            final String[] labels = {"ExtentCache", "per-file (same engine)", "Caffeine", "no cache (baseline)"};
            final Color[] colors = {EXTENTCACHE, PER_FILE, CAFFEINE, BASELINE};
            int x = LEFT + plotWidth + RIGHT - 10;
            for (int i = labels.length - 1; i >= 0; i--)
            {
                x -= metrics.stringWidth(labels[i]);
                g.setColor(Color.BLACK);
                g.drawString(labels[i], x, TOP - 10);
                x -= 16;
                g.setColor(colors[i]);
                g.fillRect(x, TOP - 20, 12, 12);
                x -= 14;
            }
        }

        private static int x(final double value, final double logLow, final double logHigh, final int plotWidth)
        {
            final double fraction = (Math.log10(value) - logLow) / (logHigh - logLow);
            return LEFT + (int)Math.round(plotWidth * Math.max(0, Math.min(1, fraction)));
        }
    }
}
