package org.extentcache;

import org.extentcache.FailurePathRaceTest.Async;
import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.Extent;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Second adversarial review of the trust fixes: the durability epochs of {@link FileWriteback} (a sync vouches only
 * for writes made since the last failed sync) and the settling of a cache-wide flush's write-backs that wait for
 * their sync ({@code awaitingSync}). Each test drives one scenario deterministically and says what must happen.
 */
class SyncFailureSettleTest
{
    private static final int PAGE = TestPages.PAGE;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    /**
     * A cache-wide flush wrote a's page 0 (clean now, pinned, waiting in {@code awaitingSync} for the flush's sync)
     * and is still writing another file c. Meanwhile a sync of another file fails: on Linux that drops a's page.
     * Then {@code a.flush()} runs. Its own write-back is empty and is created after the failure, so its sync "vouches"
     * for it; {@code settleAwaiting} sees that the flush's write-back predates the failure and marks a's page 0 dirty
     * again, but nothing tells {@code a.flush()}: it returns normally, with the page dirty and not on the device.
     * Invariant 5: "flush returns only after every dirty page of the file is on the device".
     */
    @Test
    void r1_aFileFlushReturnsNormallyWhileThePageItsSyncReDirtiedIsNotOnTheDevice() throws Exception
    {
        final ControlDevice device = new ControlDevice(PAGE, 1024);
        final ExtentStore store = new ExtentStore(device);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(64).claimTimeout(Duration.ofSeconds(5)).dirtyExpiry(Duration.ZERO).build());
        final CachedFile a = cache.file(store.create()); // ids ascending: the flush visits a, b, c in this order
        final CachedFile b = cache.file(store.create());
        final CachedFile c = cache.file(store.create());
        a.write(0, TestPages.filled(PAGE, 0x11));
        c.write(0, TestPages.filled(PAGE, 0x22));
        device.holdWriteOf(blockOf(store, c.id(), 0));

        final Async<Void> flush = new Async<>("cache-wide flush", () ->
        {
            cache.flush();
            return null;
        });
        try
        {
            assertTrue(device.heldWriteEntered.await(10, TimeUnit.SECONDS), "the flush wrote a and is writing c");
            assertEquals(0, a.dirtyPageCount(), "a's page 0 was written by the flush and waits for its sync");

            device.failNextSync();
            assertThrows(IOException.class, b::flush, "a sync fails (b's): a's page 0 is dropped from the device");

            a.flush(); // returns normally
            final int dirty = a.dirtyPageCount();
            final ByteBuffer onDevice = ByteBuffer.allocate(PAGE);
            store.read(a.id(), 0, onDevice);
            TestPages.assertBytes(0x11, onDevice.array(), "a's page 0 on the device after a.flush() returned " +
                "normally (a's dirty pages now: " + dirty + ")");
        }
        finally
        {
            device.releaseHeldWrite();
            try
            {
                flush.get(10);
            }
            catch (final ExecutionException expected)
            {
                // its sync cannot vouch for the pages it wrote before the failure: "flush again"
            }
            cache.flush();
        }
    }

    /**
     * The same window, but the translator clones a's page 0 into d. {@code changeComing} must leave the range clean
     * and durable before the clone shares it ("a page about to be shared must be clean"). Its sync re-dirties a's
     * page 0 (the flush's write of it predates the failed sync) and {@code changeComing} returns normally: the clone
     * shares a dirty frame (invariant 2), whose bytes the device does not have. Then a writes page 0 again: the
     * shared page is copied on write, and the old dirty frame is in nobody's dirty set any more. A cache-wide flush
     * succeeds, yet d's page on the device is zeros while the cache serves d 0x11 (and the frame stays dirty for
     * good: never written back, never reclaimed).
     */
    @Test
    void r2_aCloneSharesAPageThatTheChangesOwnSyncReDirtiedAndDLosesItForGood() throws Exception
    {
        final ControlDevice device = new ControlDevice(PAGE, 1024);
        final ExtentStore store = new ExtentStore(device);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(64).claimTimeout(Duration.ofSeconds(5)).dirtyExpiry(Duration.ZERO)
            .leakReporter(message -> { }).build());
        final CachedFile a = cache.file(store.create());
        final CachedFile b = cache.file(store.create());
        final CachedFile c = cache.file(store.create());
        final long dId = store.create();
        a.write(0, TestPages.filled(PAGE, 0x11));
        c.write(0, TestPages.filled(PAGE, 0x22));
        final long aBlock = blockOf(store, a.id(), 0);
        device.holdWriteOf(blockOf(store, c.id(), 0));

        final Async<Void> flush = new Async<>("cache-wide flush", () ->
        {
            cache.flush();
            return null;
        });
        final int dirtyAfterClone;
        final int dirtyFramesAfterClone;
        try
        {
            assertTrue(device.heldWriteEntered.await(10, TimeUnit.SECONDS), "the flush wrote a and is writing c");
            device.failNextSync();
            assertThrows(IOException.class, b::flush, "a sync fails (b's): a's page 0 is dropped from the device");

            store.cloneRange(a.id(), 0, dId, 0, PAGE); // changeComing(a) returns normally
            assertEquals(2, store.refCount(aBlock), "a's page 0 is shared with d now");
            dirtyAfterClone = a.dirtyPageCount();
            dirtyFramesAfterClone = cache.stats().dirtyFrames();
        }
        finally
        {
            device.releaseHeldWrite();
            try
            {
                flush.get(10);
            }
            catch (final ExecutionException expected)
            {
                // "flush again"
            }
        }
        a.write(0, TestPages.filled(PAGE, 0x44)); // copy on write: a leaves the shared block to d
        cache.flush(); // succeeds
        final ByteBuffer viaCache = ByteBuffer.allocate(PAGE);
        cache.file(dId).read(0, viaCache);
        final ByteBuffer onDevice = ByteBuffer.allocate(PAGE);
        store.read(dId, 0, onDevice);
        final int dirtyFramesAfterFlush = cache.stats().dirtyFrames();
        assertAll(
            () -> assertEquals(0, dirtyAfterClone, "a's dirty pages right after the clone shared page 0 " +
                "(invariant 2: no dirty shared frame); dirty frames in the cache then: " + dirtyFramesAfterClone),
            () -> TestPages.assertBytes(viaCache.get(0), onDevice.array(), "d's page 0 on the device after a " +
                "successful cache-wide flush, against what the cache serves for it (" + viaCache.get(0) + ")"),
            () -> assertEquals(0, dirtyFramesAfterFlush, "dirty frames after a successful flush of every file"));
    }

    /**
     * A device sync that raises an {@link Error} (a mapped device's I/O fault surfaces as {@link InternalError}; the
     * write path already treats an Error from the device as "broke its contract" and re-dirties). {@code
     * syncOrRedirty} catches only {@code IOException | RuntimeException}, so the pages just written stay clean and are
     * unpinned, and {@code DeviceCache.sync} does not count the failure either. With Linux semantics the failed sync
     * dropped them; the next flush finds nothing dirty and succeeds: the page is lost (invariants 5 and 10: "a
     * failed sync leaves its pages dirty").
     */
    @Test
    void r3_aSyncThatRaisesAnErrorLeavesItsPagesCleanAndTheNextFlushSucceedsWithoutThem() throws Exception
    {
        final ControlDevice device = new ControlDevice(PAGE, 1024);
        final ExtentStore store = new ExtentStore(device);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(16).dirtyExpiry(Duration.ZERO).build());
        final CachedFile a = cache.file(store.create());
        a.write(0, TestPages.filled(PAGE, 0x11));
        device.errorOnNextSync();
        assertThrows(InternalError.class, a::flush);
        final int dirty = a.dirtyPageCount();
        a.flush(); // succeeds
        final ByteBuffer onDevice = ByteBuffer.allocate(PAGE);
        store.read(a.id(), 0, onDevice);
        TestPages.assertBytes(0x11, onDevice.array(), "a's page 0 on the device after a flush that succeeded (dirty " +
            "pages after the failed sync: " + dirty + ")");
    }

    /**
     * Two cache-wide flushes overlap. The first wrote a's page 0 and is still writing c when a sync fails (b's),
     * dropping a's page from the device. The second flush finds a clean ({@code writeBackAll} skips the page: it
     * waits in the first flush's {@code awaitingSync}), syncs, and its own write-backs were all made after the failure,
     * so it vouches for them and returns normally, though a's page 0 is not on the device and the first flush marks it
     * dirty again once it ends. Invariant 5 for {@link ExtentCache#flush()}.
     */
    @Test
    void r4_aSecondCacheWideFlushReturnsNormallyThoughAPageTheFirstWroteWasDroppedByAFailedSync() throws Exception
    {
        final ControlDevice device = new ControlDevice(PAGE, 1024);
        final ExtentStore store = new ExtentStore(device);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(64).claimTimeout(Duration.ofSeconds(5)).dirtyExpiry(Duration.ZERO).build());
        final CachedFile a = cache.file(store.create());
        final CachedFile b = cache.file(store.create());
        final CachedFile c = cache.file(store.create());
        a.write(0, TestPages.filled(PAGE, 0x11));
        c.write(0, TestPages.filled(PAGE, 0x22));
        device.holdWriteOf(blockOf(store, c.id(), 0));

        final Async<Void> first = new Async<>("first cache-wide flush", () ->
        {
            cache.flush();
            return null;
        });
        Async<Void> second = null;
        try
        {
            assertTrue(device.heldWriteEntered.await(10, TimeUnit.SECONDS), "the flush wrote a and is writing c");
            device.failNextSync();
            assertThrows(IOException.class, b::flush, "a sync fails (b's): a's page 0 is dropped from the device");
            second = new Async<>("second cache-wide flush", () ->
            {
                cache.flush();
                return null;
            });
            FailurePathRaceTest.awaitIn(second.thread, "writeBackAll"); // a and b done and synced; waits for c
        }
        finally
        {
            device.releaseHeldWrite();
        }
        try
        {
            first.get(10);
        }
        catch (final ExecutionException expected)
        {
            // "flush again"
        }
        second.get(10); // returns normally
        final int dirty = a.dirtyPageCount();
        final ByteBuffer onDevice = ByteBuffer.allocate(PAGE);
        store.read(a.id(), 0, onDevice);
        try
        {
            TestPages.assertBytes(0x11, onDevice.array(), "a's page 0 on the device after the second cache-wide " +
                "flush returned normally (a's dirty pages now: " + dirty + ")");
        }
        finally
        {
            cache.flush();
        }
    }

    /**
     * A failed cache-wide flush's pins wait in {@code unsettled} for a's writer-lock holder. Here the holder is the
     * translator's clone of a into b: {@code changeComing(a)} syncs, finds the flush's page 0 voided, writes it again
     * and syncs (page 0 is now clean and durable), returns, and the clone then waits for b's writer lock. Nothing
     * settles the flush's write-back while the clone holds a's lock: its two frames stay pinned. b's writer holds b's
     * lock and needs one frame; every other frame is pinned. It can only time out ("no frame can be reclaimed"),
     * after which the clone goes on. Without the failed flush, b's writer would have made room by writing a back
     * (its lock was free then), and {@code changeComing(a)} leaves page 0 clean and unpinned. (The flush, whose sync ran after a's 2 pages because they pin a
     * quarter of the arena, meanwhile waits for b's writer lock while its failed write-back still pins a's frames.)
     */
    @Test
    void r5_aFailedFlushsPinsStayStrandedWhileTheLockHolderIsAChangeWaitingForAnotherFilesWriter() throws Exception
    {
        final ControlDevice device = new ControlDevice(PAGE, 1024);
        final ExtentStore store = new ExtentStore(device);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(8).claimTimeout(Duration.ofSeconds(3)).dirtyExpiry(Duration.ZERO).build());
        final CachedFile a = cache.file(store.create());
        final CachedFile b = cache.file(store.create());
        final long cId = store.create();
        store.write(cId, 0, TestPages.filled(6 * PAGE, 3));
        final CachedFile c = cache.file(cId);
        final java.util.List<PinnedPage> pins = new java.util.ArrayList<>();
        for (int page = 0; page < 6; page++)
        {
            pins.add(c.pin((long)page * PAGE)); // 6 of the 8 frames pinned
        }
        a.write(0, TestPages.filled(2 * PAGE, 0x11)); // the other 2: a's dirty pages
        device.holdNextSync(true);
        final Async<Void> flush = new Async<>("cache-wide flush", () ->
        {
            cache.flush();
            return null;
        });
        Async<Integer> writer = null;
        Async<Void> clone = null;
        try
        {
            assertTrue(device.heldSyncEntered.await(10, TimeUnit.SECONDS), "the flush wrote a's 2 pages, syncs");
            writer = new Async<>("writer-of-b", () -> b.write(0, TestPages.filled(PAGE, 0x22)));
            FailurePathRaceTest.awaitIn(writer.thread, "claimPrivate"); // holds b's lock, needs a frame
            clone = new Async<>("clone a->b", () ->
            {
                store.cloneRange(a.id(), 0, b.id(), 0, PAGE);
                return null;
            });
            FailurePathRaceTest.awaitIn(clone.thread, "sync"); // holds a's lock, waits for the flush's sync
        }
        finally
        {
            device.releaseHeldSync(); // the flush's sync fails
        }
        try
        {
            final long start = System.nanoTime();
            try
            {
                assertEquals(PAGE, writer.get(20));
            }
            catch (final ExecutionException ex)
            {
                fail("b's write failed after " + (System.nanoTime() - start) / 1_000_000 + " ms: a's 2 frames stayed " +
                    "pinned by the failed flush while the clone held a's lock and waited for b's; meanwhile the " +
                    "flush waited for b's lock too: " + ex.getCause(), ex.getCause());
            }
        }
        finally
        {
            clone.get(20);
            try
            {
                flush.get(20);
            }
            catch (final ExecutionException expected)
            {
                // its sync failed
            }
            pins.forEach(PinnedPage::close);
            cache.flush();
        }
    }

    /**
     * r5's race, driven deterministically. A cache-wide flush's sync fails; the flush lets go the pins of pages
     * already settled, and then queues its write-back for a's writer-lock holder. Between the two, the holder settles
     * the flush's pages (its own write-back rewrites them, stale) and takes its last look at the queue, which is still
     * empty. The write-back then arrives, its pages settled and clean, and its pins stay until the holder lets the
     * lock go. Here the holder keeps it while another thread needs a frame, and every other frame is pinned: the miss
     * can only time out. A page settled after the flush's sync failed must let its pin go as it is settled.
     */
    @Test
    void r5b_pagesSettledAfterAFailedFlushLetGoTheirPinsThoughTheWriteBackReachesTheQueueAfterTheHoldersLastLook()
        throws Exception
    {
        final ControlDevice device = new ControlDevice(PAGE, 1024);
        final ExtentStore store = new ExtentStore(device);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(8).claimTimeout(Duration.ofSeconds(2)).dirtyExpiry(Duration.ZERO).build());
        final long cId = store.create();
        store.write(cId, 0, TestPages.filled(6 * PAGE, 3));
        final long dId = store.create();
        store.write(dId, 0, TestPages.filled(PAGE, 4));
        final CachedFile c = cache.file(cId);
        final CachedFile d = cache.file(dId);
        final CachedFile a = cache.file(store.create());
        final java.util.List<PinnedPage> pins = new java.util.ArrayList<>();
        for (int page = 0; page < 6; page++)
        {
            pins.add(c.pin((long)page * PAGE)); // 6 of the 8 frames pinned
        }
        a.write(0, TestPages.filled(2 * PAGE, 0x11)); // the other 2: a's dirty pages
        final FileWriteback writeback = a.writeback();
        final GatedQueue<Object> gate = new GatedQueue<>();
        final java.lang.reflect.Field unsettled = FileWriteback.class.getDeclaredField("unsettled");
        unsettled.setAccessible(true);
        unsettled.set(writeback, gate);

        device.holdNextSync(true);
        final Async<Void> flush = new Async<>("cache-wide flush", () ->
        {
            cache.flush();
            return null;
        });
        Async<Integer> miss = null;
        try
        {
            assertTrue(device.heldSyncEntered.await(10, TimeUnit.SECONDS), "the flush wrote a's 2 pages, syncs");
            device.releaseHeldSync(); // fails
            assertTrue(gate.entered.await(10, TimeUnit.SECONDS), "the failed flush queues its write-back for a's lock");
            writeback.lock();
            try
            {
                assertNull(writeback.writeBackDurablyOrAgain(0, Long.MAX_VALUE, true),
                    "the holder writes a's pages again (the failed sync may have dropped them) and syncs");
                gate.release.countDown();
                assertTrue(gate.added.await(10, TimeUnit.SECONDS), "the write-back is queued after the holder's look");
                miss = new Async<>("miss of d", () -> d.read(0, ByteBuffer.allocate(PAGE)));
                try
                {
                    assertEquals(PAGE, miss.get(20));
                }
                catch (final ExecutionException ex)
                {
                    fail("the miss found no frame while a's lock was held: a's 2 clean, durable frames stayed " +
                        "pinned by the failed flush: " + ex.getCause(), ex.getCause());
                }
            }
            finally
            {
                gate.release.countDown();
                writeback.unlock();
            }
        }
        finally
        {
            device.releaseHeldSync();
            try
            {
                flush.get(20);
            }
            catch (final ExecutionException expected)
            {
                // its sync failed
            }
            pins.forEach(PinnedPage::close);
        }
        final ByteBuffer onDevice = ByteBuffer.allocate(2 * PAGE);
        store.read(a.id(), 0, onDevice);
        TestPages.assertBytes(0x11, onDevice.array(), "a's pages on the device");
    }

    /** A queue whose first {@code add} waits, once it has begun, until the test releases it. */
    static final class GatedQueue<E> extends java.util.concurrent.ConcurrentLinkedQueue<E>
    {
        private static final long serialVersionUID = 1L;

        final transient CountDownLatch entered = new CountDownLatch(1);
        final transient CountDownLatch release = new CountDownLatch(1);
        final transient CountDownLatch added = new CountDownLatch(1);

        @Override
        public boolean add(final E e)
        {
            if (0 == added.getCount())
            {
                return super.add(e);
            }
            entered.countDown();
            try
            {
                assertTrue(release.await(20, TimeUnit.SECONDS), "the gated add was released");
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
            final boolean result = super.add(e);
            added.countDown();
            return result;
        }
    }

    /**
     * r3 through the background write-back, where nobody hears of it: its sync raises an {@link Error}, the thread
     * counts it and goes on, the page is clean and unpinned, and {@code a.flush()} later succeeds with nothing to
     * write. The page never reaches the device and no call ever failed.
     */
    @Test
    void r3b_anErrorFromTheBackgroundWritebacksSyncLosesThePageSilently() throws Exception
    {
        final ControlDevice device = new ControlDevice(PAGE, 1024);
        final ExtentStore store = new ExtentStore(device);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(16).dirtyExpiry(Duration.ofMillis(50)).build());
        final CachedFile a = cache.file(store.create());
        device.errorOnNextSync();
        a.write(0, TestPages.filled(PAGE, 0x11));
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (device.syncs.get() == 0 && System.nanoTime() < deadline)
        {
            Thread.sleep(5);
        }
        assertTrue(device.syncs.get() > 0, "the background write-back synced");
        Thread.sleep(100);
        final int dirty = a.dirtyPageCount();
        a.flush(); // succeeds
        final ByteBuffer onDevice = ByteBuffer.allocate(PAGE);
        store.read(a.id(), 0, onDevice);
        TestPages.assertBytes(0x11, onDevice.array(), "a's page 0 on the device after a.flush() succeeded (dirty " +
            "pages after the background write-back's failed sync: " + dirty + ")");
    }

    /**
     * {@code close()} is documented idempotent, but its guard is a plain check of {@code closing}: a second close
     * while the first waits for a writer (here a write in {@code reserveBlock}) returns at once, with the cache not
     * closed (its memory not freed, the writer still running). A shutdown hook and a main thread that both close, and
     * then close the device, see a close that returned before the cache was closed.
     */
    @Test
    void r6_aSecondCloseReturnsBeforeTheCacheIsClosed() throws Exception
    {
        final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 1024);
        final ExtentStore store = new ExtentStore(device);
        final long id = store.create();
        final CountDownLatch inReserve = new CountDownLatch(1);
        final CountDownLatch proceed = new CountDownLatch(1);
        final FailurePathRaceTest.Delegating slow = new FailurePathRaceTest.Delegating(store)
        {
            @Override
            public long reserveBlock(final long file, final long page) throws IOException
            {
                inReserve.countDown();
                try
                {
                    proceed.await(20, TimeUnit.SECONDS);
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                }
                return super.reserveBlock(file, page);
            }
        };
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(slow)
            .capacityFrames(16).dirtyExpiry(Duration.ZERO).leakReporter(message -> { }).build());
        final CachedFile file = cache.file(id);
        final Async<Integer> writer = new Async<>("writer", () -> file.write(0, TestPages.filled(PAGE, 5)));
        assertTrue(inReserve.await(10, TimeUnit.SECONDS));
        final Async<Void> first = new Async<>("first close", () ->
        {
            cache.close();
            return null;
        });
        FailurePathRaceTest.awaitIn(first.thread, "markClosed");
        final Async<Boolean> second = new Async<>("second close", () ->
        {
            cache.close();
            return cache.isClosed();
        });
        Thread.sleep(100);
        final boolean secondReturnedEarly = !second.thread.isAlive();
        proceed.countDown();
        writer.get(10);
        first.get(10);
        final boolean closedAfterSecond = second.get(10);
        assertFalse(secondReturnedEarly, "the second close waits for the first");
        assertTrue(closedAfterSecond, "the cache is closed when a second close() returns");
    }

    static long blockOf(final ExtentStore store, final long file, final long page) throws IOException
    {
        final Extent extent = new Extent();
        store.translate(file, page, extent);
        return extent.blockOf(page);
    }

    /**
     * A {@link LinuxFsyncDevice} (a failed sync loses the writes made since the last good one and is reported once;
     * the next sync succeeds) whose failures a test scripts: fail the next sync, raise an {@link Error} from it, or
     * hold the next write of a block until released.
     */
    static final class ControlDevice extends LinuxFsyncDevice
    {
        final AtomicInteger syncs = new AtomicInteger();
        final CountDownLatch heldWriteEntered = new CountDownLatch(1);
        private final CountDownLatch heldWriteReleased = new CountDownLatch(1);
        private volatile long holdBlock = -1;
        private volatile boolean failNext;
        private volatile boolean errorNext;
        private volatile boolean holdNext;
        final CountDownLatch heldSyncEntered = new CountDownLatch(1);
        private final CountDownLatch heldSyncReleased = new CountDownLatch(1);

        ControlDevice(final int blockSize, final long blocks)
        {
            super(blockSize, blocks);
        }

        void holdWriteOf(final long block)
        {
            holdBlock = block;
        }

        void releaseHeldWrite()
        {
            heldWriteReleased.countDown();
        }

        void failNextSync()
        {
            failNext = true;
        }

        void errorOnNextSync()
        {
            errorNext = true;
        }

        /** The next sync waits for {@link #releaseHeldSync()}, then fails (or not). */
        void holdNextSync(final boolean fail)
        {
            failNext = fail;
            holdNext = true;
        }

        void releaseHeldSync()
        {
            heldSyncReleased.countDown();
        }

        @Override
        public void write(final long block, final ByteBuffer src) throws IOException
        {
            if (block == holdBlock)
            {
                holdBlock = -1;
                heldWriteEntered.countDown();
                awaitRelease(heldWriteReleased, "held write");
            }
            super.write(block, src);
        }

        @Override
        public void sync() throws IOException
        {
            if (holdNext)
            {
                holdNext = false;
                heldSyncEntered.countDown();
                awaitRelease(heldSyncReleased, "held sync");
            }
            syncNow();
        }

        private synchronized void syncNow() throws IOException
        {
            syncs.incrementAndGet();
            if (failNext || errorNext)
            {
                final boolean error = errorNext;
                failNext = false;
                errorNext = false;
                loseUnsyncedWrites();
                if (error)
                {
                    throw new InternalError("a fault occurred in an unsafe memory access operation (scripted sync)");
                }
                throw new IOException("scripted fsync failure (EIO): the writes since the last sync are lost");
            }
            markSynced();
        }
    }
}
