package org.extentcache;

/**
 * A snapshot of an {@link ExtentCache}'s counters and memory, taken by {@link ExtentCache#stats()}. Counters are
 * cumulative since the cache was built; under concurrent use each is exact but they are not taken at one instant.
 *
 * @param fileHits                 reads of a page served through the file mapping's handle (no translation).
 * @param sharingHits              pages found in the device index after translation, without a device read:
 *                                 another file (or an earlier handle that went stale) had brought the block in,
 *                                 or another thread was loading it and this one waited. Pages mapped ahead by
 *                                 fault-around after a sharing hit count here when mapped (and as file hits when
 *                                 read).
 * @param deviceReads              blocks read from the device.
 * @param reclaims                 frames taken back by the CLOCK sweep.
 * @param invalidations            frames dropped because the translator reported their block changed or freed.
 * @param loadFailures             device reads that failed.
 * @param copyOnWrites             writes that broke sharing (or filled a hole) by moving a page to a fresh block.
 * @param writebacks               dirty frames written to the device.
 * @param writebackFailures        device writes of dirty frames that failed (the frames stayed dirty).
 * @param syncFailures             device syncs that failed (every page they covered was marked dirty again).
 * @param backgroundErrors         exceptions and errors the background write-back caught and went on from (the
 *                                 pages stayed dirty).
 * @param dirtyFrames              frames holding bytes the device does not have yet.
 * @param capacityFrames           frames in the arena.
 * @param framesResident           frames holding a block (loading, up to date, or orphaned awaiting unpin).
 * @param framesFree               frames on the free list.
 * @param framesRetired            frames taken out of service because their generations were used up.
 * @param pageSize                 bytes per frame.
 * @param frameBytesReserved       off-heap bytes reserved for frames ({@code capacityFrames * pageSize}).
 * @param frameBytesInUse          off-heap bytes of frames holding a block ({@code framesResident * pageSize}).
 * @param offHeapMetadataBytes     off-heap bytes of frame metadata, the device index and (with merging on) the
 *                                 content index and alias table, all reserved up front.
 * @param heapMetadataBytes        estimated heap bytes of the file mappings' trees (compressed references).
 * @param filesMapped              files with a mapping in the cache.
 * @param handlesHeld              slots holding a handle, summed over files (some may be stale).
 * @param merges                   blocks made aliases of a resident frame with the same bytes (content merging,
 *                                 {@link ExtentCache.Builder#mergeIdenticalPages}), ever.
 * @param mergeMismatches          merge candidates whose content hash matched but whose bytes differed.
 * @param mergeNanos               time misses spent on merging (hashing, looking up, comparing), in nanoseconds.
 * @param mergedPages              blocks that are aliases now: each is a page held once for two or more blocks,
 *                                 so {@code mergedPages * pageSize} bytes are saved ({@link #mergeBytesSaved()}).
 * @param pagesReadAhead           pages read from the device by readahead, besides the page whose miss read the
 *                                 window (that one counts in {@code deviceReads}); each counts again as a file or
 *                                 sharing hit when read. Only for files read through themselves
 *                                 ({@link org.extentcache.translate.FileBackedTranslator}).
 * @param readaheadFailures        readahead window reads that failed (the page that missed was then read alone).
 * @param pagesDropped             frames freed by advice ({@link CachedFile#advise}): {@link Advice#DONTNEED}, and
 *                                 frames a {@link Advice#NOREUSE} scan loaded and gave back (not counted as reclaims).
 * @param framesParked             free frames out of service because {@link ExtentCache#setCapacityFrames} lowered
 *                                 the capacity: {@code capacityFrames - framesParked - framesRetired} frames may be
 *                                 in use.
 */
public record CacheStats(
    long fileHits,
    long sharingHits,
    long deviceReads,
    long reclaims,
    long invalidations,
    long loadFailures,
    long copyOnWrites,
    long writebacks,
    long writebackFailures,
    long syncFailures,
    long backgroundErrors,
    int dirtyFrames,
    int capacityFrames,
    int framesResident,
    int framesFree,
    int framesRetired,
    int pageSize,
    long frameBytesReserved,
    long frameBytesInUse,
    long offHeapMetadataBytes,
    long heapMetadataBytes,
    int filesMapped,
    long handlesHeld,
    long merges,
    long mergeMismatches,
    long mergeNanos,
    long mergedPages,
    long pagesReadAhead,
    long readaheadFailures,
    long pagesDropped,
    int framesParked)
{
    /**
     * Takes the snapshot {@link ExtentCache#stats()} returns: counters and opaque reads, no lock, no walk.
     *
     * @param frames           the cache's frames.
     * @param fileHits         its file-hit count.
     * @param backgroundErrors its background write-back's error count.
     * @param mappings         the totals of its file mappings.
     * @param files            files it maps.
     * @return the snapshot.
     */
    static CacheStats of(final DeviceCache frames, final long fileHits, final long backgroundErrors,
        final org.extentcache.mapping.MappingTotals mappings, final int files)
    {
        final int[] counts = frames.counts();
        final org.extentcache.frame.FrameArena arena = frames.arena();
        final PageMerger merger = frames.merger;
        final int pageSize = arena.pageSize();
        return new CacheStats(fileHits, frames.sharingHits.sum(), frames.deviceReads.sum(), frames.reclaims.sum(),
            frames.invalidations.sum(), frames.loadFailures.sum(), frames.copyOnWrites.sum(),
            frames.writebacks.sum(), frames.writebackFailures.sum(), frames.syncs.failures(), backgroundErrors,
            frames.dirtyFrames.get(), arena.capacity(), counts[0], counts[1], counts[2], pageSize,
            arena.frameBytesReserved(), (long)counts[0] * pageSize,
            arena.metadataBytesReserved() + frames.indexBytesReserved() + (null == merger ? 0 : merger.bytesReserved()),
            mappings.heapBytes(), files, mappings.handleCount(),
            null == merger ? 0 : merger.merges.sum(), null == merger ? 0 : merger.mismatches.sum(),
            null == merger ? 0 : merger.mergeNanos.sum(), null == merger ? 0 : merger.aliasCount(),
            null == frames.readahead ? 0 : frames.readahead.pagesReadAhead.sum(),
            null == frames.readahead ? 0 : frames.readahead.failures.sum(), frames.pagesDropped.sum(), counts[4]);
    }

    /**
     * @return page lookups as the counters count them: file hits, sharing hits and device reads. A page mapped ahead
     * by fault-around after a sharing hit counts when mapped and again (as a file hit) when read.
     */
    public long requestCount()
    {
        return fileHits + sharingHits + deviceReads;
    }

    /**
     * @return the share of page lookups served without a device read, {@code 1.0} when there were none (as
     * Caffeine's {@code hitRate}).
     */
    public double hitRate()
    {
        final long requests = requestCount();
        return 0 == requests ? 1.0 : (double)(fileHits + sharingHits) / requests;
    }

    /**
     * @return the share of page lookups that read the device, {@code 0.0} when there were none.
     */
    public double missRate()
    {
        final long requests = requestCount();
        return 0 == requests ? 0.0 : (double)deviceReads / requests;
    }

    /**
     * What happened between {@code other}, an earlier snapshot of the same cache, and this one: each counter is the
     * difference (never below zero), and each gauge (frames, dirty frames, memory, files, handles) is this
     * snapshot's.
     *
     * @param other an earlier snapshot.
     * @return the difference.
     */
    public CacheStats minus(final CacheStats other)
    {
        return new CacheStats(
            Math.max(0, fileHits - other.fileHits), Math.max(0, sharingHits - other.sharingHits),
            Math.max(0, deviceReads - other.deviceReads), Math.max(0, reclaims - other.reclaims),
            Math.max(0, invalidations - other.invalidations), Math.max(0, loadFailures - other.loadFailures),
            Math.max(0, copyOnWrites - other.copyOnWrites), Math.max(0, writebacks - other.writebacks),
            Math.max(0, writebackFailures - other.writebackFailures), Math.max(0, syncFailures - other.syncFailures),
            Math.max(0, backgroundErrors - other.backgroundErrors),
            dirtyFrames, capacityFrames, framesResident, framesFree, framesRetired, pageSize,
            frameBytesReserved, frameBytesInUse, offHeapMetadataBytes, heapMetadataBytes, filesMapped, handlesHeld,
            Math.max(0, merges - other.merges), Math.max(0, mergeMismatches - other.mergeMismatches),
            Math.max(0, mergeNanos - other.mergeNanos), mergedPages,
            Math.max(0, pagesReadAhead - other.pagesReadAhead),
            Math.max(0, readaheadFailures - other.readaheadFailures), Math.max(0, pagesDropped - other.pagesDropped),
            framesParked);
    }

    /**
     * The sum of two snapshots, for instance of two caches: counters and gauges added; {@code pageSize} is this
     * snapshot's.
     *
     * @param other another snapshot.
     * @return the sum.
     */
    public CacheStats plus(final CacheStats other)
    {
        return new CacheStats(
            fileHits + other.fileHits, sharingHits + other.sharingHits, deviceReads + other.deviceReads,
            reclaims + other.reclaims, invalidations + other.invalidations, loadFailures + other.loadFailures,
            copyOnWrites + other.copyOnWrites, writebacks + other.writebacks,
            writebackFailures + other.writebackFailures, syncFailures + other.syncFailures,
            backgroundErrors + other.backgroundErrors, dirtyFrames + other.dirtyFrames,
            capacityFrames + other.capacityFrames, framesResident + other.framesResident,
            framesFree + other.framesFree,
            framesRetired + other.framesRetired, pageSize, frameBytesReserved + other.frameBytesReserved,
            frameBytesInUse + other.frameBytesInUse, offHeapMetadataBytes + other.offHeapMetadataBytes,
            heapMetadataBytes + other.heapMetadataBytes, filesMapped + other.filesMapped,
            handlesHeld + other.handlesHeld, merges + other.merges, mergeMismatches + other.mergeMismatches,
            mergeNanos + other.mergeNanos, mergedPages + other.mergedPages, pagesReadAhead + other.pagesReadAhead,
            readaheadFailures + other.readaheadFailures, pagesDropped + other.pagesDropped,
            framesParked + other.framesParked);
    }

    /**
     * @return bytes content merging saves now: {@code mergedPages * pageSize}.
     */
    public long mergeBytesSaved()
    {
        return mergedPages * pageSize;
    }

    /**
     * @return off-heap bytes reserved in all: frames plus metadata.
     */
    public long offHeapBytesReserved()
    {
        return frameBytesReserved + offHeapMetadataBytes;
    }

    /**
     * @return metadata bytes on and off heap.
     */
    public long metadataBytes()
    {
        return offHeapMetadataBytes + heapMetadataBytes;
    }

    /**
     * @return bytes the cache needs for what it holds: frames in use plus all metadata.
     */
    public long totalBytesInUse()
    {
        return frameBytesInUse + metadataBytes();
    }
}
