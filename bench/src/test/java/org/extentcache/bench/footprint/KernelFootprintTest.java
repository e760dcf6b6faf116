package org.extentcache.bench.footprint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link KernelFootprint}: on a machine that can loop-mount XFS as root, the kernel keeps one copy of the image per
 * file, every file fully resident; elsewhere the measurement is skipped with its reason. Either way nothing is left
 * mounted or on disk.
 */
class KernelFootprintTest
{
    private static final long IMAGE_BYTES = 8L << 20;
    private static final int CLONES = 4;

    @TempDir
    Path workDir;

    @Test
    void theKernelKeepsOneCopyPerFile() throws IOException
    {
        final KernelFootprint.Result result = KernelFootprint.measure(workDir, IMAGE_BYTES, CLONES, 0.05, 42);
        System.out.println("KernelFootprint: " + result);
        try
        {
            Assumptions.assumeTrue(result.available(), () -> "kernel measurement skipped: " + result.skipReason());
            assertNull(result.skipReason());
            assertEquals(IMAGE_BYTES, result.imageBytes());
            assertEquals(CLONES, result.clones());
            final long[] perFile = result.perFileResidentBytes();
            assertEquals(CLONES + 1, perFile.length);
            long sum = 0;
            for (int f = 0; f < perFile.length; f++)
            {
                assertEquals(IMAGE_BYTES, perFile[f], "file " + f + " fully resident: " + result);
                sum += perFile[f];
            }
            assertEquals(sum, result.residentBytes());
            assertEquals((double)sum / IMAGE_BYTES, result.copies(), 1e-9);
            assertTrue(result.copies() >= CLONES + 1 - 0.5, "one copy per file: " + result);
            assertTrue(result.elapsedNanos() > 0);
        }
        finally
        {
            assertLeftNothing();
        }
    }

    @Test
    void rejectsBadArgumentsNamingTheValue()
    {
        final IllegalArgumentException size =
            assertThrows(IllegalArgumentException.class, () -> KernelFootprint.measure(workDir, 4097, 1, 0, 1));
        assertTrue(size.getMessage().endsWith("imageBytes=4097"), size.getMessage());
        final IllegalArgumentException clones =
            assertThrows(IllegalArgumentException.class, () -> KernelFootprint.measure(workDir, 4096, -1, 0, 1));
        assertEquals("clones must be >= 0: clones=-1", clones.getMessage());
        final IllegalArgumentException divergence =
            assertThrows(IllegalArgumentException.class, () -> KernelFootprint.measure(workDir, 4096, 1, 1.5, 1));
        assertEquals("divergence must be from 0 to 1: divergence=1.5", divergence.getMessage());
        assertThrows(IllegalArgumentException.class, () -> KernelFootprint.measure(workDir, 4096, 1, Double.NaN, 1));
        assertThrows(NullPointerException.class, () -> KernelFootprint.measure(null, 4096, 1, 0, 1));
    }

    @Test
    void resultOwnsItsArray()
    {
        final long[] perFile = {1, 2};
        final KernelFootprint.Result result = new KernelFootprint.Result(true, null, 1, 1, 3, perFile, 3, 1);
        perFile[0] = 99;
        result.perFileResidentBytes()[1] = 99;
        assertEquals(1, result.perFileResidentBytes()[0]);
        assertEquals(2, result.perFileResidentBytes()[1]);
        assertEquals(2, result.files());
    }

    private void assertLeftNothing() throws IOException
    {
        assertFalse(Files.readString(Path.of("/proc/self/mountinfo")).contains(workDir.toString()),
            "nothing mounted under " + workDir);
        try (Stream<Path> left = Files.list(workDir))
        {
            assertEquals(0, left.count(), "scratch directory deleted");
        }
    }
}
