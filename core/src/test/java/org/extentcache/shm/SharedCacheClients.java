package org.extentcache.shm;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The clients a shared-cache test joins in this JVM (each a {@link SharedCache} of its own over one file, as a
 * process would), in a fresh directory ({@link ShmDir}); after each test every client still tracked is closed, in the
 * order joined, and the directory removed. Register with {@code @RegisterExtension}.
 */
final class SharedCacheClients implements BeforeEachCallback, AfterEachCallback
{
    private final List<SharedCache> caches = new ArrayList<>();
    private Path dir;

    @Override
    public void beforeEach(final ExtensionContext context) throws IOException
    {
        dir = ShmDir.create();
    }

    @Override
    public void afterEach(final ExtensionContext context) throws IOException
    {
        try
        {
            for (final SharedCache cache : caches)
            {
                cache.close();
            }
        }
        finally
        {
            caches.clear();
            ShmDir.delete(dir);
        }
    }

    /** @return this test's directory. */
    Path dir()
    {
        return dir;
    }

    /** @return the shared file the clients join. */
    Path file()
    {
        return dir.resolve("cache");
    }

    /** @return a new client: {@code frames} frames of 4 KiB, a 2 s lease. */
    SharedCache join(final int frames) throws IOException
    {
        return join(frames, 2000);
    }

    /** @return a new client: {@code frames} frames of 4 KiB and the lease given. */
    SharedCache join(final int frames, final long leaseMillis) throws IOException
    {
        final SharedCache cache = SharedCache.builder(file()).frames(frames).leaseMillis(leaseMillis).join();
        caches.add(cache);
        return cache;
    }

    /** Stops tracking a client the test closes or abandons itself. */
    void forget(final SharedCache cache)
    {
        caches.remove(cache);
    }
}
