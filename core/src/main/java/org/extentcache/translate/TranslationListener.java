package org.extentcache.translate;

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
 * <p><b>Thread safety:</b> calls may come from any thread, concurrently with reads. They must be quick and must not
 * call back into the translator's mutating operations; a translator may hold its own lock while calling them.
 */
public interface TranslationListener
{
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
