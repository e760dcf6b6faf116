package org.extentcache.shm;

import org.agrona.DirectBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.ReadOnlyBufferException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An adversarial review of the shared cache: loaders that call back into the cache, a caller's read-only buffer,
 * views read while they are revoked, an index rebuild in the middle of an invalidation, and files that change at the
 * path behind a client's back (replaced, of another layout version in use, left by a creator that died before its
 * magic). Crashes of the JVM are reproduced in a child JVM ({@link Child}) so that they fail a test rather than the
 * whole run.
 */
class SharedCacheReviewTest
{
    /** The longest a call that must not hang is waited for: far above its real cost, so no timing is asserted. */
    private static final long HANG_MILLIS = 10_000;

    @RegisterExtension
    final SharedCacheClients clients = new SharedCacheClients();

    private static SharedCache.PageLoader fill(final byte value)
    {
        return (key, page) ->
        {
            while (page.hasRemaining())
            {
                page.put(value);
            }
        };
    }

    /** Runs {@code action} on a daemon thread and waits for it at most {@link #HANG_MILLIS}. */
    private static Thread runBounded(final String name, final ThrowingRunnable action,
        final AtomicReference<Throwable> thrown) throws InterruptedException
    {
        final Thread thread = new Thread(() ->
        {
            try
            {
                action.run();
            }
            catch (final Throwable ex)
            {
                thrown.set(ex);
            }
        }, name);
        thread.setDaemon(true);
        thread.start();
        thread.join(HANG_MILLIS);
        return thread;
    }

    @FunctionalInterface
    private interface ThrowingRunnable
    {
        void run() throws Exception;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Loaders that call back into the cache
    // ---------------------------------------------------------------------------------------------------------------

    /**
     * A loader that closes the cache: before, close() waited for every load in flight, its own caller's included, and
     * so spun forever (the load never returned). Misuse must throw, not hang.
     */
    @Test
    void closeFromInsideALoaderIsRefusedInsteadOfWaitingForItself() throws Exception
    {
        final SharedCache cache = clients.join(16);
        final AtomicReference<Throwable> closeRefused = new AtomicReference<>();
        final AtomicReference<Throwable> thrown = new AtomicReference<>();
        final long[] handle = new long[1];
        final Thread loader = runBounded("load-that-closes", () -> handle[0] = cache.load(1, (key, page) ->
        {
            try
            {
                cache.close();
            }
            catch (final IllegalStateException ex)
            {
                closeRefused.set(ex);
            }
            fill((byte)1).load(key, page);
        }), thrown);
        assertFalse(loader.isAlive(), "close() called inside a loader hangs: it waits for the load that calls it");
        assertNull(thrown.get(), () -> "the load failed: " + thrown.get());
        assertNotNull(closeRefused.get(), "close() inside a loader must throw IllegalStateException");
        assertFalse(cache.isClosed());
        assertTrue(cache.isValid(handle[0]));
    }

    /**
     * A loader that loads its own key: it found its own frame LOADING and waited for it, forever (the loader is its
     * caller). Caffeine and ConcurrentHashMap refuse a recursive computation of one key with IllegalStateException.
     */
    @Test
    void aLoaderThatLoadsItsOwnKeyIsRefusedInsteadOfWaitingForItself() throws Exception
    {
        final SharedCache cache = clients.join(16);
        final AtomicReference<Throwable> thrown = new AtomicReference<>();
        final Thread loader = runBounded("recursive-load", () -> cache.load(5, (key, page) ->
        {
            cache.load(5, fill((byte)2)); // the same key, from inside its own load
            fill((byte)1).load(key, page);
        }), thrown);
        assertFalse(loader.isAlive(), "a loader loading its own key waits for itself forever");
        assertTrue(thrown.get() instanceof IllegalStateException, () -> "expected IllegalStateException, got " +
            thrown.get());
        assertEquals(0, cache.stats().framesLoading(), "the refused load must give its frame back");
        final ByteBuffer out = ByteBuffer.allocate(1);
        assertTrue(cache.read(cache.load(5, fill((byte)3)), 0, out, 1));
        assertEquals(3, out.get(0), "the next load of the key reads it afresh");
    }

    /**
     * A loader that loads another key before it fills its own page: every fill on a thread was handed the same
     * per-thread ByteBuffer (one duplicate per chunk), re-aimed at each fill. The inner load re-aimed it at its own
     * frame and filled it, so the outer loader's page had nothing left: its writes went nowhere (or threw
     * BufferOverflowException), a FileChannel.read into it read 0 bytes, and fill() saw no bytes remaining and
     * published the outer frame READY with whatever the frame held before: zeros, or a reclaimed key's bytes.
     */
    @Test
    void aLoaderThatLoadsAnotherKeyFillsItsOwnFrame() throws Exception
    {
        final SharedCache cache = clients.join(8);
        for (long key = 100; key < 108; key++)
        {
            cache.load(key, fill((byte)0x66)); // every frame holds another key's bytes, to be reclaimed
        }
        final long outer = cache.load(1, (key, page) ->
        {
            cache.load(2, fill((byte)2));
            while (page.hasRemaining())
            {
                page.put((byte)1); // as a FileChannel.read would: fills what remains
            }
        });
        final ByteBuffer out = ByteBuffer.allocate(cache.pageSize());
        assertTrue(cache.read(outer, 0, out, cache.pageSize()));
        final byte[] ones = new byte[cache.pageSize()];
        Arrays.fill(ones, (byte)1);
        assertArrayEquals(ones, out.array(), "the outer load published a frame its loader never filled: another " +
            "key's bytes served under key 1");
        final ByteBuffer inner = ByteBuffer.allocate(1);
        assertTrue(cache.read(cache.lookup(2), 0, inner, 1));
        assertEquals(2, inner.get(0));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // The caller's buffer
    // ---------------------------------------------------------------------------------------------------------------

    /**
     * read() into a read-only heap buffer: Agrona's getBytes reaches the buffer's array through Unsafe, so the copy
     * lands in memory the caller handed out as read-only and read() returns true. It must throw
     * ReadOnlyBufferException, as ByteBuffer.put does. (With a read-only mapped buffer the same copy is a SIGSEGV: see
     * {@link #readIntoAReadOnlyMappedBufferDoesNotCrashTheJvm}.)
     */
    @Test
    void readIntoAReadOnlyBufferThrows() throws IOException
    {
        final SharedCache cache = clients.join(16);
        final long handle = cache.load(1, fill((byte)9));
        final byte[] backing = new byte[cache.pageSize()];
        final ByteBuffer readOnly = ByteBuffer.wrap(backing).asReadOnlyBuffer();
        Throwable thrown = null;
        try
        {
            cache.read(handle, 0, readOnly, 16);
        }
        catch (final ReadOnlyBufferException ex)
        {
            thrown = ex;
        }
        assertArrayEquals(new byte[16], Arrays.copyOf(backing, 16), "read() wrote into a read-only buffer");
        assertNotNull(thrown, "read() into a read-only buffer must throw ReadOnlyBufferException");
    }

    /** The same with a read-only mapping: before, the JVM died of SIGSEGV (misuse must throw, never crash). */
    @Test
    void readIntoAReadOnlyMappedBufferDoesNotCrashTheJvm() throws Exception
    {
        final Child.Result result = Child.run("read-only-mapping", clients.dir());
        assertEquals(0, result.exit(), () -> "the child JVM died: exit " + result.exit() + "\n" + result.output());
        assertTrue(result.output().contains("ReadOnlyBufferException"), result.output());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------------

    /**
     * A pinned page's view read by one thread while another unpins it (or the cache revokes it at close or on a lost
     * lease): the revocation re-wrapped the Agrona view onto a zero-length heap array, three plain field stores, so a
     * racing reader could combine the new array with the old native address (or no array with the array's base
     * offset) and the JVM died of SIGSEGV. Reading after unpin is misuse, and must throw, never crash; a close of the
     * cache racing a reader on another thread is not even misuse.
     */
    @Test
    void aViewReadWhileItIsRevokedNeverCrashesTheJvm() throws Exception
    {
        final Child.Result result = Child.run("revoke-race", clients.dir());
        assertEquals(0, result.exit(), () -> "the child JVM died: exit " + result.exit() + "\n" + result.output());
        assertTrue(result.output().contains("revoke-race done"), result.output());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // The index
    // ---------------------------------------------------------------------------------------------------------------

    /**
     * Invalidating a pinned frame when its removal's tombstone is the one that triggers an index rebuild: the rebuild
     * reinserted the frame (still RECLAIMING) before invalidate() set it DROPPED, so the index kept naming a DROPPED
     * frame under its key. find() returns DROPPED frames, and load() backs off on DROPPED ("settles under the lock")
     * without ever reaching the claim that would sweep it: every load of that key spun for as long as the pin was held,
     * and after the unpin until some other load's sweep happened to reclaim the frame.
     */
    @Test
    void aPinnedFrameInvalidatedDuringAnIndexRebuildIsNeverFoundAgain() throws Exception
    {
        final SharedCache cache = clients.join(8); // 16 index slots: the 5th tombstone (> 16 / 4) rebuilds
        final long[] handles = new long[8];
        for (int key = 0; key < 8; key++)
        {
            handles[key] = cache.load(key, fill((byte)key));
        }
        for (int key = 0; key < 4; key++)
        {
            assertTrue(cache.invalidate(handles[key]));
        }
        final SharedPage pinned = cache.pin(handles[4]);
        assertNotNull(pinned);
        assertTrue(cache.invalidate(handles[4]), "the 5th removal: its tombstone triggers the rebuild");
        assertEquals(1, cache.stats().framesDropped());
        assertEquals(SharedCache.NO_HANDLE, cache.lookup(4));

        final AtomicReference<Throwable> thrown = new AtomicReference<>();
        final long[] reloaded = new long[1];
        Thread loader = runBounded("load-of-a-dropped-key", () -> reloaded[0] = cache.load(4, fill((byte)44)),
            thrown);
        final boolean hungWhilePinned = loader.isAlive();
        pinned.close();
        boolean hungAfterUnpin = false;
        if (hungWhilePinned)
        {
            loader.join(HANG_MILLIS);
            hungAfterUnpin = loader.isAlive();
            // its spin never checks for close, and close waits for it: turn the clock with other loads until the
            // sweep reclaims the frame the index names (each claim advances the hand; 3 turns of 8 frames)
            for (long key = 100; key < 124 && loader.isAlive(); key++)
            {
                cache.load(key, fill((byte)1));
            }
            loader.join(HANG_MILLIS);
        }
        assertFalse(hungWhilePinned, "load(4) spins while the invalidated frame is pinned: the index still names " +
            "the DROPPED frame" + (hungAfterUnpin ? ", and goes on spinning after the unpin until another load's " +
            "sweep reclaims it" : ""));
        assertNull(thrown.get(), () -> "the load failed: " + thrown.get());
        assertNotEquals(handles[4], reloaded[0]);
        final ByteBuffer out = ByteBuffer.allocate(1);
        assertTrue(cache.read(reloaded[0], 0, out, 1));
        assertEquals(44, out.get(0));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // The file behind the cache's back
    // ---------------------------------------------------------------------------------------------------------------

    /**
     * The path of the shared file stops resolving behind a client: a directory on it is moved away and a plain file put
     * in its place (ENOTDIR), so no file is found there. Close must still return and free the client's slot, as
     * {@code close()}'s Javadoc says, rather than throw the file system's error out of its leave.
     */
    @Test
    void closeWhenAPathComponentIsNoLongerADirectoryStillReturns() throws IOException
    {
        final Path sub = Files.createDirectory(clients.dir().resolve("sub"));
        final SharedCache cache = SharedCache.builder(sub.resolve("cache")).frames(8).leaseMillis(2000).join();
        Files.move(sub, clients.dir().resolve("moved"));
        Files.write(clients.dir().resolve("sub"), new byte[1]); // sub/cache: not a directory
        cache.close();
        assertTrue(cache.isClosed());
    }

    /**
     * A client whose recorded identity of the file names whatever file is at the path now (the state join's read of
     * the path's attributes, after its open, leaves if the path was replaced in between) must not retire that file on
     * its way out: leave reads the header of the file at the path and retires it only if it is the cache's. Here an
     * unrelated file of the user's takes the path, and the recorded identity is set to it (reflection: the race itself
     * cannot be made to happen on demand).
     */
    @Test
    void leaveNeverRetiresAnUnrelatedFileAtThePath() throws Exception
    {
        final Path path = clients.file();
        final SharedCache cache = SharedCache.builder(path).frames(8).leaseMillis(2000).join();
        Files.delete(path);
        final byte[] precious = "precious user data, not a cache".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        Files.write(path, precious);
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
        final java.lang.reflect.Field fileField = SharedCache.class.getDeclaredField("file");
        fileField.setAccessible(true);
        final SharedFile file = (SharedFile)fileField.get(cache);
        final java.lang.reflect.Field keyField = SharedFile.class.getDeclaredField("fileKey");
        keyField.setAccessible(true);
        keyField.set(file, Files.readAttributes(path, java.nio.file.attribute.BasicFileAttributes.class,
            java.nio.file.LinkOption.NOFOLLOW_LINKS).fileKey());
        cache.close();
        assertTrue(Files.exists(path), "an unrelated file at the path was retired and removed");
        assertArrayEquals(precious, Files.readAllBytes(path));
    }

    /**
     * The path is removed behind a client (an admin, {@code systemd-logind}'s RemoveIPC, a cleaner of /dev/shm) and
     * another process creates a new file there. When the first client, the last of the old file, leaves, it compared
     * only the magic of the file now at the path with its own, found them equal, counted the live clients of its own
     * (old) mapping, none, and retired the new file, which is in use: its clients go on in an unlinked file while the
     * next joiner creates a third, and they no longer share anything.
     */
    @Test
    void leavingAFileRemovedBehindOurBackLeavesTheNewFileAtThePathAlone() throws IOException
    {
        final SharedCache old = SharedCache.builder(clients.file()).frames(16).leaseMillis(2000).join();
        Files.delete(clients.file());
        final SharedCache replacement = clients.join(16);
        assertTrue(replacement.created());
        final long loaded = replacement.load(1, fill((byte)1));
        old.close();
        assertTrue(Files.exists(clients.file()), "the last client of a removed file retired the new file at its path, which " +
            "another client uses");
        final SharedCache joiner = clients.join(16);
        assertFalse(joiner.created(), "a new joiner must join the file in use, not create a third");
        assertEquals(loaded, joiner.lookup(1));
    }

    /**
     * A file of another layout version whose processes still run must be refused; liveOtherVersion took them for gone
     * when the file's mtime was older than two leases, but on tmpfs stores through a mapping never change the mtime:
     * heartbeats do not keep it fresh, so a joiner built with another version retires a file in use a few seconds
     * after its last write(2). Simulated here with a client of this build whose header is rewritten to another
     * version: it beats all along.
     */
    @Test
    void aFileOfAnotherVersionWhoseClientsStillBeatIsNotReplaced() throws Exception
    {
        final SharedCache other = clients.join(16, 100);
        try (FileChannel channel = FileChannel.open(clients.file(), StandardOpenOption.READ, StandardOpenOption.WRITE))
        {
            channel.write(ByteBuffer.allocate(Integer.BYTES).order(ByteOrder.nativeOrder())
                .putInt(0, SharedLayout.LAYOUT_VERSION + 1), SharedLayout.VERSION_OFFSET);
            // the write(2) above set the mtime; its creator wrote its header long ago: every write since went
            // through the mapping
            Files.setLastModifiedTime(clients.file(), FileTime.fromMillis(System.currentTimeMillis() - 60_000));
            final long slot = new SharedLayout(4096, 16, 16).clientOffset(other.clientSlot()) +
                SharedLayout.HEARTBEAT_OFFSET;
            final long first = readLong(channel, slot);
            for (int beats = 0; beats < 2; )
            {
                final long before = readLong(channel, slot);
                Thread.sleep(50);
                if (readLong(channel, slot) != before)
                {
                    beats++;
                }
            }
            assertNotEquals(first, readLong(channel, slot), "the other-version client beats all along");
        }
        final IllegalStateException refused = assertThrows(IllegalStateException.class,
            () -> clients.join(16, 100), "a file of another version whose client beats was replaced");
        assertTrue(refused.getMessage().contains("version"), refused.getMessage());
        assertFalse(other.isClosed());
    }

    private static long readLong(final FileChannel channel, final long offset) throws IOException
    {
        final ByteBuffer word = ByteBuffer.allocate(Long.BYTES).order(ByteOrder.nativeOrder());
        channel.read(word, offset);
        return word.getLong(0);
    }

    /**
     * A creator killed after it sized the file and before it wrote the magic (initializeAndClaim: the write of the
     * last byte, the mapping, then the header) leaves a file of zeros. The header's INITIALIZED word exists so that a
     * joiner replaces a file whose creator died, but a zero magic was taken for "not an ExtentCache file": every
     * joiner refused it until someone removed it by hand.
     */
    @Test
    void aFileWhoseCreatorDiedBeforeWritingItsMagicIsReplaced() throws IOException
    {
        final SharedLayout layout = new SharedLayout(4096, 16, 16);
        try (FileChannel channel = FileChannel.open(clients.file(), java.util.Set.of(StandardOpenOption.CREATE_NEW,
            StandardOpenOption.WRITE), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(
            "rw-------"))))
        {
            channel.write(ByteBuffer.allocate(1), layout.fileLength - 1);
        }
        final SharedCache cache = clients.join(16);
        assertTrue(cache.created());
        assertEquals(1, cache.load(1, fill((byte)1)) >>> SharedLayout.GENERATION_SHIFT);
    }

    /** A file that is not ours (a non-zero header without the magic) is still refused, never replaced. */
    @Test
    void aFileWithSomethingElseInItsHeaderIsStillRefused() throws IOException
    {
        Files.write(clients.file(), "not a cache".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        Files.setPosixFilePermissions(clients.file(), PosixFilePermissions.fromString("rw-------"));
        assertThrows(IllegalStateException.class, () -> clients.join(16));
        assertTrue(Files.exists(clients.file()));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // The child JVM for crashes
    // ---------------------------------------------------------------------------------------------------------------

    /** Runs what used to crash the JVM in a JVM of its own; prints what happened and exits 0 if it survived. */
    static final class Child
    {
        record Result(int exit, String output)
        {
        }

        static Result run(final String mode, final Path dir) throws Exception
        {
            final String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            final List<String> command = List.of(java, "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
                "-XX:-CreateCoredumpOnCrash", "-XX:ErrorFile=" + dir.resolve("hs_err_%p.log"), "-Xmx256m",
                "-cp", System.getProperty("java.class.path") + File.pathSeparator + System.getProperty(
                "surefire.test.class.path", ""), Child.class.getName(), mode, dir.toString());
            final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            try
            {
                final byte[] out = process.getInputStream().readAllBytes();
                if (!process.waitFor(120, TimeUnit.SECONDS))
                {
                    return new Result(-1, "timed out: " + new String(out));
                }
                return new Result(process.exitValue(), new String(out));
            }
            finally
            {
                process.destroyForcibly();
            }
        }

        public static void main(final String[] args) throws Exception
        {
            final Path dir = Path.of(args[1]);
            final Path path = dir.resolve("child-cache");
            try (SharedCache cache = SharedCache.builder(path).frames(16).leaseMillis(2000).join())
            {
                final long handle = cache.load(1, fill((byte)7));
                switch (args[0])
                {
                    case "read-only-mapping" -> readOnlyMapping(cache, handle, dir);
                    case "revoke-race" -> revokeRace(cache, handle);
                    default -> throw new IllegalArgumentException(args[0]);
                }
            }
            System.out.flush();
            System.exit(0);
        }

        private static void readOnlyMapping(final SharedCache cache, final long handle, final Path dir)
            throws IOException
        {
            final Path target = dir.resolve("read-only");
            Files.write(target, new byte[2 * cache.pageSize()]);
            try (FileChannel channel = FileChannel.open(target, StandardOpenOption.READ))
            {
                final MappedByteBuffer readOnly = channel.map(FileChannel.MapMode.READ_ONLY, 0, cache.pageSize());
                System.out.println("mapped read-only: " + readOnly.isReadOnly());
                System.out.flush();
                try
                {
                    System.out.println("read returned " + cache.read(handle, 0, readOnly, cache.pageSize()));
                }
                catch (final ReadOnlyBufferException ex)
                {
                    System.out.println("read threw " + ex);
                }
            }
        }

        /** One thread pins and unpins, one reads the current page's view: 2 million rounds, no clock. */
        private static void revokeRace(final SharedCache cache, final long handle) throws InterruptedException
        {
            final AtomicReference<SharedPage> current = new AtomicReference<>();
            final AtomicBoolean stop = new AtomicBoolean();
            final long[] refused = new long[1];
            final Thread reader = new Thread(() ->
            {
                long sum = 0;
                while (!stop.get())
                {
                    final SharedPage page = current.get();
                    if (null == page)
                    {
                        continue;
                    }
                    final DirectBuffer view = page.buffer();
                    try
                    {
                        sum += view.getLong(8) + view.getByte(100);
                    }
                    catch (final IndexOutOfBoundsException ex)
                    {
                        refused[0]++;
                    }
                }
                System.out.println("reader: sum " + sum + ", refused " + refused[0]);
            });
            reader.start();
            for (int round = 0; round < 2_000_000; round++)
            {
                final SharedPage page = cache.pin(handle);
                current.set(page);
                for (int spin = 0; spin < 20; spin++)
                {
                    Thread.onSpinWait();
                }
                page.close();
            }
            stop.set(true);
            reader.join();
            System.out.println("revoke-race done");
        }
    }
}
