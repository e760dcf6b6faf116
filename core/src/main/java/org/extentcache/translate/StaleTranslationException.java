package org.extentcache.translate;

import java.io.IOException;

/**
 * Thrown by {@link FileBackedTranslator#readBlock} when the page no longer maps the block (the file changed between
 * the cache's translation and its read), so the page's bytes are not the block's. The cache drops the half-loaded
 * frame, so no other file is served those bytes, and translates the page again; callers of the cache never see it.
 */
public final class StaleTranslationException extends IOException
{
    private static final long serialVersionUID = 1L;

    /**
     * @param file  the file.
     * @param page  the page.
     * @param block the block the cache's translation named.
     */
    public StaleTranslationException(final long file, final long page, final long block)
    {
        super("page " + page + " of file " + file + " no longer maps block " + block);
    }

    @Override
    public synchronized Throwable fillInStackTrace()
    {
        return this; // an expected, retried condition: no stack needed
    }
}
