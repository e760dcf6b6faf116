package org.extentcache.bench.footprint;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import picocli.CommandLine.ParameterException;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The footprint tool's directory mode: on the default temporary directory (no shared extents) ExtentCache holds each
 * file's pages once and the numbers add up; on a reflink-capable file system named by {@code EXTENTCACHE_REFLINK_DIR}
 * (an XFS with {@code reflink=1}) clones cost ExtentCache nothing and the kernel a copy each; bad input is a usage
 * error.
 */
class DirectoryFootprintTest
{
    private static final int PAGE = 4096;
    private static final String REFLINK_DIR_VARIABLE = "EXTENTCACHE_REFLINK_DIR";

    @Test
    void filesWithoutSharedExtentsNeedOneFramePerPage(@TempDir final Path dir) throws IOException
    {
        final long[] sizes = {5_000, 64 << 10, (1 << 20) + 3};
        final SplittableRandom random = new SplittableRandom(7);
        long pages = 0;
        for (int i = 0; i < sizes.length; i++)
        {
            write(dir.resolve("file-" + i), sizes[i], random);
            pages += (sizes[i] + PAGE - 1) / PAGE;
        }
        Files.createDirectory(dir.resolve("empty-subdirectory"));

        final DirectoryReport report = measure(dir);
        final CacheResult ec = report.extentCache.result();
        System.out.println(report.table());

        assertEquals(3, report.files);
        assertEquals(sizes[0] + sizes[1] + sizes[2], report.logicalBytes);
        assertEquals(pages, report.filePages);
        assertEquals(pages * PAGE, report.ideal.bytes(), "no shared extents: the ideal is every page once");
        assertEquals(pages * PAGE, ec.residentBytes(), "one frame per page of each file: " + ec);
        assertEquals(pages, ec.deviceReads(), "each page read from its file once");
        assertEquals(0, report.extentCache.sharingHits(), "nothing to share");
        assertEquals(0, report.extentCache.reclaims(), "the capacity holds everything read");
        assertTrue(ec.offHeapMetadataBytes() > 0 && ec.heapMetadataBytes() > 0, "metadata is counted: " + ec);
        assertEquals(ec.residentBytes() + ec.offHeapMetadataBytes() + ec.heapMetadataBytes(), ec.totalBytes());
        assertEquals(report.extentCache.filesNotSharing() == 0, null == report.extentCache.notSharingReason());
        // the measured translator's bounce pages and run buffers are left out of the growth (the tool subtracts
        // what the translator says it took); the warm-up translator's (a bounce page and a run buffer) may be freed
        // by their cleaner during the measurement, which only makes the growth smaller
        final long warmUpBuffers = 2 * PAGE + 256 * 1024 + PAGE;
        final long deviation = ec.directPoolBytes() - ec.reservedBytes();
        assertTrue(deviation <= PAGE && deviation >= -warmUpBuffers - PAGE,
            "the JVM's direct pool agrees with what the cache reserved: " + ec);
        if (report.kernel.available())
        {
            assertEquals(3, report.kernel.inodes());
            assertTrue(report.kernel.residentBytes() > 0 && report.kernel.residentBytes() <= pages * PAGE,
                "the kernel holds at most every page once: " + report.kernel);
        }
        else
        {
            System.out.println("kernel figure unavailable: " + report.kernel.skipReason());
        }
        final String table = report.table();
        for (final String row : List.of("extentcache", "kernel", "ideal", "copies"))
        {
            assertTrue(table.contains(row), row + " in " + table);
        }
    }

    @Test
    void mergingHoldsPlainCopiesOnce(@TempDir final Path dir) throws IOException
    {
        final long size = 256L << 10;
        write(dir.resolve("base.img"), size, new SplittableRandom(11));
        for (int i = 1; i <= 3; i++)
        {
            Files.copy(dir.resolve("base.img"), dir.resolve("copy" + i + ".img"));
        }
        final DirectoryReport report = DirectoryFootprint.measure(DirectoryFootprint.scan(dir), PAGE, -1, true, true,
            Progress.quiet());
        final CacheResult ec = report.extentCache.result();
        assertTrue(report.extentCache.merging());
        assertEquals(3 * size / PAGE, report.extentCache.mergedPages(), "three copies alias the first's frames");
        assertEquals(size, ec.residentBytes(), "one frame per distinct page: " + ec);
        assertTrue(report.table().contains("content merging on"), report.table());
        assertTrue(Json.MAPPER.readTree(report.json()).get("extentcache").get("merged_pages").asLong() > 0);
    }

    @Test
    void theJsonCarriesTheDocumentedFields(@TempDir final Path dir) throws IOException
    {
        final SplittableRandom random = new SplittableRandom(11);
        write(dir.resolve("a"), 3 * PAGE, random);
        write(dir.resolve("b"), 20_000, random);
        Files.createDirectories(dir.resolve("sub/deeper"));
        write(dir.resolve("sub/deeper/c"), PAGE + 1, random);

        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final int status = execute(out, err, "--dir", dir.toString(), "--json");
        assertEquals(0, status, () -> err.toString(StandardCharsets.UTF_8));

        final JsonNode json = Json.MAPPER.readTree(out.toString(StandardCharsets.UTF_8));
        assertEquals("directory", json.get("mode").asText());
        assertEquals(dir.toRealPath().toString(), json.get("directory").asText());
        assertEquals(3, json.get("files").asLong(), "recursive: sub/deeper/c counts");
        assertEquals(3L * PAGE + 20_000 + PAGE + 1, json.get("logical_bytes").asLong());
        assertEquals(PAGE, json.get("page_size").asLong());
        final long pages = 3 + 5 + 2;
        final JsonNode ideal = json.get("ideal");
        assertEquals(pages * PAGE, ideal.get("bytes").asLong());
        for (final String field : List.of("physical_bytes", "other_bytes", "file_systems", "extents",
            "files_without_extents", "without_extents_reason"))
        {
            assertTrue(ideal.has(field), field + " in " + ideal);
        }
        final JsonNode ec = json.get("extentcache");
        assertEquals(pages * PAGE, ec.get("resident_bytes").asLong());
        assertEquals(pages, ec.get("device_reads").asLong());
        for (final String field : List.of("reserved_bytes", "capacity_bytes", "metadata_bytes",
            "offheap_metadata_bytes", "heap_metadata_bytes", "total_bytes", "direct_pool_bytes", "copies",
            "sharing_hits", "file_hits", "reclaims", "files_not_sharing", "not_sharing_reason", "elapsed_ms"))
        {
            assertTrue(ec.has(field), field + " in " + ec);
        }
        assertEquals(ec.get("total_bytes").asDouble() / (pages * PAGE), ec.get("copies").asDouble(), 1e-4);
        final JsonNode kernel = json.get("kernel");
        if (kernel.get("available").asBoolean())
        {
            assertEquals(3, kernel.get("inodes").asLong());
            for (final String field : List.of("resident_bytes", "copies", "elapsed_ms"))
            {
                assertTrue(kernel.has(field), field + " in " + kernel);
            }
        }
        else
        {
            assertTrue(kernel.get("skip_reason").isTextual(), kernel.toString());
        }
    }

    @Test
    void aHardLinkIsOneInodeForTheIdealAndTheKernel(@TempDir final Path dir) throws IOException
    {
        write(dir.resolve("file"), 10 * PAGE, new SplittableRandom(3));
        Files.createLink(dir.resolve("link"), dir.resolve("file"));

        final DirectoryReport report = measure(dir);
        assertEquals(2, report.files);
        assertEquals(10L * PAGE, report.ideal.bytes(), "the inode once");
        if (report.kernel.available())
        {
            assertEquals(1, report.kernel.inodes());
            assertTrue(report.kernel.residentBytes() <= 10L * PAGE, report.kernel.toString());
        }
        if (0 == report.extentCache.filesNotSharing())
        {
            assertEquals(10L * PAGE, report.extentCache.result().residentBytes(),
                "keyed by physical block, both names share the frames");
        }
    }

    @Test
    void withoutFiemapAHardLinkedFileIsStillCachedOnce() throws IOException
    {
        final Path shm = Path.of("/dev/shm");
        Assumptions.assumeTrue(Files.isDirectory(shm) && Files.isWritable(shm), "no writable /dev/shm (a tmpfs)");
        final Path dir = Files.createTempDirectory(shm, "directory-footprint-");
        try
        {
            write(dir.resolve("file"), 256 * PAGE, new SplittableRandom(5));
            Files.createLink(dir.resolve("link"), dir.resolve("file"));

            final DirectoryReport report = measure(dir);
            Assumptions.assumeTrue(report.ideal.filesWithoutExtents() > 0,
                "/dev/shm reports extents here, so this is not the case under test");
            assertEquals(1, report.ideal.filesWithoutExtents(), "the inode once");
            assertEquals(256L * PAGE, report.ideal.bytes());
            assertEquals(2, report.extentCache.filesNotSharing());
            assertTrue(report.extentCache.notSharingReason().contains("FIEMAP"),
                report.extentCache.notSharingReason());
            assertEquals(0, report.extentCache.reclaims());
            assertEquals(256L * PAGE, report.extentCache.result().residentBytes(),
                "the translator opens both links as one file");
        }
        finally
        {
            deleteTree(dir);
        }
    }

    @Test
    void reflinkClonesCostExtentCacheNothingAndTheKernelACopyEach() throws IOException
    {
        final String reflinkDir = System.getenv(REFLINK_DIR_VARIABLE);
        Assumptions.assumeTrue(null != reflinkDir && !reflinkDir.isBlank(), () -> REFLINK_DIR_VARIABLE +
            " is not set: set it to a writable directory on a file system with reflink (XFS with reflink=1, btrfs)");
        final String cp = ExternalCommand.locate("cp");
        assertNotNull(cp, ExternalCommand.notFound("cp", "coreutils"));
        final Path dir = Files.createTempDirectory(Path.of(reflinkDir), "directory-footprint-");
        try
        {
            final long imageBytes = 8L << 20;
            write(dir.resolve("base"), imageBytes, new SplittableRandom(42));
            for (int c = 1; c <= 3; c++)
            {
                final ExternalCommand.Output output = ExternalCommand.run(dir.resolve("cp.out"),
                    dir.resolve("cp.err"), cp, "--reflink=always", dir.resolve("base").toString(),
                    dir.resolve("clone-" + c).toString());
                assertTrue(output.ok(), () -> REFLINK_DIR_VARIABLE + "=" + reflinkDir + " cannot clone: " +
                    output.describe());
            }
            Files.delete(dir.resolve("cp.out"));
            Files.delete(dir.resolve("cp.err"));

            final DirectoryReport report = measure(dir);
            System.out.println(report.table());
            final CacheResult ec = report.extentCache.result();
            assertEquals(4, report.files);
            assertEquals(0, report.extentCache.filesNotSharing(), report.extentCache.notSharingReason());
            assertTrue(report.extentCache.directReads());
            assertEquals(0, report.extentCache.filesNotDirect(), "XFS takes O_DIRECT reads");
            assertEquals(imageBytes, report.ideal.bytes(), "one copy of the base on disk");
            assertEquals(imageBytes, ec.residentBytes(), "exactly the base's pages: " + ec);
            assertEquals(imageBytes / PAGE, ec.deviceReads(), "each block read once");
            assertEquals(3 * imageBytes / PAGE, report.extentCache.sharingHits(), "the clones' pages, all shared");
            assertTrue(report.copies(ec.totalBytes()) < 1.05, "ExtentCache near one copy: " + ec);
            Assumptions.assumeTrue(report.kernel.available(),
                () -> "kernel figure unavailable: " + report.kernel.skipReason());
            assertEquals(4, report.kernel.inodes());
            // 4 copies unless this machine's reclaim daemon evicted some pages between the reads and the count.
            assertTrue(report.copies(report.kernel.residentBytes()) > 2, "the kernel keeps a copy per file: " +
                report.kernel);
        }
        finally
        {
            deleteTree(dir);
        }
    }

    @Test
    void badDirectoriesAreUsageErrors(@TempDir final Path dir) throws IOException
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final Path missing = dir.resolve("missing");
        assertEquals(2, execute(out, err, "--dir", missing.toString()));
        assertTrue(err.toString(StandardCharsets.UTF_8).startsWith("error: --dir does not exist: " + missing + "\n"),
            err.toString(StandardCharsets.UTF_8));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("usage: footprint"));

        err.reset();
        Files.createDirectories(dir.resolve("only/subdirectories"));
        Files.createSymbolicLink(dir.resolve("only/link"), dir.resolve("elsewhere"));
        write(dir.resolve("elsewhere"), 100, new SplittableRandom(1));
        assertEquals(2, execute(out, err, "--dir", dir.resolve("only").toString()));
        assertTrue(err.toString(StandardCharsets.UTF_8).startsWith("error: --dir holds no regular file (searched " +
            "recursively, symbolic links not followed): " + dir.resolve("only").toRealPath()),
            err.toString(StandardCharsets.UTF_8));

        err.reset();
        assertEquals(2, execute(out, err, "--dir", dir.resolve("elsewhere").toString()));
        assertTrue(err.toString(StandardCharsets.UTF_8).startsWith("error: --dir is not a directory: "),
            err.toString(StandardCharsets.UTF_8));
        assertEquals(0, out.size(), "nothing measured");
    }

    @Test
    void optionsOfTheBuiltWorkloadAreRejectedWithDir()
    {
        assertEquals("--clones, --kernel do not apply to --dir, which reads the files as they are (--work-dir is " +
            "where the built workload goes)", assertThrows(ParameterException.class,
            () -> FootprintTool.Options.parse(new String[]{"--kernel", "--dir", "/x", "--clones", "3"})).getMessage());
        final FootprintTool.Options options =
            FootprintTool.Options.parse(new String[]{"--dir", "/x", "--page-size", "8192", "--budget-mib", "4"});
        assertEquals(Path.of("/x"), options.dir);
        assertEquals(8192, options.pageSize);
        assertEquals(4L << 20, options.budgetBytes);
    }

    @Test
    void unionBytesCountsOverlapsOnce()
    {
        final List<long[]> ranges = new ArrayList<>(List.of(new long[]{100, 200}, new long[]{0, 50},
            new long[]{150, 300}, new long[]{300, 310}, new long[]{1000, 1001}, new long[]{120, 130}));
        assertEquals(50 + 210 + 1, DirectoryFootprint.unionBytes(ranges));
        assertEquals(0, DirectoryFootprint.unionBytes(new ArrayList<>()));
    }

    @Test
    void fincoreCountsManyFilesInBatches(@TempDir final Path dir) throws IOException
    {
        final String fincore = Fincore.locate();
        Assumptions.assumeTrue(null != fincore, Fincore::notFound);
        final List<Path> files = new ArrayList<>();
        for (int i = 0; i < 70; i++)
        {
            final Path file = dir.resolve("f" + i);
            Files.write(file, new byte[i]);
            files.add(file);
        }
        for (final Path file : files)
        {
            Files.readAllBytes(file);
        }
        final Fincore.Count count = Fincore.residentBytes(fincore, files, dir.resolve("out"), dir.resolve("err"));
        assertTrue(count.ok(), count.failure());
        assertEquals(70, count.bytes().length);
        assertEquals(0, count.bytes()[0], "an empty file holds no page");
        assertTrue(count.total() <= 69L * PAGE, "at most one page per non-empty file: " + count.total());

        final Fincore.Count failed = Fincore.residentBytes(fincore, List.of(dir.resolve("missing")),
            dir.resolve("out"), dir.resolve("err"));
        assertFalse(failed.ok());
        assertTrue(failed.failure().startsWith("fincore failed: "), failed.failure());
    }

    private static DirectoryReport measure(final Path dir) throws IOException
    {
        return DirectoryFootprint.measure(DirectoryFootprint.scan(dir), PAGE, -1, true, Progress.quiet());
    }

    private static int execute(final ByteArrayOutputStream out, final ByteArrayOutputStream err,
        final String... args)
    {
        return FootprintTool.execute(args, new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    private static void write(final Path file, final long size, final SplittableRandom random) throws IOException
    {
        final byte[] bytes = new byte[(int)size];
        for (int i = 0; i < bytes.length; i++)
        {
            bytes[i] = (byte)random.nextInt();
        }
        Files.write(file, bytes);
    }

    private static void deleteTree(final Path root) throws IOException
    {
        try (Stream<Path> walk = Files.walk(root))
        {
            for (final Path path : walk.sorted(Comparator.reverseOrder()).toList())
            {
                Files.delete(path);
            }
        }
    }
}
