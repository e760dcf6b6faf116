package org.extentcache;

import org.extentcache.frame.Handle;
import org.extentcache.mapping.FileMapping;
import org.extentcache.translate.Extent;

/**
 * Maps pages that follow one just pinned through translation, when their blocks are already cached: after a sharing
 * hit, so reading on through a clone costs file hits, not a translation per page (the kernel's
 * {@code filemap_map_pages} does the same for page faults); and after a readahead window, whose pages it maps.
 *
 * <p>Stateless; the mapping's monitor and the handles' generations make it safe to call from any thread.
 */
final class FaultAround
{
    private FaultAround()
    {
    }

    /**
     * Maps up to {@code limit} pages after {@code page} within its run whose blocks are in the device index. Stops at
     * the first page not cached or already mapped; takes no pins (a handle is checked against its frame's generation
     * on use) and installs the batch only if the translation it came from is still current. Each page mapped after a
     * sharing hit counts as a sharing hit (found in the device index through translation); reading it later counts as
     * a file hit. Pages mapped after a readahead window count as nothing until read.
     *
     * @param mapping     the file's mapping.
     * @param frames      the cache's frames.
     * @param page        the page just pinned.
     * @param extent      its translation, which the pages mapped stay within.
     * @param version     the mapping's version the translation was made at.
     * @param handles     room for the handles (its length bounds the batch too).
     * @param limit       most pages to map.
     * @param filePages   the file's size in pages, which the pages mapped stay below.
     * @param sharingHits true to count the pages mapped as sharing hits.
     * @return pages mapped.
     */
    static int map(final FileMapping mapping, final DeviceCache frames, final long page, final Extent extent,
        final long version, final long[] handles, final int limit, final long filePages, final boolean sharingHits)
    {
        final long end = Math.min(extent.filePage() + extent.pageCount(),
            Math.min(page + 1 + Math.min(limit, handles.length), filePages));
        int count = 0;
        for (long next = page + 1; next < end; next++)
        {
            if (Handle.NONE != mapping.get(next))
            {
                break;
            }
            final long handle = frames.peek(extent.blockOf(next));
            if (Handle.NONE == handle)
            {
                break;
            }
            handles[count++] = handle;
        }
        if (count == 0)
        {
            return 0;
        }
        final int installed = mapping.installRunIfVersion(page + 1, handles, count, version);
        if (installed > 0 && sharingHits)
        {
            frames.sharingHits.add(installed);
        }
        return installed;
    }
}
