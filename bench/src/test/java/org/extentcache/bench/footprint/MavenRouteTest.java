package org.extentcache.bench.footprint;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The footprint tool run through Maven ({@code mvn -q -B -Pfootprint -DskipTests verify}) shows only what the tool
 * writes. Two things in Maven 3.8 would add to it, and the project's {@code .mvn/jvm.config} turns both off; running
 * Maven from a test is too slow for the build, so this test pins the two settings and says why each is there.
 * <ul>
 *   <li>{@code -Djansi.noreset=true}: Maven's jansi writes a reset code, {@code ESC[0m}, to stdout when it installs
 *       its console stream (before any project is read, so a {@code -D} on the command line is too late for it) and
 *       when it uninstalls it. With {@code -q} that is the first and last thing on stdout, around the tool's
 *       {@code --json} document, and a JSON parser rejects it.</li>
 *   <li>{@code -Dorg.slf4j.simpleLogger.log.org.codehaus.mojo.exec.ExecMojo=off}: when the tool exits non-zero,
 *       exec-maven-plugin logs "Command execution failed." with the {@code ExecuteException}'s stack trace at ERROR
 *       level, below the tool's own message. With that logger off, the tool's message is the last thing before
 *       Maven's one-line "Failed to execute goal ... Exit value: 2", and the build still fails.</li>
 * </ul>
 * And the tool needs the terminal itself for its progress bar: bench's pom runs it with {@code inheritIo}, which
 * exec-maven-plugin 3.5.1 honours only with commons-exec 1.4.0 (with the 1.5.0 it brings, the tool gets pipes).
 */
class MavenRouteTest
{
    @Test
    void mavensJvmConfigTurnsOffJansisResetCodesAndExecMojosStackTrace() throws IOException
    {
        final Path config = Path.of(System.getProperty("user.dir")).resolve("../.mvn/jvm.config").normalize();
        assertTrue(Files.isRegularFile(config), config + " exists (tests run in the bench module's directory)");
        final List<String> options = List.of(Files.readString(config, StandardCharsets.UTF_8).trim().split("\\s+"));
        assertTrue(options.contains("-Djansi.noreset=true"), "no ESC[0m around --json: " + options);
        assertTrue(options.contains("-Dorg.slf4j.simpleLogger.log.org.codehaus.mojo.exec.ExecMojo=off"),
            "no exec plugin stack trace after a usage error: " + options);
    }

    @Test
    void theFootprintProfileInheritsTheTerminalWithCommonsExec140() throws IOException
    {
        final String pom = Files.readString(Path.of(System.getProperty("user.dir")).resolve("pom.xml"),
            StandardCharsets.UTF_8);
        final String profile = pom.substring(pom.indexOf("<id>footprint</id>"), pom.indexOf("<id>jmh</id>"));
        assertTrue(profile.contains("<inheritIo>true</inheritIo>"), profile);
        assertTrue(profile.contains("<artifactId>commons-exec</artifactId>\n                <version>1.4.0</version>"),
            "commons-exec pinned to 1.4.0 in the footprint profile's exec plugin: " + profile);
    }
}
