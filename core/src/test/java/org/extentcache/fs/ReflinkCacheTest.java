package org.extentcache.fs;

import org.extentcache.CacheBooks;
import org.extentcache.CacheStats;
import org.extentcache.CachedFile;
import org.extentcache.ExtentCache;
import org.extentcache.translate.Extent;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Real reflinked files on XFS ({@link ReflinkDir}): a base file and {@code cp --reflink} clones share one cached
 * copy, and a write through the cache to one clone changes that clone only, on disk and in the cache.
 */
final class ReflinkCacheTest
{
    private static final int PAGE = 4096;
    private static final int MIB = 1 << 20;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    private Path dir;
    private FileSystemTranslator translator;

    @BeforeEach
    void mount() throws IOException
    {
        dir = ReflinkDir.create();
    }

    @AfterEach
    void clean() throws IOException
    {
        if (null != translator)
        {
            translator.close();
        }
        ReflinkDir.delete(dir);
    }

    /**
     * The figure: 64 MiB and 8 clones read in full through ExtentCache hold 64 MiB of frames (one device
     * read per block), where the kernel's page cache, reading the same files, holds a copy per file.
     */
    @Test
    void aBaseAndEightClonesOf64MiBShareOneCachedCopy() throws IOException
    {
        final int size = 64 * MIB;
        final List<Path> paths = baseAndClones(size, 8, 64);
        translator = new FileSystemTranslator(PAGE, true);
        final ExtentCache cache = books.track(ExtentCache.builder().translator(translator)
            .capacityBytes(96L * MIB).build());
        final long baseCrc = crcOfFile(paths.get(0), true);
        for (final Path path : paths)
        {
            final long id = translator.open(path);
            assertNull(translator.sharingUnavailableReason(id));
            assertTrue(translator.readsDirectly(id), "XFS takes O_DIRECT reads");
            assertEquals(baseCrc, crcThroughCache(cache.file(id)), path.toString());
        }
        final long kernelBeside = fincore(paths);
        final CacheStats stats = cache.stats();
        final long pages = size / PAGE;
        assertEquals(pages, stats.deviceReads() + stats.pagesReadAhead(),
            "each shared block is read once, through one file");
        assertTrue(stats.deviceReads() < pages / 32, "read ahead in windows, not page by page: " + stats);
        assertEquals(pages, stats.framesResident());
        assertEquals(64L * MIB, stats.frameBytesInUse());
        System.out.printf("reflink: 9 files x 64 MiB through ExtentCache: frames resident %.1f MiB, off-heap " +
            "metadata %.2f MiB, heap metadata %.2f MiB (estimate), device reads %d, sharing hits %d, file hits %d%n",
            stats.frameBytesInUse() / (double)MIB, stats.offHeapMetadataBytes() / (double)MIB,
            stats.heapMetadataBytes() / (double)MIB, stats.deviceReads(), stats.sharingHits(), stats.fileHits());
        System.out.printf("reflink: kernel page cache beside it (O_DIRECT reads): %.1f MiB%n",
            kernelBeside / (double)MIB);
        assertTrue(kernelBeside < size / 8, "O_DIRECT reads leave no second copy in the kernel: " + kernelBeside);

        final long kernel = kernelResidentAfterReading(paths);
        System.out.printf("reflink: the same 9 files read through the kernel page cache: %.1f MiB resident " +
            "(fincore)%n", kernel / (double)MIB);
        assertTrue(kernel > 4L * size, "the kernel keeps a copy per file: " + kernel + " bytes");
    }

    @Test
    void aWriteToOneCloneChangesThatCloneOnlyOnDiskAndInTheCache() throws IOException
    {
        final int size = 4 * MIB;
        final List<Path> paths = baseAndClones(size, 8, 4);
        final byte[] base = Files.readAllBytes(paths.get(0));
        translator = new FileSystemTranslator(PAGE);
        final ExtentCache cache = books.track(ExtentCache.builder().translator(translator)
            .capacityBytes(16L * MIB).build());
        final long[] ids = new long[paths.size()];
        for (int i = 0; i < ids.length; i++)
        {
            ids[i] = translator.open(paths.get(i), true);
            assertArrayEquals(base, readAll(cache.file(ids[i])));
        }
        final int framesBefore = cache.stats().framesResident();

        final int target = 3;
        final byte[] whole = FileSystemTranslatorTest.random(99, PAGE);
        final CachedFile clone = cache.file(ids[target]);
        clone.write(5L * PAGE + 100, ByteBuffer.wrap(new byte[] {1, 2, 3}));
        clone.write(7L * PAGE, ByteBuffer.wrap(whole));
        final byte[] changed = base.clone();
        changed[5 * PAGE + 100] = 1;
        changed[5 * PAGE + 101] = 2;
        changed[5 * PAGE + 102] = 3;
        System.arraycopy(whole, 0, changed, 7 * PAGE, PAGE);

        assertEquals(framesBefore + 2, cache.stats().framesResident(), "one new frame per written page");
        final long readsBefore = cache.stats().deviceReads();
        for (int i = 0; i < ids.length; i++)
        {
            assertArrayEquals(i == target ? changed : base, readAll(cache.file(ids[i])), "in the cache, file " + i);
        }
        assertEquals(readsBefore, cache.stats().deviceReads(), "every file still reads from the shared frames");

        cache.flush();
        for (int i = 0; i < ids.length; i++)
        {
            assertArrayEquals(i == target ? changed : base, Files.readAllBytes(paths.get(i)), "on disk, file " + i);
            assertFalse(translator.revalidate(ids[i]), "the cache's own writes are not changes from outside");
            assertArrayEquals(i == target ? changed : base, readAll(cache.file(ids[i])), "after flush, file " + i);
        }
        final List<FiemapExtent> baseExtents = Fiemap.extents(paths.get(0));
        final List<FiemapExtent> cloneExtents = Fiemap.extents(paths.get(target));
        assertNotEquals(physicalOf(baseExtents, 7L * PAGE), physicalOf(cloneExtents, 7L * PAGE),
            "XFS copied the written block on write");
        assertEquals(physicalOf(baseExtents, 6L * PAGE), physicalOf(cloneExtents, 6L * PAGE),
            "the unwritten neighbour is still shared");

        // a reopen after close reloads the extents: the written pages are keyed by their new physical blocks
        translator.close(ids[target]);
        final long reopened = translator.open(paths.get(target));
        final Extent extent = new Extent();
        translator.translate(reopened, 7, extent);
        assertTrue(extent.isShared() && (extent.deviceBlock() & BlockKeys.PRIVATE) == 0);
        assertArrayEquals(changed, readAll(cache.file(reopened)));
    }

    /**
     * Readers of the clones race a writer that rewrites whole pages of one clone and flushes: the other clones must
     * only ever read the base's bytes (a page the writer's file loaded after its own write must never be served to
     * them), and the written clone must only read whole pages, old or new.
     */
    @Test
    void readersOfOtherClonesNeverSeeAnotherClonesWrites() throws Exception
    {
        final int size = MIB;
        final List<Path> paths = baseAndClones(size, 3, 1);
        final byte[] base = Files.readAllBytes(paths.get(0));
        translator = new FileSystemTranslator(PAGE);
        final ExtentCache cache = books.track(ExtentCache.builder().translator(translator).capacityFrames(64).build());
        final long[] ids = new long[paths.size()];
        for (int i = 0; i < ids.length; i++)
        {
            ids[i] = translator.open(paths.get(i), true);
        }
        final long seed = System.nanoTime();
        final ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        final AtomicBoolean stop = new AtomicBoolean();
        final List<Thread> threads = new ArrayList<>();
        final int writerFile = ids.length - 1;
        threads.add(new Thread(() ->
        {
            final SplittableRandom random = new SplittableRandom(seed);
            try
            {
                final CachedFile file = cache.file(ids[writerFile]);
                for (int n = 1; !stop.get(); n++)
                {
                    final byte[] page = new byte[PAGE];
                    Arrays.fill(page, (byte)(n | 1)); // never 0, so never a page of zeros
                    file.write((long)random.nextInt(size / PAGE) * PAGE, ByteBuffer.wrap(page));
                    if (n % 16 == 0)
                    {
                        file.flush();
                    }
                }
            }
            catch (final Throwable ex)
            {
                failures.add(ex);
            }
        }));
        for (int r = 0; r < ids.length; r++)
        {
            final int reader = r;
            threads.add(new Thread(() ->
            {
                final SplittableRandom random = new SplittableRandom(seed + reader);
                final byte[] page = new byte[PAGE];
                try
                {
                    final CachedFile file = cache.file(ids[reader]);
                    while (!stop.get())
                    {
                        final int index = random.nextInt(size / PAGE);
                        final ByteBuffer dst = ByteBuffer.wrap(page);
                        assertEquals(PAGE, file.read((long)index * PAGE, dst));
                        final boolean original = Arrays.equals(page, 0, PAGE, base, index * PAGE, (index + 1) * PAGE);
                        if (reader != writerFile)
                        {
                            assertTrue(original, "file " + reader + " page " + index + " is not the base's");
                        }
                        else if (!original)
                        {
                            for (final byte b : page)
                            {
                                assertEquals(page[0], b, "torn page " + index + " in the written clone");
                            }
                        }
                    }
                }
                catch (final Throwable ex)
                {
                    failures.add(ex);
                }
            }));
        }
        threads.forEach(Thread::start);
        Thread.sleep(Long.getLong("extentcache.stressMillis", 2000));
        stop.set(true);
        for (final Thread thread : threads)
        {
            thread.join();
        }
        if (!failures.isEmpty())
        {
            final AssertionError error = new AssertionError("seed=" + seed + ": " + failures.peek(), failures.peek());
            failures.stream().skip(1).forEach(error::addSuppressed);
            throw error;
        }
        cache.flush();
        for (int i = 0; i < writerFile; i++)
        {
            assertArrayEquals(base, Files.readAllBytes(paths.get(i)), "file " + i + " on disk");
        }
    }

    /** Writes a random base file, syncs it, and clones it {@code clones} times with {@code cp --reflink}. */
    private List<Path> baseAndClones(final int size, final int clones, final long seed) throws IOException
    {
        final Path base = dir.resolve("base");
        // written with O_DIRECT (sizes are whole MiB), so the kernel's page cache holds none of it afterwards
        try (FileChannel channel = FileChannel.open(base, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
            NativeLibc.O_DIRECT))
        {
            final SplittableRandom random = new SplittableRandom(seed);
            final byte[] chunk = new byte[MIB];
            final ByteBuffer aligned = ByteBuffer.allocateDirect(2 * MIB).alignedSlice(PAGE).limit(MIB);
            for (int done = 0; done < size; done += chunk.length)
            {
                random.nextBytes(chunk);
                aligned.clear().limit(MIB);
                aligned.put(chunk).flip();
                while (aligned.hasRemaining())
                {
                    channel.write(aligned);
                }
            }
            channel.force(true);
        }
        final List<Path> paths = new ArrayList<>();
        paths.add(base);
        for (int i = 1; i <= clones; i++)
        {
            final Path clone = dir.resolve("clone" + i);
            ReflinkDir.cloneFile(base, clone);
            paths.add(clone);
        }
        final List<FiemapExtent> extents = Fiemap.extents(paths.get(clones));
        Assumptions.assumeTrue(extents.stream().allMatch(FiemapExtent::isShared),
            () -> "cp --reflink did not share extents here: " + extents);
        return paths;
    }

    private static long physicalOf(final List<FiemapExtent> extents, final long offset)
    {
        for (final FiemapExtent extent : extents)
        {
            if (offset >= extent.logical() && offset < extent.logical() + extent.length())
            {
                return extent.physical() + (offset - extent.logical());
            }
        }
        throw new AssertionError("no extent at " + offset + ": " + extents);
    }

    private static long crcThroughCache(final CachedFile file) throws IOException
    {
        final CRC32 crc = new CRC32();
        final ByteBuffer buffer = ByteBuffer.allocateDirect(MIB);
        for (long position = 0; position < file.size(); position += buffer.position())
        {
            buffer.clear();
            file.read(position, buffer);
            buffer.flip();
            crc.update(buffer);
        }
        return crc.getValue();
    }

    private static long crcOfFile(final Path path) throws IOException
    {
        return crcOfFile(path, false);
    }

    /** With {@code direct}, reads with O_DIRECT, leaving nothing in the kernel's page cache. */
    private static long crcOfFile(final Path path, final boolean direct) throws IOException
    {
        final CRC32 crc = new CRC32();
        try (FileChannel channel = direct ?
            FileChannel.open(path, StandardOpenOption.READ, NativeLibc.O_DIRECT) :
            FileChannel.open(path))
        {
            final ByteBuffer buffer = ByteBuffer.allocateDirect(2 * MIB).alignedSlice(PAGE).limit(MIB);
            while (channel.read(buffer) > 0)
            {
                buffer.flip();
                crc.update(buffer);
                buffer.clear().limit(MIB);
            }
        }
        return crc.getValue();
    }

    private static byte[] readAll(final CachedFile file) throws IOException
    {
        return FileSystemTranslatorTest.read(file, 0, (int)file.size());
    }

    /** Reads each file in full through the kernel's page cache, then counts what is resident. */
    private static long kernelResidentAfterReading(final List<Path> paths) throws IOException
    {
        for (final Path path : paths)
        {
            crcOfFile(path);
        }
        return fincore(paths);
    }

    /** Sums what {@code fincore} finds resident in the kernel's page cache for the files. */
    private static long fincore(final List<Path> paths) throws IOException
    {
        long resident = 0;
        for (final Path path : paths)
        {
            final Process process = new ProcessBuilder("fincore", "--bytes", "--noheadings", "--raw", "--output",
                "RES", path.toString()).redirectErrorStream(true).start();
            final String output = new String(process.getInputStream().readAllBytes()).trim();
            try
            {
                Assumptions.assumeTrue(process.waitFor() == 0, () -> "fincore failed: " + output);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                throw new IOException(ex);
            }
            resident += Long.parseLong(output);
        }
        return resident;
    }
}
