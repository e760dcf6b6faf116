package org.extentcache.bench.footprint;

import com.fasterxml.jackson.databind.node.ObjectNode;

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
        long reachableBytes, long residentAfterCloseBytes, long reachableAfterCloseBytes, boolean merging,
        long mergedPages, long mergeMismatches)
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
        if (0 == extentCache.filesNotSharing() && ideal.bytes() < filePages * pageSize)
        {
            out.append(String.format(Locale.ROOT, "every file keyed by physical block (can share)%n"));
        }
        else if (0 == extentCache.filesNotSharing())
        {
            out.append(String.format(Locale.ROOT, "every file keyed by physical block, but no two files share one " +
                "here (plain copies, or a file system without reflink): nothing to share by block%s%n",
                extentCache.merging() ? "" : "; --merge finds identical pages by content"));
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
        if (extentCache.merging())
        {
            out.append(String.format(Locale.ROOT, "  content merging on: %,d pages are aliases of a frame with the " +
                "same bytes (%s saved), %,d hash matches whose bytes differed%n", extentCache.mergedPages(),
                size(extentCache.mergedPages() * pageSize), extentCache.mergeMismatches()));
        }
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
        final ObjectNode root = Json.object();
        root.put("mode", "directory");
        root.put("directory", directory.toString());
        root.put("files", files);
        root.put("logical_bytes", logicalBytes);
        root.put("file_pages", filePages);
        root.put("page_size", pageSize);
        final ObjectNode i = root.putObject("ideal");
        i.put("bytes", ideal.bytes());
        i.put("physical_bytes", ideal.physicalBytes());
        i.put("other_bytes", ideal.otherBytes());
        i.put("file_systems", ideal.fileSystems());
        i.put("extents", ideal.extents());
        i.put("files_without_extents", ideal.filesWithoutExtents());
        i.put("without_extents_reason", ideal.withoutExtentsReason());
        final ObjectNode e = root.putObject("extentcache");
        e.put("resident_bytes", ec.residentBytes());
        e.put("reserved_bytes", ec.reservedBytes());
        e.put("capacity_bytes", extentCache.capacityBytes());
        e.put("metadata_bytes", ec.metadataBytes());
        e.put("offheap_metadata_bytes", ec.offHeapMetadataBytes());
        e.put("heap_metadata_bytes", ec.heapMetadataBytes());
        e.put("total_bytes", ec.totalBytes());
        e.put("direct_pool_bytes", ec.directPoolBytes());
        putCopies(e, ec.totalBytes());
        e.put("device_reads", ec.deviceReads());
        e.put("sharing_hits", extentCache.sharingHits());
        e.put("file_hits", extentCache.fileHits());
        e.put("reclaims", extentCache.reclaims());
        e.put("files_not_sharing", extentCache.filesNotSharing());
        e.put("not_sharing_reason", extentCache.notSharingReason());
        e.put("direct_reads", extentCache.directReads());
        e.put("files_not_direct", extentCache.filesNotDirect());
        e.put("kernel_beside_bytes", extentCache.kernelBeside());
        e.put("reachable_bytes", extentCache.reachableBytes());
        e.put("resident_after_close_bytes", extentCache.residentAfterCloseBytes());
        e.put("reachable_after_close_bytes", extentCache.reachableAfterCloseBytes());
        e.put("merging", extentCache.merging());
        e.put("merged_pages", extentCache.mergedPages());
        e.put("merge_mismatches", extentCache.mergeMismatches());
        e.put("elapsed_ms", Json.round(ec.elapsedNanos() / 1e6, 1));
        final ObjectNode k = root.putObject("kernel");
        k.put("available", kernel.available());
        if (kernel.available())
        {
            k.put("resident_bytes", kernel.residentBytes());
            putCopies(k, kernel.residentBytes());
            k.put("inodes", kernel.inodes());
            k.put("elapsed_ms", Json.round(kernel.elapsedNanos() / 1e6, 1));
        }
        else
        {
            k.put("skip_reason", kernel.skipReason());
        }
        return Json.write(root);
    }

    private String copiesText(final long bytes)
    {
        final double copies = copies(bytes);
        return Double.isNaN(copies) ? "-" : String.format(Locale.ROOT, "%.2f", copies);
    }

    /** {@code copies} rounded to 4 decimals, or null when there is no ideal to divide by. */
    private void putCopies(final ObjectNode node, final long bytes)
    {
        final double copies = copies(bytes);
        if (Double.isNaN(copies))
        {
            node.putNull("copies");
        }
        else
        {
            node.put("copies", Json.round(copies, 4));
        }
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
