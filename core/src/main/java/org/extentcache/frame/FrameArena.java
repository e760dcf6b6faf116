package org.extentcache.frame;

import org.agrona.BufferUtil;
import org.agrona.UnsafeApi;
import org.agrona.concurrent.AtomicBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteBuffer;

import static org.extentcache.frame.FrameDescriptor.*;

/**
 * The frames: {@code capacity} page-size slots of off-heap memory and one metadata record per frame
 * ({@link FrameDescriptor}), all reserved when the arena is built and released by {@link #close()}.
 *
 * <h2>Memory</h2>
 * Frame memory is allocated as direct {@link ByteBuffer}s of at most 1 GiB each (a frame never straddles two), so
 * the JVM's direct-memory accounting ({@code BufferPoolMXBean "direct"}, {@code -XX:MaxDirectMemorySize}) sees it.
 * {@code ByteBuffer.allocateDirect} zeroes what it allocates, so the whole arena is committed up front: reserved
 * and resident bytes are the same from the start, and the cache never allocates frame memory afterwards. The
 * metadata region ({@link FrameDescriptor#RECORD_LENGTH} bytes per frame) is one more direct buffer.
 *
 * <h2>Concurrency</h2>
 * State words are read with acquire ({@code getLongVolatile}) and changed with CAS, so any thread may inspect or pin
 * a frame. The free list, the CLOCK hand and every transition into or out of {@link FrameDescriptor#FREE} belong to
 * the caller's allocation lock (the arena does not lock): methods that say "caller holds the lock" rely on it.
 *
 * <h2>Costs</h2>
 * Building the arena touches every byte (about 0.3 ms per MiB). A state-word load is one cache line of the record;
 * the record is 24 bytes, so nearby frames share lines and a CAS on one frame can slow a neighbour's reader.
 */
public final class FrameArena implements AutoCloseable
{
    /** Opaque reads of the counts, for statistics taken without the lock that guards their updates. */
    private static final java.lang.invoke.VarHandle FREECOUNT;
    private static final java.lang.invoke.VarHandle RETIREDCOUNT;

    static
    {
        try
        {
            final java.lang.invoke.MethodHandles.Lookup lookup = java.lang.invoke.MethodHandles.lookup();
            FREECOUNT = lookup.findVarHandle(FrameArena.class, "freeCount", int.class);
            RETIREDCOUNT = lookup.findVarHandle(FrameArena.class, "retiredCount", int.class);
        }
        catch (final ReflectiveOperationException ex)
        {
            throw new ExceptionInInitializerError(ex);
        }
    }

    /** Largest direct buffer the arena allocates. */
    private static final int CHUNK_BYTES_MAX = 1 << 30;

    private final int pageSize;
    private final int pageShift;
    private final int capacity;
    private final int framesPerChunkShift;
    private final int frameInChunkMask;
    private final ByteBuffer[] chunks;
    private final long[] chunkAddresses;
    private final ByteBuffer metadataBuffer;
    private final AtomicBuffer metadata;

    private final ThreadLocal<ByteBuffer[]> transferViews;
    private int freeHead;
    private int freeCount;
    private int retiredCount;
    /** Frames taken out of service by a lower {@link #limit}: FREE, on their own list, never claimed. */
    private int parkedHead = NO_FRAME;
    private volatile int parkedCount;
    /**
     * Frames the cache may hold in service (free or holding a block); written under the allocation lock, volatile so
     * that {@link #limit()} reads the latest value without it.
     */
    private volatile int limit;
    private int clockHand;
    private boolean closed;

    /**
     * The JVM caps direct buffers, where the frames live, at {@code -XX:MaxDirectMemorySize}, by default the maximum
     * heap size: a cache larger than the heap fails here unless the flag raises the cap. Says so, with the numbers.
     */
    private static OutOfMemoryError directMemoryExhausted(final long bytes, final OutOfMemoryError cause)
    {
        final String limit = java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
            .filter(argument -> argument.startsWith("-XX:MaxDirectMemorySize="))
            .reduce((first, last) -> last)
            .orElse("no -XX:MaxDirectMemorySize, so the limit is the maximum heap size (" +
                Runtime.getRuntime().maxMemory() + " bytes)");
        final OutOfMemoryError error = new OutOfMemoryError("ExtentCache could not reserve " + bytes + " bytes of " +
            "direct memory for its frames and their records: the JVM limits direct buffers with " +
            "-XX:MaxDirectMemorySize (" + limit + "); start java with -XX:MaxDirectMemorySize set to at least the " +
            "cache's capacity plus what else uses direct memory, or build a smaller cache (" + cause.getMessage() +
            ")");
        error.initCause(cause);
        return error;
    }

    /**
     * Reserves the frames and their metadata.
     *
     * @param pageSize bytes per frame, a power of two.
     * @param capacity number of frames, {@code 1 .. maxCapacity(pageSize)}.
     * @throws IllegalArgumentException naming the offending value.
     * @throws OutOfMemoryError         if direct memory cannot be reserved; nothing stays allocated.
     */
    public FrameArena(final int pageSize, final int capacity)
    {
        if (pageSize <= 0 || Integer.bitCount(pageSize) != 1 || pageSize > CHUNK_BYTES_MAX)
        {
            throw new IllegalArgumentException("pageSize must be a power of two: pageSize=" + pageSize);
        }
        if (capacity <= 0 || capacity > maxCapacity())
        {
            throw new IllegalArgumentException(
                "capacity must be 1.." + maxCapacity() + " frames: capacity=" + capacity);
        }
        this.pageSize = pageSize;
        this.pageShift = Integer.numberOfTrailingZeros(pageSize);
        this.capacity = capacity;

        final long totalBytes = (long)capacity << pageShift;
        final int chunkBytes = (int)Math.min(CHUNK_BYTES_MAX, totalBytes);
        final int framesPerChunk = chunkBytes >>> pageShift;
        this.framesPerChunkShift = Integer.numberOfTrailingZeros(Integer.highestOneBit(framesPerChunk));
        this.frameInChunkMask = (1 << framesPerChunkShift) - 1;
        final int chunkCount = (int)((capacity + (1L << framesPerChunkShift) - 1) >>> framesPerChunkShift);
        this.chunks = new ByteBuffer[chunkCount];
        this.chunkAddresses = new long[chunkCount];

        ByteBuffer metadataBuffer = null;
        try
        {
            for (int i = 0; i < chunkCount; i++)
            {
                final long framesInChunk = Math.min(1L << framesPerChunkShift, capacity - ((long)i << framesPerChunkShift));
                chunks[i] = ByteBuffer.allocateDirect((int)(framesInChunk << pageShift));
                chunkAddresses[i] = BufferUtil.address(chunks[i]);
            }
            metadataBuffer = ByteBuffer.allocateDirect(capacity * RECORD_LENGTH);
        }
        catch (final OutOfMemoryError ex)
        {
            freeAll(chunks, metadataBuffer);
            throw directMemoryExhausted(totalBytes + (long)capacity * RECORD_LENGTH, ex);
        }
        catch (final RuntimeException ex)
        {
            freeAll(chunks, metadataBuffer);
            throw ex;
        }
        this.metadataBuffer = metadataBuffer;
        this.metadata = new UnsafeBuffer(metadataBuffer);
        this.transferViews = ThreadLocal.withInitial(() -> new ByteBuffer[chunkCount]);

        freeHead = NO_FRAME;
        for (int frame = capacity - 1; frame >= 0; frame--)
        {
            metadata.putLong(stateWordOffset(frame), packStateWord(FIRST_GENERATION, FREE, 0));
            metadata.putLong(deviceBlockOffset(frame), -1);
            metadata.putInt(nextFreeOffset(frame), freeHead);
            freeHead = frame;
        }
        freeCount = capacity;
        limit = capacity;
        UnsafeApi.storeFence();
    }

    /**
     * @return the most frames an arena can hold: the metadata region is indexed by {@code int}.
     */
    public static int maxCapacity()
    {
        return Math.min(Handle.MAX_FRAMES, Integer.MAX_VALUE / RECORD_LENGTH);
    }

    /**
     * @return bytes per frame.
     */
    public int pageSize()
    {
        return pageSize;
    }

    /**
     * @return number of frames.
     */
    public int capacity()
    {
        return capacity;
    }

    /**
     * @param frame frame number.
     * @return the address of the frame's first byte; valid until {@link #close()}.
     */
    public long address(final int frame)
    {
        return chunkAddresses[frame >>> framesPerChunkShift] + ((long)(frame & frameInChunkMask) << pageShift);
    }

    /**
     * A {@link ByteBuffer} over exactly one frame, for device transfers. Allocates a view: for miss paths only.
     *
     * @param frame frame number.
     * @return a new buffer with position 0 and limit {@code pageSize}.
     */
    public ByteBuffer frameBuffer(final int frame)
    {
        final int offset = (frame & frameInChunkMask) << pageShift;
        return chunks[frame >>> framesPerChunkShift].duplicate().limit(offset + pageSize).position(offset).slice();
    }

    /**
     * A buffer over exactly one frame for a device transfer, without allocating: this thread's own duplicate of the
     * frame's chunk, positioned on the frame. Valid until this thread's next call; the device must not keep it
     * (the {@code BlockDevice} contract).
     *
     * @param frame frame number.
     * @return a buffer whose position and limit bound the frame.
     */
    public ByteBuffer transferBuffer(final int frame)
    {
        final int chunk = frame >>> framesPerChunkShift;
        final ByteBuffer[] views = transferViews.get();
        ByteBuffer view = views[chunk];
        if (null == view)
        {
            view = chunks[chunk].duplicate();
            views[chunk] = view;
        }
        final int offset = (frame & frameInChunkMask) << pageShift;
        return view.limit(offset + pageSize).position(offset);
    }

    /**
     * Acquire load of a frame's state word; pairs with the release semantics of {@link #casStateWord} and
     * {@link #putStateWordRelease}.
     *
     * @param frame frame number.
     * @return the state word.
     */
    public long stateWord(final int frame)
    {
        return metadata.getLongVolatile(stateWordOffset(frame));
    }

    /**
     * Atomically replaces a frame's state word (volatile semantics: a full fence).
     *
     * @param frame    frame number.
     * @param expected the word the caller read.
     * @param update   the new word.
     * @return true if the word was {@code expected} and is now {@code update}.
     */
    public boolean casStateWord(final int frame, final long expected, final long update)
    {
        return metadata.compareAndSetLong(stateWordOffset(frame), expected, update);
    }

    /**
     * Release store of a frame's state word, for a thread that owns the frame exclusively; read by
     * {@link #stateWord}'s acquire load.
     *
     * @param frame frame number.
     * @param word  the new word.
     */
    public void putStateWordRelease(final int frame, final long word)
    {
        metadata.putLongRelease(stateWordOffset(frame), word);
    }

    /**
     * @param frame frame number.
     * @return the device block the frame holds (meaningful only as described in {@link FrameDescriptor}).
     */
    public long deviceBlock(final int frame)
    {
        return metadata.getLongVolatile(deviceBlockOffset(frame));
    }

    /**
     * Sets the frame's device block; the caller owns the frame (just claimed, state FREE).
     *
     * @param frame frame number.
     * @param block device block.
     */
    public void deviceBlock(final int frame, final long block)
    {
        metadata.putLong(deviceBlockOffset(frame), block);
    }

    /**
     * Sets the CLOCK reference bit if it is clear. A plain load first, so a hot frame's line is not written on
     * every hit.
     *
     * @param frame frame number.
     */
    public void markReferenced(final int frame)
    {
        final int offset = referencedOffset(frame);
        final byte referenced = metadata.getByte(offset);
        if (referenced != REFERENCED)
        {
            // a page read ahead is used for the first time: only as a load would be
            metadata.putByte(offset, referenced == READ_AHEAD ? NOT_REFERENCED : REFERENCED);
        }
    }

    /**
     * @param frame frame number.
     * @return true if the frame was used again since it was loaded or since the CLOCK hand last passed
     * ({@link FrameDescriptor#REFERENCED}).
     */
    public boolean isReferenced(final int frame)
    {
        return metadata.getByte(referencedOffset(frame)) == REFERENCED;
    }

    /**
     * Clears the CLOCK reference bit ({@link FrameDescriptor#NOT_REFERENCED}): the frame is the sweep's next choice
     * unless it is used again before the hand reaches it. A plain store, as {@link #markReferenced}.
     *
     * @param frame frame number.
     */
    public void clearReferenced(final int frame)
    {
        metadata.putByte(referencedOffset(frame), NOT_REFERENCED);
    }

    /**
     * Marks a frame read ahead and not used yet ({@link FrameDescriptor#READ_AHEAD}); the caller owns the frame
     * (LOADING, before publishing it).
     *
     * @param frame frame number.
     */
    public void markReadAhead(final int frame)
    {
        metadata.putByte(referencedOffset(frame), READ_AHEAD);
    }

    /**
     * Pops a frame off the free list; the caller holds the allocation lock.
     *
     * @return a frame in state FREE, or {@link FrameDescriptor#NO_FRAME} if the list is empty.
     */
    public int popFree()
    {
        final int frame = freeHead;
        if (frame != NO_FRAME)
        {
            freeHead = metadata.getInt(nextFreeOffset(frame));
            metadata.putInt(nextFreeOffset(frame), NO_FRAME);
            freeCount--;
        }
        return frame;
    }

    /**
     * Frees a frame whose state word the caller has made unusable to everyone else (a CAS out of
     * {@code UPTODATE}/{@code ORPHAN} with no pins): bumps its generation so every handle to it goes stale, and puts
     * it on the free list (parked instead while more frames are in service than the {@link #limit(int)}), or retires
     * it if its generations are used up (and then a parked frame, if any, comes back in its place). The caller holds
     * the allocation lock.
     *
     * @param frame    frame number.
     * @param lastWord the word the caller's CAS installed; its generation is the one to retire.
     */
    public void free(final int frame, final long lastWord)
    {
        final long nextGeneration = generation(lastWord) + 1;
        metadata.putLong(deviceBlockOffset(frame), -1);
        metadata.putByte(referencedOffset(frame), NOT_REFERENCED);
        if (nextGeneration >= MAX_GENERATION)
        {
            putStateWordRelease(frame, packStateWord(generation(lastWord), RETIRED, 0));
            retiredCount++;
            if (NO_FRAME != parkedHead && capacity - retiredCount - parkedCount < limit)
            {
                unpark(); // a parked frame takes its place: the frames in service stay at the limit
            }
            return;
        }
        putStateWordRelease(frame, packStateWord(nextGeneration, FREE, 0));
        if (capacity - retiredCount - parkedCount > limit)
        {
            park(frame);
            return;
        }
        metadata.putInt(nextFreeOffset(frame), freeHead);
        freeHead = frame;
        freeCount++;
    }

    private void park(final int frame)
    {
        metadata.putInt(nextFreeOffset(frame), parkedHead);
        parkedHead = frame;
        parkedCount++;
    }

    /**
     * Sets how many frames the cache may hold in service; the caller holds the allocation lock. Frames over it are
     * taken out of service as they are freed, free ones at once; frames under it come back from the parked ones
     * (never beyond the frames reserved, less those retired).
     *
     * @param frames the new limit, {@code 1 .. capacity}.
     * @return frames still in service over the new limit: holding a block, they are parked when freed.
     */
    public int limit(final int frames)
    {
        if (frames < 1 || frames > capacity)
        {
            throw new IllegalArgumentException("limit must be 1.." + capacity + " frames: limit=" + frames);
        }
        limit = frames;
        while (capacity - retiredCount - parkedCount > limit && NO_FRAME != freeHead)
        {
            park(popFree());
        }
        while (capacity - retiredCount - parkedCount < limit && NO_FRAME != parkedHead)
        {
            unpark();
        }
        return overLimit();
    }

    /**
     * @return frames in service over the {@link #limit()}, each parked when it is freed; the caller holds the
     * allocation lock.
     */
    public int overLimit()
    {
        return Math.max(0, capacity - retiredCount - parkedCount - limit);
    }

    /** Puts the first parked frame back on the free list; the caller holds the allocation lock. */
    private void unpark()
    {
        final int frame = parkedHead;
        parkedHead = metadata.getInt(nextFreeOffset(frame));
        parkedCount--;
        metadata.putInt(nextFreeOffset(frame), freeHead);
        freeHead = frame;
        freeCount++;
    }

    /**
     * @return the frames the cache may hold in service ({@link #limit(int)}), as last set.
     */
    public int limit()
    {
        return limit;
    }

    /**
     * @return frames out of service because of a lower {@link #limit(int)}; a recent value without the lock.
     */
    public int parkedCount()
    {
        return parkedCount;
    }

    /**
     * Finds a victim with a CLOCK sweep and takes it out of service: a frame that is {@code UPTODATE}, clean,
     * unpinned and not referenced since the hand last passed (a page read ahead and not used yet counts as not
     * referenced). Dirty frames are skipped: they must be written back
     * first, which is the writers' job (a writer flushes its file when too many frames are dirty). Referenced frames get their bit cleared (a second chance). The
     * caller holds the allocation lock and must then drop the victim from the device index and {@link #free} it or
     * reuse it.
     *
     * @param maxSteps frames to examine before giving up.
     * @param victim   receives the victim frame number in element 0.
     * @return the victim's state word after the CAS (generation unchanged, state ORPHAN), with the frame number in
     * {@code victim[0]}; or {@code -1} if none was found within {@code maxSteps}.
     */
    public long sweep(final int maxSteps, final int[] victim)
    {
        for (int step = 0; step < maxSteps; step++)
        {
            final int frame = clockHand;
            clockHand = frame + 1 == capacity ? 0 : frame + 1;
            final long word = stateWord(frame);
            if (!isCleanUpToDate(word) || pins(word) != 0)
            {
                continue;
            }
            final int referenced = referencedOffset(frame);
            // only a use since the hand passed earns a second chance: a page read ahead and not used yet
            // (READ_AHEAD) is no hotter than a page loaded and used once
            if (metadata.getByte(referenced) == REFERENCED)
            {
                metadata.putByte(referenced, NOT_REFERENCED);
                continue;
            }
            final long orphan = withState(word, ORPHAN);
            if (casStateWord(frame, word, orphan))
            {
                victim[0] = frame;
                return orphan;
            }
        }
        return -1;
    }

    /**
     * {@link #sweep} for a speculative claim (readahead): takes only a frame the sweep would take with its reference
     * bit already clear ({@link FrameDescriptor#NOT_REFERENCED}), and clears no bit, so a frame used since the hand
     * last passed is never given up for a page nobody asked for yet (nor is a page read ahead and not used yet). The
     * caller holds the allocation lock, as for {@link #sweep}.
     *
     * @param budget frames left to examine, in element 0; decremented per frame examined.
     * @param victim receives the victim frame number in element 0.
     * @return as for {@link #sweep}.
     */
    public long sweepUnreferenced(final int[] budget, final int[] victim)
    {
        while (budget[0] > 0)
        {
            budget[0]--;
            final int frame = clockHand;
            clockHand = frame + 1 == capacity ? 0 : frame + 1;
            final long word = stateWord(frame);
            if (!isCleanUpToDate(word) || pins(word) != 0 ||
                metadata.getByte(referencedOffset(frame)) != NOT_REFERENCED)
            {
                continue;
            }
            final long orphan = withState(word, ORPHAN);
            if (casStateWord(frame, word, orphan))
            {
                victim[0] = frame;
                return orphan;
            }
        }
        return -1;
    }

    /**
     * @return frames on the free list: exact under the lock that guards allocation, else a recent value (an opaque
     * read, for statistics).
     */
    public int freeCount()
    {
        return (int)FREECOUNT.getOpaque(this);
    }

    /**
     * @return frames retired for good: exact under the allocation lock, else a recent value.
     */
    public int retiredCount()
    {
        return (int)RETIREDCOUNT.getOpaque(this);
    }

    /**
     * @return bytes of frame memory reserved.
     */
    public long frameBytesReserved()
    {
        return (long)capacity << pageShift;
    }

    /**
     * @return bytes of off-heap metadata reserved.
     */
    public long metadataBytesReserved()
    {
        return (long)capacity * RECORD_LENGTH;
    }

    /**
     * @return the metadata region, for the device index's key comparisons.
     */
    public AtomicBuffer metadata()
    {
        return metadata;
    }

    /**
     * Releases all frame memory and metadata. Not thread-safe: no other call may be in flight or follow.
     */
    @Override
    public void close()
    {
        if (!closed)
        {
            closed = true;
            freeAll(chunks, metadataBuffer);
        }
    }

    private static void freeAll(final ByteBuffer[] chunks, final ByteBuffer metadataBuffer)
    {
        for (int i = 0; i < chunks.length; i++)
        {
            if (null != chunks[i])
            {
                BufferUtil.free(chunks[i]);
                chunks[i] = null;
            }
        }
        if (null != metadataBuffer)
        {
            BufferUtil.free(metadataBuffer);
        }
    }
}
