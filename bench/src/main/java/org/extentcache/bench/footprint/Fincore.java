package org.extentcache.bench.footprint;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code fincore(1)} from util-linux (2.30 and later): how many bytes of each file the kernel's page cache holds now,
 * as {@code fincore --bytes --noheadings --raw --output RES FILE...} prints them, one line per file in argument
 * order. Files go to one call in batches (at most {@value #MAX_FILES_PER_CALL} files and about
 * {@value #MAX_ARGUMENT_CHARS} characters of paths per call), so a directory of many small files costs a few
 * process starts, not one per file.
 *
 * <p>A count is a snapshot: the kernel may evict pages at any time (memory pressure, a reclaim daemon), and pages
 * cached before the caller read a file count too. The page cache holds an inode's pages once, however many hard links
 * name it: pass each inode once to sum them.
 *
 * <p><b>Thread safety:</b> stateless; concurrent calls must name different output files.
 */
final class Fincore
{
    /** The package that provides {@code fincore}, for messages. */
    static final String PACKAGE = "util-linux >= 2.30";

    private static final int MAX_FILES_PER_CALL = 64;
    private static final int MAX_ARGUMENT_CHARS = 64 * 1024;

    private Fincore()
    {
    }

    /**
     * @return the absolute path of {@code fincore}, or null if it is not installed (see
     *         {@link ExternalCommand#locate}).
     */
    static String locate()
    {
        return ExternalCommand.locate("fincore");
    }

    /**
     * @return why {@link #locate()} found nothing.
     */
    static String notFound()
    {
        return ExternalCommand.notFound("fincore", PACKAGE);
    }

    /**
     * Counts the page-cache bytes resident for each file.
     *
     * @param executable {@code fincore}'s path, from {@link #locate()}.
     * @param files      regular files; none may be a FIFO (fincore would block opening it).
     * @param stdoutFile scratch file for fincore's standard output.
     * @param stderrFile scratch file for fincore's standard error.
     * @return the bytes per file in the order given, or a count that is not {@link Count#ok() ok} with the
     *         command's failure.
     * @throws IOException if the scratch files cannot be read, or the thread is interrupted.
     */
    static Count residentBytes(final String executable, final List<Path> files, final Path stdoutFile,
        final Path stderrFile) throws IOException
    {
        final long[] bytes = new long[files.size()];
        int next = 0;
        while (next < files.size())
        {
            final List<String> args = new ArrayList<>(List.of(executable, "--bytes", "--noheadings", "--raw",
                "--output", "RES"));
            final int first = next;
            int chars = 0;
            while (next < files.size() && next - first < MAX_FILES_PER_CALL &&
                (next == first || chars + files.get(next).toString().length() <= MAX_ARGUMENT_CHARS))
            {
                final String file = files.get(next++).toString();
                chars += file.length();
                args.add(file);
            }
            final ExternalCommand.Output output =
                ExternalCommand.run(stdoutFile, stderrFile, args.toArray(new String[0]));
            final String failure = parse(output, bytes, first, next - first);
            if (null != failure)
            {
                return new Count(new long[0], failure);
            }
        }
        return new Count(bytes, null);
    }

    /**
     * @return null after storing {@code count} numbers at {@code bytes[first...]}, or what was wrong with the output.
     */
    private static String parse(final ExternalCommand.Output output, final long[] bytes, final int first,
        final int count)
    {
        if (!output.ok())
        {
            return "fincore failed: " + output.describe();
        }
        final String[] lines = output.stdout().strip().split("\n");
        if (lines.length != count)
        {
            return "fincore printed " + lines.length + " lines for " + count + " files: " + output.describe();
        }
        for (int i = 0; i < count; i++)
        {
            final long value;
            try
            {
                value = Long.parseLong(lines[i].strip());
            }
            catch (final NumberFormatException ex)
            {
                return "fincore printed '" + lines[i] + "', not a byte count: " + output.describe();
            }
            if (value < 0)
            {
                return "fincore printed a negative byte count: " + output.describe();
            }
            bytes[first + i] = value;
        }
        return null;
    }

    /**
     * What fincore reported.
     *
     * @param bytes   page-cache bytes resident per file, in the order asked; empty if not {@link #ok()}. The caller
     *                owns the array.
     * @param failure why there is no count (fincore failed, or printed something else), or null.
     */
    record Count(long[] bytes, String failure)
    {
        /**
         * @return true if every file was counted.
         */
        boolean ok()
        {
            return null == failure;
        }

        /**
         * @return the sum of {@link #bytes()}.
         */
        long total()
        {
            long total = 0;
            for (final long b : bytes)
            {
                total += b;
            }
            return total;
        }
    }
}
