package org.extentcache;

import org.extentcache.translate.Extent;
import org.extentcache.translate.FileBackedTranslator;
import org.extentcache.translate.TranslationListener;
import org.extentcache.translate.Translator;

import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;

/**
 * A read-only test translator: files {@code [firstFile, firstFile + files)} of {@code pages} pages each, page
 * {@code p} at key {@code firstKey + p}, all in one shared run, every key in {@code space} (null: the translator's
 * own, {@link Translator#blockSpace}). It tells no listener of anything, for nothing changes. Extend it to script
 * writes; {@link Stamped} reads through itself.
 */
class RunMapTranslator implements Translator
{
    static final int PAGE = 4096;

    private final Object space;
    private final long firstKey;
    private final long pages;
    private final long firstFile;
    private final long files;

    RunMapTranslator(final Object space, final long firstKey, final long pages, final long firstFile,
        final long files)
    {
        this.space = space;
        this.firstKey = firstKey;
        this.pages = pages;
        this.firstFile = firstFile;
        this.files = files;
    }

    @Override
    public int pageSize()
    {
        return PAGE;
    }

    @Override
    public long size(final long file) throws NoSuchFileException
    {
        if (file < firstFile || file >= firstFile + files)
        {
            throw new NoSuchFileException("file " + file);
        }
        return pages * PAGE;
    }

    @Override
    public void translate(final long file, final long page, final Extent extent) throws NoSuchFileException
    {
        size(file);
        if (page >= pages)
        {
            extent.set(page, 1, Extent.HOLE, false);
            return;
        }
        extent.set(0, pages, firstKey, true);
    }

    @Override
    public Object blockSpace(final long block)
    {
        return space;
    }

    @Override
    public void addListener(final TranslationListener listener)
    {
    }

    @Override
    public void removeListener(final TranslationListener listener)
    {
    }

    /** Reads through itself: each block read is stamped with its key ({@link TestPages#stamped}); writes nothing. */
    static class Stamped extends RunMapTranslator implements FileBackedTranslator
    {
        Stamped(final Object space, final long firstKey, final long pages, final long firstFile, final long files)
        {
            super(space, firstKey, pages, firstFile, files);
        }

        @Override
        public void readBlock(final long file, final long page, final long block, final ByteBuffer dst)
        {
            dst.put(TestPages.stamped(block));
        }

        @Override
        public void writeBlock(final long block, final ByteBuffer src)
        {
            throw new UnsupportedOperationException("read-only");
        }

        @Override
        public void sync()
        {
        }

        @Override
        public void syncFile(final long file)
        {
        }
    }
}
