package org.extentcache.bench.jmh;

import org.openjdk.jmh.annotations.Param;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The benchmark suite as the JMH report knows it: each benchmark's name ({@code Class.method}), the order the report
 * lists them in, which one is each one's baseline, the batch size of the single-shot ones, and the page sizes
 * {@link HitBenchmark} declares. The batch sizes and page sizes are read from the benchmark classes, not repeated.
 *
 * <p>Stateless and thread-safe.
 */
final class Suite
{
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
    static final String MERGE_MISS_OFF = "MergeBenchmark.missMergeOff";
    static final String MERGE_MISS_ON = "MergeBenchmark.missMergeOn";
    static final String MERGE_PAIR_OFF = "MergeBenchmark.pairMergeOff";
    static final String MERGE_PAIR_ON = "MergeBenchmark.pairMergeOn";
    static final String MERGE_WRITE_OFF = "MergeWriteBenchmark.inPlaceWriteMergeOff";
    static final String MERGE_WRITE_BREAK = "MergeWriteBenchmark.writeBreaksMerge";
    static final String ZIPF_MIX = "ZipfMixBenchmark.zipfMix";
    static final String HITS_1_THREAD = "ThreadScalingBenchmark.hits1Thread";
    static final String HITS_2_THREADS = "ThreadScalingBenchmark.hits2Threads";
    static final String HIT_SCALING = "HitScalingBenchmark.hits";
    static final String FS_FILE_CHANNEL_READ = "FileSystemMissBenchmark.fileChannelRead";
    static final String FS_MISS = "FileSystemMissBenchmark.miss";
    static final String COLD_CACHE_SEQUENTIAL = "ColdReadBenchmark.extentCacheDirectSequential";
    static final String COLD_KERNEL_SEQUENTIAL = "ColdReadBenchmark.kernelBufferedSequential";
    static final String COLD_DIRECT_1M_SEQUENTIAL = "ColdReadBenchmark.direct1mSequential";
    static final String COLD_CACHE_RANDOM = "ColdReadBenchmark.extentCacheDirectRandom";
    static final String COLD_CACHE_RANDOM_NO_READAHEAD = "ColdReadBenchmark.extentCacheDirectRandomNoReadahead";

    /** The page size parameter's name, in {@link HitBenchmark} and the results' {@code params}. */
    static final String PAGE_SIZE = "pageSize";
    /** The page size the targets and the chart are at. */
    static final String FOUR_KIB = "4096";

    /** The suite in report order; benchmarks not listed follow in file order. */
    private static final List<String> ORDER = List.of(BARE_COPY, FILE_HIT, PIN_UNPIN, CAFFEINE_HIT, PER_FILE_HIT,
        SHARING_HIT, FILE_CHANNEL_READ, MISS, MERGE_MISS_OFF, MERGE_MISS_ON, MERGE_PAIR_OFF, MERGE_PAIR_ON,
        IN_PLACE_WRITE, COPY_ON_WRITE, MERGE_WRITE_OFF, MERGE_WRITE_BREAK, ZIPF_MIX, HITS_1_THREAD, HITS_2_THREADS,
        HIT_SCALING, FS_FILE_CHANNEL_READ, FS_MISS, COLD_KERNEL_SEQUENTIAL, COLD_DIRECT_1M_SEQUENTIAL,
        COLD_CACHE_SEQUENTIAL, COLD_CACHE_RANDOM_NO_READAHEAD, COLD_CACHE_RANDOM);

    /** Each benchmark's baseline in the table: ratio = score / baseline score, at the same page size. */
    private static final Map<String, String> BASELINES = Map.ofEntries(
        Map.entry(FILE_HIT, BARE_COPY),
        Map.entry(PIN_UNPIN, FILE_HIT),
        Map.entry(CAFFEINE_HIT, FILE_HIT),
        Map.entry(PER_FILE_HIT, FILE_HIT),
        Map.entry(SHARING_HIT, FILE_HIT),
        Map.entry(MISS, FILE_CHANNEL_READ),
        Map.entry(MERGE_MISS_ON, MERGE_MISS_OFF),
        Map.entry(MERGE_PAIR_ON, MERGE_PAIR_OFF),
        Map.entry(COPY_ON_WRITE, IN_PLACE_WRITE),
        Map.entry(MERGE_WRITE_BREAK, MERGE_WRITE_OFF),
        Map.entry(HITS_2_THREADS, HITS_1_THREAD),
        Map.entry(FS_MISS, FS_FILE_CHANNEL_READ),
        Map.entry(COLD_CACHE_SEQUENTIAL, COLD_KERNEL_SEQUENTIAL),
        Map.entry(COLD_CACHE_RANDOM, COLD_CACHE_RANDOM_NO_READAHEAD));

    /** Operations per single-shot invocation of the batch benchmarks: the divisor for their scores. */
    private static final Map<String, Integer> BATCHES = Map.of(
        SHARING_HIT, SharingHitBenchmark.BATCH,
        COPY_ON_WRITE, CopyOnWriteBenchmark.BATCH,
        MERGE_WRITE_OFF, MergeWriteBenchmark.BATCH,
        MERGE_WRITE_BREAK, MergeWriteBenchmark.BATCH);

    private Suite()
    {
    }

    /**
     * @param name {@code Class.method}.
     * @return the benchmark the report compares it with, or null if none.
     */
    static String baseline(final String name)
    {
        return BASELINES.get(name);
    }

    /**
     * @param name {@code Class.method}.
     * @return operations per single-shot invocation: the class's {@code BATCH} for a batch benchmark, otherwise 1.
     */
    static int batch(final String name)
    {
        return BATCHES.getOrDefault(name, 1);
    }

    /**
     * @param name {@code Class.method}.
     * @return the method name alone, e.g. {@code fileHit}.
     */
    static String shortName(final String name)
    {
        return name.substring(name.indexOf('.') + 1);
    }

    /**
     * @param results  results.
     * @param name     {@code Class.method}.
     * @param pageSize a page size, or null for a benchmark without one.
     * @return the first result of that benchmark at that page size (a benchmark without a page size parameter
     * matches any), or null if it was not run.
     */
    static JmhResult find(final List<JmhResult> results, final String name, final String pageSize)
    {
        for (final JmhResult r : results)
        {
            if (r.name().equals(name) && (null == pageSize || null == r.pageSize() || pageSize.equals(r.pageSize())))
            {
                return r;
            }
        }
        return null;
    }

    /**
     * @param results results.
     * @param name    {@code Class.method}.
     * @param params  parameter values the result must have (others may differ).
     * @return the first result of that benchmark with those parameters, or null if it was not run.
     */
    static JmhResult find(final List<JmhResult> results, final String name, final Map<String, String> params)
    {
        for (final JmhResult r : results)
        {
            if (r.name().equals(name) && r.params().entrySet().containsAll(params.entrySet()))
            {
                return r;
            }
        }
        return null;
    }

    /**
     * @param results results.
     * @param name    {@code Class.method}.
     * @return every result of that benchmark, in file order.
     */
    static List<JmhResult> all(final List<JmhResult> results, final String name)
    {
        final List<JmhResult> found = new ArrayList<>();
        for (final JmhResult r : results)
        {
            if (r.name().equals(name))
            {
                found.add(r);
            }
        }
        return found;
    }

    /**
     * @param results results, for page sizes run with {@code -p pageSize=...} beyond the declared ones.
     * @return the page sizes {@link HitBenchmark} declares, plus any others the results hold, in numeric order.
     */
    static List<String> hitPageSizes(final List<JmhResult> results)
    {
        final Set<String> sizes = new TreeSet<>(Comparator.comparingLong(Suite::numeric)
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
        for (final JmhResult r : results)
        {
            if (r.name().startsWith("HitBenchmark.") && null != r.pageSize())
            {
                sizes.add(r.pageSize());
            }
        }
        return List.copyOf(sizes);
    }

    /**
     * Sorts results into report order: the suite's order, then page size, then other parameters; benchmarks
     * outside the suite last, in file order.
     *
     * @param results results in any order.
     * @return a sorted copy.
     */
    static List<JmhResult> sorted(final List<JmhResult> results)
    {
        final List<JmhResult> sorted = new ArrayList<>(results);
        sorted.sort(Comparator.<JmhResult>comparingInt(r -> ORDER.contains(r.name()) ?
            ORDER.indexOf(r.name()) : ORDER.size()).thenComparing(Suite::compareParams));
        return sorted;
    }

    private static int compareParams(final JmhResult a, final JmhResult b)
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
}
