package org.extentcache;

import io.netty.buffer.ByteBuf;
import io.netty.util.IllegalReferenceCountException;
import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Zero-copy pins: stable views, copy-on-write around them, misuse caught, leaks reported with their origin. */
class PinTest
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

    private long fileOf(final int pages) throws IOException
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

    private static void assertPageStamps(final long pageStart, final PinnedPage page)
    {
        final ByteBuffer bytes = page.byteBuffer();
        final ByteBuf buf = page.byteBuf();
        try
        {
            for (int i = 0; i < page.length(); i += 4)
            {
                final int expected = (int)(pageStart + i);
                assertEquals(expected, page.buffer().getInt(i, java.nio.ByteOrder.BIG_ENDIAN), "DirectBuffer at " + i);
                assertEquals(expected, bytes.getInt(i), "ByteBuffer at " + i);
                assertEquals(expected, buf.getInt(i), "ByteBuf at " + i);
            }
        }
        finally
        {
            buf.release();
        }
    }

    @Test
    void allThreeViewsShowThePageWithoutCopying() throws IOException
    {
        final ExtentCache cache = cache(16);
        final CachedFile file = cache.file(fileOf(3));
        try (PinnedPage page = file.pin(PAGE + 17))
        {
            assertEquals(PAGE, page.position());
            assertEquals(PAGE, page.length());
            assertPageStamps(PAGE, page);
            assertTrue(page.byteBuffer().isReadOnly());
            final ByteBuf netty = page.byteBuf();
            assertTrue(netty.isReadOnly());
            assertTrue(netty.release(), "the caller owns the buffer it asked for");
            assertTrue(page.byteBuffer().isDirect(), "a view of the frame, not a copy");
        }
        assertEquals(1, cache.stats().deviceReads());
        try (PinnedPage again = file.pin(PAGE))
        {
            assertPageStamps(PAGE, again);
        }
        assertEquals(1, cache.stats().fileHits(), "the second pin went through the file's handle");
    }

    @Test
    void theLastPageCoversOnlyBytesBeforeEndOfFileAndHolesPinZeros() throws IOException
    {
        final ExtentCache cache = cache(16);
        final long id = store.create();
        store.write(id, 3L * PAGE, ByteBuffer.wrap(new byte[100]));
        final CachedFile file = cache.file(id);
        try (PinnedPage last = file.pin(3L * PAGE + 5))
        {
            assertEquals(100, last.length());
            assertEquals(100, last.byteBuffer().remaining());
        }
        try (PinnedPage hole = file.pin(PAGE))
        {
            for (int i = 0; i < PAGE; i++)
            {
                assertEquals(0, hole.buffer().getByte(i));
            }
        }
        assertThrows(EOFException.class, () -> file.pin(3L * PAGE + 100));
        assertFalse(file.pin(1L << 40, new PinnedPage()));
    }

    @Test
    void aPinnedFrameIsNeverReclaimed() throws IOException
    {
        final ExtentCache cache = cache(8);
        final CachedFile file = cache.file(fileOf(60));
        try (PinnedPage page = file.pin(0))
        {
            final ByteBuffer dst = ByteBuffer.allocate(PAGE);
            for (int round = 0; round < 3; round++)
            {
                for (long p = 1; p < 60; p++)
                {
                    file.read(p * PAGE, dst.clear());
                }
            }
            assertTrue(cache.stats().reclaims() > 100);
            assertPageStamps(0, page);
        }
    }

    @Test
    void aWriteToAPinnedPageGoesToANewFrameAndThePinnerKeepsTheOldBytes() throws IOException
    {
        final ExtentCache cache = cache(16);
        final CachedFile file = cache.file(fileOf(2));
        final PinnedPage page = file.pin(0);
        final int residentBefore = cache.stats().framesResident();
        file.write(8, ByteBuffer.wrap(new byte[]{9, 9, 9, 9}));
        assertPageStamps(0, page);
        final ByteBuffer now = ByteBuffer.allocate(12);
        file.read(0, now);
        assertEquals(9, now.get(8), "readers see the write");
        assertEquals(residentBefore + 1, cache.stats().framesResident(), "a new frame for the same block");
        page.close();
        assertEquals(residentBefore, cache.stats().framesResident(), "the old frame is freed at its last unpin");
        file.flush();
    }

    @Test
    void aPinnedPageSurvivesThePageBeingPunched() throws IOException
    {
        final ExtentCache cache = cache(16);
        final long id = fileOf(2);
        final CachedFile file = cache.file(id);
        try (PinnedPage page = file.pin(0))
        {
            store.punchHole(id, 0, PAGE);
            assertPageStamps(0, page);
            final ByteBuffer now = ByteBuffer.allocate(PAGE);
            file.read(0, now);
            assertEquals(0, now.getInt(100), "readers see the hole");
        }
        assertEquals(0, cache.stats().framesResident());
    }

    @Test
    void misuseIsCaught() throws IOException
    {
        final ExtentCache cache = cache(16);
        final CachedFile file = cache.file(fileOf(2));
        final PinnedPage never = new PinnedPage();
        assertEquals("unpin of a page that was never pinned",
            assertThrows(IllegalStateException.class, never::close).getMessage());

        final PinnedPage page = file.pin(0);
        final ByteBuf netty = page.byteBuf();
        final org.agrona.DirectBuffer agrona = page.buffer();
        assertThrows(IllegalStateException.class, () -> file.pin(0, page), "pinning a pinned flyweight");
        page.close();
        assertThrows(IllegalStateException.class, page::close, "double unpin");
        assertThrows(IllegalStateException.class, page::buffer, "view after unpin");
        assertThrows(IndexOutOfBoundsException.class, () -> agrona.getByte(0), "a kept Agrona view is revoked");
        assertEquals(0, netty.getInt(0), "a kept Netty view holds a pin of its own");
        assertTrue(netty.release());
        assertThrows(IllegalReferenceCountException.class, () -> netty.getByte(0), "until its last release");

        final PinnedPage reused = new PinnedPage();
        for (int i = 0; i < 1000; i++)
        {
            assertTrue(file.pin((long)(i % 2) * PAGE, reused));
            assertEquals((i % 2) * PAGE, reused.buffer().getInt(0, java.nio.ByteOrder.BIG_ENDIAN));
            reused.close();
        }
    }

    @Test
    void pinsStillHeldAtCloseAreReportedWithWhereTheyWereTaken() throws IOException
    {
        final List<String> reports = new ArrayList<>();
        final ExtentCache cache = ExtentCache.builder().device(device).translator(store).capacityFrames(16)
            .trackPins(true).leakReporter(reports::add).build();
        final PinnedPage leaked = cache.file(fileOf(1)).pin(0);
        assertEquals(1, cache.trackedPins());
        cache.close();
        assertEquals(1, reports.size(), reports.toString());
        assertTrue(reports.get(0).contains("pinsStillHeldAtCloseAreReportedWithWhereTheyWereTaken"), reports.get(0));
        assertFalse(leaked.isPinned(), "its views are revoked");

        final List<String> untracked = new ArrayList<>();
        final ExtentCache quiet = ExtentCache.builder().device(device).translator(store).capacityFrames(16)
            .trackPins(false).leakReporter(untracked::add).build();
        quiet.file(fileOf(1)).pin(0);
        quiet.close();
        assertEquals(1, untracked.size());
        assertTrue(untracked.get(0).contains("1 frames still pinned"), untracked.get(0));
        assertTrue(Arrays.toString(untracked.toArray()).contains("trackPins"));
    }
}
