package org.extentcache;

import org.extentcache.device.BlockDevice;
import org.extentcache.device.ForwardingBlockDevice;
import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.fs.FileSystemTranslator;
import org.extentcache.translate.Extent;
import org.extentcache.translate.ExtentStore;
import org.extentcache.translate.ForwardingTranslator;
import org.extentcache.translate.MemberStats;
import org.extentcache.translate.Translator;
import org.extentcache.translate.TranslatorGroup;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Several translators behind one cache ({@link TranslatorGroup}): each member's blocks in a namespace of its own,
 * one memory budget, changes of each member reaching the cache under the group's ids, per-member stats, and shared
 * address spaces.
 */
class TranslatorGroupTest
{
    private static final int PAGE = 4096;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    /** Blocks the cache read: on a miss, or ahead of one (a group reads ahead for every member). */
    private static long blocksRead(final ExtentCache cache)
    {
        return cache.stats().deviceReads() + cache.stats().pagesReadAhead();
    }

    /** An {@link ExtentStore} over a device of its own, and one file in it. */
    private record Store(BlockDevice device, ExtentStore store, long file)
    {
        /** @return a store over {@code device} whose file has {@code pages} pages of bytes {@code value}. */
        static Store over(final BlockDevice device, final int pages, final int value) throws IOException
        {
            final ExtentStore store = new ExtentStore(device);
            final long file = store.create();
            if (pages > 0)
            {
                store.write(file, 0, TestPages.filled(pages * PAGE, value));
            }
            return new Store(device, store, file);
        }

        /** @return a store over a 1 MiB memory device, its file as {@link #over} makes it. */
        static Store inMemory(final int pages, final int value) throws IOException
        {
            return over(new MemoryBlockDevice(PAGE, 256), pages, value);
        }

        /** @return the first {@code length} bytes of the file as the store reads them from its device. */
        byte[] onDevice(final int length) throws IOException
        {
            final ByteBuffer dst = ByteBuffer.allocate(length);
            store.read(file, 0, dst);
            return dst.array();
        }

        TranslatorGroup.Member join(final TranslatorGroup group, final String name)
        {
            return group.add(name, store, device);
        }
    }

    private ExtentCache cache(final TranslatorGroup group, final int frames)
    {
        return books.track(ExtentCache.builder().translator(group).pageSize(PAGE).capacityFrames(frames).build());
    }

    @Test
    void twoStoresWithTheSameBlockNumbersKeepTheirOwnBytesInOneCache() throws IOException
    {
        final Store storeA = Store.inMemory(8, 1);
        final Store storeB = Store.inMemory(8, 2);
        assertEquals(storeA.file(), storeB.file(), "the two stores name their first files alike");

        final TranslatorGroup group = new TranslatorGroup(PAGE);
        final TranslatorGroup.Member a = storeA.join(group, "a");
        final TranslatorGroup.Member b = storeB.join(group, "b");
        final ExtentCache cache = cache(group, 64);

        TestPages.assertBytes(1, TestPages.read(cache.file(a.fileId(storeA.file())), 0, 8 * PAGE), "a's file");
        TestPages.assertBytes(2, TestPages.read(cache.file(b.fileId(storeB.file())), 0, 8 * PAGE), "b's file");
        TestPages.assertBytes(1, TestPages.read(cache.file(a.fileId(storeA.file())), 0, 8 * PAGE),
            "a's file again, from the cache");
        assertEquals(16, cache.stats().framesResident(), "one frame per block of each store");
        assertEquals(16, blocksRead(cache), "each block read once, ahead or on its miss");
        assertEquals(8, a.stats().blocksRead());
        assertEquals(8, b.stats().blocksRead());
        assertEquals(8, cache.residency(a::owns).framesReachable());
        assertEquals(8, cache.residency(b::owns).framesReachable());
        assertEquals(16, cache.residency().framesReachable());
    }

    @Test
    void membersShareOneBudgetAndReclaimEachOthersFramesWithoutMixingBytes() throws IOException
    {
        final int members = 3;
        final int pages = 40;
        final TranslatorGroup group = new TranslatorGroup(PAGE);
        final TranslatorGroup.Member[] member = new TranslatorGroup.Member[members];
        final long[] file = new long[members];
        for (int m = 0; m < members; m++)
        {
            final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 256);
            final ExtentStore store = new ExtentStore(device);
            file[m] = store.create();
            for (int page = 0; page < pages; page++)
            {
                store.write(file[m], (long)page * PAGE, TestPages.stamped(m * 1000L + page));
            }
            member[m] = group.add("store" + m, store, device);
        }
        final ExtentCache cache = cache(group, 32);
        final long seed = System.nanoTime();
        final Random random = new Random(seed);
        for (int i = 0; i < 3000; i++)
        {
            final int m = random.nextInt(members);
            final int page = random.nextInt(pages);
            final ByteBuffer dst = ByteBuffer.allocate(PAGE);
            cache.file(member[m].fileId(file[m])).read((long)page * PAGE, dst);
            assertEquals(m * 1000L + page, TestPages.stampOf(dst, 0, "page " + page), "seed " + seed + " op " + i);
        }
        assertTrue(cache.stats().reclaims() > 0, "the members took frames from each other");
        assertTrue(cache.stats().framesResident() <= 32, "one budget");
        long read = 0;
        for (final TranslatorGroup.Member m : member)
        {
            read += m.stats().blocksRead();
        }
        assertEquals(blocksRead(cache), read, "every device read went through a member");
    }

    @Test
    void aMembersChangesReachTheCacheUnderTheGroupsIdsAndLeaveTheOtherMembersFramesAlone() throws IOException
    {
        final Store storeA = Store.inMemory(4, 1);
        final Store storeB = Store.inMemory(4, 2);
        final TranslatorGroup group = new TranslatorGroup(PAGE);
        final TranslatorGroup.Member a = storeA.join(group, "a");
        final TranslatorGroup.Member b = storeB.join(group, "b");
        final ExtentCache cache = cache(group, 64);
        final CachedFile cachedA = cache.file(a.fileId(storeA.file()));
        final CachedFile cachedB = cache.file(b.fileId(storeB.file()));
        TestPages.read(cachedA, 0, 4 * PAGE);
        TestPages.read(cachedB, 0, 4 * PAGE);

        final long fileA = storeA.file();
        storeA.store().write(fileA, PAGE, TestPages.filled(PAGE, 7)); // the store's own write: remaps a's page 1
        assertArrayEquals(TestPages.filled(PAGE, 7).array(), TestPages.read(cachedA, PAGE, PAGE),
            "a sees its store's write");
        storeA.store().truncate(fileA, 2L * PAGE);
        assertEquals(2L * PAGE, cachedA.size(), "a's size follows its store");
        storeA.store().delete(fileA);
        assertThrows(NoSuchFileException.class, () -> cache.file(a.fileId(fileA)));
        final long deviceReads = blocksRead(cache);
        TestPages.assertBytes(2, TestPages.read(cachedB, 0, 4 * PAGE), "b's file, untouched by a's changes");
        assertEquals(deviceReads, blocksRead(cache), "b's frames stayed: the same block numbers were a's");
        assertTrue(cache.stats().invalidations() > 0, "a's freed blocks were dropped");
    }

    @Test
    void writesThroughTheCacheGoToTheirOwnMembersDeviceAndFlushSyncsIt() throws IOException
    {
        final Store storeA = Store.inMemory(0, 0);
        final Store storeB = Store.inMemory(0, 0);
        final TranslatorGroup group = new TranslatorGroup(PAGE);
        final TranslatorGroup.Member a = storeA.join(group, "a");
        final TranslatorGroup.Member b = storeB.join(group, "b");
        final ExtentCache cache = cache(group, 64);

        cache.file(a.fileId(storeA.file())).write(0, TestPages.filled(3 * PAGE, 5));
        cache.file(b.fileId(storeB.file())).write(0, TestPages.filled(2 * PAGE, 6));
        cache.file(a.fileId(storeA.file())).flush();
        assertEquals(3, a.stats().blocksWritten());
        assertEquals(0, b.stats().blocksWritten(), "a's flush wrote only a's pages");
        cache.flush();
        assertEquals(2, b.stats().blocksWritten());
        TestPages.assertBytes(5, storeA.onDevice(3 * PAGE), "a's device");
        TestPages.assertBytes(6, storeB.onDevice(2 * PAGE), "b's device");
        assertTrue(a.stats().syncs() > 0 && b.stats().syncs() > 0);
    }

    @Test
    void aFailedSyncOfOneMembersDeviceIsReportedToThatMemberAndItsPagesStayDirty() throws IOException
    {
        final FailingSyncDevice deviceA = new FailingSyncDevice(new MemoryBlockDevice(PAGE, 256));
        final Store storeA = Store.over(deviceA, 0, 0);
        final Store storeB = Store.inMemory(0, 0);
        final List<Throwable> told = new CopyOnWriteArrayList<>();
        final TranslatorGroup group = new TranslatorGroup(PAGE);
        final TranslatorGroup.Member a = group.add("a", new TellingStore(storeA.store(), told), deviceA);
        final TranslatorGroup.Member b = storeB.join(group, "b");
        final ExtentCache cache = cache(group, 64);
        final CachedFile cachedA = cache.file(a.fileId(storeA.file()));
        final CachedFile cachedB = cache.file(b.fileId(storeB.file()));
        cachedA.write(0, TestPages.filled(2 * PAGE, 5));
        cachedB.write(0, TestPages.filled(2 * PAGE, 6));

        deviceA.failNextSync = true;
        assertThrows(IOException.class, cachedA::flush);
        assertEquals(1, told.size(), "the member whose device failed was told");
        assertEquals(1, a.stats().syncFailures());
        assertEquals(0, b.stats().syncFailures());
        assertEquals(1, cache.stats().syncFailures(), "counted as a whole device's failure");
        assertTrue(cache.stats().dirtyFrames() >= 2, "a's pages stayed dirty");
        cachedB.flush();
        cachedA.flush(); // the device works again: a's pages are written again and synced
        assertEquals(0, cache.stats().dirtyFrames());
        TestPages.assertBytes(5, storeA.onDevice(2 * PAGE), "a's device after the retry");
    }

    @Test
    void twoMembersThatNameOneAddressSpaceShareItsFrames() throws IOException
    {
        final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 64);
        for (int block = 0; block < 8; block++)
        {
            device.write(block, TestPages.stamped(100 + block));
        }
        final Object space = "one device";
        final TranslatorGroup group = new TranslatorGroup(PAGE);
        final TranslatorGroup.Member a = group.add("a", new RunMapTranslator(space, 0, 8, 0, 10), device);
        final TranslatorGroup.Member b = group.add("b", new RunMapTranslator(space, 0, 8, 0, 10), device);
        final TranslatorGroup.Member c = group.add("c", new RunMapTranslator(null, 0, 8, 0, 10), device);
        final ExtentCache cache = cache(group, 64);

        TestPages.read(cache.file(a.fileId(1)), 0, 8 * PAGE);
        assertEquals(8, blocksRead(cache));
        final byte[] throughB = TestPages.read(cache.file(b.fileId(1)), 0, 8 * PAGE);
        assertEquals(8, blocksRead(cache), "b's pages were a's frames: no device read");
        assertEquals(8, cache.stats().sharingHits());
        assertEquals(8, cache.stats().framesResident());
        for (int page = 0; page < 8; page++)
        {
            assertEquals(100 + page, TestPages.stampOf(ByteBuffer.wrap(throughB), page * PAGE, "page " + page));
        }
        TestPages.read(cache.file(c.fileId(1)), 0, 8 * PAGE);
        assertEquals(16, blocksRead(cache), "c names the blocks in a space of its own");
        assertEquals(16, cache.stats().framesResident());
    }

    @Test
    void aRunThatCrossesA2To48KeyBoundaryIsCutAndEachSideReadsItsOwnKey() throws IOException
    {
        final long boundary = 1L << 48;
        final StampFiles files = new StampFiles(boundary - 2, 4);
        final TranslatorGroup group = new TranslatorGroup(PAGE);
        final TranslatorGroup.Member m = group.add("stamps", files);
        group.add("other", new StampFiles(boundary - 2, 4));
        final ExtentCache cache = cache(group, 16);
        final byte[] bytes = TestPages.read(cache.file(m.fileId(0)), 0, 4 * PAGE);
        for (int page = 0; page < 4; page++)
        {
            assertEquals(boundary - 2 + page, TestPages.stampOf(ByteBuffer.wrap(bytes), page * PAGE, "page " + page),
                "each page read its own member key, across the chunk boundary");
        }
        final Extent extent = new Extent();
        group.translate(m.fileId(0), 1, extent);
        assertEquals(2, extent.pageCount(), "the run ends at the boundary");
        group.translate(m.fileId(0), 2, extent);
        assertEquals(2, extent.filePage(), "the run starts at the boundary");
    }

    @Test
    void aFileSystemTranslatorAndAStoreShareOneCache(@TempDir final Path dir) throws IOException
    {
        final Path path = dir.resolve("data");
        final byte[] content = new byte[5 * PAGE];
        new Random(7).nextBytes(content);
        Files.write(path, content);
        final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 64);
        final ExtentStore store = new ExtentStore(device);
        final long stored = store.create();
        store.write(stored, 0, TestPages.filled(3 * PAGE, 9));
        try (FileSystemTranslator fs = new FileSystemTranslator(PAGE))
        {
            final TranslatorGroup group = new TranslatorGroup(PAGE);
            final TranslatorGroup.Member files = group.add("files", fs);
            final TranslatorGroup.Member engine = group.add("engine", store, device);
            final ExtentCache cache = cache(group, 64);
            final long opened = fs.open(path);
            assertArrayEquals(content, TestPages.read(cache.file(files.fileId(opened)), 0, content.length));
            TestPages.assertBytes(9, TestPages.read(cache.file(engine.fileId(stored)), 0, 3 * PAGE),
                "the store's file");
            assertEquals(5, files.stats().blocksRead());
            assertEquals(3, engine.stats().blocksRead());
            cache.close();
        }
    }

    @Test
    void misuseFailsWithTheOffendingValues() throws IOException
    {
        final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 64);
        final ExtentStore store = new ExtentStore(device);
        final TranslatorGroup group = new TranslatorGroup(PAGE);
        final TranslatorGroup.Member a = group.add("a", store, device);
        assertThrows(IllegalArgumentException.class, () -> group.add("again", store, device));
        assertThrows(IllegalArgumentException.class,
            () -> group.add("small", new ExtentStore(new MemoryBlockDevice(8192, 8)), new MemoryBlockDevice(8192, 8)));
        final IllegalArgumentException big = assertThrows(IllegalArgumentException.class, () -> a.fileId(1L << 55));
        assertTrue(big.getMessage().contains("file=" + (1L << 55)), big.getMessage());
        final ExtentCache cache = cache(group, 16);
        assertThrows(NoSuchFileException.class, () -> cache.file(5L << 55), "no member has index 5");
        assertThrows(NoSuchFileException.class, () -> cache.file(a.fileId(99)), "a has no file 99");
        assertThrows(IllegalArgumentException.class, () -> a.memberFileId(1L << 55));
        assertEquals(new MemberStats("a", 0, 0, 0, 0, 0, 0), a.stats());
    }

    /** A device whose next sync fails once. */
    private static final class FailingSyncDevice extends ForwardingBlockDevice
    {
        volatile boolean failNextSync;

        FailingSyncDevice(final MemoryBlockDevice memory)
        {
            super(memory);
        }

        @Override
        public void sync() throws IOException
        {
            if (failNextSync)
            {
                failNextSync = false;
                throw new IOException("injected sync failure");
            }
            super.sync();
        }
    }

    /** A store that records {@link Translator#deviceSyncFailed} and forwards it. */
    private static final class TellingStore extends ForwardingTranslator<ExtentStore>
    {
        private final List<Throwable> told;

        TellingStore(final ExtentStore store, final List<Throwable> told)
        {
            super(store);
            this.told = told;
        }

        @Override
        public void deviceSyncFailed(final Throwable failure)
        {
            told.add(failure);
            delegate.deviceSyncFailed(failure);
        }
    }

    /** File 0 maps its pages onto keys {@code first ..}, and checks each read asks for the key it answered. */
    private static final class StampFiles extends RunMapTranslator.Stamped
    {
        private final long first;

        StampFiles(final long first, final long pages)
        {
            super(null, first, pages, 0, 1);
            this.first = first;
        }

        @Override
        public void readBlock(final long file, final long page, final long block, final ByteBuffer dst)
        {
            assertEquals(first + page, block, "the member gets back its own key");
            super.readBlock(file, page, block, dst);
        }
    }
}
