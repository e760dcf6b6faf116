package org.extentcache.nio;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Run in a second JVM by {@link DirectoryFileSystemTest}: tries to lock a real file and prints {@code granted} or
 * {@code refused}, as a second process opening an H2 database would.
 */
public final class TryLockProcess
{
    private TryLockProcess()
    {
    }

    /**
     * @param args the file to lock.
     * @throws IOException if the file cannot be opened.
     */
    public static void main(final String[] args) throws IOException
    {
        try (FileChannel channel = FileChannel.open(Path.of(args[0]), StandardOpenOption.READ,
            StandardOpenOption.WRITE))
        {
            final FileLock lock = channel.tryLock();
            System.out.println(null == lock ? "refused" : "granted");
        }
    }
}
