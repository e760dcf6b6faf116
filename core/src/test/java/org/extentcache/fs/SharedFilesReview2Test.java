package org.extentcache.fs;

import org.extentcache.shm.SharedCache;
import org.extentcache.shm.SharedPage;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A second adversarial review of {@link SharedFiles}' trust scheme on XFS with reflink
 * ({@code EXTENTCACHE_REFLINK_DIR}): vouches between files of one process whose extents move while they are open.
 */
class SharedFilesReview2Test
{
    private static final int PAGE = 4096;

    @RegisterExtension
    final SharedFilesClients clients = new SharedFilesClients();

    @BeforeEach
    void setUp()
    {
        Assumptions.assumeTrue(ExtentMoveTest.onPath("xfs_io"), "no xfs_io on the PATH (xfsprogs)");
    }

    /**
     * The move of SharedFilesReviewTest's first trust case, with E's pages not in the cache when it happens: E is
     * open (its layout maps K) but none of its pages is loaded, or the frames it loaded were reclaimed since. A dedupe
     * moves E onto S's copy of the same bytes (E's bytes never change: within the close-to-open contract), K is left
     * to E's clone F alone, F is overwritten in place, and F, opened after, loads K with its own bytes and vouches for
     * them. E then reads K through its old layout and trusts F's vouch, because F was confirmed at an epoch later than
     * E's: that shows F mapped K after E's layout was read, not that E still maps K. E is served F's bytes.
     * Within one JVM, BlockTrust re-reads the extents of E (an owner of K) when F's layout is published and stops E
     * from sharing.
     */
    @Test
    void aFileOpenedBeforeItsBlocksMovedNeverTrustsTheVouchOfTheirNewOwnerOpenedAfter() throws IOException
    {
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
        final long inE = files.open(e); // not read: nothing of it in the cache
        final long keyBefore = SharedFilesFixture.keyOf(cache, e, 0);

        SharedFilesFixture.xfsIo(e, "dedupe " + s + " 0 0 " + original.length); // e now maps s's blocks; K is f's alone
        SharedFilesFixture.xfsIo(f, "pwrite -S 0x5a 0 " + original.length, "fsync"); // unshared: overwritten in place
        Assumptions.assumeTrue(keyBefore == SharedFilesFixture.keyOf(cache, f, 0), "XFS moved f's block on overwrite");
        Assumptions.assumeTrue(keyBefore != SharedFilesFixture.keyOf(cache, e, 0), "the dedupe left e on its block");

        final long inF = files.open(f);
        final byte[] overwritten = new byte[original.length];
        Arrays.fill(overwritten, (byte)0x5a);
        assertArrayEquals(overwritten, SharedFilesFixture.readAll(files, inF));

        assertArrayEquals(original, SharedFilesFixture.readAll(files, inE), "e, open all along and never changed, was served the " +
            "bytes f loaded into e's former blocks, on f's vouch (seed " + seed + ", " + files.stats() + ")");
        try (SharedPage pinned = files.pin(inE, 1))
        {
            final byte[] page = new byte[PAGE];
            pinned.buffer().getBytes(0, page);
            assertArrayEquals(Arrays.copyOfRange(original, PAGE, 2 * PAGE), page, "e's page 1, pinned");
        }
    }

    /**
     * close(file) takes the file out of the open files and the vouchers (under the SharedFiles lock), then closes it,
     * which waits for the file's monitor; a recheck of the file (another thread's verification miss or confirmation)
     * holds that monitor across a FIEMAP, and a revalidation runs without it. One that read the file's extents before
     * the removal and publishes after it puts the closed file back among the vouchers, where nothing removes it: its
     * layout and mapping stay on the heap for the life of the SharedFiles, one per such race. (Revalidations now hold
     * the monitor too.) Here a thread revalidates in a loop while another closes the file, after a seeded spin; the
     * closed file must never be left among the vouchers. Seeded, bounded waits, no clock.
     */
    @Test
    void aRevalidationRacingCloseLeavesNoClosedFileAmongTheVouchers() throws Exception
    {
        final long seed = System.nanoTime();
        System.out.println("seed " + seed);
        final Random random = new Random(seed);
        final byte[] bytes = new byte[8 * PAGE];
        random.nextBytes(bytes);
        final Path path = clients.xfs().resolve("r");
        SharedFilesFixture.writeSynced(path, bytes);
        final SharedFiles files = clients.client(64);
        final java.lang.reflect.Field byVoucher = SharedFiles.class.getDeclaredField("byVoucher");
        byVoucher.setAccessible(true);
        final java.lang.reflect.Field open = SharedFiles.class.getDeclaredField("files");
        open.setAccessible(true);
        for (int round = 0; round < 20; round++)
        {
            final long id = files.open(path);
            final Object file = ((org.agrona.collections.Long2ObjectHashMap<?>)open.get(files)).get(id);
            final java.util.concurrent.CountDownLatch started = new java.util.concurrent.CountDownLatch(1);
            final Thread revalidating = new Thread(() ->
            {
                started.countDown();
                try
                {
                    while (true)
                    {
                        files.revalidate(id);
                    }
                }
                catch (final IOException ex)
                {
                    // NoSuchFileException once removed: the race is over
                }
            });
            final Thread closing = new Thread(() ->
            {
                try
                {
                    files.close(id);
                }
                catch (final IOException ex)
                {
                    throw new java.io.UncheckedIOException(ex);
                }
            });
            // revalidations and rechecks both hold the file's monitor while they read its extents, and close(file)
            // takes it to close the file: the race left is a publish between the removal and the close
            assertTrue(null != file);
            revalidating.start();
            started.await();
            for (int spin = random.nextInt(20_000); spin > 0; spin--)
            {
                Thread.onSpinWait();
            }
            closing.start();
            revalidating.join(10_000);
            assertFalse(revalidating.isAlive(), "revalidate still running after the removal (seed " + seed + ")");
            closing.join(10_000);
            assertFalse(closing.isAlive(), "close(file) hung (seed " + seed + ")");
        }
        assertEquals(0, ((org.agrona.collections.Int2ObjectHashMap<?>)byVoucher.get(files)).size(), "closed files left among the vouchers after 20 rounds (seed " + seed + ")");
        assertEquals(List.of(), files.openFiles());
    }

    /**
     * A seeded sequence of operations over two clients of one shared cache (two SharedFiles, as two processes):
     * reads of random pages of the files each has open, dedupe moves of open files onto fresh copies of their bytes
     * (bytes unchanged: within the close-to-open contract; their old blocks are freed), new files of new bytes written
     * (landing on freed blocks), opened and read, closes and reopens, revalidations. Every read must return the
     * file's bytes. Each file's pages are stamped with its content number and page, so a bad read names whose bytes
     * it got.
     */
    @Test
    void aSeededSequenceOfMovesOpensAndReadsServesEveryFileItsOwnBytes() throws IOException
    {
        final long seed = System.nanoTime();
        System.out.println("seed " + seed);
        final Random random = new Random(seed);
        final int pages = 4;
        final SharedCache cacheX = clients.cache(32);
        final SharedCache cacheY = clients.cache(32);
        final SharedFiles[] readers = {clients.files(cacheX), clients.files(cacheY)};
        final List<Path> paths = new ArrayList<>();
        final List<byte[]> contents = new ArrayList<>();
        final List<long[]> ids = new ArrayList<>(); // per path: its id in each client, or -1
        int made = 0;
        for (int op = 0; op < 1500; op++)
        {
            final int kind = paths.size() < 3 ? 0 : paths.size() < 12 && random.nextInt(8) == 0 ? 0 :
                1 + random.nextInt(9);
            if (kind == 0) // a new file: new bytes, a copy's or a reflink clone's, opened in a client or both
            {
                final int how = paths.isEmpty() ? 0 : random.nextInt(3);
                final int from = paths.isEmpty() ? -1 : random.nextInt(paths.size());
                final byte[] bytes = 0 == how ? stamped(made, pages) : contents.get(from);
                final Path path = clients.xfs().resolve("n" + made++);
                if (2 == how)
                {
                    ReflinkDir.cloneFile(paths.get(from), path);
                }
                else
                {
                    SharedFilesFixture.writeSynced(path, bytes);
                }
                paths.add(path);
                contents.add(bytes);
                final long[] in = {-1, -1};
                for (int c = 0; c < 2; c++)
                {
                    if (random.nextBoolean() || c == 1 && in[0] < 0)
                    {
                        in[c] = readers[c].open(path);
                    }
                }
                ids.add(in);
            }
            else if (kind == 1) // an open file's extents move onto a fresh copy of its bytes
            {
                final int f = random.nextInt(paths.size());
                final Path copy = clients.xfs().resolve("n" + made++);
                SharedFilesFixture.writeSynced(copy, contents.get(f));
                SharedFilesFixture.xfsIo(paths.get(f), "dedupe " + copy + " 0 0 " + contents.get(f).length);
                java.nio.file.Files.delete(copy);
            }
            else if (kind == 2) // close or reopen in a client
            {
                final int f = random.nextInt(paths.size());
                final int c = random.nextInt(2);
                if (ids.get(f)[c] >= 0)
                {
                    readers[c].close(ids.get(f)[c]);
                    ids.get(f)[c] = -1;
                }
                else
                {
                    ids.get(f)[c] = readers[c].open(paths.get(f));
                }
            }
            else if (kind == 3)
            {
                final int f = random.nextInt(paths.size());
                final int c = random.nextInt(2);
                if (ids.get(f)[c] >= 0)
                {
                    readers[c].revalidate(ids.get(f)[c]);
                }
            }
            else // a read of a page
            {
                final int f = random.nextInt(paths.size());
                final int c = random.nextInt(2);
                if (ids.get(f)[c] >= 0)
                {
                    final int page = random.nextInt(pages);
                    final ByteBuffer dst = ByteBuffer.allocate(PAGE);
                    assertEquals(PAGE, readers[c].read(ids.get(f)[c], dst, (long)page * PAGE));
                    final byte[] expected = Arrays.copyOfRange(contents.get(f), page * PAGE, (page + 1) * PAGE);
                    if (!Arrays.equals(expected, dst.array()))
                    {
                        final ByteBuffer got = ByteBuffer.wrap(dst.array());
                        throw new AssertionError("op " + op + ": client " + c + " read page " + page + " of " +
                            paths.get(f).getFileName() + " (content " + ByteBuffer.wrap(expected).getInt(0) +
                            ") and got content " + got.getInt(0) + " page " + got.getInt(4) + " (seed " + seed +
                            ", " + readers[c].stats() + ")");
                    }
                }
            }
        }
        System.out.println("model: " + readers[0].stats() + " " + readers[1].stats());
    }

    /** A file's bytes: each page starts with the content number and the page, then random bytes. */
    private static byte[] stamped(final int content, final int pages)
    {
        final byte[] bytes = new byte[pages * PAGE];
        new Random(content).nextBytes(bytes);
        for (int page = 0; page < pages; page++)
        {
            ByteBuffer.wrap(bytes).putInt(page * PAGE, content).putInt(page * PAGE + 4, page);
        }
        return bytes;
    }

    /**
     * Threads reading reflink clones (so files vouch for each other's frames) while others revalidate them and close
     * and reopen them, through one SharedFiles over a cache small enough to reclaim: every read returns the file's
     * bytes, or fails with an IOException when its file was closed under it; nothing else is thrown, nothing hangs.
     * Seeded per thread, bounded by operations.
     */
    @Test
    void readsRevalidationsClosesAndReopensOfClonesAtOnceServeOnlyEachFilesBytes() throws Exception
    {
        final long seed = System.nanoTime();
        System.out.println("seed " + seed);
        final int pages = 16;
        final byte[] base = new byte[pages * PAGE];
        new Random(seed).nextBytes(base);
        final int fileCount = 6;
        final Path[] paths = new Path[fileCount];
        final byte[][] contents = new byte[fileCount][];
        paths[0] = clients.xfs().resolve("base");
        SharedFilesFixture.writeSynced(paths[0], base);
        contents[0] = base;
        for (int i = 1; i < fileCount; i++)
        {
            paths[i] = clients.xfs().resolve("clone" + i);
            ReflinkDir.cloneFile(paths[0], paths[i]);
            contents[i] = base;
            if (i % 2 == 0) // overwrite one page, unsharing it
            {
                contents[i] = base.clone();
                final byte[] page = new byte[PAGE];
                new Random(seed + i).nextBytes(page);
                System.arraycopy(page, 0, contents[i], i * PAGE, PAGE);
                try (FileChannel channel = FileChannel.open(paths[i], StandardOpenOption.WRITE))
                {
                    channel.write(ByteBuffer.wrap(page), (long)i * PAGE);
                    channel.force(true);
                }
            }
        }
        final SharedFiles files = clients.client(24);
        final java.util.concurrent.atomic.AtomicLongArray ids = new java.util.concurrent.atomic.AtomicLongArray(
            fileCount);
        for (int i = 0; i < fileCount; i++)
        {
            ids.set(i, files.open(paths[i]));
        }
        final java.util.concurrent.atomic.AtomicReference<Throwable> failure =
            new java.util.concurrent.atomic.AtomicReference<>();
        final List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 6; t++)
        {
            final int role = t;
            final Random random = new Random(seed * 31 + t);
            threads.add(new Thread(() ->
            {
                try
                {
                    for (int op = 0; op < 1500 && null == failure.get(); op++)
                    {
                        final int f = random.nextInt(fileCount);
                        final long id = ids.get(f);
                        if (id < 0)
                        {
                            continue; // being closed and reopened
                        }
                        try
                        {
                            if (role == 0 && op % 10 == 0)
                            {
                                synchronized (ids)
                                {
                                    ids.set(f, -1);
                                    files.close(id);
                                    ids.set(f, files.open(paths[f]));
                                }
                            }
                            else if (role == 1 && op % 3 == 0)
                            {
                                files.revalidate(id);
                            }
                            else
                            {
                                final int page = random.nextInt(pages);
                                final ByteBuffer dst = ByteBuffer.allocate(PAGE);
                                files.read(id, dst, (long)page * PAGE);
                                if (!Arrays.equals(Arrays.copyOfRange(contents[f], page * PAGE, (page + 1) * PAGE),
                                    dst.array()))
                                {
                                    throw new AssertionError("op " + op + " of thread " + role + ": page " + page +
                                        " of " + paths[f].getFileName() + " read wrong bytes (seed " + seed + ")");
                                }
                            }
                        }
                        catch (final IOException ex)
                        {
                            if (ids.get(f) == id)
                            {
                                throw new AssertionError("op " + op + " of thread " + role + " on an open file " +
                                    "(seed " + seed + ")", ex);
                            }
                        }
                    }
                }
                catch (final Throwable ex)
                {
                    failure.compareAndSet(null, ex);
                }
            }));
        }
        threads.forEach(Thread::start);
        for (final Thread thread : threads)
        {
            thread.join(120_000);
            assertFalse(thread.isAlive(), "a thread hung (seed " + seed + ")");
        }
        if (null != failure.get())
        {
            throw new AssertionError("seed " + seed + ": " + failure.get(), failure.get());
        }
        System.out.println("stress: " + files.stats());
    }
}
