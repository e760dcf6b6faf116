package org.extentcache.translate;

import static org.extentcache.translate.SuperblockDescriptor.SLOT_COUNT;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.collections.LongArrayList;

/**
 * What a persistent {@link ExtentStore} has made durable, what its next metadata snapshot will record, and the
 * references that keep both readable after a crash.
 *
 * <h2>Captures</h2>
 * A <em>capture</em> is an immutable copy of one file's map and size, taken when the file's state may be made
 * durable: by {@link ExtentStore#commit} (the cache has just written and synced the file's data) or by
 * {@link ExtentStore#sync} (for a file the cache has not written since its last commit: every block it maps was
 * written by the store itself before it was mapped). Per file there are at most two that matter:
 * <ul>
 *   <li>{@code durable}: the capture the live snapshot (the last one whose superblock synced) holds;</li>
 *   <li>{@code pending}: a newer capture, waiting for the next snapshot. A snapshot records, for every file that
 *       exists when it begins, its pending capture, else its durable one, else an empty file of size 0.</li>
 * </ul>
 * A capture is also held by the snapshot being written, and by each <em>uncertain</em> snapshot: one whose
 * superblock write or sync failed, which may or may not be on the device. A capture counts its holders; while it
 * has any, it <em>pins</em> every block it maps.
 *
 * <h2>Pins: why durable blocks are not free and read as shared</h2>
 * {@code durableRefs} counts, per block, the held captures that map it. A block with a durable reference holds
 * exactly one extra reference in the store's own counts ({@code mapped}), taken when its durable count leaves 0 and
 * dropped when it returns to 0. That one reference gives both rules a crash needs, with no change to the store's
 * hot paths:
 * <ul>
 *   <li><b>No reuse.</b> A block a durable map may point at after a crash is never free, so nothing writes it
 *       until a snapshot that no longer maps it has synced (and every uncertain one is gone).</li>
 *   <li><b>No overwrite in place.</b> A pinned block that one file page maps has count 2 and so reads as shared
 *       ({@link ExtentStore#translate}): the cache copies on write instead of writing the durable block in place.
 *       After a commit, the first write to each page therefore allocates a new block (as in btrfs and ZFS).</li>
 * </ul>
 * The superblock slots and the live snapshot's chain blocks hold one reference each in {@code mapped} too.
 * Dropping a pin may free a block; the caller tells the listeners ({@code freed}).
 *
 * <h2>Tickets (group commit)</h2>
 * Every new capture, and every {@link ExtentStore#sync}, takes the next ticket. A snapshot covers every ticket
 * issued before it began ({@link Attempt#coveredTicket}); {@link SnapshotCommitter} lets a caller return once a
 * synced snapshot covers its ticket, so concurrent commits share one snapshot write.
 *
 * <h2>Snapshots that fail</h2>
 * If a snapshot fails before its superblock write was issued, its chain blocks are freed and its holds dropped:
 * nothing points at them. If it fails after, the device may hold its superblock or not; it becomes uncertain and
 * keeps its chain and its holds until the next snapshot syncs (which goes to the same slot, the one not holding the
 * live superblock, and so replaces it). Either way the live snapshot and the in-memory durable state stand, pending
 * captures stay pending, and the next snapshot retries them.
 *
 * <h2>Costs</h2>
 * A capture copies the file's map ({@code O(E)} runs) and pins each page it maps ({@code O(P)} count updates);
 * dropping one unpins as many. A capture equal to the latest one (same size and runs) is not taken again, so a
 * commit or sync of an unchanged file costs {@code O(E)}. Memory: the two {@code BlockRefCounts} of
 * {@code durableRefs} ({@code B / 4} bytes of bitmaps plus 4 bytes per block in 64 Ki-block chunks), and each
 * capture's runs (24 bytes each).
 *
 * <p><b>Thread safety:</b> none; every method runs under the owning {@link ExtentStore}'s write lock.
 */
final class DurableState
{
    private static final long[] NO_BLOCKS = new long[0];
    private static final byte[] NO_BYTES = new byte[0];

    /** One file's map and size as a snapshot records it. Immutable; pins its blocks while it has holders. */
    static final class Capture
    {
        final long size;
        final ExtentMap map;
        private int holders;

        private Capture(final long size, final ExtentMap map)
        {
            this.size = size;
            this.map = map;
        }

        boolean sameAs(final long otherSize, final ExtentMap otherMap)
        {
            return size == otherSize && map.sameRuns(otherMap);
        }
    }

    /** The capture of a file never committed: empty, size 0, never pinned. */
    static final Capture EMPTY = new Capture(0, new ExtentMap());

    /** A file's captures and whether the cache wrote it since its last commit. */
    private static final class Entry
    {
        private Capture durable;
        private Capture pending;
        private long pendingTicket;
        private boolean written;
    }

    /** One snapshot write: what it records, where it goes, and how far it got. */
    static final class Attempt
    {
        final long sequence;
        final int slot;
        final long coveredTicket;
        final long nextFileId;
        final byte[] attachment;
        final long[] ids;
        final Capture[] captures;
        final long[] dropped;
        long[] chain = NO_BLOCKS;
        boolean superblockIssued;

        private Attempt(final long sequence, final int slot, final long coveredTicket, final long nextFileId,
            final byte[] attachment, final long[] ids, final Capture[] captures, final long[] dropped)
        {
            this.sequence = sequence;
            this.slot = slot;
            this.coveredTicket = coveredTicket;
            this.nextFileId = nextFileId;
            this.attachment = attachment;
            this.ids = ids;
            this.captures = captures;
            this.dropped = dropped;
        }
    }

    private final BlockRefCounts mapped;
    private final BlockRefCounts durableRefs;
    private final Long2ObjectHashMap<Entry> entries = new Long2ObjectHashMap<>();
    private final List<Attempt> uncertain = new ArrayList<>();
    private byte[] attachment = NO_BYTES;
    private long lastTicket;
    private long liveSequence;
    private int liveSlot;
    private long[] liveChain = NO_BLOCKS;
    private long highestSequence;

    /**
     * @param mapped the store's reference counts and allocator.
     */
    DurableState(final BlockRefCounts mapped)
    {
        this.mapped = mapped;
        this.durableRefs = new BlockRefCounts(mapped.blockCount(), Integer.MAX_VALUE);
    }

    /**
     * For a freshly formatted device: reserves the slots; the first snapshot goes to slot 0.
     */
    void formatted()
    {
        reserveSlots();
        liveSlot = SLOT_COUNT - 1;
    }

    /**
     * For a recovered device: reserves the slots and the live snapshot's chain. Files follow by {@link #restored}.
     *
     * @param superblock      the live superblock.
     * @param chain           its chain's blocks.
     * @param highestSequence the highest sequence either slot holds intact.
     * @param recoveredBytes  the attachment.
     */
    void recovered(final Superblock superblock, final long[] chain, final long highestSequence,
        final byte[] recoveredBytes)
    {
        reserveSlots();
        for (final long block : chain)
        {
            mapped.allocate(block);
        }
        liveChain = chain;
        liveSlot = superblock.slot;
        liveSequence = superblock.sequence;
        this.highestSequence = Math.max(highestSequence, superblock.sequence);
        this.attachment = recoveredBytes;
    }

    /**
     * Records a recovered file's map as durable; the store has already counted the map's own references.
     *
     * @param file a file id.
     * @param size its size.
     * @param map  its map.
     */
    void restored(final long file, final long size, final ExtentMap map)
    {
        final Entry entry = new Entry();
        entry.durable = capture(size, map);
        entry.durable.holders = 1;
        entries.put(file, entry);
    }

    /**
     * @return the sequence of the live snapshot; 0 before the first.
     */
    long liveSequence()
    {
        return liveSequence;
    }

    /**
     * @param block a device block.
     * @return how many held captures map it.
     */
    int durableRefCount(final long block)
    {
        return durableRefs.refCount(block);
    }

    /**
     * @return the live snapshot's chain blocks plus the slots: blocks that hold metadata.
     */
    long metadataBlocks()
    {
        long count = SLOT_COUNT + liveChain.length;
        for (final Attempt attempt : uncertain)
        {
            count += attempt.chain.length;
        }
        return count;
    }

    /**
     * @param bytes the new attachment; the caller has copied it and checked its size.
     */
    void attachment(final byte[] bytes)
    {
        attachment = bytes;
    }

    /**
     * @return the attachment, not copied.
     */
    byte[] attachment()
    {
        return attachment;
    }

    /**
     * The cache is writing {@code file}: until its next {@link #commit}, {@link ExtentStore#sync} must not capture
     * it (its data may be only in the cache).
     *
     * @param file an existing file.
     */
    void markWritten(final long file)
    {
        entry(file).written = true;
    }

    /**
     * @param file a file id.
     * @return true if the cache wrote the file since its last commit.
     */
    boolean isWritten(final long file)
    {
        final Entry entry = entries.get(file);
        return null != entry && entry.written;
    }

    /**
     * Captures {@code file}'s current map and size for the next snapshot, unless the latest capture equals them.
     *
     * @param file  an existing file.
     * @param size  its size.
     * @param map   its map.
     * @param freed receives blocks a replaced pending capture's unpinning freed.
     * @return the ticket a synced snapshot must cover, or 0 if the live snapshot already holds exactly this state.
     */
    long commit(final long file, final long size, final ExtentMap map, final LongArrayList freed)
    {
        final Entry entry = entry(file);
        entry.written = false;
        if (null != entry.pending)
        {
            if (entry.pending.sameAs(size, map))
            {
                return entry.pendingTicket;
            }
        }
        else if (null != entry.durable && entry.durable.sameAs(size, map))
        {
            return 0;
        }
        final Capture fresh = capture(size, map);
        fresh.holders = 1;
        release(entry.pending, freed);
        entry.pending = fresh;
        entry.pendingTicket = ++lastTicket;
        return entry.pendingTicket;
    }

    /**
     * @return a ticket no snapshot covers yet: the next snapshot records the store as it is then.
     */
    long newTicket()
    {
        return ++lastTicket;
    }

    /**
     * Begins a snapshot of the files that exist now: holds each one's latest capture.
     *
     * @param ids        every existing file, ascending.
     * @param nextFileId the store's next file id.
     * @return the attempt; finish it with {@link #applied} or {@link #failed}.
     */
    Attempt begin(final long[] ids, final long nextFileId)
    {
        final Capture[] captures = new Capture[ids.length];
        for (int i = 0; i < ids.length; i++)
        {
            final Entry entry = entries.get(ids[i]);
            Capture capture = EMPTY;
            if (null != entry)
            {
                capture = null != entry.pending ? entry.pending : null != entry.durable ? entry.durable : EMPTY;
            }
            hold(capture);
            captures[i] = capture;
        }
        final LongArrayList dropped = new LongArrayList();
        entries.forEachLong((id, entry) ->
        {
            if (Arrays.binarySearch(ids, id) < 0)
            {
                dropped.addLong(id);
            }
        });
        return new Attempt(++highestSequence, SLOT_COUNT - 1 - liveSlot, lastTicket, nextFileId, attachment, ids,
            captures, dropped.toLongArray());
    }

    /**
     * Allocates the attempt's chain: the lowest free blocks.
     *
     * @param attempt       the attempt.
     * @param payloadLength its payload's length.
     * @param blockSize     the device's block size.
     * @throws IOException {@code "device full: ..."} if too few blocks are free (nothing is allocated).
     */
    void allocateChain(final Attempt attempt, final int payloadLength, final int blockSize) throws IOException
    {
        final int needed = SnapshotDescriptor.blocksFor(payloadLength, blockSize);
        if (needed > mapped.freeCount())
        {
            throw new IOException("device full: the metadata snapshot needs " + needed + " blocks for " +
                payloadLength + " bytes; free=" + mapped.freeCount() + " blockCount=" + mapped.blockCount());
        }
        final long[] chain = new long[needed];
        long from = 0;
        for (int i = 0; i < needed; i++)
        {
            chain[i] = mapped.nextFree(from);
            mapped.allocate(chain[i]);
            from = chain[i] + 1;
        }
        attempt.chain = chain;
    }

    /**
     * The attempt's superblock has synced: it is the live snapshot. Its captures become durable, files deleted
     * before it began are forgotten, and the previous live snapshot's chain, every uncertain attempt and every
     * capture no longer held are released.
     *
     * @param attempt the attempt.
     * @param freed   receives the blocks this frees.
     */
    void applied(final Attempt attempt, final LongArrayList freed)
    {
        for (int i = 0; i < attempt.ids.length; i++)
        {
            final Capture capture = attempt.captures[i];
            final Entry entry = entry(attempt.ids[i]);
            final Capture old = entry.durable;
            entry.durable = capture; // the attempt's hold passes to the entry
            release(old, freed);
            if (entry.pending == capture)
            {
                entry.pending = null;
                release(capture, freed);
            }
        }
        for (final long id : attempt.dropped)
        {
            final Entry entry = entries.remove(id);
            if (null != entry)
            {
                release(entry.durable, freed);
                release(entry.pending, freed);
            }
        }
        for (final Attempt earlier : uncertain)
        {
            abandon(earlier, freed);
        }
        uncertain.clear();
        freeChain(liveChain, freed);
        liveChain = attempt.chain;
        liveSlot = attempt.slot;
        liveSequence = attempt.sequence;
    }

    /**
     * The attempt failed. Before its superblock write was issued, it is abandoned (holds dropped, chain freed);
     * after, it is kept as uncertain until the next snapshot syncs.
     *
     * @param attempt the attempt.
     * @param freed   receives the blocks this frees.
     */
    void failed(final Attempt attempt, final LongArrayList freed)
    {
        if (attempt.superblockIssued)
        {
            uncertain.add(attempt);
        }
        else
        {
            abandon(attempt, freed);
        }
    }

    private void abandon(final Attempt attempt, final LongArrayList freed)
    {
        for (final Capture capture : attempt.captures)
        {
            release(capture, freed);
        }
        freeChain(attempt.chain, freed);
        attempt.chain = NO_BLOCKS;
    }

    private void freeChain(final long[] chain, final LongArrayList freed)
    {
        for (final long block : chain)
        {
            if (mapped.release(block))
            {
                freed.addLong(block);
            }
        }
    }

    private void reserveSlots()
    {
        for (int slot = 0; slot < SLOT_COUNT; slot++)
        {
            mapped.allocate(slot);
        }
    }

    private Entry entry(final long file)
    {
        Entry entry = entries.get(file);
        if (null == entry)
        {
            entry = new Entry();
            entries.put(file, entry);
        }
        return entry;
    }

    /** A copy of the map, its blocks pinned; no holders yet. */
    private Capture capture(final long size, final ExtentMap map)
    {
        final Capture capture = new Capture(size, new ExtentMap(map));
        for (int run = 0; run < map.runCount(); run++)
        {
            final long first = map.deviceBlock(run);
            for (long block = first; block < first + map.pageCount(run); block++)
            {
                if (durableRefs.refCount(block) == 0)
                {
                    durableRefs.allocate(block);
                    mapped.retain(block);
                }
                else
                {
                    durableRefs.retain(block);
                }
            }
        }
        return capture;
    }

    private static void hold(final Capture capture)
    {
        if (EMPTY != capture)
        {
            capture.holders++;
        }
    }

    private void release(final Capture capture, final LongArrayList freed)
    {
        if (null == capture || EMPTY == capture || --capture.holders > 0)
        {
            return;
        }
        final ExtentMap map = capture.map;
        for (int run = 0; run < map.runCount(); run++)
        {
            final long first = map.deviceBlock(run);
            for (long block = first; block < first + map.pageCount(run); block++)
            {
                if (durableRefs.release(block) && mapped.release(block))
                {
                    freed.addLong(block);
                }
            }
        }
    }
}
