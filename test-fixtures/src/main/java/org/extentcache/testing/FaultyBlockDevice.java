package org.extentcache.testing;

import org.extentcache.device.BlockDevice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Iterator;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A {@link BlockDevice} wrapper that injects faults into another device, for testing code that must survive them:
 * failed and short transfers, failed syncs, and the loss of unsynced writes in a crash.
 *
 * <h2>Write modes</h2>
 * <ul>
 *   <li>{@link #writeThrough} passes every write straight to the delegate; {@link #crash()} loses nothing.</li>
 *   <li>{@link #withVolatileWriteCache} models a disk with a volatile write cache: a write lands in an in-heap
 *   <em>overlay</em> (device block to a copy of its bytes) that reads see on top of the delegate, and reaches the
 *   delegate only when {@link #sync()} succeeds. {@link #crash()} discards the overlay, exactly like a power
 *   failure: every write not yet synced is lost, every synced write survives.</li>
 * </ul>
 *
 * <h2>Faults</h2>
 * Each fault is armed by one method and disarmed by {@link #clearFaults()}; re-arming a fault replaces it.
 * <ul>
 *   <li>{@link #failNthRead}/{@link #failNthWrite}: the n-th read (write) from now fails, once.</li>
 *   <li>{@link #failReadsOneIn}/{@link #failWritesOneIn}: each read (write) fails with probability 1/n, drawn from a
 *   seeded {@link SplittableRandom}.</li>
 *   <li>{@link #failBlock}: every transfer touching the block fails until {@link #healBlock} or
 *   {@link #clearFaults()}.</li>
 *   <li>{@link #shortTransfersOneIn}: each read or write, with probability 1/n, moves a prefix of k whole blocks
 *   (0 &lt;= k &lt; requested, uniform) and then fails. One seeded stream serves reads and writes.</li>
 *   <li>{@link #failNextSync()}: the next sync fails, once, and applies nothing.</li>
 * </ul>
 * A transfer is counted, and consumes faults, once it has passed the argument checks on an open device. Every armed
 * fault of the transfer's kind then advances exactly once (the n-th countdown ticks, each seeded stream draws),
 * whether or not another fault fires, so a seeded pattern does not depend on which other faults are armed: the same
 * seed and the same sequence of transfers give the same failures. If several fire, the first in this order wins:
 * failed block, n-th transfer, one-in-n, short transfer.
 *
 * <p>An injected failure throws {@link IOException} naming the operation, first block, block count and the fault,
 * e.g. {@code "injected write failure: block=17 blocks=1 fault=failBlock(17)"} or
 * {@code "injected short write: block=16 transferred=2 of 4 blocks"}. Whatever fails, the caller's buffer keeps its
 * position. A failed write changes nothing on the device; a short write applies its k-block prefix (to the overlay,
 * or to the delegate when writing through); a short read may have put k blocks into the destination past its
 * position, whose contents the {@link BlockDevice} contract leaves undefined anyway.
 *
 * <h2>Concurrency</h2>
 * Safe for concurrent use; every arming method and counter may be used while transfers run. Fault state is lock-free
 * (atomic countdowns, a concurrent set of failed blocks) except the seeded streams, each drawn under its own monitor
 * so that concurrent transfers never share a draw; with concurrent transfers the pattern is still the stream's, but
 * which transfer gets which draw depends on their order. In write-through mode transfers take no lock here and the
 * delegate's own concurrency shows through. With a volatile write cache one {@link ReentrantReadWriteLock} guards the
 * overlay: reads hold the read lock for their whole duration (overlay lookups and delegate reads), writes hold the
 * write lock only to insert their already-copied blocks, and sync, crash and close hold the write lock throughout.
 * Hence a read never sees half of a concurrent write, and never races a sync applying the overlay to the delegate.
 *
 * <h2>Costs</h2>
 * This is a test tool; it trades speed for simplicity. A volatile-cache write allocates and copies one
 * {@code byte[blockSize]} per block and boxes a {@code Long} key into a {@link TreeMap}; reads look up every block
 * (O(log overlay)) and read runs of non-overlaid blocks from the delegate in one call. A sync holds the write lock
 * while it writes the overlay (coalesced into runs of consecutive blocks, at most 1 MiB per delegate write) and
 * syncs the delegate, so it stalls every transfer for the length of an {@code fsync}. Overlay memory is unbounded:
 * sync to release it.
 *
 * <p><b>Ownership:</b> the wrapper owns its delegate: {@link #close()} closes it. The caller owns the buffers it
 * passes in; the overlay keeps copies, never the buffers.
 */
public final class FaultyBlockDevice implements BlockDevice
{
    private static final int MAX_SYNC_RUN_BYTES = 1 << 20;

    private final BlockDevice delegate;
    private final int blockSize;
    /** Block to unsynced bytes; {@code null} when writing through. Guarded by {@link #overlayLock}. */
    private final TreeMap<Long, byte[]> overlay;
    private final ReentrantReadWriteLock overlayLock = new ReentrantReadWriteLock();

    /** Transfers left until the armed one, which fails when the count goes from 1 to 0; 0 when disarmed. */
    private final AtomicLong readsUntilFailure = new AtomicLong();
    private final AtomicLong writesUntilFailure = new AtomicLong();
    private final ConcurrentSkipListSet<Long> failedBlocks = new ConcurrentSkipListSet<>();
    private final AtomicBoolean failNextSync = new AtomicBoolean();
    private volatile OneIn readFailures;
    private volatile OneIn writeFailures;
    private volatile OneIn shortTransfers;

    private final AtomicLong reads = new AtomicLong();
    private final AtomicLong writes = new AtomicLong();
    private final AtomicLong syncs = new AtomicLong();
    private final AtomicLong blocksRead = new AtomicLong();
    private final AtomicLong blocksWritten = new AtomicLong();
    private final AtomicLong injectedReadFailures = new AtomicLong();
    private final AtomicLong injectedWriteFailures = new AtomicLong();
    private final AtomicLong injectedSyncFailures = new AtomicLong();
    private volatile boolean closed;

    private FaultyBlockDevice(final BlockDevice delegate, final boolean volatileWriteCache)
    {
        if (null == delegate)
        {
            throw new NullPointerException("delegate must not be null");
        }
        this.delegate = delegate;
        this.blockSize = delegate.blockSize();
        this.overlay = volatileWriteCache ? new TreeMap<>() : null;
    }

    /**
     * Wraps a device, passing every write straight to it.
     *
     * @param delegate the device to wrap; the wrapper owns it and closes it.
     * @return a wrapper with no faults armed.
     * @throws NullPointerException if {@code delegate} is null.
     */
    public static FaultyBlockDevice writeThrough(final BlockDevice delegate)
    {
        return new FaultyBlockDevice(delegate, false);
    }

    /**
     * Wraps a device behind a volatile write cache: writes reach it only through a successful {@link #sync()} (or
     * {@link #close()}), and {@link #crash()} loses them before that.
     *
     * @param delegate the device to wrap; the wrapper owns it and closes it.
     * @return a wrapper with no faults armed and an empty cache.
     * @throws NullPointerException if {@code delegate} is null.
     */
    public static FaultyBlockDevice withVolatileWriteCache(final BlockDevice delegate)
    {
        return new FaultyBlockDevice(delegate, true);
    }

    @Override
    public int blockSize()
    {
        return blockSize;
    }

    @Override
    public long blockCount()
    {
        return delegate.blockCount();
    }

    /**
     * @return whether writes are held in a volatile cache until synced.
     */
    public boolean hasVolatileWriteCache()
    {
        return null != overlay;
    }

    /**
     * Makes the n-th read from now fail, once; replaces any earlier {@code failNthRead}.
     *
     * @param n 1 for the next read.
     * @throws IllegalArgumentException if {@code n < 1}.
     */
    public void failNthRead(final long n)
    {
        readsUntilFailure.set(checkNth(n));
    }

    /**
     * Makes the n-th write from now fail, once; replaces any earlier {@code failNthWrite}.
     *
     * @param n 1 for the next write.
     * @throws IllegalArgumentException if {@code n < 1}.
     */
    public void failNthWrite(final long n)
    {
        writesUntilFailure.set(checkNth(n));
    }

    /**
     * Makes each read fail with probability 1/n.
     *
     * @param n    1 fails every read; 0 disarms.
     * @param seed seeds the stream of draws, one per read.
     * @throws IllegalArgumentException if {@code n < 0}.
     */
    public void failReadsOneIn(final int n, final long seed)
    {
        readFailures = OneIn.of(n, seed);
    }

    /**
     * Makes each write fail with probability 1/n.
     *
     * @param n    1 fails every write; 0 disarms.
     * @param seed seeds the stream of draws, one per write.
     * @throws IllegalArgumentException if {@code n < 0}.
     */
    public void failWritesOneIn(final int n, final long seed)
    {
        writeFailures = OneIn.of(n, seed);
    }

    /**
     * Makes each read or write, with probability 1/n, transfer only a prefix of whole blocks (uniformly 0 to one
     * fewer than requested) and then fail. A short write's prefix is applied; a short read restores the
     * destination's position.
     *
     * @param n    1 shortens every transfer; 0 disarms.
     * @param seed seeds the one stream of draws shared by reads and writes.
     * @throws IllegalArgumentException if {@code n < 0}.
     */
    public void shortTransfersOneIn(final int n, final long seed)
    {
        shortTransfers = OneIn.of(n, seed);
    }

    /**
     * Makes every read and write touching a block fail until {@link #healBlock} or {@link #clearFaults()}.
     *
     * @param block the device block.
     * @throws IllegalArgumentException if the block is outside the device.
     */
    public void failBlock(final long block)
    {
        failedBlocks.add(checkBlock(block));
    }

    /**
     * Stops failing transfers that touch a block; does nothing if it was not failed.
     *
     * @param block the device block.
     * @throws IllegalArgumentException if the block is outside the device.
     */
    public void healBlock(final long block)
    {
        failedBlocks.remove(checkBlock(block));
    }

    /**
     * Makes the next {@link #sync()} fail, once, before it applies anything.
     */
    public void failNextSync()
    {
        failNextSync.set(true);
    }

    /**
     * Disarms every fault and heals every block. Leaves the write cache and the counters as they are.
     */
    public void clearFaults()
    {
        readsUntilFailure.set(0);
        writesUntilFailure.set(0);
        readFailures = null;
        writeFailures = null;
        shortTransfers = null;
        failedBlocks.clear();
        failNextSync.set(false);
    }

    /**
     * {@inheritDoc}
     *
     * <p>Reads the newest bytes of each block: from the write cache if it holds the block, else from the delegate.
     *
     * @throws IOException if a fault is injected (naming it), the device is closed or the delegate fails; the
     *                     destination's position is then unchanged.
     */
    @Override
    public void read(final long block, final ByteBuffer dst) throws IOException
    {
        final long blocks = BlockDevice.checkTransfer(this, block, dst.remaining());
        ensureOpen();
        reads.incrementAndGet();
        final String fault = transferFault(block, blocks, readsUntilFailure, readFailures);
        final long prefix = shortPrefix(blocks);
        if (null != fault)
        {
            injectedReadFailures.incrementAndGet();
            throw new IOException("injected read failure: block=" + block + " blocks=" + blocks + " fault=" + fault);
        }

        final int start = dst.position();
        if (prefix >= 0)
        {
            if (prefix > 0)
            {
                final ByteBuffer part = dst.duplicate();
                part.limit(start + (int)(prefix * blockSize));
                readBlocks(block, prefix, part);
            }
            injectedReadFailures.incrementAndGet();
            throw new IOException(
                "injected short read: block=" + block + " transferred=" + prefix + " of " + blocks + " blocks");
        }

        try
        {
            readBlocks(block, blocks, dst);
        }
        catch (final IOException | RuntimeException ex)
        {
            dst.position(start);
            throw ex;
        }
        blocksRead.addAndGet(blocks);
    }

    /**
     * {@inheritDoc}
     *
     * <p>With a volatile write cache the blocks are copied into the cache and reach the delegate at the next
     * successful {@link #sync()}; otherwise they are written to the delegate at once.
     *
     * @throws IOException if a fault is injected (naming it), the device is closed or the delegate fails; the
     *                     source's position is then unchanged. An injected failure changes nothing on the device;
     *                     an injected short write has applied the prefix its message names.
     */
    @Override
    public void write(final long block, final ByteBuffer src) throws IOException
    {
        final long blocks = BlockDevice.checkTransfer(this, block, src.remaining());
        ensureOpen();
        writes.incrementAndGet();
        final String fault = transferFault(block, blocks, writesUntilFailure, writeFailures);
        final long prefix = shortPrefix(blocks);
        if (null != fault)
        {
            injectedWriteFailures.incrementAndGet();
            throw new IOException("injected write failure: block=" + block + " blocks=" + blocks + " fault=" + fault);
        }

        final int start = src.position();
        final long applied = prefix >= 0 ? prefix : blocks;
        try
        {
            if (applied > 0)
            {
                final ByteBuffer part = src.duplicate();
                part.limit(start + (int)(applied * blockSize));
                writeBlocks(block, applied, part);
                blocksWritten.addAndGet(applied);
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            src.position(start);
            throw ex;
        }

        if (prefix >= 0)
        {
            injectedWriteFailures.incrementAndGet();
            throw new IOException(
                "injected short write: block=" + block + " transferred=" + prefix + " of " + blocks + " blocks");
        }
        src.position(src.limit());
    }

    /**
     * {@inheritDoc}
     *
     * <p>With a volatile write cache, writes the cached blocks to the delegate in block order, syncs the delegate and
     * empties the cache; every write that returned before this call began then survives {@link #crash()}. Transfers
     * wait while it runs.
     *
     * @throws IOException if a failure is injected (nothing is applied; the cache keeps every block), the device is
     *                     closed, or the delegate fails (the cache keeps every block; the delegate may hold some).
     */
    @Override
    public void sync() throws IOException
    {
        ensureOpen();
        if (null == overlay)
        {
            failSyncIfArmed(0);
            delegate.sync();
            syncs.incrementAndGet();
            return;
        }

        overlayLock.writeLock().lock();
        try
        {
            ensureOpen();
            failSyncIfArmed(overlay.size());
            applyOverlay();
            delegate.sync();
            overlay.clear();
            syncs.incrementAndGet();
        }
        finally
        {
            overlayLock.writeLock().unlock();
        }
    }

    /**
     * Simulates a power failure: discards every write not yet synced. The device stays open and usable, as after a
     * reboot; reads then see what the delegate holds. Does nothing when writing through.
     *
     * @return the number of blocks whose unsynced writes were lost.
     */
    public long crash()
    {
        if (null == overlay)
        {
            return 0;
        }
        overlayLock.writeLock().lock();
        try
        {
            final long lost = overlay.size();
            overlay.clear();
            return lost;
        }
        finally
        {
            overlayLock.writeLock().unlock();
        }
    }

    /**
     * @return the number of blocks written but not yet synced; 0 when writing through.
     */
    public long unsyncedBlocks()
    {
        if (null == overlay)
        {
            return 0;
        }
        overlayLock.readLock().lock();
        try
        {
            return overlay.size();
        }
        finally
        {
            overlayLock.readLock().unlock();
        }
    }

    /**
     * A clean shutdown: writes any cached blocks to the delegate (no faults injected, no sync, just as the
     * delegate's own close does not sync), then closes the delegate. Idempotent. To model a power failure instead,
     * call {@link #crash()} first.
     *
     * @throws IOException if the delegate fails to take the cached blocks or to close; it is closed regardless.
     */
    @Override
    public void close() throws IOException
    {
        overlayLock.writeLock().lock();
        try
        {
            if (closed)
            {
                return;
            }
            closed = true;
            IOException failure = null;
            if (null != overlay)
            {
                try
                {
                    applyOverlay();
                }
                catch (final IOException ex)
                {
                    failure = ex;
                }
                overlay.clear();
            }
            try
            {
                delegate.close();
            }
            catch (final IOException ex)
            {
                if (null == failure)
                {
                    failure = ex;
                }
                else
                {
                    failure.addSuppressed(ex);
                }
            }
            if (null != failure)
            {
                throw failure;
            }
        }
        finally
        {
            overlayLock.writeLock().unlock();
        }
    }

    /**
     * @return read transfers attempted on the open device with valid arguments, failed ones included.
     */
    public long reads()
    {
        return reads.get();
    }

    /**
     * @return write transfers attempted on the open device with valid arguments, failed ones included.
     */
    public long writes()
    {
        return writes.get();
    }

    /**
     * @return syncs that succeeded.
     */
    public long syncs()
    {
        return syncs.get();
    }

    /**
     * @return blocks delivered by reads that succeeded.
     */
    public long blocksRead()
    {
        return blocksRead.get();
    }

    /**
     * @return blocks applied by writes (to the cache or the delegate), short writes' prefixes included.
     */
    public long blocksWritten()
    {
        return blocksWritten.get();
    }

    /**
     * @return reads failed by an injected fault, short reads included.
     */
    public long injectedReadFailures()
    {
        return injectedReadFailures.get();
    }

    /**
     * @return writes failed by an injected fault, short writes included.
     */
    public long injectedWriteFailures()
    {
        return injectedWriteFailures.get();
    }

    /**
     * @return syncs failed by {@link #failNextSync()}.
     */
    public long injectedSyncFailures()
    {
        return injectedSyncFailures.get();
    }

    @Override
    public String toString()
    {
        return "FaultyBlockDevice{" + (null == overlay ? "writeThrough" : "volatileWriteCache") +
            ", delegate=" + delegate + '}';
    }

    /**
     * Advances the transfer's countdown and one-in-n stream and finds the first failure that fires.
     *
     * @return the fault's description for the message, or {@code null} if the transfer proceeds.
     */
    private String transferFault(final long block, final long blocks, final AtomicLong untilFailure, final OneIn oneIn)
    {
        final long countdown = untilFailure.getAndUpdate(v -> v > 0 ? v - 1 : 0);
        final boolean drawn = null != oneIn && oneIn.fires();
        final Long failed = failedBlocks.ceiling(block);
        if (null != failed && failed < block + blocks)
        {
            return "failBlock(" + failed + ")";
        }
        if (1 == countdown)
        {
            return "failNth";
        }
        if (drawn)
        {
            return "oneIn(" + oneIn.n + ")";
        }
        return null;
    }

    /**
     * @return the number of blocks a short transfer moves, or -1 if this transfer is not short.
     */
    private long shortPrefix(final long blocks)
    {
        final OneIn shortening = shortTransfers;
        return null == shortening ? -1 : shortening.prefix(blocks);
    }

    private void failSyncIfArmed(final long unsynced) throws IOException
    {
        if (failNextSync.compareAndSet(true, false))
        {
            injectedSyncFailures.incrementAndGet();
            throw new IOException("injected sync failure: unsyncedBlocks=" + unsynced);
        }
    }

    /**
     * Reads blocks, newest bytes first, into {@code dst} from its position, advancing it.
     */
    private void readBlocks(final long block, final long blocks, final ByteBuffer dst) throws IOException
    {
        if (null == overlay)
        {
            delegate.read(block, dst);
            return;
        }
        overlayLock.readLock().lock();
        try
        {
            ensureOpen();
            final long end = block + blocks;
            long b = block;
            while (b < end)
            {
                final byte[] cached = overlay.get(b);
                if (null != cached)
                {
                    dst.put(cached);
                    b++;
                    continue;
                }
                long runEnd = b + 1;
                while (runEnd < end && !overlay.containsKey(runEnd))
                {
                    runEnd++;
                }
                final ByteBuffer run = dst.duplicate();
                run.limit(run.position() + (int)((runEnd - b) * blockSize));
                delegate.read(b, run);
                dst.position(run.position());
                b = runEnd;
            }
        }
        finally
        {
            overlayLock.readLock().unlock();
        }
    }

    /**
     * Applies all of {@code src} (whole blocks) to the cache or the delegate.
     */
    private void writeBlocks(final long block, final long blocks, final ByteBuffer src) throws IOException
    {
        if (null == overlay)
        {
            delegate.write(block, src);
            return;
        }
        final byte[][] copies = new byte[(int)blocks][blockSize];
        for (final byte[] copy : copies)
        {
            src.get(copy);
        }
        overlayLock.writeLock().lock();
        try
        {
            ensureOpen();
            for (int i = 0; i < copies.length; i++)
            {
                overlay.put(block + i, copies[i]);
            }
        }
        finally
        {
            overlayLock.writeLock().unlock();
        }
    }

    /**
     * Writes the overlay to the delegate in block order, consecutive blocks coalesced; leaves the overlay as is.
     * The caller holds the write lock.
     */
    private void applyOverlay() throws IOException
    {
        if (overlay.isEmpty())
        {
            return;
        }
        final int maxRunBlocks = Math.min(Math.max(1, MAX_SYNC_RUN_BYTES / blockSize), overlay.size());
        final ByteBuffer run = ByteBuffer.allocate(maxRunBlocks * blockSize);
        final Iterator<Map.Entry<Long, byte[]>> entries = overlay.entrySet().iterator();
        long runStart = -1;
        long next = -1;
        while (entries.hasNext())
        {
            final Map.Entry<Long, byte[]> entry = entries.next();
            final long b = entry.getKey();
            if (b != next || !run.hasRemaining())
            {
                flushRun(runStart, run);
                runStart = b;
            }
            run.put(entry.getValue());
            next = b + 1;
        }
        flushRun(runStart, run);
    }

    private void flushRun(final long runStart, final ByteBuffer run) throws IOException
    {
        if (run.position() > 0)
        {
            run.flip();
            delegate.write(runStart, run);
            run.clear();
        }
    }

    private long checkBlock(final long block)
    {
        final long blockCount = delegate.blockCount();
        if (block < 0 || block >= blockCount)
        {
            throw new IllegalArgumentException(
                "block outside the device: block=" + block + " blockCount=" + blockCount);
        }
        return block;
    }

    private static long checkNth(final long n)
    {
        if (n < 1)
        {
            throw new IllegalArgumentException("n must be >= 1: n=" + n);
        }
        return n;
    }

    private void ensureOpen() throws IOException
    {
        if (closed)
        {
            throw new IOException("device is closed");
        }
    }

    /**
     * A seeded one-in-n stream; draws are serialized on the instance so concurrent transfers never share one.
     */
    private static final class OneIn
    {
        final int n;
        private final SplittableRandom random;

        private OneIn(final int n, final long seed)
        {
            this.n = n;
            this.random = new SplittableRandom(seed);
        }

        /**
         * @return a new stream, or {@code null} (disarmed) for {@code n == 0}.
         * @throws IllegalArgumentException if {@code n < 0}.
         */
        static OneIn of(final int n, final long seed)
        {
            if (n < 0)
            {
                throw new IllegalArgumentException("n must be >= 0: n=" + n);
            }
            return 0 == n ? null : new OneIn(n, seed);
        }

        synchronized boolean fires()
        {
            return 0 == random.nextInt(n);
        }

        /**
         * @return -1 if this transfer is not short, else the blocks it moves, uniform in [0, blocks).
         */
        synchronized long prefix(final long blocks)
        {
            final boolean shortened = 0 == random.nextInt(n);
            final long moved = random.nextLong(blocks);
            return shortened ? moved : -1;
        }
    }
}
