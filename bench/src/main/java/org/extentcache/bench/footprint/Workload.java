package org.extentcache.bench.footprint;

import org.extentcache.device.FileBlockDevice;
import org.extentcache.translate.ExtentStore;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The footprint tool's input: a device file with a base image and its clones, each clone diverged by overwriting a
 * fraction of its pages, and the operation sequence every cache is given.
 *
 * <h2>Data</h2>
 * The base image is seeded random bytes. Each clone (unless the clones are plain copies, {@code --copies}: then
 * each is a new file written with the base's bytes, on blocks of its own) shares every block with the base until the
 * divergence step
 * writes {@code round(divergence * pages)} distinct pages of it (chosen with the seed) with new random bytes; the
 * extent store puts those on fresh blocks, so the device ends up holding {@code pages + clones * written} distinct
 * blocks, which is what an ideal cache needs to hold.
 *
 * <h2>Operations</h2>
 * Page reads, packed as {@code fileIndex << 40 | page}: first every file read once in full, in order; then
 * {@code zipfReads} reads whose page is Zipf-distributed over the image's pages (rank 1 the hottest, exponent
 * {@code skew}, ranks scattered over page numbers by a seeded permutation) and whose file is uniform. A hot page
 * of the image is hot in every clone, as with VM or container images cloned from one base.
 *
 * <p>Owns the device file and the store; {@link #close()} deletes the file.
 */
final class Workload implements AutoCloseable
{
    static final int FILE_SHIFT = 40;

    final int pageSize;
    final int pages;
    final int clones;
    final int writtenPerClone;
    /** Whether the clones are plain copies (no block shared) rather than {@code cloneFile} clones. */
    final boolean copies;
    final long[] files;
    final long[] operations;
    final FileBlockDevice device;
    final ExtentStore store;
    private final Path deviceFile;

    private Workload(final Path deviceFile, final FileBlockDevice device, final ExtentStore store, final int pageSize,
        final int pages, final int clones, final int writtenPerClone, final boolean copies, final long[] files,
        final long[] operations)
    {
        this.copies = copies;
        this.deviceFile = deviceFile;
        this.device = device;
        this.store = store;
        this.pageSize = pageSize;
        this.pages = pages;
        this.clones = clones;
        this.writtenPerClone = writtenPerClone;
        this.files = files;
        this.operations = operations;
    }

    /**
     * Builds the device, the base, the clones and the divergence, and precomputes the operations.
     *
     * @param dir        where the device file goes.
     * @param imageBytes base image size, a multiple of {@code pageSize}.
     * @param pageSize   bytes per page.
     * @param clones     number of clones.
     * @param divergence fraction of each clone's pages overwritten, 0 to 1.
     * @param zipfReads  random reads after the full reads.
     * @param skew       Zipf exponent.
     * @param seed       seed for data, divergence and reads.
     * @param progress   told as work proceeds.
     * @return the workload; the caller closes it.
     * @throws IOException if the device file cannot be written.
     */
    static Workload build(final Path dir, final long imageBytes, final int pageSize, final int clones,
        final double divergence, final int zipfReads, final double skew, final long seed, final Progress progress)
        throws IOException
    {
        return build(dir, imageBytes, pageSize, clones, false, divergence, zipfReads, skew, seed, progress);
    }

    /**
     * {@link #build(Path, long, int, int, double, int, double, long, Progress)}, with the clones made as plain byte
     * copies if asked: each gets blocks of its own, so the store shares nothing and only content merging can.
     *
     * @param copies true for plain copies, false for clones ({@code cloneFile}, every block shared).
     */
    static Workload build(final Path dir, final long imageBytes, final int pageSize, final int clones,
        final boolean copies, final double divergence, final int zipfReads, final double skew, final long seed,
        final Progress progress) throws IOException
    {
        final int pages = (int)(imageBytes / pageSize);
        final int written = (int)Math.round(divergence * pages);
        // copies: every file's pages, plus room for a diverged page's new block before its old one is freed
        final long blocks = (copies ? (clones + 1L) * pages + written : pages + (long)clones * written) + 64;
        final Path deviceFile = Files.createTempFile(dir, "footprint-device", ".img");
        final FileBlockDevice device = FileBlockDevice.open(deviceFile, pageSize, blocks);
        final ExtentStore store = new ExtentStore(device);
        try
        {
            final SplittableRandom random = new SplittableRandom(seed);
            final long[] files = new long[clones + 1];
            files[0] = store.create();
            final ByteBuffer chunk = ByteBuffer.allocateDirect(Math.max(pageSize, 1 << 20));
            progress.start("writing the base image", imageBytes);
            for (long at = 0; at < imageBytes; at += chunk.capacity())
            {
                fill(chunk.clear().limit((int)Math.min(chunk.capacity(), imageBytes - at)), random);
                store.write(files[0], at, chunk);
                progress.advance(chunk.limit());
            }
            progress.done();
            progress.start(copies ? "copying and diverging" : "cloning and diverging",
                (long)clones * (written + (copies ? pages : 0)));
            final ByteBuffer page = ByteBuffer.allocate(pageSize);
            for (int c = 1; c <= clones; c++)
            {
                files[c] = copies ? copy(store, files[0], imageBytes, pageSize, chunk, progress) : store.cloneFile(files[0]);
                for (final int p : distinctPages(random, pages, written))
                {
                    fill(page.clear(), random);
                    store.write(files[c], (long)p * pageSize, page);
                    progress.advance(1);
                }
            }
            progress.done();
            device.sync();
            final long[] operations = operations(files.length, pages, zipfReads, skew, random);
            return new Workload(deviceFile, device, store, pageSize, pages, clones, written, copies, files,
                operations);
        }
        catch (final IOException | RuntimeException ex)
        {
            store.close();
            device.close();
            Files.deleteIfExists(deviceFile);
            throw ex;
        }
    }

    /** A plain copy of a file: a new file written with its bytes, on blocks of its own. */
    private static long copy(final ExtentStore store, final long source, final long bytes, final int pageSize,
        final ByteBuffer chunk, final Progress progress) throws IOException
    {
        final long file = store.create();
        for (long at = 0; at < bytes; at += chunk.capacity())
        {
            chunk.clear().limit((int)Math.min(chunk.capacity(), bytes - at));
            while (chunk.hasRemaining())
            {
                store.read(source, at + chunk.position(), chunk);
            }
            store.write(file, at, chunk.flip());
            progress.advance(chunk.limit() / pageSize);
        }
        return file;
    }

    /**
     * @return distinct contents of pages: what an ideal cache holds after reading everything when identical pages
     * are held once, whether the store shares their blocks (clones) or not (copies). The content-distinct ideal.
     */
    long distinctPages()
    {
        return pages + (long)clones * writtenPerClone;
    }

    /**
     * @return distinct blocks the data occupies: what an ideal cache keyed by block holds. Equal to
     * {@link #distinctPages()} for clones; every file's pages for plain copies. The physical ideal.
     */
    long physicalPages()
    {
        return copies ? (long)files.length * pages : distinctPages();
    }

    /**
     * @return pages read in full by the first phase: one copy per file, what a per-file cache holds.
     */
    long filePages()
    {
        return (long)files.length * pages;
    }

    static int fileIndex(final long operation)
    {
        return (int)(operation >>> FILE_SHIFT);
    }

    static int page(final long operation)
    {
        return (int)(operation & ((1L << FILE_SHIFT) - 1));
    }

    private static long[] operations(final int fileCount, final int pages, final int zipfReads, final double skew,
        final SplittableRandom random)
    {
        final long[] operations = new long[fileCount * pages + zipfReads];
        int n = 0;
        for (int f = 0; f < fileCount; f++)
        {
            for (int p = 0; p < pages; p++)
            {
                operations[n++] = (long)f << FILE_SHIFT | p;
            }
        }
        final double[] cumulative = new double[pages];
        double sum = 0;
        for (int rank = 0; rank < pages; rank++)
        {
            sum += 1.0 / Math.pow(rank + 1, skew);
            cumulative[rank] = sum;
        }
        final int[] pageOfRank = permutation(random, pages);
        for (int i = 0; i < zipfReads; i++)
        {
            int rank = Arrays.binarySearch(cumulative, random.nextDouble() * sum);
            rank = rank < 0 ? Math.min(-rank - 1, pages - 1) : rank;
            operations[n++] = (long)random.nextInt(fileCount) << FILE_SHIFT | pageOfRank[rank];
        }
        return operations;
    }

    /** A seeded Fisher-Yates permutation of {@code 0..n-1}; {@link KernelFootprint} draws the same. */
    static int[] permutation(final SplittableRandom random, final int n)
    {
        final int[] values = new int[n];
        for (int i = 0; i < n; i++)
        {
            values[i] = i;
        }
        for (int i = n - 1; i > 0; i--)
        {
            final int j = random.nextInt(i + 1);
            final int t = values[i];
            values[i] = values[j];
            values[j] = t;
        }
        return values;
    }

    private static int[] distinctPages(final SplittableRandom random, final int pages, final int count)
    {
        return Arrays.copyOf(permutation(random, pages), count);
    }

    /** Fills the buffer's remaining bytes with seeded random data, then flips it; {@link KernelFootprint} too. */
    static void fill(final ByteBuffer buffer, final SplittableRandom random)
    {
        while (buffer.remaining() >= Long.BYTES)
        {
            buffer.putLong(random.nextLong());
        }
        while (buffer.hasRemaining())
        {
            buffer.put((byte)random.nextInt());
        }
        buffer.flip();
    }

    @Override
    public void close() throws IOException
    {
        store.close();
        device.close();
        Files.deleteIfExists(deviceFile);
    }
}
