package org.extentcache.bench.footprint;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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

        final String json = report.json();
        for (final String field : List.of("clones", "image_bytes", "page_size", "ideal_bytes", "caches", "budget"))
        {
            assertTrue(json.contains("\"" + field + "\":"), field + " in " + json);
        }
        assertEquals("4", jsonValue(json, "clones"));
        assertEquals(Long.toString(16L << 20), jsonValue(json, "image_bytes"));
        assertEquals("4096", jsonValue(json, "page_size"));
        for (final String name : List.of("extentcache", "per-file", "caffeine"))
        {
            final Matcher entry = Pattern.compile("\\{\"name\": \"" + name + "\", \"resident_bytes\": \\d+, " +
                "\"reserved_bytes\": \\d+, \"metadata_bytes\": \\d+, .*\"total_bytes\": \\d+, .*\"hit_ratio\": " +
                "[0-9.]+, \"device_reads\": \\d+").matcher(json);
            assertTrue(entry.find(), name + " entry in " + json);
        }
        assertTrue(report.table().contains("extentcache"));
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
        assertEquals("unknown option: --clown", assertThrows(IllegalArgumentException.class,
            () -> FootprintTool.Options.parse(new String[]{"--clown", "3"})).getMessage());
        assertEquals("--clones must be an integer: many", assertThrows(IllegalArgumentException.class,
            () -> FootprintTool.Options.parse(new String[]{"--clones", "many"})).getMessage());
        assertEquals("--divergence must be 0..1: 1.5", assertThrows(IllegalArgumentException.class,
            () -> FootprintTool.Options.parse(new String[]{"--divergence", "1.5"})).getMessage());
        assertEquals("--reads needs a value", assertThrows(IllegalArgumentException.class,
            () -> FootprintTool.Options.parse(new String[]{"--reads"})).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class,
            () -> FootprintTool.Options.parse(new String[]{"--page-size", "6000"})).getMessage().contains("6000"));
    }

    private static String jsonValue(final String json, final String field)
    {
        final Matcher m = Pattern.compile("\"" + field + "\": ([^,\\n}]+)").matcher(json);
        assertTrue(m.find(), field);
        return m.group(1).trim();
    }
}
