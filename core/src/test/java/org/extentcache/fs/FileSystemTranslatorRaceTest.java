package org.extentcache.fs;

import org.extentcache.CacheBooks;
import org.extentcache.CachedFile;
import org.extentcache.ExtentCache;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.extentcache.fs.FileSystemTranslatorTest.bumpTimes;
import static org.extentcache.fs.FileSystemTranslatorTest.random;
import static org.extentcache.fs.FileSystemTranslatorTest.read;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Regression tests for {@link FileSystemTranslator} bugs found in review: a failed write-back announced by
 * {@code beforeChange} that leaves the cache's writer lock held forever; a file that keeps vouching for its old
 * end-of-file block after the file system copied it, so a stale frame is served to a file opened later; and a
 * revalidation that keeps frames loaded through the changed file. The first three run on any file system; the
 * others need XFS with reflink ({@link ReflinkDir}: {@code EXTENTCACHE_REFLINK_DIR}) and skip without it, or if the
 * file system does not copy and rewrite blocks the way the test needs (checked with FIEMAP).
 */
final class FileSystemTranslatorRaceTest
{
    private static final int PAGE = 4096;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    @TempDir
    Path tmp;

    private Path reflinkDir;
    private FileSystemTranslator translator;
    private FaultyFiles faulty;
    private ExtentCache cache;

    @AfterEach
    void clean() throws IOException
    {
        Thread.interrupted();
        if (null != translator)
        {
            translator.close();
        }
        ReflinkDir.delete(reflinkDir);
    }

    /**
     * {@code close(file)} calls {@code beforeChange} outside its try/finally: when the write-back of a dirty page
     * fails (here: an injected write failure),
     * {@code afterChange} is never called and the cache's writer lock of the file stays held by that thread. The file
     * stays open (as close's Javadoc says), but every other thread's write or flush of it then blocks forever.
     */
    @Test
    void aFailedWriteBackInCloseReleasesTheFilesWriters() throws Exception
    {
        final long id = openDirtyFile(0);
        faulty.failWrites = 1;
        assertThrows(IOException.class, () -> translator.close(id), "the write-back fails");
        assertAnotherThreadCanFlush(id, "close");
    }

    /**
     * An interrupt of the thread that closes a file does not fail its write-back: the channel the interrupt closed
     * is reopened and the write runs again, and the thread's interrupt status is restored afterwards.
     */
    @Test
    void anInterruptDoesNotFailAWriteBack() throws Exception
    {
        final long id = openDirtyFile(1);
        final Path path = translator.path(id);
        Thread.currentThread().interrupt();
        translator.close(id);
        assertTrue(Thread.interrupted(), "the interrupt status is restored");
        final byte[] disk = Files.readAllBytes(path);
        assertArrayEquals(new byte[] {1, 2, 3}, Arrays.copyOfRange(disk, PAGE + 10, PAGE + 13));
    }

    /** As above, for {@code truncate}: its write-back of the pages it cuts fails. */
    @Test
    void aFailedWriteBackInTruncateReleasesTheFilesWriters() throws Exception
    {
        final long id = openDirtyFile(2);
        faulty.failWrites = 1;
        assertThrows(IOException.class, () -> translator.truncate(id, PAGE), "the write-back fails");
        assertAnotherThreadCanFlush(id, "truncate");
    }

    /** As above, for {@code revalidate} of a file changed from outside. */
    @Test
    void aFailedWriteBackInRevalidateReleasesTheFilesWriters() throws Exception
    {
        final long id = openDirtyFile(0);
        bumpTimes(translator.path(id));
        faulty.failWrites = 1;
        assertThrows(IOException.class, () -> translator.revalidate(id), "the write-back fails");
        assertAnotherThreadCanFlush(id, "revalidate");
    }

    /**
     * A write through the cache past end-of-file makes the file system copy the file's old end-of-file block (it
     * zeroes the part past the old end), but the translator keeps the page keyed by, and vouching for, the old
     * block. When the only other file that maps that block rewrites it through the cache, the file system writes it
     * in place (no longer shared) and the frame is not dropped (the first file still "owns" the block). A clone of
     * the rewritten file made afterwards maps the block with its new bytes, yet is served the stale frame.
     */
    @Test
    void aFileGrownThroughTheCacheStopsVouchingForItsOldTailBlock() throws IOException
    {
        reflinkDir = ReflinkDir.create();
        final int size = PAGE + 904;
        final byte[] original = random(1, size);
        final Path a = Files.write(reflinkDir.resolve("a"), original);
        final Path b = reflinkDir.resolve("b");
        ReflinkDir.cloneFile(a, b);
        translator = new FileSystemTranslator(PAGE);
        final long idA = translator.open(a, true);
        final long idB = translator.open(b, true);
        final ExtentCache cache = books.track(ExtentCache.builder().translator(translator).capacityFrames(64).build());
        final CachedFile fileA = cache.file(idA);
        final CachedFile fileB = cache.file(idB);
        assertArrayEquals(original, read(fileA, 0, size));
        assertArrayEquals(original, read(fileB, 0, size));
        final long tailBlock = physicalOf(a, 1);

        // b grows through the cache; on write-back the file system copies b's old end-of-file block
        fileB.write(2L * PAGE, ByteBuffer.wrap(new byte[] {7}));
        fileB.flush();
        Assumptions.assumeTrue(physicalOf(b, 1) != tailBlock, "the file system copied b's old end-of-file block");

        // a rewrites its tail through the cache; the block is a's alone now, so it is rewritten in place
        final byte[] tail = random(2, size - PAGE);
        fileA.write(PAGE, ByteBuffer.wrap(tail));
        fileA.flush();
        Assumptions.assumeTrue(physicalOf(a, 1) == tailBlock, "a's tail block was rewritten in place");
        final byte[] rewritten = original.clone();
        System.arraycopy(tail, 0, rewritten, PAGE, tail.length);
        assertArrayEquals(rewritten, Files.readAllBytes(a));

        // a clone of a, made now, maps the rewritten block
        final Path d = reflinkDir.resolve("d");
        ReflinkDir.cloneFile(a, d);
        Assumptions.assumeTrue(physicalOf(d, 1) == tailBlock, "d shares a's tail block");
        final long idD = translator.open(d);
        assertArrayEquals(rewritten, read(cache.file(idD), 0, size),
            "d read through the cache must match d on disk, not an old frame of the block b no longer maps");
    }

    /**
     * {@code revalidate}'s Javadoc says it "drops every frame it may have made stale". A frame of a shared block
     * loaded through a file after another process changed that file holds the changed file's bytes; revalidating the
     * changed file must drop it, or the clone that still maps the block keeps being served the other file's bytes.
     * (Changing an open file from outside is the hazard the class comment warns about; this checks the recovery.)
     */
    @Test
    void revalidatingAChangedFileDropsTheFramesLoadedThroughIt() throws IOException
    {
        reflinkDir = ReflinkDir.create();
        final byte[] original = random(3, 3 * PAGE);
        final Path a = Files.write(reflinkDir.resolve("a"), original);
        final Path b = reflinkDir.resolve("b");
        ReflinkDir.cloneFile(a, b);
        translator = new FileSystemTranslator(PAGE);
        final long idA = translator.open(a);
        final long idB = translator.open(b);
        final ExtentCache cache = books.track(ExtentCache.builder().translator(translator).capacityFrames(64).build());

        final byte[] changed = random(4, PAGE);
        try (FileChannel channel = FileChannel.open(a, StandardOpenOption.WRITE))
        {
            channel.write(ByteBuffer.wrap(changed), 0);
            channel.force(true);
        }
        bumpTimes(a);
        read(cache.file(idA), 0, PAGE); // loads the shared block's frame through a, with a's new bytes
        assertTrue(translator.revalidate(idA));

        final byte[] expectedA = original.clone();
        System.arraycopy(changed, 0, expectedA, 0, PAGE);
        assertArrayEquals(expectedA, read(cache.file(idA), 0, 3 * PAGE), "a after revalidation");
        assertArrayEquals(original, read(cache.file(idB), 0, 3 * PAGE),
            "b was never changed: after a's revalidation it must not be served a's bytes");
    }

    private long openDirtyFile(final int dirtyPage) throws IOException
    {
        final Path path = Files.write(tmp.resolve("f"), random(5, 3 * PAGE));
        translator = new FileSystemTranslator(PAGE);
        final long id = translator.open(path, true);
        faulty = new FaultyFiles(translator, id, path);
        cache = books.track(ExtentCache.builder().translator(faulty).capacityFrames(16).build());
        cache.file(id).write((long)dirtyPage * PAGE + 10, ByteBuffer.wrap(new byte[] {1, 2, 3}));
        assertTrue(cache.file(id).dirtyPageCount() > 0);
        return id;
    }

    /** Another thread flushes the file: it must not wait for a lock the failed operation left held. */
    private void assertAnotherThreadCanFlush(final long id, final String operation) throws Exception
    {
        final CachedFile file = cache.file(id);
        final CompletableFuture<Void> flushed = new CompletableFuture<>();
        final Thread flusher = new Thread(() ->
        {
            try
            {
                file.write(20, ByteBuffer.wrap(new byte[] {4}));
                file.flush();
                flushed.complete(null);
            }
            catch (final Throwable ex)
            {
                flushed.completeExceptionally(ex);
            }
        }, "flusher after failed " + operation);
        flusher.setDaemon(true); // stays blocked forever if the writer lock leaked
        flusher.start();
        try
        {
            flushed.get(10, TimeUnit.SECONDS);
        }
        catch (final TimeoutException ex)
        {
            fail("after " + operation + " failed its write-back, another thread's write/flush of the file is still " +
                "blocked 10 s later: the cache's writer lock of the file was never released (beforeChange without " +
                "afterChange)");
        }
        catch (final ExecutionException ex)
        {
            throw new AssertionError("the flush after the failed " + operation + " failed", ex.getCause());
        }
        assertArrayEquals(Arrays.copyOf(read(file, 0, 3 * PAGE), 3 * PAGE),
            Files.readAllBytes(translator.path(id)), "what the cache holds reached the file");
    }

    /** The physical byte address of a file's page, from FIEMAP. */
    private static long physicalOf(final Path path, final long page) throws IOException
    {
        final long at = page * PAGE;
        for (final FiemapExtent extent : Fiemap.extents(path))
        {
            if (extent.logical() <= at && at < extent.logicalEnd())
            {
                return extent.physical() + (at - extent.logical());
            }
        }
        return -1;
    }
}
