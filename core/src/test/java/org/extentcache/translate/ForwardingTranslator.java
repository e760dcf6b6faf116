package org.extentcache.translate;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.util.Objects;

/**
 * A test translator that passes every abstract and write call of {@link Translator} to another translator: extend it
 * and override only the calls a test scripts (a slow reserve, a journaling commit, a hook before a write). As
 * {@link org.extentcache.device.ForwardingBlockDevice} is for devices.
 * <p>
 * The batch and failure hooks with a default body ({@link Translator#commit(long)}, {@link Translator#commit(long[])},
 * {@link Translator#deviceSyncFailed}) are not forwarded: a forwarding translator keeps the interface's defaults
 * unless a subclass overrides them, as the hand-written delegates it replaces did.
 *
 * @param <T> the delegate's type, so that a subclass can reach the delegate's own calls (a
 *            {@link FileBackedTranslator}'s block reads and writes).
 */
public abstract class ForwardingTranslator<T extends Translator> implements Translator
{
    /** The translator the calls go to. */
    protected final T delegate;

    /**
     * @param delegate the translator the calls go to.
     */
    protected ForwardingTranslator(final T delegate)
    {
        this.delegate = Objects.requireNonNull(delegate, "delegate");
    }

    @Override
    public int pageSize()
    {
        return delegate.pageSize();
    }

    @Override
    public long size(final long file) throws NoSuchFileException
    {
        return delegate.size(file);
    }

    @Override
    public void translate(final long file, final long page, final Extent extent) throws NoSuchFileException
    {
        delegate.translate(file, page, extent);
    }

    @Override
    public void checkWritable(final long file) throws IOException
    {
        delegate.checkWritable(file);
    }

    @Override
    public long reserveBlock(final long file, final long page) throws IOException
    {
        return delegate.reserveBlock(file, page);
    }

    @Override
    public void commitBlock(final long file, final long page, final long block) throws NoSuchFileException
    {
        delegate.commitBlock(file, page, block);
    }

    @Override
    public void releaseBlock(final long block)
    {
        delegate.releaseBlock(block);
    }

    @Override
    public void extend(final long file, final long size) throws IOException
    {
        delegate.extend(file, size);
    }

    @Override
    public void truncate(final long file, final long size) throws IOException
    {
        delegate.truncate(file, size);
    }

    @Override
    public void addListener(final TranslationListener listener)
    {
        delegate.addListener(listener);
    }

    @Override
    public void removeListener(final TranslationListener listener)
    {
        delegate.removeListener(listener);
    }
}
