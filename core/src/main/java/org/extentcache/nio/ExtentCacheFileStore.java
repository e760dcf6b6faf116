package org.extentcache.nio;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.FileAttributeView;
import java.nio.file.attribute.FileStoreAttributeView;

/**
 * The one file store of an {@code extentcache} file system: its name and type, and the space of what it stores on
 * (the ExtentStore's device, or the real directory's file store). Only the {@code basic} view is supported.
 *
 * <p><b>Thread safety:</b> safe for concurrent use.
 */
final class ExtentCacheFileStore extends FileStore
{
    /** The space figures, in bytes. */
    interface Space
    {
        long total() throws IOException;

        long usable() throws IOException;
    }

    private final String name;
    private final String type;
    private final Space space;

    ExtentCacheFileStore(final String name, final String type, final Space space)
    {
        this.name = name;
        this.type = type;
        this.space = space;
    }

    @Override
    public String name()
    {
        return name;
    }

    @Override
    public String type()
    {
        return type;
    }

    @Override
    public boolean isReadOnly()
    {
        return false;
    }

    @Override
    public long getTotalSpace() throws IOException
    {
        return space.total();
    }

    @Override
    public long getUsableSpace() throws IOException
    {
        return space.usable();
    }

    @Override
    public long getUnallocatedSpace() throws IOException
    {
        return space.usable();
    }

    @Override
    public boolean supportsFileAttributeView(final Class<? extends FileAttributeView> type)
    {
        return type == BasicFileAttributeView.class;
    }

    @Override
    public boolean supportsFileAttributeView(final String viewName)
    {
        return "basic".equals(viewName);
    }

    @Override
    public <V extends FileStoreAttributeView> V getFileStoreAttributeView(final Class<V> type)
    {
        return null;
    }

    /**
     * @throws UnsupportedOperationException always: there are no file store attributes.
     */
    @Override
    public Object getAttribute(final String attribute)
    {
        throw new UnsupportedOperationException("extentcache file stores have no attribute " + attribute);
    }

    @Override
    public String toString()
    {
        return name + " (" + type + ')';
    }
}
