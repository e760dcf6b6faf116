package org.extentcache.fs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Holds an open file's inode: a read-only descriptor, through whose {@code /proc/self/fd/N} link the file's channels
 * are opened (and reopened after an interrupt) and its extents and attributes read, so they all describe the file
 * that was opened even if its path is renamed over or removed. Where there is no {@code /proc} or no FIEMAP
 * binding, the handle is the path itself ({@code fd == -1}).
 *
 * <p><b>Thread safety:</b> safe for concurrent use; {@link #close} closes the descriptor once, whoever calls it.
 * Ownership: the {@link OpenFile} that holds it closes it (or the opener, if it is never installed).
 */
final class InodeAnchor
{
    private static final Path PROC_FDS = Path.of("/proc/self/fd");

    private final int fd;
    private final Path handle;
    /** Set before close(2): a raw descriptor's number is reused by the next open, so it is closed only once. */
    private final AtomicBoolean closed = new AtomicBoolean();

    /**
     * @param fd     the descriptor, or -1.
     * @param handle the path to open the file by.
     */
    InodeAnchor(final int fd, final Path handle)
    {
        this.fd = fd;
        this.handle = handle;
    }

    int fd()
    {
        return fd;
    }

    Path handle()
    {
        return handle;
    }

    /** @return true once {@link #close} has started: {@link #handle} may name another file since. */
    boolean isClosed()
    {
        return closed.get();
    }

    /**
     * @param path the file.
     * @return an anchor on its inode; the caller closes it.
     * @throws IOException if the file cannot be opened.
     */
    static InodeAnchor open(final Path path) throws IOException
    {
        if (!Fiemap.isAvailable() || !Files.isDirectory(PROC_FDS))
        {
            return new InodeAnchor(-1, path);
        }
        final int fd = Fiemap.openDescriptor(path);
        return new InodeAnchor(fd, PROC_FDS.resolve(Integer.toString(fd)));
    }

    /** @return true if the handle reaches the opened inode whatever the path names now. */
    boolean holdsInode()
    {
        return fd >= 0;
    }

    void close() throws IOException
    {
        if (fd >= 0 && closed.compareAndSet(false, true))
        {
            Fiemap.closeDescriptor(fd);
        }
    }

    void closeQuietly(final Throwable failure)
    {
        try
        {
            close();
        }
        catch (final IOException ex)
        {
            failure.addSuppressed(ex);
        }
    }
}
