package org.extentcache.bench.footprint;

import org.extentcache.device.BlockDevice;
import org.extentcache.translate.Extent;
import org.extentcache.translate.ExtentStore;
import org.extentcache.translate.TranslationListener;
import org.extentcache.translate.Translator;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;

/**
 * ExtentCache's engine keyed per file, the way Linux caches reflinked files today: every (file, page) gets a
 * virtual device block of its own, {@code fileIndex * pagesPerFile + page}, so no two files ever share a frame,
 * and {@link #device()} reads a virtual block by translating it back through the real store. Frames, index,
 * reclaim and read path are the real engine; only the keying differs.
 *
 * <p>For a workload that no longer changes the files (the footprint tool's): changes made to the store after this
 * translator is built are not reported to the cache.
 */
public final class PerFileTranslator implements Translator
{
    private final ExtentStore store;
    private final long[] files;
    private final long pagesPerFile;
    private final Device device;

    /**
     * @param store        the real store.
     * @param realDevice   the store's device.
     * @param files        the files, in the order that numbers their virtual blocks.
     * @param pagesPerFile pages reserved per file in the virtual block space.
     */
    public PerFileTranslator(final ExtentStore store, final BlockDevice realDevice, final long[] files,
        final long pagesPerFile)
    {
        this.store = store;
        this.files = files.clone();
        this.pagesPerFile = pagesPerFile;
        this.device = new Device(realDevice);
    }

    /**
     * @return the device of virtual blocks the cache must be built over.
     */
    public BlockDevice device()
    {
        return device;
    }

    @Override
    public int pageSize()
    {
        return store.pageSize();
    }

    @Override
    public long size(final long file) throws NoSuchFileException
    {
        return store.size(file);
    }

    @Override
    public void translate(final long file, final long page, final Extent extent) throws NoSuchFileException
    {
        final int index = indexOf(file);
        store.translate(file, page, extent);
        if (extent.isHole() || page >= pagesPerFile)
        {
            return;
        }
        extent.set(page, 1, index * pagesPerFile + page, false);
    }

    @Override
    public void addListener(final TranslationListener listener)
    {
    }

    @Override
    public void removeListener(final TranslationListener listener)
    {
    }

    private int indexOf(final long file) throws NoSuchFileException
    {
        for (int i = 0; i < files.length; i++)
        {
            if (files[i] == file)
            {
                return i;
            }
        }
        throw new NoSuchFileException("file " + file + " is not one of the workload's files");
    }

    /** Virtual block {@code v} is page {@code v % pagesPerFile} of file {@code files[v / pagesPerFile]}. */
    private final class Device implements BlockDevice
    {
        private final BlockDevice real;

        Device(final BlockDevice real)
        {
            this.real = real;
        }

        @Override
        public int blockSize()
        {
            return real.blockSize();
        }

        @Override
        public long blockCount()
        {
            return files.length * pagesPerFile;
        }

        @Override
        public void read(final long block, final ByteBuffer dst) throws IOException
        {
            BlockDevice.checkTransfer(this, block, dst.remaining());
            final Extent extent = new Extent();
            final long file = files[(int)(block / pagesPerFile)];
            final long page = block % pagesPerFile;
            store.translate(file, page, extent);
            real.read(extent.blockOf(page), dst);
        }

        @Override
        public void write(final long block, final ByteBuffer src)
        {
            throw new UnsupportedOperationException("the per-file baseline is read-only");
        }

        @Override
        public void sync()
        {
        }

        @Override
        public void close()
        {
        }
    }
}
