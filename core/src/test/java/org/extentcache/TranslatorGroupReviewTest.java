package org.extentcache;

import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.Extent;
import org.extentcache.translate.ExtentStore;
import org.extentcache.translate.TranslationListener;
import org.extentcache.translate.TranslatorGroup;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Review of {@link TranslatorGroup}: listener forwarding when a listener throws, the dispatch of reserved blocks in
 * shared address spaces, and a member naming one space for two of its chunks.
 */
class TranslatorGroupReviewTest
{
    private static final int PAGE = 4096;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    private ExtentCache cache(final TranslatorGroup group, final int frames)
    {
        return books.track(ExtentCache.builder().translator(group).pageSize(PAGE).capacityFrames(frames).build());
    }

    /**
     * An ExtentStore tells every listener even when one throws; the group's forwarding must too, or a listener
     * registered before the cache keeps the cache from hearing of a remap (stale bytes) and of the change's end
     * (the file's writer lock stays held: every later writer of the file hangs).
     */
    @Test
    void aListenerThatThrowsDoesNotKeepTheCacheFromHearingOfAMembersChange() throws IOException
    {
        final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 64);
        final ExtentStore store = new ExtentStore(device);
        final long file = store.create();
        store.write(file, 0, TestPages.filled(2 * PAGE, 1));
        final TranslatorGroup group = new TranslatorGroup(PAGE);
        final TranslatorGroup.Member a = group.add("a", store, device);
        group.addListener(new ThrowingListener()); // before the cache's own listener
        final ExtentCache cache = cache(group, 16);
        final CachedFile cached = cache.file(a.fileId(file));
        TestPages.assertBytes(1, TestPages.read(cached, 0, 2 * PAGE), "before the store's write");

        assertThrows(IllegalStateException.class, () -> store.write(file, 0, TestPages.filled(PAGE, 7)),
            "the throwing listener's failure reaches the store's caller");
        assertFalse(cached.writeback().isHeldByCurrentThread(),
            "the cache heard afterChange: the file's writer lock was released");
        TestPages.assertBytes(7, TestPages.read(cached, 0, PAGE), "the cache heard of the store's write");
        TestPages.assertBytes(1, TestPages.read(cached, PAGE, PAGE), "the page the store did not write");
    }

    /**
     * A block reserved by the second member to name a shared space, whose commit fails, is released through that
     * member: the group must not route the release to the first member that named the space (which never reserved
     * it, and may free a block of its own, or refuse, leaking the reservation).
     */
    @Test
    void aReservedBlockInASharedSpaceIsReleasedByTheMemberThatReservedIt() throws IOException
    {
        final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 64);
        for (int block = 0; block < 8; block++)
        {
            device.write(block, TestPages.stamped(100 + block));
        }
        final Object space = "one device";
        final TranslatorGroup group = new TranslatorGroup(PAGE);
        final TranslatorGroup.Member reader = group.add("reader", new SharedMap(space), device);
        final SharedMap writable = new SharedMap(space);
        final TranslatorGroup.Member writer = group.add("writer", writable, device);
        final ExtentCache cache = cache(group, 32);
        TestPages.read(cache.file(reader.fileId(1)), 0, 8 * PAGE); // the reader names the space first
        final CachedFile cached = cache.file(writer.fileId(1));
        TestPages.read(cached, 0, 8 * PAGE);

        writable.failCommits = true;
        assertThrows(IOException.class, () -> cached.write(10, TestPages.filled(16, 3)));
        assertEquals(List.of(20L), writable.released, "the writer's reservation went back to the writer");
        assertEquals(100, TestPages.stampOf(ByteBuffer.wrap(TestPages.read(cached, 0, PAGE)), 0, "page 0"),
            "the failed write left the page as it was");
    }

    /**
     * A member that answers one space for two of its chunks would have both chunks folded into one group chunk:
     * its key k in one and key k in the other would share a frame, and a read of one would be served the other's
     * bytes. The group must refuse the second chunk rather than alias them.
     */
    @Test
    void aMemberNamingOneSpaceForTwoOfItsChunksIsNeverServedTheOtherChunksBytes() throws IOException
    {
        final long low = 5;
        final long high = (1L << 48) + 5;
        final TranslatorGroup group = new TranslatorGroup(PAGE);
        final TranslatorGroup.Member m = group.add("two chunks", new TwoChunkFiles("space", low, high));
        final ExtentCache cache = cache(group, 16);
        final CachedFile cached = cache.file(m.fileId(0));
        assertEquals(low, TestPages.stampOf(ByteBuffer.wrap(TestPages.read(cached, 0, PAGE)), 0, "page 0"));
        try
        {
            final byte[] bytes = TestPages.read(cached, PAGE, PAGE);
            assertEquals(high, TestPages.stampOf(ByteBuffer.wrap(bytes), 0, "page 1"),
                "page 1 served its own block's bytes, not page 0's");
        }
        catch (final IllegalStateException refused)
        {
            assertTrue(refused.getMessage().contains("space"), refused.getMessage());
        }
    }

    /** Throws from every call but beforeChange. */
    private static final class ThrowingListener implements TranslationListener
    {
        @Override
        public void afterChange(final long file)
        {
            throw new IllegalStateException("afterChange");
        }

        @Override
        public void pagesChanged(final long file, final long firstPage, final long pageCount, final long size)
        {
            throw new IllegalStateException("pagesChanged");
        }

        @Override
        public void blocksInvalidated(final long firstBlock, final long blockCount)
        {
            throw new IllegalStateException("blocksInvalidated");
        }

        @Override
        public void fileDeleted(final long file)
        {
            throw new IllegalStateException("fileDeleted");
        }
    }

    /**
     * File 1 maps pages 0..7 onto blocks 0..7 of a shared space, shared; a write reserves block 20 (recorded), whose
     * commit fails while {@link #failCommits}; releases are recorded.
     */
    private static final class SharedMap extends RunMapTranslator
    {
        final List<Long> released = new CopyOnWriteArrayList<>();
        volatile boolean failCommits;

        SharedMap(final Object space)
        {
            super(space, 0, 8, 1, 1);
        }

        @Override
        public void checkWritable(final long file) throws IOException
        {
            size(file);
        }

        @Override
        public long reserveBlock(final long file, final long page)
        {
            return 20;
        }

        @Override
        public void commitBlock(final long file, final long page, final long block) throws NoSuchFileException
        {
            if (failCommits)
            {
                throw new NoSuchFileException("injected commit failure");
            }
            throw new UnsupportedOperationException("not in these tests");
        }

        @Override
        public void releaseBlock(final long block)
        {
            released.add(block);
        }
    }

    /**
     * File 0: page 0 maps key {@code low}, page 1 key {@code high}; every key answers one space; reads stamp the key.
     */
    private static final class TwoChunkFiles extends RunMapTranslator.Stamped
    {
        private final long low;
        private final long high;

        TwoChunkFiles(final Object space, final long low, final long high)
        {
            super(space, low, 2, 0, 1);
            this.low = low;
            this.high = high;
        }

        @Override
        public void translate(final long file, final long page, final Extent extent) throws NoSuchFileException
        {
            size(file);
            if (page >= 2)
            {
                extent.set(page, 1, Extent.HOLE, false);
                return;
            }
            extent.set(page, 1, 0 == page ? low : high, true);
        }
    }
}
