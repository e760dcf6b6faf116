package org.extentcache.fs;

import org.extentcache.shm.SharedCache;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * An adversarial review of {@link SharedFiles} on XFS with reflink ({@code EXTENTCACHE_REFLINK_DIR}): extents that
 * move under an open file, and the edges of a read (odd offsets, the end of the file, holes, empty files, closes and
 * interrupts racing reads).
 */
class SharedFilesReviewTest
{
    private static final int PAGE = 4096;

    @RegisterExtension
    final SharedFilesClients clients = new SharedFilesClients();

    // ---------------------------------------------------------------------------------------------------------------
    // Trust: an open file whose extents moved
    // ---------------------------------------------------------------------------------------------------------------

    /**
     * File E is open and read (its blocks K loaded and vouched for at E's epoch). A dedupe then moves E's extents to
     * another copy of the same bytes (E's bytes never change: within the close-to-open contract), K is left to E's
     * former clone F, and F is overwritten in place. F, opened after, checks the frames of K, finds other bytes, and
     * reloads them with its own, vouched for at the current epoch, which is later than E's: so E, still open, trusts
     * them and is served F's bytes. DESIGN.md invariant 9 ("a frame is served to a file only while that file maps the
     * block now ... trust is checked against current extents") and the class comment ("a block freed by a dedupe
     * ... in one process's file and reused by another's is never served with the old bytes") both say otherwise;
     * within one JVM, BlockTrust re-reads the extents of every other file vouching for a block when a new file maps
     * it, and stops a moved one from sharing.
     */
    @Test
    void anOpenFileWhoseExtentsMovedIsNeverServedTheBytesOfItsFormerBlocksNewOwner() throws IOException
    {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/sbin/xfs_io")) ||
            Files.isExecutable(Path.of("/sbin/xfs_io")) || Files.isExecutable(Path.of("/usr/bin/xfs_io")),
            "no xfs_io");
        final long seed = System.nanoTime();
        System.out.println("seed " + seed);
        final int pages = 4;
        final byte[] original = new byte[pages * PAGE];
        new Random(seed).nextBytes(original);
        final Path e = clients.xfs().resolve("e");
        final Path f = clients.xfs().resolve("f");
        final Path s = clients.xfs().resolve("s");
        SharedFilesFixture.writeSynced(e, original);
        ReflinkDir.cloneFile(e, f); // f shares e's blocks K
        SharedFilesFixture.writeSynced(s, original); // the same bytes in blocks of its own

        final SharedCache cache = clients.cache(64);
        final SharedFiles files = clients.files(cache);
        final long inE = files.open(e);
        assertNull(files.sharingUnavailableReason(inE));
        assertArrayEquals(original, SharedFilesFixture.readAll(files, inE), "seed " + seed);
        final long keyBefore = SharedFilesFixture.keyOf(cache, e, 0);

        SharedFilesFixture.xfsIo(e, "dedupe " + s + " 0 0 " + original.length); // e now maps s's blocks; K is f's alone
        assertArrayEquals(original, Files.readAllBytes(e), "a dedupe never changes bytes");
        SharedFilesFixture.xfsIo(f, "pwrite -S 0x5a 0 " + original.length, "fsync"); // unshared: overwritten in place
        Assumptions.assumeTrue(keyBefore == SharedFilesFixture.keyOf(cache, f, 0), "XFS moved f's block on overwrite");
        Assumptions.assumeTrue(keyBefore != SharedFilesFixture.keyOf(cache, e, 0), "the dedupe left e on its block");

        final long inF = files.open(f);
        final byte[] overwritten = new byte[original.length];
        Arrays.fill(overwritten, (byte)0x5a);
        assertArrayEquals(overwritten, SharedFilesFixture.readAll(files, inF));
        assertEquals(pages, files.stats().verificationMisses(), "f found the frames of K holding e's old bytes");

        assertArrayEquals(original, SharedFilesFixture.readAll(files, inE), "e, open all along and never changed, was served the " +
            "bytes f now has in e's former blocks (seed " + seed + ")");
    }

    /**
     * The same move seen from two clients: b has e open and loaded its blocks K; e's extents move to s's copy, f gets
     * K alone and is overwritten in place; a opens f and replaces the frames of K with f's bytes. When b reads e
     * again, its check of K finds f's bytes: the stale view is b's own, so it must read e's new extents, not throw
     * out a's correct frames and load e's bytes under K (which a then throws out again: each client's read of its
     * file invalidated the other's frames, for as long as both files stay open).
     */
    @Test
    void aClientWhoseOpenFilesExtentsMovedReadsItsNewExtentsAndLeavesTheBlocksNewOwnerAlone() throws IOException
    {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/sbin/xfs_io")) ||
            Files.isExecutable(Path.of("/sbin/xfs_io")) || Files.isExecutable(Path.of("/usr/bin/xfs_io")),
            "no xfs_io");
        final long seed = System.nanoTime();
        System.out.println("seed " + seed);
        final byte[] original = new byte[4 * PAGE];
        new Random(seed).nextBytes(original);
        final Path e = clients.xfs().resolve("e");
        final Path f = clients.xfs().resolve("f");
        final Path s = clients.xfs().resolve("s");
        SharedFilesFixture.writeSynced(e, original);
        ReflinkDir.cloneFile(e, f);
        SharedFilesFixture.writeSynced(s, original);

        final SharedCache cacheB = clients.cache(64);
        final SharedFiles b = clients.files(cacheB);
        final SharedCache cacheA = clients.cache(64);
        final SharedFiles a = clients.files(cacheA);
        final long inE = b.open(e);
        assertArrayEquals(original, SharedFilesFixture.readAll(b, inE), "seed " + seed);
        final long key = SharedFilesFixture.keyOf(cacheB, e, 0);

        SharedFilesFixture.xfsIo(e, "dedupe " + s + " 0 0 " + original.length);
        SharedFilesFixture.xfsIo(f, "pwrite -S 0x5a 0 " + original.length, "fsync");
        Assumptions.assumeTrue(key == SharedFilesFixture.keyOf(cacheA, f, 0), "XFS moved f's block on overwrite");

        final long inF = a.open(f);
        final byte[] overwritten = new byte[original.length];
        Arrays.fill(overwritten, (byte)0x5a);
        assertArrayEquals(overwritten, SharedFilesFixture.readAll(a, inF));
        final long fFrame = cacheA.lookup(key);

        assertArrayEquals(original, SharedFilesFixture.readAll(b, inE), "seed " + seed);
        assertEquals(fFrame, cacheA.lookup(key), "b threw out a's correct frame of K and loaded e's old bytes under " +
            "K: its own view of e was the stale one");
        assertArrayEquals(overwritten, SharedFilesFixture.readAll(a, inF));
        assertEquals(4, a.stats().verificationMisses(), "a checked K again: b had replaced it");
    }

    /**
     * stats(), openFiles() and close() walked the open files through the copy-on-write map's values() and keySet(),
     * and Agrona's Long2ObjectHashMap (allocation-avoiding by default) hands every caller one shared iterator per map:
     * two threads walking the same map reset each other's walk, so counts come out wrong, and a close() racing a
     * stats() can skip files and leave their descriptors open. Bounded by rounds, no clock.
     */
    @Test
    void threadsWalkingTheOpenFilesAtOnceEachSeeEveryFile() throws Exception
    {
        final SharedFiles files = clients.client(16);
        final int count = 64;
        for (int i = 0; i < count; i++)
        {
            final Path path = clients.shm().resolve("small" + i);
            Files.write(path, new byte[10]);
            files.open(path);
        }
        final SharedFiles.Stats alone = files.stats();
        assertEquals(count, alone.openFiles());
        final AtomicReference<String> wrong = new AtomicReference<>();
        final Thread[] walkers = new Thread[4];
        for (int t = 0; t < walkers.length; t++)
        {
            walkers[t] = new Thread(() ->
            {
                for (int round = 0; round < 20_000 && null == wrong.get(); round++)
                {
                    final long heap = files.stats().heapBytes();
                    final int listed = files.openFiles().size();
                    if (heap != alone.heapBytes() || listed != count)
                    {
                        wrong.set("round " + round + ": heapBytes " + heap + " (alone " + alone.heapBytes() +
                            "), openFiles " + listed + " of " + count);
                    }
                }
            });
            walkers[t].start();
        }
        for (final Thread walker : walkers)
        {
            walker.join(60_000);
            assertFalse(walker.isAlive());
        }
        assertNull(wrong.get(), wrong::get);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // The edges of a read (what was checked and found sound)
    // ---------------------------------------------------------------------------------------------------------------

    @Test
    void readsAtOddOffsetsAcrossPagesAndTheEndMatchTheFile() throws IOException
    {
        final long seed = System.nanoTime();
        System.out.println("seed " + seed);
        final Random random = new Random(seed);
        final byte[] bytes = new byte[9 * PAGE + 1234];
        random.nextBytes(bytes);
        final Path path = clients.xfs().resolve("odd");
        SharedFilesFixture.writeSynced(path, bytes);
        final SharedFiles files = clients.client(8); // fewer frames than pages: reads reclaim as they go
        final long file = files.open(path);
        for (int i = 0; i < 2000; i++)
        {
            final long position = random.nextInt(bytes.length + 2 * PAGE);
            final int room = random.nextInt(3 * PAGE + 1);
            final ByteBuffer dst = (random.nextBoolean() ? ByteBuffer.allocateDirect(room + 7) :
                ByteBuffer.allocate(room + 7)).position(7);
            final int read = files.read(file, dst, position);
            if (position >= bytes.length)
            {
                assertEquals(0 == room ? 0 : -1, read, "seed " + seed + " op " + i);
                continue;
            }
            final int expected = (int)Math.min(room, bytes.length - position);
            assertEquals(expected, read, "seed " + seed + " op " + i);
            final byte[] got = new byte[read];
            dst.get(7, got);
            assertArrayEquals(Arrays.copyOfRange(bytes, (int)position, (int)position + read), got,
                "seed " + seed + " op " + i + " at " + position);
        }
        assertEquals(-1, files.read(file, ByteBuffer.allocate(1), Long.MAX_VALUE));
        assertEquals(-1, files.read(file, ByteBuffer.allocate(1), bytes.length));
    }

    @Test
    void emptyFilesAndSparseFilesWithHolesRead() throws IOException
    {
        final Path empty = clients.xfs().resolve("empty");
        SharedFilesFixture.writeSynced(empty, new byte[0]);
        final Path sparse = clients.xfs().resolve("sparse");
        final byte[] expected = new byte[40 * PAGE + 17];
        final Random random = new Random(11);
        try (FileChannel channel = FileChannel.open(sparse, StandardOpenOption.CREATE, StandardOpenOption.WRITE))
        {
            for (final int page : new int[] {0, 1, 17, 39})
            {
                final byte[] data = new byte[PAGE];
                random.nextBytes(data);
                System.arraycopy(data, 0, expected, page * PAGE, PAGE);
                channel.write(ByteBuffer.wrap(data), (long)page * PAGE);
            }
            channel.write(ByteBuffer.allocate(1), expected.length - 1); // a partial last page, in a hole
            channel.force(true);
        }
        final SharedCache cache = clients.cache(16);
        final SharedFiles files = clients.files(cache);
        final long inEmpty = files.open(empty);
        assertEquals(0, files.size(inEmpty));
        assertEquals(-1, files.read(inEmpty, ByteBuffer.allocate(10), 0));
        assertEquals(0, files.read(inEmpty, ByteBuffer.allocate(0), 0));
        final long inSparse = files.open(sparse);
        assertArrayEquals(expected, SharedFilesFixture.readAll(files, inSparse));
        assertThrows(IllegalArgumentException.class, () -> files.pin(inSparse, 5), "a hole cannot be pinned");
        assertEquals(5, cache.stats().framesReady(), "holes take no frames (pages 0, 1, 17, 39, 40)");
    }

    @Test
    void anInterruptedReadThrowsAndTheNextReadWorks() throws IOException
    {
        final byte[] bytes = new byte[8 * PAGE];
        new Random(5).nextBytes(bytes);
        final Path path = clients.xfs().resolve("interrupted");
        SharedFilesFixture.writeSynced(path, bytes);
        final SharedCache cache = clients.cache(16);
        final SharedFiles files = clients.files(cache);
        final long file = files.open(path);
        Thread.currentThread().interrupt();
        try
        {
            assertThrows(ClosedByInterruptException.class, () -> files.read(file, ByteBuffer.allocate(PAGE), 0));
        }
        finally
        {
            Thread.interrupted();
        }
        assertEquals(0, cache.stats().framesLoading(), "an interrupted load left LOADING");
        assertArrayEquals(bytes, SharedFilesFixture.readAll(files, file), "the channel the interrupt closed is open again");
    }

    @Test
    void closingAFileWhileAnotherThreadReadsItFailsThoseReadsAndNothingElse() throws Exception
    {
        final byte[] bytes = new byte[32 * PAGE];
        new Random(6).nextBytes(bytes);
        final Path path = clients.xfs().resolve("closing");
        SharedFilesFixture.writeSynced(path, bytes);
        final SharedCache cache = clients.cache(8);
        final SharedFiles files = clients.files(cache);
        for (int round = 0; round < 20; round++)
        {
            final long file = files.open(path);
            final AtomicBoolean stop = new AtomicBoolean();
            final AtomicReference<Throwable> wrong = new AtomicReference<>();
            final Thread reader = new Thread(() ->
            {
                final ByteBuffer dst = ByteBuffer.allocate(PAGE);
                for (int i = 0; !stop.get() && null == wrong.get(); i = (i + 1) % 32)
                {
                    try
                    {
                        dst.clear();
                        files.read(file, dst, (long)i * PAGE);
                        if (!Arrays.equals(dst.array(), Arrays.copyOfRange(bytes, i * PAGE, (i + 1) * PAGE)))
                        {
                            wrong.set(new AssertionError("page " + i + " read wrong bytes"));
                        }
                    }
                    catch (final IOException ex)
                    {
                        return; // closed under it: an IOException (NoSuchFileException or a closed channel)
                    }
                    catch (final RuntimeException ex)
                    {
                        wrong.set(ex);
                    }
                }
            });
            reader.start();
            Thread.onSpinWait();
            files.close(file);
            stop.set(true);
            reader.join(10_000);
            assertFalse(reader.isAlive());
            assertNull(wrong.get(), () -> "round: " + wrong.get());
        }
        assertEquals(0, cache.stats().framesLoading());
    }
}
