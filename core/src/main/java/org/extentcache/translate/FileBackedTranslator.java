package org.extentcache.translate;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A translator whose files do the cache's I/O themselves, instead of one {@link org.extentcache.device.BlockDevice}:
 * a missed block is read through a file that maps it, and a dirty page is written back through the file it belongs
 * to. This is how files on a real file system are cached ({@link org.extentcache.fs.FileSystemTranslator}): the
 * "device blocks" are keys the translator makes up (a physical block of a file system, or a page private to one
 * file), and only the translator knows which file to read or write for each.
 *
 * <p>Build a cache over one with {@link org.extentcache.ExtentCache.Builder#translator} and no device.
 *
 * <p><b>Thread safety:</b> like {@link Translator}; {@link #readBlock} and {@link #writeBlock} run concurrently for
 * different blocks.
 */
public interface FileBackedTranslator extends Translator
{
    /**
     * Reads a block for a cache miss. The cache calls it for a page it has just translated to {@code block}, so
     * {@code page} of {@code file} is where the block's bytes can be read.
     *
     * @param file  the file whose miss loads the block.
     * @param page  the page of {@code file} that maps {@code block}.
     * @param block the block {@link #translate} answered for the page.
     * @param dst   exactly one page of room; filled completely (bytes past end-of-file read as zeros) and its
     *              position advanced to its limit.
     * @throws IOException if the read fails; {@code dst}'s position is then unchanged.
     */
    void readBlock(long file, long page, long block, ByteBuffer dst) throws IOException;

    /**
     * Reads a run of consecutive pages of one file for readahead, in as few I/Os as the translator can (one, through
     * the file at the run's offset, for {@link org.extentcache.fs.FileSystemTranslator}). Each page is checked as
     * {@link #readBlock} checks it: a page whose translation no longer answers {@code blocks[i]} is not read, and
     * its entry is set to {@link Extent#HOLE}. The default reads the pages one at a time with {@link #readBlock},
     * marking a page whose read finds the translation stale as not read.
     *
     * @param file      the file whose miss starts the run.
     * @param firstPage the run's first page of {@code file}.
     * @param blocks    {@code blocks[i]} is the block {@link #translate} answered for page {@code firstPage + i}, or
     *                  {@link Extent#HOLE} for a page not to read; on return, {@link Extent#HOLE} also for every page
     *                  not read.
     * @param dsts      {@code dsts[i]} has exactly one page of room for page {@code firstPage + i} (ignored where
     *                  {@code blocks[i]} is a hole); filled completely (zeros past end-of-file) for every page read,
     *                  its position advanced to its limit.
     * @param count     pages in the run, {@code >= 1}.
     * @throws IOException if the read fails: then no page of the run counts as read, whatever {@code blocks} says,
     *                     and the buffers may hold anything.
     */
    default void readBlocks(final long file, final long firstPage, final long[] blocks, final ByteBuffer[] dsts,
        final int count) throws IOException
    {
        for (int i = 0; i < count; i++)
        {
            if (Extent.HOLE == blocks[i])
            {
                continue;
            }
            try
            {
                readBlock(file, firstPage + i, blocks[i], dsts[i]);
            }
            catch (final StaleTranslationException ex)
            {
                blocks[i] = Extent.HOLE;
            }
        }
    }

    /**
     * Writes a dirty page back. The cache only writes blocks it got from {@link #reserveBlock} or that
     * {@link #translate} answered as not shared.
     *
     * @param block the block.
     * @param src   exactly one page; its position is advanced to its limit.
     * @throws IOException              if the write fails; the page stays dirty in the cache.
     * @throws IllegalArgumentException if the cache may not write {@code block} (a shared block).
     */
    void writeBlock(long block, ByteBuffer src) throws IOException;

    /**
     * Makes every completed {@link #writeBlock} durable.
     *
     * @throws IOException if it cannot; the cache marks the pages it wrote dirty again.
     */
    void sync() throws IOException;

    /**
     * Whether {@link #syncFile} of this file syncs that file alone. When it does not (a whole device's sync, as
     * for a {@link TranslatorGroup} member over a block device), the cache counts a failure of it as a failure of
     * every file's writes, as for {@link #sync()}.
     *
     * @param file the file.
     * @return true (the default) if a failed {@link #syncFile} of {@code file} can lose no other file's writes.
     */
    default boolean syncsFileAlone(final long file)
    {
        return true;
    }

    /**
     * Makes every completed {@link #writeBlock} of one file durable, and no other file's: what
     * {@code FileChannel.force} on that file needs. The cache writes a file's pages only to blocks private to it,
     * so this covers every page the cache wrote back for the file.
     *
     * @param file the file.
     * @throws IOException if it cannot; the cache marks the pages it wrote dirty again. A file that is no longer
     *                     open has nothing of the cache's left to sync and returns normally.
     */
    void syncFile(long file) throws IOException;
}
