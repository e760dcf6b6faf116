package org.extentcache.translate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;

import org.extentcache.device.BlockDevice;
import org.extentcache.device.ForwardingBlockDevice;
import org.extentcache.device.MemoryBlockDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * {@link ExtentStore} against the {@link TranslatorContractTest}, plus the semantics of each of its operations,
 * its failure atomicity and its helpers ({@link BlockBitmap}, {@link BlockRefCounts}, {@link ExtentMap}).
 *
 * <p>After every test that leaves {@link #store} open, the books are checked: reference counts equal the pages
 * that map each block, counted through {@link ExtentStore#translate}, and allocated plus free blocks add up.
 */
class ExtentStoreTest extends TranslatorContractTest
{
    private static final int PS = 512;
    private static final long BLOCKS = 1024;

    private MemoryBlockDevice device;
    private ExtentStore store;

    @Override
    protected Fixture newFixture()
    {
        device = new MemoryBlockDevice(PS, BLOCKS);
        store = new ExtentStore(device);
        final ExtentStore fixtureStore = store;
        final MemoryBlockDevice fixtureDevice = device;
        return new Fixture()
        {
            @Override
            public Translator translator()
            {
                return fixtureStore;
            }

            @Override
            public long createFile(final long size) throws IOException
            {
                final long file = fixtureStore.create();
                if (size > 0)
                {
                    fixtureStore.write(file, 0, ByteBuffer.wrap(data((int)file, (int)size)));
                }
                return file;
            }

            @Override
            public long cloneFile(final long src) throws IOException
            {
                return fixtureStore.cloneFile(src);
            }

            @Override
            public void clonePages(
                final long src, final long srcPage, final long dst, final long dstPage, final long pageCount)
                throws IOException
            {
                fixtureStore.cloneRange(src, srcPage * PS, dst, dstPage * PS, pageCount * PS);
            }

            @Override
            public void rewritePage(final long file, final long page) throws IOException
            {
                final int length = (int)Math.min(PS, fixtureStore.size(file) - page * PS);
                fixtureStore.write(file, page * PS, ByteBuffer.wrap(data((int)(file * 1000 + page), length)));
            }

            @Override
            public void punchPages(final long file, final long firstPage, final long pageCount) throws IOException
            {
                fixtureStore.punchHole(file, firstPage * PS, pageCount * PS);
            }

            @Override
            public void truncate(final long file, final long size) throws IOException
            {
                fixtureStore.truncate(file, size);
            }

            @Override
            public void delete(final long file) throws IOException
            {
                fixtureStore.delete(file);
            }

            @Override
            public void close()
            {
                fixtureStore.close();
                fixtureDevice.close();
            }
        };
    }

    @AfterEach
    void checkTheBooks() throws IOException
    {
        checkBooks(store);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // create, size, exists, ids

    @Test
    void createsEmptyFilesWithIdsFromOneNeverReused() throws IOException
    {
        assertEquals(1, store.create());
        assertEquals(2, store.create());
        assertEquals(0, store.size(1));
        assertTrue(store.exists(2));
        assertFalse(store.exists(3));
        assertFalse(store.exists(0));
        store.delete(2);
        assertFalse(store.exists(2));
        assertEquals(3, store.create());
        assertEquals(PS, store.pageSize());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // write and read

    @Test
    void unalignedWriteReadsBackWithZerosBeforeIt() throws IOException
    {
        final long file = store.create();
        final byte[] data = data(1, 1000);
        final ByteBuffer src = ByteBuffer.wrap(data);
        store.write(file, 300, src);
        assertEquals(1000, src.position(), "the source advanced");
        assertEquals(1300, store.size(file));
        final byte[] expected = new byte[1300];
        System.arraycopy(data, 0, expected, 300, 1000);
        assertArrayEquals(expected, readAll(file));
        assertEquals(3, store.allocatedBlocks());
        final Extent extent = extent(file, 1);
        assertEquals(0, extent.filePage());
        assertEquals(3, extent.pageCount(), "three fresh contiguous blocks form one run: " + extent);
    }

    @Test
    void readFollowsFileChannelSemantics() throws IOException
    {
        final long file = store.create();
        final byte[] data = data(2, 2 * PS + 10);
        store.write(file, 0, ByteBuffer.wrap(data));

        assertEquals(0, store.read(file, 0, ByteBuffer.allocate(0)), "nothing remaining reads 0");
        assertEquals(0, store.read(file, 99_999, ByteBuffer.allocate(0)), "nothing remaining reads 0, even past EOF");
        assertEquals(-1, store.read(file, data.length, ByteBuffer.allocate(10)), "at EOF");
        assertEquals(-1, store.read(file, data.length + 5000, ByteBuffer.allocate(10)), "past EOF");

        final ByteBuffer tail = ByteBuffer.allocate(100);
        assertEquals(30, store.read(file, data.length - 30, tail), "short read at EOF");
        assertEquals(30, tail.position());
        assertArrayEquals(Arrays.copyOfRange(data, data.length - 30, data.length), Arrays.copyOf(tail.array(), 30));

        final ByteBuffer direct = ByteBuffer.allocateDirect(PS + 7);
        direct.position(3);
        assertEquals(PS + 4, store.read(file, 100, direct));
        assertEquals(PS + 7, direct.position());
        final byte[] copied = new byte[PS + 4];
        direct.position(3);
        direct.get(copied);
        assertArrayEquals(Arrays.copyOfRange(data, 100, 100 + PS + 4), copied);
    }

    @Test
    void writePastEndOfFileLeavesHoles() throws IOException
    {
        final long file = store.create();
        store.write(file, 5L * PS + 3, ByteBuffer.wrap(data(3, 10)));
        assertEquals(5L * PS + 13, store.size(file));
        final Extent hole = extent(file, 2);
        assertTrue(hole.isHole());
        assertEquals(0, hole.filePage());
        assertEquals(5, hole.pageCount());
        final Extent after = extent(file, 6);
        assertTrue(after.isHole());
        assertEquals(6, after.filePage());
        assertEquals(Long.MAX_VALUE - 6, after.pageCount(), "the hole past the last mapping reaches the end");
        final byte[] all = readAll(file);
        for (int i = 0; i < 5 * PS + 3; i++)
        {
            assertEquals(0, all[i], "byte " + i);
        }
        assertEquals(1, store.allocatedBlocks());
    }

    @Test
    void everyWriteGoesToFreshBlocks() throws IOException
    {
        final long file = store.create();
        final byte[] data = data(4, 2 * PS);
        store.write(file, 0, ByteBuffer.wrap(data));
        final long first = block(file, 0);
        final long second = block(file, 1);

        final byte[] page = data(5, PS);
        store.write(file, 0, ByteBuffer.wrap(page));
        assertNotEquals(first, block(file, 0));
        assertEquals(0, store.refCount(first), "the old block was freed");
        assertEquals(2, store.allocatedBlocks());

        final byte[] patch = data(6, 10);
        store.write(file, PS + 20, ByteBuffer.wrap(patch));
        assertNotEquals(second, block(file, 1));
        assertEquals(0, store.refCount(second));
        final byte[] expected = data.clone();
        System.arraycopy(page, 0, expected, 0, PS);
        System.arraycopy(patch, 0, expected, PS + 20, 10);
        assertArrayEquals(expected, readAll(file), "a partial page keeps its other bytes");
        assertEquals(2 * PS, store.size(file), "a write inside the file keeps the size");
    }

    @Test
    void emptyWriteChangesNothing() throws IOException
    {
        final long file = store.create();
        store.write(file, 10 * PS, ByteBuffer.allocate(0));
        assertEquals(0, store.size(file));
        assertEquals(0, store.allocatedBlocks());
    }

    @Test
    void allocatesTheLowestFreeBlocksFirst() throws IOException
    {
        final long file = store.create();
        store.write(file, 0, ByteBuffer.wrap(data(7, 3 * PS)));
        assertEquals(0, block(file, 0));
        assertEquals(2, block(file, 2));
        store.punchHole(file, PS, PS);
        assertEquals(0, store.refCount(1));
        final long other = store.create();
        store.write(other, 0, ByteBuffer.wrap(data(8, 2 * PS)));
        assertEquals(1, block(other, 0));
        assertEquals(3, block(other, 1));
        final Extent first = extent(other, 0);
        assertEquals(1, first.pageCount(), "blocks 1 and 3 are not contiguous: " + first);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // clones

    @Test
    void cloneFileSharesEveryBlockUntilAPageIsRewritten() throws IOException
    {
        final long file = store.create();
        final byte[] data = data(9, 4 * PS);
        store.write(file, 0, ByteBuffer.wrap(data));
        final long clone = store.cloneFile(file);
        assertEquals(4 * PS, store.size(clone));
        assertEquals(4, store.allocatedBlocks());
        for (long page = 0; page < 4; page++)
        {
            assertEquals(block(file, page), block(clone, page));
            assertEquals(2, store.refCount(block(file, page)));
        }
        assertRun(extent(clone, 3), 0, 4, block(file, 0), true);

        final byte[] page = data(10, PS);
        store.write(clone, 2L * PS, ByteBuffer.wrap(page));
        assertRun(extent(file, 0), 0, 2, block(file, 0), true);
        assertRun(extent(file, 2), 2, 1, block(file, 2), false);
        assertRun(extent(file, 3), 3, 1, block(file, 3), true);
        assertRun(extent(clone, 2), 2, 1, block(clone, 2), false);
        assertArrayEquals(data, readAll(file), "the original keeps its bytes");
        final byte[] expected = data.clone();
        System.arraycopy(page, 0, expected, 2 * PS, PS);
        assertArrayEquals(expected, readAll(clone));
    }

    @Test
    void cloneRangeReplacesDestinationPagesAndGrowsIt() throws IOException
    {
        final long src = store.create();
        final byte[] srcData = data(11, 4 * PS);
        store.write(src, 0, ByteBuffer.wrap(srcData));
        final long dst = store.create();
        final byte[] dstData = data(12, 4 * PS);
        store.write(dst, 0, ByteBuffer.wrap(dstData));
        final long oldDst2 = block(dst, 2);

        store.cloneRange(src, PS, dst, 2L * PS, 2L * PS);
        assertEquals(4 * PS, store.size(dst));
        assertEquals(block(src, 1), block(dst, 2));
        assertEquals(block(src, 2), block(dst, 3));
        assertEquals(0, store.refCount(oldDst2));
        assertEquals(6, store.allocatedBlocks());
        final byte[] expected = dstData.clone();
        System.arraycopy(srcData, PS, expected, 2 * PS, 2 * PS);
        assertArrayEquals(expected, readAll(dst));

        store.cloneRange(src, 0, dst, 6L * PS, PS);
        assertEquals(7 * PS, store.size(dst));
        assertTrue(extent(dst, 4).isHole());
        assertTrue(extent(dst, 5).isHole());
        assertEquals(block(src, 0), block(dst, 6));
        assertEquals(2, store.refCount(block(src, 0)));

        store.cloneRange(src, 0, dst, 0, 0);
        assertEquals(7 * PS, store.size(dst), "a zero-length clone changes nothing");
    }

    @Test
    void cloneRangeSharesAnUnalignedTailAtEndOfFile() throws IOException
    {
        final long src = store.create();
        final byte[] srcData = data(13, 2 * PS + 100);
        store.write(src, 0, ByteBuffer.wrap(srcData));
        final long dst = store.create();
        store.cloneRange(src, PS, dst, 0, PS + 100);
        assertEquals(PS + 100, store.size(dst));
        assertEquals(block(src, 2), block(dst, 1), "the partial last page is shared too");
        assertArrayEquals(Arrays.copyOfRange(srcData, PS, 2 * PS + 100), readAll(dst));

        store.truncate(dst, 2L * PS);
        final byte[] grown = readAll(dst);
        for (int i = PS + 100; i < 2 * PS; i++)
        {
            assertEquals(0, grown[i], "byte " + i + " past the old end of file reads zero");
        }
    }

    @Test
    void cloneRangeRejectsBadRanges() throws IOException
    {
        final long src = store.create();
        store.write(src, 0, ByteBuffer.wrap(data(14, 2 * PS + 100)));
        final long dst = store.create();
        store.write(dst, 0, ByteBuffer.wrap(data(15, 4 * PS)));

        assertMessage(IllegalArgumentException.class, "srcPos=100", () -> store.cloneRange(src, 100, dst, 0, PS));
        assertMessage(IllegalArgumentException.class, "dstPos=7", () -> store.cloneRange(src, 0, dst, 7, PS));
        assertMessage(IllegalArgumentException.class, "length=100",
            () -> store.cloneRange(src, 0, dst, 0, 100));
        assertMessage(IllegalArgumentException.class, "size=" + (2 * PS + 100),
            () -> store.cloneRange(src, 2L * PS, dst, 0, PS));
        assertMessage(IllegalArgumentException.class, "dstSize=" + (4 * PS),
            () -> store.cloneRange(src, PS, dst, 0, PS + 100));
        assertMessage(IllegalArgumentException.class, "srcPos=-512",
            () -> store.cloneRange(src, -PS, dst, 0, PS));
        assertMessage(IllegalArgumentException.class, "length=-512",
            () -> store.cloneRange(src, 0, dst, 0, -PS));
        assertMessage(IllegalArgumentException.class, "overflows",
            () -> store.cloneRange(src, 0, dst, Long.MAX_VALUE - PS + 1, 2L * PS));
        assertMessage(NoSuchFileException.class, "file 99 does not exist",
            () -> store.cloneRange(src, 0, 99, 0, PS));
        assertEquals(4 * PS, store.size(dst));
    }

    @Test
    void cloneRangeWithinOneFile() throws IOException
    {
        final long file = store.create();
        final byte[] data = data(16, 6 * PS);
        store.write(file, 0, ByteBuffer.wrap(data));
        store.cloneRange(file, 0, file, 4L * PS, 2L * PS);
        assertEquals(block(file, 0), block(file, 4));
        assertEquals(block(file, 1), block(file, 5));
        assertEquals(2, store.refCount(block(file, 0)));
        assertTrue(extent(file, 0).isShared(), "the same block twice in one file is shared");
        assertEquals(4, store.allocatedBlocks());
        final byte[] expected = data.clone();
        System.arraycopy(data, 0, expected, 4 * PS, 2 * PS);
        assertArrayEquals(expected, readAll(file));

        final IllegalArgumentException overlap = assertThrows(IllegalArgumentException.class,
            () -> store.cloneRange(file, 0, file, PS, 2L * PS));
        assertTrue(overlap.getMessage().contains("src=[0, 1024)"), overlap.getMessage());
        assertTrue(overlap.getMessage().contains("dst=[512, 1536)"), overlap.getMessage());
    }

    @Test
    void cloneRangeCopiesHolesAsHoles() throws IOException
    {
        final long src = store.create();
        store.write(src, 0, ByteBuffer.wrap(data(17, 3 * PS)));
        store.punchHole(src, PS, PS);
        final long dst = store.create();
        store.write(dst, 0, ByteBuffer.wrap(data(18, 3 * PS)));
        final long dstMiddle = block(dst, 1);
        store.cloneRange(src, 0, dst, 0, 3L * PS);
        assertTrue(extent(dst, 1).isHole());
        assertEquals(0, store.refCount(dstMiddle));
        assertEquals(2, store.allocatedBlocks());
    }

    @Test
    void daveChinnersRotatedLayoutSharesEveryBlockFourWays() throws IOException
    {
        final long w = store.create();
        final byte[] data = data(19, 6 * PS);
        store.write(w, 0, ByteBuffer.wrap(data));
        final long[] files = {w, store.create(), store.create(), store.create()};
        for (int rotation = 1; rotation <= 3; rotation++)
        {
            final long file = files[rotation];
            store.cloneRange(w, (long)rotation * PS, file, 0, (6L - rotation) * PS);
            store.cloneRange(w, 0, file, (6L - rotation) * PS, (long)rotation * PS);
        }
        assertEquals(6, store.allocatedBlocks());
        for (long page = 0; page < 6; page++)
        {
            assertEquals(4, store.refCount(block(w, page)), "block of W page " + page);
        }
        for (int rotation = 0; rotation <= 3; rotation++)
        {
            final byte[] expected = new byte[6 * PS];
            for (int page = 0; page < 6; page++)
            {
                System.arraycopy(data, ((page + rotation) % 6) * PS, expected, page * PS, PS);
                assertEquals(block(w, (page + rotation) % 6), block(files[rotation], page));
            }
            assertArrayEquals(expected, readAll(files[rotation]), "file rotated by " + rotation);
            if (rotation > 0)
            {
                assertRun(extent(files[rotation], 0), 0, 6 - rotation, block(w, rotation), true);
            }
        }
    }

    @Test
    void cloneFailsWholeOnReferenceCountOverflow() throws IOException
    {
        try (ExtentStore small = new ExtentStore(device, 3))
        {
            final long file = small.create();
            small.write(file, 0, ByteBuffer.wrap(data(20, 3 * PS)));
            small.cloneFile(file);
            small.cloneFile(file);
            assertMessage(IllegalStateException.class, "maxRefCount=3", () -> small.cloneFile(file));
            assertFalse(small.exists(4));
            final long other = small.create();
            assertMessage(IllegalStateException.class, "overflow", () -> small.cloneRange(file, 0, other, 0, 3L * PS));
            assertEquals(0, small.size(other));
            for (long page = 0; page < 3; page++)
            {
                assertEquals(3, small.refCount(page));
            }
            checkBooks(small);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // punch hole

    @Test
    void punchingWholePagesUnmapsAndFreesThem() throws IOException
    {
        final long file = store.create();
        store.write(file, 0, ByteBuffer.wrap(data(21, 4 * PS)));
        final long b1 = block(file, 1);
        final long b2 = block(file, 2);
        store.punchHole(file, PS, 2L * PS);
        assertRun(extent(file, 2), 1, 2, Extent.HOLE, false);
        assertEquals(0, store.refCount(b1));
        assertEquals(0, store.refCount(b2));
        assertEquals(4 * PS, store.size(file));
        assertEquals(2, store.allocatedBlocks());
    }

    @Test
    void punchingPartialPagesRewritesThemWithZeros() throws IOException
    {
        final long file = store.create();
        final byte[] data = data(22, 3 * PS);
        store.write(file, 0, ByteBuffer.wrap(data));
        final long clone = store.cloneFile(file);
        final long b0 = block(file, 0);
        final long b1 = block(file, 1);
        store.punchHole(file, 100, PS);
        assertNotEquals(b0, block(file, 0));
        assertNotEquals(b1, block(file, 1));
        assertEquals(1, store.refCount(b0), "the clone keeps the old block");
        final byte[] expected = data.clone();
        Arrays.fill(expected, 100, 100 + PS, (byte)0);
        assertArrayEquals(expected, readAll(file));
        assertArrayEquals(data, readAll(clone), "the clone is untouched");
    }

    @Test
    void punchingLeavesHolesAloneAndClipsAtEndOfFile() throws IOException
    {
        final long file = store.create();
        final byte[] data = data(23, 10);
        store.write(file, 2L * PS + 90, ByteBuffer.wrap(data));
        final long allocated = store.allocatedBlocks();
        store.punchHole(file, 100, 100);
        assertEquals(allocated, store.allocatedBlocks(), "a hole stays a hole");
        assertTrue(extent(file, 0).isHole());
        store.punchHole(file, 10L * PS, 5);
        store.punchHole(file, 2L * PS + 100, 1000);
        assertEquals(2L * PS + 100, store.size(file));
        assertEquals(allocated, store.allocatedBlocks(), "past end of file nothing happens");

        final long last = block(file, 2);
        store.punchHole(file, 2L * PS + 95, Long.MAX_VALUE - 3L * PS);
        assertNotEquals(last, block(file, 2), "a partial last page is rewritten");
        final byte[] expected = new byte[2 * PS + 100];
        System.arraycopy(data, 0, expected, 2 * PS + 90, 5);
        assertArrayEquals(expected, readAll(file));

        store.punchHole(file, 2L * PS, 1000);
        assertTrue(extent(file, 2).isHole(), "every byte of the last page before end of file is punched");
        assertEquals(0, store.allocatedBlocks());
        assertEquals(2L * PS + 100, store.size(file));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // truncate

    @Test
    void shrinkingToAnUnalignedSizeZeroesTheTailForLaterGrowth() throws IOException
    {
        final long file = store.create();
        final byte[] data = data(24, 3 * PS);
        store.write(file, 0, ByteBuffer.wrap(data));
        final long clone = store.cloneFile(file);
        final long b1 = block(file, 1);
        final long b2 = block(file, 2);
        store.truncate(file, PS + 100);
        assertEquals(PS + 100, store.size(file));
        assertNotEquals(b1, block(file, 1), "the last page was rewritten copy-on-write");
        assertTrue(extent(file, 2).isHole());
        assertEquals(1, store.refCount(b2), "only the clone maps the cut page now");
        store.truncate(file, 3L * PS);
        final byte[] expected = new byte[3 * PS];
        System.arraycopy(data, 0, expected, 0, PS + 100);
        assertArrayEquals(expected, readAll(file));
        assertArrayEquals(data, readAll(clone), "the clone is untouched");
    }

    @Test
    void shrinkingKeepsALastPageWhoseTailIsAlreadyZero() throws IOException
    {
        final long file = store.create();
        final byte[] data = new byte[PS];
        Arrays.fill(data, 0, 50, (byte)7);
        store.write(file, 0, ByteBuffer.wrap(data));
        final long b0 = block(file, 0);
        store.truncate(file, 60);
        assertEquals(b0, block(file, 0));
        store.truncate(file, 40);
        assertNotEquals(b0, block(file, 0));
        store.truncate(file, PS);
        final byte[] expected = new byte[PS];
        Arrays.fill(expected, 0, 40, (byte)7);
        assertArrayEquals(expected, readAll(file));
    }

    @Test
    void truncatingToAPageBoundaryAndGrowing() throws IOException
    {
        final long file = store.create();
        store.write(file, 0, ByteBuffer.wrap(data(25, 4 * PS)));
        final long b0 = block(file, 0);
        store.truncate(file, PS);
        assertEquals(b0, block(file, 0));
        assertEquals(1, store.allocatedBlocks());
        store.truncate(file, 1L << 40);
        assertEquals(1L << 40, store.size(file));
        assertRun(extent(file, 5), 1, Long.MAX_VALUE - 1, Extent.HOLE, false);
        store.truncate(file, 0);
        assertEquals(0, store.allocatedBlocks());
        assertEquals(-1, store.read(file, 0, ByteBuffer.allocate(1)));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // delete

    @Test
    void deletingFreesBlocksAndTheFileIsGoneEverywhere() throws IOException
    {
        final long file = store.create();
        final byte[] data = data(26, 3 * PS);
        store.write(file, 0, ByteBuffer.wrap(data));
        final long clone = store.cloneFile(file);
        store.write(clone, 0, ByteBuffer.wrap(data(27, PS)));
        final long b0 = block(file, 0);
        store.delete(file);
        assertEquals(0, store.refCount(b0));
        assertEquals(3, store.allocatedBlocks());
        assertArrayEquals(Arrays.copyOfRange(data, PS, 3 * PS), Arrays.copyOfRange(readAll(clone), PS, 3 * PS));
        assertEquals(1, store.refCount(block(clone, 1)));

        final String message = "file " + file + " does not exist";
        assertMessage(NoSuchFileException.class, message, () -> store.size(file));
        assertMessage(NoSuchFileException.class, message, () -> store.translate(file, 0, new Extent()));
        assertMessage(NoSuchFileException.class, message, () -> store.read(file, 0, ByteBuffer.allocate(1)));
        assertMessage(NoSuchFileException.class, message, () -> store.write(file, 0, ByteBuffer.allocate(1)));
        assertMessage(NoSuchFileException.class, message, () -> store.cloneFile(file));
        assertMessage(NoSuchFileException.class, message, () -> store.cloneRange(file, 0, clone, 0, 0));
        assertMessage(NoSuchFileException.class, message, () -> store.punchHole(file, 0, 1));
        assertMessage(NoSuchFileException.class, message, () -> store.truncate(file, 0));
        assertMessage(NoSuchFileException.class, message, () -> store.delete(file));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // device full and device failures

    @Test
    void aFullDeviceLeavesTheStoreUnchangedUntilBlocksAreFreed() throws IOException
    {
        try (MemoryBlockDevice small = new MemoryBlockDevice(PS, 8); ExtentStore tiny = new ExtentStore(small))
        {
            final RecordingListener listener = new RecordingListener();
            tiny.addListener(listener);
            final long file = tiny.create();
            final byte[] data = data(28, 6 * PS);
            tiny.write(file, 0, ByteBuffer.wrap(data));
            final long other = tiny.create();
            final ByteBuffer src = ByteBuffer.wrap(data(29, 2 * PS + 1));
            listener.events.clear();

            assertMessage(IOException.class, "device full: blockCount=8", () -> tiny.write(other, 0, src));
            assertEquals(0, src.position(), "the source did not move");
            assertEquals(0, tiny.size(other));
            assertEquals(6, tiny.allocatedBlocks());
            assertTrue(listener.events.isEmpty(), listener.events.toString());

            tiny.write(other, 0, ByteBuffer.wrap(data(30, 2 * PS)));
            assertEquals(0, tiny.freeBlocks());
            assertMessage(IOException.class, "device full", () -> tiny.write(file, 0, ByteBuffer.allocate(1)));
            assertMessage(IOException.class, "device full", () -> tiny.punchHole(file, 10, 10));
            assertMessage(IOException.class, "device full", () -> tiny.truncate(file, 10));
            assertArrayEquals(data, readAll(tiny, file));
            assertEquals(6 * PS, tiny.size(file));
            checkBooks(tiny);

            tiny.punchHole(file, 3L * PS, 3L * PS);
            tiny.write(file, 0, src);
            assertEquals(src.limit(), src.position());
            final byte[] expected = Arrays.copyOf(data, 6 * PS);
            Arrays.fill(expected, 3 * PS, 6 * PS, (byte)0);
            System.arraycopy(src.array(), 0, expected, 0, 2 * PS + 1);
            assertArrayEquals(expected, readAll(tiny, file));
            checkBooks(tiny);
        }
    }

    @Test
    void aFailedDeviceWriteLeavesTheStoreUnchanged() throws IOException
    {
        final FailingDevice failing = new FailingDevice(new MemoryBlockDevice(PS, 64));
        try (ExtentStore faulty = new ExtentStore(failing))
        {
            final long file = faulty.create();
            final byte[] data = data(31, 3 * PS + 50);
            faulty.write(file, 0, ByteBuffer.wrap(data));
            final long clone = faulty.cloneFile(file);
            final RecordingListener listener = new RecordingListener();
            faulty.addListener(listener);
            final Extent before = new Extent();
            faulty.translate(file, 0, before);

            for (int writesBeforeFailure = 0; writesBeforeFailure < 3; writesBeforeFailure++)
            {
                failing.failWritesAfter(writesBeforeFailure);
                final ByteBuffer src = ByteBuffer.wrap(data(32, 2 * PS + 20));
                assertMessage(IOException.class, "injected", () -> faulty.write(file, 100, src),
                    "a write of three pages fails at device write " + writesBeforeFailure);
                assertEquals(0, src.position());
            }
            for (int writesBeforeFailure = 0; writesBeforeFailure < 2; writesBeforeFailure++)
            {
                failing.failWritesAfter(writesBeforeFailure);
                assertMessage(IOException.class, "injected", () -> faulty.punchHole(file, 10, PS),
                    "a punch rewriting two edge pages fails at device write " + writesBeforeFailure);
            }
            failing.failWritesAfter(0);
            assertMessage(IOException.class, "injected", () -> faulty.truncate(file, 2L * PS + 10));
            failing.failWritesAfter(Integer.MAX_VALUE);
            assertTrue(listener.events.isEmpty(), listener.events.toString());
            assertEquals(4, faulty.allocatedBlocks());
            assertEquals(3 * PS + 50, faulty.size(file));
            final Extent after = new Extent();
            faulty.translate(file, 0, after);
            assertEquals(before.toString(), after.toString());
            assertArrayEquals(data, readAll(faulty, file));
            assertArrayEquals(data, readAll(faulty, clone));
            checkBooks(faulty);

            failing.failReads(true);
            final ByteBuffer dst = ByteBuffer.allocate(100);
            assertMessage(IOException.class, "injected", () -> faulty.read(file, 0, dst));
            assertEquals(0, dst.position(), "a failed read leaves the buffer where it was");
            assertMessage(IOException.class, "injected", () -> faulty.write(file, 10, ByteBuffer.allocate(10)));
            failing.failReads(false);
            assertArrayEquals(data, readAll(faulty, file));
            checkBooks(faulty);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // notifications

    @Test
    void mutationsNotifyTheRangesTheyChange() throws IOException
    {
        final RecordingListener listener = new RecordingListener();
        store.addListener(listener);
        final long file = store.create();
        assertEquals(List.of(), listener.take(), "create tells nobody");

        store.write(file, 0, ByteBuffer.wrap(data(33, 3 * PS)));
        assertEquals(List.of("pagesChanged(1, 0, 3, 1536)", "blocksInvalidated(0, 3)"), listener.take());

        store.write(file, 5L * PS + 10, ByteBuffer.wrap(data(34, 10)));
        assertEquals(List.of("pagesChanged(1, 3, 3, 2580)", "blocksInvalidated(3, 1)"), listener.take());

        final long clone = store.cloneFile(file);
        assertEquals(List.of("pagesChanged(1, 0, 6, 2580)"), listener.take(), "the source's pages turned shared");

        store.write(clone, PS, ByteBuffer.wrap(data(35, PS)));
        assertEquals(List.of("pagesChanged(2, 1, 1, 2580)", "blocksInvalidated(4, 1)"), listener.take(),
            "the old block is still mapped by the original, so not freed");

        store.write(clone, PS, ByteBuffer.wrap(data(36, PS)));
        assertEquals(List.of("pagesChanged(2, 1, 1, 2580)", "blocksInvalidated(4, 2)"), listener.take(),
            "the new block and the freed one, grouped");

        store.punchHole(file, 0, 2L * PS);
        assertEquals(List.of("pagesChanged(1, 0, 2, 2580)", "blocksInvalidated(1, 1)"), listener.take(),
            "block 0 lives on in the clone; block 1 was the original's alone");

        store.truncate(clone, PS + 1);
        assertEquals(List.of("pagesChanged(2, 1, 5, 513)", "blocksInvalidated(1, 1)", "blocksInvalidated(5, 1)"),
            listener.take(), "the new last page went to free block 1 and freed block 5; blocks 2 and 3 live on");

        store.truncate(clone, 4L * PS);
        assertEquals(List.of("pagesChanged(2, 1, 3, 2048)"), listener.take());

        store.cloneRange(file, 2L * PS, clone, 4L * PS, PS);
        assertEquals(List.of("pagesChanged(2, 4, 1, 2560)", "pagesChanged(1, 2, 1, 2580)"), listener.take());

        store.delete(clone);
        assertEquals(List.of("blocksInvalidated(0, 2)", "fileDeleted(2)"), listener.take());
        store.removeListener(listener);
    }

    @Test
    void aThrowingListenerDoesNotSilenceTheOthers() throws IOException
    {
        final RecordingListener first = new RecordingListener();
        final RecordingListener last = new RecordingListener();
        store.addListener(first);
        store.addListener(new RecordingListener()
        {
            @Override
            public void pagesChanged(final long file, final long firstPage, final long pageCount, final long size)
            {
                throw new IllegalStateException("listener broke");
            }
        });
        store.addListener(last);
        final long file = store.create();
        assertMessage(IllegalStateException.class, "listener broke",
            () -> store.write(file, 0, ByteBuffer.wrap(data(37, PS))));
        assertEquals(PS, store.size(file), "the write stands");
        assertEquals(first.take(), last.take());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // misuse, close, geometry

    @Test
    void rejectsBadArgumentsNamingThem() throws IOException
    {
        final long file = store.create();
        assertMessage(IllegalArgumentException.class, "position must be >= 0: position=-1",
            () -> store.write(file, -1, ByteBuffer.allocate(1)));
        assertMessage(IllegalArgumentException.class, "position=" + (Long.MAX_VALUE - 10) + " length=100",
            () -> store.write(file, Long.MAX_VALUE - 10, ByteBuffer.allocate(100)));
        assertMessage(IllegalArgumentException.class, "position must be >= 0: position=-4096",
            () -> store.read(file, -4096, ByteBuffer.allocate(1)));
        assertMessage(IllegalArgumentException.class, "length must be >= 0: length=-5",
            () -> store.punchHole(file, 0, -5));
        assertMessage(IllegalArgumentException.class, "overflows",
            () -> store.punchHole(file, 10, Long.MAX_VALUE));
        assertMessage(IllegalArgumentException.class, "size must be >= 0: size=-1", () -> store.truncate(file, -1));
        assertMessage(IllegalArgumentException.class, "page must be >= 0: page=-2",
            () -> store.translate(file, -2, new Extent()));
        assertMessage(IllegalArgumentException.class, "block=" + BLOCKS, () -> store.refCount(BLOCKS));
        assertMessage(IllegalArgumentException.class, "block=-1", () -> store.refCount(-1));
        assertThrows(NullPointerException.class, () -> store.write(file, 0, null));
        assertThrows(NullPointerException.class, () -> store.read(file, 0, null));
        assertThrows(NullPointerException.class, () -> store.translate(file, 0, null));
        assertThrows(NullPointerException.class, () -> store.addListener(null));
        assertThrows(NullPointerException.class, () -> new ExtentStore(null));
        assertMessage(NoSuchFileException.class, "file 42 does not exist", () -> store.size(42));
        assertMessage(NoSuchFileException.class, "file 42 does not exist", () -> store.delete(42));
    }

    @Test
    void rejectsDevicesWithTooManyBlocks()
    {
        final BlockDevice huge = new FailingDevice(new MemoryBlockDevice(PS, 1))
        {
            @Override
            public long blockCount()
            {
                return Integer.MAX_VALUE + 1L;
            }
        };
        assertMessage(IllegalArgumentException.class, "blockCount=" + (Integer.MAX_VALUE + 1L),
            () -> new ExtentStore(huge));
    }

    @Test
    void aClosedStoreRefusesEverythingButLeavesTheDeviceOpen() throws IOException
    {
        try (MemoryBlockDevice own = new MemoryBlockDevice(PS, 16))
        {
            final ExtentStore closing = new ExtentStore(own);
            final long file = closing.create();
            final RecordingListener listener = new RecordingListener();
            closing.addListener(listener);
            closing.close();
            closing.close();
            final String closed = "extent store is closed";
            assertMessage(IllegalStateException.class, closed, closing::create);
            assertMessage(IllegalStateException.class, closed, () -> closing.size(file));
            assertMessage(IllegalStateException.class, closed, () -> closing.exists(file));
            assertMessage(IllegalStateException.class, closed, () -> closing.translate(file, 0, new Extent()));
            assertMessage(IllegalStateException.class, closed, () -> closing.read(file, 0, ByteBuffer.allocate(1)));
            assertMessage(IllegalStateException.class, closed, () -> closing.write(file, 0, ByteBuffer.allocate(1)));
            assertMessage(IllegalStateException.class, closed, () -> closing.cloneFile(file));
            assertMessage(IllegalStateException.class, closed, () -> closing.cloneRange(file, 0, file, 0, 0));
            assertMessage(IllegalStateException.class, closed, () -> closing.punchHole(file, 0, 1));
            assertMessage(IllegalStateException.class, closed, () -> closing.truncate(file, 1));
            assertMessage(IllegalStateException.class, closed, () -> closing.delete(file));
            assertMessage(IllegalStateException.class, closed, () -> closing.refCount(0));
            assertMessage(IllegalStateException.class, closed, closing::allocatedBlocks);
            assertMessage(IllegalStateException.class, closed, closing::freeBlocks);
            assertMessage(IllegalStateException.class, closed, () -> closing.addListener(listener));
            closing.removeListener(listener);
            assertEquals(PS, closing.pageSize());
            own.write(0, ByteBuffer.allocate(PS));
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // scale and concurrency

    @Test
    void largeFilesClonedManyTimesWithScatteredRewritesStayCheap() throws IOException
    {
        final int pages = 32768;
        final int clones = 16;
        final int rewrites = pages / 20;
        final long seed = new Random().nextLong();
        final Random random = new Random(seed);
        try (MemoryBlockDevice big = new MemoryBlockDevice(PS, 65536); ExtentStore large = new ExtentStore(big))
        {
            final long base = large.create();
            large.write(base, 0, ByteBuffer.wrap(data(38, pages * PS)));
            final long[] files = new long[clones];
            final byte[] page = data(39, PS);
            for (int c = 0; c < clones; c++)
            {
                files[c] = large.cloneFile(base);
                for (int r = 0; r < rewrites; r++)
                {
                    large.write(files[c], (long)random.nextInt(pages) * PS, ByteBuffer.wrap(page));
                }
            }
            final Extent extent = new Extent();
            long runs = 0;
            for (final long file : files)
            {
                for (long p = 0; p < pages; p = extent.filePage() + extent.pageCount())
                {
                    large.translate(file, p, extent);
                    runs++;
                }
            }
            assertTrue(runs <= clones * (2L * rewrites + 1), "seed=" + seed + " runs=" + runs);
            assertTrue(large.allocatedBlocks() <= pages + (long)clones * rewrites, "seed=" + seed);
            checkBooks(large);
        }
    }

    @Test
    void readersNeverSeeATornPage() throws Exception
    {
        final long file = store.create();
        store.write(file, 0, ByteBuffer.wrap(new byte[2 * PS]));
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final Thread reader = new Thread(() ->
        {
            try
            {
                final ByteBuffer dst = ByteBuffer.allocate(2 * PS);
                final Extent extent = new Extent();
                for (int i = 0; i < 3000; i++)
                {
                    dst.clear();
                    assertEquals(2 * PS, store.read(file, 0, dst));
                    final byte first = dst.get(0);
                    for (int b = 1; b < 2 * PS; b++)
                    {
                        assertEquals(first, dst.get(b), "byte " + b + " of read " + i);
                    }
                    store.translate(file, 1, extent);
                    assertFalse(extent.isHole());
                }
            }
            catch (final Throwable ex)
            {
                failure.set(ex);
            }
        });
        reader.start();
        final byte[] fill = new byte[2 * PS];
        for (int i = 0; i < 3000 && reader.isAlive(); i++)
        {
            Arrays.fill(fill, (byte)i);
            store.write(file, 0, ByteBuffer.wrap(fill));
        }
        reader.join();
        if (null != failure.get())
        {
            throw new AssertionError("reader failed", failure.get());
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // helpers of the store

    @Test
    void blockBitmapAgreesWithBitSet()
    {
        final long seed = new Random().nextLong();
        final Random random = new Random(seed);
        for (final int size : new int[]{1, 63, 64, 65, 4095, 4096, 4097, 300_000})
        {
            final BlockBitmap bitmap = new BlockBitmap(size);
            final BitSet model = new BitSet(size);
            for (int op = 0; op < 3000; op++)
            {
                final int index = random.nextInt(size);
                final int run = 1 + random.nextInt(Math.min(size, 200));
                final boolean set = random.nextBoolean();
                for (int i = index; i < Math.min(size, index + run); i++)
                {
                    if (set)
                    {
                        bitmap.set(i);
                        model.set(i);
                    }
                    else
                    {
                        bitmap.clear(i);
                        model.clear(i);
                    }
                }
                final int probe = random.nextInt(size);
                final String where = "seed=" + seed + " size=" + size + " op=" + op + " probe=" + probe;
                assertEquals(model.get(probe), bitmap.get(probe), where);
                final int nextSet = model.nextSetBit(probe);
                assertEquals(nextSet < 0 ? size : nextSet, bitmap.nextSet(probe), where);
                assertEquals(Math.min(size, model.nextClearBit(probe)), bitmap.nextClear(probe), where);
                assertEquals(model.previousSetBit(probe), bitmap.previousSet(probe), where);
                assertEquals(model.previousClearBit(probe), bitmap.previousClear(probe), where);
            }
            assertEquals(size, bitmap.nextSet(size));
            assertEquals(-1, bitmap.previousClear(-1));
        }
    }

    @Test
    void blockBitmapFindsBitsFarAway()
    {
        final BlockBitmap bitmap = new BlockBitmap(10_000_000);
        assertEquals(10_000_000, bitmap.nextSet(0));
        bitmap.set(9_999_999);
        bitmap.set(3);
        assertEquals(9_999_999, bitmap.nextSet(4));
        assertEquals(3, bitmap.previousSet(9_999_998));
        for (int i = 0; i < 5_000_000; i++)
        {
            bitmap.set(i);
        }
        assertEquals(5_000_000, bitmap.nextClear(0));
        assertEquals(4_999_999, bitmap.previousSet(9_999_998));
        assertEquals(-1, bitmap.previousClear(4_999_999));
    }

    @Test
    void referenceCountsFailFastOnMisuse()
    {
        final BlockRefCounts counts = new BlockRefCounts(200_000, 3);
        counts.allocate(70_000);
        assertEquals(1, counts.refCount(70_000));
        assertEquals(0, counts.refCount(1));
        assertMessage(IllegalStateException.class, "block=70000", () -> counts.allocate(70_000));
        counts.retain(70_000);
        assertTrue(counts.isShared(70_000));
        counts.retain(70_000);
        assertMessage(IllegalStateException.class, "overflow", () -> counts.retain(70_000));
        assertEquals(3, counts.refCount(70_000));
        assertFalse(counts.release(70_000));
        assertFalse(counts.release(70_000));
        assertFalse(counts.isShared(70_000));
        assertTrue(counts.release(70_000));
        assertEquals(0, counts.allocatedCount());
        assertMessage(IllegalStateException.class, "release of a free block", () -> counts.release(70_000));
        assertMessage(IllegalStateException.class, "retain of a free block", () -> counts.retain(70_000));
        assertEquals(0, counts.nextFree(0));
        assertEquals(200_000, counts.nextAllocated(0));
    }

    @Test
    void extentMapKeepsRunsMaximal()
    {
        final ExtentMap map = new ExtentMap();
        final RunList runs = new RunList();
        runs.add(0, 100, 2);
        map.replace(0, 2, runs);
        final RunList next = new RunList();
        next.add(2, 102, 3);
        map.replace(2, 3, next);
        assertEquals(1, map.runCount(), "contiguous runs merge");
        map.replace(1, 2, new RunList());
        assertEquals(2, map.runCount());
        assertEquals(Extent.HOLE, map.blockAt(2));
        assertEquals(103, map.blockAt(3));
        final RunList refill = new RunList();
        refill.add(1, 101, 2);
        map.replace(1, 2, refill);
        assertEquals(1, map.runCount(), "refilling the gap with contiguous blocks merges all three");
        final RunList collected = new RunList();
        map.collect(1, 3, collected);
        assertEquals("RunList[1+3->101]", collected.toString());
    }

    // ---------------------------------------------------------------------------------------------------------------

    private static void checkBooks(final ExtentStore store) throws IOException
    {
        try
        {
            store.freeBlocks();
        }
        catch (final IllegalStateException closed)
        {
            return;
        }
        assertEquals(store.allocatedBlocks() + store.freeBlocks(), blockCountOf(store));
        final Map<Long, Integer> references = new HashMap<>();
        final Extent extent = new Extent();
        for (long file = 1; file <= 1000; file++)
        {
            if (!store.exists(file))
            {
                continue;
            }
            final long pages = (store.size(file) + store.pageSize() - 1) / store.pageSize();
            long page = 0;
            while (true)
            {
                store.translate(file, page, extent);
                if (extent.isHole() && extent.filePage() + extent.pageCount() == Long.MAX_VALUE)
                {
                    assertTrue(extent.filePage() <= pages, "no block mapped past end of file " + file);
                    break;
                }
                if (!extent.isHole())
                {
                    for (long inside = extent.filePage(); inside < extent.filePage() + extent.pageCount(); inside++)
                    {
                        references.merge(extent.blockOf(inside), 1, Integer::sum);
                    }
                }
                page = extent.filePage() + extent.pageCount();
            }
        }
        assertEquals(references.size(), store.allocatedBlocks(), "allocated blocks are the blocks mapped");
        for (long block = 0; block < blockCountOf(store); block++)
        {
            assertEquals((int)references.getOrDefault(block, 0), store.refCount(block), "refCount of block " + block);
        }
    }

    private static long blockCountOf(final ExtentStore store)
    {
        return store.allocatedBlocks() + store.freeBlocks();
    }

    static byte[] data(final int seed, final int length)
    {
        final byte[] data = new byte[length];
        final Random random = new Random(seed);
        random.nextBytes(data);
        for (int i = 0; i < length; i++)
        {
            if (data[i] == 0)
            {
                data[i] = 1;
            }
        }
        return data;
    }

    private byte[] readAll(final long file) throws IOException
    {
        return readAll(store, file);
    }

    private static byte[] readAll(final ExtentStore store, final long file) throws IOException
    {
        final byte[] bytes = new byte[(int)store.size(file)];
        if (bytes.length > 0)
        {
            assertEquals(bytes.length, store.read(file, 0, ByteBuffer.wrap(bytes)));
        }
        return bytes;
    }

    private Extent extent(final long file, final long page) throws NoSuchFileException
    {
        final Extent extent = new Extent();
        store.translate(file, page, extent);
        return extent;
    }

    private long block(final long file, final long page) throws NoSuchFileException
    {
        return extent(file, page).blockOf(page);
    }

    private static void assertRun(
        final Extent extent, final long filePage, final long pageCount, final long deviceBlock, final boolean shared)
    {
        final String expected = new Extent().set(filePage, pageCount, deviceBlock, shared).toString();
        assertEquals(expected, extent.toString());
    }

    private static <T extends Throwable> void assertMessage(
        final Class<T> type, final String fragment, final Executable executable)
    {
        assertMessage(type, fragment, executable, "");
    }

    private static <T extends Throwable> void assertMessage(
        final Class<T> type, final String fragment, final Executable executable, final String context)
    {
        final T thrown = assertThrows(type, executable, context);
        assertTrue(null != thrown.getMessage() && thrown.getMessage().contains(fragment),
            "expected \"" + fragment + "\" in: " + thrown.getMessage());
    }

    /**
     * A device that fails writes after a set number succeed, or every read, on demand.
     */
    private static class FailingDevice extends ForwardingBlockDevice
    {
        private int writesLeft = Integer.MAX_VALUE;
        private boolean failReads;

        FailingDevice(final BlockDevice delegate)
        {
            super(delegate);
        }

        void failWritesAfter(final int writes)
        {
            writesLeft = writes;
        }

        void failReads(final boolean fail)
        {
            failReads = fail;
        }

        @Override
        public void read(final long block, final ByteBuffer dst) throws IOException
        {
            if (failReads)
            {
                throw new IOException("injected read failure: block=" + block);
            }
            delegate.read(block, dst);
        }

        @Override
        public void write(final long block, final ByteBuffer src) throws IOException
        {
            if (writesLeft <= 0)
            {
                throw new IOException("injected write failure: block=" + block);
            }
            if (writesLeft != Integer.MAX_VALUE)
            {
                writesLeft--;
            }
            delegate.write(block, src);
        }
    }

    @Test
    void translateFillsTheCallersExtent() throws IOException
    {
        final long file = store.create();
        store.write(file, 0, ByteBuffer.wrap(data(40, PS)));
        final Extent extent = new Extent();
        store.translate(file, 0, extent);
        final Extent same = extent;
        store.translate(file, 3, extent);
        assertSame(same, extent);
        assertTrue(extent.isHole());
    }
}
