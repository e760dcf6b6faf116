package org.extentcache;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;

/**
 * The one close of a cache that may be called from many threads at once: the first caller closes; the others wait
 * until it is done, except a thread the first one waits for (which must return at once, or neither goes on).
 * Thread-safe.
 */
final class CloseOnce
{
    /** Won by the one close that closes; the others wait for {@link #done}. */
    private final AtomicBoolean claimed = new AtomicBoolean();
    private final CountDownLatch done = new CountDownLatch(1);

    /**
     * @param close              the closing itself, run by the first caller only.
     * @param waitedForByClosing true if the calling thread is one the first close waits for (a writer lock holder,
     *                           the background write-back): a later close from it returns at once.
     */
    void close(final Runnable close, final BooleanSupplier waitedForByClosing)
    {
        if (!claimed.compareAndSet(false, true))
        {
            if (!waitedForByClosing.getAsBoolean())
            {
                awaitUninterruptibly();
            }
            return;
        }
        try
        {
            close.run();
        }
        finally
        {
            done.countDown();
        }
    }

    private void awaitUninterruptibly()
    {
        boolean interrupted = false;
        while (true)
        {
            try
            {
                done.await();
                break;
            }
            catch (final InterruptedException ex)
            {
                interrupted = true;
            }
        }
        if (interrupted)
        {
            Thread.currentThread().interrupt();
        }
    }
}
