package org.extentcache.fs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * The attributes that tell a changed file: file system ({@code st_dev}), inode, size, modification and change time.
 * They do not tell a file whose extents moved (dedupe, defragmentation keep them all): {@link FileSystemTranslator}
 * compares extents for that.
 *
 * @param dev        the file system, or 0 where {@code unix:} attributes are unsupported.
 * @param inode      the inode, or the file key of the platform.
 * @param size       bytes.
 * @param mtimeNanos modification time.
 * @param ctimeNanos change time, or 0 where unsupported.
 */
record FileAttributes(long dev, Object inode, long size, long mtimeNanos, long ctimeNanos)
{
    /**
     * @param path the file (or a {@code /proc/self/fd} link to it).
     * @return its attributes now.
     * @throws IOException if they cannot be read (the file is gone, for one).
     */
    static FileAttributes of(final Path path) throws IOException
    {
        try
        {
            final Map<String, Object> unix = Files.readAttributes(path, "unix:dev,ino,size,lastModifiedTime,ctime");
            return new FileAttributes((Long)unix.get("dev"), unix.get("ino"), (Long)unix.get("size"),
                nanos(unix.get("lastModifiedTime")), nanos(unix.get("ctime")));
        }
        catch (final UnsupportedOperationException ex)
        {
            final BasicFileAttributes basic = Files.readAttributes(path, BasicFileAttributes.class);
            return new FileAttributes(0, basic.fileKey(), basic.size(),
                basic.lastModifiedTime().to(TimeUnit.NANOSECONDS), 0);
        }
    }

    /** @return a key naming the file (file system and inode): hard links to one file have the same. */
    Object inodeKey()
    {
        return List.of(dev, inode);
    }

    /** @return true if {@code other} describes the same file (file system and inode), whatever its contents. */
    boolean sameFile(final FileAttributes other)
    {
        return null != other && dev == other.dev && Objects.equals(inode, other.inode);
    }

    private static long nanos(final Object time)
    {
        return ((FileTime)time).to(TimeUnit.NANOSECONDS);
    }
}
