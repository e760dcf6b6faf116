package org.extentcache.translate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import org.extentcache.device.MemoryBlockDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The listener calls of a mutation now that {@link StoreListeners} reuses one scratch
 * {@link StoreListeners.Notification} per store: the cache's copy-on-write commit tells the same calls in the same
 * order as before, again and again; block ranges added in any order come out as a {@link TreeMap} of them would
 * have sent them; and a listener that calls back into the store during a dispatch, to translate or (against the
 * {@link TranslationListener} contract, but possible) to mutate, neither sees stale answers nor garbles the calls
 * still to come from the outer dispatch.
 *
 * <p>The ordering test is seeded: {@code -Dextentcache.seed=N} replays the seed in its failure message.
 */
class StoreNotificationTest
{
    private static final int PS = 512;
    private static final long BLOCKS = 256;

    private MemoryBlockDevice device;
    private ExtentStore store;
    private final RecordingListener recorder = new RecordingListener();

    @BeforeEach
    void openStore()
    {
        device = new MemoryBlockDevice(PS, BLOCKS);
        store = new ExtentStore(device);
    }

    @AfterEach
    void closeStore()
    {
        store.close();
        device.close();
    }

    @Test
    void copyOnWriteCommitTellsThePageAndNeverTheReservedBlock() throws IOException
    {
        final long base = store.create();
        store.write(base, 0, ByteBuffer.wrap(new byte[4 * PS]));
        final long clone = store.cloneFile(base);
        store.addListener(recorder);
        for (int round = 0; round < 50; round++)
        {
            final long page = round % 4;
            final long sharedBlock = translate(clone, page);
            final long block = store.reserveBlock(clone, page);
            store.commitBlock(clone, page, block);
            if (round < 4)
            {
                assertEquals(List.of("pagesChanged(2, " + page + ", 1, 2048)"), recorder.take(),
                    "round " + round + ": the shared block lives on in the base, so nothing is freed");
                assertEquals(page, sharedBlock);
            }
            else
            {
                assertEquals(List.of("pagesChanged(2, " + page + ", 1, 2048)",
                    "blocksInvalidated(" + sharedBlock + ", 1)"), recorder.take(),
                    "round " + round + ": the clone's own block is freed");
            }
            assertEquals(block, translate(clone, page));
        }
        final long block = store.reserveBlock(clone, 0);
        store.releaseBlock(block);
        assertEquals(List.of("blocksInvalidated(" + block + ", 1)"), recorder.take());
        store.extend(clone, 6L * PS);
        assertEquals(List.of("pagesChanged(2, 4, 2, 3072)"), recorder.take());
    }

    @Test
    void reusedNotificationStillGroupsAndOrdersAfterABigMutation() throws IOException
    {
        final long file = store.create();
        store.write(file, 0, ByteBuffer.wrap(new byte[8 * PS]));
        final long clone = store.cloneFile(file);
        store.write(clone, 2L * PS, ByteBuffer.wrap(new byte[PS]));
        store.write(clone, 5L * PS, ByteBuffer.wrap(new byte[PS]));
        store.addListener(recorder);
        store.delete(file);
        assertEquals(List.of("blocksInvalidated(2, 1)", "blocksInvalidated(5, 1)", "fileDeleted(1)"),
            recorder.take(), "blocks 2 and 5 were the deleted file's alone");
        final long block = store.reserveBlock(clone, 0);
        store.commitBlock(clone, 0, block);
        assertEquals(List.of("pagesChanged(2, 0, 1, 4096)", "blocksInvalidated(0, 1)"), recorder.take(),
            "the scratch notification forgot the delete");
    }

    @Test
    void rangesInAnyOrderComeOutAsATreeMapWouldSendThem()
    {
        final String property = System.getProperty("extentcache.seed");
        final long seed = null == property ? new Random().nextLong() : Long.parseLong(property);
        final Random random = new Random(seed);
        final StoreLock lock = new StoreLock();
        final StoreListeners listeners = new StoreListeners(lock);
        listeners.add(recorder);
        lock.write().lock();
        try
        {
            for (int round = 0; round < 500; round++)
            {
                final StoreListeners.Notification notification = listeners.notification();
                final TreeMap<Long, Long> model = new TreeMap<>();
                final int ranges = random.nextInt(round % 50 == 0 ? 3000 : 20);
                final boolean ordered = random.nextBoolean();
                long next = random.nextInt(4);
                for (int i = 0; i < ranges; i++)
                {
                    final long first = ordered ? next : random.nextInt(64);
                    final long count = 1 + random.nextInt(3);
                    next = first + (random.nextBoolean() ? count : count + 1 + random.nextInt(3));
                    notification.blocksInvalidated(first, count);
                    model.put(first, count);
                }
                notification.dispatch();
                assertEquals(expected(model), recorder.take(), "seed=" + seed + " round=" + round);
            }
        }
        finally
        {
            lock.write().unlock();
        }
    }

    @Test
    void theScratchNotificationGoesOnlyToTheWriteLockHolderOutsideADispatch()
    {
        final StoreLock lock = new StoreLock();
        final StoreListeners listeners = new StoreListeners(lock);
        assertNotSame(listeners.notification(), listeners.notification(), "no lock held: a new one each time");
        lock.write().lock();
        try
        {
            final StoreListeners.Notification scratch = listeners.notification();
            assertSame(scratch, listeners.notification(), "reused under the write lock");
            final List<StoreListeners.Notification> nested = new ArrayList<>();
            listeners.add(new RecordingListener()
            {
                @Override
                public void fileDeleted(final long file)
                {
                    nested.add(listeners.notification());
                }
            });
            scratch.fileDeleted(7);
            scratch.dispatch();
            assertEquals(1, nested.size());
            assertNotSame(scratch, nested.get(0), "a nested mutation gets a new one while the scratch dispatches");
            assertSame(scratch, listeners.notification(), "and the scratch one is handed out again after");
        }
        finally
        {
            lock.write().unlock();
        }
    }

    @Test
    void aListenerTranslatingDuringTheDispatchSeesTheNewMapping() throws IOException
    {
        final long base = store.create();
        store.write(base, 0, ByteBuffer.wrap(new byte[2 * PS]));
        final long clone = store.cloneFile(base);
        final List<String> seen = new ArrayList<>();
        store.addListener(new RecordingListener()
        {
            @Override
            public void pagesChanged(final long file, final long firstPage, final long pageCount, final long size)
            {
                seen.add("page " + firstPage + " -> " + translate(file, firstPage));
            }

            @Override
            public void blocksInvalidated(final long firstBlock, final long blockCount)
            {
                seen.add("block " + firstBlock + " refCount " + store.refCount(firstBlock));
            }
        });
        final long first = store.reserveBlock(clone, 1);
        store.commitBlock(clone, 1, first);
        final long second = store.reserveBlock(clone, 1);
        store.commitBlock(clone, 1, second);
        assertEquals(List.of("page 1 -> " + first, "page 1 -> " + second, "block " + first + " refCount 0"), seen);
    }

    @Test
    void aNestedMutationFromAListenerDoesNotGarbleTheOuterDispatch() throws IOException
    {
        final long base = store.create();
        store.write(base, 0, ByteBuffer.wrap(new byte[2 * PS]));
        final long clone = store.cloneFile(base);
        final long other = store.create();
        final long mine = store.reserveBlock(clone, 0);
        store.commitBlock(clone, 0, mine);
        final boolean[] nestedOnce = {false};
        store.addListener(new RecordingListener()
        {
            @Override
            public void pagesChanged(final long file, final long firstPage, final long pageCount, final long size)
            {
                if (file == clone && !nestedOnce[0])
                {
                    nestedOnce[0] = true;
                    try
                    {
                        store.write(other, 0, ByteBuffer.wrap(new byte[PS]));
                    }
                    catch (final IOException ex)
                    {
                        throw new AssertionError(ex);
                    }
                }
            }
        });
        store.addListener(recorder);
        final long next = store.reserveBlock(clone, 0);
        store.commitBlock(clone, 0, next);
        final long written = translate(other, 0);
        assertEquals(List.of(
            "pagesChanged(" + other + ", 0, 1, 512)", "blocksInvalidated(" + written + ", 1)",
            "pagesChanged(" + clone + ", 0, 1, 1024)", "blocksInvalidated(" + mine + ", 1)"), recorder.take(),
            "the nested write's calls, then the outer commit's, intact");
        final long last = store.reserveBlock(clone, 1);
        store.commitBlock(clone, 1, last);
        assertEquals(List.of("pagesChanged(" + clone + ", 1, 1, 1024)"), recorder.take());
    }

    private long translate(final long file, final long page)
    {
        final Extent extent = new Extent();
        try
        {
            store.translate(file, page, extent);
        }
        catch (final IOException ex)
        {
            throw new AssertionError(ex);
        }
        return extent.blockOf(page);
    }

    /**
     * The calls the old {@code TreeMap}-based notification made for {@code ranges}: in key order, a range whose
     * first block is the previous range's end joining it.
     */
    private static List<String> expected(final TreeMap<Long, Long> ranges)
    {
        final List<String> calls = new ArrayList<>();
        long first = -1;
        long end = -1;
        for (final Map.Entry<Long, Long> range : ranges.entrySet())
        {
            if (range.getKey() != end)
            {
                if (first >= 0)
                {
                    calls.add("blocksInvalidated(" + first + ", " + (end - first) + ")");
                }
                first = range.getKey();
            }
            end = range.getKey() + range.getValue();
        }
        if (first >= 0)
        {
            calls.add("blocksInvalidated(" + first + ", " + (end - first) + ")");
        }
        return calls;
    }
}
