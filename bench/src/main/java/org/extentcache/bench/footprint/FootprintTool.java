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

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.ExitCode;
import picocli.CommandLine.Help;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

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
 * <p>With {@code --dir PATH} it measures real files instead, as they are: see {@link DirectoryFootprint}. With
 * {@code --processes N}, N JVMs reading real reflinked files through one shared-memory cache, against a cache per JVM
 * and the kernel: see {@link ProcessFootprint}.
 *
 * <p>Exit status: 0 on success, 1 if a measurement failed, 2 for a usage error (bad flags, a {@code --dir} that does
 * not exist or holds no regular file).
 */
public final class FootprintTool
{
    private static final long MIB = 1L << 20;
    private static final String[] CACHES = {"extentcache", "per-file", "caffeine"};
    /** With {@code --merge}: ExtentCache with content merging too. */
    private static final String[] CACHES_WITH_MERGING = {"extentcache", "extentcache-merge", "per-file", "caffeine"};

    private FootprintTool()
    {
    }

    /**
     * @param args see {@code --help}.
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
     * @param args see {@code --help}.
     * @param out  where the table or the JSON goes.
     * @param err  where errors, the usage text after a usage error, and the progress bar go.
     * @return the exit status: 0 on success, 1 if a measurement failed, 2 for a usage error.
     */
    static int execute(final String[] args, final PrintStream out, final PrintStream err)
    {
        final CommandLine commandLine = Options.commandLine();
        final Options options;
        try
        {
            options = Options.parse(commandLine, args);
        }
        catch (final ParameterException ex)
        {
            return usageError(ex.getMessage(), commandLine, err);
        }
        if (options.help)
        {
            out.print(commandLine.getUsageMessage(Help.Ansi.OFF));
            return ExitCode.OK;
        }
        final Progress progress = new Progress(err, !options.json && Progress.onTerminal());
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
                    return usageError(ex.getMessage(), commandLine, err);
                }
                final DirectoryReport report =
                    DirectoryFootprint.measure(listing, options.pageSize, options.budgetBytes, !options.bufferedReads,
                        options.merge, progress);
                out.print(options.json ? report.json() : report.table());
            }
            else if (options.processes > 0)
            {
                final ProcessReport report = ProcessFootprint.measure(options, progress);
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
            return ExitCode.SOFTWARE;
        }
        out.flush();
        return ExitCode.OK;
    }

    private static int usageError(final String message, final CommandLine commandLine, final PrintStream err)
    {
        err.println("error: " + message);
        err.print(commandLine.getUsageMessage(Help.Ansi.OFF));
        return ExitCode.USAGE;
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
        try (Workload workload = Workload.build(dir, options.imageBytes, options.pageSize, clones, options.copies,
            options.divergence, options.reads, options.skew, options.seed, progress))
        {
            final long perFileBytes = workload.filePages() * options.pageSize;
            final long budget = options.budgetBytes > 0 ? options.budgetBytes : perFileBytes / 4;
            final List<CacheResult> unbounded = new ArrayList<>();
            final List<CacheResult> budgeted = new ArrayList<>();
            for (final String name : options.merge ? CACHES_WITH_MERGING : CACHES)
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
            return new Report(options, clones, workload.pages, workload.distinctPages(), workload.physicalPages(),
                workload.filePages(), workload.operations.length, withBudget ? budget : -1, unbounded, budgeted,
                kernel);
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
                    budget > 0 ? budget : (workload.physicalPages() + 64) * pageSize, 0);
            case "extentcache-merge":
                // unbounded: room for every distinct content (what it holds with merging) and an alias record for
                // every other page of the files
                return new ExtentCacheMeasured(name, workload.device, workload.store,
                    budget > 0 ? budget : (workload.distinctPages() + 64) * pageSize,
                    (int)Math.min(Integer.MAX_VALUE - 8, workload.filePages() - workload.distinctPages() + 64));
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

    /**
     * Command-line options, typed and checked by picocli; {@link #parse} adds the checks across options. Every size,
     * count and fraction is a flag.
     */
    @Command(name = "footprint", sortOptions = false, usageHelpWidth = 110, synopsisHeading = "",
        customSynopsis = {
            "usage: footprint [options]             a base image and clones, built here, through every cache",
            "       footprint --dir PATH [options]  real files, as they are, through ExtentCache and the kernel",
            "       footprint --processes N [options]  N JVMs, one shared-memory cache, real reflink clones",
            ""},
        footer = {"", "Exit status: 0 on success, 1 if a measurement failed, 2 for a usage error."})
    static final class Options
    {
        /** Options that only shape the built workload, so {@code --dir} rejects them. */
        private static final List<String> NOT_FOR_DIR = List.of("--image-mib", "--clones", "--divergence", "--reads",
            "--skew", "--seed", "--work-dir", "--sweep", "--out", "--kernel", "--copies", "--processes");
        /** Options {@code --processes} rejects: it reads pure {@code cp --reflink} clones, each in full, once. */
        private static final List<String> NOT_FOR_PROCESSES = List.of("--divergence", "--reads", "--skew",
            "--budget-mib", "--sweep", "--out", "--kernel", "--copies", "--merge", "--buffered-reads");

        @Option(names = "--image-mib", paramLabel = "N", description = "base image size in MiB (default ${DEFAULT-VALUE})")
        long imageMib = 128;

        @Option(names = "--clones", paramLabel = "N", description = "clones of the base (default ${DEFAULT-VALUE})")
        int clones = 16;

        @Option(names = "--divergence", paramLabel = "F",
            description = "fraction of each clone's pages overwritten, 0..1 (default ${DEFAULT-VALUE})")
        double divergence = 0.05;

        @Option(names = "--reads", paramLabel = "N",
            description = "Zipf-distributed random reads after every file is read once (default ${DEFAULT-VALUE})")
        int reads = 200_000;

        @Option(names = "--skew", paramLabel = "S", description = "Zipf exponent (default ${DEFAULT-VALUE})")
        double skew = 0.99;

        @Option(names = "--seed", paramLabel = "N",
            description = "seed for data, divergence and reads (default ${DEFAULT-VALUE})")
        long seed = 42;

        @Option(names = "--page-size", paramLabel = "N",
            description = "page size in bytes, a power of two from 4096 to 65536 (default ${DEFAULT-VALUE})")
        int pageSize = 4096;

        @Option(names = "--budget-mib", paramLabel = "N",
            description = "fixed budget for the second measurement (default: a quarter of the per-file total); " +
                "with --dir, the cache's capacity (default: enough for every distinct block)")
        long budgetMib = -1;

        @Option(names = "--work-dir", paramLabel = "PATH",
            description = "where the device file and the --kernel scratch file system go (default the temporary " +
                "directory)")
        Path workDir;

        @Option(names = "--json", description = "print one JSON document instead of the table (schema in README.md)")
        boolean json;

        @Option(names = "--sweep", paramLabel = "N,N,...", split = ",", hideParamSyntax = true,
            description = "comma-separated clone counts, e.g. 1,2,4,8,16,32,64: CSV and PNG chart")
        int[] sweep;

        @Option(names = "--out", paramLabel = "PATH", defaultValue = "${sys:footprint.out:-.}",
            description = "where --sweep writes footprint-sweep.csv and .png (default ${DEFAULT-VALUE})")
        Path out;

        @Option(names = "--copies",
            description = "make the clones plain byte copies (each on blocks of its own, nothing shared in the " +
                "store): the case only content merging helps")
        boolean copies;

        @Option(names = "--merge",
            description = "also measure ExtentCache with content merging (mergeIdenticalPages); with --dir, " +
                "ExtentCache merges identical pages")
        boolean merge;

        @Option(names = "--kernel",
            description = "also measure the kernel's page cache on XFS reflink clones (root, xfsprogs)")
        boolean kernel;

        @Option(names = "--dir", paramLabel = "PATH",
            description = {"directory mode: measure the regular files under PATH, recursively (symbolic links not " +
                "followed, other non-regular files skipped): each read once in full through ExtentCache over a " +
                "FileSystemTranslator and once through the kernel's page cache (counted with fincore), against " +
                "the distinct physical bytes their extents (FIEMAP) occupy. Applies: --page-size, --json, " +
                "--budget-mib, --buffered-reads, --merge; the other options are rejected."})
        Path dir;

        @Option(names = "--buffered-reads",
            description = "with --dir: ExtentCache's misses read through the kernel's page cache (default: " +
                "O_DIRECT, so the kernel keeps no second copy of what ExtentCache holds)")
        boolean bufferedReads;

        @Option(names = "--processes", paramLabel = "N",
            description = {"processes mode: a base of --image-mib and --clones cp --reflink clones in --work-dir " +
                "(default: $EXTENTCACHE_REFLINK_DIR; XFS with reflink=1 or btrfs), read in full by N child JVMs " +
                "through one shared cache on /dev/shm (SharedFiles, O_DIRECT), then by N JVMs with a cache each, " +
                "then through the kernel's page cache. Applies: --image-mib, --clones, --seed, --page-size, " +
                "--work-dir, --json; the other options are rejected."})
        int processes;

        @Option(names = {"-h", "--help"}, usageHelp = true, description = "this text")
        boolean help;

        /** Set by {@link #parse}: {@code --image-mib} in bytes. */
        long imageBytes;
        /** Set by {@link #parse}: {@code --budget-mib} in bytes, or -1 for the default. */
        long budgetBytes = -1;

        /** @return a command line over fresh options, its messages in the tool's words. */
        static CommandLine commandLine()
        {
            // the last of a repeated option wins, so -Dfootprint.args can override what a script put first
            return new CommandLine(new Options()).setOverwrittenOptionsAllowed(true);
        }

        /**
         * @param args the arguments.
         * @return the options they give.
         * @throws ParameterException (a usage error) for an unknown option, a value of the wrong type or out of
         *                            range, or options that do not go together.
         */
        static Options parse(final String[] args)
        {
            return parse(commandLine(), args);
        }

        /**
         * @param commandLine from {@link #commandLine()}; holds the options after the call.
         * @param args        the arguments.
         * @return the options they give.
         * @throws ParameterException (a usage error) as {@link #parse(String[])}.
         */
        static Options parse(final CommandLine commandLine, final String[] args)
        {
            final ParseResult given = commandLine.parseArgs(args);
            final Options options = commandLine.getCommand();
            if (options.help)
            {
                return options;
            }
            final Checker check = new Checker(commandLine);
            options.imageBytes = check.range("--image-mib", options.imageMib, 1, 1L << 20) * MIB;
            check.range("--clones", options.clones, 0, 4096);
            check.range("--reads", options.reads, 0, 100_000_000);
            check.fraction("--divergence", options.divergence);
            check.nonNegative("--skew", options.skew);
            check.range("--page-size", options.pageSize, 4096, 65536);
            if (Integer.bitCount(options.pageSize) != 1)
            {
                throw check.error("--page-size must be a power of two: " + options.pageSize);
            }
            if (given.hasMatchedOption("--budget-mib"))
            {
                options.budgetBytes = check.range("--budget-mib", options.budgetMib, 1, 1L << 20) * MIB;
            }
            if (null != options.sweep)
            {
                for (final int clones : options.sweep)
                {
                    check.range("--sweep", clones, 0, 4096);
                }
            }
            if (given.hasMatchedOption("--processes"))
            {
                check.range("--processes", options.processes, 1, 64);
                final List<String> rejected = new ArrayList<>();
                for (final String name : NOT_FOR_PROCESSES)
                {
                    if (given.hasMatchedOption(name))
                    {
                        rejected.add(name);
                    }
                }
                if (!rejected.isEmpty())
                {
                    throw check.error(String.join(", ", rejected) + (rejected.size() == 1 ? " does" : " do") +
                        " not apply to --processes, which reads pure cp --reflink clones of one base, each in full");
                }
            }
            if (null == options.dir && options.bufferedReads)
            {
                throw check.error("--buffered-reads applies to --dir only");
            }
            if (null != options.dir)
            {
                final List<String> rejected = new ArrayList<>();
                for (final String name : NOT_FOR_DIR)
                {
                    if (given.hasMatchedOption(name))
                    {
                        rejected.add(name);
                    }
                }
                if (!rejected.isEmpty())
                {
                    throw check.error(String.join(", ", rejected) + (rejected.size() == 1 ? " does" : " do") +
                        " not apply to --dir, which reads the files as they are (--work-dir is where the built " +
                        "workload goes)");
                }
            }
            if (options.imageBytes % options.pageSize != 0)
            {
                throw check.error("the image must be whole pages: imageBytes=" + options.imageBytes +
                    " pageSize=" + options.pageSize);
            }
            return options;
        }
    }

    /** Range checks that picocli's types do not make, failing as usage errors. */
    private static final class Checker
    {
        private final CommandLine commandLine;

        Checker(final CommandLine commandLine)
        {
            this.commandLine = commandLine;
        }

        ParameterException error(final String message)
        {
            return new ParameterException(commandLine, message);
        }

        long range(final String flag, final long value, final long min, final long max)
        {
            if (value < min || value > max)
            {
                throw error(flag + " must be " + min + ".." + max + ": " + value);
            }
            return value;
        }

        void nonNegative(final String flag, final double value)
        {
            if (!(value >= 0 && value < Double.POSITIVE_INFINITY))
            {
                throw error(flag + " must be a non-negative number: " + value);
            }
        }

        void fraction(final String flag, final double value)
        {
            if (!(value >= 0 && value <= 1))
            {
                throw error(flag + " must be 0..1: " + value);
            }
        }
    }
}
