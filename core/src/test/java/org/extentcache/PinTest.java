package org.extentcache;

import org.agrona.DirectBuffer;
import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.EOFException;
import java.io.IOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
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
        final FramePin pin = page.retainFrame();
        try
        {
            final ByteBuffer pinned = pin.byteBuffer();
            for (int i = 0; i < page.length(); i += 4)
            {
                final int expected = (int)(pageStart + i);
                assertEquals(expected, page.buffer().getInt(i, ByteOrder.BIG_ENDIAN), "DirectBuffer at " + i);
                assertEquals(expected, bytes.getInt(i), "ByteBuffer at " + i);
                assertEquals(expected, pinned.getInt(i), "FramePin's ByteBuffer at " + i);
            }
        }
        finally
        {
            pin.release();
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
            final FramePin pin = page.retainFrame();
            final ByteBuffer pinned = pin.byteBuffer();
            assertTrue(pinned.isReadOnly());
            assertEquals(PAGE, pinned.remaining());
            pin.release();
            assertTrue(pin.isReleased(), "the caller owns the pin it asked for");
            assertEquals(0, pinned.limit(), "the release empties the view");
            assertThrows(IllegalStateException.class, pin::byteBuffer);
            assertThrows(IllegalStateException.class, pin::release, "a second release throws");
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
    void unpinOfAFlyweightNeverPinnedThrows()
    {
        final PinnedPage never = new PinnedPage();
        assertEquals("unpin of a page that was never pinned",
            assertThrows(IllegalStateException.class, never::close).getMessage());
        assertEquals("page is not pinned", assertThrows(IllegalStateException.class, never::buffer).getMessage());
        assertThrows(IllegalStateException.class, never::byteBuffer);
        assertThrows(IllegalStateException.class, never::retainFrame);
    }

    @Test
    void pinningAPinnedFlyweightThrowsAndKeepsItsPin() throws IOException
    {
        final ExtentCache cache = cache(16);
        final CachedFile file = cache.file(fileOf(2));
        try (PinnedPage page = file.pin(0))
        {
            final IllegalStateException ex = assertThrows(IllegalStateException.class, () -> file.pin(PAGE, page));
            assertTrue(ex.getMessage().contains("position=0"), ex.getMessage());
            assertPageStamps(0, page);
        }
        assertNull(cache.checkBooks());
    }

    @Test
    void aDoubleUnpinThrowsAndReleasesNothingTwice() throws IOException
    {
        final ExtentCache cache = cache(16);
        final CachedFile file = cache.file(fileOf(2));
        final PinnedPage page = file.pin(PAGE);
        final PinnedPage other = file.pin(PAGE);
        page.close();
        assertEquals("page already unpinned: position=" + PAGE,
            assertThrows(IllegalStateException.class, page::close).getMessage());
        assertTrue(cache.checkBooks().contains("pins=1"), "the other pin of the frame is untouched");
        assertPageStamps(PAGE, other);
        other.close();
        assertNull(cache.checkBooks());
    }

    @Test
    void theViewsOfAnUnpinnedPageAreRefused() throws IOException
    {
        final ExtentCache cache = cache(16);
        final PinnedPage page = cache.file(fileOf(2)).pin(PAGE);
        page.close();
        assertEquals("page is not pinned: position=" + PAGE,
            assertThrows(IllegalStateException.class, page::buffer).getMessage());
        assertThrows(IllegalStateException.class, page::byteBuffer);
        assertThrows(IllegalStateException.class, page::retainFrame);
    }

    @Test
    void theViewsOfAPageLeakedPastCacheCloseStayReadableUntilItIsUnpinned() throws IOException
    {
        final List<String> reports = new ArrayList<>();
        final ExtentCache cache = ExtentCache.builder().device(device).translator(store).capacityFrames(16)
            .trackPins(false).leakReporter(reports::add).build();
        final long reserved = cache.stats().offHeapBytesReserved();
        final PinnedPage leaked = cache.file(fileOf(1)).pin(0);
        final long before = CacheBooks.quietDirectBytesUsed();
        cache.close();
        assertEquals(1, reports.size(), reports.toString());
        final int first = leaked.buffer().getInt(0);
        assertEquals(first, leaked.byteBuffer().getInt(0), "the ByteBuffer view reads the pinned bytes");
        final FramePin pin = leaked.retainFrame();
        assertEquals(first, pin.byteBuffer().getInt(0), "so does a frame pin taken after close");
        leaked.close();
        assertThrows(IllegalStateException.class, leaked::close, "still one unpin only");
        assertEquals(first, pin.byteBuffer().getInt(0), "the frame pin holds its frame");
        assertTrue(before - CacheBooks.directBytesUsed() < reserved, "its pin keeps the arena");
        pin.release();
        assertEquals(reserved, before - CacheBooks.directBytesUsed(), "the last release freed the arena");
    }

    @Test
    void aKeptAgronaViewIsRevokedAtUnpinAndFollowsTheFlyweightToItsNextPin() throws IOException
    {
        final ExtentCache cache = cache(16);
        final CachedFile file = cache.file(fileOf(2));
        final PinnedPage flyweight = new PinnedPage();
        assertTrue(file.pin(0, flyweight));
        final DirectBuffer kept = flyweight.buffer();
        flyweight.close();
        assertEquals(0, kept.capacity());
        assertThrows(IndexOutOfBoundsException.class, () -> kept.getByte(0), "a kept Agrona view is revoked");
        assertThrows(IndexOutOfBoundsException.class, () -> kept.getLong(0));

        assertTrue(file.pin(PAGE, flyweight));
        assertSame(kept, flyweight.buffer(), "the Agrona view is the flyweight's own: no allocation per pin");
        assertEquals(PAGE, kept.getInt(0, ByteOrder.BIG_ENDIAN), "so a kept one shows the flyweight's next pin");
        flyweight.close();

        for (int i = 0; i < 1000; i++)
        {
            assertTrue(file.pin((long)(i % 2) * PAGE, flyweight));
            assertEquals((i % 2) * PAGE, flyweight.buffer().getInt(0, ByteOrder.BIG_ENDIAN));
            flyweight.close();
        }
    }

    @Test
    void aKeptByteBufferIsEmptiedAtUnpin() throws IOException
    {
        final ExtentCache cache = cache(8);
        final CachedFile file = cache.file(fileOf(60));
        final PinnedPage page = file.pin(0);
        final ByteBuffer kept = page.byteBuffer();
        assertEquals(0, kept.getInt(0));
        page.close();
        file.write(0, ByteBuffer.wrap(new byte[]{9, 9, 9, 9}));
        assertEquals(0, kept.remaining(), "limit 0 after unpin");
        assertThrows(IndexOutOfBoundsException.class, () -> kept.getInt(0), "absolute reads refused");
        assertThrows(BufferUnderflowException.class, kept::get, "relative reads refused");

        final PinnedPage again = file.pin(0);
        final ByteBuffer fresh = again.byteBuffer();
        assertNotSame(kept, fresh, "each pin gets its own ByteBuffer");
        assertEquals(0x09090909, fresh.getInt(0));
        again.close();
        file.flush();
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
        assertTrue(leaked.isPinned(), "a pin held across close stays pinned: its frame's memory is kept");
        leaked.close();

        final List<String> untracked = new ArrayList<>();
        final ExtentCache quiet = ExtentCache.builder().device(device).translator(store).capacityFrames(16)
            .trackPins(false).leakReporter(untracked::add).build();
        final PinnedPage quietLeak = quiet.file(fileOf(1)).pin(0);
        quiet.close();
        quietLeak.close();
        assertEquals(1, untracked.size());
        assertTrue(untracked.get(0).contains("1 frames still pinned"), untracked.get(0));
        assertTrue(Arrays.toString(untracked.toArray()).contains("trackPins"));
    }
}
