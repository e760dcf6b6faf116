package org.extentcache.nio;

import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;

/**
 * A snapshot of a file's or directory's basic attributes.
 *
 * @param modified   last modification, ms since the epoch.
 * @param accessed   last access, ms since the epoch.
 * @param created    creation, ms since the epoch.
 * @param directory  true for a directory.
 * @param bytes      the size in bytes.
 * @param key        the file key.
 */
record NodeAttributes(long modified, long accessed, long created, boolean directory, long bytes, Object key)
    implements BasicFileAttributes
{
    @Override
    public FileTime lastModifiedTime()
    {
        return FileTime.fromMillis(modified);
    }

    @Override
    public FileTime lastAccessTime()
    {
        return FileTime.fromMillis(accessed);
    }

    @Override
    public FileTime creationTime()
    {
        return FileTime.fromMillis(created);
    }

    @Override
    public boolean isRegularFile()
    {
        return !directory;
    }

    @Override
    public boolean isDirectory()
    {
        return directory;
    }

    @Override
    public boolean isSymbolicLink()
    {
        return false;
    }

    @Override
    public boolean isOther()
    {
        return false;
    }

    @Override
    public long size()
    {
        return bytes;
    }

    @Override
    public Object fileKey()
    {
        return key;
    }
}
