package org.extentcache.translate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import org.agrona.collections.LongHashSet;
import org.extentcache.CachedFile;
import org.extentcache.ExtentCache;
import org.extentcache.device.CrashingBlockDevice;
import org.junit.jupiter.api.Test;

/**
 * Crashes a persistent {@link ExtentStore} at random points under a random workload through a real
 * {@link ExtentCache}, and checks that every file recovers exactly as it was at its last commit.
 *
 * <p><b>One crash point:</b> a {@link CrashingBlockDevice} fails its {@code n}-th write or sync, or (half the time)
 * its {@code n}-th sync, where the most writes are unsynced ({@code n} random), and every operation after it. The workload runs until then: cache writes (the cache has few frames, so reclaim
 * writes dirty pages back at any time), {@link CachedFile#flush} (which commits the file), the store's own write,
 * clone file, clone range, truncate, punch hole, create and delete, and {@link ExtentStore#sync}. The crash image
 * keeps the synced blocks and a random subset of the unsynced writes, some torn to a prefix of their 512-byte
 * sectors. The store is opened on the image and must hold exactly what the last snapshot recorded: the file set, and
 * each file's bytes and size at its last capture (its last successful flush, or the last sync that found the cache
 * had not written it since); a file never captured is empty. A flush or sync cut short by the crash may have
 * landed or not, so the image may match the state before it or after it, but as a whole. The recovered store's
 * books must balance (blocks in use = blocks mapped + metadata blocks), and the workload then goes on over the
 * recovered store to a second crash, which tests the allocator and counts rebuilt from the maps.
 *
 * <p>Bytes are stamped with the operation that wrote them ({@link ExtentStoreModelTest#stamp}), so a mismatch names
 * the operation whose byte was expected and the one found.
 *
 * <p>Knobs: {@code -Dcrash.seed=N} replays one run (the seed is in every failure message; each run has two crash
 * points); {@code -Dcrash.runs=N} sets the number of runs (default 600, so 1200 crash points).
 */
class PersistentStoreCrashTest
{
    private static final int PAGE = 4096;
    private static final int BLOCKS = 448;
    private static final int FRAMES = 8;
    private static final int MAX_PAGES = 10;
    private static final int MAX_BYTES = MAX_PAGES * PAGE;
    private static final int MAX_FILES = 6;
    private static final int ROUNDS = 2;
    private static final int CRASH_WINDOW = 360;
    private static final int MAX_OPS = 600;

    @Test
    void everyCommittedFileRecoversExactlyAfterACrashAtAnyPoint()
    {
        final String property = System.getProperty("crash.seed");
        final long seed = null == property ? new Random().nextLong() : Long.parseLong(property);
        final int runs = null == property ? Integer.getInteger("crash.runs", 600) : 1;
        final long start = System.nanoTime();
        final Random seeds = new Random(seed);
        final int[] totals = new int[5];
        for (int i = 0; i < runs; i++)
        {
            final long runSeed = 0 == i ? seed : seeds.nextLong();
            final Run run = new Run(runSeed);
            try
            {
                run.run();
            }
            catch (final Throwable ex)
            {
                throw new AssertionError("crash run " + i + " failed; replay with -Dcrash.seed=" + runSeed + "\n" +
                    run.logTail(), ex);
            }
            for (int k = 0; k < totals.length; k++)
            {
                totals[k] += run.totals[k];
            }
        }
        System.out.printf("PersistentStoreCrashTest: %d crash points (%d runs, seed %d) in %d ms; unsynced block " +
                "writes at the crash: kept=%d torn=%d lost=%d; crashes during a flush or sync: %d; workload operations: %d%n",
            runs * ROUNDS, runs, seed, (System.nanoTime() - start) / 1_000_000, totals[0], totals[1], totals[2],
            totals[3], totals[4]);
    }

    /** A file as the model holds it: bytes past the size are zeros. */
    private static final class Content
    {
        private final byte[] data;
        private long size;

        Content()
        {
            data = new byte[MAX_BYTES];
        }

        Content(final Content other)
        {
            data = other.data.clone();
            size = other.size;
        }
    }

    /** A live file of the model: its content now, whether the cache wrote it since its capture, its capture. */
    private static final class ModelFile
    {
        private final Content now;
        private boolean written;
        private Content captured;

        ModelFile(final Content now)
        {
            this.now = now;
        }
    }

    private static final class Run
    {
        private final long seed;
        private final Random random;
        private final List<String> log = new ArrayList<>();
        private final TreeMap<Long, ModelFile> live = new TreeMap<>();
        /** Files the workload's cache has a view of: what its cache-wide flush commits. */
        private final java.util.TreeSet<Long> cached = new java.util.TreeSet<>();
        private final int[] totals = new int[5];
        /** The files the last synced snapshot records. */
        private Map<Long, Content> persisted = new TreeMap<>();
        private long highestId;
        private int op;

        Run(final long seed)
        {
            this.seed = seed;
            this.random = new Random(seed);
        }

        String logTail()
        {
            return "seed " + seed + ", last operations:\n  " +
                String.join("\n  ", log.subList(Math.max(0, log.size() - 40), log.size()));
        }

        void run() throws IOException
        {
            CrashingBlockDevice device = new CrashingBlockDevice(PAGE, BLOCKS);
            ExtentStore store = ExtentStore.format(device);
            for (int round = 0; round < ROUNDS; round++)
            {
                if (random.nextBoolean())
                {
                    final long at = device.operations() + 1 + random.nextInt(CRASH_WINDOW);
                    device.crashAfter(at);
                    log.add("round " + round + ": crash at device operation " + at);
                }
                else
                {
                    final long at = device.syncs() + 1 + random.nextInt(CRASH_WINDOW / 8);
                    device.crashAtSync(at);
                    log.add("round " + round + ": crash at device sync " + at);
                }
                final List<Map<Long, Content>> candidates = workload(device, store);
                final CrashingBlockDevice image = device.crashImage(random);
                final int[] counts = device.crashImageCounts();
                totals[0] += counts[0];
                totals[1] += counts[1];
                totals[2] += counts[2];
                totals[3] += candidates.size() - 1;
                final ExtentStore recovered = ExtentStore.open(image);
                final Map<Long, Content> matched = verify(recovered, candidates);
                persisted = matched;
                live.clear();
                for (final Map.Entry<Long, Content> file : matched.entrySet())
                {
                    final ModelFile model = new ModelFile(new Content(file.getValue()));
                    model.captured = file.getValue();
                    live.put(file.getKey(), model);
                }
                device = image;
                store = recovered;
            }
        }

        /**
         * Runs operations until the device crashes.
         *
         * @return the states the recovered store may hold: the last snapshot's, and the one an operation cut short
         * by the crash was writing, if any.
         */
        private List<Map<Long, Content>> workload(final CrashingBlockDevice device, final ExtentStore store)
            throws IOException
        {
            final ExtentCache cache = ExtentCache.builder().device(device).translator(store).pageSize(PAGE)
                .capacityFrames(FRAMES).dirtyExpiry(Duration.ZERO).leakReporter(report -> { }).build();
            Map<Long, Content> inFlight = null;
            cached.clear();
            try
            {
                for (int i = 0; i < MAX_OPS && !device.crashed(); i++)
                {
                    op++;
                    totals[4]++;
                    inFlight = null;
                    final int choice = random.nextInt(100);
                    try
                    {
                        if (live.isEmpty() || (choice < 6 && live.size() < MAX_FILES))
                        {
                            final long id = store.create();
                            highestId = Math.max(highestId, id);
                            live.put(id, new ModelFile(new Content()));
                            log.add(op + ": create " + id);
                        }
                        else if (choice < 45)
                        {
                            cacheWrite(cache, pick());
                        }
                        else if (choice < 54)
                        {
                            final long id = pick();
                            inFlight = flushed(id);
                            log.add(op + ": flush " + id);
                            final long before = store.snapshotSequence();
                            view(cache, id).flush();
                            final ModelFile file = live.get(id);
                            file.captured = new Content(file.now);
                            file.written = false;
                            if (store.snapshotSequence() != before)
                            {
                                persisted = inFlight;
                            }
                        }
                        else if (choice < 64)
                        {
                            storeWrite(store, pick());
                        }
                        else if (choice < 67 && live.size() < MAX_FILES)
                        {
                            final long src = pick();
                            final long id = store.cloneFile(src);
                            cached.add(src);
                            highestId = Math.max(highestId, id);
                            live.put(id, new ModelFile(new Content(live.get(src).now)));
                            log.add(op + ": clone file " + src + " -> " + id);
                        }
                        else if (choice < 73)
                        {
                            cloneRange(store);
                        }
                        else if (choice < 78)
                        {
                            truncate(store, pick());
                        }
                        else if (choice < 83)
                        {
                            punchHole(store, pick());
                        }
                        else if (choice < 86 && live.size() > 1)
                        {
                            final long id = pick();
                            log.add(op + ": delete " + id);
                            store.delete(id);
                            live.remove(id);
                            cached.remove(id);
                        }
                        else if (choice < 90)
                        {
                            inFlight = synced();
                            log.add(op + ": sync");
                            store.sync();
                            for (final ModelFile file : live.values())
                            {
                                if (!file.written)
                                {
                                    file.captured = new Content(file.now);
                                }
                            }
                            persisted = inFlight;
                        }
                        else if (choice < 93)
                        {
                            // the cache-wide flush: one commit call for the files the cache wrote since their
                            // last commit (the files it has a view of and wrote)
                            inFlight = snapshotNow();
                            final List<Long> committed = new ArrayList<>();
                            for (final long id : cached)
                            {
                                if (live.get(id).written)
                                {
                                    committed.add(id);
                                    inFlight.put(id, new Content(live.get(id).now));
                                }
                            }
                            log.add(op + ": cache-wide flush, committing " + committed);
                            final long before = store.snapshotSequence();
                            cache.flush();
                            for (final long id : committed)
                            {
                                final ModelFile file = live.get(id);
                                file.captured = new Content(file.now);
                                file.written = false;
                            }
                            if (store.snapshotSequence() != before)
                            {
                                persisted = inFlight;
                            }
                        }
                        else if (choice < 95 && !cached.isEmpty())
                        {
                            // the last close of a file: commits it if the cache wrote it since its last commit
                            final long id = cached.toArray(new Long[0])[random.nextInt(cached.size())];
                            final ModelFile file = live.get(id);
                            final boolean commits = file.written;
                            inFlight = commits ? flushed(id) : null;
                            log.add(op + ": close " + id + " in the cache" + (commits ? " (commits)" : ""));
                            final long before = store.snapshotSequence();
                            cache.closeFile(id);
                            cached.remove(id);
                            if (commits)
                            {
                                file.captured = new Content(file.now);
                                file.written = false;
                                if (store.snapshotSequence() != before)
                                {
                                    persisted = inFlight;
                                }
                            }
                        }
                        else
                        {
                            checkThroughCache(cache, pick());
                        }
                    }
                    catch (final IOException | RuntimeException ex)
                    {
                        if (!device.crashed())
                        {
                            throw ex;
                        }
                        log.add(op + ": crashed: " + ex);
                        break;
                    }
                }
                if (!device.crashed())
                {
                    inFlight = null;
                    device.crashNow();
                    log.add(op + ": crash after the last operation");
                }
            }
            finally
            {
                try
                {
                    cache.close();
                }
                catch (final RuntimeException ex)
                {
                    log.add("closing the cache after the crash: " + ex);
                }
            }
            final List<Map<Long, Content>> candidates = new ArrayList<>(2);
            candidates.add(persisted);
            if (null != inFlight)
            {
                candidates.add(inFlight);
            }
            return candidates;
        }

        /** {@code cache.file(id)}, noting that the cache now has a view of the file. */
        private CachedFile view(final ExtentCache cache, final long id) throws IOException
        {
            final CachedFile file = cache.file(id);
            cached.add(id);
            return file;
        }

        private long pick()
        {
            final Long[] ids = live.keySet().toArray(new Long[0]);
            return ids[random.nextInt(ids.length)];
        }

        /** What a snapshot written now would record: each live file's capture, or empty. */
        private Map<Long, Content> snapshotNow()
        {
            final Map<Long, Content> snapshot = new TreeMap<>();
            for (final Map.Entry<Long, ModelFile> file : live.entrySet())
            {
                final Content captured = file.getValue().captured;
                snapshot.put(file.getKey(), null == captured ? new Content() : captured);
            }
            return snapshot;
        }

        private Map<Long, Content> flushed(final long id)
        {
            final Map<Long, Content> snapshot = snapshotNow();
            snapshot.put(id, new Content(live.get(id).now));
            return snapshot;
        }

        private Map<Long, Content> synced()
        {
            final Map<Long, Content> snapshot = snapshotNow();
            for (final Map.Entry<Long, ModelFile> file : live.entrySet())
            {
                if (!file.getValue().written)
                {
                    snapshot.put(file.getKey(), new Content(file.getValue().now));
                }
            }
            return snapshot;
        }

        private ByteBuffer stamped(final long position, final int length)
        {
            final ByteBuffer bytes = ByteBuffer.allocate(length);
            for (int i = 0; i < length; i++)
            {
                bytes.put(i, ExtentStoreModelTest.stamp(op, position + i));
            }
            return bytes;
        }

        private void apply(final Content content, final long position, final ByteBuffer bytes)
        {
            bytes.duplicate().get(content.data, (int)position, bytes.remaining());
            content.size = Math.max(content.size, position + bytes.remaining());
        }

        private long[] range()
        {
            final long position = random.nextInt(MAX_BYTES - 1);
            final int length = 1 + random.nextInt((int)Math.min(3 * PAGE, MAX_BYTES - position));
            return new long[]{position, length};
        }

        private void cacheWrite(final ExtentCache cache, final long id) throws IOException
        {
            final long[] range = range();
            final ByteBuffer bytes = stamped(range[0], (int)range[1]);
            log.add(op + ": cache write " + id + " [" + range[0] + ", +" + range[1] + ")");
            final ModelFile file = live.get(id);
            file.written = true;
            view(cache, id).write(range[0], bytes.duplicate());
            apply(file.now, range[0], bytes);
        }

        private void storeWrite(final ExtentStore store, final long id) throws IOException
        {
            final long[] range = range();
            final ByteBuffer bytes = stamped(range[0], (int)range[1]);
            log.add(op + ": store write " + id + " [" + range[0] + ", +" + range[1] + ")");
            store.write(id, range[0], bytes.duplicate());
            cached.add(id); // the change's announcement gave the cache a view of it (to keep writers out)
            apply(live.get(id).now, range[0], bytes);
        }

        private void cloneRange(final ExtentStore store) throws IOException
        {
            final long src = pick();
            final long dst = pick();
            final Content source = live.get(src).now;
            final long srcPages = source.size / PAGE;
            if (srcPages == 0)
            {
                return;
            }
            final long srcPage = random.nextInt((int)srcPages);
            final long pages = 1 + random.nextInt((int)Math.min(3, srcPages - srcPage));
            final long dstPage = random.nextInt(MAX_PAGES - (int)pages + 1);
            if (src == dst && srcPage < dstPage + pages && dstPage < srcPage + pages)
            {
                return;
            }
            log.add(op + ": clone range " + src + " page " + srcPage + " -> " + dst + " page " + dstPage + " (" +
                pages + " pages)");
            store.cloneRange(src, srcPage * PAGE, dst, dstPage * PAGE, pages * PAGE);
            cached.add(src);
            cached.add(dst);
            final Content target = live.get(dst).now;
            System.arraycopy(source.data, (int)(srcPage * PAGE), target.data, (int)(dstPage * PAGE),
                (int)(pages * PAGE));
            target.size = Math.max(target.size, (dstPage + pages) * PAGE);
        }

        private void truncate(final ExtentStore store, final long id) throws IOException
        {
            final long size = random.nextInt(MAX_BYTES + 1);
            log.add(op + ": truncate " + id + " to " + size);
            store.truncate(id, size);
            cached.add(id);
            final Content content = live.get(id).now;
            if (size < content.size)
            {
                Arrays.fill(content.data, (int)size, MAX_BYTES, (byte)0);
            }
            content.size = size;
        }

        private void punchHole(final ExtentStore store, final long id) throws IOException
        {
            final long[] range = range();
            log.add(op + ": punch " + id + " [" + range[0] + ", +" + range[1] + ")");
            store.punchHole(id, range[0], range[1]);
            cached.add(id);
            final Content content = live.get(id).now;
            final long end = Math.min(range[0] + range[1], content.size);
            if (range[0] < end)
            {
                Arrays.fill(content.data, (int)range[0], (int)end, (byte)0);
            }
        }

        private void checkThroughCache(final ExtentCache cache, final long id) throws IOException
        {
            final Content content = live.get(id).now;
            log.add(op + ": read " + id + " through the cache");
            final CachedFile file = view(cache, id);
            assertEquals(content.size, file.size(), "size of file " + id + " through the cache");
            final ByteBuffer bytes = ByteBuffer.allocate(MAX_BYTES);
            final int n = Math.max(0, file.read(0, bytes));
            assertEquals(content.size, n, "bytes read from file " + id);
            final String difference = difference(content, bytes.array(), n);
            assertTrue(null == difference, () -> "file " + id + " through the cache: " + difference);
        }

        /**
         * @return the candidate the recovered store matches exactly.
         */
        private Map<Long, Content> verify(final ExtentStore store, final List<Map<Long, Content>> candidates)
            throws IOException
        {
            final Map<String, String> mismatches = new LinkedHashMap<>();
            for (int c = 0; c < candidates.size(); c++)
            {
                final String mismatch = compare(store, candidates.get(c));
                if (null == mismatch)
                {
                    checkBooks(store, candidates.get(c));
                    return candidates.get(c);
                }
                mismatches.put(c == 0 ? "the last snapshot" : "the snapshot in flight", mismatch);
            }
            throw new AssertionError("the recovered store matches no state it may hold: " + mismatches);
        }

        private String compare(final ExtentStore store, final Map<Long, Content> expected) throws IOException
        {
            for (long id = 1; id <= highestId + 1; id++)
            {
                final Content content = expected.get(id);
                if (store.exists(id) != (null != content))
                {
                    return "file " + id + (null == content ? " exists but should not" : " is missing");
                }
                if (null == content)
                {
                    continue;
                }
                if (store.size(id) != content.size)
                {
                    return "file " + id + " has size " + store.size(id) + ", expected " + content.size;
                }
                final ByteBuffer bytes = ByteBuffer.allocate(MAX_BYTES + PAGE);
                final int n = Math.max(0, store.read(id, 0, bytes));
                final String difference = difference(content, bytes.array(), n);
                if (null != difference)
                {
                    return "file " + id + ": " + difference;
                }
            }
            return null;
        }

        private static String difference(final Content expected, final byte[] found, final int length)
        {
            for (int i = 0; i < length; i++)
            {
                if (expected.data[i] != found[i])
                {
                    return "byte " + i + " is " + found[i] + ", expected " + expected.data[i] + " (expected word " +
                        describe(expected.data, i) + ", found word " + describe(found, i) + ")";
                }
            }
            return null;
        }

        /** Decodes the stamp around byte {@code i}: the operation that wrote it and the offset it was written at. */
        private static String describe(final byte[] bytes, final int i)
        {
            final int base = i & ~7;
            long word = 0;
            for (int k = 0; k < 8; k++)
            {
                word = word << 8 | (bytes[base + k] & 0xFF);
            }
            if (0 == word)
            {
                return "zeros";
            }
            final long decoded = word ^ 0xA5C3_5A3C_96E1_1E69L;
            return "op " + (decoded >>> 32) + " offset " + ((decoded & 0xFFFF_FFFFL) * 8);
        }

        /** Blocks in use are exactly the blocks the files map plus the metadata's. */
        private static void checkBooks(final ExtentStore store, final Map<Long, Content> files) throws IOException
        {
            final LongHashSet mapped = new LongHashSet();
            final Extent extent = new Extent();
            for (final long id : files.keySet())
            {
                final long pages = (store.size(id) + PAGE - 1) / PAGE;
                for (long page = 0; page < pages; page++)
                {
                    store.translate(id, page, extent);
                    final long block = extent.blockOf(page);
                    if (Extent.HOLE != block)
                    {
                        mapped.add(block);
                        assertTrue(extent.isShared(), "a recovered block reads as shared: block " + block);
                    }
                }
            }
            assertEquals(mapped.size() + store.metadataBlocks(), store.allocatedBlocks(),
                "blocks in use = blocks mapped + metadata blocks");
        }
    }
}
