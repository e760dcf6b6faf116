package org.extentcache;

import java.util.concurrent.Executor;
import java.util.concurrent.Executors;

/**
 * Threads for tests that race two tasks. {@code CompletableFuture.runAsync} without an executor uses the common
 * pool, which on a 2-core machine has one thread (and on newer JDKs no thread per task beside it): the "concurrent"
 * tasks then run one after the other. Every task here gets a thread of its own.
 */
public final class TestThreads
{
    /** A daemon thread per task, reused when idle. */
    public static final Executor POOL = Executors.newCachedThreadPool(task ->
    {
        final Thread thread = new Thread(task, "test-task");
        thread.setDaemon(true);
        return thread;
    });

    private TestThreads()
    {
    }
}
