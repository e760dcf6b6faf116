package org.extentcache.bench.jmh;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The machine running the report (not necessarily the one that ran the benchmarks), for the report's header.
 *
 * @param cores       available processors.
 * @param memoryBytes total memory, -1 if unknown.
 */
record Machine(int cores, long memoryBytes)
{
    /**
     * @return this machine: {@link Runtime#availableProcessors()} and {@code MemTotal} from {@code /proc/meminfo}
     * if readable.
     */
    static Machine current()
    {
        long memory = -1;
        try
        {
            for (final String line : Files.readAllLines(Path.of("/proc/meminfo"), StandardCharsets.US_ASCII))
            {
                if (line.startsWith("MemTotal:"))
                {
                    final String[] fields = line.trim().split("\\s+");
                    memory = Long.parseLong(fields[1]) * ("kB".equalsIgnoreCase(fields[2]) ? 1024 : 1);
                    break;
                }
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            memory = -1;
        }
        return new Machine(Runtime.getRuntime().availableProcessors(), memory);
    }

    /**
     * @return e.g. {@code 2 cores, 23.4 GiB RAM}.
     */
    String text()
    {
        return cores + (cores == 1 ? " core, " : " cores, ") + (memoryBytes < 0 ? "memory unknown" :
            String.format(Locale.ROOT, "%.1f GiB RAM", memoryBytes / (double)(1L << 30)));
    }
}
