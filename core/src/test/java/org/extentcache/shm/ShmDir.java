package org.extentcache.shm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Where shared-cache tests put their files: a fresh directory on {@code /dev/shm} (tmpfs), else the temp dir. */
public final class ShmDir
{
    private ShmDir()
    {
    }

    public static Path create() throws IOException
    {
        final Path shm = Path.of("/dev/shm");
        return Files.isDirectory(shm) && Files.isWritable(shm) ?
            Files.createTempDirectory(shm, "extentcache-test") : Files.createTempDirectory("extentcache-test");
    }

    public static void delete(final Path dir)
    {
        org.extentcache.fs.ReflinkDir.delete(dir);
    }
}
