package org.extentcache.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Fiemap} against the file system of the temporary directory, and (when {@code EXTENTCACHE_REFLINK_DIR} names
 * a directory on XFS with {@code reflink=1}, or on btrfs) against reflink copies.
 *
 * <p>Random data is seeded; the seed is printed on failure.
 */
class FiemapTest
{
    private static final int KIB = 1024;
    private static final int BLOCK = 4 * KIB;
    private static final String REFLINK_DIR_VARIABLE = "EXTENTCACHE_REFLINK_DIR";
    /** File systems whose Linux drivers implement FS_IOC_FIEMAP: NotSupportedException on them is a bug. */
    private static final Set<String> FIEMAP_FILE_SYSTEMS = Set.of("ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs");

    private final long seed = System.nanoTime();
    private final Random random = new Random(seed);

    @TempDir
    Path dir;

    @BeforeEach
    void requireBinding()
    {
        Assumptions.assumeTrue(Fiemap.isAvailable(), () -> "FIEMAP binding unavailable: " + Fiemap.unavailableReason());
    }

    @Test
    void extentsCoverAFileWrittenInFull() throws IOException
    {
        final Path file = dir.resolve("dense");
        final int length = 3 * 64 * KIB;
        writeRandom(file, 0, length);

        final List<FiemapExtent> extents = extentsOrAbort(file);

        assertInOrderWithoutOverlap(extents);
        assertCovers(extents, 0, length);
        assertTrue(extents.get(extents.size() - 1).has(Fiemap.FIEMAP_EXTENT_LAST), () -> describe(extents));
        for (final FiemapExtent extent : extents)
        {
            assertTrue(extent.hasStablePhysical(), () -> "after FIEMAP_FLAG_SYNC: " + describe(extents));
        }
    }

    @Test
    void sparseFileShowsTheHole() throws IOException
    {
        final Path file = dir.resolve("sparse");
        writeRandom(file, 0, BLOCK);
        writeRandom(file, 1024 * KIB, BLOCK);

        final List<FiemapExtent> extents = extentsOrAbort(file);

        assertInOrderWithoutOverlap(extents);
        assertCovers(extents, 0, BLOCK);
        assertCovers(extents, 1024 * KIB, 1024 * KIB + BLOCK);
        // The hole [4 KiB, 1 MiB) holds no data: a gap between extents, or (XFS speculative preallocation)
        // unwritten extents.
        final long holeStart = BLOCK;
        final long holeEnd = 1024 * KIB;
        assertTrue(extents.stream()
                .noneMatch(e -> e.logical() < holeEnd && e.logicalEnd() > holeStart && e.hasStablePhysical()),
            () -> "data in the hole [" + holeStart + ", " + holeEnd + "): " + describe(extents));
        boolean gapOrUnwritten = false;
        for (int i = 1; i < extents.size(); i++)
        {
            gapOrUnwritten |= extents.get(i).logical() > extents.get(i - 1).logicalEnd() ||
                extents.get(i).has(Fiemap.FIEMAP_EXTENT_UNWRITTEN);
        }
        assertTrue(gapOrUnwritten, () -> "no gap between extents: " + describe(extents));
        assertTrue(extents.get(extents.size() - 1).has(Fiemap.FIEMAP_EXTENT_LAST), () -> describe(extents));
    }

    @Test
    void manyExtentsSpanSeveralBatches() throws IOException
    {
        final Path file = dir.resolve("striped");
        final int blocks = 2 * Fiemap.EXTENTS_PER_CALL + 10;
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE))
        {
            for (int i = 0; i < blocks; i++)
            {
                final ByteBuffer block = ByteBuffer.wrap(randomBytes(BLOCK));
                while (block.hasRemaining())
                {
                    channel.write(block, 2L * BLOCK * i + block.position());
                }
            }
        }

        final List<FiemapExtent> extents = extentsOrAbort(file);

        assertInOrderWithoutOverlap(extents);
        // At least one extent per block written; a file system may fill the holes with unwritten extents (XFS
        // speculative preallocation), never with data.
        assertTrue(extents.size() >= blocks, () -> blocks + " blocks written: " + describe(extents));
        for (int i = 0; i < blocks; i++)
        {
            final long written = 2L * BLOCK * i;
            assertCovers(extents, written, written + BLOCK);
            assertTrue(extentAt(extents, written).hasStablePhysical(), () -> "at " + written + ": " + describe(extents));
            final long hole = written + BLOCK;
            assertTrue(extents.stream()
                    .noneMatch(e -> e.logical() <= hole && hole < e.logicalEnd() && e.hasStablePhysical()),
                () -> "data in the hole at " + hole + ": " + describe(extents));
        }
        assertTrue(extents.get(extents.size() - 1).has(Fiemap.FIEMAP_EXTENT_LAST), () -> describe(extents));
    }

    @Test
    void emptyFileHasNoExtents() throws IOException
    {
        final Path file = Files.createFile(dir.resolve("empty"));

        assertEquals(List.of(), extentsOrAbort(file));
    }

    @Test
    void missingFileNamesThePath()
    {
        final Path file = dir.resolve("missing");

        final IOException ex = assertThrows(IOException.class, () -> Fiemap.extents(file));

        assertTrue(
            ex instanceof NoSuchFileException || ex.getMessage().contains(file.toString()),
            () -> "expected NoSuchFileException or a message naming " + file + ": " + ex);
        assertTrue(ex.getMessage().contains(file.toString()), ex::getMessage);
    }

    @Test
    void fileSystemWithoutFiemapThrowsNotSupported()
    {
        final Path file = Paths.get("/proc/self/status");
        Assumptions.assumeTrue(Files.isReadable(file), "no procfs");

        final Fiemap.NotSupportedException ex =
            assertThrows(Fiemap.NotSupportedException.class, () -> Fiemap.extents(file));

        assertTrue(ex.getMessage().contains(file.toString()), ex::getMessage);
    }

    @Test
    void extentRejectsNegativeValues()
    {
        assertThrows(IllegalArgumentException.class, () -> new FiemapExtent(-1, 0, 4096, 0));
        assertThrows(IllegalArgumentException.class, () -> new FiemapExtent(0, -1, 4096, 0));
        assertThrows(IllegalArgumentException.class, () -> new FiemapExtent(0, 0, -1, 0));
        assertThrows(IllegalArgumentException.class, () -> new FiemapExtent(Long.MAX_VALUE, 0, 1, 0));
        final FiemapExtent shared = new FiemapExtent(0, 8192, 4096,
            Fiemap.FIEMAP_EXTENT_SHARED | Fiemap.FIEMAP_EXTENT_LAST);
        assertTrue(shared.isShared());
        assertTrue(shared.hasStablePhysical());
        assertTrue(shared.has(Fiemap.FIEMAP_EXTENT_SHARED | Fiemap.FIEMAP_EXTENT_LAST));
        assertFalse(new FiemapExtent(0, 0, 4096, Fiemap.FIEMAP_EXTENT_UNWRITTEN).hasStablePhysical());
        assertFalse(new FiemapExtent(0, 0, 4096, Fiemap.FIEMAP_EXTENT_DELALLOC).hasStablePhysical());
        assertTrue(shared.toString().contains("[LAST|SHARED]"), shared::toString);
    }

    /**
     * A reflink copy shares every block with its base; rewriting a block of the copy moves that block of the copy
     * only. Needs {@code EXTENTCACHE_REFLINK_DIR}: on a scratch machine, as root,
     * {@code truncate -s 512M /tmp/xfs.img && mkfs.xfs -q -m reflink=1 /tmp/xfs.img && mkdir -p /mnt/reflink &&
     * mount -o loop /tmp/xfs.img /mnt/reflink}, then run with {@code EXTENTCACHE_REFLINK_DIR=/mnt/reflink}.
     */
    @Test
    void reflinkCopySharesPhysicalBlocksUntilRewritten() throws Exception
    {
        final String reflinkDir = System.getenv(REFLINK_DIR_VARIABLE);
        if (reflinkDir == null || reflinkDir.isEmpty())
        {
            Assumptions.abort(REFLINK_DIR_VARIABLE + " not set: the reflink test needs a directory on a file system " +
                "with reflink copies (XFS made with mkfs.xfs -m reflink=1, or btrfs); /tmp usually is not one");
        }
        final Path root = Paths.get(reflinkDir);
        assertTrue(Files.isDirectory(root), () -> REFLINK_DIR_VARIABLE + " is not a directory: " + root);
        final Path work = Files.createTempDirectory(root, "fiemap-test");
        final Path base = work.resolve("base");
        final Path clone = work.resolve("clone");
        try
        {
            final int length = 1024 * KIB;
            writeRandom(base, 0, length);
            copyReflink(base, clone);

            final List<FiemapExtent> baseBefore = Fiemap.extents(base);
            final List<FiemapExtent> cloneBefore = Fiemap.extents(clone);
            assertCovers(baseBefore, 0, length);
            assertCovers(cloneBefore, 0, length);
            for (final FiemapExtent extent : baseBefore)
            {
                assertTrue(extent.isShared() && extent.hasStablePhysical(), () -> "base: " + describe(baseBefore));
            }
            for (final FiemapExtent extent : cloneBefore)
            {
                assertTrue(extent.isShared() && extent.hasStablePhysical(), () -> "clone: " + describe(cloneBefore));
            }
            for (long offset = 0; offset < length; offset += BLOCK)
            {
                final long at = offset;
                assertEquals(physicalAt(baseBefore, at), physicalAt(cloneBefore, at),
                    () -> "offset " + at + ": base " + describe(baseBefore) + ", clone " + describe(cloneBefore));
            }

            try (FileChannel channel = FileChannel.open(clone, StandardOpenOption.WRITE))
            {
                final ByteBuffer block = ByteBuffer.wrap(randomBytes(BLOCK));
                while (block.hasRemaining())
                {
                    channel.write(block, block.position());
                }
                channel.force(true);
            }

            final List<FiemapExtent> baseAfter = Fiemap.extents(base);
            final List<FiemapExtent> cloneAfter = Fiemap.extents(clone);
            assertNotEquals(physicalAt(baseAfter, 0), physicalAt(cloneAfter, 0),
                () -> "rewritten block still shared: base " + describe(baseAfter) + ", clone " + describe(cloneAfter));
            assertFalse(extentAt(cloneAfter, 0).isShared(), () -> "clone: " + describe(cloneAfter));
            for (long offset = 0; offset < length; offset += BLOCK)
            {
                final long at = offset;
                assertEquals(physicalAt(baseBefore, at), physicalAt(baseAfter, at),
                    () -> "base moved at offset " + at + ": before " + describe(baseBefore) + ", after " +
                        describe(baseAfter));
                if (at >= BLOCK)
                {
                    assertEquals(physicalAt(baseAfter, at), physicalAt(cloneAfter, at),
                        () -> "offset " + at + " no longer shared: base " + describe(baseAfter) + ", clone " +
                            describe(cloneAfter));
                }
            }
        }
        finally
        {
            Files.deleteIfExists(clone);
            Files.deleteIfExists(base);
            Files.deleteIfExists(work);
        }
    }

    /** Extents of a file in {@link #dir}, or the test aborts if its file system has no FIEMAP. */
    private List<FiemapExtent> extentsOrAbort(final Path file) throws IOException
    {
        try
        {
            return Fiemap.extents(file);
        }
        catch (final Fiemap.NotSupportedException ex)
        {
            final String type = Files.getFileStore(file).type();
            if (FIEMAP_FILE_SYSTEMS.contains(type))
            {
                fail("file system " + type + " supports FIEMAP, yet: " + ex.getMessage(), ex);
            }
            return Assumptions.abort("file system " + type + " of " + dir + " has no FIEMAP: " + ex.getMessage());
        }
    }

    private void writeRandom(final Path file, final long position, final int length) throws IOException
    {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE))
        {
            final ByteBuffer data = ByteBuffer.wrap(randomBytes(length));
            while (data.hasRemaining())
            {
                channel.write(data, position + data.position());
            }
        }
    }

    private byte[] randomBytes(final int length)
    {
        final byte[] bytes = new byte[length];
        random.nextBytes(bytes);
        return bytes;
    }

    private static void copyReflink(final Path from, final Path to) throws IOException, InterruptedException
    {
        final Process cp = new ProcessBuilder("cp", "--reflink=always", from.toString(), to.toString())
            .redirectErrorStream(true)
            .start();
        final String output;
        try
        {
            output = new String(cp.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
        finally
        {
            if (!cp.waitFor(60, TimeUnit.SECONDS))
            {
                cp.destroyForcibly();
            }
        }
        assertEquals(0, cp.exitValue(), () -> "cp --reflink=always " + from + ' ' + to + " failed: " + output);
    }

    private void assertInOrderWithoutOverlap(final List<FiemapExtent> extents)
    {
        assertFalse(extents.isEmpty(), "no extents; seed=" + seed);
        for (int i = 1; i < extents.size(); i++)
        {
            final int index = i;
            assertTrue(extents.get(i).logical() >= extents.get(i - 1).logicalEnd(),
                () -> "extent " + index + " overlaps or precedes the one before: " + describe(extents));
        }
    }

    /** Asserts the extents leave no hole in {@code [from, to)}. */
    private void assertCovers(final List<FiemapExtent> extents, final long from, final long to)
    {
        long covered = from;
        for (final FiemapExtent extent : extents)
        {
            if (extent.logical() <= covered && covered < extent.logicalEnd())
            {
                covered = extent.logicalEnd();
            }
        }
        final long reached = covered;
        assertTrue(reached >= to,
            () -> "extents cover [" + from + ", " + reached + ") of [" + from + ", " + to + "): " + describe(extents));
    }

    private FiemapExtent extentAt(final List<FiemapExtent> extents, final long offset)
    {
        for (final FiemapExtent extent : extents)
        {
            if (extent.logical() <= offset && offset < extent.logicalEnd())
            {
                return extent;
            }
        }
        return fail("no extent at offset " + offset + ": " + describe(extents));
    }

    /** @return the device byte that holds file byte {@code offset}. */
    private long physicalAt(final List<FiemapExtent> extents, final long offset)
    {
        final FiemapExtent extent = extentAt(extents, offset);
        return extent.physical() + (offset - extent.logical());
    }

    private String describe(final List<FiemapExtent> extents)
    {
        return extents + " (seed=" + seed + ')';
    }
}
