package org.extentcache.translate;

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
