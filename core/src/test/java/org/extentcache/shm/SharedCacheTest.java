package org.extentcache.shm;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The shared cache with several clients in one JVM (each a join of its own, with its own mapping and slot): what
 * one loads, another reads; failures give frames back; pins hold frames against every client's sweep; the file's
 * mode, version and geometry checks; the last client out removes it.
 */
class SharedCacheTest
{
    @RegisterExtension
    final SharedCacheClients clients = new SharedCacheClients();

    static SharedCache.PageLoader stamp(final long stamp)
    {
        return (key, page) ->
        {
            while (page.remaining() >= Long.BYTES)
            {
                page.putLong(stamp);
            }
        };
    }

    static long firstLong(final SharedCache cache, final long handle)
    {
        final ByteBuffer out = ByteBuffer.allocate(8); // big-endian, as the stamps are written
        assertTrue(cache.read(handle, 0, out, 8), "handle went stale");
        return out.getLong(0);
    }

    @Test
    void whatOneClientLoadsAnotherReads() throws IOException
    {
        final SharedCache a = clients.join(16);
        final SharedCache b = clients.join(16);
        assertTrue(a.created());
        assertFalse(b.created());
        assertNotEquals(a.clientSlot(), b.clientSlot());
        assertEquals(SharedCache.NO_HANDLE, b.lookup(7));
        final long loaded = a.load(7, stamp(700));
        final long found = b.lookup(7);
        assertEquals(loaded, found);
        assertEquals(700, firstLong(b, found));
        final AtomicInteger loads = new AtomicInteger();
        assertEquals(loaded, b.load(7, (key, page) -> loads.incrementAndGet()));
        assertEquals(0, loads.get(), "the second client must not load a block the first did");
        assertEquals(1, a.stats().loads());
        assertEquals(2, a.stats().liveClients());
        assertEquals(PosixFilePermissions.fromString("rw-------"), Files.getPosixFilePermissions(clients.file()));
    }

    @Test
    void aFailedLoadKeepsNothingAndTheNextLoadReadsAgain() throws IOException
    {
        final SharedCache a = clients.join(16);
        final IOException thrown = assertThrows(IOException.class, () -> a.load(3, (key, page) ->
        {
            page.putLong(99);
            throw new IOException("device says no");
        }));
        assertEquals("device says no", thrown.getMessage());
        assertEquals(SharedCache.NO_HANDLE, a.lookup(3));
        assertEquals(0, a.stats().framesLoading());
        final IllegalStateException unfilled = assertThrows(IllegalStateException.class,
            () -> a.load(3, (key, page) -> page.putLong(1)));
        assertTrue(unfilled.getMessage().contains("unfilled"), unfilled.getMessage());
        assertEquals(33, firstLong(a, a.load(3, stamp(33))));
        assertEquals(1, a.stats().framesReady());
    }

    @Test
    void everyKeyLoadsIntoItsOwnFrameAndTheSweepReclaims() throws IOException
    {
        final SharedCache a = clients.join(8);
        final SharedCache b = clients.join(8);
        for (long key = 0; key < 100; key++)
        {
            final SharedCache cache = 0 == key % 2 ? a : b;
            final long handle = cache.load(key, stamp(key * 10));
            assertEquals(key * 10, firstLong(cache, handle));
        }
        assertEquals(8, a.stats().framesReady());
        assertTrue(a.stats().reclaims() >= 92, a.stats().toString());
    }

    @Test
    void aPinHoldsTheFrameAgainstEveryClientsSweepAndItsViewIsRevokedAtUnpin() throws IOException
    {
        final SharedCache a = clients.join(8);
        final SharedCache b = clients.join(8);
        final long handle = a.load(1, stamp(11));
        final SharedPage page = b.pin(handle);
        assertNotNull(page);
        for (long key = 100; key < 200; key++)
        {
            a.load(key, stamp(key));
        }
        assertTrue(a.isValid(handle), "a pinned frame was reclaimed");
        assertEquals(11, page.buffer().getLong(0, ByteOrder.BIG_ENDIAN));
        page.close();
        assertThrows(IndexOutOfBoundsException.class, () -> page.buffer().getLong(0));
        assertThrows(IllegalStateException.class, page::close);
        for (long key = 200; key < 300; key++)
        {
            a.load(key, stamp(key));
        }
        assertFalse(a.isValid(handle), "an unpinned frame stays forever");
        assertNull(b.pin(handle), "a stale handle pins nothing");
    }

    @Test
    void everyFramePinnedMakesALoadFailWithTheNumbers() throws IOException
    {
        final SharedCache a = clients.join(8);
        final List<SharedPage> pages = new ArrayList<>();
        for (long key = 0; key < 8; key++)
        {
            pages.add(a.pin(a.load(key, stamp(key))));
        }
        final IllegalStateException full = assertThrows(IllegalStateException.class, () -> a.load(99, stamp(99)));
        assertTrue(full.getMessage().contains("all 8 frames are pinned or loading"), full.getMessage());
        pages.forEach(SharedPage::close);
        assertEquals(99, firstLong(a, a.load(99, stamp(99))));
    }

    @Test
    void anInvalidatedFrameIsStaleForEveryClient() throws IOException
    {
        final SharedCache a = clients.join(8);
        final SharedCache b = clients.join(8);
        final long handle = a.load(5, stamp(5));
        assertTrue(b.invalidate(handle));
        assertFalse(a.isValid(handle));
        assertFalse(a.read(handle, 0, ByteBuffer.allocate(8), 8));
        assertFalse(b.invalidate(handle), "a stale handle invalidates nothing");
        assertEquals(SharedCache.NO_HANDLE, a.lookup(5));
        assertEquals(55, firstLong(a, a.load(5, stamp(55))));
    }

    @Test
    void theLastClientOutRemovesTheFileAndClosingTwiceIsHarmless() throws IOException
    {
        final SharedCache a = clients.join(8);
        final SharedCache b = clients.join(8);
        a.close();
        assertTrue(Files.exists(clients.file()), "removed while a client remained");
        b.close();
        assertFalse(Files.exists(clients.file()), "the last client left the file behind");
        b.close();
        assertThrows(IllegalStateException.class, () -> b.lookup(1));
        final SharedCache c = clients.join(8);
        assertTrue(c.created(), "a new file after the last left");
    }

    @Test
    void clientsClosingAtOnceAllLeaveCleanlyAndTheFileIsRemoved() throws Exception
    {
        for (int round = 0; round < 300; round++)
        {
            final List<SharedCache> joined = new ArrayList<>(); // closed here, not by the extension
            for (int i = 0; i < 4; i++)
            {
                joined.add(SharedCache.builder(clients.file()).frames(8).leaseMillis(2000).join());
            }
            final List<java.util.concurrent.CompletableFuture<Void>> closes = new ArrayList<>();
            for (final SharedCache client : joined)
            {
                closes.add(java.util.concurrent.CompletableFuture.runAsync(() ->
                {
                    try
                    {
                        client.close();
                    }
                    catch (final IOException ex)
                    {
                        throw new java.io.UncheckedIOException(ex);
                    }
                }, org.extentcache.TestThreads.POOL));
            }
            for (final java.util.concurrent.CompletableFuture<Void> close : closes)
            {
                close.get(30, java.util.concurrent.TimeUnit.SECONDS); // a failed leave throws here, round by round
            }
            assertFalse(Files.exists(clients.file()), "round " + round + ": the last client out left the file");
        }
    }

    @Test
    void theLockFoundHeldByThisVeryClientIsTakenBackWithoutTakingTheClientForDead() throws IOException
    {
        final SharedCache a = clients.join(8);
        assertEquals(5, firstLong(a, a.load(5, stamp(5))));
        final SharedLayout layout = new SharedLayout(4096, 8, 16);
        try (FileChannel channel = FileChannel.open(clients.file(), StandardOpenOption.READ, StandardOpenOption.WRITE))
        {
            final ByteBuffer session = ByteBuffer.allocate(8).order(ByteOrder.nativeOrder());
            channel.read(session, layout.clientOffset(a.clientSlot()) + SharedLayout.SESSION_OFFSET);
            channel.write(session.flip(), SharedLayout.LOCK_OFFSET); // as a thread of A that died inside the lock
        }
        assertEquals(6, firstLong(a, a.load(6, stamp(6))), "the client took itself for dead");
        assertEquals(5, firstLong(a, a.lookup(5)), "the index rebuilt from the records lost a frame");
        assertEquals(0, a.stats().recoveries());
        assertEquals(1, a.stats().liveClients());
    }

    @Test
    void aFileOfAnotherGeometryOrNotOursIsRefusedWithTheNumbers() throws IOException
    {
        clients.join(8);
        final IllegalArgumentException geometry = assertThrows(IllegalArgumentException.class,
            () -> SharedCache.builder(clients.file()).frames(16).leaseMillis(2000).join());
        assertTrue(geometry.getMessage().contains("frames=8") && geometry.getMessage().contains("frames=16"),
            geometry.getMessage());
        final Path other = clients.dir().resolve("other");
        Files.write(other, new byte[100]);
        Files.setPosixFilePermissions(other, PosixFilePermissions.fromString("rw-------"));
        final IllegalStateException notOurs = assertThrows(IllegalStateException.class,
            () -> SharedCache.builder(other).frames(8).join());
        assertTrue(notOurs.getMessage().contains("not an ExtentCache shared cache file"), notOurs.getMessage());
        final Path open = clients.dir().resolve("open");
        Files.write(open, new byte[0]);
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rw-r--r--"));
        final IllegalStateException wide = assertThrows(IllegalStateException.class,
            () -> SharedCache.builder(open).frames(8).join());
        assertTrue(wide.getMessage().contains("grant nothing to others"), wide.getMessage());
        final Path target = clients.dir().resolve("target");
        final Path link = Files.createSymbolicLink(clients.dir().resolve("link"), target);
        assertThrows(IOException.class, () -> SharedCache.builder(link).frames(8).join(),
            "a symbolic link planted at the path was followed");
        assertFalse(Files.exists(target), "a file was created where a planted link points");
    }

    @Test
    void aGroupGetsTheFileWithModeSixSixty() throws IOException
    {
        final String group = Files.readAttributes(clients.dir(), java.nio.file.attribute.PosixFileAttributes.class).group()
            .getName();
        try (SharedCache cache = SharedCache.builder(clients.file()).frames(8).group(group).join())
        {
            assertEquals(PosixFilePermissions.fromString("rw-rw----"), Files.getPosixFilePermissions(clients.file()));
            assertEquals(group, Files.readAttributes(clients.file(), java.nio.file.attribute.PosixFileAttributes.class).group()
                .getName());
            assertTrue(cache.created());
        }
        assertThrows(IOException.class, () -> SharedCache.builder(clients.file()).frames(8).group("no-such-group-xyz").join());
        assertFalse(Files.exists(clients.file()), "a file left behind by a failed group change");
    }

    @Test
    void anotherLayoutVersionInUseIsRefusedAndAStaleOneReplaced() throws IOException
    {
        final SharedCache a = clients.join(8);
        a.load(1, stamp(1));
        setVersion(SharedLayout.LAYOUT_VERSION + 1);
        final IllegalStateException refused = assertThrows(IllegalStateException.class,
            () -> SharedCache.builder(clients.file()).frames(8).leaseMillis(2000).join());
        assertTrue(refused.getMessage().contains("layout version " + (SharedLayout.LAYOUT_VERSION + 1)),
            refused.getMessage());
        // no process of that version alive: the file they left, last beaten and written two leases ago (a client
        // of this build beats the header's last beat, at the same offset in every version, so it leaves first)
        final Path left = clients.dir().resolve("left");
        Files.copy(clients.file(), left);
        clients.forget(a);
        a.close();
        Files.move(left, clients.file());
        Files.setPosixFilePermissions(clients.file(), PosixFilePermissions.fromString("rw-------"));
        try (FileChannel channel = FileChannel.open(clients.file(), StandardOpenOption.WRITE))
        {
            channel.write(ByteBuffer.allocate(8).order(ByteOrder.nativeOrder())
                .putLong(0, System.currentTimeMillis() - 60_000), SharedLayout.LAST_BEAT_OFFSET);
        }
        Files.setLastModifiedTime(clients.file(), java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() -
            60_000));
        final SharedCache b = clients.join(8);
        assertTrue(b.created(), "a stale file of another version is replaced");
        assertEquals(SharedCache.NO_HANDLE, b.lookup(1));
    }

    private void setVersion(final int version) throws IOException
    {
        try (FileChannel channel = FileChannel.open(clients.file(), StandardOpenOption.WRITE))
        {
            final ByteBuffer bytes = ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(0, version);
            channel.write(bytes, SharedLayout.VERSION_OFFSET);
        }
    }

    @Test
    void aLoadWaitsForAnotherClientsLoadOfTheSameKey() throws Exception
    {
        final SharedCache a = clients.join(8);
        final SharedCache b = clients.join(8);
        final java.util.concurrent.CountDownLatch inLoad = new java.util.concurrent.CountDownLatch(1);
        final java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        final java.util.concurrent.CompletableFuture<Long> first = java.util.concurrent.CompletableFuture.supplyAsync(
            () ->
            {
                try
                {
                    return a.load(9, (key, page) ->
                    {
                        inLoad.countDown();
                        try
                        {
                            release.await();
                        }
                        catch (final InterruptedException ex)
                        {
                            throw new java.io.InterruptedIOException();
                        }
                        stamp(90).load(key, page);
                    });
                }
                catch (final IOException ex)
                {
                    throw new java.io.UncheckedIOException(ex);
                }
            }, org.extentcache.TestThreads.POOL);
        inLoad.await();
        assertEquals(SharedCache.NO_HANDLE, b.lookup(9), "a loading frame is never served");
        final java.util.concurrent.CompletableFuture<Long> second = java.util.concurrent.CompletableFuture.supplyAsync(
            () ->
            {
                try
                {
                    return b.load(9, (key, page) -> stamp(666).load(key, page));
                }
                catch (final IOException ex)
                {
                    throw new java.io.UncheckedIOException(ex);
                }
            }, org.extentcache.TestThreads.POOL);
        Thread.sleep(50);
        assertFalse(second.isDone(), "the second load did not wait");
        release.countDown();
        assertSame(first.get(), first.get());
        assertEquals(first.get(), second.get());
        assertEquals(90, firstLong(b, second.get()));
        assertEquals(1, a.stats().loads());
    }
}
