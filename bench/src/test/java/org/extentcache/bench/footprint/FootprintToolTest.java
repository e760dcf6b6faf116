package org.extentcache.bench.footprint;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import picocli.CommandLine.ParameterException;

import static org.junit.jupiter.api.Assertions.*;

/** The footprint tool at small sizes: its JSON carries the documented fields, and the numbers keep the invariants. */
class FootprintToolTest
{
    private static FootprintTool.Options small(final Path dir, final String... extra)
    {
        final String[] base = {"--image-mib", "16", "--clones", "4", "--divergence", "0.05", "--reads", "20000",
            "--work-dir", dir.toString()};
        final String[] args = new String[base.length + extra.length];
        System.arraycopy(base, 0, args, 0, base.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        return FootprintTool.Options.parse(args);
    }

    @Test
    void sharedCachingNeedsAboutTheIdealAndTheBaselinesNeedACopyPerFile(@TempDir final Path dir) throws IOException
    {
        final Report report = FootprintTool.run(small(dir), 4, true, Progress.quiet());
        final CacheResult shared = report.unbounded("extentcache");
        final CacheResult perFile = report.unbounded("per-file");
        final CacheResult caffeine = report.unbounded("caffeine");
        final double ideal = report.idealBytes();

        assertEquals(4096L + 4 * 205, report.distinctPages, "pages of the base plus 5% of each clone");
        assertTrue(Math.abs(shared.totalBytes() - ideal) <= 0.03 * ideal,
            "ExtentCache total " + shared.totalBytes() + " within 3% of the ideal " + ideal);
        assertEquals(report.distinctPages * 4096, shared.residentBytes(), "one frame per distinct block");
        assertEquals(report.distinctPages, shared.deviceReads(), "each distinct block read once");
        for (final CacheResult r : report.unbounded)
        {
            assertEquals(r.operations() - r.deviceReads(), r.hits(),
                r.name() + ": every page read is a hit or a device read, counted once (fault-around included)");
            assertTrue(r.hitRatio() <= 1.0, r.toString());
        }
        final double idealRatio = (double)report.filePages / report.distinctPages;
        for (final CacheResult baseline : List.of(perFile, caffeine))
        {
            assertEquals(report.filePages * 4096, baseline.residentBytes(), baseline.name() + ": one copy per file");
            assertTrue(baseline.totalBytes() >= 0.95 * idealRatio * shared.totalBytes(),
                baseline.name() + " total " + baseline.totalBytes() + " vs ExtentCache " + shared.totalBytes());
        }
        assertTrue(shared.reservedBytes() <= shared.directPoolBytes() + 4096 &&
            shared.directPoolBytes() <= shared.reservedBytes() + 4096,
            "the JVM's direct pool agrees with what ExtentCache reserved: " + shared);

        for (int i = 0; i < report.budgeted.size(); i++)
        {
            final CacheResult budgeted = report.budgeted.get(i);
            assertTrue(budgeted.residentBytes() <= report.budgetBytes, budgeted.toString());
        }
        final CacheResult sharedAtBudget = report.budgeted.get(0);
        for (final CacheResult other : report.budgeted.subList(1, 3))
        {
            assertTrue(sharedAtBudget.hitRatio() > other.hitRatio(), sharedAtBudget + " vs " + other);
            assertTrue(sharedAtBudget.deviceReads() < other.deviceReads(), sharedAtBudget + " vs " + other);
        }

        final JsonNode json = Json.MAPPER.readTree(report.json());
        for (final String field : List.of("clones", "image_bytes", "page_size", "divergence", "operations",
            "distinct_pages", "file_pages", "ideal_bytes", "caches", "budget", "kernel"))
        {
            assertTrue(json.has(field), field + " in " + json);
        }
        assertEquals(4, json.get("clones").asInt());
        assertEquals(16L << 20, json.get("image_bytes").asLong());
        assertEquals(4096, json.get("page_size").asInt());
        assertEquals(report.idealBytes(), json.get("ideal_bytes").asLong());
        assertEquals(report.budgetBytes, json.get("budget").get("budget_bytes").asLong());
        assertEquals(3, json.get("budget").get("caches").size());
        final List<String> names = List.of("extentcache", "per-file", "caffeine");
        for (int i = 0; i < names.size(); i++)
        {
            final JsonNode entry = json.get("caches").get(i);
            assertEquals(names.get(i), entry.get("name").asText());
            for (final String field : List.of("resident_bytes", "reserved_bytes", "metadata_bytes",
                "offheap_metadata_bytes", "heap_metadata_bytes", "total_bytes", "direct_pool_bytes", "hit_ratio",
                "device_reads", "operations", "elapsed_ms", "reads_per_second"))
            {
                assertTrue(entry.get(field).isNumber(), field + " in " + entry);
            }
            assertEquals(report.unbounded.get(i).totalBytes(), entry.get("total_bytes").asLong());
            assertEquals(report.unbounded.get(i).hitRatio(), entry.get("hit_ratio").asDouble(), 1e-6);
        }
        assertTrue(report.table().contains("extentcache"));
    }

    @Test
    void plainCopiesNeedACopyEachUnlessMergingFindsThem(@TempDir final Path dir) throws IOException
    {
        final Report report = FootprintTool.run(small(dir, "--copies", "--merge"), 4, false, Progress.quiet());
        final CacheResult plain = report.unbounded("extentcache");
        final CacheResult merged = report.unbounded("extentcache-merge");
        final CacheResult perFile = report.unbounded("per-file");

        assertEquals(4096L + 4 * 205, report.distinctPages, "contents: the base plus 5% of each copy");
        assertEquals(5L * 4096, report.physicalPages, "blocks: every copy's own");
        assertEquals(report.physicalPages * 4096, plain.residentBytes(), "without merging, one frame per block");
        assertEquals(report.filePages * 4096, perFile.residentBytes(), "per file: one copy per file");
        assertEquals(report.distinctPages * 4096, merged.residentBytes(), "merging: one frame per distinct content");
        assertEquals(report.physicalPages, merged.deviceReads(), "merging reads every block once, then frees");
        final double contentIdeal = report.contentIdealBytes();
        assertTrue(merged.totalBytes() <= 1.08 * contentIdeal,
            "with merging, total " + merged.totalBytes() + " within 8% of the content ideal " + contentIdeal);
        assertTrue(plain.totalBytes() >= 0.95 * report.idealBytes(), "without merging, about the block ideal");
        final JsonNode json = Json.MAPPER.readTree(report.json());
        assertTrue(json.get("copies").asBoolean());
        assertEquals(report.contentIdealBytes(), json.get("content_ideal_bytes").asLong());
        assertEquals(report.physicalPages, json.get("physical_pages").asLong());
        assertTrue(report.table().contains("ideal by content"), report.table());
    }

    @Test
    void aSweepWritesACsvAndAChart(@TempDir final Path dir) throws IOException
    {
        final FootprintTool.Options options = small(dir, "--image-mib", "4", "--reads", "1000", "--sweep", "1,2",
            "--out", dir.resolve("out").toString());
        final Report one = FootprintTool.run(options, 1, false, Progress.quiet());
        final Report two = FootprintTool.run(options, 2, false, Progress.quiet());
        final Path png = dir.resolve("chart.png");
        SweepChart.write(List.of(one, two), png);
        final BufferedImage image = ImageIO.read(png.toFile());
        assertEquals(900, image.getWidth());
        final String csv = Report.sweepCsv(List.of(one, two));
        assertTrue(csv.startsWith("clones,extentcache_total_bytes,per-file_total_bytes,caffeine_total_bytes,"), csv);
        assertEquals(3, csv.split("\n").length);
        assertTrue(Files.size(png) > 1000);
    }

    @Test
    void badFlagsAreRejectedWithAMessage()
    {
        assertTrue(rejected("--clown", "3").contains("--clown"));
        assertTrue(rejected("--clones", "many").contains("'many'"));
        assertEquals("--divergence must be 0..1: 1.5", rejected("--divergence", "1.5"));
        assertEquals("--clones must be 0..4096: 5000", rejected("--clones", "5000"));
        assertEquals("--sweep must be 0..4096: -1", rejected("--sweep", "1,-1"));
        assertTrue(rejected("--reads").contains("--reads"));
        assertTrue(rejected("--page-size", "6000").contains("6000"));
        assertEquals("--buffered-reads applies to --dir only", rejected("--buffered-reads"));
    }

    @Test
    void usageErrorsExitTwoWithTheMessageAndTheUsage()
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(2, FootprintTool.execute(new String[]{"--clones", "many"}, print(out), print(err)));
        final String message = err.toString(StandardCharsets.UTF_8);
        assertTrue(message.startsWith("error: "), message);
        assertTrue(message.contains("usage: footprint"), message);
        assertEquals(0, out.size());

        err.reset();
        assertEquals(0, FootprintTool.execute(new String[]{"--help"}, print(out), print(err)));
        assertTrue(out.toString(StandardCharsets.UTF_8).startsWith("usage: footprint"));
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("--sweep"));
        assertEquals(0, err.size());
    }

    @Test
    void jsonOnStdoutIsOneCleanDocument(@TempDir final Path dir) throws IOException
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final int status = FootprintTool.execute(new String[]{"--image-mib", "4", "--clones", "2", "--reads", "1000",
            "--work-dir", dir.toString(), "--json"}, print(out), print(err));
        assertEquals(0, status, () -> err.toString(StandardCharsets.UTF_8));
        final String text = out.toString(StandardCharsets.UTF_8);
        assertEquals('{', text.charAt(0), "no escape or banner before the document");
        assertFalse(text.contains("\u001b") || text.indexOf(0x1b) >= 0, "no ANSI escapes");
        final JsonNode json = Json.MAPPER.readTree(text);
        assertEquals(2, json.get("clones").asInt());
        assertEquals(3, json.get("caches").size());
        assertEquals(0, err.size(), "no progress bar with --json");
    }

    private static String rejected(final String... args)
    {
        return assertThrows(ParameterException.class, () -> FootprintTool.Options.parse(args)).getMessage();
    }

    private static PrintStream print(final ByteArrayOutputStream bytes)
    {
        return new PrintStream(bytes, true, StandardCharsets.UTF_8);
    }
}
