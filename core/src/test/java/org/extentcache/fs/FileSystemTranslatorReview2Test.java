package org.extentcache.fs;

import org.extentcache.CachedFile;
import org.extentcache.ExtentCache;
import org.extentcache.translate.Extent;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

import static org.extentcache.fs.FileSystemTranslatorTest.random;
import static org.extentcache.fs.FileSystemTranslatorTest.read;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Regression tests from the second review of {@link FileSystemTranslator}: a file's channel, its layout and its
 * recorded attributes must all describe the file (inode) that was opened, even after its path was replaced by a
 * rename or removed; and a transfer retried after an interrupt must not move bytes to the wrong offset. All but
 * one run on any file system; the reflink one needs XFS with reflink ({@link ReflinkDir}) and skips without it.
 */
final class FileSystemTranslatorReview2Test
{
    private static final int PAGE = 4096;

    @TempDir
    Path tmp;

    private Path reflinkDir;
    private FileSystemTranslator translator;
    private final List<ExtentCache> caches = new ArrayList<>();

    @AfterEach
    void clean() throws IOException
    {
        Thread.interrupted();
        caches.forEach(ExtentCache::close);
        if (null != translator)
        {
            translator.close();
        }
        ReflinkDir.delete(reflinkDir);
    }

    /**
     * An interrupt closes the file's channel; {@code transfer} reopens it <em>by path</em>. If another process has
     * meanwhile replaced the file by a rename (the usual atomic save), the reopened channel is the replacement's,
     * so the write-back of a page of the file that was opened lands in a file the cache never opened.
     */
    @Test
    void anInterruptedWriteBackNeverWritesIntoTheFileThatReplacedTheOpenOne() throws IOException
    {
        final Path a = Files.write(tmp.resolve("a"), random(1, 2 * PAGE));
        translator = new FileSystemTranslator(PAGE);
        final long id = translator.open(a, true);
        final CachedFile file = cache().file(id);
        read(file, 0, 2 * PAGE);

        final byte[] replacement = random(2, 2 * PAGE);
        Files.move(Files.write(tmp.resolve("y"), replacement), a, StandardCopyOption.ATOMIC_MOVE,
            StandardCopyOption.REPLACE_EXISTING);

        file.write(10, ByteBuffer.wrap(new byte[] {1, 2, 3}));
        Thread.currentThread().interrupt();
        try
        {
            file.flush(); // may fail: the file opened is unreachable once its channel is closed
        }
        catch (final IOException ex)
        {
            // acceptable
        }
        finally
        {
            Thread.interrupted();
        }
        assertArrayEquals(replacement, Files.readAllBytes(a),
            "the file that replaced the open one by a rename must not receive the open file's write-back");
    }

    /**
     * {@code writeBlock} (and {@code truncate}) record {@code Attrs.of(path)} as "our own change": if the path names
     * another file by then, the translator adopts that file's inode and times, so {@code revalidate} no longer sees
     * that the file was replaced, and the cache keeps serving (and writing) the old file under the path's name.
     */
    @Test
    void aWriteBackDoesNotHideThatThePathWasReplaced() throws IOException
    {
        final Path a = Files.write(tmp.resolve("a"), random(3, 2 * PAGE));
        translator = new FileSystemTranslator(PAGE);
        final long id = translator.open(a, true);
        final CachedFile file = cache().file(id);

        final byte[] replacement = random(4, 2 * PAGE);
        Files.move(Files.write(tmp.resolve("y"), replacement), a, StandardCopyOption.ATOMIC_MOVE,
            StandardCopyOption.REPLACE_EXISTING);
        file.write(10, ByteBuffer.wrap(new byte[] {1, 2, 3}));
        file.flush();

        assertTrue(translator.revalidate(id), "the path names another file than the one opened: revalidate must " +
            "reload it");
        assertArrayEquals(replacement, read(file, 0, 2 * PAGE), "after revalidation the cache serves the new file");
    }

    /**
     * Hard links are one file ({@code byInode}). After a write-back adopted the inode of the file that replaced the
     * path (above), {@code close} removes the wrong {@code byInode} key: the closed file stays registered under its
     * real inode, and every later open of another link to it finds the closed file and fails with "not open".
     */
    @Test
    void aHardLinkStillOpensAfterItsSiblingWasReplacedWrittenAndClosed() throws IOException
    {
        final byte[] original = random(5, 2 * PAGE);
        final Path a = Files.write(tmp.resolve("a"), original);
        final Path link = Files.createLink(tmp.resolve("link"), a);
        translator = new FileSystemTranslator(PAGE);
        final long id = translator.open(a, true);
        final CachedFile file = cache().file(id);

        Files.move(Files.write(tmp.resolve("y"), random(6, PAGE)), a, StandardCopyOption.ATOMIC_MOVE,
            StandardCopyOption.REPLACE_EXISTING);
        file.write(10, ByteBuffer.wrap(new byte[] {1, 2, 3}));
        file.flush();
        translator.close(id);

        final long linked = assertDoesNotThrow(() -> translator.open(link), "the link names a file that is not open");
        final byte[] expected = original.clone();
        System.arraycopy(new byte[] {1, 2, 3}, 0, expected, 10, 3);
        assertArrayEquals(expected, read(cache().file(linked), 0, 2 * PAGE));
    }

    /**
     * A file deleted while open stays usable with its contents (as {@code revalidate}'s Javadoc says). But
     * {@code writeBlock} stats the path after writing: the write reaches the file, yet {@code writeBlock} throws
     * {@code NoSuchFileException}, so the page stays dirty, every flush fails, and {@code close} (which writes back
     * first) fails too: the file can never be closed.
     */
    @Test
    void aFileDeletedWhileOpenCanStillBeFlushedAndClosed() throws IOException
    {
        final byte[] original = random(7, 2 * PAGE);
        final Path a = Files.write(tmp.resolve("a"), original);
        final Path link = Files.createLink(tmp.resolve("link"), a); // to look at the file after its name is gone
        translator = new FileSystemTranslator(PAGE);
        final long id = translator.open(a, true);
        final CachedFile file = cache().file(id);

        Files.delete(a);
        file.write(10, ByteBuffer.wrap(new byte[] {1, 2, 3}));
        assertDoesNotThrow(file::flush, "flush of a file deleted while open");
        assertDoesNotThrow(() -> translator.close(id), "close of a file deleted while open");
        final byte[] expected = original.clone();
        System.arraycopy(new byte[] {1, 2, 3}, 0, expected, 10, 3);
        assertArrayEquals(expected, Files.readAllBytes(link));
    }

    /**
     * The worst case of the reopen by path: a miss on an interrupted thread reads the <em>replacement</em>'s bytes
     * into the frame keyed by the opened file's physical block, which an unchanged reflink clone shares: the clone is
     * then served another file's bytes, and nothing ever drops the frame.
     */
    @Test
    void anInterruptedMissOnAReplacedFileDoesNotServeTheReplacementToAClone() throws IOException
    {
        reflinkDir = ReflinkDir.create();
        final byte[] original = random(8, 2 * PAGE);
        final Path a = Files.write(reflinkDir.resolve("a"), original);
        final Path b = reflinkDir.resolve("b");
        ReflinkDir.cloneFile(a, b);
        translator = new FileSystemTranslator(PAGE);
        final long idA = translator.open(a);
        final long idB = translator.open(b);
        final ExtentCache cache = cache();

        Files.move(Files.write(reflinkDir.resolve("y"), random(9, 2 * PAGE)), a, StandardCopyOption.ATOMIC_MOVE,
            StandardCopyOption.REPLACE_EXISTING);
        Thread.currentThread().interrupt();
        try
        {
            read(cache.file(idA), 0, PAGE); // a miss: loads a's page 0, keyed by its physical block, shared with b
        }
        catch (final IOException ex)
        {
            // acceptable: a's opened file can no longer be reached
        }
        finally
        {
            Thread.interrupted();
        }
        assertArrayEquals(original, read(cache.file(idB), 0, 2 * PAGE),
            "b was never changed: it must not be served the bytes of the file that replaced a");
    }

    /**
     * A FileChannel transfer that an interrupt hits while it runs completes (a read of the page cache is not
     * interruptible), advances the buffer, and then throws {@code ClosedByInterruptException}. {@code transfer}
     * reopens the channel and runs the same lambda again, but {@code channelRead} (and {@code channelWrite})
     * captured the file position before the first attempt: after a short transfer (the end-of-file page), the retry
     * reads the same bytes again after the first ones. The frame then holds a copy of the file's tail past
     * end-of-file instead of zeros, and a later write that grows the file writes that copy back to the file.
     * Interrupts land at random: the test stops at the first wrong page, or after a time limit.
     */
    @Test
    void anInterruptDuringAShortReadDoesNotRepeatTheBytes() throws Exception
    {
        final int page = 65536;
        final int tail = 40000; // the last page is short: its read stops at end-of-file
        final byte[] original = random(10, page + tail);
        final Path a = Files.write(tmp.resolve("a"), original);
        translator = new FileSystemTranslator(page);
        final long id = translator.open(a);
        final byte[] expected = Arrays.copyOf(Arrays.copyOfRange(original, page, page + tail), page);
        final AtomicReference<String> wrong = new AtomicReference<>();
        final AtomicBoolean stop = new AtomicBoolean();
        final Thread worker = new Thread(() ->
        {
            final Extent extent = new Extent();
            final ByteBuffer dst = ByteBuffer.allocateDirect(page);
            final byte[] got = new byte[page];
            while (!stop.get() && null == wrong.get())
            {
                try
                {
                    translator.translate(id, 1, extent);
                    translator.readBlock(id, 1, extent.blockOf(1), dst.clear());
                }
                catch (final IOException ex)
                {
                    Thread.interrupted();
                    continue; // too many interrupts in a row: a failure, not wrong bytes
                }
                Thread.interrupted();
                dst.flip().get(got);
                if (!Arrays.equals(expected, got))
                {
                    final int at = Arrays.mismatch(expected, got);
                    wrong.set("tail page differs at byte " + at + (at >= tail ? " (past end-of-file: not zeros)" : ""));
                }
            }
        }, "interrupted reader");
        worker.start();
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        while (worker.isAlive() && System.nanoTime() < deadline)
        {
            worker.interrupt();
            LockSupport.parkNanos(1_000);
        }
        stop.set(true);
        worker.join();
        assertNull(wrong.get(), "a read retried after an interrupt repeated bytes already read");
    }

    private ExtentCache cache()
    {
        final ExtentCache cache = ExtentCache.builder().translator(translator).capacityFrames(64)
            .leakReporter(message -> { }).build();
        caches.add(cache);
        return cache;
    }
}
