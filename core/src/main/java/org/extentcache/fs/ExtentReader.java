package org.extentcache.fs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Reads what a {@link FileSystemTranslator} knows of a file from the file system: its attributes and extents when it
 * is opened or reloaded ({@link #load}, retrying while the file changes under it), whether its pages can be keyed by
 * physical block at all, and its extents again when its vouches are checked ({@link #currentLayout}).
 *
 * <h2>Sharing</h2>
 * Files on file systems without FIEMAP (tmpfs) or without shared extents (ext4) work without sharing, and so do files
 * on file systems not known to give one physical address space per {@code st_dev}: only xfs, btrfs, ext2/3/4 and
 * f2fs are trusted (overlayfs and FUSE pass FIEMAP through to the file systems below them, possibly several under one
 * {@code st_dev}). A file that cannot share gets no extents, and a reason.
 *
 * <h2>Costs</h2>
 * {@link #load}: two attribute reads and one FIEMAP ({@link Fiemap}: one ioctl per 256 extents, with
 * {@code FIEMAP_FLAG_SYNC}) per attempt, and the file system's type once per {@code st_dev}.
 * {@link #currentLayout}: one FIEMAP. {@link #extentReads} counts every FIEMAP.
 *
 * <p><b>Thread safety:</b> safe for concurrent use.
 */
final class ExtentReader
{
    private static final int MAX_ATTEMPTS = 5;
    /**
     * File systems whose FIEMAP physical addresses name one address space per {@code st_dev}, so equal keys are the
     * same bytes. Others (overlayfs and FUSE pass FIEMAP through to file systems below them, possibly several under
     * one {@code st_dev}) keep every page private.
     */
    private static final Set<String> ONE_ADDRESS_SPACE = Set.of("xfs", "btrfs", "ext2", "ext3", "ext4", "f2fs");

    private final int pageSize;
    private final int pageShift;
    /** File system type by {@code st_dev}. */
    private final Map<Long, String> fileSystemTypes = new ConcurrentHashMap<>();
    /** FIEMAP calls made, for the costs the translator's class comment states (tests). */
    private final LongAdder extentReads = new LongAdder();

    /** What {@link #load} read: the extents are null if the file cannot share, and {@code noSharing} says why. */
    record Loaded(FileAttributes attrs, List<FiemapExtent> extents, String noSharing)
    {
    }

    /**
     * @param pageSize bytes per page, a power of two (checked by the translator).
     */
    ExtentReader(final int pageSize)
    {
        this.pageSize = pageSize;
        this.pageShift = Integer.numberOfTrailingZeros(pageSize);
    }

    /** @return FIEMAP calls made so far. */
    long extentReads()
    {
        return extentReads.sum();
    }

    /**
     * @throws IOException if {@code size} is negative or more than 2^36 pages (private keys hold no more).
     */
    void checkSize(final Path path, final long size) throws IOException
    {
        if (size < 0 || pagesOf(size) > BlockKeys.PAGE_MASK)
        {
            throw new IOException(path + ": size " + size + " is out of range (at most 2^36 pages of " + pageSize +
                " bytes)");
        }
    }

    /** @return pages needed for {@code size} bytes. */
    long pagesOf(final long size)
    {
        return (size + pageSize - 1) >>> pageShift;
    }

    /** @return the file system type of the file's store ({@code /proc/mounts}), or null if it cannot be told. */
    private static String fileSystemType(final Path path)
    {
        try
        {
            return Files.getFileStore(path).type();
        }
        catch (final IOException | RuntimeException ex)
        {
            return null; // e.g. the file was renamed or removed just now
        }
    }

    /**
     * Reads a file's attributes and extents, retrying while the file changes under it.
     */
    Loaded load(final Path handle, final Path path) throws IOException
    {
        for (int attempt = 1; ; attempt++)
        {
            final FileAttributes before = FileAttributes.of(handle);
            checkSize(path, before.size());
            List<FiemapExtent> extents = null;
            String noSharing = null;
            String type = fileSystemTypes.get(before.dev());
            if (null == type)
            {
                type = fileSystemType(path);
                if (null != type)
                {
                    fileSystemTypes.putIfAbsent(before.dev(), type); // a failure (null) is asked again next time
                }
            }
            if (!Fiemap.isAvailable())
            {
                noSharing = "FIEMAP unavailable: " + Fiemap.unavailableReason();
            }
            else if (null == type || !ONE_ADDRESS_SPACE.contains(type))
            {
                noSharing = "file system type " + (null == type ? "unknown" : type) + ": its FIEMAP physical " +
                    "addresses are not known to name one address space per st_dev (known: " +
                    String.join(", ", new TreeSet<>(ONE_ADDRESS_SPACE)) + ")";
            }
            else
            {
                try
                {
                    extentReads.increment();
                    extents = Fiemap.extents(handle);
                }
                catch (final Fiemap.NotSupportedException ex)
                {
                    noSharing = "the file system does not report extents: " + ex.getMessage();
                }
            }
            final FileAttributes after = FileAttributes.of(handle);
            if (after.equals(before))
            {
                return new Loaded(after, extents, noSharing);
            }
            if (attempt == MAX_ATTEMPTS)
            {
                throw new IOException(path + " keeps changing while its extents are read (" + MAX_ATTEMPTS +
                    " attempts)");
            }
        }
    }

    /**
     * Reads the file's extents now (one FIEMAP through its anchor, so the opened inode whatever its path names) and
     * lays them out as its layout was, with the file system index its layout carries.
     */
    Layout currentLayout(final OpenFile state) throws IOException
    {
        final InodeAnchor anchor = state.anchor;
        extentReads.increment();
        final List<FiemapExtent> extents = Fiemap.extents(anchor.handle());
        if (anchor.isClosed())
        {
            throw new NoSuchFileException(state.path.toString(), null, "closed while its extents were read");
        }
        return Layout.of(extents, Math.max(state.size, state.layout.pages << pageShift), pageSize,
            state.deviceBits);
    }
}
