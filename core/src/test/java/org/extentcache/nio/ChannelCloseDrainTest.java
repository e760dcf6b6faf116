package org.extentcache.nio;

import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A write in flight when its channel, or the whole file system, closes ends before the close does: it is neither
 * lost after the file system's last flush nor failed with an exception outside the {@code FileChannel} contract.
 */
class ChannelCloseDrainTest
{
    private static final int PAGE = 4096;

    @Test
    void closingTheFileSystemWaitsForAWriteInFlightAndKeepsIt() throws Exception
    {
        final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 1024);
        final ExtentStore store = ExtentStore.format(device);
        final byte[] bytes = new byte[3 * PAGE];
        Arrays.fill(bytes, (byte)7);
        final CountDownLatch reading = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final StoreFileSystem fs = ExtentCacheFileSystems.overStore(store, device, FileSystemOptions.DEFAULTS);
        final Path path = fs.getPath("/f");
        final FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        final CompletableFuture<Long> write = CompletableFuture.supplyAsync(() ->
        {
            try
            {
                return channel.transferFrom(new BlockingSource(bytes, reading, release), 0, bytes.length);
            }
            catch (final IOException ex)
            {
                throw new IllegalStateException(ex);
            }
        }, org.extentcache.TestThreads.POOL);
        assertTrue(reading.await(10, TimeUnit.SECONDS));
        final CompletableFuture<Void> close = CompletableFuture.runAsync(() ->
        {
            try
            {
                fs.close();
            }
            catch (final IOException ex)
            {
                throw new IllegalStateException(ex);
            }
        }, org.extentcache.TestThreads.POOL);
        Thread.sleep(200);
        assertFalse(close.isDone(), "the close waits for the write in flight");
        release.countDown();
        assertEquals(bytes.length, write.get(10, TimeUnit.SECONDS), "the write in flight completes");
        close.get(10, TimeUnit.SECONDS);
        store.close();

        final ExtentStore reopened = ExtentStore.open(device);
        try (StoreFileSystem again = ExtentCacheFileSystems.overStore(reopened, device, FileSystemOptions.DEFAULTS))
        {
            assertArrayEquals(bytes, Files.readAllBytes(again.getPath("/f")), "the write outlived the close");
        }
        reopened.close();
    }

    /** Hands out its bytes in one read, once the test lets it. */
    private static final class BlockingSource implements ReadableByteChannel
    {
        private final ByteBuffer bytes;
        private final CountDownLatch reading;
        private final CountDownLatch release;

        BlockingSource(final byte[] bytes, final CountDownLatch reading, final CountDownLatch release)
        {
            this.bytes = ByteBuffer.wrap(bytes);
            this.reading = reading;
            this.release = release;
        }

        @Override
        public int read(final ByteBuffer dst) throws IOException
        {
            reading.countDown();
            try
            {
                if (!release.await(10, TimeUnit.SECONDS))
                {
                    throw new IOException("never released");
                }
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                throw new IOException(ex);
            }
            if (!bytes.hasRemaining())
            {
                return -1;
            }
            final int n = Math.min(dst.remaining(), bytes.remaining());
            dst.put(dst.position(), bytes, bytes.position(), n).position(dst.position() + n);
            bytes.position(bytes.position() + n);
            return n;
        }

        @Override
        public boolean isOpen()
        {
            return true;
        }

        @Override
        public void close()
        {
        }
    }
}
