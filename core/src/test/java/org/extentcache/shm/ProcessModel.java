package org.extentcache.shm;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * One process's share of {@link SharedCacheProcessModelTest}: threads running a seeded random sequence of loads,
 * lookups and reads (whole pages and parts), pins and unpins, invalidations, loads that fail or leave the page half
 * filled, and reads through old handles, over more keys than the cache has frames. The model is {@link PageStamps}:
 * a key's bytes are a function of the key, so every byte read is checked, a pinned view is checked when pinned and
 * again when unpinned (it must not change while pinned), and a read through an old handle must fail or give that
 * key's bytes. Garbage written by failing loaders must never be read by anyone.
 *
 * <p>An error is a wrong byte or an exception no operation should throw; the first few are printed as notes with
 * the seed and operation number. The sequence of operations each thread draws is fixed by the seed; how they
 * interleave with other threads and processes is not.
 */
final class ProcessModel
{
    private static final int MAX_PINS_PER_THREAD = 4;
    private static final int RECENT_HANDLES = 16;
    private static final int ERRORS_PRINTED = 10;

    private final SharedCache cache;
    private final long seed;
    private final int ops;
    private final int keys;
    private final int threads;
    private final int progressEvery;
    private final Consumer<String> lines;
    private final AtomicLong done = new AtomicLong();
    private final AtomicLong errors = new AtomicLong();
    private final AtomicLong[] counts = new AtomicLong[Count.values().length];

    private enum Count
    {
        LOADS, LOADER_RUNS, HITS, MISSES, STALE, PINS, STALE_PINS, UNPINS, INVALIDATED, FAILED_LOADS, UNFILLED_LOADS,
        OLD_HANDLE_READS, OLD_HANDLE_STALE
    }

    ProcessModel(final SharedCache cache, final long seed, final int ops, final int keys, final int threads,
        final int progressEvery, final Consumer<String> lines)
    {
        this.cache = cache;
        this.seed = seed;
        this.ops = ops;
        this.keys = keys;
        this.threads = threads;
        this.progressEvery = progressEvery;
        this.lines = lines;
        for (int i = 0; i < counts.length; i++)
        {
            counts[i] = new AtomicLong();
        }
    }

    /** Runs every thread's operations; @return the reply line: {@code ok ops=.. errors=..} and the counts. */
    String run() throws InterruptedException
    {
        final List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++)
        {
            final int thread = t;
            final Thread worker = new Thread(() -> runThread(thread), "model-" + t);
            workers.add(worker);
            worker.start();
        }
        for (final Thread worker : workers)
        {
            worker.join();
        }
        final StringBuilder reply = new StringBuilder("ok ops=").append(done.get()).append(" errors=")
            .append(errors.get());
        for (final Count count : Count.values())
        {
            reply.append(' ').append(count.name().toLowerCase()).append('=').append(counts[count.ordinal()].get());
        }
        return reply.toString();
    }

    private void count(final Count count)
    {
        counts[count.ordinal()].incrementAndGet();
    }

    private void error(final int thread, final int op, final String what)
    {
        if (errors.incrementAndGet() <= ERRORS_PRINTED)
        {
            lines.accept("# error: seed " + seed + " thread " + thread + " op " + op + ": " + what);
        }
    }

    private void runThread(final int thread)
    {
        final Random random = new Random(seed * 1_000_003L + thread);
        final int pageSize = cache.pageSize();
        final ByteBuffer copy = ByteBuffer.allocate(pageSize);
        final List<SharedPage> pins = new ArrayList<>();
        final long[] recentKeys = new long[RECENT_HANDLES];
        final long[] recentHandles = new long[RECENT_HANDLES];
        for (int op = 0; op < ops; op++)
        {
            final long key = random.nextInt(keys);
            final int dice = random.nextInt(100);
            try
            {
                if (dice < 30)
                {
                    final long handle = load(key);
                    recentKeys[op % RECENT_HANDLES] = key;
                    recentHandles[op % RECENT_HANDLES] = handle;
                    readAndCheck(thread, op, key, handle, copy, 0, pageSize);
                }
                else if (dice < 55)
                {
                    final int offset = random.nextInt(pageSize / Long.BYTES) * Long.BYTES;
                    final int length = (1 + random.nextInt((pageSize - offset) / Long.BYTES)) * Long.BYTES;
                    final long handle = cache.lookup(key);
                    if (SharedCache.NO_HANDLE == handle)
                    {
                        count(Count.MISSES);
                    }
                    else
                    {
                        readAndCheck(thread, op, key, handle, copy, offset, length);
                    }
                }
                else if (dice < 65)
                {
                    pin(thread, op, key, pins);
                }
                else if (dice < 73)
                {
                    if (!pins.isEmpty())
                    {
                        unpin(thread, op, pins.remove(random.nextInt(pins.size())));
                    }
                }
                else if (dice < 78)
                {
                    final long handle = cache.lookup(key);
                    if (SharedCache.NO_HANDLE != handle && cache.invalidate(handle))
                    {
                        count(Count.INVALIDATED);
                    }
                }
                else if (dice < 83)
                {
                    failingLoad(thread, op, key);
                }
                else if (dice < 87)
                {
                    unfilledLoad(thread, op, key);
                }
                else if (dice < 90)
                {
                    for (final SharedPage page : pins)
                    {
                        checkPinned(thread, op, page);
                    }
                }
                else
                {
                    final int old = random.nextInt(RECENT_HANDLES);
                    if (SharedCache.NO_HANDLE != recentHandles[old])
                    {
                        count(Count.OLD_HANDLE_READS);
                        if (!readAndCheck(thread, op, recentKeys[old], recentHandles[old], copy, 0, pageSize))
                        {
                            count(Count.OLD_HANDLE_STALE);
                        }
                    }
                }
            }
            catch (final Exception | Error ex)
            {
                error(thread, op, "key " + key + " dice " + dice + ": " + ex);
            }
            final long total = done.incrementAndGet();
            if (0 != progressEvery && 0 == total % progressEvery)
            {
                lines.accept("progress " + total);
            }
        }
        for (final SharedPage page : pins)
        {
            unpin(thread, ops, page);
        }
    }

    private long load(final long key) throws IOException
    {
        count(Count.LOADS);
        return cache.load(key, (k, page) ->
        {
            count(Count.LOADER_RUNS);
            PageStamps.fill(k, page);
        });
    }

    /** @return false if the handle was stale (nothing to check). */
    private boolean readAndCheck(final int thread, final int op, final long key, final long handle,
        final ByteBuffer copy, final int offset, final int length)
    {
        copy.clear();
        if (!cache.read(handle, offset, copy, length))
        {
            count(Count.STALE);
            return false;
        }
        count(Count.HITS);
        if (copy.position() != length)
        {
            error(thread, op, "read of key " + key + " advanced the position to " + copy.position() + ", not " +
                length);
        }
        final String wrong = PageStamps.check(key, copy, 0, offset, length);
        if (null != wrong)
        {
            error(thread, op, "read through handle " + handle + " (frame " + SharedCache.frameOf(handle) + "): " +
                wrong);
        }
        return true;
    }

    private void pin(final int thread, final int op, final long key, final List<SharedPage> pins) throws IOException
    {
        final long handle = load(key);
        final SharedPage page = cache.pin(handle);
        if (null == page)
        {
            count(Count.STALE_PINS);
            return;
        }
        count(Count.PINS);
        if (page.key() != key)
        {
            error(thread, op, "pinned handle " + handle + " for key " + key + " names key " + page.key());
        }
        checkPinned(thread, op, page);
        if (pins.size() < MAX_PINS_PER_THREAD)
        {
            pins.add(page);
        }
        else
        {
            unpin(thread, op, page);
        }
    }

    private void unpin(final int thread, final int op, final SharedPage page)
    {
        try
        {
            checkPinned(thread, op, page);
        }
        finally
        {
            page.close();
            count(Count.UNPINS);
        }
    }

    private void checkPinned(final int thread, final int op, final SharedPage page)
    {
        final String wrong = PageStamps.check(page.key(), page.buffer(), cache.pageSize());
        if (null != wrong)
        {
            error(thread, op, "pinned view of frame " + page.frame + " (handle " + page.handle() + "): " + wrong);
        }
    }

    /** A loader that writes garbage over half the page, then fails: nobody may ever read that garbage. */
    private void failingLoad(final int thread, final int op, final long key)
    {
        final boolean[] ran = new boolean[1];
        try
        {
            cache.load(key, (k, page) ->
            {
                ran[0] = true;
                PageStamps.garbageHalf(page);
                throw new IOException("model failure of key " + k);
            });
            if (ran[0])
            {
                error(thread, op, "a load whose loader threw returned");
            }
        }
        catch (final IOException ex)
        {
            count(Count.FAILED_LOADS);
            if (!ran[0])
            {
                error(thread, op, "IOException without the loader running: " + ex);
            }
        }
    }

    /** A loader that fills only half the page (garbage): the load must fail and keep nothing. */
    private void unfilledLoad(final int thread, final int op, final long key) throws IOException
    {
        final boolean[] ran = new boolean[1];
        try
        {
            cache.load(key, (k, page) ->
            {
                ran[0] = true;
                PageStamps.garbageHalf(page);
            });
            if (ran[0])
            {
                error(thread, op, "a load that left half the page unfilled returned");
            }
        }
        catch (final IllegalStateException ex)
        {
            count(Count.UNFILLED_LOADS);
            if (!ran[0] || !ex.getMessage().contains("unfilled"))
            {
                error(thread, op, "unexpected: " + ex);
            }
        }
    }
}
