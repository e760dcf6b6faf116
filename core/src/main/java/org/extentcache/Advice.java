package org.extentcache;

/**
 * How a range of a file will be read, told to the cache with {@link CachedFile#advise(long, long, Advice)}, in the
 * style of {@code posix_fadvise}. {@link #NORMAL}, {@link #SEQUENTIAL}, {@link #RANDOM} and {@link #NOREUSE} are
 * remembered for the pages of the range (a later advice over the same pages replaces an earlier one) until the file
 * is closed in the cache; {@link #WILLNEED} and {@link #DONTNEED} act once, when given, and change no remembered
 * advice. Advice changes what the cache keeps and reads ahead, never the bytes a read returns.
 */
public enum Advice
{
    /**
     * No advice: forgets what was advised for the range. A miss that follows the file's previous miss reads ahead
     * a window that starts at 4 pages and doubles up to 64 (real files only); a page used again is kept longer.
     */
    NORMAL,

    /**
     * The range will be read in order: the first miss in it reads a window at once (no second miss needed to earn
     * one), and every window is twice the largest {@link #NORMAL} window (128 pages). Over a plain
     * {@link org.extentcache.device.BlockDevice}, or with content merging on, the cache reads no windows and this
     * advice changes nothing.
     */
    SEQUENTIAL,

    /** The range will be read in no order: misses in it never read a window ahead, only the page asked for. */
    RANDOM,

    /**
     * The range will be read once (a scan, a compaction, a backup): a page read in it, hit or miss, is never marked
     * used again, so it gives the CLOCK sweep no reason to keep it; and each frame a read in the range loaded from
     * the device is freed again once 128 later such loads of the file have followed it, if nobody used it since
     * (clean, unpinned and unreferenced, as the sweep would take it). A scan through the range thus recycles a ring
     * of its own frames instead of sweeping the rest of the cache, and the hot set survives it.
     */
    NOREUSE,

    /**
     * Reads the range's pages into the cache now, before returning: through windows on real files (as for
     * {@link #SEQUENTIAL}), a page at a time over a plain {@link org.extentcache.device.BlockDevice}. Pages already
     * cached are skipped. At most half the cache's frames are prefetched per call (the range's first pages), so a
     * prefetch cannot evict its own first pages. Each page read may take the place of one unused frame, as a miss
     * does; pinned and dirty frames are never taken. A device read that fails ends the prefetch and is thrown; the
     * pages read before it stay cached.
     */
    WILLNEED,

    /**
     * Drops the range's pages from the cache now: writes its dirty pages back first (and syncs, as
     * {@link CachedFile#flush()} does for data), then removes each clean, unpinned page's handle from this file's
     * mapping, and frees its frame if the translator reports the block unshared (and no merged block shares the
     * frame). A frame whose block is shared stays for the files that map it, but loses its reference bit, so the
     * sweep takes it first unless one of them uses it again; real files ({@link org.extentcache.fs.FileSystemTranslator})
     * report every physical block shared, so there this advice unmaps and demotes, and frees only private pages.
     * Pinned and dirty pages stay as they are. A page whose write-back fails stays dirty and cached, and the
     * failure is thrown after the clean pages were dropped. Like Linux, only whole pages inside the range are
     * dropped; a range that reaches the end of the file takes its last page too.
     */
    DONTNEED
}
