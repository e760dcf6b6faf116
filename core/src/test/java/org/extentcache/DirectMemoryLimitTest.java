package org.extentcache;

import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Frames are direct buffers, which the JVM caps at {@code -XX:MaxDirectMemorySize} (by default the heap size): a
 * cache over the cap fails at {@code build()} with a message naming the flag and the numbers, never silently.
 */
class DirectMemoryLimitTest
{
    @Test
    void aCacheOverTheDefaultCapSaysTheCapIsTheHeapSize() throws Exception
    {
        final String output = probe(List.of("-Xmx64m"), 128);
        assertTrue(output.contains("-XX:MaxDirectMemorySize"), output);
        assertTrue(output.contains("maximum heap size"), output);
    }

    @Test
    void aCacheOverAnExplicitCapNamesIt() throws Exception
    {
        final String output = probe(List.of("-Xmx256m", "-XX:MaxDirectMemorySize=32m"), 64);
        assertTrue(output.contains("-XX:MaxDirectMemorySize=32m"), output);
        assertTrue(output.contains("could not reserve"), output);
    }

    private static String probe(final List<String> jvmArgs, final int mib) throws IOException, InterruptedException
    {
        final List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("--add-exports");
        command.add("java.base/jdk.internal.misc=ALL-UNNAMED");
        command.addAll(jvmArgs);
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(Probe.class.getName());
        command.add(Integer.toString(mib));
        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        final String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "probe JVM finished");
        assertEquals(3, process.exitValue(), output);
        return output;
    }

    /** Builds a cache of {@code args[0]} MiB; exits 3 with the error's message if direct memory runs out. */
    public static final class Probe
    {
        private Probe()
        {
        }

        /**
         * @param args the capacity in MiB.
         */
        public static void main(final String[] args)
        {
            final MemoryBlockDevice device = new MemoryBlockDevice(4096, 256);
            try (ExtentStore store = new ExtentStore(device);
                ExtentCache cache = ExtentCache.builder().device(device).translator(store)
                    .capacityBytes((long)Integer.parseInt(args[0]) << 20).build())
            {
                System.out.println("built " + cache.stats().capacityFrames() + " frames");
                System.exit(1);
            }
            catch (final OutOfMemoryError ex)
            {
                System.out.println(ex.getMessage());
                System.exit(3);
            }
        }
    }
}
