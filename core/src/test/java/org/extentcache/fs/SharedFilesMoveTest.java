package org.extentcache.fs;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The trust rules of {@link ExtentMoveTest}, through a shared cache read by two clients (two joins in one JVM, as two
 * processes): a file's extents move behind the cache's back, the freed block goes to a new file, and the new file is
 * served its own bytes in both clients, never the bytes the moved file loaded under that block. And the other side:
 * clones opened one after another in one process vouch for each other with one extent read, not a read of every
 * page.
 */
final class SharedFilesMoveTest
{
    private static final int PAGE = 4096;
    private static final int PAGES = 4;

    @RegisterExtension
    final SharedFilesClients clients = new SharedFilesClients();

    @BeforeEach
    void mount()
    {
        Assumptions.assumeTrue(ExtentMoveTest.onPath("xfs_io"), "no xfs_io on the PATH (xfsprogs)");
    }

    @ParameterizedTest
    @EnumSource(ExtentMoveTest.Move.class)
    void aBlockFreedByAMoveIsNeverServedWithTheOldFilesBytesInAnyClient(final ExtentMoveTest.Move move)
        throws IOException
    {
        final byte[] a = FileSystemTranslatorTest.random(1, PAGES * PAGE);
        final Path pathA = clients.xfs().resolve("a");
        final Path pathB = clients.xfs().resolve("b");
        ExtentMoveTest.writeFragmented(pathA, a, clients.xfs().resolve("spacer"));
        ExtentMoveTest.writeSynced(pathB, a);
        final Map<Long, Long> blocksOfA = ExtentMoveTest.blocksByPage(pathA);
        assertEquals(PAGES, blocksOfA.size(), "A is allocated: " + blocksOfA);

        final SharedFiles x = clients.client(64);
        final SharedFiles y = clients.client(64);
        final long idA = x.open(pathA);
        assertArrayEquals(a, SharedFilesFixture.readAll(x, idA));
        if (ExtentMoveTest.Move.DEDUPE_ONTO_AN_OPEN_FILE == move)
        {
            assertArrayEquals(a, SharedFilesFixture.readAll(x, x.open(pathB)));
        }

        final byte[] aAfter = ExtentMoveTest.move(move, pathA, pathB, a);
        final byte[] c = FileSystemTranslatorTest.random(3, PAGE);
        final Path pathC = ExtentMoveTest.landOn(clients.xfs(), blocksOfA.values(), c);

        final long inX = x.open(pathC);
        assertArrayEquals(c, SharedFilesFixture.readAll(x, inX), "C was served, in the client that loaded A, the bytes A had in the " +
            "block C now maps (" + move + ")");
        final long inY = y.open(pathC);
        assertArrayEquals(c, SharedFilesFixture.readAll(y, inY), "C, in the other client (" + move + ")");
        x.revalidate(idA);
        assertArrayEquals(aAfter, SharedFilesFixture.readAll(x, idA), "A after " + move);
        assertArrayEquals(c, SharedFilesFixture.readAll(x, inX), "C, read again");
    }

    @Test
    void clonesOpenedOneAfterAnotherVouchForEachOtherWithOneExtentReadEach() throws IOException
    {
        final byte[] base = FileSystemTranslatorTest.random(5, 64 * PAGE);
        final Path pathBase = clients.xfs().resolve("base");
        ExtentMoveTest.writeSynced(pathBase, base);
        final SharedFiles x = clients.client(64);
        final long first = x.open(pathBase);
        assertArrayEquals(base, SharedFilesFixture.readAll(x, first));
        for (int clone = 0; clone < 3; clone++)
        {
            final Path path = clients.xfs().resolve("clone" + clone);
            ReflinkDir.cloneFile(pathBase, path);
            assertArrayEquals(base, SharedFilesFixture.readAll(x, x.open(path)));
        }
        final SharedFiles.Stats stats = x.stats();
        assertEquals(64, stats.loads());
        assertEquals(0, stats.verifications(), "a clone read its pages to check frames the base vouches for: " +
            stats);
        assertEquals(3, stats.confirmations(), "one extent read of the base per clone opened: " + stats);
        assertEquals(3 * 64, stats.sharedHits());
    }
}
