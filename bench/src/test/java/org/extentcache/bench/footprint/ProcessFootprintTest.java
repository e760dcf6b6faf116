package org.extentcache.bench.footprint;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import picocli.CommandLine.ParameterException;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The footprint tool's {@code --processes N} mode: two child JVMs reading a small base and two {@code cp --reflink}
 * clones through one shared cache hold one copy, less than two JVMs with a cache each; the JSON carries the
 * documented fields. Needs a directory on a file system with reflink in {@code EXTENTCACHE_REFLINK_DIR} and skips
 * without it.
 */
class ProcessFootprintTest
{
    private static final long MIB = 1L << 20;

    @Test
    void twoJvmsThroughOneSharedCacheHoldOneCopy() throws IOException
    {
        final String reflinkDir = System.getenv(ProcessFootprint.REFLINK_DIR_VARIABLE);
        Assumptions.assumeTrue(null != reflinkDir && !reflinkDir.isBlank(), () ->
            ProcessFootprint.REFLINK_DIR_VARIABLE + " is not set: set it to a writable directory on a file system " +
            "with reflink (XFS with reflink=1, btrfs) to run --processes");
        Assumptions.assumeTrue(Files.isDirectory(Path.of("/dev/shm")), "no /dev/shm for the shared cache");
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final int status = FootprintTool.execute(new String[]{"--processes", "2", "--image-mib", "4", "--clones",
            "2", "--work-dir", reflinkDir, "--json"}, print(out), print(err));
        assertEquals(0, status, () -> err.toString(StandardCharsets.UTF_8));
        final String text = out.toString(StandardCharsets.UTF_8);
        System.out.println(text);
        final JsonNode json = Json.MAPPER.readTree(text);
        assertTrue(json.get("available").asBoolean(), () -> json.path("skip_reason").asText());
        assertEquals("processes", json.get("mode").asText());
        assertEquals(2, json.get("processes").asInt());
        assertEquals(3, json.get("files").asInt());
        assertEquals(4 * MIB, json.get("image_bytes").asLong());

        final JsonNode shared = json.get("shared");
        assertEquals(2, shared.get("clients").size());
        final long allocated = shared.get("allocated_bytes").asLong();
        assertTrue(allocated >= 4 * MIB && allocated <= 4 * MIB + shared.get("metadata_bytes").asLong(),
            "tmpfs holds the base's frames once, plus at most the metadata: " + shared);
        assertEquals(4 * MIB, shared.get("frame_bytes").asLong(), "every block of the base, once");
        assertEquals(allocated + shared.get("heap_retained_bytes").asLong(), shared.get("total_bytes").asLong());
        long loads = 0;
        for (final JsonNode client : shared.get("clients"))
        {
            assertTrue(client.get("heap_retained_bytes").asLong() > 0, client::toString);
            assertEquals(0, client.get("files_not_sharing").asInt(), client::toString);
            assertEquals(0, client.get("files_not_direct").asInt(), "the reflink file system takes O_DIRECT");
            assertEquals(0, client.get("verification_misses").asLong(), client::toString);
            loads += client.get("loads").asLong();
        }
        assertEquals(4 * MIB / 4096, loads, "each block loaded once, by one client or the other");

        final JsonNode perJvm = json.get("per_jvm");
        assertEquals(2, perJvm.get("clients").size());
        assertEquals(2 * 4 * MIB, perJvm.get("resident_bytes").asLong(), "a copy of the base in each JVM");
        assertEquals(perJvm.get("resident_bytes").asLong() + perJvm.get("offheap_metadata_bytes").asLong() +
            perJvm.get("heap_retained_bytes").asLong(), perJvm.get("total_bytes").asLong());
        assertTrue(shared.get("total_bytes").asLong() < perJvm.get("total_bytes").asLong(),
            "one shared cache holds less than a cache per JVM: " + shared.get("total_bytes") + " vs " +
            perJvm.get("total_bytes"));
        assertTrue(json.get("shared_vs_per_jvm").asDouble() < 0.7, json::toString);

        final JsonNode kernel = json.get("kernel");
        if (kernel.get("available").asBoolean())
        {
            assertTrue(kernel.get("resident_bytes").asLong() <= 3 * 4 * MIB, kernel::toString);
        }
        assertFalse(text.contains("\u001b"), "no escapes in the document");
        assertEquals(0, err.size(), "no progress bar with --json");
    }

    @Test
    void optionsOfTheBuiltWorkloadAreRejected()
    {
        final String message = assertThrows(ParameterException.class, () -> FootprintTool.Options.parse(
            new String[]{"--processes", "2", "--divergence", "0.1", "--kernel"})).getMessage();
        assertTrue(message.startsWith("--divergence, --kernel do not apply to --processes"), message);
        assertEquals("--processes must be 1..64: 0", assertThrows(ParameterException.class,
            () -> FootprintTool.Options.parse(new String[]{"--processes", "0"})).getMessage());
        assertTrue(assertThrows(ParameterException.class, () -> FootprintTool.Options.parse(new String[]{"--dir",
            "/tmp", "--processes", "2"})).getMessage().contains("--processes"));
    }

    private static PrintStream print(final ByteArrayOutputStream bytes)
    {
        return new PrintStream(bytes, true, StandardCharsets.UTF_8);
    }
}
