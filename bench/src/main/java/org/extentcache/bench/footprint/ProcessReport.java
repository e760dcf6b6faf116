package org.extentcache.bench.footprint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * What {@code --processes N} measured ({@link ProcessFootprint}), as a readable table or a JSON document (schema in
 * README.md). The children's reports are kept as the JSON lines they printed ({@link FootprintClient}).
 */
final class ProcessReport
{
    private static final double MIB = 1 << 20;

    final FootprintTool.Options options;
    final boolean available;
    final String skipReason;
    final Path directory;
    final Path shm;
    final int frames;
    final long allocatedBytes;
    final List<JsonNode> shared;
    final long sharedKernelBeside;
    final List<JsonNode> perJvm;
    final long perJvmKernelBeside;
    final Kernel kernel;

    /**
     * The kernel's page cache over the same files, read once through it.
     *
     * @param available     true if counted.
     * @param skipReason    why not, or null.
     * @param beforeBytes   resident for the files before the kernel's pass (after the two cache passes).
     * @param residentBytes resident after it.
     * @param elapsedNanos  time to read every file once, buffered.
     */
    record Kernel(boolean available, String skipReason, long beforeBytes, long residentBytes, long elapsedNanos)
    {
        static Kernel unavailable(final String reason)
        {
            return new Kernel(false, reason, 0, 0, 0);
        }
    }

    ProcessReport(final FootprintTool.Options options, final boolean available, final String skipReason,
        final Path directory, final Path shm, final int frames, final long allocatedBytes, final List<JsonNode> shared,
        final long sharedKernelBeside, final List<JsonNode> perJvm, final long perJvmKernelBeside, final Kernel kernel)
    {
        this.options = options;
        this.available = available;
        this.skipReason = skipReason;
        this.directory = directory;
        this.shm = shm;
        this.frames = frames;
        this.allocatedBytes = allocatedBytes;
        this.shared = List.copyOf(shared);
        this.sharedKernelBeside = sharedKernelBeside;
        this.perJvm = List.copyOf(perJvm);
        this.perJvmKernelBeside = perJvmKernelBeside;
        this.kernel = kernel;
    }

    static ProcessReport skipped(final FootprintTool.Options options, final String reason)
    {
        return new ProcessReport(options, false, reason, null, null, 0, 0, List.of(), -1, List.of(), -1,
            Kernel.unavailable(reason));
    }

    int files()
    {
        return options.clones + 1;
    }

    private static long sum(final List<JsonNode> reports, final String field)
    {
        long sum = 0;
        for (final JsonNode report : reports)
        {
            sum += report.path(field).asLong();
        }
        return sum;
    }

    /** @return bytes of the shared file before its frames (the same in every client). */
    long sharedMetadataBytes()
    {
        return shared.isEmpty() ? 0 : shared.get(0).path("metadata_bytes").asLong();
    }

    /**
     * @return bytes of the frames READY in the shared file when the last child reported (at most what tmpfs
     *     allocated): the data part of the allocation; the rest is the metadata pages touched.
     */
    long sharedFrameBytes()
    {
        long ready = 0;
        for (final JsonNode client : shared)
        {
            ready = Math.max(ready, client.path("frames_ready").asLong());
        }
        return Math.min(allocatedBytes, ready * options.pageSize);
    }

    /** @return Java heap the shared-cache children retained, summed. */
    long sharedHeapBytes()
    {
        return sum(shared, "heap_retained_bytes");
    }

    /** @return the shared file's allocated bytes plus every child's retained heap. */
    long sharedTotalBytes()
    {
        return allocatedBytes + sharedHeapBytes();
    }

    long perJvmResidentBytes()
    {
        return sum(perJvm, "resident_bytes");
    }

    long perJvmOffHeapMetadataBytes()
    {
        return sum(perJvm, "offheap_metadata_bytes");
    }

    long perJvmHeapBytes()
    {
        return sum(perJvm, "heap_retained_bytes");
    }

    /** @return resident frames, off-heap metadata and retained heap of every per-JVM cache, summed. */
    long perJvmTotalBytes()
    {
        return perJvmResidentBytes() + perJvmOffHeapMetadataBytes() + perJvmHeapBytes();
    }

    private double copies(final long bytes)
    {
        return (double)bytes / options.imageBytes;
    }

    String table()
    {
        final StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, "%nExtentCache footprint across processes: %d JVMs, each reading a " +
            "%,d MiB base and %d cp --reflink clones (%d files) in full, %d-byte pages%n", options.processes,
            options.imageBytes >> 20, options.clones, files(), options.pageSize));
        if (!available)
        {
            return out.append("skipped: ").append(skipReason).append('\n').toString();
        }
        out.append(String.format(Locale.ROOT, "files in %s; shared cache %s, %,d frames%n%n", directory, shm,
            frames));
        out.append(String.format(Locale.ROOT, "%-22s %12s %12s %12s %12s %8s%n", "", "data", "meta off",
            "heap (sum)", "total", "copies"));
        out.append(String.format(Locale.ROOT, "%-22s %8.1f MiB %8.2f MiB %8.2f MiB %8.1f MiB %8.2f%n",
            "one shared cache", sharedFrameBytes() / MIB, (allocatedBytes - sharedFrameBytes()) / MIB,
            sharedHeapBytes() / MIB,
            sharedTotalBytes() / MIB, copies(sharedTotalBytes())));
        out.append(String.format(Locale.ROOT, "%-22s %8.1f MiB %8.2f MiB %8.2f MiB %8.1f MiB %8.2f%n",
            "a cache per JVM", perJvmResidentBytes() / MIB, perJvmOffHeapMetadataBytes() / MIB,
            perJvmHeapBytes() / MIB, perJvmTotalBytes() / MIB, copies(perJvmTotalBytes())));
        if (kernel.available())
        {
            out.append(String.format(Locale.ROOT, "%-22s %8.1f MiB %12s %12s %8.1f MiB %8.2f%n",
                "kernel page cache", kernel.residentBytes() / MIB, "-", "-", kernel.residentBytes() / MIB,
                copies(kernel.residentBytes())));
        }
        else
        {
            out.append(String.format(Locale.ROOT, "%-22s skipped: %s%n", "kernel page cache", kernel.skipReason()));
        }
        out.append(String.format(Locale.ROOT, "%nshared: the file on tmpfs is %,.1f MiB long (%,.2f MiB of " +
            "metadata before the frames) and has %,.1f MiB allocated, counted with stat while all %d clients were " +
            "joined:%n", fileBytes() / MIB, sharedMetadataBytes() / MIB, allocatedBytes / MIB, options.processes));
        for (final JsonNode client : shared)
        {
            out.append(String.format(Locale.ROOT, "  client: heap %.2f MiB (estimate %.2f), %,d loads, %,d " +
                "checked, %,d shared hits, %.2fs%n", client.path("heap_retained_bytes").asLong() / MIB,
                client.path("heap_estimate_bytes").asLong() / MIB, client.path("loads").asLong(),
                client.path("verifications").asLong(), client.path("shared_hits").asLong(),
                client.path("elapsed_ms").asDouble() / 1e3));
        }
        out.append(String.format(Locale.ROOT, "  kernel page cache for the files meanwhile: %s%n",
            besides(sharedKernelBeside)));
        out.append("per JVM: each an ExtentCache over a FileSystemTranslator in its own JVM, all alive at once " +
            "(measured, not multiplied):\n");
        for (final JsonNode client : perJvm)
        {
            out.append(String.format(Locale.ROOT, "  client: %.1f MiB frames, heap %.2f MiB, %,d device reads, " +
                "%.2fs%n",
                client.path("resident_bytes").asLong() / MIB, client.path("heap_retained_bytes").asLong() / MIB,
                client.path("device_reads").asLong(), client.path("elapsed_ms").asDouble() / 1e3));
        }
        out.append(String.format(Locale.ROOT, "  kernel page cache for the files meanwhile: %s%n",
            besides(perJvmKernelBeside)));
        if (kernel.available())
        {
            out.append(String.format(Locale.ROOT, "kernel: every file read once through the page cache by this " +
                "process (N readers share its pages: the same figure), fincore: %s before, %.1f MiB after%n",
                besides(kernel.beforeBytes()), kernel.residentBytes() / MIB));
        }
        out.append(String.format(Locale.ROOT, "%nshared / per JVM = %.3f%n", (double)sharedTotalBytes() /
            perJvmTotalBytes()));
        out.append(String.format(Locale.ROOT, "%nMemory: data = frames holding data (per JVM: resident frames " +
            "summed); meta off = the rest of what tmpfs%nallocated for the shared file (its metadata pages touched), " +
            "or each cache's frame records and device index;%nheap = Java heap each child retained after GC, " +
            "against a baseline taken before its cache, summed.%n\"checked\" = frames a client read through its " +
            "own file to vouch for (frames%nanother client loaded); a clone opened later trusts them after one " +
            "extent read of the file that vouched.%n"));
        return out.toString();
    }

    private long fileBytes()
    {
        return shared.isEmpty() ? 0 : shared.get(0).path("file_bytes").asLong();
    }

    private static String besides(final long bytes)
    {
        return bytes < 0 ? "not counted (no fincore)" : String.format(Locale.ROOT, "%.1f MiB", bytes / MIB);
    }

    String json()
    {
        return Json.write(tree());
    }

    /** @return the document README.md describes, field for field. */
    ObjectNode tree()
    {
        final ObjectNode root = Json.object();
        root.put("mode", "processes");
        root.put("available", available);
        root.put("processes", options.processes);
        root.put("clones", options.clones);
        root.put("files", files());
        root.put("image_bytes", options.imageBytes);
        root.put("page_size", options.pageSize);
        if (!available)
        {
            root.put("skip_reason", skipReason);
            return root;
        }
        root.put("frames", frames);
        final ObjectNode s = root.putObject("shared");
        s.put("allocated_bytes", allocatedBytes);
        s.put("frame_bytes", sharedFrameBytes());
        s.put("file_bytes", fileBytes());
        s.put("metadata_bytes", sharedMetadataBytes());
        s.put("heap_retained_bytes", sharedHeapBytes());
        s.put("direct_pool_bytes", sum(shared, "direct_pool_bytes"));
        s.put("total_bytes", sharedTotalBytes());
        s.put("copies", Json.round(copies(sharedTotalBytes()), 4));
        s.put("kernel_beside_bytes", sharedKernelBeside);
        clients(s.putArray("clients"), shared);
        final ObjectNode p = root.putObject("per_jvm");
        p.put("resident_bytes", perJvmResidentBytes());
        p.put("offheap_metadata_bytes", perJvmOffHeapMetadataBytes());
        p.put("heap_retained_bytes", perJvmHeapBytes());
        p.put("direct_pool_bytes", sum(perJvm, "direct_pool_bytes"));
        p.put("total_bytes", perJvmTotalBytes());
        p.put("copies", Json.round(copies(perJvmTotalBytes()), 4));
        p.put("kernel_beside_bytes", perJvmKernelBeside);
        clients(p.putArray("clients"), perJvm);
        final ObjectNode k = root.putObject("kernel");
        k.put("available", kernel.available());
        if (kernel.available())
        {
            k.put("before_bytes", kernel.beforeBytes());
            k.put("resident_bytes", kernel.residentBytes());
            k.put("copies", Json.round(copies(kernel.residentBytes()), 4));
            k.put("elapsed_ms", Json.round(kernel.elapsedNanos() / 1e6, 1));
        }
        else
        {
            k.put("skip_reason", kernel.skipReason());
        }
        root.put("shared_vs_per_jvm", Json.round((double)sharedTotalBytes() / perJvmTotalBytes(), 4));
        return root;
    }

    private static void clients(final ArrayNode array, final List<JsonNode> reports)
    {
        for (final JsonNode report : reports)
        {
            array.add(report);
        }
    }
}
