package org.extentcache.nio;

import org.extentcache.TestThreads;
import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Review 4: a close waits for the operations in flight, but not for the closing thread's own: a transfer whose
 * source or target closes the channel (from inside the transfer) must not wait for itself forever.
 */
class Review4ChannelTest
{
    private static final int PAGE = 4096;

    @Test
    void aTransferFromWhoseSourceClosesTheChannelEndsWithClosedChannelException() throws Exception
    {
        final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 1024);
        final ExtentStore store = ExtentStore.format(device);
        try (StoreFileSystem fs = ExtentCacheFileSystems.overStore(store, device, FileSystemOptions.DEFAULTS))
        {
            final FileChannel channel = FileChannel.open(fs.getPath("/f"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE);
            final ReadableByteChannel closing = new ReadableByteChannel()
            {
                @Override
                public int read(final ByteBuffer dst) throws IOException
                {
                    channel.close(); // e.g. a source that gives up and closes everything on an error
                    dst.put(new byte[PAGE]);
                    return PAGE;
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
            };
            final CompletableFuture<Long> transfer = CompletableFuture.supplyAsync(() ->
            {
                try
                {
                    return channel.transferFrom(closing, 0, PAGE);
                }
                catch (final IOException ex)
                {
                    throw new IllegalStateException(ex);
                }
            }, TestThreads.POOL);
            final ExecutionException failed = assertThrows(ExecutionException.class,
                () -> transfer.get(10, TimeUnit.SECONDS), "the close inside the transfer must not wait for it");
            assertInstanceOf(ClosedChannelException.class, failed.getCause().getCause());
            assertFalse(channel.isOpen());
            assertEquals(0, Files.size(fs.getPath("/f")), "nothing written after the close");
        }
        store.close();
    }

    @Test
    void aTransferToWhoseTargetClosesTheSourceDoesNotHang() throws Exception
    {
        final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 1024);
        final ExtentStore store = ExtentStore.format(device);
        try (StoreFileSystem fs = ExtentCacheFileSystems.overStore(store, device, FileSystemOptions.DEFAULTS))
        {
            Files.write(fs.getPath("/f"), new byte[4 * PAGE]);
            final FileChannel channel = FileChannel.open(fs.getPath("/f"), StandardOpenOption.READ);
            final WritableByteChannel closing = new WritableByteChannel()
            {
                @Override
                public int write(final ByteBuffer src) throws IOException
                {
                    channel.close();
                    final int n = src.remaining();
                    src.position(src.limit());
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
            };
            final CompletableFuture<Long> transfer = CompletableFuture.supplyAsync(() ->
            {
                try
                {
                    return channel.transferTo(0, 4 * PAGE, closing);
                }
                catch (final IOException ex)
                {
                    return -1L;
                }
            }, TestThreads.POOL);
            transfer.get(10, TimeUnit.SECONDS); // must end, however
            assertFalse(channel.isOpen());
        }
        store.close();
    }
}
