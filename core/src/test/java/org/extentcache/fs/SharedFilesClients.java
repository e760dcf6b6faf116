package org.extentcache.fs;

import org.extentcache.shm.SharedCache;
import org.extentcache.shm.ShmDir;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The clients a {@link SharedFiles} test joins, as processes would (each a {@link SharedCache} of its own over one
 * shared file, with its {@link SharedFiles}), and the directories they use: a fresh one on the reflink XFS for the
 * files ({@link ReflinkDir}: the test skips without it) and one on {@code /dev/shm} for the shared file. After each
 * test every client is closed, the last joined first, and both directories are removed. Register with
 * {@code @RegisterExtension}.
 */
final class SharedFilesClients implements BeforeEachCallback, AfterEachCallback
{
    private final List<AutoCloseable> open = new ArrayList<>();
    private Path xfs;
    private Path shm;

    @Override
    public void beforeEach(final ExtensionContext context) throws IOException
    {
        shm = ShmDir.create();
        xfs = ReflinkDir.create();
    }

    @Override
    public void afterEach(final ExtensionContext context) throws Exception
    {
        try
        {
            for (int i = open.size() - 1; i >= 0; i--)
            {
                open.get(i).close();
            }
        }
        finally
        {
            open.clear();
            ReflinkDir.delete(xfs);
            ShmDir.delete(shm);
        }
    }

    /** @return this test's directory on the reflink XFS. */
    Path xfs()
    {
        return xfs;
    }

    /** @return this test's directory on {@code /dev/shm}. */
    Path shm()
    {
        return shm;
    }

    /** @return a new client of the test's shared file: {@code frames} frames of 4 KiB, a 2 s lease. */
    SharedCache cache(final int frames) throws IOException
    {
        final SharedCache cache = SharedCache.builder(shm.resolve("cache")).frames(frames).leaseMillis(2000).join();
        open.add(cache);
        return cache;
    }

    /** @return the files of a client, closed before it. */
    SharedFiles files(final SharedCache cache)
    {
        final SharedFiles files = new SharedFiles(cache);
        open.add(files);
        return files;
    }

    /** @return the files of a new client. */
    SharedFiles client(final int frames) throws IOException
    {
        return files(cache(frames));
    }
}
