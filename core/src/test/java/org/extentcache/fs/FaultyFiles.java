package org.extentcache.fs;

import org.extentcache.translate.Extent;
import org.extentcache.translate.FileBackedTranslator;
import org.extentcache.translate.StaleTranslationException;
import org.extentcache.translate.TranslationListener;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;

/** Delegates to a real translator, failing the next {@code n} reads, writes or syncs on request. */
final class FaultyFiles implements FileBackedTranslator
{
    final FileSystemTranslator real;
    final long id;
    final Path path;
    volatile int failReads;
    volatile int staleReads;
    volatile int failWrites;
    volatile int failSyncs;

    FaultyFiles(final FileSystemTranslator real, final long id, final Path path)
    {
        this.real = real;
        this.id = id;
        this.path = path;
    }

    @Override
    public void readBlock(final long file, final long page, final long block, final ByteBuffer dst)
        throws IOException
    {
        if (staleReads > 0)
        {
            staleReads--;
            throw new StaleTranslationException(file, page, block);
        }
        if (failReads > 0)
        {
            failReads--;
            throw new IOException("injected read failure");
        }
        real.readBlock(file, page, block, dst);
    }

    @Override
    public void writeBlock(final long block, final ByteBuffer src) throws IOException
    {
        if (failWrites > 0)
        {
            failWrites--;
            throw new IOException("injected write failure");
        }
        real.writeBlock(block, src);
    }

    @Override
    public void sync() throws IOException
    {
        if (failSyncs > 0)
        {
            failSyncs--;
            throw new IOException("injected sync failure");
        }
        real.sync();
    }

    @Override
    public void syncFile(final long file) throws IOException
    {
        if (failSyncs > 0)
        {
            failSyncs--;
            throw new IOException("injected sync failure");
        }
        real.syncFile(file);
    }

    @Override
    public int pageSize()
    {
        return real.pageSize();
    }

    @Override
    public long size(final long file) throws NoSuchFileException
    {
        return real.size(file);
    }

    @Override
    public void translate(final long file, final long page, final Extent extent) throws NoSuchFileException
    {
        real.translate(file, page, extent);
    }

    @Override
    public void checkWritable(final long file) throws IOException
    {
        real.checkWritable(file);
    }

    @Override
    public long reserveBlock(final long file, final long page) throws IOException
    {
        return real.reserveBlock(file, page);
    }

    @Override
    public void commitBlock(final long file, final long page, final long block) throws NoSuchFileException
    {
        real.commitBlock(file, page, block);
    }

    @Override
    public void releaseBlock(final long block)
    {
        real.releaseBlock(block);
    }

    @Override
    public void extend(final long file, final long size) throws IOException
    {
        real.extend(file, size);
    }

    @Override
    public void truncate(final long file, final long size) throws IOException
    {
        real.truncate(file, size);
    }

    @Override
    public void addListener(final TranslationListener listener)
    {
        real.addListener(listener);
    }

    @Override
    public void removeListener(final TranslationListener listener)
    {
        real.removeListener(listener);
    }

    @Override
    public String toString()
    {
        return "FaultyFiles" + Arrays.toString(new int[] {failReads, staleReads, failWrites, failSyncs});
    }
}
