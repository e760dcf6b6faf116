package org.extentcache.translate;

import static org.junit.jupiter.api.Assertions.assertNull;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.AtomicReferenceArray;

import org.extentcache.TestThreads;
import org.extentcache.device.MemoryBlockDevice;
import org.junit.jupiter.api.Test;

/**
 * Hammers {@link ExtentStore#translate} and {@link ExtentStore#size}, which read optimistically, from reader threads
 * while writer threads write, clone, punch holes in, truncate and delete files, and checks every answer against
 * what the store held at some moment during the call.
 *
 * <h2>Oracle</h2>
 * Each tracked file has a test-side sequence number, even between its writer's mutations and odd during one, and a
 * history: after mutation {@code k} its writer records the file's map and size read under the store's read lock
 * ({@link ExtentStore#mapUnderLock}, never optimistically), as snapshot {@code k} (snapshot 0: before any). Only
 * one writer changes a file, so a reader whose call ran while the sequence went from {@code s1} to {@code s2} must
 * see one of the snapshots {@code s1 / 2} to {@code (s2 + 1) / 2}; it waits for the last one to be recorded, then
 * checks the whole returned run, page by page, against a single snapshot of that range, and a size against the
 * range's sizes. {@code NoSuchFileException} is right only if the range ends with the file's deletion.
 *
 * <p>Writers keep their files' maps fragmented (single-page writes and punches, cloned ranges) so that extent
 * maps grow, shrink and shift their arrays, and delete and clone files so that the file index resizes and shifts
 * its entries: the torn states an optimistic read must survive. The shared flag is not checked: it depends on
 * other writers' files.
 *
 * <p>Knobs: {@code -Dextentcache.seed=N} replays the writers' operation sequences (the interleaving is the
 * scheduler's; the seed is printed and in every failure); {@code -Dextentcache.optimistic.millis=N} runs longer
 * than the default 3 seconds.
 */
class OptimisticTranslateTest
{
    private static final int PS = 512;
    private static final int BLOCKS = 8192;
    private static final int MAX_PAGES = 48;
    private static final int WRITERS = 2;
    private static final int READERS = 2;
    private static final int FILES_PER_WRITER = 4;
    private static final long[] DELETED = new long[0];

    /** One file as the test knows it: its id, its mutation sequence and the snapshot after each mutation. */
    private static final class Tracked
    {
        final long id;
        volatile int sequence;
        private final List<long[]> snapshots = new ArrayList<>();

        Tracked(final long id, final long[] initial)
        {
            this.id = id;
            snapshots.add(initial);
        }

        synchronized void record(final long[] snapshot)
        {
            snapshots.add(snapshot);
        }

        synchronized long[] snapshot(final int index)
        {
            return index < snapshots.size() ? snapshots.get(index) : null;
        }
    }

    @Test
    void translationsMatchAStateTheStoreHeld() throws Exception
    {
        final String property = System.getProperty("extentcache.seed");
        final long seed = null == property ? new Random().nextLong() : Long.parseLong(property);
        final long millis = Long.getLong("extentcache.optimistic.millis", 3_000);
        System.out.println("OptimisticTranslateTest seed=" + seed + " (replay: -Dextentcache.seed=" + seed + ")");
        try (MemoryBlockDevice device = new MemoryBlockDevice(PS, BLOCKS); ExtentStore store = new ExtentStore(device))
        {
            final AtomicReferenceArray<Tracked> slots = new AtomicReferenceArray<>(WRITERS * FILES_PER_WRITER);
            for (int i = 0; i < slots.length(); i++)
            {
                final long id = store.create();
                slots.set(i, new Tracked(id, store.mapUnderLock(id, MAX_PAGES)));
            }
            final AtomicReference<String> failure = new AtomicReference<>();
            final long deadline = System.nanoTime() + millis * 1_000_000L;
            final List<CompletableFuture<Void>> tasks = new ArrayList<>();
            for (int w = 0; w < WRITERS; w++)
            {
                final int writer = w;
                tasks.add(CompletableFuture.runAsync(() -> write(store, slots, writer, seed, deadline, failure),
                    TestThreads.POOL));
            }
            for (int r = 0; r < READERS; r++)
            {
                final int reader = r;
                tasks.add(CompletableFuture.runAsync(() -> read(store, slots, seed + 1000 + reader, deadline, failure),
                    TestThreads.POOL));
            }
            CompletableFuture.allOf(tasks.toArray(new CompletableFuture<?>[0])).join();
            assertNull(failure.get(), () -> "seed=" + seed + ": " + failure.get());
        }
    }

    private static void write(final ExtentStore store, final AtomicReferenceArray<Tracked> slots, final int writer,
        final long seed, final long deadline, final AtomicReference<String> failure)
    {
        final Random random = new Random(seed * 31 + writer);
        final ByteBuffer page = ByteBuffer.allocate(PS);
        long op = 0;
        try
        {
            while (System.nanoTime() < deadline && null == failure.get())
            {
                op++;
                final int slot = writer * FILES_PER_WRITER + random.nextInt(FILES_PER_WRITER);
                final Tracked file = slots.get(slot);
                final long id = file.id;
                final int choice = random.nextInt(100);
                if (choice < 5)
                {
                    // delete, and put a clone of a sibling (or a new file) in the slot
                    final int sibling = writer * FILES_PER_WRITER + random.nextInt(FILES_PER_WRITER);
                    final long replacement = sibling == slot ? store.create() : store.cloneFile(slots.get(sibling).id);
                    final Tracked fresh = new Tracked(replacement, store.mapUnderLock(replacement, MAX_PAGES));
                    file.sequence++;
                    store.delete(id);
                    file.record(DELETED);
                    file.sequence++;
                    slots.set(slot, fresh);
                    continue;
                }
                file.sequence++;
                try
                {
                    final int first = random.nextInt(MAX_PAGES);
                    if (choice < 55)
                    {
                        page.clear().putLong(0, op);
                        store.write(id, (long)first * PS, page);
                    }
                    else if (choice < 75)
                    {
                        store.punchHole(id, (long)first * PS, (long)(1 + random.nextInt(4)) * PS);
                    }
                    else if (choice < 85)
                    {
                        store.truncate(id, (long)random.nextInt(MAX_PAGES * PS));
                    }
                    else
                    {
                        final Tracked source = slots.get(writer * FILES_PER_WRITER + random.nextInt(FILES_PER_WRITER));
                        final long sourcePages = store.size(source.id) / PS;
                        if (source != file && sourcePages > 0)
                        {
                            final long from = random.nextInt((int)sourcePages);
                            final long length = Math.min(sourcePages - from, 1 + random.nextInt(8));
                            final long to = Math.min(random.nextInt(MAX_PAGES), MAX_PAGES - length);
                            store.cloneRange(source.id, from * PS, id, to * PS, length * PS);
                        }
                    }
                }
                catch (final IOException ex)
                {
                    if (!ex.getMessage().startsWith("device full"))
                    {
                        throw ex;
                    }
                }
                file.record(store.mapUnderLock(id, MAX_PAGES));
                file.sequence++;
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            failure.compareAndSet(null, "writer " + writer + " op " + op + " failed: " + ex);
        }
    }

    private static void read(final ExtentStore store, final AtomicReferenceArray<Tracked> slots, final long seed,
        final long deadline, final AtomicReference<String> failure)
    {
        final Random random = new Random(seed);
        final Extent extent = new Extent();
        long reads = 0;
        try
        {
            while (null == failure.get() && ((++reads & 0xFF) != 0 || System.nanoTime() < deadline))
            {
                final Tracked file = slots.get(random.nextInt(slots.length()));
                final long page = random.nextInt(MAX_PAGES);
                final boolean sizeOnly = random.nextInt(8) == 0;
                final int before = file.sequence;
                long size = -1;
                boolean missing = false;
                try
                {
                    if (sizeOnly)
                    {
                        size = store.size(file.id);
                    }
                    else
                    {
                        store.translate(file.id, page, extent);
                    }
                }
                catch (final NoSuchFileException ex)
                {
                    missing = true;
                }
                final int after = file.sequence;
                final String problem = check(file, before, after, page, extent, sizeOnly, size, missing);
                if (null != problem)
                {
                    failure.compareAndSet(null, "file " + file.id + " page " + page + " sequence " + before + ".." +
                        after + ": " + problem);
                }
            }
        }
        catch (final RuntimeException ex)
        {
            failure.compareAndSet(null, "reader failed: " + ex);
        }
    }

    /**
     * @return null if one snapshot of {@code [before / 2, (after + 1) / 2]} explains the answer, else why not.
     */
    private static String check(final Tracked file, final int before, final int after, final long page,
        final Extent extent, final boolean sizeOnly, final long size, final boolean missing)
    {
        final int last = (after + 1) / 2;
        while (null == file.snapshot(last))
        {
            Thread.onSpinWait(); // the writer records it right after its mutation
        }
        for (int k = before / 2; k <= last; k++)
        {
            final long[] snapshot = file.snapshot(k);
            if (DELETED == snapshot)
            {
                if (missing)
                {
                    return null;
                }
            }
            else if (!missing && (sizeOnly ? snapshot[MAX_PAGES] == size : explains(snapshot, page, extent)))
            {
                return null;
            }
        }
        return missing ? "no such file, but it was not deleted" :
            sizeOnly ? "size " + size + " never held" : "extent " + extent + " matches no snapshot";
    }

    private static boolean explains(final long[] snapshot, final long page, final Extent extent)
    {
        if (page < extent.filePage() || page >= extent.filePage() + extent.pageCount())
        {
            return false;
        }
        final long end = Math.min(MAX_PAGES, extent.filePage() + extent.pageCount());
        for (long p = extent.filePage(); p < end; p++)
        {
            if (snapshot[(int)p] != extent.blockOf(p))
            {
                return false;
            }
        }
        // a hole run reaching past the tracked pages: the store maps nothing there (files stay under MAX_PAGES)
        return extent.deviceBlock() == Extent.HOLE || end == extent.filePage() + extent.pageCount();
    }
}
