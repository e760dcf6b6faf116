package org.extentcache.fs;

import org.extentcache.shm.SharedCache;
import org.extentcache.shm.SharedPage;
import org.extentcache.shm.ShmDir;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

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

    private Path xfs;
    private Path shm;
    private final List<AutoCloseable> open = new ArrayList<>();

    @BeforeEach
    void setUp() throws IOException
    {
        xfs = ReflinkDir.create();
        shm = ShmDir.create();
        Assumptions.assumeTrue(ExtentMoveTest.onPath("xfs_io"), "no xfs_io on the PATH (xfsprogs)");
    }

    @AfterEach
    void tearDown() throws Exception
    {
        for (int i = open.size() - 1; i >= 0; i--)
        {
            open.get(i).close();
        }
        ReflinkDir.delete(xfs);
        ShmDir.delete(shm);
    }

    private SharedCache cache(final int frames) throws IOException
    {
        final SharedCache cache = SharedCache.builder(shm.resolve("cache")).frames(frames).leaseMillis(2000).join();
        open.add(cache);
        return cache;
    }

    private SharedFiles files(final SharedCache cache)
    {
        final SharedFiles files = new SharedFiles(cache);
        open.add(files);
        return files;
    }

    private static void writeSynced(final Path path, final byte[] bytes) throws IOException
    {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING))
        {
            final ByteBuffer all = ByteBuffer.wrap(bytes);
            while (all.hasRemaining())
            {
                channel.write(all, all.position());
            }
            channel.force(true);
        }
    }

    private static byte[] readAll(final SharedFiles files, final long file) throws IOException
    {
        final ByteBuffer all = ByteBuffer.allocate((int)files.size(file));
        while (all.hasRemaining())
        {
            assertTrue(files.read(file, all, all.position()) > 0);
        }
        return all.array();
    }

    /** The key of a page as the file maps it now (a fresh FIEMAP). */
    private static long keyOf(final SharedCache cache, final Path path, final long page) throws IOException
    {
        final ExtentReader.Loaded loaded = new ExtentReader(PAGE).load(path, path);
        final Layout layout = Layout.of(loaded.extents(), loaded.attrs().size(), PAGE,
            BlockKeys.deviceBits(cache.fileSystemIndex(loaded.attrs().dev())));
        final int run = layout.find(page);
        return layout.key[run] + (page - layout.start[run]);
    }

    private static void xfsIo(final Path file, final String... commands) throws IOException
    {
        final List<String> command = new ArrayList<>(List.of("xfs_io"));
        for (final String each : commands)
        {
            command.add("-c");
            command.add(each);
        }
        command.add(file.toString());
        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        try
        {
            final String output = new String(process.getInputStream().readAllBytes());
            assertTrue(process.waitFor(60, TimeUnit.SECONDS), String.join(" ", command));
            assertEquals(0, process.exitValue(), String.join(" ", command) + ": " + output);
            assertFalse(output.contains("not supported") || output.contains("failed"), output);
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
        final Path e = xfs.resolve("e");
        final Path f = xfs.resolve("f");
        final Path s = xfs.resolve("s");
        writeSynced(e, original);
        ReflinkDir.cloneFile(e, f); // f shares e's blocks K
        writeSynced(s, original); // the same bytes in blocks of its own

        final SharedCache cache = cache(64);
        final SharedFiles files = files(cache);
        final long inE = files.open(e); // not read: nothing of it in the cache
        final long keyBefore = keyOf(cache, e, 0);

        xfsIo(e, "dedupe " + s + " 0 0 " + original.length); // e now maps s's blocks; K is f's alone
        xfsIo(f, "pwrite -S 0x5a 0 " + original.length, "fsync"); // unshared: overwritten in place
        Assumptions.assumeTrue(keyBefore == keyOf(cache, f, 0), "XFS moved f's block on overwrite");
        Assumptions.assumeTrue(keyBefore != keyOf(cache, e, 0), "the dedupe left e on its block");

        final long inF = files.open(f);
        final byte[] overwritten = new byte[original.length];
        Arrays.fill(overwritten, (byte)0x5a);
        assertArrayEquals(overwritten, readAll(files, inF));

        assertArrayEquals(original, readAll(files, inE), "e, open all along and never changed, was served the " +
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
     * layout and mapping stay on the heap for the life of the SharedFiles, one per such race. Here the test holds the
     * monitor, as a recheck would, while a thread revalidates in a loop; each round's close is let through once the
     * revalidating thread has stopped. Seeded, bounded waits, no clock.
     */
    @Test
    void aRevalidationRacingCloseLeavesNoClosedFileAmongTheVouchers() throws Exception
    {
        final long seed = System.nanoTime();
        System.out.println("seed " + seed);
        final Random random = new Random(seed);
        final byte[] bytes = new byte[8 * PAGE];
        random.nextBytes(bytes);
        final Path path = xfs.resolve("r");
        writeSynced(path, bytes);
        final SharedFiles files = files(cache(64));
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
            synchronized (file)
            {
                revalidating.start();
                started.await();
                for (int spin = random.nextInt(20_000); spin > 0; spin--)
                {
                    Thread.onSpinWait();
                }
                closing.start();
                revalidating.join(10_000);
                assertFalse(revalidating.isAlive(), "revalidate still running after the removal (seed " + seed + ")");
            }
            closing.join(10_000);
            assertFalse(closing.isAlive(), "close(file) hung (seed " + seed + ")");
        }
        assertEquals(0, ((org.agrona.collections.Int2ObjectHashMap<?>)byVoucher.get(files)).size(), "closed files left among the vouchers after 20 rounds (seed " + seed + ")");
        assertEquals(List.of(), files.openFiles());
    }
}
