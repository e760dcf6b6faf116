package org.extentcache;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;

/**
 * Bounds how long a page stays dirty, like the kernel's dirty expiry ({@code dirty_expire_centisecs}, checked every
 * {@code dirty_writeback_centisecs}): one daemon thread per cache wakes every {@code period} and writes back, and
 * syncs, every file that has had dirty pages for {@code expiry} or longer ({@link CachedFile#writeBackIfExpired}).
 * A file's age is the time since it went from clean to dirty, as the kernel's {@code dirtied_when} per inode.
 *
 * <h2>Failures</h2>
 * A write or sync that fails leaves the pages dirty (the next round and the next flush try them again; a flush
 * reports its own failure). Anything else thrown (an unchecked exception or an error from the device or translator)
 * is counted and the thread goes on.
 *
 * <h2>Stopping</h2>
 * {@link #stop()} sets a flag, unparks the thread and waits for it to finish the file it is writing back. It never
 * interrupts: an interrupt during {@code FileChannel} I/O closes the channel, which would break the device.
 */
final class BackgroundWriteback
{
    private final Iterable<CachedFile> files;
    private final long expiryNanos;
    private final long periodNanos;
    private final Thread thread;
    private volatile boolean stopping;
    /** Exceptions and errors caught by the thread ({@link CacheStats#backgroundErrors()}). */
    final LongAdder failures = new LongAdder();

    /**
     * @param files       the cache's files, iterated each round (a concurrent collection's view).
     * @param expiryNanos how long a file may stay dirty, {@code > 0}.
     * @param name        the thread's name.
     */
    BackgroundWriteback(final Iterable<CachedFile> files, final long expiryNanos, final String name)
    {
        this.files = files;
        this.expiryNanos = expiryNanos;
        // a sixth of the expiry, as the kernel's 5 s against 30 s; never busier than every 10 ms
        this.periodNanos = Math.max(TimeUnit.MILLISECONDS.toNanos(10), expiryNanos / 6);
        this.thread = new Thread(this::run, name);
        this.thread.setDaemon(true);
    }

    void start()
    {
        thread.start();
    }

    /**
     * @return true on the background write-back's own thread.
     */
    boolean isCurrentThread()
    {
        return Thread.currentThread() == thread;
    }

    /** Stops the thread and waits for it; idempotent. Called by the cache's close. */
    void stop()
    {
        stopping = true;
        LockSupport.unpark(thread);
        if (isCurrentThread())
        {
            return;
        }
        boolean interrupted = false;
        while (thread.isAlive())
        {
            try
            {
                thread.join();
            }
            catch (final InterruptedException ex)
            {
                interrupted = true; // keep waiting: the thread may be in a write-back of the cache's frames
            }
        }
        if (interrupted)
        {
            Thread.currentThread().interrupt();
        }
    }

    private void run()
    {
        while (!stopping)
        {
            LockSupport.parkNanos(this, periodNanos);
            if (stopping)
            {
                return;
            }
            final long now = System.nanoTime();
            for (final CachedFile file : files)
            {
                if (stopping)
                {
                    return;
                }
                try
                {
                    file.writeback().writeBackIfExpired(now, expiryNanos);
                }
                catch (final Throwable ex)
                {
                    // counted, and the thread goes on: an InternalError from a mapped device's I/O fault, or even an
                    // OutOfMemoryError, must not end the bound on how long pages stay dirty
                    failures.increment();
                }
            }
        }
    }
}
