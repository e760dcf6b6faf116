package org.extentcache.bench.footprint;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The external commands the kernel measurements run ({@code fincore}, {@code mkfs.xfs}, {@code mount}, ...): found by
 * name on the {@code PATH} or in the usual {@code sbin}/{@code bin} directories, started with an argument list (no
 * shell), {@code LC_ALL=C}, standard input from {@code /dev/null}, output to files the caller names (no pipes to
 * drain), and a {@value #TIMEOUT_SECONDS} s timeout.
 *
 * <p><b>Thread safety:</b> stateless; concurrent calls must name different output files.
 */
final class ExternalCommand
{
    /** Longest any external command may run. */
    static final long TIMEOUT_SECONDS = 120;

    /** Directories searched after the {@code PATH}: root's tools are often not on a user's {@code PATH}. */
    static final List<String> SYSTEM_DIRECTORIES =
        List.of("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin");

    private static final int MAX_MESSAGE_CHARS = 2000;

    private ExternalCommand()
    {
    }

    /**
     * Finds an executable by name.
     *
     * @param name the command, e.g. {@code "fincore"}.
     * @return its absolute path, or null if no executable of that name is on the {@code PATH} or in
     *         {@link #SYSTEM_DIRECTORIES}.
     */
    static String locate(final String name)
    {
        final List<String> directories = new ArrayList<>();
        final String path = System.getenv("PATH");
        if (null != path)
        {
            directories.addAll(Arrays.asList(path.split(":")));
        }
        directories.addAll(SYSTEM_DIRECTORIES);
        for (final String directory : directories)
        {
            if (directory.isEmpty())
            {
                continue;
            }
            final Path candidate = Path.of(directory, name);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate))
            {
                return candidate.toString();
            }
        }
        return null;
    }

    /**
     * @param name    the command.
     * @param pkg     the package that provides it, e.g. {@code "util-linux >= 2.30"}.
     * @return why {@link #locate} found nothing, naming the package and where it looked.
     */
    static String notFound(final String name, final String pkg)
    {
        return name + " (" + pkg + ") not found on the PATH or in " + SYSTEM_DIRECTORIES;
    }

    /**
     * Runs a command without a shell and waits for it, at most {@value #TIMEOUT_SECONDS} s (then it is killed).
     *
     * @param stdoutFile where its standard output goes (created or truncated), read back into the result.
     * @param stderrFile where its standard error goes (created or truncated), read back into the result.
     * @param args       the executable (an absolute path from {@link #locate}) and its arguments.
     * @return what it did; exit code -1 if it could not start or timed out.
     * @throws InterruptedIOException if the thread was interrupted while waiting (the command is killed and the
     *                                interrupt kept).
     * @throws IOException            if the output files cannot be read.
     */
    static Output run(final Path stdoutFile, final Path stderrFile, final String... args) throws IOException
    {
        final List<String> command = List.of(args);
        final ProcessBuilder builder = new ProcessBuilder(command)
            .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
            .redirectOutput(stdoutFile.toFile())
            .redirectError(stderrFile.toFile());
        builder.environment().put("LC_ALL", "C");
        final Process process;
        try
        {
            process = builder.start();
        }
        catch (final IOException ex)
        {
            return new Output(command, -1, "", "cannot start: " + ex.getMessage());
        }
        try
        {
            if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS))
            {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
                return new Output(command, -1, read(stdoutFile),
                    "timed out after " + TIMEOUT_SECONDS + " s; " + read(stderrFile));
            }
        }
        catch (final InterruptedException ex)
        {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            final InterruptedIOException interrupted =
                new InterruptedIOException("interrupted while running " + String.join(" ", command));
            interrupted.initCause(ex);
            throw interrupted;
        }
        return new Output(command, process.exitValue(), read(stdoutFile), read(stderrFile));
    }

    private static String read(final Path file) throws IOException
    {
        return Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
    }

    /**
     * What one external command did.
     *
     * @param command  the command and its arguments.
     * @param exitCode its exit code; -1 if it could not start or did not finish in time.
     * @param stdout   what it wrote to standard output.
     * @param stderr   what it wrote to standard error, or why it did not run.
     */
    record Output(List<String> command, int exitCode, String stdout, String stderr)
    {
        /**
         * @return true if it exited 0.
         */
        boolean ok()
        {
            return 0 == exitCode;
        }

        /**
         * @return the command, its exit code and what it said (each cut to 2000 characters), for a skip reason or
         *         an exception message.
         */
        String describe()
        {
            return "'" + shorten(String.join(" ", command)) + "' " +
                (exitCode < 0 ? "did not finish" : "exited " + exitCode) + ": " +
                shorten((stderr.isBlank() ? stdout : stderr).strip());
        }

        private static String shorten(final String text)
        {
            return text.length() > MAX_MESSAGE_CHARS ? text.substring(0, MAX_MESSAGE_CHARS) + "..." : text;
        }
    }
}
