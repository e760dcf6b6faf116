package org.extentcache.translate;

import java.io.IOException;
import java.nio.file.NoSuchFileException;

/**
 * The translation layer: turns a file's page index into a device block, the user-space counterpart of the kernel's
 * {@code get_block}/iomap. Storage engines implement it over their own metadata; {@link ExtentStore} is the
 * built-in reference implementation.
 *
 * <p>Files are named by a {@code long} id chosen by the translator. Pages are {@link #pageSize()} bytes and map
 * one-to-one onto device blocks of the same size. The same device block may appear at several pages of one file
 * and in several files (reflink); such a block is <em>shared</em> and a write to it must break the sharing.
 *
 * <p><b>Thread safety:</b> implementations are safe for concurrent use. {@link #translate} and {@link #size} are
 * called on every cache miss and should not block for long.
 *
 * <p><b>Change notification:</b> a translator whose answers can change tells each registered
 * {@link TranslationListener}, following the ordering rules written there.
 *
 * <p><b>Never rewrite a mapped block in place.</b> A cache may be reading a block from the device at any moment a
 * page maps it; a translator that writes new bytes into such a block could hand it a torn page that no
 * notification can catch. Write new data to fresh blocks and remap (copy-on-write), as {@link ExtentStore} does;
 * the cache's own writes to unshared blocks are coordinated by the cache.
 */
public interface Translator
{
    /**
     * @return bytes per page, equal to the device's block size.
     */
    int pageSize();

    /**
     * @param file the file.
     * @return the file's size in bytes.
     * @throws NoSuchFileException if the file does not exist (never created or deleted).
     */
    long size(long file) throws NoSuchFileException;

    /**
     * Fills {@code extent} with the run that contains {@code page}: its first page is at or before {@code page} and
     * the run covers {@code page}. Pages at or past end-of-file, or never written, are holes.
     *
     * @param file   the file.
     * @param page   a page index, {@code >= 0}.
     * @param extent filled with the answer.
     * @throws NoSuchFileException      if the file does not exist.
     * @throws IllegalArgumentException if {@code page < 0}.
     */
    void translate(long file, long page, Extent extent) throws NoSuchFileException;

    /**
     * Checks that the cache may write {@code file}. The cache asks before every write, including writes in place to
     * pages {@link #translate} answers as not shared, so the device of a read-only translator, or a file opened
     * read-only, is never written. A translator that accepts writes overrides this.
     * @param file the file about to be written; the cache holds its writer lock.
     * @throws NoSuchFileException           if the file does not exist.
     * @throws IOException                   if the file may not be written (for instance
     *                                       {@link java.nio.file.AccessDeniedException} for a file opened read-only).
     * @throws UnsupportedOperationException if the translator is read-only (the default).
     */
    default void checkWritable(long file) throws IOException
    {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " is read-only: it cannot write files");
    }

    /**
     * Reserves a fresh block for a write by the cache to {@code page} of {@code file}: a copy-on-write break of a
     * shared page, or a write into a hole. The block is allocated but not yet mapped, so {@link #translate} does not
     * return it; the cache fills a frame for it and then calls {@link #commitBlock}, or {@link #releaseBlock} if it
     * gives up. The translator writes nothing on the device: the cache writes the block back when it flushes.
     *
     * @param file the file being written; the cache holds its writer lock.
     * @param page the page being written (a placement hint).
     * @return the reserved block.
     * @throws IOException                   if no block is free.
     * @throws NoSuchFileException           if the file does not exist.
     * @throws UnsupportedOperationException if the translator is read-only.
     */
    default long reserveBlock(long file, long page) throws IOException
    {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " is read-only: it cannot reserve blocks");
    }

    /**
     * Maps {@code page} of {@code file} to {@code block}, reserved by {@link #reserveBlock}, and drops the page's
     * reference to the block it mapped before (freeing that block if it was the last). Notifies listeners like any
     * other remap ({@link TranslationListener#pagesChanged}; {@link TranslationListener#blocksInvalidated} for a
     * freed old block), but never invalidates {@code block} itself: the cache's frame is its contents.
     *
     * @param file  the file; the cache holds its writer lock.
     * @param page  the page.
     * @param block a block reserved for it.
     * @throws NoSuchFileException           if the file does not exist (the block stays reserved).
     * @throws IllegalArgumentException      if {@code block} is not a reserved block.
     * @throws UnsupportedOperationException if the translator is read-only.
     */
    default void commitBlock(long file, long page, long block) throws NoSuchFileException
    {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " is read-only: it cannot map blocks");
    }

    /**
     * Frees a block reserved by {@link #reserveBlock} that will not be committed.
     *
     * @param block the reserved block.
     * @throws IllegalArgumentException      if {@code block} is not a reserved block.
     * @throws UnsupportedOperationException if the translator is read-only.
     */
    default void releaseBlock(long block)
    {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " is read-only: it cannot free blocks");
    }

    /**
     * Makes {@code file} at least {@code size} bytes long (a cache write that ended past end-of-file); pages between
     * the old and new end that map nothing read as zeros. Does nothing if the file is already that long.
     *
     * @param file the file; the cache holds its writer lock.
     * @param size the size it must reach.
     * @throws NoSuchFileException           if the file does not exist.
     * @throws IOException                   if the file may not grow (opened read-only, or too large).
     * @throws UnsupportedOperationException if the translator is read-only.
     */
    default void extend(long file, long size) throws IOException
    {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " is read-only: it cannot extend files");
    }

    /**
     * Sets the file's size: pages past a smaller size are unmapped and the bytes past it read as zeros if the file
     * grows again; a larger size leaves a hole. Announced to listeners like the translator's other changes.
     *
     * @param file the file.
     * @param size the new size in bytes, {@code >= 0}.
     * @throws IOException                   if the device fails a write the truncation needs.
     * @throws NoSuchFileException           if the file does not exist.
     * @throws UnsupportedOperationException if the translator is read-only.
     */
    default void truncate(long file, long size) throws IOException
    {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " is read-only: it cannot truncate");
    }

    /**
     * Makes {@code file}'s metadata durable: the map, size and whatever else a restart needs to find the file's
     * data. The cache calls this from {@code CachedFile.flush} (and so from {@code FileChannel.force}) after it has
     * written every dirty page of the file back and the device has synced them, holding the file's writer lock, so
     * no write of the file is in flight. This ordering is the commit contract: <em>data reaches the device before
     * the metadata that points to it</em>, so a crash never leaves a file mapping a block whose bytes were never
     * written (and may be another file's old bytes).
     *
     * <p>A translator must not persist a block that the cache mapped with {@link #commitBlock} before the cache has
     * called {@code commit} for that file: until then the block's data may be only in the cache. Translators whose
     * metadata lives elsewhere (the file system's own, for real files) or nowhere (an in-memory store) do nothing,
     * which is the default.
     *
     * @param file the file whose data the cache has just made durable.
     * @throws NoSuchFileException if the file does not exist.
     * @throws IOException         if the metadata could not be made durable; the file's previous durable state
     *                             stands.
     */
    default void commit(final long file) throws IOException
    {
    }

    /**
     * {@link #commit(long)} for several files at once, under the same contract for each (their data written back and
     * synced, their writer locks held): what a cache-wide flush calls, so that a translator can make them all durable
     * with one metadata write. Files that no longer exist are skipped. The default commits them one by one.
     *
     * @param files the files whose data the cache has just made durable.
     * @throws IOException if the metadata could not be made durable; each file's previous durable state stands.
     */
    default void commit(final long[] files) throws IOException
    {
        for (final long file : files)
        {
            try
            {
                commit(file);
            }
            catch (final NoSuchFileException ex)
            {
                // deleted since the cache wrote it back: nothing of it to make durable
            }
        }
    }

    /**
     * A sync of the whole device failed (the cache's own, over a {@link org.extentcache.device.BlockDevice}). Writes
     * made before it may be lost even after a later sync succeeds: Linux reports a failed {@code fsync} once and may
     * drop the pages with it. A translator that persists metadata pointing at such writes must stop trusting later
     * syncs; the others do nothing, which is the default.
     *
     * @param failure what the sync threw.
     */
    default void deviceSyncFailed(final Throwable failure)
    {
    }

    /**
     * For a cache over several translators ({@link TranslatorGroup}): the physical address space {@code block} lies
     * in, if another translator can name the same bytes. Each member of a group has its keys in a namespace of its
     * own, so equal keys of two members are two blocks; keys whose spaces are equal are one block, and share one
     * frame. A space covers keys with the same bits from 48 up, and must be answered the same for every such key:
     * two translators whose spaces are equal name the same bytes by keys with the same low 48 bits. A translator
     * answers a given space for at most one of its chunks; a group refuses a second one (its translation throws
     * {@link IllegalStateException}) rather than give two blocks one frame.
     *
     * <p>Answer a space only where both translators keep the cache's trust rules for it together: a block one of them
     * frees or rewrites must be invalidated through every translator that can name it. Asked once per 2^48-key
     * chunk, not per block.
     *
     * @param block a block key this translator answered.
     * @return an object naming the space (compared with {@code equals}), or null (the default): the block is this
     * translator's alone.
     */
    default Object blockSpace(final long block)
    {
        return null;
    }

    /**
     * Registers a listener for changes; a cache calls this once when it is built over this translator.
     *
     * @param listener the listener.
     */
    void addListener(TranslationListener listener);

    /**
     * Removes a listener added by {@link #addListener}; a cache calls this when it closes. Does nothing if absent.
     *
     * @param listener the listener.
     */
    void removeListener(TranslationListener listener);
}
