package org.extentcache;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * The asynchronous half of readahead, as the kernel's on-demand readahead has it: while a file is read sequentially,
 * the next window is read by a background thread while the reader consumes the current one, so the device always has
 * a read to do and the reader rarely waits for one.
 *
 * <p>{@link SequentialMisses} decides when: after a window read for a sequential miss it asks for the window after
 * it, and when the reader reaches that window's first page (its marker, left unmapped so that reaching it is a miss)
 * it asks for the one after that. {@link SequentialMisses#readAheadAsync} does the reading: a translation, a window read
 * by {@link FrameReadahead} (which never evicts a frame used since the clock hand last passed, and skips blocks
 * already cached or loading) and the mapping of every page of the window but the marker.
 *
 * <h2>Bounds</h2>
 * Two daemon threads per cache, and at most {@value #QUEUE} windows waiting: a window asked for when the queue is full
 * is not read (the reader then reads it itself, as without this class). A window is speculative: a failure to read it
 * is counted (in {@link CacheStats#readaheadFailures}, by {@link FrameReadahead}) and otherwise ignored; the reader
 * reads the page again itself and hears of that read's failure.
 *
 * <h2>Close</h2>
 * {@link #shutdown} takes no new window and interrupts nothing (an interrupt would close a file channel under every
 * reader of the file); a window being read holds the cache's {@link ReaderGate} like any read, so close waits for it,
 * and windows still queued find the cache closed and do nothing.
 *
 * <p>Thread-safe. Owned by its {@link DeviceCache}.
 */
final class AsyncReadahead
{
    /** Background threads per cache. */
    static final int THREADS = 2;
    /** Windows that may wait for a thread. */
    static final int QUEUE = 64;

    private final ThreadPoolExecutor executor;
    /** Windows asked for. */
    final LongAdder windows = new LongAdder();
    /** Windows not read because the queue was full or the cache was closing. */
    final LongAdder dropped = new LongAdder();

    AsyncReadahead()
    {
        final String cache = Integer.toHexString(System.identityHashCode(this));
        final AtomicInteger threads = new AtomicInteger();
        executor = new ThreadPoolExecutor(THREADS, THREADS, 10, TimeUnit.SECONDS, new ArrayBlockingQueue<>(QUEUE),
            task ->
            {
                final Thread thread = new Thread(task, "extentcache-" + cache + "-readahead-" +
                    threads.incrementAndGet());
                thread.setDaemon(true);
                return thread;
            },
            (task, pool) -> dropped.increment());
        executor.allowCoreThreadTimeOut(true);
    }

    /**
     * Asks for a window of a file from {@code page} to be read in the background.
     *
     * @param file  the file's readahead state, which reads it.
     * @param page  the window's first page, its marker.
     * @param pages most pages to read.
     */
    void submit(final SequentialMisses file, final long page, final int pages)
    {
        windows.increment();
        executor.execute(() -> file.readAheadAsync(page, pages));
    }

    /** Takes no new window; windows queued or being read finish (see the class comment). Idempotent. */
    void shutdown()
    {
        executor.shutdown();
    }

    /**
     * For tests: waits until no window is queued or being read.
     *
     * @return true if idle within the time.
     */
    boolean awaitIdle(final long timeout, final TimeUnit unit) throws InterruptedException
    {
        final long deadline = System.nanoTime() + unit.toNanos(timeout);
        while (executor.getActiveCount() > 0 || !executor.getQueue().isEmpty())
        {
            if (System.nanoTime() > deadline)
            {
                return false;
            }
            Thread.sleep(1);
        }
        return true;
    }
}
