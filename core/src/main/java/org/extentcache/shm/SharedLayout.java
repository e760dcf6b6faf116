package org.extentcache.shm;

/**
 * The layout of a shared cache file: where each region starts, and the offsets of the fields of its header, client
 * slots and frame records. Every process that maps the file computes the same offsets from the four numbers in the
 * header (page size, frames, client slots, index slots), so nothing else in this package adds offsets by hand.
 *
 * <h2>Regions</h2>
 * <pre>
 *   0                 4096              clients end        records end  refs end   pins end      index end
 *   +-----------------+------------------+------------------+----------+-----------+-------------+--------+--------+
 *   | header          | client slots     | frame records    | refs     | pins      | index       | pad    | frames |
 *   | (one page)      | 64 B each        | 16 B each        | 1 B each | 4 B each  | 8 B each    | to page|        |
 *   +-----------------+------------------+------------------+----------+-----------+-------------+--------+--------+
 *                                                                       frames x clientSlots
 * </pre>
 * The frames start on a page boundary (of the cache's page size, at least 4 KiB), so each frame can be read into
 * with {@code O_DIRECT}. Pins are laid out frame-major ({@code pins[frame][client]}): the sweep that asks whether a
 * frame is pinned reads one frame's counts, a cache line for 16 clients.
 *
 * <h2>Header</h2>
 * <pre>
 *    0 magic (long)              8 layout version (int)    12 page size (int)
 *   16 frames (int)             20 client slots (int)      24 index slots (int)   28 lease millis (int)
 *   32 initialized (int, release-stored last by the creator; 0 while the creator fills the header)
 *   40 last beat (long: System.currentTimeMillis() of any client's latest heartbeat, release-stored; this offset,
 *      with the magic, version and lease before it, stays put in every layout version, so that a process of another
 *      version can tell a file in use from an abandoned one: stores through a mapping never move a tmpfs mtime)
 *  128 allocation lock (long: holder's session, 0 when free)               on its own cache line
 *  256 clock hand (long)       264 tombstones in the index (long)          changed under the allocation lock
 *  384 loads   392 reclaims   400 recoveries   408 invalidations   416 verification misses   (longs, atomic adds)
 * 1024 file systems: 256 longs, st_dev + 1 (0 = free), claimed by CAS
 * </pre>
 *
 * <h2>A client slot (64 bytes)</h2>
 * <pre>
 *    0 session (long: 0 = free; else random bits above the slot number, see {@link #sessionSlot})
 *    8 heartbeat (long: System.currentTimeMillis() of the last beat, release-stored)
 *   16 pid (long, for messages)
 * </pre>
 *
 * <h2>A frame record (16 bytes)</h2>
 * <pre>
 *   0 state word (long, see below)    8 key (long: the block it holds; the time it was recovered while LOST)
 *
 *   state word:
 *    63                                32 31                    11 10          3 2      0
 *   +------------------------------------+------------------------+-------------+--------+
 *   |            generation              |         unused         |   client    | state  |
 *   +------------------------------------+------------------------+-------------+--------+
 *              GENERATION_BITS (32)                                CLIENT_BITS (8) STATE_BITS (3)
 * </pre>
 * The client is the loader of a LOADING frame and the reclaimer of a RECLAIMING one. The generation starts at 1 and
 * grows by one each time the frame leaves service (never 0, so a handle of 0 is never valid).
 */
final class SharedLayout
{
    /** "EXTN_SHM" in ASCII, little-endian. */
    static final long MAGIC = 0x4d48535f4e545845L;
    /** Bumped on every change of this layout: a process built against another refuses to join. */
    static final int LAYOUT_VERSION = 1;
    static final int HEADER_LENGTH = 4096;

    static final int MAGIC_OFFSET = 0;
    static final int VERSION_OFFSET = 8;
    static final int PAGE_SIZE_OFFSET = 12;
    static final int FRAMES_OFFSET = 16;
    static final int CLIENT_SLOTS_OFFSET = 20;
    static final int INDEX_SLOTS_OFFSET = 24;
    static final int LEASE_OFFSET = 28;
    static final int INITIALIZED_OFFSET = 32;
    static final int LAST_BEAT_OFFSET = 40;
    static final int LOCK_OFFSET = 128;
    static final int CLOCK_HAND_OFFSET = 256;
    static final int TOMBSTONES_OFFSET = 264;
    static final int LOADS_OFFSET = 384;
    static final int RECLAIMS_OFFSET = 392;
    static final int RECOVERIES_OFFSET = 400;
    static final int INVALIDATIONS_OFFSET = 408;
    static final int VERIFY_MISSES_OFFSET = 416;
    static final int DEVICES_OFFSET = 1024;
    static final int DEVICE_SLOTS = 256;

    static final int CLIENT_LENGTH = 64;
    static final int SESSION_OFFSET = 0;
    static final int HEARTBEAT_OFFSET = 8;
    static final int PID_OFFSET = 16;

    static final int RECORD_LENGTH = 16;
    static final int STATE_OFFSET = 0;
    static final int KEY_OFFSET = 8;

    static final int STATE_BITS = 3;
    static final int CLIENT_BITS = 8;
    static final int GENERATION_SHIFT = 32;
    static final long STATE_MASK = (1L << STATE_BITS) - 1;
    static final long CLIENT_MASK = (1L << CLIENT_BITS) - 1;
    /** The most client slots a file can have: the client field's range. */
    static final int MAX_CLIENTS = 1 << CLIENT_BITS;

    /** Not in service: no key, no bytes anyone may read. */
    static final int FREE = 0;
    /** Claimed by a client that is reading its block into it; in the index, never served. */
    static final int LOADING = 1;
    /** In the index, its bytes are its key's; served. */
    static final int READY = 2;
    /** Taken by a reclaimer that is checking its pins; back to READY if pinned. */
    static final int RECLAIMING = 3;
    /** Out of the index but pinned: its bytes stay for the pins; freed by the sweep once unpinned. */
    static final int DROPPED = 4;
    /** Was LOADING by a client that died: kept out of service for one more lease (see SharedCache). */
    static final int LOST = 5;

    /** Index slot values: EMPTY ends a probe; TOMBSTONE (a removed entry) does not; else frame + 1. */
    static final long EMPTY = 0;
    static final long TOMBSTONE = -1;

    /** The largest frame region mapped as one buffer (1 GiB): a frame never straddles two. */
    static final long CHUNK_BYTES = 1L << 30;

    final int pageSize;
    final int frames;
    final int clientSlots;
    final int indexSlots;
    final long clientsOffset;
    final long recordsOffset;
    final long refsOffset;
    final long pinsOffset;
    final long indexOffset;
    final long framesOffset;
    final long fileLength;

    SharedLayout(final int pageSize, final int frames, final int clientSlots)
    {
        this.pageSize = pageSize;
        this.frames = frames;
        this.clientSlots = clientSlots;
        this.indexSlots = indexSlotsFor(frames);
        clientsOffset = HEADER_LENGTH;
        recordsOffset = align(clientsOffset + (long)clientSlots * CLIENT_LENGTH, 64);
        refsOffset = recordsOffset + (long)frames * RECORD_LENGTH;
        pinsOffset = align(refsOffset + frames, 64);
        indexOffset = align(pinsOffset + (long)frames * clientSlots * Integer.BYTES, 64);
        framesOffset = align(indexOffset + (long)indexSlots * Long.BYTES, Math.max(pageSize, 4096));
        fileLength = framesOffset + (long)frames * pageSize;
    }

    /** Twice the frames, rounded up to a power of two: probes stay short with tombstones about. */
    static int indexSlotsFor(final int frames)
    {
        return Integer.highestOneBit(Math.max(frames, 4) * 2 - 1) << 1;
    }

    static long align(final long offset, final long alignment)
    {
        return (offset + alignment - 1) / alignment * alignment;
    }

    /** @return bytes of metadata: everything before the frames. */
    long metadataLength()
    {
        return framesOffset;
    }

    long clientOffset(final int slot)
    {
        return clientsOffset + (long)slot * CLIENT_LENGTH;
    }

    long recordOffset(final int frame)
    {
        return recordsOffset + (long)frame * RECORD_LENGTH;
    }

    long refOffset(final int frame)
    {
        return refsOffset + frame;
    }

    long pinOffset(final int frame, final int client)
    {
        return pinsOffset + ((long)frame * clientSlots + client) * Integer.BYTES;
    }

    long indexSlotOffset(final int slot)
    {
        return indexOffset + (long)slot * Long.BYTES;
    }

    /** Frames per mapped chunk of the frame region. */
    int framesPerChunk()
    {
        return (int)(CHUNK_BYTES / pageSize);
    }

    static long stateWord(final long generation, final int client, final int state)
    {
        return generation << GENERATION_SHIFT | ((long)client & CLIENT_MASK) << STATE_BITS | state;
    }

    static int stateOf(final long word)
    {
        return (int)(word & STATE_MASK);
    }

    static int clientOf(final long word)
    {
        return (int)((word >>> STATE_BITS) & CLIENT_MASK);
    }

    static long generationOf(final long word)
    {
        return word >>> GENERATION_SHIFT;
    }

    /** @return the generation after {@code generation}, skipping 0 when the 32 bits wrap. */
    static long nextGeneration(final long generation)
    {
        final long next = (generation + 1) & 0xFFFF_FFFFL;
        return 0 == next ? 1 : next;
    }

    /** @return the client slot a session names: its low {@link #CLIENT_BITS} bits. */
    static int sessionSlot(final long session)
    {
        return (int)(session & CLIENT_MASK);
    }

    static String stateName(final int state)
    {
        switch (state)
        {
            case FREE: return "FREE";
            case LOADING: return "LOADING";
            case READY: return "READY";
            case RECLAIMING: return "RECLAIMING";
            case DROPPED: return "DROPPED";
            case LOST: return "LOST";
            default: return "state " + state;
        }
    }
}
