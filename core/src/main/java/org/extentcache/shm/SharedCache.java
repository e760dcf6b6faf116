package org.extentcache.shm;

import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ReadOnlyBufferException;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

import static org.extentcache.shm.SharedLayout.LOADING;
import static org.extentcache.shm.SharedLayout.READY;
import static org.extentcache.shm.SharedLayout.generationOf;
import static org.extentcache.shm.SharedLayout.stateOf;
import static org.extentcache.shm.SharedLayout.stateWord;

/**
 * A block cache shared by every process on a host that maps one file: frames, frame records and the device index
 * live in a shared-memory file (a tmpfs path such as {@code /dev/shm/extentcache}, or a hugetlbfs mount), so four
 * JVMs reading the same blocks hold one copy. Keys are {@code long}s that must mean the same bytes in every process:
 * for real files, (file system, physical block), which {@code org.extentcache.fs.SharedFiles} builds; pages private to
 * one process never come here. Translation, file mappings and handles stay in each process.
 *
 * <h2>Who can join: a trust decision</h2>
 * Every process that maps the file can read every frame in it, whatever file it was loaded through. So only
 * processes that may read every file any member caches should join. The file is created with mode 0600 (or 0660 and
 * a group the caller names, {@link Builder#group}), and an existing file is joined only if this user owns it and it
 * grants nothing to others. Within that boundary, {@code SharedFiles} serves a frame to a file only through a
 * translation of a file that process opened itself, and checks a frame another process loaded against its own file
 * before trusting it.
 *
 * <h2>The parts</h2>
 * {@link SharedFile}: creating, checking, mapping and removing the file; {@link SharedLayout}: where everything lies
 * in it; {@link FrameRecords}, {@link SharedIndex}, {@link ClientTable}: the shared structures; {@link SharedLock},
 * {@link FrameSweep}, {@link ClientRecovery}: the allocation lock, the CLOCK sweep and the recovery of a dead client;
 * {@link ClientLease}: this process's slot, heartbeat and lease; {@link SharedLoads}: its loads. This class holds the
 * lock-free reads, the pins and the lifecycle.
 *
 * <h2>Handles</h2>
 * <pre>
 *    63                                32 31 30                                       0
 *   +------------------------------------+--+------------------------------------------+
 *   |            generation              |0 |                  frame                   |
 *   +------------------------------------+--+------------------------------------------+
 * </pre>
 * A handle is valid while its frame is READY at its generation; generations start at 1, so {@link #NO_HANDLE} (0)
 * never is. A reclaim, an invalidation or a recovery bumps the generation, so every process's handles to the frame
 * go stale at once.
 *
 * <h2>Frame states and transitions</h2>
 * FREE, LOADING (by a client), READY, RECLAIMING (by a client), DROPPED (out of the index, kept for its pins), LOST
 * (a dead client's load, kept out of service for one lease): see {@link FrameSweep} for the sweep's transitions and
 * {@link ClientRecovery} for a dead client's. A load: under the allocation lock ({@link SharedLock}, held across
 * processes) find the key absent, claim a frame (LOADING by this client), set its key and insert it in the index
 * ({@link SharedIndex}); outside the lock fill it; then CAS LOADING -&gt; READY, a release that the readers' acquire
 * of the state word pairs with. Clients that find the key LOADING poll its state word until it changes, and recover
 * the loader if its lease ran out: a frame that process was loading is never served half-filled.
 *
 * <h2>Reads without pins (seqlock)</h2>
 * {@link #read} loads the state word (volatile), copies, issues an acquire fence and loads the state word again: if
 * it is unchanged the copy is of that generation's bytes, since every writer of a frame's bytes first moves its state
 * word by CAS (StampedLock's optimistic read). Pins ({@link #pin}) are per-client counts, so a dead client's pins are
 * known exactly; see {@link FrameRecords} for the Dekker pair with the reclaimer.
 *
 * <h2>Leases</h2>
 * A daemon thread per cache beats this client's heartbeat every quarter lease and recovers clients whose heartbeat
 * is older than the lease ({@code kill -9}, a crash): their pins are zeroed, their loads lost. A process paused for
 * longer than its lease (a stop signal, a long GC) is taken for dead: it finds its slot gone, its cache refuses
 * further loads and pins ({@link IllegalStateException}, close it and join again) and its pinned views are revoked;
 * views it reads in the quarter lease before it notices may show a reclaimed frame's new bytes. Choose a lease longer
 * than any pause.
 *
 * <h2>Crash safety</h2>
 * Every shared word is changed by one store or CAS: a process killed anywhere leaves each word old or new. The index
 * is rebuilt from the frame records when a process died holding the allocation lock. The file carries a layout
 * version: a process built against another refuses to join while that version's processes run, and replaces the file
 * once none does. A file left by processes that all died is joined as it is: their clients are recovered and their
 * READY frames kept ({@code SharedFiles} checks what it did not load itself).
 *
 * <h2>Lifecycle</h2>
 * {@link #builder}{@code (path)...join()} creates the file or joins it; {@link #close} leaves, and the last client to
 * leave removes the file. Its memory is returned to the kernel once every process has unmapped it: this process
 * unmaps at garbage collection, never explicitly, so no read racing a close can touch unmapped memory.
 *
 * <h2>Costs</h2>
 * A hit ({@link #lookup} then {@link #read}): an index probe and two volatile loads around the copy, no lock, no
 * allocation. A load: the allocation lock (a CAS, plus the in-process lock), a sweep step, the caller's I/O.
 * Metadata: 16 bytes per frame of record, 1 of used bit, 16 of index, 4 per client slot of pins, and 4 KiB of
 * header plus 64 bytes per client slot. Waiting for another process's load polls (spin, yield, then parks of up to a
 * millisecond): Java has no cross-process wake-up.
 *
 * <p><b>Thread safety:</b> safe for concurrent use by any number of threads; one instance per process and file.
 */
public final class SharedCache implements AutoCloseable
{
    /** A handle that is never valid. */
    public static final long NO_HANDLE = 0;
    private static final int FRAME_BITS = 31;
    private static final long FRAME_MASK = (1L << FRAME_BITS) - 1;

    private final SharedFile file;
    private final SharedLayout layout;
    private final UnsafeBuffer meta;
    private final FrameRecords records;
    private final SharedIndex index;
    private final ClientTable clients;
    private final FrameSweep sweep;
    private final ClientLease lease;
    private final SharedLoads loads;
    private final int slot;
    private final long leaseMillis;
    private final Consumer<String> leakReporter;
    private final Set<SharedPage> pinned = ConcurrentHashMap.newKeySet();
    private final ThreadLocal<long[]> found = ThreadLocal.withInitial(() -> new long[1]);
    private final Object closing = new Object();
    private final boolean created;
    private volatile boolean closed;

    private SharedCache(final SharedFile.Joined joined, final Consumer<String> leakReporter)
    {
        this.file = joined.file();
        this.created = joined.created();
        this.layout = file.layout;
        this.meta = file.meta;
        this.slot = SharedLayout.sessionSlot(joined.session());
        this.leaseMillis = file.leaseMillis;
        this.leakReporter = leakReporter;
        this.records = new FrameRecords(meta, layout);
        this.index = new SharedIndex(meta, layout, records);
        this.clients = new ClientTable(meta, layout);
        this.sweep = new FrameSweep(meta, records, index, leaseMillis);
        this.lease = new ClientLease(file, joined.session(), clients, new SharedLock(meta, clients, leaseMillis),
            new ClientRecovery(meta, records, index, clients), leakReporter, this::revokePins);
        this.loads = new SharedLoads(file, records, index, sweep, clients, lease);
        for (int frame = 0; frame < layout.frames; frame++)
        {
            records.clearPins(frame, slot); // a paused client this slot was taken from may have written late
        }
        lease.start(); // first recovers what processes that died left (a file they all left behind)
    }

    /**
     * @param path the shared file: on tmpfs ({@code /dev/shm/...}) or hugetlbfs; created if absent.
     * @return a builder for a cache over it.
     */
    public static Builder builder(final Path path)
    {
        return new Builder(Objects.requireNonNull(path, "path"));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Handles and reads
    // ---------------------------------------------------------------------------------------------------------------

    /** @return the frame a handle names. */
    public static int frameOf(final long handle)
    {
        return (int)(handle & FRAME_MASK);
    }

    /** @return the generation a handle names. */
    public static long generationOfHandle(final long handle)
    {
        return handle >>> SharedLayout.GENERATION_SHIFT;
    }

    static long handle(final int frame, final long generation)
    {
        return generation << SharedLayout.GENERATION_SHIFT | frame;
    }

    /** @return the frame a handle names, or -1 for {@link #NO_HANDLE} or a frame past the file's. */
    private int frameIn(final long handle)
    {
        final int frame = frameOf(handle);
        return NO_HANDLE == handle || frame >= layout.frames ? -1 : frame;
    }

    /** @return the state word of the handle's frame while the handle is valid: READY at its generation. */
    private static long readyWord(final long handle)
    {
        return stateWord(generationOfHandle(handle), 0, READY);
    }

    /**
     * Looks a key up, without a lock and without waiting.
     *
     * @return a handle to the READY frame holding {@code key}, or {@link #NO_HANDLE} if none does (absent, or still
     *     loading: {@link #load} waits for it).
     * @throws IllegalStateException if the cache is closed.
     */
    public long lookup(final long key)
    {
        checkOpen();
        final long[] word = found.get();
        final int frame = index.find(key, word);
        if (frame < 0 || READY != stateOf(word[0]))
        {
            return NO_HANDLE;
        }
        records.touch(frame);
        return handle(frame, generationOf(word[0]));
    }

    /** @return true if the handle's frame is still READY at its generation (it may not be by the time you use it). */
    public boolean isValid(final long handle)
    {
        final int frame = frameIn(handle);
        return frame >= 0 && records.state(frame) == readyWord(handle);
    }

    /**
     * Copies {@code length} bytes of the handle's frame, from {@code offset}, to {@code dst} at its position, and
     * advances the position if the handle was valid for the whole copy.
     *
     * @return true if the bytes copied are the frame's at the handle's generation; false if the handle is stale (the
     *     bytes of {@code dst} from its position on are then undefined, and its position is unchanged).
     * @throws IndexOutOfBoundsException if {@code offset} and {@code length} leave the page or {@code dst}'s room.
     * @throws ReadOnlyBufferException if {@code dst} is read-only (the copy goes through Unsafe, which would write a
     *     read-only heap buffer's array, or fault on a read-only mapping).
     * @throws IllegalStateException if the cache is closed.
     */
    public boolean read(final long handle, final int offset, final ByteBuffer dst, final int length)
    {
        checkOpen();
        if (dst.isReadOnly())
        {
            throw new ReadOnlyBufferException();
        }
        Objects.checkFromIndexSize(offset, length, layout.pageSize);
        Objects.checkFromIndexSize(dst.position(), length, dst.limit());
        final int frame = frameIn(handle);
        if (frame < 0)
        {
            return false;
        }
        final long expected = readyWord(handle);
        if (records.state(frame) != expected)
        {
            return false;
        }
        file.chunkOf(frame).getBytes(file.frameOffset(frame) + offset, dst, dst.position(), length);
        VarHandle.acquireFence(); // the copy's loads before the re-check's load
        if (records.state(frame) != expected)
        {
            return false;
        }
        records.touch(frame);
        dst.position(dst.position() + length);
        return true;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Loads
    // ---------------------------------------------------------------------------------------------------------------

    /**
     * Fills a claimed frame with its key's bytes. It runs on the thread that called {@link #load}, holding no lock:
     * it may load other keys (each fill has a page of its own), but not its own key, which would wait for itself
     * ({@link IllegalStateException}), and it may not close the cache (the same).
     */
    @FunctionalInterface
    public interface PageLoader
    {
        /**
         * @param key  the key being loaded.
         * @param page the frame: exactly a page between its position and limit, page-aligned in memory (fit for
         *             {@code O_DIRECT}). Fill all of it; never keep it past the call.
         * @throws IOException if the bytes cannot be read: the frame is given up and the exception reaches the
         *     caller of {@link #load}.
         */
        void load(long key, ByteBuffer page) throws IOException;
    }

    /**
     * Returns a handle to the frame holding {@code key}: the one already READY, the one another thread or process is
     * loading once it is READY, or a frame claimed and filled by {@code loader} on this thread.
     *
     * @throws IOException from the loader (nothing is kept: the frame goes back to FREE).
     * @throws InterruptedIOException if the thread is interrupted while it waits for another's load (its interrupt
     *     status is set again).
     * @throws IllegalStateException if the cache is closed, this process's lease was taken over, the loader left
     *     part of the page unfilled, this thread's loader of {@code key} asks for {@code key} again, or no frame
     *     could be claimed (every frame pinned or loading) after waiting.
     */
    public long load(final long key, final PageLoader loader) throws IOException
    {
        return loads.load(key, loader);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Pins and invalidation
    // ---------------------------------------------------------------------------------------------------------------

    /**
     * Pins the handle's frame: it is not reclaimed, reused or changed until the page is closed.
     *
     * @return the pinned page, or null if the handle is stale.
     * @throws IllegalStateException if the cache is closed or this process's lease was taken over.
     */
    public SharedPage pin(final long handle)
    {
        checkOpen();
        lease.checkMember();
        final int frame = frameIn(handle);
        if (frame < 0)
        {
            return null;
        }
        records.addPin(frame, slot, 1); // volatile RMW, then the state load: see FrameRecords
        if (records.state(frame) != readyWord(handle))
        {
            records.addPin(frame, slot, -1);
            return null;
        }
        final SharedPage page = new SharedPage(this, frame, handle, records.key(frame),
            file.chunkOf(frame), file.frameOffset(frame), layout.pageSize);
        pinned.add(page);
        if (closed || lease.expelled())
        {
            page.close(); // close or expulsion raced the pin: their sweep of pinned pages may have missed it
            checkOpen();
            lease.checkMember();
        }
        return page;
    }

    void unpin(final SharedPage page)
    {
        if (pinned.remove(page) && lease.member())
        {
            records.addPin(page.frame, slot, -1);
        }
    }

    /**
     * Takes the handle's frame out of service if it is still valid: for a frame found not to hold its key's bytes.
     * Pinned, it is kept for its pins, out of the index, until they are released.
     *
     * @return true if it was taken out; false if the handle was already stale.
     * @throws IllegalStateException if the cache is closed or this process's lease was taken over.
     */
    public boolean invalidate(final long handle)
    {
        checkOpen();
        lease.lock();
        try
        {
            lease.checkMember();
            final int frame = frameIn(handle);
            return frame >= 0 && sweep.invalidate(frame, generationOfHandle(handle), slot);
        }
        finally
        {
            lease.unlock();
        }
    }

    /** Counts a frame another process loaded that did not match this process's file (see SharedFiles). */
    public void countVerificationMiss()
    {
        meta.getAndAddLong(SharedLayout.VERIFY_MISSES_OFFSET, 1);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // File systems, stats, lifecycle
    // ---------------------------------------------------------------------------------------------------------------

    /**
     * The host-wide number of a file system ({@code st_dev}), the same in every process of this file: claimed by CAS
     * in the header the first time any process asks.
     *
     * @throws IllegalStateException if the file's 256 file-system slots are all taken.
     */
    public int fileSystemIndex(final long stDev)
    {
        for (int i = 0; i < SharedLayout.DEVICE_SLOTS; i++)
        {
            final int offset = SharedLayout.DEVICES_OFFSET + i * Long.BYTES;
            final long value = meta.getLongVolatile(offset);
            if (value == stDev + 1 || (0 == value && meta.compareAndSetLong(offset, 0, stDev + 1)))
            {
                return i;
            }
            if (meta.getLongVolatile(offset) == stDev + 1)
            {
                return i; // lost the CAS to another process naming the same file system
            }
        }
        throw new IllegalStateException(file.path + " names " + SharedLayout.DEVICE_SLOTS + " file systems already");
    }

    public int pageSize()
    {
        return layout.pageSize;
    }

    public int frames()
    {
        return layout.frames;
    }

    /** @return this process's client slot in the file. */
    public int clientSlot()
    {
        return slot;
    }

    /** @return the shared file. */
    public Path path()
    {
        return file.path;
    }

    /** @return true if this process created (or replaced) the file rather than joining one. */
    public boolean created()
    {
        return created;
    }

    /** @return the size of the shared file: metadata and frames (tmpfs holds only the pages touched). */
    public long fileBytes()
    {
        return layout.fileLength;
    }

    /** @return bytes of the file before the frames: header, client table, records, used bits, pins, index. */
    public long metadataBytes()
    {
        return layout.metadataLength();
    }

    /**
     * A snapshot of the shared file's counts: a pass over every frame record, for monitoring and tests, not a hot
     * path.
     */
    public SharedCacheStats stats()
    {
        final int[] states = new int[SharedLayout.LOST + 1];
        for (int frame = 0; frame < layout.frames; frame++)
        {
            states[stateOf(records.state(frame))]++;
        }
        return new SharedCacheStats(layout.frames, states[READY], states[LOADING], states[SharedLayout.DROPPED],
            states[SharedLayout.LOST], states[SharedLayout.FREE] + states[SharedLayout.RECLAIMING],
            clients.live(System.currentTimeMillis(), leaseMillis), pinned.size(),
            meta.getLongVolatile(SharedLayout.LOADS_OFFSET), meta.getLongVolatile(SharedLayout.RECLAIMS_OFFSET),
            meta.getLongVolatile(SharedLayout.RECOVERIES_OFFSET),
            meta.getLongVolatile(SharedLayout.INVALIDATIONS_OFFSET),
            meta.getLongVolatile(SharedLayout.VERIFY_MISSES_OFFSET));
    }

    /**
     * Leaves the shared cache: waits for this process's loads in flight, revokes and reports its pins still held
     * (their frames may be reclaimed by others from now on), gives up its slot, and removes the file if no other
     * process is a client. Idempotent.
     *
     * @throws IOException if the file cannot be locked to leave (the slot is freed all the same).
     * @throws IllegalStateException if called from inside a {@link PageLoader} (the cache stays open).
     */
    @Override
    public void close() throws IOException
    {
        if (closed)
        {
            return;
        }
        if (loads.inLoader())
        {
            throw new IllegalStateException("close() of " + file.path + " called from inside a PageLoader: close " +
                "waits for every load in flight, that one included; close the cache after the load returns");
        }
        synchronized (closing)
        {
            if (closed)
            {
                return; // another thread closed it meanwhile: leave once
            }
            closed = true;
        }
        loads.closeAndDrain();
        lease.stop();
        final int held = revokePins();
        if (0 != held)
        {
            leakReporter.accept(file.path + ": " + held + " pages were still pinned when the cache closed; their " +
                "views are revoked");
        }
        lease.leave();
        file.leave(lease.session());
    }

    public boolean isClosed()
    {
        return closed;
    }

    /** Revokes every view this process has pinned (close, or the lease lost); @return how many were pinned. */
    private int revokePins()
    {
        int held = 0;
        for (final SharedPage page : pinned)
        {
            if (page.revoke())
            {
                held++;
            }
        }
        return held;
    }

    private void checkOpen()
    {
        if (closed)
        {
            throw new IllegalStateException("shared cache " + file.path + " is closed");
        }
    }

    @Override
    public String toString()
    {
        return "SharedCache{" + file.path + ", slot " + slot + ", " + layout.frames + " frames of " +
            layout.pageSize + " B}";
    }

    /** Joins or creates a shared cache file. */
    public static final class Builder
    {
        private final Path path;
        private int pageSize = 4096;
        private int frames = -1;
        private int clientSlots = 16;
        private long leaseMillis = 5000;
        private String group;
        private Consumer<String> leakReporter = message ->
            System.getLogger(SharedCache.class.getName()).log(System.Logger.Level.WARNING, message);

        private Builder(final Path path)
        {
            this.path = path;
        }

        /** @param pageSize bytes per frame: a power of two from 4 KiB to 64 KiB (default 4 KiB). */
        public Builder pageSize(final int pageSize)
        {
            if (pageSize < 4096 || pageSize > 65536 || Integer.bitCount(pageSize) != 1)
            {
                throw new IllegalArgumentException("pageSize must be a power of two from 4096 to 65536: pageSize=" +
                    pageSize);
            }
            this.pageSize = pageSize;
            return this;
        }

        /** @param frames the frames in the file (required): its memory budget, shared by every process. */
        public Builder frames(final int frames)
        {
            if (frames < 8)
            {
                throw new IllegalArgumentException("frames must be >= 8: frames=" + frames);
            }
            this.frames = frames;
            return this;
        }

        /** @param clientSlots how many processes may join at once, 1 to 255 (default 16). */
        public Builder clientSlots(final int clientSlots)
        {
            if (clientSlots < 1 || clientSlots >= SharedLayout.MAX_CLIENTS)
            {
                throw new IllegalArgumentException("clientSlots must be from 1 to " + (SharedLayout.MAX_CLIENTS - 1) +
                    ": clientSlots=" + clientSlots);
            }
            this.clientSlots = clientSlots;
            return this;
        }

        /**
         * @param leaseMillis how long a client may go without a heartbeat before others take it for dead and recover
         *                    its pins and loads (default 5 s); longer than any pause a process may take (GC, stop
         *                    signals). From 100 ms to 10 minutes.
         */
        public Builder leaseMillis(final long leaseMillis)
        {
            if (leaseMillis < 100 || leaseMillis > 600_000)
            {
                throw new IllegalArgumentException("leaseMillis must be from 100 to 600000: leaseMillis=" +
                    leaseMillis);
            }
            this.leaseMillis = leaseMillis;
            return this;
        }

        /** @param group a group to give the file to, with mode 0660 (default: none, mode 0600). */
        public Builder group(final String group)
        {
            this.group = Objects.requireNonNull(group, "group");
            return this;
        }

        /** @param reporter where pins revoked at close and a lost lease are reported (default: a warning log). */
        public Builder leakReporter(final Consumer<String> reporter)
        {
            this.leakReporter = Objects.requireNonNull(reporter, "reporter");
            return this;
        }

        /**
         * Creates the file, or joins it if another process did.
         *
         * @throws IOException if the file cannot be created, locked or mapped.
         * @throws IllegalArgumentException if the file exists with another page size, frame count, client slots or
         *     lease, or if {@link #frames} was not given.
         * @throws IllegalStateException if the path holds something else, a file of another layout version in use,
         *     a file this user does not own or that grants others access, or no free client slot.
         */
        public SharedCache join() throws IOException
        {
            if (frames < 0)
            {
                throw new IllegalArgumentException("frames(n) is required");
            }
            final SharedLayout layout = new SharedLayout(pageSize, frames, clientSlots);
            if (layout.metadataLength() > Integer.MAX_VALUE)
            {
                throw new IllegalArgumentException("metadata of " + layout.metadataLength() + " bytes (frames=" +
                    frames + ", clientSlots=" + clientSlots + ") exceeds 2 GiB: fewer frames or client slots");
            }
            final SharedFile.Joined joined = SharedFile.join(new SharedFile.Request(path, pageSize, frames,
                clientSlots, leaseMillis, group), ProcessHandle.current().pid());
            try
            {
                return new SharedCache(joined, leakReporter);
            }
            catch (final RuntimeException | Error ex)
            {
                joined.file().clients().release(joined.session(), 0);
                throw ex;
            }
        }
    }
}
