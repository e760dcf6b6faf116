package org.extentcache.fs;

import org.extentcache.shm.SharedCache;
import org.extentcache.shm.SharedPage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Real reflinked files on XFS read by two clients of one shared cache (two joins in one JVM, as two processes would):
 * one copy of the shared blocks, each client checking what the other loaded, and a frame holding wrong bytes for a
 * key never served to a file whose block it is.
 */
class SharedFilesTest
{
    private static final int PAGE = 4096;
    private static final int PAGES = 64;

    @RegisterExtension
    final SharedFilesClients clients = new SharedFilesClients();

    private byte[] base(final long seed) throws IOException
    {
        final byte[] bytes = new byte[PAGES * PAGE - 100]; // a partial last page
        new Random(seed).nextBytes(bytes);
        Files.write(clients.xfs().resolve("base"), bytes);
        return bytes;
    }

    @Test
    void clonesReadInTwoClientsHoldOneCopyAndEachChecksWhatTheOtherLoaded() throws IOException
    {
        final long seed = System.nanoTime();
        final byte[] expected = base(seed);
        for (int clone = 0; clone < 3; clone++)
        {
            ReflinkDir.cloneFile(clients.xfs().resolve("base"), clients.xfs().resolve("clone" + clone));
        }
        final SharedCache cacheA = clients.cache(256);
        final SharedCache cacheB = clients.cache(256);
        final SharedFiles a = clients.files(cacheA);
        final SharedFiles b = clients.files(cacheB);
        for (int clone = 0; clone < 3; clone++)
        {
            final long inA = a.open(clients.xfs().resolve("clone" + clone));
            assertNull(a.sharingUnavailableReason(inA));
            assertTrue(a.readsDirectly(inA));
            assertArrayEquals(expected, SharedFilesFixture.readAll(a, inA), "seed " + seed);
        }
        assertEquals(PAGES, a.stats().loads(), "one load per block, not per clone");
        assertEquals(PAGES, cacheA.stats().framesReady());
        final long inB = b.open(clients.xfs().resolve("base"));
        assertArrayEquals(expected, SharedFilesFixture.readAll(b, inB), "seed " + seed);
        assertEquals(0, b.stats().loads(), "the second client loaded blocks the first had");
        assertEquals(PAGES, b.stats().verifications(), "each frame the other client loaded is checked once");
        assertEquals(0, b.stats().verificationMisses());
        assertArrayEquals(expected, SharedFilesFixture.readAll(b, inB));
        assertEquals(PAGES, b.stats().verifications(), "checked again without need");
        assertEquals(PAGES, cacheB.stats().framesReady(), "one copy for both clients");
    }

    @Test
    void aFrameWithOtherBytesUnderAKeyIsNeverServedAndIsReplacedForEveryone() throws IOException
    {
        final long seed = System.nanoTime();
        final byte[] expected = base(seed);
        final SharedCache cacheA = clients.cache(256);
        final SharedCache cacheB = clients.cache(256);
        final SharedFiles a = clients.files(cacheA);
        final SharedFiles b = clients.files(cacheB);
        final long inA = a.open(clients.xfs().resolve("base"));
        assertArrayEquals(expected, SharedFilesFixture.readAll(a, inA));
        // A frame of page 5's key now holds other bytes (as if the block was freed and reused since it was loaded)
        final long key = SharedFilesFixture.keyOf(cacheA, clients.xfs().resolve("base"), 5);
        assertTrue(cacheA.invalidate(cacheA.lookup(key)));
        cacheA.load(key, (k, page) ->
        {
            while (page.hasRemaining())
            {
                page.put((byte)0x5a);
            }
        });
        final long inB = b.open(clients.xfs().resolve("base"));
        assertArrayEquals(expected, SharedFilesFixture.readAll(b, inB), "seed " + seed);
        assertEquals(1, b.stats().verificationMisses());
        assertEquals(1, cacheA.stats().verificationMisses());
        // the replacement holds the file's bytes for every client: A, which vouched for its own (wrong) load, now
        // finds its handle stale and its next lookup the new frame
        final ByteBuffer page = ByteBuffer.allocate(PAGE);
        final long handle = cacheA.lookup(key);
        assertTrue(cacheA.read(handle, 0, page, PAGE));
        assertArrayEquals(java.util.Arrays.copyOfRange(expected, 5 * PAGE, 6 * PAGE), page.array());
    }

    @Test
    void pinsHoldSharedPagesAndMisuseIsRefused() throws IOException
    {
        final byte[] expected = base(7);
        final SharedCache cache = clients.cache(16);
        final SharedFiles files = clients.files(cache);
        final long file = files.open(clients.xfs().resolve("base"));
        try (SharedPage page = files.pin(file, 3))
        {
            final byte[] bytes = new byte[PAGE];
            page.buffer().getBytes(0, bytes);
            assertArrayEquals(java.util.Arrays.copyOfRange(expected, 3 * PAGE, 4 * PAGE), bytes);
            assertArrayEquals(expected, SharedFilesFixture.readAll(files, file), "a 16-frame cache reads a 64-page file around a pin");
            page.buffer().getBytes(0, bytes);
            assertArrayEquals(java.util.Arrays.copyOfRange(expected, 3 * PAGE, 4 * PAGE), bytes, "pinned bytes moved");
        }
        assertThrows(IllegalArgumentException.class, () -> files.pin(file, PAGES));
        assertThrows(IllegalArgumentException.class, () -> files.read(file, ByteBuffer.allocate(1), -1));
        assertEquals(-1, files.read(file, ByteBuffer.allocate(1), files.size(file)));
        files.close(file);
        assertThrows(NoSuchFileException.class, () -> files.read(file, ByteBuffer.allocate(1), 0));
        assertThrows(NoSuchFileException.class, () -> files.close(file));
    }

    @Test
    void filesThatCannotShareAreReadStraightFromTheFile() throws IOException
    {
        final SharedCache cache = clients.cache(16);
        final SharedFiles files = clients.files(cache);
        final Path tmpfsFile = clients.shm().resolve("private");
        final byte[] bytes = new byte[3 * PAGE + 5];
        new Random(3).nextBytes(bytes);
        Files.write(tmpfsFile, bytes);
        final long file = files.open(tmpfsFile);
        assertTrue(null != files.sharingUnavailableReason(file));
        assertArrayEquals(bytes, SharedFilesFixture.readAll(files, file));
        assertEquals(0, cache.stats().framesReady(), "a private page entered the shared file");
        assertTrue(files.stats().privateReads() >= 4);
    }
}
