package org.extentcache.bench.footprint;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

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
    final long physicalPages;
    final long filePages;
    final long operations;
    final long budgetBytes;
    final List<CacheResult> unbounded;
    final List<CacheResult> budgeted;
    final KernelFootprint.Result kernel;

    Report(final FootprintTool.Options options, final int clones, final int pages, final long distinctPages,
        final long physicalPages, final long filePages, final long operations, final long budgetBytes,
        final List<CacheResult> unbounded, final List<CacheResult> budgeted, final KernelFootprint.Result kernel)
    {
        this.physicalPages = physicalPages;
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
     * @return what an ideal cache keyed by block needs: every distinct block once, plus 8 bytes per cached page per
     * file. Plain copies ({@code --copies}) occupy distinct blocks, so for them this is one copy per file.
     */
    long idealBytes()
    {
        return physicalPages * options.pageSize + 8 * filePages;
    }

    /**
     * @return what an ideal cache that holds identical pages once needs: every distinct page content once, plus 8
     * bytes per cached page per file. Equal to {@link #idealBytes()} for clones.
     */
    long contentIdealBytes()
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
        if (physicalPages == distinctPages)
        {
            out.append(String.format(Locale.ROOT, "ideal: %,.1f MiB = (%,d base + %,d rewritten pages) x %d B + 8 B " +
                "x %,d cached file pages%n%n", idealBytes() / MIB, pages, distinctPages - pages, options.pageSize,
                filePages));
        }
        else
        {
            out.append(String.format(Locale.ROOT, "the clones are plain copies: no block is shared in the store%n" +
                "ideal by block: %,.1f MiB = %,d distinct blocks x %d B + 8 B x %,d cached file pages%n" +
                "ideal by content: %,.1f MiB = (%,d base + %,d rewritten pages) x %d B + 8 B x %,d cached file " +
                "pages%n", idealBytes() / MIB, physicalPages, options.pageSize, filePages, contentIdealBytes() / MIB,
                pages, distinctPages - pages, options.pageSize, filePages));
            for (final CacheResult r : unbounded)
            {
                out.append(String.format(Locale.ROOT, "  %-18s %8.1f MiB = %.3fx the content ideal%n", r.name(),
                    r.totalBytes() / MIB, (double)r.totalBytes() / contentIdealBytes()));
            }
            out.append('\n');
        }
        out.append("Unbounded: memory to hold everything read\n");
        out.append(String.format(Locale.ROOT, "%-17s %12s %12s %12s %12s %9s %9s %12s %9s %12s%n", "cache",
            "resident", "meta off", "meta heap", "total", "vs EC", "hit ratio", "device reads", "elapsed",
            "reads/s"));
        final double reference = unbounded("extentcache").totalBytes();
        for (final CacheResult r : unbounded)
        {
            out.append(String.format(Locale.ROOT, "%-17s %8.1f MiB %8.2f MiB %8.2f MiB %8.1f MiB %8.2fx %9.4f " +
                "%12d %8.2fs %,12.0f%n", r.name(), r.residentBytes() / MIB, r.offHeapMetadataBytes() / MIB,
                r.heapMetadataBytes() / MIB, r.totalBytes() / MIB, r.totalBytes() / reference, r.hitRatio(),
                r.deviceReads(), r.elapsedNanos() / 1e9, r.readsPerSecond()));
        }
        if (null != kernel)
        {
            if (kernel.available())
            {
                out.append(String.format(Locale.ROOT, "%-17s %8.1f MiB %12s %12s %8.1f MiB %8.2fx   (page cache of " +
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
            out.append(String.format(Locale.ROOT, "%-17s %12s %12s %9s %12s %9s %12s%n", "cache", "resident",
                "total", "hit ratio", "device reads", "elapsed", "reads/s"));
            for (final CacheResult r : budgeted)
            {
                out.append(String.format(Locale.ROOT, "%-17s %8.1f MiB %8.1f MiB %9.4f %12d %8.2fs %,12.0f%n",
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
        return Json.write(tree());
    }

    /** @return the document README.md describes, field for field. */
    ObjectNode tree()
    {
        final ObjectNode root = Json.object();
        root.put("clones", clones);
        root.put("image_bytes", options.imageBytes);
        root.put("page_size", options.pageSize);
        root.put("divergence", options.divergence);
        root.put("operations", operations);
        root.put("distinct_pages", distinctPages);
        root.put("file_pages", filePages);
        root.put("copies", options.copies);
        root.put("physical_pages", physicalPages);
        root.put("ideal_bytes", idealBytes());
        root.put("content_ideal_bytes", contentIdealBytes());
        results(root.putArray("caches"), unbounded);
        if (budgetBytes > 0)
        {
            final ObjectNode budget = root.putObject("budget");
            budget.put("budget_bytes", budgetBytes);
            results(budget.putArray("caches"), budgeted);
        }
        else
        {
            root.putNull("budget");
        }
        if (null == kernel)
        {
            root.putNull("kernel");
        }
        else
        {
            final ObjectNode k = root.putObject("kernel");
            k.put("available", kernel.available());
            if (kernel.available())
            {
                k.put("resident_bytes", kernel.residentBytes());
                k.put("copies", Json.round(kernel.copies(), 4));
            }
            else
            {
                k.put("skip_reason", kernel.skipReason());
            }
        }
        return root;
    }

    private static void results(final ArrayNode array, final List<CacheResult> results)
    {
        for (final CacheResult r : results)
        {
            final ObjectNode entry = array.addObject();
            entry.put("name", r.name());
            entry.put("resident_bytes", r.residentBytes());
            entry.put("reserved_bytes", r.reservedBytes());
            entry.put("metadata_bytes", r.metadataBytes());
            entry.put("offheap_metadata_bytes", r.offHeapMetadataBytes());
            entry.put("heap_metadata_bytes", r.heapMetadataBytes());
            entry.put("total_bytes", r.totalBytes());
            entry.put("direct_pool_bytes", r.directPoolBytes());
            entry.put("hit_ratio", Json.round(r.hitRatio(), 6));
            entry.put("device_reads", r.deviceReads());
            entry.put("operations", r.operations());
            entry.put("elapsed_ms", Json.round(r.elapsedNanos() / 1e6, 1));
            entry.put("reads_per_second", Math.round(r.readsPerSecond()));
        }
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
        final ArrayNode array = Json.MAPPER.createArrayNode();
        for (final Report report : reports)
        {
            array.add(report.tree());
        }
        return Json.write(array);
    }
}
