package org.extentcache.translate;

import java.io.IOException;

/**
 * Told by a {@link Translator} when its answers change, so that a cache never serves bytes a file no longer holds.
 *
 * <p><b>When each call must come</b> (the cache's correctness depends on it):
 * <ul>
 *   <li>{@link #pagesChanged} after the new translation is visible to {@link Translator#translate} and
 *       {@link Translator#size}, and <em>before</em> any block the change released can be handed out again. A cache
 *       bumps the file's mapping version and drops its handles for the range; a read that translated before the
 *       change then notices the version moved and translates again.</li>
 *   <li>{@link #blocksInvalidated} after the translator wrote a block's contents on the device by itself (outside
 *       the cache), and when it frees a block. A cache drops its copy of each block, including one still loading.</li>
 *   <li>{@link #fileDeleted} after the file is gone, before its blocks can be reused.</li>
 * </ul>
 *
 * <p><b>Bracketing a change.</b> Before a translator changes a file's pages on its own initiative (clone from or
 * into, punch, truncate, delete, a write of its own), it calls {@link #beforeChange} <em>without holding any lock
 * of its own</em>, and {@link #afterChange} once the change is done or abandoned. In between, a cache keeps its
 * writers of that file out, and it has written back the range's dirty pages: a page about to be shared must be
 * clean ("there is no such thing as a shared page which is dirty"), and a translator that reads a page to rewrite
 * part of it must find the latest bytes on the device. The lock order is therefore: a cache's per-file lock, then
 * the translator's lock; the cache calls the translator (translate, reserve, commit) while holding the former.
 *
 * <p><b>Thread safety:</b> calls may come from any thread, concurrently with reads. {@link #pagesChanged},
 * {@link #blocksInvalidated} and {@link #fileDeleted} must be quick and must not call back into the translator's
 * mutating operations; a translator may hold its own lock while calling them.
 */
public interface TranslationListener
{
    /**
     * The translator is about to change pages {@code [firstPage, firstPage + pageCount)} of {@code file}. Called
     * outside the translator's locks; blocks until writers of the file are out and, unless {@code discard}, the
     * range's dirty pages are on the device. Each call is matched by one {@link #afterChange} from the same thread,
     * even when this method throws.
     *
     * @param file      the file.
     * @param firstPage first page of the range.
     * @param pageCount pages in the range; {@code Long.MAX_VALUE - firstPage} means "to the end".
     * @param discard   true if the range's contents are being thrown away (delete), so no writeback is needed.
     * @throws IOException if writing back a dirty page failed; the translator must then abandon the change.
     */
    default void beforeChange(long file, long firstPage, long pageCount, boolean discard) throws IOException
    {
    }

    /**
     * The change announced by {@link #beforeChange} is done (or abandoned); writers of the file may go on.
     *
     * @param file the file.
     */
    default void afterChange(long file)
    {
    }

    /**
     * Pages {@code [firstPage, firstPage + pageCount)} of {@code file} now translate differently, or the file's
     * size changed (then the range covers every page between the old and the new end of file).
     *
     * @param file      the file.
     * @param firstPage first page whose translation changed.
     * @param pageCount number of pages; {@code Long.MAX_VALUE - firstPage} means "to the end".
     * @param size      the file's size in bytes after the change.
     */
    void pagesChanged(long file, long firstPage, long pageCount, long size);

    /**
     * The contents of device blocks {@code [firstBlock, firstBlock + blockCount)} changed on the device, or the
     * blocks were freed: any cached copy is stale.
     *
     * @param firstBlock first device block.
     * @param blockCount number of blocks.
     */
    void blocksInvalidated(long firstBlock, long blockCount);

    /**
     * The file no longer exists.
     *
     * @param file the file.
     */
    void fileDeleted(long file);
}
