package org.extentcache;

import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.ExtentStore;
import org.extentcache.translate.TranslationListener;
import org.extentcache.translate.TranslatorGroup;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Review of {@link TranslatorGroup}: listener forwarding when a listener throws.
 */
class TranslatorGroupReviewTest
{
    private static final int PAGE = 4096;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    private static byte[] read(final CachedFile file, final long position, final int length) throws IOException
    {
        final ByteBuffer dst = ByteBuffer.allocate(length);
        file.read(position, dst);
        return dst.array();
    }

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
        TestPages.assertBytes(1, read(cached, 0, 2 * PAGE), "before the store's write");

        assertThrows(IllegalStateException.class, () -> store.write(file, 0, TestPages.filled(PAGE, 7)),
            "the throwing listener's failure reaches the store's caller");
        assertFalse(cached.writeback().isHeldByCurrentThread(),
            "the cache heard afterChange: the file's writer lock was released");
        TestPages.assertBytes(7, read(cached, 0, PAGE), "the cache heard of the store's write");
        TestPages.assertBytes(1, read(cached, PAGE, PAGE), "the page the store did not write");
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
}
