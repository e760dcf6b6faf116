package org.extentcache;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

class JvmFlagsTest
{
    @Test
    void theRequiredFlagsComeFromTheBuild()
    {
        final String flags = JvmFlags.required();
        assertTrue(flags.contains("--add-exports java.base/jdk.internal.misc=ALL-UNNAMED"), flags);
        assertEquals("--add-exports java.base/jdk.internal.misc=ALL-UNNAMED", flags, "one flag, and only one");
        JvmFlags.requireAccess();
    }

    /** A JVM started without the flags gets a message naming them, not an IllegalAccessError. */
    @Test
    void aJvmWithoutTheFlagsIsToldWhichFlagsToAdd() throws IOException, InterruptedException
    {
        final String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        final Process process = new ProcessBuilder(List.of(
            java, "-cp", System.getProperty("java.class.path"), Probe.class.getName()))
            .redirectErrorStream(true)
            .start();
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "probe JVM finished");
        final String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(3, process.exitValue(), output);
        assertTrue(output.contains("IllegalStateException"), output);
        assertTrue(output.contains("--add-exports java.base/jdk.internal.misc=ALL-UNNAMED"), output);
    }

    /**
     * With Agrona on the module path, {@code ALL-UNNAMED} would not reach it: the message names Agrona's module.
     */
    @Test
    void onTheModulePathTheMessageNamesAgronasModule() throws IOException, InterruptedException
    {
        final String javaCommand = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        final String agrona = Path.of(org.agrona.UnsafeApi.class.getProtectionDomain().getCodeSource().getLocation()
            .getPath()).toString();
        final String classPath = String.join(java.io.File.pathSeparator, java.util.Arrays.stream(
            System.getProperty("java.class.path").split(java.io.File.pathSeparator))
            .filter(entry -> !Path.of(entry).toString().equals(agrona)).toArray(String[]::new));
        final Process process = new ProcessBuilder(List.of(javaCommand, "--module-path", agrona, "--add-modules",
            "org.agrona", "-cp", classPath, Probe.class.getName()))
            .redirectErrorStream(true)
            .start();
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "probe JVM finished");
        final String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(3, process.exitValue(), output);
        assertTrue(output.contains("--add-exports java.base/jdk.internal.misc=org.agrona") && !output.contains("ALL-UNNAMED"),
            output);
    }

    /** Run in a JVM without the flags. */
    public static final class Probe
    {
        private Probe()
        {
        }

        /**
         * @param args unused.
         */
        public static void main(final String[] args)
        {
            try
            {
                ExtentCache.builder().build();
                System.out.println("built without flags?");
                System.exit(1);
            }
            catch (final IllegalStateException ex)
            {
                System.out.println(ex);
                System.exit(3);
            }
            catch (final Throwable ex)
            {
                ex.printStackTrace(System.out);
                System.exit(2);
            }
        }
    }
}
