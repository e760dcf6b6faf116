package org.extentcache.bench;

import org.extentcache.CacheStats;
import org.extentcache.ExtentCache;
import org.extentcache.device.FileBlockDevice;
import org.extentcache.translate.ExtentStore;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * The demo: a base file and N reflink clones on a device file, each read in full through ExtentCache; prints what
 * the cache holds against what a cache keyed by (file, page) would have needed.
 *
 * <p>Run: {@code mvn -q -B -Pdemo -DskipTests verify} (options through {@code -Ddemo.args="--clones 16"}).
 * Options: {@code --base-mib N} (default 64), {@code --clones N} (default 8), {@code --dir PATH} (default a new
 * temporary directory, removed afterwards).
 */
public final class CloneDemo
{
    private static final int PAGE = 4096;

    private CloneDemo()
    {
    }

    /**
     * @param args see the class comment.
     * @throws IOException if the device file cannot be written or read.
     */
    public static void main(final String[] args) throws IOException
    {
        int baseMib = 64;
        int clones = 8;
        Path dir = null;
        try
        {
            for (int i = 0; i < args.length; i++)
            {
                switch (args[i])
                {
                    case "--base-mib":
                        baseMib = positive(args[++i], "--base-mib");
                        break;
                    case "--clones":
                        clones = positive(args[++i], "--clones");
                        break;
                    case "--dir":
                        dir = Path.of(args[++i]);
                        break;
                    default:
                        throw new IllegalArgumentException("unknown option: " + args[i]);
                }
            }
        }
        catch (final IllegalArgumentException | ArrayIndexOutOfBoundsException ex)
        {
            System.err.println("error: " + (ex instanceof ArrayIndexOutOfBoundsException ? "missing value" : ex.getMessage()));
            System.err.println("usage: CloneDemo [--base-mib N] [--clones N] [--dir PATH]");
            System.exit(2);
            return;
        }
        final boolean temporary = null == dir;
        final Path work = temporary ? Files.createTempDirectory("extentcache-demo") : Files.createDirectories(dir);
        try
        {
            run(work, baseMib, clones, System.out);
        }
        finally
        {
            if (temporary)
            {
                Files.deleteIfExists(work.resolve("device.img"));
                Files.deleteIfExists(work);
            }
        }
    }

    static void run(final Path dir, final int baseMib, final int clones, final PrintStream out) throws IOException
    {
        final long baseBytes = (long)baseMib << 20;
        final int pages = (int)(baseBytes / PAGE);
        try (FileBlockDevice device = FileBlockDevice.open(dir.resolve("device.img"), PAGE, pages + 64L);
            ExtentStore store = new ExtentStore(device);
            ExtentCache cache = ExtentCache.builder().device(device).translator(store)
                .capacityFrames(pages + 64).build())
        {
            final long base = store.create();
            final ByteBuffer chunk = ByteBuffer.allocateDirect(1 << 20);
            final SplittableRandom random = new SplittableRandom(42);
            for (long at = 0; at < baseBytes; at += chunk.capacity())
            {
                chunk.clear();
                while (chunk.hasRemaining())
                {
                    chunk.putLong(random.nextLong());
                }
                chunk.flip();
                store.write(base, at, chunk);
            }
            final long[] files = new long[clones + 1];
            files[0] = base;
            for (int c = 1; c <= clones; c++)
            {
                files[c] = store.cloneFile(base);
            }
            final long start = System.nanoTime();
            final ByteBuffer dst = ByteBuffer.allocateDirect(1 << 20);
            for (final long file : files)
            {
                long at = 0;
                while (true)
                {
                    dst.clear();
                    final int n = cache.file(file).read(at, dst);
                    if (n < 0)
                    {
                        break;
                    }
                    at += n;
                }
            }
            final double seconds = (System.nanoTime() - start) / 1e9;
            final CacheStats stats = cache.stats();
            final long perFile = (long)(clones + 1) * baseBytes;
            out.printf("ExtentCache demo: a %d MiB base file and %d reflink clones, each read in full%n", baseMib, clones);
            out.printf("  files read                  %,d (%,d MiB of reads in %.2f s)%n",
                files.length, perFile >> 20, seconds);
            out.printf("  frames resident             %,d (%,d MiB)%n", stats.framesResident(),
                stats.frameBytesInUse() >> 20);
            out.printf("  device reads                %,d blocks%n", stats.deviceReads());
            out.printf("  sharing hits                %,d pages%n", stats.sharingHits());
            out.printf("  metadata                    %,d bytes off-heap + %,d bytes heap%n",
                stats.offHeapMetadataBytes(), stats.heapMetadataBytes());
            out.printf("  ExtentCache total           %,d MiB (frames in use + metadata)%n",
                stats.totalBytesInUse() >> 20);
            out.printf("  a per-file cache would need %,d MiB (%d copies)%n", perFile >> 20, clones + 1);
        }
    }

    private static int positive(final String value, final String option)
    {
        final int n;
        try
        {
            n = Integer.parseInt(value);
        }
        catch (final NumberFormatException ex)
        {
            throw new IllegalArgumentException(option + " must be a positive integer: " + value);
        }
        if (n <= 0)
        {
            throw new IllegalArgumentException(option + " must be a positive integer: " + value);
        }
        return n;
    }
}
