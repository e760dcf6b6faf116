package org.extentcache.fs;

import org.extentcache.translate.Extent;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which cached physical blocks a {@link FileSystemTranslator} may serve to which files, and which frames it must drop
 * when a file changes. A frame keyed by a physical block holds bytes read through some file that mapped the block;
 * it is served to every file whose layout maps the block. An open file <em>vouches</em> for the physical blocks its
 * layout maps ({@link BlockOwners}), less the pages written through the cache (private).
 *
 * <h2>Trust follows the extents, not the attributes</h2>
 * The file system may move a file's extents without changing a byte of it or any attribute (inode, size, times):
 * dedupe ({@code FIDEDUPERANGE}, duperemove), defragmentation ({@code xfs_fsr}); it then frees the old blocks and
 * may give them to another file. A move never changes what the moved file itself reads (a missed page is read
 * through the file at its offset); the danger is the freed block. So {@link #publish}, which installs a file's
 * layout when it is opened or reloaded, makes sure that each block the layout maps is either
 * <ul>
 *   <li>vouched for by no other open file: its frame is dropped first (the block may have been freed and reused);
 *       or</li>
 *   <li>vouched for by at least one other open file whose extents were read (FIEMAP) during this publication and
 *       still map, page for page, every block it vouches for: the block is still that file's, and a move keeps the
 *       bytes of the file that moved, so what was loaded through any file that mapped it is the block's bytes.</li>
 * </ul>
 * Every other file vouching for one of the blocks also has its attributes checked. A file found changed (attributes)
 * or moved (extents) stops vouching for anything and stops sharing: its pages all become private until it is
 * revalidated, and the frames loaded through it are dropped (after a change they may hold its new bytes under the
 * old blocks' keys). Hence a block freed by a move, a punch, a truncation or a reflink over it, and given to another
 * file, is never served to that file with the bytes it held for the file that gave it up.
 *
 * <p>Not guaranteed: a move that runs while the checks themselves run (between the new file's FIEMAP and a vouching
 * file's) is seen at the next check; a change of bytes that shows in no attribute (same clock tick) and moves no
 * extent (an overwrite in place) is not seen at all.
 *
 * <h2>Dropping frames</h2>
 * {@link #dropLoaded} names only the pages whose frames were filled through the file ({@link OpenFile#loaded}) and
 * its written pages, each by its key. Frames of the file's blocks filled through other files are not named: an open
 * file that filled one vouches for the block (and is checked as above before another file trusts it), and one filled
 * through a file closed since is dropped when a layout that maps the block is next published, the block then having
 * no owner.
 *
 * <h2>Costs</h2>
 * {@link #publish}: one {@code stat} per other open file vouching for one of the layout's blocks, and one FIEMAP
 * (with {@code FIEMAP_FLAG_SYNC}) for as few of them as cover its blocks: one per distinct group of sharers, usually
 * one, so opening the n-th reflink clone of a file reads one other extent list, not n - 1; a moved file costs one
 * more FIEMAP per owner tried. The comparison costs {@code O(runs + written pages)} binary searches.
 * {@link #dropLoaded}: {@code O(layout runs + loaded pages + written pages)} from its first page on, and as many
 * blocks announced to the cache, never the file's size. The loaded set keeps a page until it is dropped, also after
 * the cache reclaimed its frame: at most one bit per page read through the file (a 528-byte leaf per 4096-page
 * region touched).
 *
 * <p><b>Thread safety:</b> none of its own: every method runs under the translator's lock.
 */
final class BlockTrust
{
    private final int pageSize;
    private final ExtentReader reader;
    private final Listeners listeners;
    private final BlockOwners owners = new BlockOwners();
    /** File system ({@code st_dev}) to its index in physical keys. */
    private final Map<Long, Integer> devices = new HashMap<>();

    BlockTrust(final int pageSize, final ExtentReader reader, final Listeners listeners)
    {
        this.pageSize = pageSize;
        this.reader = reader;
        this.listeners = listeners;
    }

    /**
     * Installs a freshly read layout: vouches for its physical blocks (dropping frames of blocks no other open file
     * maps, after checking those files for changes) and publishes it. Caller holds the translator's lock and the file's
     * write lock, and has withdrawn the file's old vouches.
     */
    void publish(final OpenFile state, final ExtentReader.Loaded loaded) throws IOException
    {
        final Layout layout;
        long deviceBits = 0;
        if (null == loaded.extents())
        {
            layout = Layout.allPrivate(reader.pagesOf(loaded.attrs().size()));
        }
        else
        {
            final Integer known = devices.get(loaded.attrs().dev());
            final int device = null != known ? known : devices.size();
            if (device >= 1 << BlockKeys.DEVICE_BITS)
            {
                throw new IOException("too many file systems for the key space: " + device);
            }
            devices.putIfAbsent(loaded.attrs().dev(), device);
            deviceBits = BlockKeys.deviceBits(device);
            layout = Layout.of(loaded.extents(), loaded.attrs().size(), pageSize, deviceBits);
        }
        final List<long[]> stale = new ArrayList<>();
        final Set<OpenFile> statted = new HashSet<>();
        final Set<OpenFile> confirmed = new HashSet<>();
        final Set<OpenFile> moved = new LinkedHashSet<>();
        for (int run = 0; run < layout.runs; run++)
        {
            final long key = layout.key[run];
            if (key < 0)
            {
                continue;
            }
            final long end = key + layout.count[run];
            for (final Object owner : owners.ownersIn(key, end))
            {
                final OpenFile other = (OpenFile)owner;
                if (other != state && statted.add(other) && !other.stale && !other.unchangedOnDisk())
                {
                    stopSharing(other, stale); // changed: what was loaded through it may be its new bytes
                }
            }
            owners.forEachSegment(key, end, (from, to, segmentOwners) ->
            {
                for (final Object owner : segmentOwners)
                {
                    if (owner == state || confirmed.contains(owner))
                    {
                        return; // checked for an earlier run of this layout, or by an owner already read
                    }
                }
                for (final Object owner : segmentOwners)
                {
                    final OpenFile other = (OpenFile)owner;
                    if (!moved.contains(other))
                    {
                        if (keepsItsBlocks(other))
                        {
                            confirmed.add(other);
                            return;
                        }
                        moved.add(other);
                    }
                }
            });
            for (final OpenFile other : moved)
            {
                if (!other.stale)
                {
                    stopSharing(other, stale); // moved: it vouches for blocks it may no longer hold
                }
            }
            owners.add(state, key, end, (start, stop) -> stale.add(new long[] {start, stop}));
        }
        listeners.invalidate(stale);
        state.layout = layout;
        state.deviceBits = deviceBits;
        state.written.clear();
        state.reserved.clear();
        state.size = loaded.attrs().size();
        state.attrs = loaded.attrs();
        state.noSharing = loaded.noSharing();
        state.stale = false;
    }

    /**
     * Reads an open file's extents (one FIEMAP) before another file trusts the blocks it vouches for: they must still
     * map every page it vouches for to the same block. Dedupe and defragmentation move extents without changing the
     * file's attributes, and free the old blocks. Caller holds the translator's lock (every change to a file's
     * layout and written pages holds it too).
     *
     * @return false if the file moved, or its extents cannot be read: it must not vouch for anything.
     */
    private boolean keepsItsBlocks(final OpenFile state)
    {
        try
        {
            return state.layout.keepsBlocks(reader.currentLayout(state), state.written);
        }
        catch (final IOException | RuntimeException ex)
        {
            return false; // gone, unreadable, or no longer reporting extents: it cannot vouch for anything
        }
    }

    /**
     * A file that shares blocks with one being opened was changed outside the cache: its physical pages become
     * private (read through the file itself) until it is revalidated, so it never again loads its new bytes under a
     * shared block's key. Caller holds the translator's lock.
     */
    private void stopSharing(final OpenFile other, final List<long[]> stale)
    {
        other.layoutLock.writeLock().lock();
        try
        {
            unvouch(other, 0, null);
            dropLoaded(other, 0, true, false, stale); // loaded through the changed file: may hold its new bytes
            other.layout = Layout.allPrivate(other.layout.pages);
            other.stale = true;
        }
        finally
        {
            other.layoutLock.writeLock().unlock();
        }
        listeners.pagesChanged(other.id, 0, Long.MAX_VALUE, other.size);
    }

    /**
     * Withdraws the file's vouches for its physical pages from {@code firstPage} on; blocks left with no owner are
     * added to {@code orphaned} (unless null).
     */
    void unvouch(final OpenFile state, final long firstPage, final List<long[]> orphaned)
    {
        final Layout layout = state.layout;
        for (int run = 0; run < layout.runs; run++)
        {
            final long start = Math.max(layout.start[run], firstPage);
            final long end = layout.start[run] + layout.count[run];
            if (start < end && layout.key[run] >= 0)
            {
                final long key = layout.key[run] + (start - layout.start[run]);
                owners.remove(state, key, key + (end - start), (from, to) ->
                {
                    if (null != orphaned)
                    {
                        orphaned.add(new long[] {from, to});
                    }
                });
            }
        }
    }

    /**
     * Adds to {@code stale} the keys of the file's pages from {@code firstPage} on whose frames were filled through
     * the file ({@link OpenFile#loaded}), each by the key the file's layout gives it, and forgets those pages: its
     * physical pages if {@code physical}; its private pages, holes and pages past the layout (all keyed privately) and
     * its written pages if {@code privately}. Costs {@code O(layout runs + loaded pages + written pages)} from
     * {@code firstPage} on, never the file's size: a 1 TiB file with three pages cached names three keys.
     *
     * <p>Frames of the file's blocks filled through other files are not named: an open file that fills one vouches
     * for the block (and is checked before another file trusts it), and those filled through files closed since are
     * dropped when a file that maps the block is next published, the block then having no owner.
     * Caller holds the file's write lock.
     */
    void dropLoaded(final OpenFile state, final long firstPage, final boolean physical,
        final boolean privately, final List<long[]> stale)
    {
        final Layout layout = state.layout;
        final PageSet loaded = state.loaded;
        final long id = state.id;
        for (int run = layout.find(Math.min(firstPage, Math.max(0, layout.pages - 1))); run >= 0 && run < layout.runs;
            run++)
        {
            final long start = Math.max(layout.start[run], firstPage);
            final long end = layout.start[run] + layout.count[run];
            final long key = layout.key[run];
            if (start >= end)
            {
                continue;
            }
            if (key >= 0 && physical)
            {
                final long keyOfPageZero = key - layout.start[run];
                loaded.removeRuns(start, end, (from, to) ->
                    stale.add(new long[] {keyOfPageZero + from, keyOfPageZero + to}));
            }
            else if (key < 0 && privately)
            {
                loaded.removeRuns(start, end, (from, to) ->
                    stale.add(new long[] {BlockKeys.privateKey(id, from), BlockKeys.privateKey(id, to - 1) + 1}));
            }
        }
        if (privately)
        {
            // pages past the layout's end: the file grew through the cache, and they are keyed privately
            loaded.removeRuns(Math.max(firstPage, layout.pages), PageSet.LIMIT, (from, to) ->
                stale.add(new long[] {BlockKeys.privateKey(id, from), BlockKeys.privateKey(id, to - 1) + 1}));
            for (final Long page : state.written.tailSet(firstPage))
            {
                stale.add(new long[] {BlockKeys.privateKey(id, page), BlockKeys.privateKey(id, page) + 1});
            }
        }
    }

    /**
     * The file is about to grow past a partial last page: the file system zeroes that page's block past the old end
     * (copying the block first if it is shared), so the page no longer maps it. Makes the page private and withdraws
     * the file's vouch for the block. Caller holds the translator's lock and the file's write lock.
     */
    void privatizeOldTail(final OpenFile state, final long oldSize, final List<long[]> stale)
    {
        if ((oldSize & (pageSize - 1)) == 0)
        {
            return;
        }
        final long tail = oldSize >> Integer.numberOfTrailingZeros(pageSize);
        final Extent extent = new Extent();
        state.translate(tail, extent);
        if (!extent.isHole() && (extent.deviceBlock() & BlockKeys.PRIVATE) == 0)
        {
            withdraw(state, extent.blockOf(tail), stale);
            state.written.add(tail);
        }
    }

    /**
     * The file's page that mapped {@code physical} was written through the cache (it is private now): the file no
     * longer vouches for the block. If no other open file does, the file system overwrites the block in place, so its
     * frame is added to {@code stale}; otherwise the file system copies on write and the frame stays good. Caller
     * holds the translator's lock and the file's write lock.
     */
    void withdraw(final OpenFile state, final long physical, final List<long[]> stale)
    {
        owners.remove(state, physical, physical + 1, (start, end) -> stale.add(new long[] {start, end}));
    }

    /** @return segments in the registry of vouched blocks (metadata accounting, tests). */
    int ownedSegments()
    {
        return owners.segmentCount();
    }
}
