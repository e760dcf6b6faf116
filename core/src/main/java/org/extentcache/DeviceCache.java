package org.extentcache;

import org.extentcache.frame.FrameArena;
import org.extentcache.frame.Handle;
import org.extentcache.index.DeviceIndex;
import org.extentcache.merge.AliasTable;
import org.extentcache.merge.ContentHash;
import org.extentcache.translate.Extent;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;

import static org.extentcache.frame.FrameDescriptor.*;

/**
 * The cache of device blocks: frames ({@link FrameArena}) found by device block ({@link DeviceIndex}), loaded from
 * the {@link org.extentcache.device.BlockDevice} (or through the files: {@link BlockIo}) at most once per block
 * however many files and threads miss it, and reclaimed by a CLOCK sweep that needs no file context. File mappings sit on top ({@link ExtentCache}).
 *
 * <h2>Frame states and transitions</h2>
 * <pre>
 *   FREE --claim (lock; release store)--------------------&gt; LOADING, pins=1 (the loader), indexed
 *   LOADING --device read ok (CAS)------------------------&gt; UPTODATE
 *   LOADING --device read failed (lock; CAS)--------------&gt; ORPHAN, unindexed, error recorded for waiters
 *   LOADING/UPTODATE --invalidate(block) (lock; CAS)------&gt; ORPHAN, unindexed
 *   UPTODATE, pins=0, unreferenced --sweep (lock; CAS)----&gt; ORPHAN --&gt; unindexed, freed or reused at once
 *   UPTODATE, pins=0 --drop, by advice (lock; CAS)--------&gt; ORPHAN --&gt; unindexed, freed ({@link #drop})
 *   ORPHAN, last unpin (CAS, then lock)--------------------&gt; FREE, generation + 1 (RETIRED if used up)
 *   UPTODATE, only the writer's pin --beginWrite (CAS)-----&gt; WRITING, no pins (readers wait, pins refused)
 *   WRITING --endWrite (CAS)-------------------------------&gt; UPTODATE|DIRTY, generation + 1
 *   FREE --claimPrivate (lock)-----------------------------&gt; WRITING, unindexed: a frame being filled
 *   WRITING, unindexed --publish (lock)--------------------&gt; UPTODATE|DIRTY, indexed; any older frame of the
 *                                                              block is orphaned
 *   UPTODATE|DIRTY --writeback done (CAS)-------------------&gt; UPTODATE
 *   any frame: pin/unpin = CAS of the pin count at an unchanged generation and state
 * </pre>
 * Freeing always bumps the generation, so every handle to the frame goes stale at once. An in-place write bumps it
 * too: that is how an optimistic reader that copied while the writer wrote notices and reads again. Only the
 * writing file's mapping holds a valid handle to an unshared page's frame, and the writer refreshes it.
 *
 * <h2>Dirty frames</h2>
 * A dirty frame is never reclaimed (the sweep skips it) and never shared: the translator reports the page unshared
 * before the cache writes in place, and announces a clone with {@code beforeChange} so the cache writes the range
 * back first. Dirtiness changes only through {@link FrameClaims#casState}, which keeps {@link #dirtyFrames} exact.
 *
 * <h2>The pieces</h2>
 * This class finds frames ({@link #acquire}, {@link #lookup}, {@link #peek}) and drops them
 * ({@link #invalidate}); each group of transitions above lives in its own class, with its own design comment, and all
 * share this class's one allocation lock, arena and index:
 * <ul>
 *   <li>{@link FrameClaims}: claim (free list, CLOCK sweep, back-off), orphaning, the dirty count;</li>
 *   <li>{@link FrameLoads}: the device read of a claimed frame, failed loads and the threads waiting on a load;</li>
 *   <li>{@link FrameWrites}: beginWrite/endWrite, claimPrivate/publishDirty, write-back and redirty;</li>
 *   <li>{@link PinCounts}: pin, unpin, retain, and the arena's release at close (the last pin held then);</li>
 *   <li>{@link DeviceSync}: device syncs and the sync failures that decide whether a write-back is durable.</li>
 * </ul>
 * Callers on the hit path hold {@link #pins} directly and this class pins with the static
 * {@link PinCounts#tryPin}, so splitting the jobs adds no hop to a hit.
 *
 * <h2>Concurrency</h2>
 * One allocation lock serializes index mutations, the free list, the CLOCK hand and invalidation: roughly 100 ns
 * of bookkeeping per miss. The device read itself runs outside the lock. Lookups take no lock: {@link #acquire}
 * first tries the index lock-free and pins the frame with one CAS; only a miss (or a lost race) takes the lock.
 * Threads that miss a block while another thread loads it pin the loading frame and wait on it alone
 * ({@link FrameWaiters}); the device is read once, and if the read fails every waiter gets the error.
 * Thread-safe: every method may be called from any thread; {@link #close()} races only with unpins and with reads
 * inside the {@link #readers} gate.
 *
 * <h2>Reclaim</h2>
 * When the free list is empty a miss runs the CLOCK sweep under the lock: unpinned {@code UPTODATE} frames whose
 * reference bit is clear are reclaimed; referenced ones get a second chance. A frame is loaded with its bit clear
 * and earns it on its next hit, so a scan of pages read once does not force the sweep to clear every frame's bit
 * before it can evict one (the sweep stays O(1) per miss under a scan, and scans do not flush hot pages). Pinned and loading frames are skipped.
 * If nothing is reclaimable (every frame pinned, loading or dirty) the miss releases the lock, asks the
 * {@link RoomMaker} to write dirty frames back (any file's whose writer lock is free: written, synced, then
 * reclaimable) and tries again, backing off while nothing frees up; it fails after the claim timeout.
 *
 * <h2>Close</h2>
 * {@link #close()} first shuts the {@link ReaderGate} and waits for the lock-free reads inside to leave; then
 * ({@link PinCounts#close}) it frees the device index. The arena (frames and their records) is
 * freed at once only if no frame is pinned; otherwise every pinned frame is counted, and the unpin that releases the
 * last of them frees the arena, so a view over a pinned frame never points at freed memory. Holes are pinned to the JVM's one
 * {@link ZeroPage}, which is never freed.
 *
 * <h2>Costs</h2>
 * Found in the index: a hash, ~2.5 slot loads, two CASes (pin and unpin). Miss: the above, the lock, a free-list pop
 * or a sweep (amortized ~2 frames examined), a device read, a CAS and a monitor notify.
 */
final class DeviceCache implements AutoCloseable
{
    /** How long a miss waits for a reclaimable frame before giving up, unless the builder says otherwise. */
    static final long CLAIM_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(10);

    /** Writes dirty frames back when a claim finds nothing to reclaim. */
    interface RoomMaker
    {
        /**
         * Writes back (and syncs) the dirty pages of files whose writer lock can be had without waiting.
         *
         * @return true if any page was written back, so reclaim may find a frame now.
         */
        boolean makeRoom();
    }

    private final FrameArena arena;
    private final DeviceIndex index;
    private final ReentrantLock lock = new ReentrantLock();
    /** Claims, reclaim, orphaning and the dirty count. */
    private final FrameClaims claims;
    /** Device reads of claimed frames, and waits for them. */
    private final FrameLoads loads;
    /** Pin counts and the arena's release at close; what the hit path and every view unpin through. */
    final PinCounts pins;
    /** Entered by every lock-free read; {@link #close()} waits for those inside before it frees anything. */
    final ReaderGate readers = new ReaderGate();
    /** In-place writes, copy-on-write frames, write-back and redirtying. */
    final FrameWrites writes;
    /** Device syncs, one at a time, and the count of those that failed. */
    final DeviceSync syncs;
    /** Content merging; null when it is off. */
    final PageMerger merger;
    /**
     * Readahead windows; null unless blocks are read through files ({@link BlockIo#readsThroughFiles()}) and merging
     * is off (a window's pages skip the merge a single-page load makes).
     */
    final FrameReadahead readahead;

    final LongAdder sharingHits = new LongAdder();
    final LongAdder deviceReads = new LongAdder();
    final LongAdder reclaims = new LongAdder();
    final LongAdder invalidations = new LongAdder();
    /** Frames freed by advice ({@link #drop}): {@link Advice#DONTNEED} and the {@link Advice#NOREUSE} ring. */
    final LongAdder pagesDropped = new LongAdder();
    final LongAdder loadFailures = new LongAdder();
    final LongAdder writebacks = new LongAdder();
    final LongAdder copyOnWrites = new LongAdder();
    final LongAdder writebackFailures = new LongAdder();
    final AtomicInteger dirtyFrames = new AtomicInteger();

    /**
     * @param onDeviceSyncFailure told of every failed sync of the whole device, once it is counted.
     * @param mergeHash           the content hash that merging looks pages up by; null leaves merging off.
     * @param aliasCapacity       most blocks that can be aliases of merged frames at once (ignored when merging is
     *                            off).
     * @param readahead           false to read only the page that missed, never a window.
     */
    DeviceCache(final BlockIo io, final int pageSize, final int capacity, final long claimTimeoutNanos,
        final RoomMaker roomMaker, final java.util.function.Consumer<Throwable> onDeviceSyncFailure,
        final ContentHash mergeHash, final int aliasCapacity, final boolean readahead)
    {
        this.syncs = new DeviceSync(io, onDeviceSyncFailure);
        this.arena = new FrameArena(pageSize, capacity);
        try
        {
            this.index = new DeviceIndex(capacity, arena.metadata());
        }
        catch (final RuntimeException | OutOfMemoryError ex)
        {
            arena.close();
            throw ex;
        }
        AliasTable aliases = null;
        try
        {
            aliases = null == mergeHash ? null : new AliasTable(aliasCapacity, capacity);
            final FrameWaiters waiters = new FrameWaiters(256);
            final ConcurrentHashMap<Long, FrameLoads.LoadError> loadErrors = new ConcurrentHashMap<>();
            this.pins = new PinCounts(arena, lock, loadErrors);
            this.claims = new FrameClaims(arena, index, lock, pins, claimTimeoutNanos, roomMaker, reclaims,
                dirtyFrames, aliases);
            this.loads = new FrameLoads(io, arena, index, lock, waiters, pins, loadErrors, deviceReads,
                loadFailures);
            this.merger = null == aliases ? null : new PageMerger(arena, index, lock, pins, claims, aliases,
                mergeHash);
            this.writes = new FrameWrites(io, arena, index, lock, waiters, pins, claims, writebacks,
                writebackFailures);
            this.readahead = readahead && io.readsThroughFiles() && null == merger ?
                new FrameReadahead(io, arena, index, lock, waiters, pins, claims, loads, deviceReads) : null;
        }
        catch (final RuntimeException | OutOfMemoryError ex)
        {
            if (null != aliases)
            {
                aliases.close();
            }
            index.close();
            arena.close();
            throw ex;
        }
    }

    FrameArena arena()
    {
        return arena;
    }

    /**
     * Finds or loads a block's frame and pins it.
     *
     * @param block device block.
     * @param file  the file whose page maps the block (where a file-backed cache reads it).
     * @param page  that page.
     * @return a pinned handle to an {@code UPTODATE} frame holding the block; the caller must
     * {@link PinCounts#unpin} it.
     * @throws IOException if the device read failed (for this thread's load or the load it waited for).
     */
    long acquire(final long block, final long file, final long page) throws IOException
    {
        return acquire(block, file, page, Scratch.get());
    }

    /**
     * {@link #acquire(long, long, long)}, also telling the caller whether this thread read the device for it.
     *
     * @param block   device block.
     * @param file    the file whose page maps the block.
     * @param page    that page.
     * @param scratch this thread's scratch: {@code loaded} is set to whether the block was read from the device.
     * @return a pinned handle, as for {@link #acquire(long, long, long)}.
     * @throws IOException if the device read failed.
     */
    long acquire(final long block, final long file, final long page, final Scratch scratch) throws IOException
    {
        return acquire(block, file, page, scratch, PageMerger.NO_DOMAIN);
    }

    /**
     * {@link #acquire(long, long, long, Scratch)} for a file in a merge domain: a block this thread reads from the
     * device is merged with a resident frame of the same domain holding the same bytes, if merging is on.
     *
     * @param block   device block.
     * @param file    the file whose page maps the block.
     * @param page    that page.
     * @param scratch this thread's scratch: {@code loaded} is set to whether the block was read from the device.
     * @param domain  the file's merge domain, or {@link PageMerger#NO_DOMAIN}.
     * @return a pinned handle, as for {@link #acquire(long, long, long)}; after a merge, to the merged frame.
     * @throws IOException if the device read failed.
     */
    long acquire(final long block, final long file, final long page, final Scratch scratch, final int domain)
        throws IOException
    {
        return acquire(block, file, page, scratch, domain, true);
    }

    /**
     * {@link #acquire(long, long, long, Scratch, int)}, marking the frame referenced on a sharing hit only if
     * {@code promote} ({@link Advice#NOREUSE} reads pass false).
     *
     * @param block   device block.
     * @param file    the file whose page maps the block.
     * @param page    that page.
     * @param scratch this thread's scratch: {@code loaded} is set to whether the block was read from the device.
     * @param domain  the file's merge domain, or {@link PageMerger#NO_DOMAIN}.
     * @param promote false to leave a found frame's reference bit as it is.
     * @return a pinned handle, as for {@link #acquire(long, long, long)}.
     * @throws IOException if the device read failed.
     */
    long acquire(final long block, final long file, final long page, final Scratch scratch, final int domain,
        final boolean promote) throws IOException
    {
        scratch.loaded = false;
        while (true)
        {
            claims.ensureNotClosing();
            final int found = index.find(block);
            if (NO_FRAME != found)
            {
                final long handle = PinCounts.tryPin(arena, found, block);
                if (Handle.NONE != handle)
                {
                    if (loads.awaitUpToDate(handle, block, file))
                    {
                        sharingHits.increment();
                        if (promote)
                        {
                            arena.markReferenced(found);
                        }
                        return handle;
                    }
                    continue;
                }
            }

            final long[] claim = scratch.claim;
            final long outcome = claims.findOrClaim(block, true, claim);
            final long handle = claim[0];
            if (FrameClaims.BUSY == outcome)
            {
                loads.awaitChange(Handle.frame(handle), claim[2]);
                continue;
            }
            if (FrameClaims.FOUND == outcome)
            {
                if (loads.awaitUpToDate(handle, block, file))
                {
                    sharingHits.increment();
                    if (promote)
                    {
                        arena.markReferenced(Handle.frame(handle));
                    }
                    return handle;
                }
                continue;
            }
            final long loaded = loads.load(handle, block, file, page);
            if (Handle.NONE != loaded)
            {
                scratch.loaded = true;
                return null == merger ? loaded : merger.mergeLoaded(loaded, block, domain, scratch.mergeCandidates);
            }
        }
    }

    /**
     * Reads a window of a file's pages from {@code page}, which missed, in one read ({@link FrameReadahead}).
     *
     * @param extent    the translation of {@code page}.
     * @param filePages pages of the file.
     * @param window    most pages to read.
     * @param scratch   this thread's scratch: {@code readAhead} is set to the pages covered, 0 if none was read.
     * @return a pinned handle to {@code page}'s up-to-date frame, or {@link Handle#NONE}: then {@link #acquire} it.
     */
    long readAhead(final long file, final long page, final Extent extent, final long filePages, final int window,
        final Scratch scratch)
    {
        claims.ensureNotClosing();
        return readahead.readAhead(file, page, extent, filePages, window, scratch);
    }

    /**
     * Finds a block's frame without loading it: the cached-or-nothing half of {@link #acquire}.
     *
     * @param block device block.
     * @return a pinned handle to the up-to-date frame, or {@link Handle#NONE} if the block is not cached.
     * @throws IOException if the block was loading and the load failed.
     */
    long lookup(final long block) throws IOException
    {
        final long[] found = Scratch.get().claim;
        while (true)
        {
            final long outcome = claims.findOrClaim(block, false, found);
            if (FrameClaims.ABSENT == outcome)
            {
                return Handle.NONE;
            }
            final long handle = found[0]; // read before waiting: whatever waits may claim through this scratch
            if (FrameClaims.BUSY == outcome)
            {
                loads.awaitChange(Handle.frame(handle), found[2]);
                continue;
            }
            if (loads.awaitUpToDate(handle, block, FrameLoads.ANY_FILE))
            {
                return handle;
            }
        }
    }

    /**
     * Looks a block up without pinning or loading: a handle to its up-to-date frame as of now, for fault-around. The
     * handle may go stale at once; whoever uses it checks its generation.
     *
     * @param block device block.
     * @return a handle, or {@link Handle#NONE} if the block is not cached and up to date.
     */
    long peek(final long block)
    {
        final int frame = index.find(block);
        if (NO_FRAME == frame)
        {
            return Handle.NONE;
        }
        final long word = arena.stateWord(frame);
        if (baseState(word) != UPTODATE || arena.deviceBlock(frame) != block || arena.stateWord(frame) != word)
        {
            return Handle.NONE;
        }
        return Handle.handle(frame, generation(word));
    }

    /**
     * Drops the cached copy of a block, if any: the block's contents changed on the device behind the cache, or the
     * block was freed. A frame still loading is orphaned so its bytes are never served; a pinned frame is orphaned
     * and freed by its last unpin.
     *
     * @param block device block.
     */
    void invalidate(final long block)
    {
        lock.lock();
        try
        {
            if (pins.isClosed())
            {
                return;
            }
            final int frame = index.findLocked(block);
            if (NO_FRAME == frame)
            {
                if (claims.invalidateAliasLocked(block))
                {
                    invalidations.increment();
                }
                return;
            }
            invalidations.increment();
            claims.orphanLocked(block, frame);
        }
        finally
        {
            lock.unlock();
        }
    }

    /** {@link #drop}: the frame was freed. */
    static final int DROP_FREED = 0;
    /**
     * {@link #drop}: the frame is idle but was kept (not asked to free it, merged blocks share it, or used since the
     * hand passed and not to be freed so); if {@code evenIfReferenced}, its reference bit was cleared.
     */
    static final int DROP_KEPT = 1;
    /** {@link #drop}: the handle is stale; nothing to drop. */
    static final int DROP_STALE = 2;
    /** {@link #drop}: the frame is in use (pinned, dirty, loading or being written) and stays. */
    static final int DROP_BUSY = 3;

    /**
     * Frees one named frame as the CLOCK sweep frees its victim, if it is idle: still at the handle's generation,
     * clean, up to date, unpinned, and (unless {@code evenIfReferenced}) not used since the hand last passed. A frame
     * that merged blocks share ({@link PageMerger}) is never freed here. An idle frame kept with
     * {@code evenIfReferenced} loses its reference bit: the sweep takes it first unless somebody uses it again. For
     * {@link Advice#DONTNEED} and the {@link Advice#NOREUSE} ring. Takes the allocation lock.
     *
     * @param handle           the frame's handle, pinned or not.
     * @param free             false to keep the frame (others may map it), only demoted as said.
     * @param evenIfReferenced true to free a frame used since the hand last passed.
     * @return {@link #DROP_FREED}, {@link #DROP_KEPT}, {@link #DROP_STALE} or {@link #DROP_BUSY}.
     */
    int drop(final long handle, final boolean free, final boolean evenIfReferenced)
    {
        final int frame = Handle.frame(handle);
        lock.lock();
        try
        {
            if (pins.isClosed())
            {
                return DROP_STALE;
            }
            final long word = arena.stateWord(frame);
            if (!Handle.matches(handle, word))
            {
                return DROP_STALE;
            }
            if (!isCleanUpToDate(word) || pins(word) != 0)
            {
                return DROP_BUSY;
            }
            if (!free || isMerged(word) || (!evenIfReferenced && arena.isReferenced(frame)) ||
                (null != claims.aliases && claims.aliases.hasAliases(frame)))
            {
                if (evenIfReferenced)
                {
                    arena.clearReferenced(frame);
                }
                return DROP_KEPT;
            }
            final long orphan = withState(word, ORPHAN);
            if (!claims.casState(frame, word, orphan))
            {
                return DROP_BUSY; // pinned meanwhile: a pin is a CAS of the same word, taken without the lock
            }
            index.remove(arena.deviceBlock(frame), frame);
            arena.free(frame, orphan);
            pagesDropped.increment();
            return DROP_FREED;
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * @param handle a handle.
     * @return the device block its frame holds, if the handle is still valid; else -1.
     */
    long blockOf(final long handle)
    {
        final int frame = Handle.frame(handle);
        final long word = arena.stateWord(frame);
        final long block = arena.deviceBlock(frame);
        return Handle.matches(handle, word) && arena.stateWord(frame) == word ? block : -1;
    }

    /**
     * @param handle a pinned handle, or {@link Handle#NONE} for the zero page.
     * @param length bytes to cover.
     * @return a new read-only buffer over the frame (or the zero page), valid while the pin is held.
     */
    ByteBuffer pageView(final long handle, final int length)
    {
        return Handle.NONE == handle ? ZeroPage.view(length) :
            arena.frameBuffer(Handle.frame(handle)).limit(length).asReadOnlyBuffer();
    }

    /**
     * @return the address of a page of zeros that holes are pinned to; never written.
     */
    long zeroPageAddress()
    {
        return ZeroPage.ADDRESS;
    }

    /** For tests: merged frames whose remaining blocks moved to a copy when one of their blocks left. */
    long rehomes()
    {
        return claims.rehomes.sum();
    }

    /** For tests: the allocation lock, to show what does not wait for it. */
    ReentrantLock allocationLock()
    {
        return lock;
    }

    /**
     * Counts without the lock, for statistics and the books tests keep (see {@link FrameBooks#counts}).
     *
     * @return {@code {resident frames, free frames, retired frames, index entries, parked frames}}.
     */
    int[] counts()
    {
        // no lock: each count is read opaquely, so statistics never wait for a miss (exact under the lock)
        return FrameBooks.counts(arena, index);
    }

    /**
     * Walks every frame under the lock and checks the books ({@link FrameBooks#check}).
     *
     * @return the first discrepancy, or {@code null}.
     */
    String checkBooks()
    {
        lock.lock();
        try
        {
            final String frames = FrameBooks.check(arena, index, dirtyFrames.get());
            return null != frames || null == claims.aliases || pins.isClosed() ? frames :
                FrameBooks.checkAliases(arena, index, claims.aliases);
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * @return off-heap bytes of metadata reserved besides the frame records: the device index.
     */
    long indexBytesReserved()
    {
        return index.bytesReserved();
    }

    /**
     * Sets the frames in service ({@link FrameClaims#limit}). Inside the gate and marked as a miss is: the dirty
     * frames it writes back run the device and the translator on this thread, and a close they call must throw, not
     * wait for this thread to leave the gate ({@link ReaderGate#refuseCloseFromInside}).
     *
     * @return frames still over the limit, parked when freed.
     */
    int limit(final int frames)
    {
        final ReaderGate marked = readers.enterMarked();
        try
        {
            return claims.limit(frames);
        }
        finally
        {
            readers.exitMarked(marked);
        }
    }

    /** @return the frames the cache may hold in service now. */
    int limit()
    {
        return arena.limit();
    }

    /** The cache is closing: claims stop waiting for frames. */
    void closing()
    {
        claims.closing();
        loads.closing(); // a read waiting for a load gives up: the loader may be a writer closing the cache
    }

    /**
     * Frees the device index, and the arena unless a frame is still pinned: then the last unpin of a frame pinned
     * now frees it ({@link PinCounts#close}). Idempotent.
     */
    @Override
    public void close()
    {
        readers.close(); // no lock-free read is inside any more, nor gets in: the index and the frames may go
        pins.close(index, merger);
    }
}
