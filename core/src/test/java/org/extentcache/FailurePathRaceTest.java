package org.extentcache;

import org.extentcache.device.ForwardingBlockDevice;
import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.ExtentStore;
import org.extentcache.translate.ForwardingTranslator;
import org.extentcache.translate.TranslationListener;
import org.extentcache.translate.Translator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Failure paths racing writers, syncs, builds and close: each test drives one scenario an adversarial review of the
 * trust fixes found broken (named for what went wrong then); each failed on that code and passes now. The Javadoc of
 * each says what must happen.
 */
class FailurePathRaceTest
{
    private static final int PAGE = TestPages.PAGE;

    @RegisterExtension
    final CacheBooks books = new CacheBooks();

    // ------------------------------------------------------------------------------------------------------------
    // Finding 1: ExtentCache.flush waits for a busy writer's lock (finishFlush) while it still pins the batch
    // ------------------------------------------------------------------------------------------------------------

    /**
     * Item 5 says a cache-wide flush "never waits for a busy file's writer lock while holding pins". But after its
     * sync, {@code syncBatch -> finishBatch -> CachedFile.finishFlush} takes each batch file's writer lock with
     * {@code lock()}, and unpins that file's frames only in its {@code finally}, after the lock. A writer of that file
     * that started during the sync holds the lock and waits in a claim for a frame, and the only frames that could
     * become free are the clean ones the flush still pins: the writer times out ("no frame can be reclaimed") and only
     * then does the flush go on. With a long claim timeout this is a deadlock.
     * <p>
     * 8 frames: 4 pinned by the test (file c), 4 dirty in file a. The flush writes a's 4 pages back (pinned, clean)
     * and syncs (held). A writer of a then needs one frame. After the sync every one of a's 4 frames could be
     * reclaimed, so the write must succeed.
     */
    @Test
    void f1_cacheWideFlushWaitsForABusyWritersLockWhileItPinsTheFramesTheWriterNeeds() throws Exception
    {
        final ScriptedDevice device = new ScriptedDevice(PAGE, 1024);
        final ExtentStore store = new ExtentStore(device);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(8).claimTimeout(Duration.ofSeconds(3)).dirtyExpiry(Duration.ZERO).build());
        final long cId = store.create();
        store.write(cId, 0, TestPages.filled(4 * PAGE, 1));
        final CachedFile c = cache.file(cId);
        final List<PinnedPage> pins = new ArrayList<>();
        for (int page = 0; page < 4; page++)
        {
            pins.add(c.pin((long)page * PAGE));
        }
        final CachedFile a = cache.file(store.create());
        a.write(0, TestPages.filled(4 * PAGE, 2)); // 4 dirty frames: exactly half, so no throttle
        assertEquals(4, cache.stats().dirtyFrames());

        device.holdNextSync(false);
        final Async<Void> flush = new Async<>("flush", () ->
        {
            cache.flush();
            return null;
        });
        assertTrue(device.syncEntered.await(10, TimeUnit.SECONDS), "the flush wrote a back and is syncing");
        final Async<Integer> writer = new Async<>("writer-of-a", () -> a.write(10L * PAGE, TestPages.filled(PAGE, 3)));
        awaitIn(writer.thread, "claimPrivate"); // the writer holds a's lock and waits for a frame
        device.releaseSync(); // the sync succeeds: a's 4 frames are clean and only the flush's pins hold them
        try
        {
            final long start = System.nanoTime();
            try
            {
                assertEquals(PAGE, writer.get(20));
            }
            catch (final ExecutionException ex)
            {
                fail("the write of a failed after " + (System.nanoTime() - start) / 1_000_000 + " ms: the flush " +
                    "held its pins on a's clean frames while it waited in finishFlush for a's writer lock: " +
                    ex.getCause(), ex.getCause());
            }
            flush.get(20);
        }
        finally
        {
            flush.thread.join(20_000);
            pins.forEach(PinnedPage::close);
        }
        assertNull(cache.checkBooks());
    }

    // ------------------------------------------------------------------------------------------------------------
    // Finding 2: a later sync settles as durable the pages of a cache-wide flush whose own sync had already failed
    // ------------------------------------------------------------------------------------------------------------

    /**
     * {@code CachedFile} says "Linux reports a failed fsync once, so only writing the pages again and syncing again
     * makes them durable". Yet {@code syncOrRedirty} settles every page of {@code awaitingSync} as durable when
     * <em>any</em> later sync of the range succeeds, even one that ran after the cache-wide flush's sync had already
     * failed (the flush is then only waiting for the writer lock in {@code finishFlush}). The flush's own redirty
     * then skips the settled pages: they end clean, never rewritten, and not on the device.
     * <p>
     * The device has the Linux semantics the code cites: a failed sync loses the writes since the last good sync and
     * reports it once; the next sync succeeds.
     */
    @Test
    void f2_aSyncAfterTheFlushsFailedSyncSettlesItsLostPagesAsDurable() throws Exception
    {
        final LinuxSyncDevice device = new LinuxSyncDevice(PAGE, 1024);
        final ExtentStore store = new ExtentStore(device);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(64).claimTimeout(Duration.ofSeconds(5)).dirtyExpiry(Duration.ZERO).build());
        final CachedFile a = cache.file(store.create());
        a.write(0, TestPages.filled(PAGE, 1));
        device.script();

        final Async<Void> flush = new Async<>("cache-wide flush", () ->
        {
            cache.flush();
            return null;
        });
        assertTrue(device.firstSyncEntered.await(10, TimeUnit.SECONDS), "the cache-wide flush wrote a and syncs");
        final Async<Void> fileFlush = new Async<>("a.flush", () ->
        {
            a.flush(); // nothing dirty: just a sync, which runs after the flush's sync failed
            return null;
        });
        awaitIn(fileFlush.thread, "sync"); // a.flush holds a's lock and waits to sync after the flush's sync
        device.releaseFirstSync.countDown(); // the flush's sync fails: a's page is lost on the device
        final ExecutionException failed = assertThrows(ExecutionException.class, () -> flush.get(10));
        assertTrue(failed.getCause() instanceof IOException, failed.getCause().toString());
        assertTrue(failed.getCause().getMessage().contains("stays dirty"), failed.getCause().getMessage());
        fileFlush.get(10);

        final int dirtyAfter = a.dirtyPageCount();
        cache.flush(); // succeeds: a later flush "can succeed" (invariant 5) and must put the page on the device
        final ByteBuffer onDevice = ByteBuffer.allocate(PAGE);
        store.read(a.id(), 0, onDevice);
        TestPages.assertBytes(1, onDevice.array(), "a's page 0 on the device after a successful flush (the flush " +
            "whose sync failed said the page stays dirty; dirty pages of a after it: " + dirtyAfter + ")");
    }

    // ------------------------------------------------------------------------------------------------------------
    // Finding 3: a failed device sync re-dirties only the syncing file's pages; another file's are lost
    // ------------------------------------------------------------------------------------------------------------

    /**
     * {@code sync()} is device-wide, so a failed sync "covers" every write that reached the device before it, of
     * every file; but {@code syncOrRedirty} re-dirties only the calling file's pages. File b wrote its page before a's
     * sync failed and syncs after it (the error was reported once, to a): b.flush() returns normally, b's page is
     * clean in the cache, and it is not on the device (invariant 5: flush returned but the page is not there). The
     * new paths (write-back for room, background write-back, changeComing, throttle) each sync the whole device for
     * one file, which makes this common.
     */
    @Test
    void f3_aFailedSyncOfOneFileLosesAnotherFilesPagesThatThenFlushSuccessfully() throws Exception
    {
        final LinuxSyncDevice device = new LinuxSyncDevice(PAGE, 1024);
        final ExtentStore store = new ExtentStore(device);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(64).claimTimeout(Duration.ofSeconds(5)).dirtyExpiry(Duration.ZERO).build());
        final CachedFile a = cache.file(store.create());
        final CachedFile b = cache.file(store.create());
        a.write(0, TestPages.filled(PAGE, 1));
        b.write(0, TestPages.filled(PAGE, 2));
        device.script();

        final Async<Void> flushA = new Async<>("a.flush", () ->
        {
            a.flush();
            return null;
        });
        assertTrue(device.firstSyncEntered.await(10, TimeUnit.SECONDS));
        final Async<Void> flushB = new Async<>("b.flush", () ->
        {
            b.flush();
            return null;
        });
        awaitIn(flushB.thread, "sync"); // b wrote its page and waits to sync after a's sync
        device.releaseFirstSync.countDown();
        assertThrows(ExecutionException.class, () -> flushA.get(10), "a's sync failed and a.flush says so");
        flushB.get(10); // returns normally: b thinks its page is durable
        assertEquals(0, b.dirtyPageCount(), "b's page is clean in the cache");
        final ByteBuffer onDevice = ByteBuffer.allocate(PAGE);
        store.read(b.id(), 0, onDevice);
        TestPages.assertBytes(2, onDevice.array(), "b's page 0 on the device after b.flush() returned normally");
    }

    // ------------------------------------------------------------------------------------------------------------
    // Finding 4: the listener is registered before the cache's frames field is set
    // ------------------------------------------------------------------------------------------------------------

    /**
     * The constructor now calls {@code translator.addListener(listener)} (and starts a thread) before
     * {@code this.frames = reserved}. A translator may call a listener from any thread as soon as it is registered
     * ({@link TranslationListener}: "calls may come from any thread"); here one does so at once. The listener
     * dereferences the null {@code frames} and the build fails with a NullPointerException.
     */
    @Test
    void f4_aListenerCallDuringBuildHitsTheUnsetFramesField()
    {
        final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 1024);
        final ExtentStore store = new ExtentStore(device);
        final Translator eager = new Delegating(store)
        {
            @Override
            public void addListener(final TranslationListener listener)
            {
                super.addListener(listener);
                listener.blocksInvalidated(0, 1); // a change by another thread lands right after registration
            }
        };
        final ExtentCache cache = books.track(assertDoesNotThrow(() -> ExtentCache.builder().device(device)
            .translator(eager).capacityFrames(8).dirtyExpiry(Duration.ZERO).build(), "build"));
        assertNotNull(cache);
    }

    /**
     * The same race without a contrived translator: while a cache is being built over an {@link ExtentStore},
     * another thread writes a file of that store directly. Its {@code beforeChange} reaches the half-built cache,
     * {@code file(id)} constructs a {@code CachedFile} from the null {@code frames}, and the unrelated
     * {@code store.write} fails with a NullPointerException. The window is the background thread's creation and
     * start, so a few hundred builds usually hit it.
     */
    @Test
    void f4_aStoreWriteRacingACacheBuildFailsWithNullPointerException() throws Exception
    {
        final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 4096);
        final ExtentStore store = new ExtentStore(device);
        final long other = store.create();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final Thread writer = new Thread(() ->
        {
            final ByteBuffer page = TestPages.filled(PAGE, 9);
            while (null == failure.get() && !Thread.currentThread().isInterrupted())
            {
                try
                {
                    store.write(other, 0, page.clear());
                }
                catch (final Throwable ex)
                {
                    failure.compareAndSet(null, ex);
                }
            }
        }, "store-writer");
        writer.start();
        int builds = 0;
        try
        {
            for (; builds < 2000 && null == failure.get(); builds++)
            {
                try (ExtentCache cache = ExtentCache.builder().device(device).translator(store).capacityFrames(8)
                    .build())
                {
                    assertFalse(cache.isClosed());
                }
                catch (final NullPointerException ex)
                {
                    failure.compareAndSet(null, ex); // the build itself can be the one that fails
                }
            }
        }
        finally
        {
            failure.compareAndSet(null, new Marker());
            writer.interrupt();
            writer.join(10_000);
        }
        final Throwable seen = failure.get();
        if (!(seen instanceof Marker))
        {
            fail("after " + builds + " builds, a store.write racing a cache build failed: " + seen, seen);
        }
    }

    // ------------------------------------------------------------------------------------------------------------
    // Finding 5: close waits, with no bound but the claim timeout, for a writer waiting for a frame
    // ------------------------------------------------------------------------------------------------------------

    /**
     * {@code markClosed} takes each file's writer lock with {@code lock()}. A writer that waits in a claim holds
     * that lock until a frame frees up or the claim timeout passes; nothing tells it the cache is closing. Pins are
     * documented to outlive close ("PinnedPage#close() still works after close"), so a shutdown that closes the cache
     * and then releases its pins hangs in close for the whole claim timeout (here 60 s; 10 s by default), and the
     * background write-back thread, if it waits for the same lock, holds {@code stop()} too.
     */
    @Test
    void f5_closeHangsForTheClaimTimeoutWhileAWriterWaitsForAFrame() throws Exception
    {
        final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 1024);
        final ExtentStore store = new ExtentStore(device);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(8).claimTimeout(Duration.ofSeconds(60)).dirtyExpiry(Duration.ZERO)
            .leakReporter(message -> { }).build());
        final long cId = store.create();
        store.write(cId, 0, TestPages.filled(8 * PAGE, 1));
        final CachedFile c = cache.file(cId);
        final List<PinnedPage> pins = new ArrayList<>();
        for (int page = 0; page < 8; page++)
        {
            pins.add(c.pin((long)page * PAGE)); // every frame pinned
        }
        final CachedFile a = cache.file(store.create());
        final Async<Integer> writer = new Async<>("writer", () -> a.write(0, TestPages.filled(PAGE, 2)));
        awaitIn(writer.thread, "claimPrivate");
        final Async<Void> close = new Async<>("close", () ->
        {
            cache.close();
            return null;
        });
        try
        {
            close.get(5);
        }
        catch (final TimeoutException ex)
        {
            fail("close() did not return within 5 s: it waits in " + where(close.thread) + " for the writer, " +
                "which waits up to the 60 s claim timeout for a frame");
        }
        finally
        {
            pins.forEach(PinnedPage::close); // lets the writer have a frame, so close can finish
            close.thread.join(20_000);
            writer.thread.join(20_000);
        }
    }

    // ------------------------------------------------------------------------------------------------------------
    // Finding 6: the per-thread staging page is reused by a nested write from a translator callback
    // ------------------------------------------------------------------------------------------------------------

    /**
     * A direct source is copied into {@code Scratch.staging}, then {@code writePage} runs translator code
     * ({@code translate}, {@code reserveBlock}, and the device read of a partial page) before it copies the staged
     * bytes into the frame. A translator that writes through the cache from such a callback on the same thread
     * (a storage engine journaling its block allocations into a cached file) overwrites the staging page: the outer
     * file's page gets the journal's bytes. Another file's bytes served.
     */
    @Test
    void f6_aNestedStagedWriteFromATranslatorCallbackOverwritesTheOuterWritesBytes() throws Exception
    {
        final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 1024);
        final ExtentStore store = new ExtentStore(device);
        final long dataId = store.create();
        final long journalId = store.create();
        final AtomicReference<ExtentCache> cacheRef = new AtomicReference<>();
        final Translator journaling = new Delegating(store)
        {
            @Override
            public long reserveBlock(final long file, final long page) throws IOException
            {
                final long block = super.reserveBlock(file, page);
                if (file == dataId)
                {
                    final CachedFile journal = cacheRef.get().file(journalId);
                    final ByteBuffer record = ByteBuffer.allocateDirect(PAGE);
                    while (record.hasRemaining())
                    {
                        record.put((byte)0xEE);
                    }
                    journal.write(journal.size(), record.flip());
                }
                return block;
            }
        };
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(journaling)
            .capacityFrames(64).dirtyExpiry(Duration.ZERO).build());
        cacheRef.set(cache);
        final CachedFile data = cache.file(dataId);
        final ByteBuffer source = ByteBuffer.allocateDirect(PAGE);
        while (source.hasRemaining())
        {
            source.put((byte)0x11);
        }
        data.write(0, source.flip());
        final ByteBuffer dst = ByteBuffer.allocate(PAGE);
        data.read(0, dst);
        TestPages.assertBytes(0x11, dst.array(), "the data file's page 0 (0xEE would be the journal's bytes)");
        cache.flush();
    }

    // ------------------------------------------------------------------------------------------------------------
    // Finding 7: close reports dirty pages before it waits for writers; a write finishing during close is dropped
    // ------------------------------------------------------------------------------------------------------------

    /**
     * {@code close()} reports dirty pages ({@code reportLeakedPins}) before {@code markClosed} waits for the writers
     * in progress. A write that is in progress when close starts is waited for, returns success, and its dirty page
     * is then discarded by {@code frames.close()} with no report ("any still dirty are discarded and reported").
     */
    @Test
    void f7_aWriteThatFinishesDuringCloseIsDiscardedWithoutAReport() throws Exception
    {
        final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 1024);
        final ExtentStore store = new ExtentStore(device);
        final long id = store.create();
        final CountDownLatch inReserve = new CountDownLatch(1);
        final CountDownLatch proceed = new CountDownLatch(1);
        final Translator slow = new Delegating(store)
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
        final List<String> reports = new java.util.concurrent.CopyOnWriteArrayList<>();
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(slow)
            .capacityFrames(16).dirtyExpiry(Duration.ZERO).leakReporter(reports::add).build());
        final CachedFile file = cache.file(id);
        final Async<Integer> writer = new Async<>("writer", () -> file.write(0, TestPages.filled(PAGE, 5)));
        assertTrue(inReserve.await(10, TimeUnit.SECONDS), "the writer holds the file's lock");
        final Async<Void> close = new Async<>("close", () ->
        {
            cache.close();
            return null;
        });
        awaitIn(close.thread, "markClosed");
        proceed.countDown();
        assertEquals(PAGE, writer.get(10), "the write succeeded");
        close.get(10);
        assertTrue(reports.stream().anyMatch(r -> r.contains("dirty")),
            "the write that returned success during close was discarded without a report: reports=" + reports);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Finding 8: the background write-back thread dies on an Error
    // ------------------------------------------------------------------------------------------------------------

    /**
     * {@code BackgroundWriteback.run} catches only {@link RuntimeException}. A device that raises an {@link Error} once
     * (a memory-mapped device raises {@link InternalError} on an I/O fault of its mapping, as the write path's own
     * comment says) kills the thread silently: dirty pages are never again written back by expiry, while the thread
     * is still counted as the cache's write-back and {@code close()} reports nothing.
     */
    @Test
    void f8_theBackgroundWritebackDiesOnAnErrorAndNeverWritesBackAgain() throws Exception
    {
        final ErrorOnceDevice device = new ErrorOnceDevice(PAGE, 1024);
        final ExtentStore store = new ExtentStore(device);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(16).dirtyExpiry(Duration.ofMillis(50)).build());
        final CachedFile file = cache.file(store.create());
        file.write(0, TestPages.filled(PAGE, 1));
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!device.threw && System.nanoTime() < deadline)
        {
            Thread.sleep(10);
        }
        assertTrue(device.threw, "the background write-back met the device's Error");
        file.write(PAGE, TestPages.filled(PAGE, 2));
        final long later = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (file.dirtyPageCount() > 0 && System.nanoTime() < later)
        {
            Thread.sleep(10);
        }
        final int dirty = file.dirtyPageCount();
        file.flush();
        assertEquals(0, dirty, "pages dirty 5 s after the Error with a 50 ms expiry: the background write-back " +
            "thread is gone (alive threads named extentcache-writeback-*: " + writebackThreads() + ")");
        assertTrue(cache.stats().syncFailures() + cache.stats().backgroundErrors() > 0,
            "the Error is counted where a user can see it: " + cache.stats());
    }

    // ------------------------------------------------------------------------------------------------------------
    // Finding 9: an off-heap source without a ByteBuffer is not staged; its fault escapes the write asynchronously
    // ------------------------------------------------------------------------------------------------------------

    /**
     * A source at a raw address (an Agrona buffer over mmap'ed memory, Chronicle {@code MappedBytes}) whose file is
     * truncated: the JDK raises the fault of a compiled unsafe load asynchronously, at some later transition into the
     * VM, and no call the cache can make is seen to deliver it every time, so the write may return and the error
     * surface later (the README lists this among what a caller must not do). What the cache guarantees is what this
     * checks: the JVM does not crash (the source is staged word by word, never through a bulk copy stub), no frame
     * stays WRITING, the books balance, and a later write and flush work.
     */
    @Test
    void f9_aRawAddressSourceThatFaultsLeavesTheCacheConsistent(@org.junit.jupiter.api.io.TempDir
        final java.nio.file.Path dir) throws Exception
    {
        final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 1024);
        final ExtentStore store = new ExtentStore(device);
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(store)
            .capacityFrames(16).dirtyExpiry(Duration.ZERO).build());
        final CachedFile file = cache.file(store.create());
        file.write(0, TestPages.filled(PAGE, 7));
        final ByteBuffer warm = ByteBuffer.allocateDirect(PAGE);
        final org.agrona.concurrent.UnsafeBuffer warmView =
            new org.agrona.concurrent.UnsafeBuffer(org.agrona.BufferUtil.address(warm), PAGE);
        for (int i = 0; i < 100_000; i++)
        {
            file.write(0, warmView, 0, PAGE); // in place, from a raw address: let C2 compile the path
        }
        final java.nio.file.Path mapped = dir.resolve("source");
        final java.nio.MappedByteBuffer source;
        try (java.nio.channels.FileChannel channel = java.nio.channels.FileChannel.open(mapped,
            java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.READ,
            java.nio.file.StandardOpenOption.WRITE))
        {
            channel.write(TestPages.filled(PAGE, 8));
            source = channel.map(java.nio.channels.FileChannel.MapMode.READ_ONLY, 0, PAGE);
        }
        try (java.io.RandomAccessFile truncate = new java.io.RandomAccessFile(mapped.toFile(), "rw"))
        {
            truncate.setLength(0); // the mapping now faults
        }
        final org.agrona.concurrent.UnsafeBuffer raw =
            new org.agrona.concurrent.UnsafeBuffer(org.agrona.BufferUtil.address(source), PAGE);
        // on a thread of its own, which ends: wherever the deferred fault surfaces, it surfaces there
        final Thread faulting = new Thread(() ->
        {
            for (int attempt = 0; attempt < 3; attempt++)
            {
                try
                {
                    file.write(0, raw, 0, PAGE);
                    Thread.sleep(1);
                }
                catch (final InternalError | IOException | InterruptedException expected)
                {
                    // the source's fault, in the write or after it
                }
            }
        }, "faulting-writer");
        faulting.start();
        faulting.join(TimeUnit.SECONDS.toMillis(30));
        assertFalse(faulting.isAlive(), "the writes from a faulting source ended");
        assertNotNull(source);
        assertNull(cache.checkBooks(), "no frame left WRITING, no pin leaked");
        file.write(0, TestPages.filled(PAGE, 9));
        file.flush();
        final ByteBuffer page = ByteBuffer.allocate(PAGE);
        file.read(0, page);
        TestPages.assertBytes(9, page.array(), "a later write");
        assertEquals(0, file.dirtyPageCount());
    }

    // ------------------------------------------------------------------------------------------------------------
    // Finding 10: close stops listening before it has shut writers out; a write-back then clobbers another file
    // ------------------------------------------------------------------------------------------------------------

    /**
     * {@code close()} sets {@code closed} and removes its listener first, and only then waits for each file's writer
     * ({@code markClosed}). In between, which F5 shows can last the claim timeout, a writer of the cache still runs
     * and writes back, but the translator's changes are no longer bracketed (no writer exclusion, no write-back) nor
     * invalidated. Here b's writer is mid-write (4 pages dirty, the 5th in {@code reserveBlock}); close starts and
     * waits for it; b is truncated and another file c takes b's freed blocks on the device; then the writer
     * finishes and its throttle writes b's 4 dirty frames back to their old blocks: c's bytes on the device are
     * overwritten with b's. The device outlives the cache.
     */
    @Test
    void f10_aWriteBackAfterCloseStoppedListeningOverwritesAnotherFilesBlocks() throws Exception
    {
        final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 1024);
        final ExtentStore store = new ExtentStore(device);
        final long bId = store.create();
        final CountDownLatch inReserve = new CountDownLatch(1);
        final CountDownLatch proceed = new CountDownLatch(1);
        final Translator slow = new Delegating(store)
        {
            @Override
            public long reserveBlock(final long file, final long page) throws IOException
            {
                if (file == bId && page == 4)
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
                }
                return super.reserveBlock(file, page);
            }
        };
        final ExtentCache cache = books.track(ExtentCache.builder().device(device).translator(slow)
            .capacityFrames(8).dirtyExpiry(Duration.ZERO).leakReporter(message -> { }).build());
        final CachedFile b = cache.file(bId);
        final Async<Integer> writer = new Async<>("writer-of-b", () -> b.write(0, TestPages.filled(5 * PAGE, 0xBB)));
        assertTrue(inReserve.await(10, TimeUnit.SECONDS), "b's pages 0..3 are dirty; the writer holds b's lock");
        final Async<Void> close = new Async<>("close", () ->
        {
            cache.close();
            return null;
        });
        awaitIn(close.thread, "markClosed");

        final Async<Void> truncate = new Async<>("truncate", () ->
        {
            store.truncate(bId, 0); // b's blocks are freed
            return null;
        });
        awaitIn(truncate.thread, "changeComing"); // the cache still brackets the change: it waits for b's writer
        proceed.countDown();
        writer.get(10);
        truncate.get(10);
        final long cId = store.create();
        store.write(cId, 0, TestPages.filled(4 * PAGE, 0xCC)); // and c takes them
        close.get(10);

        final ByteBuffer onDevice = ByteBuffer.allocate(4 * PAGE);
        store.read(cId, 0, onDevice);
        TestPages.assertBytes(0xCC, onDevice.array(), "file c on the device (0xBB would be b's bytes)");
    }

    // ------------------------------------------------------------------------------------------------------------
    // helpers
    // ------------------------------------------------------------------------------------------------------------

    private static long writebackThreads()
    {
        return Thread.getAllStackTraces().keySet().stream()
            .filter(t -> t.getName().startsWith("extentcache-writeback-") && t.isAlive()).count();
    }

    /** Waits until {@code thread} is inside a method of that name (it is blocked or looping there). */
    static void awaitIn(final Thread thread, final String method) throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline)
        {
            for (final StackTraceElement frame : thread.getStackTrace())
            {
                if (frame.getMethodName().equals(method))
                {
                    Thread.sleep(50); // let it settle into its wait
                    return;
                }
            }
            Thread.sleep(2);
        }
        fail(thread.getName() + " never reached " + method + ": " + where(thread));
    }

    static String where(final Thread thread)
    {
        final StringBuilder trace = new StringBuilder(thread.getState().toString());
        for (final StackTraceElement frame : thread.getStackTrace())
        {
            if (frame.getClassName().startsWith("org.extentcache"))
            {
                trace.append(" <- ").append(frame.getClassName().substring("org.extentcache.".length()))
                    .append('.').append(frame.getMethodName());
            }
        }
        return trace.toString();
    }

    /** Runs a body on a named daemon thread of its own, so a test can look at where the thread is. */
    static final class Async<T>
    {
        final Thread thread;
        private final CompletableFuture<T> result = new CompletableFuture<>();

        Async(final String name, final Callable<T> body)
        {
            thread = new Thread(() ->
            {
                try
                {
                    result.complete(body.call());
                }
                catch (final Throwable ex)
                {
                    result.completeExceptionally(ex);
                }
            }, name);
            thread.setDaemon(true);
            thread.start();
        }

        T get(final long seconds) throws InterruptedException, ExecutionException, TimeoutException
        {
            return result.get(seconds, TimeUnit.SECONDS);
        }
    }

    private static final class Marker extends RuntimeException
    {
        private static final long serialVersionUID = 1L;
    }

    /**
     * A {@link LinuxFsyncDevice} (a failed sync loses the writes since the last good one) whose syncs a test scripts:
     * after {@link #script()}, sync #1 waits for {@link #releaseFirstSync} and fails; sync #2 waits for sync #1 to be
     * over and succeeds.
     */
    static final class LinuxSyncDevice extends LinuxFsyncDevice
    {
        private final AtomicInteger syncs = new AtomicInteger();
        private volatile boolean scripted;
        final CountDownLatch firstSyncEntered = new CountDownLatch(1);
        final CountDownLatch releaseFirstSync = new CountDownLatch(1);
        final CountDownLatch secondSyncEntered = new CountDownLatch(1);
        private final CountDownLatch firstSyncOver = new CountDownLatch(1);

        LinuxSyncDevice(final int blockSize, final long blocks)
        {
            super(blockSize, blocks);
        }

        void script()
        {
            syncs.set(0);
            scripted = true;
        }

        @Override
        public void sync() throws IOException
        {
            final int n = syncs.incrementAndGet();
            if (scripted && 1 == n)
            {
                firstSyncEntered.countDown();
                awaitRelease(releaseFirstSync, "scripted sync");
                loseUnsyncedWrites();
                firstSyncOver.countDown();
                throw new IOException("scripted fsync failure (EIO): the writes since the last sync are lost");
            }
            if (scripted && 2 == n)
            {
                secondSyncEntered.countDown();
                awaitRelease(firstSyncOver, "scripted sync");
            }
            markSynced();
        }
    }

    /** A memory device whose first write raises {@link InternalError}, as a mapped device does on an I/O fault. */
    static final class ErrorOnceDevice extends ForwardingBlockDevice
    {
        volatile boolean threw;

        ErrorOnceDevice(final int blockSize, final long blocks)
        {
            super(new MemoryBlockDevice(blockSize, blocks));
        }

        @Override
        public void write(final long block, final ByteBuffer src) throws IOException
        {
            if (!threw)
            {
                threw = true;
                throw new InternalError("a fault occurred in an unsafe memory access operation (scripted)");
            }
            delegate.write(block, src);
        }
    }

    /** A translator that passes every call to an {@link ExtentStore}; tests override one method. */
    static class Delegating extends ForwardingTranslator<ExtentStore>
    {
        Delegating(final ExtentStore store)
        {
            super(store);
        }
    }
}
