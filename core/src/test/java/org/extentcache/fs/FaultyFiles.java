package org.extentcache.fs;

import org.extentcache.translate.FileBackedTranslator;
import org.extentcache.translate.ForwardingTranslator;
import org.extentcache.translate.StaleTranslationException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;

/** Delegates to a real translator, failing the next {@code n} reads, writes or syncs on request. */
final class FaultyFiles extends ForwardingTranslator<FileSystemTranslator> implements FileBackedTranslator
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
        super(real);
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
    public String toString()
    {
        return "FaultyFiles" + Arrays.toString(new int[] {failReads, staleReads, failWrites, failSyncs});
    }
}
