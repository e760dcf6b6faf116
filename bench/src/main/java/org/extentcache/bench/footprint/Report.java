package org.extentcache.bench.footprint;

import java.util.List;
import java.util.Locale;

/**
 * One run's results, as a readable table or a JSON document (schema in README.md).
 */
final class Report
{
    private static final double MIB = 1 << 20;

    final FootprintTool.Options options;
    final int clones;
    final int pages;
    final long distinctPages;
    final long filePages;
    final long operations;
    final long budgetBytes;
    final List<CacheResult> unbounded;
    final List<CacheResult> budgeted;
    final KernelFootprint.Result kernel;

    Report(final FootprintTool.Options options, final int clones, final int pages, final long distinctPages,
        final long filePages, final long operations, final long budgetBytes, final List<CacheResult> unbounded,
        final List<CacheResult> budgeted, final KernelFootprint.Result kernel)
    {
        this.options = options;
        this.clones = clones;
        this.pages = pages;
        this.distinctPages = distinctPages;
        this.filePages = filePages;
        this.operations = operations;
        this.budgetBytes = budgetBytes;
        this.unbounded = unbounded;
        this.budgeted = budgeted;
        this.kernel = kernel;
    }

    /**
     * @return what an ideal shared cache needs: every distinct block once, plus 8 bytes per cached page per file.
     */
    long idealBytes()
    {
        return distinctPages * options.pageSize + 8 * filePages;
    }

    /**
     * @param name a cache.
     * @return its unbounded result.
     */
    CacheResult unbounded(final String name)
    {
        return unbounded.stream().filter(r -> r.name().equals(name)).findFirst().orElseThrow();
    }

    String table()
    {
        final StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, "%nExtentCache footprint: %,d MiB image, %d clones, %.1f%% of each " +
            "clone rewritten, %d-byte pages%n", options.imageBytes >> 20, clones, 100 * options.divergence,
            options.pageSize));
        out.append(String.format(Locale.ROOT, "workload: every file read in full (%,d page reads), then %,d " +
            "Zipf(%.2f) reads; the same sequence for every cache%n", filePages, operations - filePages,
            options.skew));
        out.append(String.format(Locale.ROOT, "ideal: %,.1f MiB = (%,d base + %,d rewritten pages) x %d B + 8 B " +
            "x %,d cached file pages%n%n", idealBytes() / MIB, pages, distinctPages - pages, options.pageSize,
            filePages));
        out.append("Unbounded: memory to hold everything read\n");
        out.append(String.format(Locale.ROOT, "%-12s %12s %12s %12s %12s %9s %9s %12s %9s %12s%n", "cache",
            "resident", "meta off", "meta heap", "total", "vs EC", "hit ratio", "device reads", "elapsed",
            "reads/s"));
        final double reference = unbounded("extentcache").totalBytes();
        for (final CacheResult r : unbounded)
        {
            out.append(String.format(Locale.ROOT, "%-12s %8.1f MiB %8.2f MiB %8.2f MiB %8.1f MiB %8.2fx %9.4f " +
                "%12d %8.2fs %,12.0f%n", r.name(), r.residentBytes() / MIB, r.offHeapMetadataBytes() / MIB,
                r.heapMetadataBytes() / MIB, r.totalBytes() / MIB, r.totalBytes() / reference, r.hitRatio(),
                r.deviceReads(), r.elapsedNanos() / 1e9, r.readsPerSecond()));
        }
        if (null != kernel)
        {
            if (kernel.available())
            {
                out.append(String.format(Locale.ROOT, "%-12s %8.1f MiB %12s %12s %8.1f MiB %8.2fx   (page cache of " +
                    "%d cp --reflink files on XFS, counted with fincore: %.2f copies)%n", "kernel",
                    kernel.residentBytes() / MIB, "-", "-", kernel.residentBytes() / MIB,
                    kernel.residentBytes() / reference, clones + 1, kernel.copies()));
            }
            else
            {
                out.append("kernel       skipped: ").append(kernel.skipReason()).append('\n');
            }
        }
        if (budgetBytes > 0)
        {
            out.append(String.format(Locale.ROOT, "%nFixed budget of %,.1f MiB for every cache%n",
                budgetBytes / MIB));
            out.append(String.format(Locale.ROOT, "%-12s %12s %12s %9s %12s %9s %12s%n", "cache", "resident",
                "total", "hit ratio", "device reads", "elapsed", "reads/s"));
            for (final CacheResult r : budgeted)
            {
                out.append(String.format(Locale.ROOT, "%-12s %8.1f MiB %8.1f MiB %9.4f %12d %8.2fs %,12.0f%n",
                    r.name(), r.residentBytes() / MIB, r.totalBytes() / MIB, r.hitRatio(), r.deviceReads(),
                    r.elapsedNanos() / 1e9, r.readsPerSecond()));
            }
        }
        out.append(String.format(Locale.ROOT, "%nMemory: resident = off-heap data held; meta off = frame records and " +
            "device index; meta heap = Java heap the cache retained, measured after GC.%n"));
        return out.toString();
    }

    String json()
    {
        final StringBuilder out = new StringBuilder("{\n");
        field(out, "clones", clones).append(",\n");
        field(out, "image_bytes", options.imageBytes).append(",\n");
        field(out, "page_size", options.pageSize).append(",\n");
        out.append(String.format(Locale.ROOT, "  \"divergence\": %s,%n", options.divergence));
        field(out, "operations", operations).append(",\n");
        field(out, "distinct_pages", distinctPages).append(",\n");
        field(out, "file_pages", filePages).append(",\n");
        field(out, "ideal_bytes", idealBytes()).append(",\n");
        out.append("  \"caches\": ").append(results(unbounded)).append(",\n");
        out.append("  \"budget\": ");
        if (budgetBytes > 0)
        {
            out.append("{\"budget_bytes\": ").append(budgetBytes).append(", \"caches\": ")
                .append(results(budgeted)).append("},\n");
        }
        else
        {
            out.append("null,\n");
        }
        out.append("  \"kernel\": ").append(kernelJson()).append("\n}\n");
        return out.toString();
    }

    private String kernelJson()
    {
        if (null == kernel)
        {
            return "null";
        }
        if (!kernel.available())
        {
            return "{\"available\": false, \"skip_reason\": " + quote(kernel.skipReason()) + "}";
        }
        return String.format(Locale.ROOT, "{\"available\": true, \"resident_bytes\": %d, \"copies\": %.4f}",
            kernel.residentBytes(), kernel.copies());
    }

    private static String results(final List<CacheResult> results)
    {
        final StringBuilder out = new StringBuilder("[");
        for (int i = 0; i < results.size(); i++)
        {
            final CacheResult r = results.get(i);
            out.append(i == 0 ? "\n" : ",\n").append(String.format(Locale.ROOT,
                "    {\"name\": %s, \"resident_bytes\": %d, \"reserved_bytes\": %d, \"metadata_bytes\": %d, " +
                "\"offheap_metadata_bytes\": %d, \"heap_metadata_bytes\": %d, \"total_bytes\": %d, " +
                "\"direct_pool_bytes\": %d, \"hit_ratio\": %.6f, \"device_reads\": %d, \"operations\": %d, " +
                "\"elapsed_ms\": %.1f, \"reads_per_second\": %.0f}",
                quote(r.name()), r.residentBytes(), r.reservedBytes(), r.metadataBytes(), r.offHeapMetadataBytes(),
                r.heapMetadataBytes(), r.totalBytes(), r.directPoolBytes(), r.hitRatio(), r.deviceReads(),
                r.operations(), r.elapsedNanos() / 1e6, r.readsPerSecond()));
        }
        return out.append("\n  ]").toString();
    }

    static String sweepCsv(final List<Report> reports)
    {
        final StringBuilder out = new StringBuilder("clones");
        for (final CacheResult r : reports.get(0).unbounded)
        {
            out.append(',').append(r.name()).append("_total_bytes");
        }
        out.append(",ideal_bytes\n");
        for (final Report report : reports)
        {
            out.append(report.clones);
            for (final CacheResult r : report.unbounded)
            {
                out.append(',').append(r.totalBytes());
            }
            out.append(',').append(report.idealBytes()).append('\n');
        }
        return out.toString();
    }

    static String sweepJson(final List<Report> reports)
    {
        final StringBuilder out = new StringBuilder("[\n");
        for (int i = 0; i < reports.size(); i++)
        {
            out.append(i == 0 ? "" : ",\n").append(reports.get(i).json().trim());
        }
        return out.append("\n]\n").toString();
    }

    private static StringBuilder field(final StringBuilder out, final String name, final long value)
    {
        return out.append("  \"").append(name).append("\": ").append(value);
    }

    /**
     * @param text any text.
     * @return it as a JSON string literal, quotes included.
     */
    static String quote(final String text)
    {
        final StringBuilder out = new StringBuilder("\"");
        for (final char c : text.toCharArray())
        {
            switch (c)
            {
                case '"': out.append("\\\""); break;
                case '\\': out.append("\\\\"); break;
                case '\n': out.append("\\n"); break;
                case '\r': out.append("\\r"); break;
                case '\t': out.append("\\t"); break;
                default:
                    if (c < 0x20)
                    {
                        out.append(String.format(Locale.ROOT, "\\u%04x", (int)c));
                    }
                    else
                    {
                        out.append(c);
                    }
            }
        }
        return out.append('"').toString();
    }
}
