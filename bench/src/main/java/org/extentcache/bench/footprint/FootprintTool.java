package org.extentcache.bench.footprint;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

/**
 * The footprint tool: for N clones of an image, how much memory each kind of cache needs to hold everything read,
 * and what each gets for a fixed budget.
 *
 * <p>It builds a device file with a base image and N clones made by the extent store, lets each clone diverge by
 * overwriting a fraction of its pages, then runs one operation sequence (every file read in full, then Zipf reads)
 * through each cache, each a real implementation:
 * <ol>
 *   <li>{@code extentcache}: frames keyed by device block;</li>
 *   <li>{@code per-file}: the same engine keyed by (file, page), what Linux does for reflinked files;</li>
 *   <li>{@code caffeine}: Caffeine holding direct buffers keyed by (file, page), Cassandra's ChunkCache design;</li>
 *   <li>with {@code --kernel}: the kernel's page cache over real {@code cp --reflink} clones on XFS.</li>
 * </ol>
 * Memory is counted for what it is: off-heap bytes held and reserved, off-heap metadata, and the heap each cache
 * retained, measured after GC. Run {@code --help} for the options; the README has the JSON schema.
 *
 * <p>With {@code --dir PATH} it measures real files instead, as they are: see {@link DirectoryFootprint}.
 *
 * <p>Exit status: 0 on success, 1 if a measurement failed, 2 for a usage error (bad flags, a {@code --dir} that does
 * not exist or holds no regular file).
 */
public final class FootprintTool
{
    private static final long MIB = 1L << 20;
    private static final String[] CACHES = {"extentcache", "per-file", "caffeine"};

    private FootprintTool()
    {
    }

    /**
     * @param args see {@link Options#USAGE}.
     */
    public static void main(final String[] args)
    {
        final int status = execute(args, System.out, System.err);
        if (0 != status)
        {
            System.exit(status);
        }
    }

    /**
     * Runs the tool as {@link #main} does, without exiting the JVM.
     *
     * @param args see {@link Options#USAGE}.
     * @param out  where the table or the JSON goes.
     * @param err  where errors, the usage text after a usage error, and the progress bar go.
     * @return the exit status: 0 on success, 1 if a measurement failed, 2 for a usage error.
     */
    static int execute(final String[] args, final PrintStream out, final PrintStream err)
    {
        final Options options;
        try
        {
            options = Options.parse(args);
        }
        catch (final IllegalArgumentException ex)
        {
            return usageError(ex.getMessage(), err);
        }
        if (options.help)
        {
            out.println(Options.USAGE);
            return 0;
        }
        final Progress progress = new Progress(err, !options.json && null != System.console());
        try
        {
            if (null != options.dir)
            {
                final DirectoryFootprint.Listing listing;
                try
                {
                    listing = DirectoryFootprint.scan(options.dir);
                }
                catch (final IllegalArgumentException ex)
                {
                    return usageError(ex.getMessage(), err);
                }
                final DirectoryReport report =
                    DirectoryFootprint.measure(listing, options.pageSize, options.budgetBytes, !options.bufferedReads,
                        progress);
                out.print(options.json ? report.json() : report.table());
            }
            else if (null != options.sweep)
            {
                sweep(options, progress, out);
            }
            else
            {
                final Report report = run(options, options.clones, true, progress);
                out.print(options.json ? report.json() : report.table());
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            err.println("footprint tool failed: " + ex);
            return 1;
        }
        return 0;
    }

    private static int usageError(final String message, final PrintStream err)
    {
        err.println("error: " + message);
        err.println(Options.USAGE);
        return 2;
    }

    /**
     * Runs the workload through every cache, unbounded and (if asked) at the budget.
     *
     * @param options    the options.
     * @param clones     clone count for this run.
     * @param withBudget also run at the fixed budget.
     * @param progress   progress bar.
     * @return the report.
     * @throws IOException if the device file cannot be written or read.
     */
    static Report run(final Options options, final int clones, final boolean withBudget, final Progress progress)
        throws IOException
    {
        final Path dir = null == options.workDir ? Path.of(System.getProperty("java.io.tmpdir")) : options.workDir;
        Files.createDirectories(dir);
        try (Workload workload = Workload.build(dir, options.imageBytes, options.pageSize, clones, options.divergence,
            options.reads, options.skew, options.seed, progress))
        {
            final long perFileBytes = workload.filePages() * options.pageSize;
            final long budget = options.budgetBytes > 0 ? options.budgetBytes : perFileBytes / 4;
            final List<CacheResult> unbounded = new ArrayList<>();
            final List<CacheResult> budgeted = new ArrayList<>();
            for (final String name : CACHES)
            {
                unbounded.add(measure(workload, name, -1, progress));
                if (withBudget)
                {
                    budgeted.add(measure(workload, name, budget, progress));
                }
            }
            KernelFootprint.Result kernel = null;
            if (options.kernel)
            {
                kernel = KernelFootprint.measure(dir, options.imageBytes, clones, options.divergence, options.seed);
            }
            return new Report(options, clones, workload.pages, workload.distinctPages(), workload.filePages(),
                workload.operations.length, withBudget ? budget : -1, unbounded, budgeted, kernel);
        }
    }

    /**
     * Builds one cache, serves every operation through it, measures it, closes it.
     */
    static CacheResult measure(final Workload workload, final String name, final long budget, final Progress progress)
        throws IOException
    {
        final long heapBefore = heapUsedAfterGc();
        final long directBefore = directPoolBytes();
        final int pageSize = workload.pageSize;
        try (MeasuredCache cache = create(workload, name, budget))
        {
            final ByteBuffer dst = ByteBuffer.allocateDirect(pageSize);
            progress.start(name + (budget > 0 ? " at the budget" : ", unbounded"), workload.operations.length);
            final long start = System.nanoTime();
            for (int i = 0; i < workload.operations.length; i++)
            {
                final long operation = workload.operations[i];
                dst.clear();
                if (cache.read(workload.files[Workload.fileIndex(operation)],
                    (long)Workload.page(operation) * pageSize, dst) != pageSize)
                {
                    throw new IllegalStateException(name + " returned a short read at operation " + i);
                }
                if ((i & 0xFFF) == 0)
                {
                    progress.advance(0x1000);
                }
            }
            final long elapsed = System.nanoTime() - start;
            progress.done();
            final long heapRetained = Math.max(0, heapUsedAfterGc() - heapBefore - pageSize);
            final long directGrowth = directPoolBytes() - directBefore - pageSize;
            return new CacheResult(name, cache.residentBytes(), cache.reservedBytes(), cache.offHeapMetadataBytes(),
                heapRetained, directGrowth, workload.operations.length, cache.hits(), cache.deviceReads(), elapsed);
        }
    }

    private static MeasuredCache create(final Workload workload, final String name, final long budget)
    {
        final long pageSize = workload.pageSize;
        switch (name)
        {
            case "extentcache":
                return new ExtentCacheMeasured(name, workload.device, workload.store,
                    budget > 0 ? budget : (workload.distinctPages() + 64) * pageSize);
            case "per-file":
                final PerFileTranslator perFile =
                    new PerFileTranslator(workload.store, workload.device, workload.files, workload.pages);
                return new ExtentCacheMeasured(name, perFile.device(), perFile,
                    budget > 0 ? budget : (workload.filePages() + 64) * pageSize);
            case "caffeine":
                return new CaffeineChunkCache(workload.store, workload.device, budget > 0 ? budget : -1);
            default:
                throw new IllegalArgumentException("unknown cache: " + name);
        }
    }

    /**
     * Runs the unbounded measurement for each clone count and writes a CSV and a PNG chart of total memory.
     */
    private static void sweep(final Options options, final Progress progress, final PrintStream out) throws IOException
    {
        final List<Report> reports = new ArrayList<>();
        for (final int clones : options.sweep)
        {
            final Report report = run(options, clones, false, progress);
            reports.add(report);
            if (!options.json)
            {
                out.print(report.table());
            }
        }
        Files.createDirectories(options.out);
        final Path csv = options.out.resolve("footprint-sweep.csv");
        final Path png = options.out.resolve("footprint-sweep.png");
        Files.writeString(csv, Report.sweepCsv(reports));
        SweepChart.write(reports, png);
        if (options.json)
        {
            out.print(Report.sweepJson(reports));
        }
        else
        {
            out.printf(Locale.ROOT, "%nwrote %s and %s%n", csv, png);
        }
    }

    /**
     * @return Java heap in use after a full GC: the least of three {@code System.gc()} rounds, 20 ms apart.
     */
    static long heapUsedAfterGc()
    {
        long used = Long.MAX_VALUE;
        for (int i = 0; i < 3; i++)
        {
            System.gc();
            try
            {
                Thread.sleep(20);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
            used = Math.min(used, ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
        }
        return used;
    }

    /**
     * @return bytes the JVM's direct buffer pool holds now.
     */
    static long directPoolBytes()
    {
        for (final BufferPoolMXBean pool : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class))
        {
            if ("direct".equals(pool.getName()))
            {
                return pool.getMemoryUsed();
            }
        }
        return 0;
    }

    /** Command-line options; every size, count and fraction is a flag. */
    static final class Options
    {
        static final String USAGE = String.join("\n",
            "usage: footprint [options]             a base image and clones, built here, through every cache",
            "       footprint --dir PATH [options]  real files, as they are, through ExtentCache and the kernel",
            "  --image-mib N      base image size in MiB (default 128)",
            "  --clones N         clones of the base (default 16)",
            "  --divergence F     fraction of each clone's pages overwritten, 0..1 (default 0.05)",
            "  --reads N          Zipf-distributed random reads after every file is read once (default 200000)",
            "  --skew S           Zipf exponent (default 0.99)",
            "  --seed N           seed for data, divergence and reads (default 42)",
            "  --page-size N      page size in bytes, a power of two from 4096 to 65536 (default 4096)",
            "  --budget-mib N     fixed budget for the second measurement (default: a quarter of the per-file total)",
            "  --work-dir PATH    where the device file and the --kernel scratch file system go (default the",
            "                     temporary directory)",
            "  --json             print one JSON document instead of the table (schema in README.md)",
            "  --sweep LIST       comma-separated clone counts, e.g. 1,2,4,8,16,32,64: CSV and PNG chart",
            "  --out PATH         where --sweep writes footprint-sweep.csv and .png (default .)",
            "  --kernel           also measure the kernel's page cache on XFS reflink clones (root, xfsprogs)",
            "  --help             this text",
            "directory mode:",
            "  --dir PATH         measure the regular files under PATH, recursively (symbolic links not followed,",
            "                     other non-regular files skipped): each read once in full through ExtentCache over",
            "                     a FileSystemTranslator and once through the kernel's page cache (counted with",
            "                     fincore), against the distinct physical bytes their extents (FIEMAP) occupy.",
            "                     Applies: --page-size, --json, and --budget-mib as the cache's capacity (default:",
            "                     enough for every distinct block). The other options are rejected.",
            "  --buffered-reads   ExtentCache's misses read through the kernel's page cache (default: O_DIRECT, so",
            "                     the kernel keeps no second copy of what ExtentCache holds)");

        /** Options that only shape the built workload, so {@code --dir} rejects them. */
        private static final Set<String> NOT_FOR_DIR = Set.of("--image-mib", "--clones", "--divergence", "--reads",
            "--skew", "--seed", "--work-dir", "--sweep", "--out", "--kernel");

        long imageBytes = 128 * MIB;
        int clones = 16;
        double divergence = 0.05;
        int reads = 200_000;
        double skew = 0.99;
        long seed = 42;
        int pageSize = 4096;
        long budgetBytes = -1;
        Path workDir;
        Path dir;
        boolean json;
        boolean bufferedReads;
        int[] sweep;
        Path out = Path.of(".");
        boolean kernel;
        boolean help;

        static Options parse(final String[] args)
        {
            final Options options = new Options();
            final Set<String> given = new TreeSet<>();
            for (int i = 0; i < args.length; i++)
            {
                final String flag = args[i];
                given.add(flag);
                switch (flag)
                {
                    case "--image-mib":
                        options.imageBytes = positive(flag, value(args, ++i, flag)) * MIB;
                        break;
                    case "--clones":
                        options.clones = (int)range(flag, value(args, ++i, flag), 0, 4096);
                        break;
                    case "--divergence":
                        options.divergence = fraction(flag, value(args, ++i, flag));
                        break;
                    case "--reads":
                        options.reads = (int)range(flag, value(args, ++i, flag), 0, 100_000_000);
                        break;
                    case "--skew":
                        options.skew = number(flag, value(args, ++i, flag));
                        break;
                    case "--seed":
                        options.seed = range(flag, value(args, ++i, flag), Long.MIN_VALUE, Long.MAX_VALUE);
                        break;
                    case "--page-size":
                        options.pageSize = (int)range(flag, value(args, ++i, flag), 4096, 65536);
                        if (Integer.bitCount(options.pageSize) != 1)
                        {
                            throw new IllegalArgumentException("--page-size must be a power of two: " +
                                options.pageSize);
                        }
                        break;
                    case "--budget-mib":
                        options.budgetBytes = positive(flag, value(args, ++i, flag)) * MIB;
                        break;
                    case "--work-dir":
                        options.workDir = Path.of(value(args, ++i, flag));
                        break;
                    case "--dir":
                        options.dir = Path.of(value(args, ++i, flag));
                        break;
                    case "--out":
                        options.out = Path.of(value(args, ++i, flag));
                        break;
                    case "--sweep":
                        options.sweep = sweepList(value(args, ++i, flag));
                        break;
                    case "--json":
                        options.json = true;
                        break;
                    case "--kernel":
                        options.kernel = true;
                        break;
                    case "--buffered-reads":
                        options.bufferedReads = true;
                        break;
                    case "--help":
                    case "-h":
                        options.help = true;
                        break;
                    default:
                        throw new IllegalArgumentException("unknown option: " + flag);
                }
            }
            if (null == options.dir && options.bufferedReads)
            {
                throw new IllegalArgumentException("--buffered-reads applies to --dir only");
            }
            if (null != options.dir)
            {
                given.retainAll(NOT_FOR_DIR);
                if (!given.isEmpty())
                {
                    throw new IllegalArgumentException(String.join(", ", given) + (given.size() == 1 ? " does" :
                        " do") + " not apply to --dir, which reads the files as they are (--work-dir is where " +
                        "the built workload goes)");
                }
            }
            if (options.imageBytes % options.pageSize != 0)
            {
                throw new IllegalArgumentException("the image must be whole pages: imageBytes=" +
                    options.imageBytes + " pageSize=" + options.pageSize);
            }
            return options;
        }

        private static String value(final String[] args, final int i, final String flag)
        {
            if (i >= args.length)
            {
                throw new IllegalArgumentException(flag + " needs a value");
            }
            return args[i];
        }

        private static long positive(final String flag, final String value)
        {
            return range(flag, value, 1, 1L << 20);
        }

        private static long range(final String flag, final String value, final long min, final long max)
        {
            final long n;
            try
            {
                n = Long.parseLong(value);
            }
            catch (final NumberFormatException ex)
            {
                throw new IllegalArgumentException(flag + " must be an integer: " + value);
            }
            if (n < min || n > max)
            {
                throw new IllegalArgumentException(flag + " must be " + min + ".." + max + ": " + value);
            }
            return n;
        }

        private static double number(final String flag, final String value)
        {
            try
            {
                final double d = Double.parseDouble(value);
                if (Double.isNaN(d) || Double.isInfinite(d) || d < 0)
                {
                    throw new IllegalArgumentException(flag + " must be a non-negative number: " + value);
                }
                return d;
            }
            catch (final NumberFormatException ex)
            {
                throw new IllegalArgumentException(flag + " must be a number: " + value);
            }
        }

        private static double fraction(final String flag, final String value)
        {
            final double d = number(flag, value);
            if (d > 1)
            {
                throw new IllegalArgumentException(flag + " must be 0..1: " + value);
            }
            return d;
        }

        private static int[] sweepList(final String value)
        {
            final String[] parts = value.split(",");
            final int[] counts = new int[parts.length];
            for (int i = 0; i < parts.length; i++)
            {
                counts[i] = (int)range("--sweep", parts[i].trim(), 0, 4096);
            }
            return counts;
        }
    }
}
