package org.extentcache.device;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * A test device that passes every call to another device: extend it and override only the calls a test scripts
 * (a sync held at a gate, a hook before a sync, a slow sync).
 */
public abstract class ForwardingBlockDevice implements BlockDevice
{
    /** The device the calls go to. */
    protected final BlockDevice delegate;

    /**
     * @param delegate the device the calls go to.
     */
    protected ForwardingBlockDevice(final BlockDevice delegate)
    {
        this.delegate = Objects.requireNonNull(delegate, "delegate");
    }

    @Override
    public int blockSize()
    {
        return delegate.blockSize();
    }

    @Override
    public long blockCount()
    {
        return delegate.blockCount();
    }

    @Override
    public void read(final long block, final ByteBuffer dst) throws IOException
    {
        delegate.read(block, dst);
    }

    @Override
    public void write(final long block, final ByteBuffer src) throws IOException
    {
        delegate.write(block, src);
    }

    @Override
    public void sync() throws IOException
    {
        delegate.sync();
    }

    @Override
    public void close() throws IOException
    {
        delegate.close();
    }
}
