package org.extentcache.netty;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.util.IllegalReferenceCountException;
import io.netty.util.ReferenceCountUtil;
import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.CacheBooks;
import org.extentcache.CachedFile;
import org.extentcache.ExtentCache;
import org.extentcache.FramePin;
import org.extentcache.PinnedPage;
import org.extentcache.frame.FrameDescriptor;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.ReadOnlyBufferException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The Netty view of a pinned page ({@link PinnedByteBuf#of(PinnedPage)}): its reference count is a frame pin of its own, so
 * Netty releasing it, the pin being closed, or the flyweight being re-pinned never leaves the other side with a lost
 * pin or a view over reused memory.
 */
class PinnedByteBufTest
{
    private static final int PAGE = 4096;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    private final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 1024);
    private final ExtentStore store = new ExtentStore(device);

    private ExtentCache cache(final int frames)
    {
        return books.track(ExtentCache.builder().device(device).translator(store).capacityFrames(frames).build());
    }

    /** A file whose every int holds its own file offset. */
    private static long stampedFile(final ExtentStore store, final int pages) throws IOException
    {
        final long id = store.create();
        final ByteBuffer data = ByteBuffer.allocate(pages * PAGE);
        for (int i = 0; i < pages * PAGE; i += 4)
        {
            data.putInt(i, i);
        }
        store.write(id, 0, data);
        return id;
    }

    private static void assertStamps(final long pageStart, final ByteBuf buf)
    {
        for (int i = 0; i < buf.capacity(); i += 4)
        {
            assertEquals((int)(pageStart + i), buf.getInt(i), "ByteBuf at " + i);
        }
    }

    /** A heap buffer of {@code length} bytes, each {@code value}. */
    private static ByteBuffer filled(final int length, final int value)
    {
        final byte[] bytes = new byte[length];
        Arrays.fill(bytes, (byte)value);
        return ByteBuffer.wrap(bytes);
    }

    /** Fails, naming the first byte that is not {@code value}. */
    private static void assertBytes(final int value, final byte[] bytes, final String what)
    {
        for (int i = 0; i < bytes.length; i++)
        {
            if (bytes[i] != (byte)value)
            {
                fail(what + ": byte " + i + " is " + bytes[i] + ", expected " + (byte)value);
            }
        }
    }

    /** Reads every page of the file three times through a small cache, so unpinned frames are reclaimed. */
    private static void churn(final ExtentCache cache, final CachedFile file, final int pages) throws IOException
    {
        final ByteBuffer dst = ByteBuffer.allocate(PAGE);
        for (int round = 0; round < 3; round++)
        {
            for (long p = 1; p < pages; p++)
            {
                file.read(p * PAGE, dst.clear());
            }
        }
        assertTrue(cache.stats().reclaims() > 2L * pages, "frames were reclaimed: " + cache.stats());
    }

    /** The usual {@code ctx.writeAndFlush(PinnedByteBuf.of(page))}: Netty writes the buffer out, then releases it. */
    @Test
    void aPinWhoseBufferNettyReleasedStillCloses() throws IOException
    {
        final ExtentCache cache = cache(16);
        final CachedFile file = cache.file(stampedFile(store, 2));
        final PinnedPage page = file.pin(PAGE);
        final ByteBuf msg = PinnedByteBuf.of(page);
        final ByteArrayOutputStream wire = new ByteArrayOutputStream();
        msg.readBytes(wire, msg.readableBytes());
        assertTrue(ReferenceCountUtil.release(msg), "Netty's release is the last one");
        assertEquals(PAGE, wire.size());
        assertEquals(PAGE, ByteBuffer.wrap(wire.toByteArray()).getInt(0));

        page.close();
        assertFalse(page.isPinned());
        assertNull(cache.checkBooks(), "no pin left behind");
    }

    @Test
    void aRetainedBufferKeepsItsBytesAfterThePinClosesAndThePageIsRewrittenAndReclaimed() throws IOException
    {
        final ExtentCache cache = cache(8);
        final CachedFile file = cache.file(stampedFile(store, 60));
        final PinnedPage page = file.pin(0);
        final ByteBuf buf = PinnedByteBuf.of(page).retain();
        page.close();

        file.write(0, filled(PAGE, 9));
        churn(cache, file, 60);
        final ByteBuffer now = ByteBuffer.allocate(PAGE);
        file.read(0, now);
        assertBytes(9, now.array(), "readers see the write");

        assertStamps(0, buf);
        assertFalse(buf.release(), "one reference left");
        assertStamps(0, buf);
        assertTrue(buf.release());
        file.flush();
    }

    @Test
    void theLastReleaseUnpinsTheFrameExactlyOnce() throws IOException
    {
        final ExtentCache cache = cache(16);
        final CachedFile file = cache.file(stampedFile(store, 2));
        final PinnedPage page = file.pin(0);
        final ByteBuf buf = PinnedByteBuf.of(page);
        page.close();
        final String books = cache.checkBooks();
        assertNotNull(books, "the buffer holds a pin of its own");
        assertTrue(books.contains("pins=1"), books);

        final int residentBefore = cache.stats().framesResident();
        file.write(0, filled(16, 9));
        assertEquals(residentBefore + 1, cache.stats().framesResident(), "the write copied the pinned frame");
        buf.retain();
        assertFalse(buf.release());
        assertEquals(residentBefore + 1, cache.stats().framesResident(), "still pinned by the buffer");
        assertTrue(buf.release());
        assertEquals(residentBefore, cache.stats().framesResident(), "the orphaned frame is freed at the last release");
        file.flush();
        assertNull(cache.checkBooks());
    }

    @Test
    void useAfterTheLastReleaseThrowsIllegalReferenceCount() throws IOException
    {
        final ExtentCache cache = cache(16);
        final CachedFile file = cache.file(stampedFile(store, 2));
        final PinnedPage page = file.pin(PAGE);
        final ByteBuf buf = PinnedByteBuf.of(page);
        final ByteBuf slice = buf.slice(8, 16);
        final ByteBuf duplicate = buf.duplicate();
        page.close();
        assertEquals(PAGE + 8, slice.getInt(0), "views derived from the buffer share its pin");
        assertStamps(PAGE, duplicate);

        assertTrue(buf.release());
        assertEquals(0, buf.refCnt());
        assertNull(cache.checkBooks());
        assertThrows(IllegalReferenceCountException.class, () -> buf.getByte(0));
        assertThrows(IllegalReferenceCountException.class, () -> buf.getLongLE(8));
        assertThrows(IllegalReferenceCountException.class, buf::readInt);
        assertThrows(IllegalReferenceCountException.class, () -> buf.getBytes(0, new byte[16]));
        assertThrows(IllegalReferenceCountException.class, () -> buf.getBytes(0, ByteBuffer.allocate(16)));
        assertThrows(IllegalReferenceCountException.class, () -> buf.getBytes(0, new ByteArrayOutputStream(), 16));
        assertThrows(IllegalReferenceCountException.class, buf::nioBuffer);
        assertThrows(IllegalReferenceCountException.class, () -> buf.internalNioBuffer(0, 16));
        assertThrows(IllegalReferenceCountException.class, buf::copy);
        assertThrows(IllegalReferenceCountException.class, buf::retain);
        assertThrows(IllegalReferenceCountException.class, () -> slice.getByte(0));
        assertThrows(IllegalReferenceCountException.class, () -> duplicate.getByte(0));
        assertTrue(buf.toString().contains("freed"), buf.toString());
    }

    @Test
    void aDoubleReleaseThrowsAndLeavesThePagesOwnPin() throws IOException
    {
        final ExtentCache cache = cache(16);
        final CachedFile file = cache.file(stampedFile(store, 2));
        final PinnedPage page = file.pin(0);
        final ByteBuf buf = PinnedByteBuf.of(page);
        assertTrue(buf.release());
        assertThrows(IllegalReferenceCountException.class, buf::release, "double release");
        assertThrows(IllegalReferenceCountException.class, () -> buf.release(1), "release after free");

        final String books = cache.checkBooks();
        assertNotNull(books, "the page still holds its own pin");
        assertTrue(books.contains("pins=1"), books);
        assertEquals(0, page.buffer().getInt(0, ByteOrder.BIG_ENDIAN));
        page.close();
        assertNull(cache.checkBooks());
    }

    @Test
    void aRetainThatWouldOverflowThrowsAndChangesNothing() throws IOException
    {
        final ExtentCache cache = cache(16);
        final CachedFile file = cache.file(stampedFile(store, 2));
        final PinnedPage page = file.pin(PAGE);
        final ByteBuf buf = PinnedByteBuf.of(page);
        assertThrows(IllegalReferenceCountException.class, () -> buf.retain(Integer.MAX_VALUE));
        assertEquals(1, buf.refCnt());
        assertThrows(IllegalArgumentException.class, () -> buf.release(0));
        page.close();
        assertStamps(PAGE, buf);
        assertTrue(buf.release());
        assertNull(cache.checkBooks());
    }

    /** The buffer's pin is the last thing it takes: when taking it fails, no buffer escapes and nothing leaks. */
    @Test
    void aBufferWhosePinCannotBeTakenIsNeverMade() throws IOException
    {
        final ExtentCache cache = cache(16);
        final CachedFile file = cache.file(stampedFile(store, 2));
        final PinnedPage page = file.pin(0);
        final List<FramePin> fill = new ArrayList<>();
        try
        {
            for (long i = 0; i < FrameDescriptor.MAX_PINS - 1; i++)
            {
                fill.add(page.retainFrame());
            }
            final IllegalStateException ex = assertThrows(IllegalStateException.class, () -> PinnedByteBuf.of(page));
            assertTrue(ex.getMessage().contains("pin count overflow"), ex.getMessage());
        }
        finally
        {
            fill.forEach(FramePin::release);
        }
        assertTrue(cache.checkBooks().contains("pins=1"), "only the page's own pin is left");
        page.close();
        assertNull(cache.checkBooks());
    }

    /** Netty releases on its event loop while the owner closes the pin: either order, each pin dropped once. */
    @Test
    void aReleaseOnAnotherThreadRacesTheClose() throws Exception
    {
        final ExtentCache cache = cache(16);
        final CachedFile file = cache.file(stampedFile(store, 2));
        final SynchronousQueue<ByteBuf> toEventLoop = new SynchronousQueue<>();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final Thread eventLoop = new Thread(() ->
        {
            try
            {
                for (ByteBuf msg = toEventLoop.take(); msg.capacity() != 0; msg = toEventLoop.take())
                {
                    if (msg.getInt(0) != 0 || !msg.release())
                    {
                        throw new AssertionError("wrong bytes or not the last release: " + msg);
                    }
                }
            }
            catch (final Throwable ex)
            {
                failure.compareAndSet(null, ex);
            }
        }, "event-loop");
        eventLoop.start();
        final PinnedPage page = new PinnedPage();
        final int residentBefore;
        try
        {
            assertTrue(file.pin(0, page));
            page.close();
            residentBefore = cache.stats().framesResident();
            for (int i = 0; i < 2000 && null == failure.get(); i++)
            {
                assertTrue(file.pin(0, page));
                toEventLoop.put(PinnedByteBuf.of(page));
                if (i % 2 == 0)
                {
                    file.write(0, ByteBuffer.wrap(new byte[4])); // copy-on-write: the frame may be orphaned
                }
                page.close();
            }
        }
        finally
        {
            toEventLoop.put(Unpooled.EMPTY_BUFFER);
            eventLoop.join(TimeUnit.SECONDS.toMillis(30));
        }
        assertNull(failure.get());
        assertFalse(eventLoop.isAlive());
        file.flush();
        assertNull(cache.checkBooks());
        assertEquals(residentBefore, cache.stats().framesResident(), "every orphaned frame was freed");
    }

    @Test
    void aHoleBufferReadsZerosForItsOwnLifetimeEvenPastTheCache() throws IOException
    {
        final ExtentCache cache = cache(16);
        final long id = store.create();
        store.write(id, 3L * PAGE, ByteBuffer.wrap(new byte[100]));
        final CachedFile file = cache.file(id);
        final PinnedPage hole = file.pin(PAGE + 1);
        final ByteBuf buf = PinnedByteBuf.of(hole);
        final ByteBuf kept = PinnedByteBuf.of(hole).retain();
        hole.close();
        assertEquals(PAGE, buf.readableBytes());
        for (int i = 0; i < PAGE; i += 8)
        {
            assertEquals(0L, buf.getLong(i));
        }
        assertTrue(buf.release());
        assertThrows(IllegalReferenceCountException.class, () -> buf.getByte(0));
        assertNull(cache.checkBooks(), "a hole takes no frame pin");

        CacheBooks.check(cache);
        assertTrue(cache.isClosed());
        for (int i = 0; i < PAGE; i += 8)
        {
            assertEquals(0L, kept.getLong(i), "zeros after the cache closed");
        }
        assertFalse(kept.release());
        assertTrue(kept.release());
        assertThrows(IllegalReferenceCountException.class, () -> kept.getByte(0));
    }

    @Test
    void aReusedFlyweightLeavesTheBuffersItHandedOutAlone() throws IOException
    {
        final ExtentCache cache = cache(16);
        final CachedFile file = cache.file(stampedFile(store, 2));
        final PinnedPage flyweight = new PinnedPage();
        assertTrue(file.pin(0, flyweight));
        final ByteBuf first = PinnedByteBuf.of(flyweight);
        final ByteBuf second = PinnedByteBuf.of(flyweight);
        assertNotSame(first, second, "each call hands out a buffer of its own");
        first.skipBytes(100);
        assertEquals(0, second.readerIndex(), "with indices of its own");
        assertTrue(second.release());
        flyweight.close();

        assertTrue(file.pin(PAGE, flyweight));
        final ByteBuf third = PinnedByteBuf.of(flyweight);
        assertStamps(0, first);
        assertStamps(PAGE, third);
        flyweight.close();
        assertStamps(0, first);
        assertStamps(PAGE, third);
        assertTrue(first.release());
        assertTrue(third.release());
        assertNull(cache.checkBooks());
    }

    @Test
    void theBufferIsReadOnlyAndDirect() throws IOException
    {
        final ExtentCache cache = cache(16);
        final CachedFile file = cache.file(stampedFile(store, 2));
        try (PinnedPage page = file.pin(PAGE))
        {
            final ByteBuf buf = PinnedByteBuf.of(page);
            try
            {
                assertTrue(buf.isReadOnly());
                assertTrue(buf.isDirect());
                assertFalse(buf.isWritable());
                assertEquals(0, buf.readerIndex());
                assertEquals(PAGE, buf.writerIndex());
                assertEquals(PAGE, buf.capacity());
                assertThrows(ReadOnlyBufferException.class, () -> buf.setByte(0, 1));
                assertThrows(ReadOnlyBufferException.class, () -> buf.setBytes(0, new byte[4]));
                assertThrows(ReadOnlyBufferException.class, () -> buf.setBytes(0, ByteBuffer.allocate(4)));
                assertThrows(ReadOnlyBufferException.class, () -> buf.capacity(2 * PAGE));
                assertThrows(RuntimeException.class, () -> buf.writeByte(1));
                assertThrows(ReadOnlyBufferException.class, () -> buf.slice().setInt(0, 1));
                assertThrows(ReadOnlyBufferException.class, () -> buf.duplicate().setInt(0, 1));
                assertTrue(buf.nioBuffer().isReadOnly());
                assertTrue(buf.nioBuffer().isDirect());
                assertEquals(PAGE + 4, buf.nioBuffer(4, 8).getInt());
                assertEquals(Integer.reverseBytes(PAGE + 12), buf.getIntLE(12));
                assertEquals(PAGE + 16, buf.getUnsignedInt(16));
                assertEquals(PAGE, buf.readInt());

                final ByteBuf copy = buf.copy(8, 8);
                try
                {
                    assertEquals(PAGE + 8, copy.getInt(0));
                    copy.setInt(0, -1);
                    assertEquals(PAGE + 8, buf.getInt(8), "a copy is independent");
                }
                finally
                {
                    copy.release();
                }
                final byte[] bytes = new byte[8];
                buf.getBytes(20, bytes);
                assertEquals(PAGE + 20, ByteBuffer.wrap(bytes).getInt(0));
            }
            finally
            {
                buf.release();
            }
        }
    }

    @Test
    void byteBufNeedsNoJvmFlagBeyondTheOneCoreNeeds() throws IOException, InterruptedException
    {
        final String output = runProbe(List.of());
        assertTrue(output.contains("PROBE OK stamps=4096,4100,8188"), output);
        assertTrue(output.contains("released read refused: IllegalReferenceCountException"), output);
        assertFalse(output.contains("\tat "), "no stack trace: " + output);
    }

    /** With Netty's own accessibility and bounds checks off, a released buffer still never reads frame memory. */
    @Test
    void aReleasedBufferRefusesReadsEvenWithNettysChecksOff() throws IOException, InterruptedException
    {
        final String output = runProbe(List.of(
            "-Dio.netty.buffer.checkAccessible=false", "-Dio.netty.buffer.checkBounds=false"));
        assertTrue(output.contains("PROBE OK stamps=4096,4100,8188"), output);
        assertTrue(output.contains("released read refused: IndexOutOfBoundsException"), output);
    }

    private static String runProbe(final List<String> properties) throws IOException, InterruptedException
    {
        final List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("--add-exports");
        command.add("java.base/jdk.internal.misc=ALL-UNNAMED");
        command.addAll(properties);
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(Probe.class.getName());
        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        final byte[] out = process.getInputStream().readAllBytes();
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "probe JVM finished");
        final String output = new String(out, StandardCharsets.UTF_8);
        assertEquals(0, process.exitValue(), output);
        return output;
    }

    /** Runs in a JVM started with only {@code --add-exports java.base/jdk.internal.misc=ALL-UNNAMED}. */
    public static final class Probe
    {
        private Probe()
        {
        }

        /**
         * Pins a page, reads it through {@link PinnedByteBuf#of(PinnedPage)} and prints what it read.
         *
         * @param args unused.
         * @throws Exception on any failure: the parent test prints the output.
         */
        public static void main(final String[] args) throws Exception
        {
            final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 64);
            final ExtentStore store = new ExtentStore(device);
            final long id = stampedFile(store, 2);
            try (ExtentCache cache = ExtentCache.builder().device(device).translator(store).capacityFrames(8).build())
            {
                final PinnedPage page = cache.file(id).pin(PAGE);
                final ByteBuf buf = PinnedByteBuf.of(page);
                final ByteBuf slice = buf.slice(4, 8);
                page.close();
                final ByteBuffer nio = buf.nioBuffer();
                System.out.println("PROBE OK stamps=" + buf.getInt(0) + "," + slice.getInt(0) + "," +
                    nio.getInt(PAGE - 4));
                buf.release();
                try
                {
                    System.out.println("released read returned " + buf.getByte(0));
                }
                catch (final IllegalReferenceCountException | IndexOutOfBoundsException ex)
                {
                    System.out.println("released read refused: " + ex.getClass().getSimpleName());
                }
                if (null != cache.checkBooks())
                {
                    throw new IllegalStateException("books: " + cache.checkBooks());
                }
            }
        }
    }
}
