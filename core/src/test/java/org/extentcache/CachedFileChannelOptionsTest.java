package org.extentcache;

import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileLock;
import java.nio.channels.NonReadableChannelException;
import java.nio.channels.NonWritableChannelException;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.LinkOption;
import java.nio.file.OpenOption;
import java.nio.file.StandardOpenOption;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

import static java.nio.file.StandardOpenOption.APPEND;
import static java.nio.file.StandardOpenOption.CREATE;
import static java.nio.file.StandardOpenOption.DSYNC;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.SYNC;
import static java.nio.file.StandardOpenOption.TRUNCATE_EXISTING;
import static java.nio.file.StandardOpenOption.WRITE;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The {@code FileChannel} contract beyond reads and writes: open options (modes, truncate, append, sync), and
 * byte-range locks with process-local {@link FileLockTable} (overlap across channels, release on close, mode
 * checks).
 */
class CachedFileChannelOptionsTest
{
    private static final int PAGE = 4096;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    private final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 256);
    private final ExtentStore store = new ExtentStore(device);
    private final ExtentCache cache = books.track(
        ExtentCache.builder().device(device).translator(store).capacityFrames(16).build());
    private final FileLockTable table = new FileLockTable();

    private CachedFileChannel open(final long file, final OpenOption... options) throws IOException
    {
        return CachedFileChannel.open(cache, file, ChannelOptions.of(Set.of(options)), table.locksOf(file), () -> { });
    }

    private long fileWith(final byte[] bytes) throws IOException
    {
        final long file = store.create();
        store.write(file, 0, ByteBuffer.wrap(bytes));
        return file;
    }

    @Test
    void optionsAreReadAsTheJdkReadsThem()
    {
        assertEquals(new ChannelOptions(true, false, false, false, false, false, false, false),
            ChannelOptions.of(Set.of()), "no option: read");
        assertEquals(new ChannelOptions(false, true, true, false, true, false, false, false),
            ChannelOptions.of(Set.of(APPEND, CREATE)), "APPEND alone writes");
        assertEquals(new ChannelOptions(true, false, false, false, false, false, false, true),
            ChannelOptions.of(Set.of(READ, CREATE, TRUNCATE_EXISTING, LinkOption.NOFOLLOW_LINKS)),
            "create and truncate count only for writing");
        assertTrue(ChannelOptions.of(Set.of(WRITE, DSYNC)).sync());
        assertThrows(IllegalArgumentException.class, () -> ChannelOptions.of(Set.of(READ, APPEND)));
        assertThrows(IllegalArgumentException.class, () -> ChannelOptions.of(Set.of(APPEND, TRUNCATE_EXISTING)));
        final UnsupportedOperationException unsupported = assertThrows(UnsupportedOperationException.class,
            () -> ChannelOptions.of(Set.of(READ, StandardOpenOption.DELETE_ON_CLOSE)));
        assertTrue(unsupported.getMessage().contains("DELETE_ON_CLOSE"), unsupported.getMessage());
        final OpenOption foreign = new OpenOption()
        {
            @Override
            public String toString()
            {
                return "FOREIGN";
            }
        };
        assertTrue(assertThrows(UnsupportedOperationException.class, () -> ChannelOptions.of(Set.of(foreign)))
            .getMessage().contains("FOREIGN"));
    }

    @Test
    void aReadOnlyChannelRefusesWritesAndAWriteOnlyChannelRefusesReads() throws IOException
    {
        final long file = fileWith(new byte[] {1, 2, 3});
        try (CachedFileChannel readOnly = open(file, READ);
            CachedFileChannel writeOnly = open(file, WRITE))
        {
            final ByteBuffer one = ByteBuffer.allocate(1);
            assertThrows(NonWritableChannelException.class, () -> readOnly.write(ByteBuffer.allocate(1)));
            assertThrows(NonWritableChannelException.class, () -> readOnly.write(ByteBuffer.allocate(1), 0));
            assertThrows(NonWritableChannelException.class, () -> readOnly.truncate(0));
            assertThrows(NonWritableChannelException.class, () -> readOnly.transferFrom(writeOnly, 0, 1));
            assertThrows(NonReadableChannelException.class, () -> writeOnly.read(one));
            assertThrows(NonReadableChannelException.class, () -> writeOnly.read(one, 0));
            assertThrows(NonReadableChannelException.class, () -> writeOnly.transferTo(0, 1, readOnly));
            assertEquals(1, readOnly.read(one, 0));
            assertEquals(1, one.get(0));
            assertEquals(1, writeOnly.write(ByteBuffer.wrap(new byte[] {9})));
            readOnly.force(true); // allowed on a read-only channel, as in the JDK
            assertEquals(9, readOnly.read(one.clear(), 0) > 0 ? one.get(0) : -1);
        }
    }

    @Test
    void truncateExistingEmptiesTheFileAndAppendWritesAtTheEnd() throws IOException
    {
        final long file = fileWith(new byte[PAGE + 5]);
        try (CachedFileChannel truncating = open(file, WRITE, TRUNCATE_EXISTING))
        {
            assertEquals(0, truncating.size());
            truncating.write(ByteBuffer.wrap(new byte[] {1, 2}));
        }
        try (CachedFileChannel appending = open(file, APPEND);
            CachedFileChannel reader = open(file, READ))
        {
            appending.position(0);
            appending.write(ByteBuffer.wrap(new byte[] {3}));
            assertEquals(3, appending.position(), "an appending channel's position is the size");
            appending.write(new ByteBuffer[] {ByteBuffer.wrap(new byte[] {4}), ByteBuffer.wrap(new byte[] {5})});
            final ByteBuffer all = ByteBuffer.allocate(8);
            assertEquals(5, reader.read(all, 0));
            assertArrayEquals(new byte[] {1, 2, 3, 4, 5}, java.util.Arrays.copyOf(all.array(), 5));
        }
    }

    @Test
    void syncForcesEveryWrite() throws IOException
    {
        final long file = store.create();
        try (CachedFileChannel synced = open(file, WRITE, SYNC);
            CachedFileChannel lazy = open(file, READ, WRITE))
        {
            synced.write(ByteBuffer.wrap(new byte[] {7}), PAGE);
            assertEquals(0, synced.file().dirtyPageCount(), "SYNC: written back before write returns");
            lazy.write(ByteBuffer.wrap(new byte[] {8}), 0);
            assertEquals(1, lazy.file().dirtyPageCount(), "without SYNC the page stays dirty");
            lazy.force(false);
            assertEquals(0, lazy.file().dirtyPageCount());
        }
        final ByteBuffer stored = ByteBuffer.allocate(1);
        store.read(file, PAGE, stored);
        assertEquals(7, stored.get(0), "the store holds the synced byte");
    }

    @Test
    void overlappingLocksThrowAcrossChannelsAndCloseReleasesThem() throws IOException
    {
        final long file = fileWith(new byte[100]);
        final CachedFileChannel first = open(file, READ, WRITE);
        try (CachedFileChannel second = open(file, READ, WRITE))
        {
            final FileLock exclusive = first.lock(0, 10, false);
            assertTrue(exclusive.isValid());
            assertSame(first, exclusive.channel());
            assertThrows(OverlappingFileLockException.class, () -> second.tryLock(5, 10, true));
            assertThrows(OverlappingFileLockException.class, () -> first.lock(9, 1, false), "same channel too");
            second.lock(10, 5, true).release(); // adjacent ranges do not overlap
        }
        first.close();
        try (CachedFileChannel second = open(file, READ, WRITE))
        {
            assertEquals(0, table.lockCount(file), "closing the channel released its locks");
            final FileLock whole = second.lock(50, 0, true);
            assertThrows(OverlappingFileLockException.class, () -> second.tryLock(1000, 1, true),
                "size 0 locks to the end of the file, however it grows");
            final FileLock below = second.tryLock(0, 50, false);
            assertNotNull(below);
            below.release();
            assertFalse(below.isValid());
            below.release(); // a second release does nothing
            whole.close();
            assertEquals(0, table.lockCount(file));
        }
    }

    @Test
    void lockModesFollowTheChannelMode() throws IOException
    {
        final long file = fileWith(new byte[10]);
        final CachedFileChannel readOnly = open(file, READ);
        try (CachedFileChannel writeOnly = open(file, WRITE))
        {
            assertThrows(NonWritableChannelException.class, () -> readOnly.lock(0, 1, false));
            assertThrows(NonReadableChannelException.class, () -> writeOnly.tryLock(0, 1, true));
            assertThrows(IllegalArgumentException.class, () -> readOnly.lock(-1, 1, true));
            assertThrows(IllegalArgumentException.class, () -> readOnly.lock(1, Long.MAX_VALUE, true));
            final FileLock shared = readOnly.lock(0, 1, true);
            assertTrue(shared.isShared());
            final FileLock exclusive = writeOnly.tryLock(1, 1, false);
            assertFalse(exclusive.isShared());
            readOnly.close();
            assertFalse(shared.isValid(), "closing the channel invalidates its locks");
            assertThrows(ClosedChannelException.class, shared::release);
            assertTrue(exclusive.isValid(), "another channel's lock stays");
            assertEquals(1, table.lockCount(file));
        }
        assertEquals(0, table.lockCount(file));
    }

    @Test
    void theCloseActionRunsOnceAfterTheLocksAreReleased() throws IOException
    {
        final long file = fileWith(new byte[10]);
        final AtomicInteger closes = new AtomicInteger();
        final CachedFileChannel channel = CachedFileChannel.open(cache, file, ChannelOptions.READ_WRITE,
            table.locksOf(file), () ->
            {
                assertEquals(0, table.lockCount(file), "locks are released before the close action");
                closes.incrementAndGet();
            });
        channel.lock();
        channel.close();
        channel.close();
        assertEquals(1, closes.get());
    }

    @Test
    void theDefaultOpenLocksProcessLocallyAcrossItsChannels() throws IOException
    {
        final long file = store.create();
        try (CachedFileChannel a = CachedFileChannel.open(cache, file);
            CachedFileChannel b = CachedFileChannel.open(cache, file))
        {
            final FileLock lock = a.lock();
            assertThrows(OverlappingFileLockException.class, b::tryLock);
            lock.release();
            b.tryLock().release();
        }
    }
}
