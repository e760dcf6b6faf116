package org.extentcache.fs;

import org.extentcache.CacheBooks;
import org.extentcache.CachedFile;
import org.extentcache.ExtentCache;
import org.extentcache.translate.Extent;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The file system moves an open file's extents behind the cache's back, keeping its inode, size and times: dedupe
 * ({@code FIDEDUPERANGE}), defragmentation ({@code xfs_fsr}); and, for good measure, moves that do change the times
 * (punching a hole, reflinking over). The blocks the file gave up are freed; when the file system hands one to a new
 * file and that file is opened, the new file must be served its own bytes, never the cached bytes of the file that
 * used to map the block. Real XFS with reflink ({@link ReflinkDir}).
 */
final class ExtentMoveTest
{
    private static final int PAGE = 4096;
    private static final int PAGES = 4;
    /** Files of one page written before giving up on the file system reusing a freed block. */
    private static final int MAX_LANDING_ATTEMPTS = 4096;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    private Path dir;
    private FileSystemTranslator translator;

    /** What moves file A's extents (A is open and cached when it runs). */
    enum Move
    {
        /** {@code FIDEDUPERANGE} from B onto A: A maps B's blocks, its own are freed; nothing of A's stat changes. */
        DEDUPE,
        /** The same with B open and cached too: A's pages now map blocks that B vouches for. */
        DEDUPE_ONTO_AN_OPEN_FILE,
        /** {@code xfs_fsr} makes fragmented A contiguous in new blocks and frees the old ones; stat unchanged. */
        DEFRAG,
        /** {@code fallocate(PUNCH_HOLE)} over all of A: its blocks are freed (times change). */
        PUNCH_HOLE,
        /** {@code FICLONERANGE} from B over A: A maps B's blocks (times change). */
        REFLINK_OVER
    }

    @BeforeEach
    void mount() throws IOException
    {
        dir = ReflinkDir.create();
        Assumptions.assumeTrue(onPath("xfs_io"), "no xfs_io on the PATH (xfsprogs)");
    }

    static boolean onPath(final String command)
    {
        for (final String entry : System.getenv().getOrDefault("PATH", "").split(":"))
        {
            if (!entry.isEmpty() && Files.isExecutable(Path.of(entry, command)))
            {
                return true;
            }
        }
        return false;
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

    @ParameterizedTest
    @EnumSource(Move.class)
    void aBlockFreedByAMoveIsNeverServedWithTheOldFilesBytesToTheFileThatGetsItNext(final Move move)
        throws IOException
    {
        final byte[] a = FileSystemTranslatorTest.random(1, PAGES * PAGE);
        final Path pathA = dir.resolve("a");
        final Path pathB = dir.resolve("b");
        writeFragmented(pathA, a, dir.resolve("spacer"));
        writeSynced(pathB, a);
        final Map<Long, Long> blocksOfA = blocksByPage(pathA);
        assertEquals(PAGES, blocksOfA.size(), "A is allocated: " + blocksOfA);

        translator = new FileSystemTranslator(PAGE);
        final ExtentCache cache = books.track(ExtentCache.builder().translator(translator).capacityFrames(64).build());
        final long idA = translator.open(pathA);
        assertArrayEquals(a, readAll(cache.file(idA)));
        if (Move.DEDUPE_ONTO_AN_OPEN_FILE == move)
        {
            assertArrayEquals(a, readAll(cache.file(translator.open(pathB))));
        }

        final byte[] aAfter = move(move, pathA, pathB, a);
        final Map<Long, Long> movedTo = blocksByPage(pathA);
        for (final long block : blocksOfA.values())
        {
            assertFalse(movedTo.containsValue(block), move + " moved A off block " + block + ": " + movedTo);
        }

        final byte[] c = FileSystemTranslatorTest.random(3, PAGE);
        final Path pathC = landOn(dir, blocksOfA.values(), c);
        final long idC = translator.open(pathC);
        assertArrayEquals(c, readAll(cache.file(idC)), "C was served the bytes A had in the block C now maps (" +
            move + ")");
        assertArrayEquals(aAfter, readAll(cache.file(idA)), "A after " + move);
        assertArrayEquals(c, readAll(cache.file(idC)), "C, read again");
    }

    /** A revalidation compares the file's extents, not only its attributes, and follows the move. */
    @ParameterizedTest
    @EnumSource(value = Move.class, names = {"DEDUPE", "DEFRAG"})
    void revalidateReloadsAFileWhoseExtentsMovedWithItsAttributesUnchanged(final Move move) throws IOException
    {
        final byte[] a = FileSystemTranslatorTest.random(5, PAGES * PAGE);
        final Path pathA = dir.resolve("a");
        final Path pathB = dir.resolve("b");
        writeFragmented(pathA, a, dir.resolve("spacer"));
        writeSynced(pathB, a);
        translator = new FileSystemTranslator(PAGE);
        final ExtentCache cache = books.track(ExtentCache.builder().translator(translator).capacityFrames(64).build());
        final long idA = translator.open(pathA);
        assertArrayEquals(a, readAll(cache.file(idA)));
        final FileAttributes before = FileAttributes.of(pathA);

        move(move, pathA, pathB, a);
        assertEquals(before, FileAttributes.of(pathA), move + " kept inode, size and times");
        assertTrue(translator.revalidate(idA), "the extents moved: A must be reloaded");
        final Map<Long, Long> now = blocksByPage(pathA);
        final Extent extent = new Extent();
        for (long page = 0; page < PAGES; page++)
        {
            translator.translate(idA, page, extent);
            assertEquals(now.get(page).longValue(), extent.blockOf(page) & ((1L << BlockKeys.BLOCK_BITS) - 1),
                "page " + page + " is keyed by the block it maps now");
        }
        assertArrayEquals(a, readAll(cache.file(idA)));
        assertFalse(translator.revalidate(idA), "nothing moved since");
    }

    /** Opening a file that shares a block with an open one that was not moved keeps the sharing. */
    @Test
    void anUnmovedFileStillSharesWithAFileOpenedLater() throws IOException
    {
        final byte[] a = FileSystemTranslatorTest.random(7, PAGES * PAGE);
        final Path pathA = dir.resolve("a");
        writeSynced(pathA, a);
        final Path clone = dir.resolve("clone");
        ReflinkDir.cloneFile(pathA, clone);
        translator = new FileSystemTranslator(PAGE);
        final ExtentCache cache = books.track(ExtentCache.builder().translator(translator).capacityFrames(64).build());
        assertArrayEquals(a, readAll(cache.file(translator.open(pathA))));
        final long reads = cache.stats().deviceReads();
        final long idClone = translator.open(clone);
        assertArrayEquals(a, readAll(cache.file(idClone)));
        assertEquals(reads, cache.stats().deviceReads(), "the clone is served from A's frames");
    }

    /**
     * A sharer changed by another process (its page now in a new block) and then read through the cache loads its new
     * bytes under the old shared block's key: the documented hazard of changing an open file. The next open of a file
     * that maps the block finds the sharer changed, and drops what was loaded through it before trusting the block.
     */
    @Test
    void framesLoadedThroughAChangedSharerAreDroppedBeforeAnotherFileTrustsTheBlock() throws IOException
    {
        final byte[] base = FileSystemTranslatorTest.random(13, PAGES * PAGE);
        final Path pathA = dir.resolve("a");
        writeSynced(pathA, base);
        final Path pathB = dir.resolve("b");
        final Path pathC = dir.resolve("c");
        ReflinkDir.cloneFile(pathA, pathB);
        ReflinkDir.cloneFile(pathA, pathC);
        translator = new FileSystemTranslator(PAGE);
        final ExtentCache cache = books.track(ExtentCache.builder().translator(translator).capacityFrames(64).build());
        final long idA = translator.open(pathA);
        final long idB = translator.open(pathB);
        final byte[] changed = FileSystemTranslatorTest.random(17, PAGE);
        try (FileChannel channel = FileChannel.open(pathB, StandardOpenOption.WRITE))
        {
            writeFully(channel, ByteBuffer.wrap(changed), PAGE);
            channel.force(true);
        }
        FileSystemTranslatorTest.bumpTimes(pathB);
        assertArrayEquals(changed, FileSystemTranslatorTest.read(cache.file(idB), PAGE, PAGE),
            "B's new bytes, loaded under the block B shared with A and C");

        final long idC = translator.open(pathC);
        assertArrayEquals(base, readAll(cache.file(idC)), "C");
        assertArrayEquals(base, readAll(cache.file(idA)), "A");
        assertArrayEquals(changed, FileSystemTranslatorTest.read(cache.file(idB), PAGE, PAGE), "B");
    }

    /**
     * The checks cost what the class comment says: opening the n-th clone reads two extent lists (its own and one
     * sharer's), not n; a revalidation of an unchanged file reads one.
     */
    @Test
    void openingTheNthCloneReadsTwoExtentListsNotN() throws IOException
    {
        final byte[] a = FileSystemTranslatorTest.random(9, PAGES * PAGE);
        final Path base = dir.resolve("base");
        writeSynced(base, a);
        translator = new FileSystemTranslator(PAGE);
        final ExtentCache cache = books.track(ExtentCache.builder().translator(translator).capacityFrames(64).build());
        translator.open(base);
        for (int n = 1; n <= 8; n++)
        {
            final Path clone = dir.resolve("clone" + n);
            ReflinkDir.cloneFile(base, clone);
            final long before = translator.extentReads();
            final long id = translator.open(clone);
            assertEquals(2, translator.extentReads() - before, "FIEMAP calls to open clone " + n);
            assertArrayEquals(a, readAll(cache.file(id)));
            final long beforeRevalidate = translator.extentReads();
            assertFalse(translator.revalidate(id));
            assertEquals(1, translator.extentReads() - beforeRevalidate, "FIEMAP calls to revalidate clone " + n);
        }
        assertEquals(PAGES, cache.stats().deviceReads() + cache.stats().pagesReadAhead(),
            "the clones share the base's frames");
    }

    /** Runs the move; returns A's bytes after it. */
    static byte[] move(final Move move, final Path pathA, final Path pathB, final byte[] a) throws IOException
    {
        final long length = a.length;
        switch (move)
        {
            case DEDUPE, DEDUPE_ONTO_AN_OPEN_FILE ->
            {
                final String out = xfsIo(pathA, "dedupe " + pathB + " 0 0 " + length);
                assertTrue(out.contains("deduped " + length + "/" + length), out);
                return a;
            }
            case DEFRAG ->
            {
                Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/sbin/xfs_fsr")), "no /usr/sbin/xfs_fsr");
                final Map<Long, Long> before = blocksByPage(pathA);
                ReflinkDir.run(List.of("/usr/sbin/xfs_fsr", pathA.toString()));
                Assumptions.assumeTrue(Fiemap.extents(pathA).size() < PAGES,
                    () -> "xfs_fsr left A as it was: " + blocksByPageUnchecked(pathA));
                // on an aged file system xfs_fsr may leave part of the file where it was: the tests need a move
                final Map<Long, Long> after = blocksByPage(pathA);
                Assumptions.assumeTrue(before.values().stream().noneMatch(after::containsValue),
                    () -> "xfs_fsr left some of A's blocks in place (free space too fragmented?): before " + before +
                        ", after " + after);
                return a;
            }
            case PUNCH_HOLE ->
            {
                xfsIo(pathA, "fpunch 0 " + length);
                return new byte[a.length];
            }
            case REFLINK_OVER ->
            {
                final byte[] b = FileSystemTranslatorTest.random(11, a.length);
                Files.delete(pathB);
                writeSynced(pathB, b);
                xfsIo(pathA, "reflink " + pathB + " 0 0 " + length);
                return b;
            }
            default -> throw new AssertionError(move);
        }
    }

    /**
     * Writes files of one page with {@code bytes} until the file system allocates one of {@code blocks} (freed just
     * before) to one of them.
     *
     * @return that file.
     */
    static Path landOn(final Path dir, final java.util.Collection<Long> blocks, final byte[] bytes)
        throws IOException
    {
        for (int attempt = 0; attempt < MAX_LANDING_ATTEMPTS; attempt++)
        {
            final Path path = dir.resolve("c" + attempt);
            writeSynced(path, bytes);
            final Long block = blocksByPage(path).get(0L);
            if (null != block && blocks.contains(block))
            {
                return path;
            }
        }
        Assumptions.abort("the file system did not reuse any of the freed blocks " + blocks + " for " +
            MAX_LANDING_ATTEMPTS + " new files of one page");
        return null;
    }

    /** Writes {@code bytes} a page at a time, a page of {@code spacer} between, so each page is its own extent. */
    static void writeFragmented(final Path path, final byte[] bytes, final Path spacer) throws IOException
    {
        try (FileChannel file = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
             FileChannel gaps = FileChannel.open(spacer, StandardOpenOption.CREATE, StandardOpenOption.WRITE))
        {
            for (int page = 0; page < bytes.length / PAGE; page++)
            {
                writeFully(file, ByteBuffer.wrap(bytes, page * PAGE, PAGE), (long)page * PAGE);
                file.force(true);
                writeFully(gaps, ByteBuffer.allocate(PAGE), (long)page * PAGE);
                gaps.force(true);
            }
        }
    }

    /** Writes a new file with plain writes (no copy_file_range, which would reflink) and syncs it. */
    static void writeSynced(final Path path, final byte[] bytes) throws IOException
    {
        try (FileChannel file = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE))
        {
            writeFully(file, ByteBuffer.wrap(bytes), 0);
            file.force(true);
        }
    }

    private static void writeFully(final FileChannel channel, final ByteBuffer src, final long position)
        throws IOException
    {
        final int start = src.position();
        while (src.hasRemaining())
        {
            channel.write(src, position + src.position() - start);
        }
    }

    /** @return the file's physical block (in pages) by page, for its mapped pages. */
    static Map<Long, Long> blocksByPage(final Path path) throws IOException
    {
        final Map<Long, Long> blocks = new TreeMap<>();
        for (final FiemapExtent extent : Fiemap.extents(path))
        {
            for (long offset = 0; offset < extent.length(); offset += PAGE)
            {
                blocks.put((extent.logical() + offset) / PAGE, (extent.physical() + offset) / PAGE);
            }
        }
        return blocks;
    }

    private static String blocksByPageUnchecked(final Path path)
    {
        try
        {
            return blocksByPage(path).toString();
        }
        catch (final IOException ex)
        {
            return ex.toString();
        }
    }

    private static String xfsIo(final Path file, final String command) throws IOException
    {
        final Process process = new ProcessBuilder("xfs_io", "-c", command, file.toString())
            .redirectErrorStream(true).start();
        try
        {
            final String output = new String(process.getInputStream().readAllBytes());
            assertEquals(0, process.waitFor(), "xfs_io -c '" + command + "' " + file + ": " + output);
            assertFalse(output.contains("Operation not supported") || output.contains("failed"),
                "xfs_io -c '" + command + "' " + file + ": " + output);
            return output;
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IOException(ex);
        }
        finally
        {
            process.destroyForcibly();
        }
    }

    private static byte[] readAll(final CachedFile file) throws IOException
    {
        return FileSystemTranslatorTest.read(file, 0, (int)file.size());
    }
}
