package org.extentcache.bench.footprint;

import java.nio.file.Path;
import java.util.Locale;

/**
 * One directory-mode run's results ({@link DirectoryFootprint}), as a readable table or a JSON document (schema in
 * README.md): ExtentCache against the kernel's page cache against the ideal, with {@code copies = bytes / ideal}.
 */
final class DirectoryReport
{
    private static final double KIB = 1 << 10;
    private static final double MIB = 1 << 20;

    final Path directory;
    final int files;
    final long logicalBytes;
    final long filePages;
    final int pageSize;
    final Ideal ideal;
    final ExtentCacheRun extentCache;
    final PageCache kernel;

    DirectoryReport(final Path directory, final int files, final long logicalBytes, final long filePages,
        final int pageSize, final Ideal ideal, final ExtentCacheRun extentCache, final PageCache kernel)
    {
        this.directory = directory;
        this.files = files;
        this.logicalBytes = logicalBytes;
        this.filePages = filePages;
        this.pageSize = pageSize;
        this.ideal = ideal;
        this.extentCache = extentCache;
        this.kernel = kernel;
    }

    /**
     * The distinct bytes the files' extents occupy (see {@link DirectoryFootprint}).
     *
     * @param bytes                the ideal: {@code physicalBytes + otherBytes}.
     * @param physicalBytes        the union of the physical ranges of extents with a stable physical address, summed
     *                             over file systems.
     * @param otherBytes           extents without a stable physical address, and files without FIEMAP (their size in
     *                             whole pages), each counted in full, each inode once.
     * @param fileSystems          file systems the physical ranges are on.
     * @param extents              extents counted.
     * @param filesWithoutExtents  files whose file system (or platform) has no FIEMAP.
     * @param withoutExtentsReason the first such file and why, or null.
     */
    record Ideal(long bytes, long physicalBytes, long otherBytes, int fileSystems,
        long extents, int filesWithoutExtents, String withoutExtentsReason)
    {
    }

    /**
     * ExtentCache over a {@code FileSystemTranslator} after every file was read once.
     *
     * @param result           memory and counters, as for the tool's other caches; heap is the cache's and the
     *                         translator's together.
     * @param capacityBytes    frame memory reserved.
     * @param sharingHits      the cache's sharing-hit counter (pages mapped ahead by fault-around count when mapped).
     * @param fileHits         the cache's file-hit counter.
     * @param reclaims         frames the cache reclaimed: more than 0 means the capacity could not hold everything.
     * @param filesNotSharing  files whose pages are not keyed by physical block.
     * @param notSharingReason the first such file and why, or null.
     * @param directReads      whether the translator was asked to read misses with {@code O_DIRECT}.
     * @param filesNotDirect   files read through the page cache although direct reads were asked for (their file
     *                         system refused {@code O_DIRECT}), or all files if they were not asked for.
     * @param kernelBeside     page-cache bytes the kernel held for the files right after the ExtentCache pass, or -1
     *                         if not counted.
     */
    record ExtentCacheRun(CacheResult result, long capacityBytes, long sharingHits, long fileHits, long reclaims,
        int filesNotSharing, String notSharingReason, boolean directReads, int filesNotDirect, long kernelBeside,
        long reachableBytes, long residentAfterCloseBytes, long reachableAfterCloseBytes)
    {
    }

    /**
     * What the kernel's page cache held for the files when counted with {@code fincore}.
     *
     * @param available     true if it was counted; if false only {@code skipReason} means anything.
     * @param skipReason    why it could not be counted, or null.
     * @param residentBytes page-cache bytes resident, summed over the inodes.
     * @param inodes        inodes counted (hard links to one inode count once).
     * @param elapsedNanos  time to read every file once in full through the page cache.
     */
    record PageCache(boolean available, String skipReason, long residentBytes, int inodes, long elapsedNanos)
    {
        static PageCache unavailable(final String reason)
        {
            return new PageCache(false, reason, 0, 0, 0);
        }
    }

    /**
     * @param bytes a memory figure.
     * @return {@code bytes / ideal}, or NaN if the ideal is 0 (every file empty or all hole).
     */
    double copies(final long bytes)
    {
        return ideal.bytes() == 0 ? Double.NaN : (double)bytes / ideal.bytes();
    }

    String table()
    {
        final CacheResult ec = extentCache.result();
        final StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, "%nExtentCache footprint of a directory: %s%n", directory));
        out.append(String.format(Locale.ROOT, "%,d regular files (recursive, symbolic links not followed), %s " +
            "logical, %,d pages of %d B%n", files, size(logicalBytes), filePages, pageSize));
        out.append(String.format(Locale.ROOT, "ideal: %s of distinct data = %s of physical ranges (FIEMAP, %,d " +
            "extents, %d file system%s)%n  + %s counted per file (no FIEMAP, or no stable physical address)%n",
            size(ideal.bytes()), size(ideal.physicalBytes()), ideal.extents(), ideal.fileSystems(),
            ideal.fileSystems() == 1 ? "" : "s", size(ideal.otherBytes())));
        if (ideal.filesWithoutExtents() > 0)
        {
            out.append(String.format(Locale.ROOT, "  %,d files without FIEMAP, counted in full; first: %s%n",
                ideal.filesWithoutExtents(), ideal.withoutExtentsReason()));
        }
        out.append('\n');
        out.append(String.format(Locale.ROOT, "%-12s %12s %12s %12s %12s %7s  %12s %12s %9s%n", "cache", "resident",
            "meta off", "meta heap", "total", "copies", "device reads", "sharing hits", "elapsed"));
        out.append(String.format(Locale.ROOT, "%-12s %12s %12s %12s %12s %7s  %,12d %,12d %8.2fs%n", "extentcache",
            size(ec.residentBytes()), size(ec.offHeapMetadataBytes()), size(ec.heapMetadataBytes()),
            size(ec.totalBytes()), copiesText(ec.totalBytes()), ec.deviceReads(), extentCache.sharingHits(),
            ec.elapsedNanos() / 1e9));
        if (kernel.available())
        {
            out.append(String.format(Locale.ROOT, "%-12s %12s %12s %12s %12s %7s  %12s %12s %8.2fs%n", "kernel",
                size(kernel.residentBytes()), "-", "-", size(kernel.residentBytes()),
                copiesText(kernel.residentBytes()), "-", "-", kernel.elapsedNanos() / 1e9));
        }
        else
        {
            out.append(String.format(Locale.ROOT, "%-12s unavailable: %s%n", "kernel", kernel.skipReason()));
        }
        out.append(String.format(Locale.ROOT, "%-12s %12s %12s %12s %12s %7s%n", "ideal", size(ideal.bytes()), "-",
            "-", size(ideal.bytes()), copiesText(ideal.bytes())));
        out.append('\n');
        out.append(String.format(Locale.ROOT, "extentcache: %s of frames reserved (%s off-heap with metadata), " +
            "%,d file hits, %,d reclaims;%n  ", size(extentCache.capacityBytes()), size(ec.reservedBytes()),
            extentCache.fileHits(), extentCache.reclaims()));
        if (0 == extentCache.filesNotSharing())
        {
            out.append(String.format(Locale.ROOT, "every file keyed by physical block (can share)%n"));
        }
        else
        {
            out.append(String.format(Locale.ROOT, "%,d of %,d files cannot share; first: %s%n",
                extentCache.filesNotSharing(), files, extentCache.notSharingReason()));
        }
        out.append(String.format(Locale.ROOT, "  misses read %s%s; kernel page cache beside it after its pass: %s%n",
            extentCache.directReads() ? "with O_DIRECT" : "through the kernel's page cache (--buffered-reads)",
            extentCache.directReads() && extentCache.filesNotDirect() > 0 ? String.format(Locale.ROOT,
                " (%,d files through the page cache: O_DIRECT refused)", extentCache.filesNotDirect()) : "",
            extentCache.kernelBeside() < 0 ? "not counted" : size(extentCache.kernelBeside())));
        out.append(String.format(Locale.ROOT, "  of the resident frames, %s are mapped by open files and %s kept only " +
            "as cache;%n  after every file was closed: %s resident, %s mapped by open files%n",
            size(extentCache.reachableBytes()), size(ec.residentBytes() - extentCache.reachableBytes()),
            size(extentCache.residentAfterCloseBytes()), size(extentCache.reachableAfterCloseBytes())));
        if (extentCache.reclaims() > 0)
        {
            out.append(String.format(Locale.ROOT, "  warning: the cache reclaimed frames, so its capacity could not " +
                "hold everything read; resident is what it held at the end%n"));
        }
        if (kernel.available())
        {
            out.append(String.format(Locale.ROOT, "kernel: page-cache bytes resident after the reads, %,d inodes " +
                "counted with fincore;%n  pages cached before the run count too, pages evicted meanwhile do not%n",
                kernel.inodes()));
        }
        out.append(String.format(Locale.ROOT, "%ncopies = total / ideal. resident = off-heap data held; meta off = " +
            "frame records and device index;%nmeta heap = Java heap the cache and its translator retained, measured " +
            "after GC. Page cache the kernel holds beside ExtentCache is%nnot in the extentcache row: see " +
            "\"kernel page cache beside it\".%n"));
        return out.toString();
    }

    String json()
    {
        final CacheResult ec = extentCache.result();
        final StringBuilder out = new StringBuilder("{\n");
        out.append("  \"mode\": \"directory\",\n");
        out.append("  \"directory\": ").append(Report.quote(directory.toString())).append(",\n");
        out.append("  \"files\": ").append(files).append(",\n");
        out.append("  \"logical_bytes\": ").append(logicalBytes).append(",\n");
        out.append("  \"file_pages\": ").append(filePages).append(",\n");
        out.append("  \"page_size\": ").append(pageSize).append(",\n");
        out.append(String.format(Locale.ROOT, "  \"ideal\": {\"bytes\": %d, \"physical_bytes\": %d, " +
            "\"other_bytes\": %d, \"file_systems\": %d, \"extents\": %d, \"files_without_extents\": %d, " +
            "\"without_extents_reason\": %s},%n", ideal.bytes(), ideal.physicalBytes(), ideal.otherBytes(),
            ideal.fileSystems(), ideal.extents(), ideal.filesWithoutExtents(),
            quoteOrNull(ideal.withoutExtentsReason())));
        out.append(String.format(Locale.ROOT, "  \"extentcache\": {\"resident_bytes\": %d, \"reserved_bytes\": %d, " +
            "\"capacity_bytes\": %d, \"metadata_bytes\": %d, \"offheap_metadata_bytes\": %d, " +
            "\"heap_metadata_bytes\": %d, \"total_bytes\": %d, \"direct_pool_bytes\": %d, \"copies\": %s, " +
            "\"device_reads\": %d, \"sharing_hits\": %d, \"file_hits\": %d, \"reclaims\": %d, " +
            "\"files_not_sharing\": %d, \"not_sharing_reason\": %s, \"direct_reads\": %b, " +
            "\"files_not_direct\": %d, \"kernel_beside_bytes\": %d, \"reachable_bytes\": %d, " +
            "\"resident_after_close_bytes\": %d, \"reachable_after_close_bytes\": %d, \"elapsed_ms\": %.1f},%n",
            ec.residentBytes(), ec.reservedBytes(), extentCache.capacityBytes(), ec.metadataBytes(),
            ec.offHeapMetadataBytes(), ec.heapMetadataBytes(), ec.totalBytes(), ec.directPoolBytes(),
            copiesJson(ec.totalBytes()), ec.deviceReads(), extentCache.sharingHits(), extentCache.fileHits(),
            extentCache.reclaims(), extentCache.filesNotSharing(), quoteOrNull(extentCache.notSharingReason()),
            extentCache.directReads(), extentCache.filesNotDirect(), extentCache.kernelBeside(),
            extentCache.reachableBytes(), extentCache.residentAfterCloseBytes(), extentCache.reachableAfterCloseBytes(),
            ec.elapsedNanos() / 1e6));
        out.append("  \"kernel\": ").append(pageCacheJson(kernel)).append("\n}\n");
        return out.toString();
    }

    private String pageCacheJson(final PageCache pageCache)
    {
        if (!pageCache.available())
        {
            return "{\"available\": false, \"skip_reason\": " + Report.quote(pageCache.skipReason()) + "}";
        }
        return String.format(Locale.ROOT, "{\"available\": true, \"resident_bytes\": %d, \"copies\": %s, " +
            "\"inodes\": %d, \"elapsed_ms\": %.1f}", pageCache.residentBytes(), copiesJson(pageCache.residentBytes()),
            pageCache.inodes(), pageCache.elapsedNanos() / 1e6);
    }

    private String copiesText(final long bytes)
    {
        final double copies = copies(bytes);
        return Double.isNaN(copies) ? "-" : String.format(Locale.ROOT, "%.2f", copies);
    }

    private String copiesJson(final long bytes)
    {
        final double copies = copies(bytes);
        return Double.isNaN(copies) ? "null" : String.format(Locale.ROOT, "%.4f", copies);
    }

    private static String quoteOrNull(final String text)
    {
        return null == text ? "null" : Report.quote(text);
    }

    /** @return the bytes in MiB, or in KiB below 1 MiB, one decimal; {@code "0 B"} for none. */
    static String size(final long bytes)
    {
        if (0 == bytes)
        {
            return "0 B";
        }
        return Math.abs(bytes) >= MIB ? String.format(Locale.ROOT, "%,.1f MiB", bytes / MIB) :
            String.format(Locale.ROOT, "%,.1f KiB", bytes / KIB);
    }
}
