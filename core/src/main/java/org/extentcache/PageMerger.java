package org.extentcache;

import org.agrona.UnsafeApi;
import org.extentcache.frame.FrameArena;
import org.extentcache.frame.Handle;
import org.extentcache.index.DeviceIndex;
import org.extentcache.merge.AliasTable;
import org.extentcache.merge.ContentHash;
import org.extentcache.merge.ContentIndex;

import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;

import static org.extentcache.frame.FrameDescriptor.*;

/**
 * Content merging (KSM for cached pages, seed 001): after a miss has filled a frame, find a resident frame of the same
 * merge domain holding the same bytes and make the missed block an <em>alias</em> of it, freeing the new frame. Off
 * unless the builder asks for it ({@link ExtentCache.Builder#mergeIdenticalPages}).
 *
 * <h2>Merging a loaded frame</h2>
 * <ol>
 *   <li>Hash the new frame's bytes ({@link ContentHash}, XXH3 by default), outside the lock.</li>
 *   <li>Under the allocation lock, look the (domain, hash) up in the {@link ContentIndex}. A candidate counts only if it
 *       is still the frame that was hashed (same generation: an in-place write or a reuse bumps it), up to date and
 *       clean; stale entries are dropped. Pin the first good one. If none, index the new frame as a candidate.</li>
 *   <li>Outside the lock, compare the two frames byte for byte. Both are pinned, so neither can be written in place
 *       ({@code beginWrite} needs the writer's pin to be the only one) or reclaimed. A hash match is never enough.</li>
 *   <li>Under the lock again, if the new frame is still indexed under the missed block and the candidate still up to
 *       date and clean: add the alias, set the candidate's {@link org.extentcache.frame.FrameDescriptor#MERGED}
 *       flag (CAS), and orphan the new frame (its last unpin frees it). The caller gets the candidate, pinned.</li>
 * </ol>
 *
 * <h2>Invariants it keeps</h2>
 * <ul>
 *   <li><b>No dirty merged frame</b>: only clean frames merge, and a merged frame refuses {@code beginWrite}, so a
 *       write to any page mapped to it goes copy-on-write into a frame of the written block alone, and the written
 *       block stops being an alias ({@link FrameWrites#publishDirty}).</li>
 *   <li><b>Reclaim drops every alias</b>: the CLOCK sweep takes a merged frame like any clean one, drops its aliases
 *       and bumps its generation once ({@link FrameClaims#claimLocked}); those blocks read from the device again on
 *       their next miss, and merge again.</li>
 *   <li><b>One block leaving disturbs no other</b>: when one block of a merged frame leaves (an alias or its own block
 *       invalidated, its own block written), the frame is orphaned, because a file may hold a handle to it for that
 *       block and a handle names a frame, not a block; the blocks it still serves move to a copy of it, claimed under
 *       the lock, and go on being served from memory ({@link FrameClaims#orphanLocked}). Only if no frame can be
 *       claimed for the copy are they dropped. A write to an alias needs none of this: the writer replaces its own
 *       handle, and the frame keeps its other blocks.</li>
 *   <li><b>Frames resident already</b> merge on request ({@link ExtentCache#mergeResident}): a pass over the open
 *       files' mappings offers each frame they reach, with the file's domain, to the same steps as a loaded one.
 *       Frames no open file maps are left alone: their domain is not known; so are frames that open files of more
 *       than one domain map (a file changed domain after its pages merged, or a block shared across domains):
 *       offering one, in either domain, would join the two.</li>
 *   <li><b>Merge domains</b>: a frame merges only with frames loaded for files of the same domain. Merging across
 *       tenants is a side channel (a write to a merged page is slower, which tells the writer that somebody else holds
 *       the same bytes), so callers give mutually distrusting files different domains.</li>
 * </ul>
 *
 * <h2>Costs</h2>
 * Per miss with merging on: a hash of the page and the lock for a lookup (about 0.45 ns per byte together, 1.7 µs
 * for a 4 KiB page, measured by {@code MergeBenchmark} on a loaded 2-core VM), and on a candidate a
 * page compare and the lock again. Alias hits take the locked half of the lookup (an alias is not in the lock-free
 * index). Memory: the content index (29.3 bytes per frame) and the alias table (about 21.3 bytes per alias record,
 * 4 per frame), off-heap, reserved up front.
 *
 * <p>Thread-safe. Owned by its {@link DeviceCache}.
 */
final class PageMerger implements AutoCloseable
{
    /** The domain of files that never merge. */
    static final int NO_DOMAIN = -1;

    private final FrameArena arena;
    private final DeviceIndex index;
    private final ReentrantLock lock;
    private final PinCounts pins;
    private final FrameClaims claims;
    private final AliasTable aliases;
    private final ContentIndex content;
    private final ContentHash hash;
    private final int pageSize;

    /** Blocks made aliases of a resident frame, ever. */
    final LongAdder merges = new LongAdder();
    /** Candidates whose hash matched but whose bytes differed. */
    final LongAdder mismatches = new LongAdder();
    /** Time spent hashing, looking up and comparing, in nanoseconds. */
    final LongAdder mergeNanos = new LongAdder();

    PageMerger(final FrameArena arena, final DeviceIndex index, final ReentrantLock lock, final PinCounts pins,
        final FrameClaims claims, final AliasTable aliases, final ContentHash hash)
    {
        this.arena = arena;
        this.index = index;
        this.lock = lock;
        this.pins = pins;
        this.claims = claims;
        this.aliases = aliases;
        this.content = new ContentIndex(arena.capacity());
        this.hash = hash;
        this.pageSize = arena.pageSize();
        claims.merger(this);
    }

    /**
     * Under the lock: a merged frame's blocks moved to a copy of it ({@link FrameClaims#orphanLocked}); the copy
     * takes its place among the candidates, so later loads of the same bytes merge into it.
     */
    void rehomedLocked(final int frame, final long generation, final int copy, final long copyGeneration)
    {
        if (!pins.isClosed())
        {
            content.move(frame, generation, copy, copyGeneration);
        }
    }

    /**
     * Merges a frame this thread just loaded into a resident frame with the same bytes, if there is one.
     *
     * @param handle the loaded frame, pinned by the caller, {@code UPTODATE}.
     * @param block  the device block it was loaded for.
     * @param domain     the merge domain of the file that missed; {@link #NO_DOMAIN} merges nothing.
     * @param candidates this thread's room for the content index's nominees.
     * @return a pinned handle the caller now owns: the merged-into frame (the loaded one's pin released), or
     * {@code handle} itself.
     */
    long mergeLoaded(final long handle, final long block, final int domain, final int[] candidates)
    {
        if (NO_DOMAIN == domain)
        {
            return handle;
        }
        final long start = System.nanoTime();
        final int frame = Handle.frame(handle);
        long result = handle;
        long candidate = Handle.NONE;
        try
        {
            final long contentHash = hash.hash(arena.address(frame), pageSize);
            final int found;
            lock.lock();
            try
            {
                if (pins.isClosed())
                {
                    return handle;
                }
                found = content.candidates(domain, contentHash, candidates);
            }
            finally
            {
                lock.unlock();
            }
            for (int i = 0; i < found && result == handle; i++)
            {
                candidate = pinCandidate(candidates[i], frame);
                if (Handle.NONE == candidate)
                {
                    continue;
                }
                if (!sameBytes(frame, Handle.frame(candidate)))
                {
                    mismatches.increment();
                    final long mismatched = candidate;
                    candidate = Handle.NONE;
                    pins.unpin(mismatched);
                    continue;
                }
                if (aliasLocked(handle, block, candidate))
                {
                    result = candidate;
                    candidate = Handle.NONE;
                }
                else
                {
                    final long refused = candidate;
                    candidate = Handle.NONE;
                    pins.unpin(refused);
                    break;
                }
            }
            if (result == handle)
            {
                indexLocked(handle, domain, contentHash);
            }
        }
        catch (final RuntimeException | Error ex)
        {
            // the hash, a compare or a table failed: release every pin this merge holds besides the caller's, and
            // the caller's too, since the caller gets the exception instead of a handle
            if (Handle.NONE != candidate)
            {
                pins.unpin(candidate);
            }
            if (result != handle)
            {
                pins.unpin(result);
            }
            pins.unpin(handle);
            throw ex;
        }
        if (result != handle)
        {
            pins.unpin(handle);
        }
        mergeNanos.add(System.nanoTime() - start);
        return result;
    }

    /**
     * The {@link ExtentCache#mergeResident} pass over the frames the files map, with each file's domain, in two
     * rounds: first every merged frame not in the content index is indexed again (a domain change forgets every
     * candidate), so that the second round, which offers every other clean frame to the steps of a load (look up,
     * compare, alias, else index), finds them.
     *
     * @param files the cache's open files.
     * @return frames merged.
     */
    long mergeResident(final Iterable<CachedFile> files)
    {
        final int[] candidates = Scratch.get().mergeCandidates;
        // collected first: no monitor held while merging
        final java.util.List<org.agrona.collections.LongArrayList> handles = new java.util.ArrayList<>();
        final org.agrona.collections.IntArrayList domains = new org.agrona.collections.IntArrayList();
        for (final CachedFile file : files)
        {
            final org.agrona.collections.LongArrayList fileHandles = new org.agrona.collections.LongArrayList();
            file.mapping().forEachHandle(fileHandles::addLong);
            handles.add(fileHandles);
            domains.addInt(file.mergeDomain());
        }
        final org.agrona.collections.Int2IntHashMap frameDomains = frameDomains(handles, domains);
        long merged = 0;
        for (final boolean mergedFrames : new boolean[]{true, false})
        {
            for (int f = 0; f < handles.size(); f++)
            {
                final org.agrona.collections.LongArrayList fileHandles = handles.get(f);
                final int domain = domains.getInt(f);
                for (int i = 0; i < fileHandles.size(); i++)
                {
                    final long handle = fileHandles.getLong(i);
                    if (frameDomains.get(Handle.frame(handle)) != domain)
                    {
                        continue; // open files of more than one domain map it: offering it would join them
                    }
                    merged += offerResident(handle, domain, mergedFrames, candidates) ? 1 : 0;
                }
            }
        }
        return merged;
    }

    /** Marks a frame that open files of more than one domain map. */
    private static final int MIXED_DOMAINS = Integer.MIN_VALUE + 1;

    /**
     * @return for each frame a valid handle of an open file names, the domain of every open file that maps it, or
     * {@link #MIXED_DOMAINS} (a file changed domain after its pages merged, or files of two domains share a block).
     */
    private org.agrona.collections.Int2IntHashMap frameDomains(
        final java.util.List<org.agrona.collections.LongArrayList> handles,
        final org.agrona.collections.IntArrayList domains)
    {
        final org.agrona.collections.Int2IntHashMap frameDomains =
            new org.agrona.collections.Int2IntHashMap(Integer.MIN_VALUE);
        for (int f = 0; f < handles.size(); f++)
        {
            final org.agrona.collections.LongArrayList fileHandles = handles.get(f);
            final int domain = domains.getInt(f);
            for (int i = 0; i < fileHandles.size(); i++)
            {
                final long handle = fileHandles.getLong(i);
                final int frame = Handle.frame(handle);
                if (!Handle.matches(handle, arena.stateWord(frame)))
                {
                    continue;
                }
                final int seen = frameDomains.get(frame);
                frameDomains.put(frame, Integer.MIN_VALUE == seen || seen == domain ? domain : MIXED_DOMAINS);
            }
        }
        return frameDomains;
    }

    /**
     * Offers one resident frame to merging: in the first round ({@code mergedFrames}) a merged frame is indexed again
     * if it is not a current candidate; in the second an up-to-date, clean, unmerged frame goes through the steps of
     * a loaded one. Frames being written, dirty, or not up to date are skipped.
     *
     * @return true if the frame was merged into another (its handle goes stale when it is freed).
     */
    private boolean offerResident(final long handle, final int domain, final boolean mergedFrames,
        final int[] candidates)
    {
        if (NO_DOMAIN == domain || !pins.pinHandle(handle))
        {
            return false;
        }
        final int frame = Handle.frame(handle);
        final long word = arena.stateWord(frame);
        if (!isCleanUpToDate(word) || isMerged(word) != mergedFrames)
        {
            pins.unpin(handle);
            return false;
        }
        if (mergedFrames)
        {
            try
            {
                if (!isCurrentCandidate(frame, word))
                {
                    indexLocked(handle, domain, hash.hash(arena.address(frame), pageSize));
                }
            }
            finally
            {
                pins.unpin(handle);
            }
            return false;
        }
        final long result = mergeLoaded(handle, arena.deviceBlock(frame), domain, candidates); // a throw unpins
        pins.unpin(result);
        return result != handle;
    }

    private boolean isCurrentCandidate(final int frame, final long word)
    {
        lock.lock();
        try
        {
            return !pins.isClosed() && content.isIndexed(frame) && content.generation(frame) == generation(word);
        }
        finally
        {
            lock.unlock();
        }
    }

    /** Under the lock: pins a candidate if its entry is current and it is clean and up to date; drops stale ones. */
    private long pinCandidate(final int candidate, final int self)
    {
        if (candidate == self)
        {
            return Handle.NONE;
        }
        lock.lock();
        try
        {
            if (pins.isClosed() || !content.isIndexed(candidate))
            {
                return Handle.NONE;
            }
            final long word = arena.stateWord(candidate);
            if (generation(word) != content.generation(candidate) || !isCleanUpToDate(word))
            {
                content.remove(candidate);
                return Handle.NONE;
            }
            return PinCounts.tryPin(arena, candidate, arena.deviceBlock(candidate));
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * Under the lock: makes {@code block} an alias of the candidate's frame if the loaded frame is still the block's
     * and the candidate still clean.
     *
     * @return true if merged.
     */
    private boolean aliasLocked(final long handle, final long block, final long candidate)
    {
        final int frame = Handle.frame(handle);
        final int target = Handle.frame(candidate);
        lock.lock();
        try
        {
            if (pins.isClosed() || index.findLocked(block) != frame || !isCleanUpToDate(arena.stateWord(frame)) ||
                isMerged(arena.stateWord(frame)))
            {
                return false;
            }
            long word = arena.stateWord(target);
            if (!Handle.matches(candidate, word) || !isCleanUpToDate(word))
            {
                return false;
            }
            if (!aliases.add(block, target))
            {
                return false; // the alias table is full: keep the block's own frame
            }
            while (!isMerged(word) && !claims.casState(target, word, withState(word, state(word) | MERGED)))
            {
                word = arena.stateWord(target);
            }
            claims.orphanLocked(block, frame);
            merges.increment();
            return true;
        }
        finally
        {
            lock.unlock();
        }
    }

    /** Indexes the loaded frame as a candidate, if it is still current. */
    private void indexLocked(final long handle, final int domain, final long contentHash)
    {
        final int frame = Handle.frame(handle);
        lock.lock();
        try
        {
            final long word = arena.stateWord(frame);
            if (!pins.isClosed() && Handle.matches(handle, word) && isCleanUpToDate(word))
            {
                content.insert(frame, generation(word), domain, contentHash);
            }
        }
        finally
        {
            lock.unlock();
        }
    }

    private boolean sameBytes(final int a, final int b)
    {
        final long left = arena.address(a);
        final long right = arena.address(b);
        for (int i = 0; i < pageSize; i += Long.BYTES)
        {
            if (UnsafeApi.getLong(left + i) != UnsafeApi.getLong(right + i))
            {
                return false;
            }
        }
        return true;
    }

    /**
     * Forgets every merge candidate: a file open in the cache moved to another merge domain, and its cached frames,
     * indexed under the domain it left, must not take merges from that domain any more. Frames index again at
     * their next load. Costs one pass over the content index, under the lock.
     */
    void forgetCandidates()
    {
        lock.lock();
        try
        {
            if (!pins.isClosed())
            {
                content.clear();
            }
        }
        finally
        {
            lock.unlock();
        }
    }

    /** @return blocks that are aliases now: pages held once for more than one block. */
    int aliasCount()
    {
        return aliases.size();
    }

    /** @return off-heap bytes reserved for merging: the content index and the alias table. */
    long bytesReserved()
    {
        return content.bytesReserved() + aliases.bytesReserved();
    }

    /** Frees the off-heap tables; the caller holds the allocation lock and has closed the cache. */
    @Override
    public void close()
    {
        content.close();
        aliases.close();
    }
}
