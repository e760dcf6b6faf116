package org.extentcache.bench.footprint;

import org.extentcache.CacheStats;
import org.extentcache.fs.Fiemap;
import org.extentcache.fs.FiemapExtent;
import org.extentcache.fs.FileSystemTranslator;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The footprint tool's directory mode ({@code --dir PATH}): real files, as they are, through ExtentCache over a
 * {@link FileSystemTranslator} and through the kernel's page cache, set against the ideal their extents give.
 *
 * <h2>Steps</h2>
 * <ol>
 *   <li><b>Files</b> ({@link #scan}): every regular file under the directory, recursively, in path order. Symbolic
 *       links are not followed (a link to a file is skipped, not read) and other non-regular files (FIFOs, sockets,
 *       devices) are skipped. A directory that does not exist, is not a directory, or holds no regular file is a
 *       usage error.</li>
 *   <li><b>Ideal</b> ({@link #ideal}): each inode's extents (hard links are one inode) from {@link Fiemap#extents},
 *       clipped to the file's size rounded up to whole pages. Extents with a stable physical address
 *       ({@link FiemapExtent#hasStablePhysical()}) count as the union of their physical byte ranges, one union per
 *       file system ({@code unix:dev}); other extents count their length; a file whose file system has no FIEMAP
 *       counts its size rounded up to whole pages. The sum is the data a cache that kept every distinct block once
 *       would hold, without any metadata.</li>
 *   <li><b>ExtentCache</b>: a {@link FileSystemTranslator} and a cache over it (no device; it opens hard links to
 *       one inode as one file). Capacity: the ideal in pages, plus two pages per extent (pages that extents cover
 *       only partly are private to their file when pages are larger than file-system blocks), plus
 *       {@value #SLACK_PAGES}; at most every file's pages plus {@value #SLACK_PAGES}; or {@code --budget-mib}.
 *       Every file is opened and read once in full, 1 MiB at a time.
 *       Measured as the tool measures its other caches: frames in use, off-heap bytes reserved, off-heap metadata,
 *       and the Java heap retained by the cache and its translator together, after GC, against a baseline taken
 *       before either was built (and after a throwaway pair read one chunk, so one-time class initialisation is not
 *       counted); plus device reads, sharing hits, reclaims, and which files cannot share
 *       ({@link FileSystemTranslator#sharingUnavailableReason}).</li>
 *   <li><b>Kernel</b>: every file read once in full with a {@link FileChannel}, then {@link Fincore} sums the
 *       page-cache bytes resident, each inode once (hard links are one inode). Without {@code fincore}, or off
 *       Linux, the kernel figure is unavailable with the reason.</li>
 * </ol>
 *
 * <h2>Caveats</h2>
 * <ul>
 *   <li>The kernel figure is what is resident after the reads: pages cached before the run count too, pages the
 *       kernel evicted meanwhile (memory pressure, a reclaim daemon) do not, and the kernel's own metadata is not
 *       counted.</li>
 *   <li>The extentcache figures are ExtentCache's own memory. Its translator reads misses with {@code O_DIRECT}
 *       unless {@code --buffered-reads}; with buffered reads the kernel also caches each block ExtentCache loads
 *       (through the file that first missed it: about one copy of the distinct data). What the kernel held for the
 *       files right after the ExtentCache pass is reported beside it ("kernel beside"), before the kernel's own
 *       pass.</li>
 *   <li>The files must not change during the run: a file whose size differs from the one listed fails it.
 *       {@code FIEMAP_FLAG_SYNC} writes back a file's dirty pages before mapping it.</li>
 *   <li>Costs: every file is read twice (once per cache); the cache reserves its whole capacity off-heap up front;
 *       every file stays open during the ExtentCache pass (three descriptors each: the inode, a channel and an
 *       O_DIRECT channel; a translator trusts a physical block only while an open file maps it), so a directory
 *       needs fewer than a third as many files as the descriptor limit; the
 *       ideal keeps two {@code long}s per extent on the heap while it is computed.</li>
 * </ul>
 *
 * <p><b>Thread safety:</b> none; one thread runs a measurement.
 */
final class DirectoryFootprint
{
    /** Frames the cache gets beyond the distinct data. */
    static final long SLACK_PAGES = 64;

    private static final int CHUNK_BYTES = 1 << 20;

    private DirectoryFootprint()
    {
    }

    /**
     * One regular file found by {@link #scan}.
     *
     * @param path   its path (under the directory's real path).
     * @param size   its size when listed.
     * @param device its file system ({@code unix:dev}, or the file store's name where that attribute is missing).
     * @param inode  what identifies its inode ({@link BasicFileAttributes#fileKey()}: device and inode on Linux), or
     *               its path where the platform has no file key.
     */
    record FileEntry(Path path, long size, Object device, Object inode)
    {
    }

    /**
     * The regular files of a directory.
     *
     * @param directory the directory's real path.
     * @param files     its regular files, recursively, in path order; never empty.
     */
    record Listing(Path directory, List<FileEntry> files)
    {
        /**
         * @return the files' sizes summed.
         */
        long logicalBytes()
        {
            long bytes = 0;
            for (final FileEntry file : files)
            {
                bytes += file.size();
            }
            return bytes;
        }

        /**
         * @param pageSize bytes per page.
         * @return the files' pages summed, each file's last page counted whole.
         */
        long filePages(final int pageSize)
        {
            long pages = 0;
            for (final FileEntry file : files)
            {
                pages += (file.size() + pageSize - 1) / pageSize;
            }
            return pages;
        }
    }

    /**
     * Lists the regular files under a directory, recursively, without following symbolic links.
     *
     * @param directory the directory.
     * @return its files.
     * @throws IllegalArgumentException (a usage error) if it does not exist, is not a directory, or holds no regular
     *                                  file; the message names the path.
     * @throws IOException              if a directory or file under it cannot be read.
     */
    static Listing scan(final Path directory) throws IOException
    {
        if (!Files.exists(directory))
        {
            throw new IllegalArgumentException("--dir does not exist: " + directory);
        }
        if (!Files.isDirectory(directory))
        {
            throw new IllegalArgumentException("--dir is not a directory: " + directory);
        }
        final Path root = directory.toRealPath();
        final List<FileEntry> files = new ArrayList<>();
        Files.walkFileTree(root, new SimpleFileVisitor<>()
        {
            @Override
            public FileVisitResult visitFile(final Path file, final BasicFileAttributes attrs) throws IOException
            {
                if (attrs.isRegularFile())
                {
                    files.add(new FileEntry(file, attrs.size(), device(file),
                        null == attrs.fileKey() ? file : attrs.fileKey()));
                }
                return FileVisitResult.CONTINUE;
            }
        });
        if (files.isEmpty())
        {
            throw new IllegalArgumentException("--dir holds no regular file (searched recursively, symbolic links " +
                "not followed): " + root);
        }
        files.sort(Comparator.comparing(FileEntry::path));
        return new Listing(root, List.copyOf(files));
    }

    /**
     * Measures a directory's files: the ideal, ExtentCache, and the kernel's page cache; see the class comment.
     *
     * @param listing     the files, from {@link #scan}.
     * @param pageSize    the cache's page size, a power of two from 4096 to 65536.
     * @param budgetBytes the cache's capacity, or {@code <= 0} for enough to hold every distinct block.
     * @param directReads true for a translator that reads misses with {@code O_DIRECT}.
     * @param progress    progress bar.
     * @return the report.
     * @throws IOException           if a file cannot be read, or changed size since it was listed.
     * @throws IllegalStateException if the cache's off-heap memory cannot be reserved.
     */
    static DirectoryReport measure(final Listing listing, final int pageSize, final long budgetBytes,
        final boolean directReads, final Progress progress) throws IOException
    {
        return measure(listing, pageSize, budgetBytes, directReads, false, progress);
    }

    /**
     * {@link #measure(Listing, int, long, boolean, Progress)}, with content merging on in ExtentCache if asked: plain
     * copies of a file on a file system without reflink (ext4, tmpfs) are then held once.
     *
     * @param merge true for {@code mergeIdenticalPages}.
     */
    static DirectoryReport measure(final Listing listing, final int pageSize, final long budgetBytes,
        final boolean directReads, final boolean merge, final Progress progress) throws IOException
    {
        final DirectoryReport.Ideal ideal = ideal(listing.files(), pageSize);
        final long filePages = listing.filePages(pageSize);
        final long keyedPages = (ideal.physicalBytes() + pageSize - 1) / pageSize +
            (ideal.otherBytes() + pageSize - 1) / pageSize + 2 * ideal.extents();
        final long capacityBytes = budgetBytes > 0 ? budgetBytes :
            (Math.min(filePages, keyedPages) + SLACK_PAGES) * pageSize;
        final String fincore = Fincore.locate();
        final String unavailable = kernelUnavailableReason(fincore);
        final DirectoryReport.ExtentCacheRun extentCache =
            measureExtentCache(listing, pageSize, capacityBytes, directReads, merge,
                null == unavailable ? fincore : null, progress);
        final DirectoryReport.PageCache kernel = null != unavailable ?
            DirectoryReport.PageCache.unavailable(unavailable) : measureKernel(fincore, listing, progress);
        return new DirectoryReport(listing.directory(), listing.files().size(), listing.logicalBytes(), filePages,
            pageSize, ideal, extentCache, kernel);
    }

    /**
     * The distinct bytes the files' extents occupy; see the class comment.
     *
     * @param files    the files.
     * @param pageSize bytes per page: extents are clipped to each file's size rounded up to it.
     * @return the ideal.
     * @throws IOException if FIEMAP fails for a reason other than an unsupported file system or platform.
     */
    static DirectoryReport.Ideal ideal(final List<FileEntry> files, final int pageSize) throws IOException
    {
        final Map<Object, List<long[]>> rangesByDevice = new HashMap<>();
        final Map<Object, Long> otherBytesByInode = new HashMap<>();
        long otherBytes = 0;
        long extentCount = 0;
        int withoutExtents = 0;
        String withoutExtentsReason = null;
        for (final FileEntry file : files)
        {
            if (otherBytesByInode.containsKey(file.inode()))
            {
                continue; // another hard link to an inode already counted
            }
            final long otherBefore = otherBytes;
            final long end = (file.size() + pageSize - 1) / pageSize * pageSize;
            final List<FiemapExtent> extents;
            try
            {
                extents = Fiemap.extents(file.path());
            }
            catch (final Fiemap.NotSupportedException | UnsupportedOperationException ex)
            {
                otherBytes += end;
                otherBytesByInode.put(file.inode(), end);
                withoutExtents++;
                if (null == withoutExtentsReason)
                {
                    withoutExtentsReason = file.path() + ": " + ex.getMessage();
                }
                continue;
            }
            for (final FiemapExtent extent : extents)
            {
                final long length = Math.min(extent.logicalEnd(), end) - extent.logical();
                if (length <= 0)
                {
                    continue;
                }
                extentCount++;
                if (extent.hasStablePhysical())
                {
                    rangesByDevice.computeIfAbsent(file.device(), device -> new ArrayList<>())
                        .add(new long[]{extent.physical(), extent.physical() + length});
                }
                else
                {
                    otherBytes += length;
                }
            }
            otherBytesByInode.put(file.inode(), otherBytes - otherBefore);
        }
        long physicalBytes = 0;
        for (final List<long[]> ranges : rangesByDevice.values())
        {
            physicalBytes += unionBytes(ranges);
        }
        return new DirectoryReport.Ideal(physicalBytes + otherBytes, physicalBytes, otherBytes,
            rangesByDevice.size(), extentCount, withoutExtents, withoutExtentsReason);
    }

    /**
     * @param ranges {@code [start, end)} byte ranges, sorted here.
     * @return the bytes their union covers.
     */
    static long unionBytes(final List<long[]> ranges)
    {
        ranges.sort(Comparator.comparingLong(range -> range[0]));
        long bytes = 0;
        long start = -1;
        long end = -1;
        for (final long[] range : ranges)
        {
            if (range[0] > end)
            {
                bytes += end - start;
                start = range[0];
                end = range[1];
            }
            else
            {
                end = Math.max(end, range[1]);
            }
        }
        return bytes + end - start;
    }

    private static DirectoryReport.ExtentCacheRun measureExtentCache(final Listing listing, final int pageSize,
        final long capacityBytes, final boolean directReads, final boolean merge, final String fincore,
        final Progress progress) throws IOException
    {
        final List<FileEntry> files = listing.files();
        final long[] ids = new long[files.size()];
        final ByteBuffer chunk = ByteBuffer.allocateDirect(CHUNK_BYTES);
        warmUp(files.get(0).path(), pageSize, directReads, merge, chunk);
        final long heapBefore = FootprintTool.heapUsedAfterGc();
        final long directBefore = FootprintTool.directPoolBytes();
        try (FileSystemTranslator translator = new FileSystemTranslator(pageSize, directReads);
            ExtentCacheMeasured cache = build(translator, capacityBytes, merge, listing.filePages(pageSize)))
        {
            progress.start("extentcache", listing.logicalBytes());
            final long start = System.nanoTime();
            for (int f = 0; f < files.size(); f++)
            {
                final FileEntry file = files.get(f);
                ids[f] = translator.open(file.path());
                long position = 0;
                int n;
                while ((n = cache.read(ids[f], position, chunk.clear())) > 0)
                {
                    position += n;
                    progress.advance(n);
                }
                if (position != file.size())
                {
                    throw new IOException("changed since it was listed: " + file.path() + " read " + position +
                        " bytes through the cache, listed with " + file.size());
                }
            }
            final long elapsedNanos = System.nanoTime() - start;
            progress.done();
            final long heapRetained = Math.max(0, FootprintTool.heapUsedAfterGc() - heapBefore);
            // the translator's own bounce pages and run buffers are its, not the cache's reservation
            final long directGrowth = FootprintTool.directPoolBytes() - directBefore -
                translator.directBytesAllocated();
            final long kernelBeside = null == fincore ? -1 : pageCacheBytes(fincore, listing);
            int notSharing = 0;
            int notDirect = 0;
            String notSharingReason = null;
            for (int f = 0; f < files.size(); f++)
            {
                if (!translator.readsDirectly(ids[f]))
                {
                    notDirect++;
                }
                final String reason = translator.sharingUnavailableReason(ids[f]);
                if (null != reason)
                {
                    notSharing++;
                    if (null == notSharingReason)
                    {
                        notSharingReason = files.get(f).path() + ": " + reason;
                    }
                }
            }
            final CacheStats stats = cache.stats();
            final long reachable = cache.residency().bytesReachable();
            final CacheResult result = new CacheResult("extentcache", cache.residentBytes(), cache.reservedBytes(),
                cache.offHeapMetadataBytes(), heapRetained, directGrowth, cache.hits() + cache.deviceReads(),
                cache.hits(), cache.deviceReads(), elapsedNanos);
            for (final long id : java.util.Arrays.stream(ids).distinct().toArray()) // hard links share an id
            {
                translator.close(id); // the last close of each file: what stays is kept only as cache
            }
            final CacheStats closed = cache.stats();
            final long closedReachable = cache.residency().bytesReachable();
            return new DirectoryReport.ExtentCacheRun(result, stats.frameBytesReserved(), stats.sharingHits(),
                stats.fileHits(), stats.reclaims(), notSharing, notSharingReason, directReads, notDirect,
                kernelBeside, reachable, closed.frameBytesInUse(),
                closedReachable, merge, stats.mergedPages(), stats.mergeMismatches());
        }
    }

    /**
     * Builds a throwaway translator and cache and reads one chunk of a file through them, so that what the first of
     * each is allocates once per JVM (class initialisation, the FIEMAP binding) is not counted as the measured cache's
     * heap.
     */
    private static void warmUp(final Path file, final int pageSize, final boolean directReads, final boolean merge,
        final ByteBuffer chunk) throws IOException
    {
        try (FileSystemTranslator translator = new FileSystemTranslator(pageSize, directReads);
            ExtentCacheMeasured cache = build(translator, SLACK_PAGES * pageSize, merge, SLACK_PAGES))
        {
            cache.read(translator.open(file), 0, chunk.clear());
        }
    }

    /** Builds the cache, turning a failed off-heap reservation into a message that says what to do. */
    private static ExtentCacheMeasured build(final FileSystemTranslator translator, final long capacityBytes,
        final boolean merge, final long aliases)
    {
        try
        {
            // merging: an alias record for every page of the files (each page read can be an alias)
            return new ExtentCacheMeasured(merge ? "extentcache-merge" : "extentcache", translator, capacityBytes,
                merge ? (int)Math.min(Integer.MAX_VALUE - 8, Math.max(SLACK_PAGES, aliases)) : 0);
        }
        catch (final OutOfMemoryError ex)
        {
            throw new IllegalStateException("cannot reserve " + capacityBytes + " bytes off-heap for the cache (" +
                ex.getMessage() + "); give a smaller --budget-mib or a larger -XX:MaxDirectMemorySize", ex);
        }
    }

    /** @return null if the kernel's page cache can be counted here, else why not. */
    private static String kernelUnavailableReason(final String fincore)
    {
        final String os = System.getProperty("os.name", "");
        if (!os.startsWith("Linux"))
        {
            return "not Linux: os.name=" + os;
        }
        return null == fincore ? Fincore.notFound() : null;
    }

    /** Reads every file once in full through the page cache, then counts what is resident. */
    private static DirectoryReport.PageCache measureKernel(final String fincore, final Listing listing,
        final Progress progress) throws IOException
    {
        progress.start("kernel page cache", listing.logicalBytes());
        final long start = System.nanoTime();
        for (final FileEntry file : listing.files())
        {
            KernelFootprint.readFully(file.path(), file.size());
            progress.advance(file.size());
        }
        final long elapsedNanos = System.nanoTime() - start;
        progress.done();
        final List<Path> inodes = inodes(listing);
        final Fincore.Count count = count(fincore, inodes);
        return count.ok() ? new DirectoryReport.PageCache(true, null, count.total(), inodes.size(), elapsedNanos) :
            DirectoryReport.PageCache.unavailable(count.failure());
    }

    /** @return the page-cache bytes resident for the files now, or -1 if fincore failed. */
    private static long pageCacheBytes(final String fincore, final Listing listing) throws IOException
    {
        final Fincore.Count count = count(fincore, inodes(listing));
        return count.ok() ? count.total() : -1;
    }

    /** @return one path per inode (hard links are one inode). */
    private static List<Path> inodes(final Listing listing)
    {
        final Map<Object, Path> inodes = new LinkedHashMap<>();
        for (final FileEntry file : listing.files())
        {
            inodes.putIfAbsent(file.inode(), file.path());
        }
        return List.copyOf(inodes.values());
    }

    private static Fincore.Count count(final String fincore, final List<Path> paths) throws IOException
    {
        final Path scratch = Files.createTempDirectory("footprint-fincore-");
        final Path stdout = scratch.resolve("fincore.out");
        final Path stderr = scratch.resolve("fincore.err");
        try
        {
            return Fincore.residentBytes(fincore, paths, stdout, stderr);
        }
        finally
        {
            Files.deleteIfExists(stdout);
            Files.deleteIfExists(stderr);
            Files.deleteIfExists(scratch);
        }
    }

    /** @return the file's file system: {@code unix:dev}, or its file store's name where that is missing. */
    private static Object device(final Path file) throws IOException
    {
        try
        {
            return Files.getAttribute(file, "unix:dev", LinkOption.NOFOLLOW_LINKS);
        }
        catch (final UnsupportedOperationException | IllegalArgumentException ex)
        {
            return Files.getFileStore(file).name();
        }
    }
}
