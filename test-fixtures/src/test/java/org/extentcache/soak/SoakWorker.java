package org.extentcache.soak;

import org.extentcache.CachedFile;
import org.extentcache.ExtentCache;
import org.extentcache.PinnedPage;
import org.extentcache.testing.FaultyBlockDevice;
import org.extentcache.translate.ExtentStore;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One soak thread: a seeded random sequence of operations on files only this thread touches, each checked against
 * the thread's exact in-heap model ({@link FileModel}). Other threads share the cache, the extent store and the
 * device (and so its faults, reclaim and every cache-wide flush), never the files.
 *
 * <h2>Operations and what a failure means for the model</h2>
 * Every {@link IOException} must come from an injected device fault (its message chain says "injected"); anything
 * else fails the soak. Per the Javadoc of each call:
 * <ul>
 *   <li>{@link CachedFile#write}: "pages written before the failure stay written, and the file's size covers
 *       them". The exception does not say how far the write got, so the soak reads the range back and requires a
 *       page-granular prefix of the write to be there, the rest untouched, and the size to be exactly
 *       {@code max(old size, end of that prefix)}; the model then takes that prefix.</li>
 *   <li>Extent store mutations (write, clone file, clone range, punch hole, truncate): "the store is then unchanged";
 *       the model too.</li>
 *   <li>Reads and pins change nothing; a failed pin must leave its flyweight unpinned.</li>
 *   <li>Flushes ({@link CachedFile#flush}, {@link ExtentCache#flush}): a failed one leaves pages dirty and changes no
 *       byte. A successful one is checked at once against the device under the volatile write cache: every page of
 *       the flushed file (each of this thread's files after a cache-wide flush) must be durable. Without cache-wide
 *       flushes nobody else writes this thread's pages back, so dirty counts are checked too: none after a
 *       successful flush; after a failed sync, every page it wrote is dirty again.</li>
 * </ul>
 * Pins are checked when taken (the model's bytes) and again when released, possibly many operations later: a pinned
 * page must not change whatever happens to its file.
 */
final class SoakWorker implements Runnable
{
    /** The operations, with their relative weights. */
    enum Op
    {
        READ(300), WRITE(280), STORE_WRITE(20), PIN(90), CREATE_OR_CLONE(20), CLONE_RANGE(50), PUNCH(40),
        TRUNCATE(40), DELETE(10), FLUSH_FILE(60), FLUSH_CACHE(30), VERIFY_FILE(20);

        final int weight;

        Op(final int weight)
        {
            this.weight = weight;
        }
    }

    private static final int PAGE = SoakConfig.PAGE;
    private static final Op[] OPS = Op.values();
    /** How {@code CachedFile.flush} reports a failed sync. */
    private static final Pattern WRITTEN_PAGES_STAY_DIRTY = Pattern.compile("its (\\d+) written pages stay dirty");

    final int thread;
    /** This thread's files, read by the checkpoint while every thread waits. */
    final List<FileModel> files = new ArrayList<>();
    /** The operation in progress (1-based) and its kind, for reports. */
    volatile long op;
    volatile Op current;
    /** Per operation kind: operations done, and operations failed by an injected fault. */
    final long[] done = new long[OPS.length];
    final long[] faulted = new long[OPS.length];

    private final Soak soak;
    private final SoakConfig config;
    private final SplittableRandom random;
    private final ExtentStore store;
    private final ExtentCache cache;
    private final FaultyBlockDevice device;
    private final DeviceCheck deviceCheck;
    private final Op[] table;
    private final List<HeldPin> pins = new ArrayList<>();
    private final byte[] data;
    private final byte[] readBack;
    private final History history = new History(48);
    private final long limit;

    SoakWorker(final Soak soak, final int thread)
    {
        this.soak = soak;
        this.thread = thread;
        this.config = soak.config;
        this.random = new SplittableRandom(Stamp.mix(config.seed() + thread));
        this.store = soak.store;
        this.cache = soak.cache;
        this.device = soak.device;
        this.deviceCheck = new DeviceCheck(soak.store, soak.disk, config.opsPerThread());
        this.limit = (long)config.maxPages() * PAGE;
        this.data = new byte[(int)limit];
        this.readBack = new byte[(int)limit];
        final List<Op> entries = new ArrayList<>();
        for (final Op kind : OPS)
        {
            final int weight = kind == Op.FLUSH_CACHE && !config.cacheFlush() ? 0 : kind.weight;
            for (int i = 0; i < weight; i++)
            {
                entries.add(kind);
            }
        }
        this.table = entries.toArray(new Op[0]);
    }

    @Override
    public void run()
    {
        final long ops = config.opsPerThread();
        try
        {
            for (long n = 1; n <= ops; n++)
            {
                if (soak.stopping())
                {
                    return;
                }
                op = n;
                step(n);
                soak.ops.increment();
                if (n % config.checkEvery() == 0 || n == ops)
                {
                    current = null;
                    releasePins();
                    if (!soak.checkpoint())
                    {
                        return;
                    }
                }
            }
        }
        catch (final Throwable ex)
        {
            soak.fail(this, ex);
        }
        finally
        {
            soak.leave();
        }
    }

    /**
     * @return the last operations of this thread, oldest first, for a failure report.
     */
    String history()
    {
        return history.toString();
    }

    private void step(final long n) throws IOException
    {
        final long id = Stamp.id(thread, n);
        Op kind = table[random.nextInt(table.length)];
        if (files.isEmpty())
        {
            kind = Op.CREATE_OR_CLONE;
        }
        else if (kind == Op.CREATE_OR_CLONE && files.size() >= config.files())
        {
            kind = Op.CLONE_RANGE;
        }
        else if (kind == Op.DELETE && files.size() < 2)
        {
            kind = Op.VERIFY_FILE;
        }
        current = kind;
        final FileModel file = files.isEmpty() ? null : files.get(random.nextInt(files.size()));
        history.begin(n, kind, null == file ? 0 : file.id);
        try
        {
            switch (kind)
            {
                case READ -> read(n, file);
                case WRITE -> write(n, id, file, false);
                case STORE_WRITE -> write(n, id, file, true);
                case PIN -> pin(n, file);
                case CREATE_OR_CLONE -> createOrClone(n, file);
                case CLONE_RANGE -> cloneRange(file);
                case PUNCH -> punchHole(file);
                case TRUNCATE -> truncate(file);
                case DELETE -> delete(file);
                case FLUSH_FILE -> flushFile(file);
                case FLUSH_CACHE -> flushCache();
                case VERIFY_FILE -> verify(n, file, cache.file(file.id), 0, file.size);
                default -> throw new IllegalStateException("op " + kind);
            }
        }
        catch (final IOException ex)
        {
            if (!Soak.isInjected(ex))
            {
                throw ex;
            }
            faulted[kind.ordinal()]++;
            history.faulted();
        }
        done[kind.ordinal()]++;
    }

    private void read(final long n, final FileModel file) throws IOException
    {
        final long position = random.nextLong(file.size + PAGE);
        final int length = random.nextInt(8) == 0 ? 0 : 1 + random.nextInt(4 * PAGE);
        history.range(position, length);
        verify(n, file, cache.file(file.id), position, length);
    }

    /** Reads {@code [position, position + length)} through the cache (a fault propagates) and checks the model. */
    private void verify(final long n, final FileModel file, final CachedFile cached, final long position,
        final long length) throws IOException
    {
        final ByteBuffer dst = ByteBuffer.wrap(readBack, 0, (int)length);
        final int read = cached.read(position, dst);
        final long expected = 0 == length ? 0 : position >= file.size ? -1 : Math.min(length, file.size - position);
        if (read != expected)
        {
            throw failure(n, "read of " + length + " bytes at " + position + " of " + file + " returned " + read +
                ", expected " + expected);
        }
        if (read > 0)
        {
            checkBytes(n, file, position, read, "read");
        }
    }

    /** Checks {@code readBack[0, length)} against the model at {@code position}. */
    private void checkBytes(final long n, final FileModel file, final long position, final int length,
        final String what)
    {
        final int mismatch = Arrays.mismatch(readBack, 0, length, file.bytes, (int)position, (int)position + length);
        if (mismatch >= 0)
        {
            final long at = position + mismatch;
            throw failure(n, what + " of " + file + " at offset " + at + " (page " + at / PAGE + ") returned " +
                Stamp.describe(readBack, length, mismatch, position, config.opsPerThread()) + " but the model holds " +
                Stamp.describe(file.bytes, file.bytes.length, (int)at, 0, config.opsPerThread()));
        }
    }

    private void write(final long n, final long id, final FileModel file, final boolean aroundTheCache)
        throws IOException
    {
        final long position;
        final int length;
        final int shape = random.nextInt(10);
        if (shape < 3)
        {
            final long page = random.nextLong(Math.min(pages(file.size) + 2, config.maxPages()));
            position = page * PAGE;
            length = (1 + random.nextInt((int)Math.min(4, config.maxPages() - page))) * PAGE;
        }
        else if (shape < 5)
        {
            position = random.nextLong(Math.min(file.size + PAGE, limit - 1));
            length = 1 + random.nextInt((int)Math.min(512, limit - position));
        }
        else
        {
            position = random.nextLong(Math.min(file.size + 2 * PAGE, limit - 1));
            length = 1 + random.nextInt((int)Math.min(3 * PAGE, limit - position));
        }
        history.range(position, length);
        Stamp.fill(id, position, data, length);
        if (aroundTheCache)
        {
            store.write(file.id, position, ByteBuffer.wrap(data, 0, length));
            file.write(position, data, length);
            return;
        }
        final CachedFile cached = cache.file(file.id);
        final int written;
        try
        {
            written = cached.write(position, ByteBuffer.wrap(data, 0, length));
        }
        catch (final IOException ex)
        {
            if (Soak.isInjected(ex))
            {
                writeFailed(n, file, cached, position, length, ex);
            }
            throw ex;
        }
        if (written != length)
        {
            throw failure(n, "write of " + length + " bytes at " + position + " returned " + written);
        }
        file.write(position, data, length);
    }

    /**
     * A cache write failed: finds which page-granular prefix of it took effect (see the class comment), checks the
     * size and the untouched rest, and applies that prefix to the model.
     */
    private void writeFailed(final long n, final FileModel file, final CachedFile cached, final long position,
        final int length, final IOException failure) throws IOException
    {
        final long oldSize = file.size;
        final long newSize = cached.size();
        final int readable = (int)Math.max(0, Math.min(length, newSize - position));
        readBackWithRetries(n, cached, position, readable);
        final StringBuilder tried = new StringBuilder();
        long prefixEnd = position;
        while (true)
        {
            final long expectedSize = prefixEnd == position ? oldSize : Math.max(oldSize, prefixEnd);
            if (expectedSize == newSize)
            {
                final int prefix = (int)(prefixEnd - position);
                final int newMismatch = Arrays.mismatch(readBack, 0, Math.min(prefix, readable), data, 0,
                    Math.min(prefix, readable));
                final int oldMismatch = readable <= prefix ? -1 : Arrays.mismatch(readBack, prefix, readable,
                    file.bytes, (int)prefixEnd, (int)position + readable);
                if (newMismatch < 0 && oldMismatch < 0)
                {
                    if (prefix > 0)
                    {
                        file.write(position, data, prefix);
                    }
                    history.note("prefix " + prefix + " of " + length);
                    return;
                }
                tried.append(String.format("%n  prefix %d: %s", prefix, newMismatch >= 0 ?
                    "written part differs at offset " + (position + newMismatch) + ": " +
                        Stamp.describe(readBack, readable, newMismatch, position, config.opsPerThread()) :
                    "rest differs at offset " + (prefixEnd + oldMismatch) + ": " +
                        Stamp.describe(readBack, readable, prefix + oldMismatch, position, config.opsPerThread()) +
                        " where the model holds " + Stamp.describe(file.bytes, file.bytes.length,
                        (int)(prefixEnd + oldMismatch), 0, config.opsPerThread())));
            }
            if (prefixEnd == position + length)
            {
                break;
            }
            prefixEnd = Math.min(position + length, (prefixEnd / PAGE + 1) * PAGE);
        }
        final AssertionError error = failure(n, "write of " + length + " bytes at " + position + " to " + file +
            " failed (" + failure.getMessage() + ") and left the file at size " + newSize + " (was " + oldSize +
            "), holding no page-granular prefix of the write with the rest untouched, as CachedFile.write documents:" +
            (tried.length() == 0 ? " no prefix gives that size" : tried.toString()));
        error.addSuppressed(failure);
        throw error;
    }

    /** Reads exactly {@code length} bytes into {@link #readBack}, retrying reads that an injected fault failed. */
    private void readBackWithRetries(final long n, final CachedFile cached, final long position, final int length)
        throws IOException
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                final int read = cached.read(position, ByteBuffer.wrap(readBack, 0, length));
                if (read != length && !(0 == length && read <= 0))
                {
                    throw failure(n, "read back of " + length + " bytes at " + position + " returned " + read);
                }
                return;
            }
            catch (final IOException ex)
            {
                if (!Soak.isInjected(ex) || attempt >= 1000)
                {
                    throw ex;
                }
            }
        }
    }

    private void pin(final long n, final FileModel file) throws IOException
    {
        if (file.size > 0 && (pins.isEmpty() || (pins.size() < config.maxPins() && random.nextBoolean())))
        {
            final long position = random.nextLong(file.size);
            history.range(position, 1);
            final PinnedPage page = new PinnedPage();
            final boolean pinned;
            try
            {
                pinned = cache.file(file.id).pin(position, page);
            }
            catch (final IOException ex)
            {
                if (page.isPinned())
                {
                    throw failure(n, "a pin that failed (" + ex.getMessage() + ") left its page pinned");
                }
                throw ex;
            }
            final long start = position / PAGE * PAGE;
            final int length = (int)Math.min(PAGE, file.size - start);
            if (!pinned || page.position() != start || page.length() != length)
            {
                throw failure(n, "pin at " + position + " of " + file + " gave " + page + " (returned " + pinned + ")");
            }
            final HeldPin held = new HeldPin(page, Arrays.copyOfRange(file.bytes, (int)start, (int)start + length),
                file.id, n);
            check(n, held);
            if (pins.size() >= config.maxPins() || random.nextInt(3) == 0)
            {
                release(n, held);
            }
            else
            {
                pins.add(held);
            }
        }
        else if (!pins.isEmpty())
        {
            release(n, pins.remove(random.nextInt(pins.size())));
        }
    }

    private void check(final long n, final HeldPin held)
    {
        final int length = held.expected.length;
        held.page.buffer().getBytes(0, readBack, 0, length);
        final int mismatch = Arrays.mismatch(readBack, 0, length, held.expected, 0, length);
        if (mismatch >= 0)
        {
            throw failure(n, "page " + held.page.position() / PAGE + " of file " + held.file + " pinned at op " +
                held.op + " shows at byte " + mismatch + " " + Stamp.describe(readBack, length, mismatch,
                held.page.position(), config.opsPerThread()) + " but was pinned with " + Stamp.describe(held.expected,
                length, mismatch, held.page.position(), config.opsPerThread()));
        }
    }

    private void release(final long n, final HeldPin held)
    {
        check(n, held);
        held.page.close();
    }

    /** Before a checkpoint: every pin is checked and released, so the books must show none. */
    private void releasePins()
    {
        while (!pins.isEmpty())
        {
            release(op, pins.remove(pins.size() - 1));
        }
    }

    private void createOrClone(final long n, final FileModel file) throws IOException
    {
        if (null == file || random.nextInt(4) == 0)
        {
            files.add(new FileModel(store.create(), (int)limit));
            return;
        }
        final long clone = store.cloneFile(file.id);
        files.add(file.cloneAs(clone));
        if (random.nextBoolean())
        {
            // a snapshot, then writing on at once: the pages just written back are shared now, so this write breaks
            // the sharing while another thread's cache-wide flush may still hold them
            history.note("snapshot " + clone + ", then write");
            write(n, Stamp.id(thread, n), file, false);
        }
    }

    private void cloneRange(final FileModel src) throws IOException
    {
        if (0 == src.size)
        {
            return;
        }
        final FileModel dst = files.get(random.nextInt(files.size()));
        final long srcPages = pages(src.size);
        final long srcPage = random.nextLong(srcPages);
        final long pages = 1 + random.nextLong(Math.min(16, srcPages - srcPage));
        final long dstPage = random.nextLong(config.maxPages() - pages + 1);
        if (src == dst && srcPage < dstPage + pages && dstPage < srcPage + pages)
        {
            return;
        }
        long length = Math.min(pages * PAGE, src.size - srcPage * PAGE);
        if (length % PAGE != 0 && dstPage * PAGE + length < dst.size)
        {
            length -= length % PAGE; // FICLONERANGE: an unaligned tail must reach the destination's end of file
            if (0 == length)
            {
                return;
            }
        }
        history.range(srcPage * PAGE, length);
        history.note("to file " + dst.id + " at " + dstPage * PAGE);
        store.cloneRange(src.id, srcPage * PAGE, dst.id, dstPage * PAGE, length);
        dst.cloneRangeFrom(src, srcPage * PAGE, dstPage * PAGE, length);
    }

    private void punchHole(final FileModel file) throws IOException
    {
        final long position = random.nextLong(file.size + 1);
        final long length = random.nextLong(file.size - position + PAGE + 1);
        history.range(position, length);
        store.punchHole(file.id, position, length);
        file.punchHole(position, length);
    }

    private void truncate(final FileModel file) throws IOException
    {
        final long newSize = random.nextInt(3) == 0 ? random.nextLong(limit + 1) :
            Math.max(0, Math.min(limit, file.size + random.nextLong(-2L * PAGE, 2L * PAGE + 1)));
        history.range(newSize, 0);
        store.truncate(file.id, newSize);
        file.truncate(newSize);
    }

    private void delete(final FileModel file) throws IOException
    {
        store.delete(file.id);
        files.remove(file);
        try
        {
            cache.file(file.id);
        }
        catch (final NoSuchFileException expected)
        {
            return;
        }
        throw failure(op, "the cache still knows deleted " + file);
    }

    private void flushFile(final FileModel file) throws IOException
    {
        armSyncFault();
        final CachedFile cached = cache.file(file.id);
        final boolean exact = !config.cacheFlush();
        final int dirtyBefore = exact ? cached.dirtyPageCount() : -1;
        try
        {
            cached.flush();
        }
        catch (final IOException ex)
        {
            if (exact && Soak.isInjected(ex))
            {
                checkStillDirty(file, ex, dirtyBefore, cached.dirtyPageCount());
            }
            throw ex;
        }
        if (exact && 0 != cached.dirtyPageCount())
        {
            throw failure(op, "flush of " + file + " succeeded but left " + cached.dirtyPageCount() + " pages dirty");
        }
        checkDurable(file, "flush of");
    }

    /**
     * A flush failed, and no other thread can have written this thread's pages back meanwhile (no cache-wide
     * flushes): invariant 5 and the Javadoc of {@code flush} say its pages stay dirty. A failed sync redirties every
     * page it wrote (the message says how many), a failed device write leaves its page dirty. The count before may
     * be larger: the dirty set keeps pages whose dirty bytes a clone-range into the file discarded, until a
     * write-back finds their handles stale and drops them.
     */
    private void checkStillDirty(final FileModel file, final IOException failure, final int before, final int after)
    {
        final String message = String.valueOf(failure.getMessage());
        final Matcher written = WRITTEN_PAGES_STAY_DIRTY.matcher(message);
        final boolean syncFailed = written.find();
        final int atLeast = syncFailed ? Integer.parseInt(written.group(1)) : 1;
        if (after < atLeast || after > before)
        {
            final AssertionError error = failure(op, "flush of " + file + " failed (" + message + ") with " + before +
                " pages dirty before and " + after + " after: a failed " + (syncFailed ?
                "sync must leave every page it wrote dirty" : "write must leave its page dirty"));
            error.addSuppressed(failure);
            throw error;
        }
    }

    private void flushCache() throws IOException
    {
        armSyncFault();
        cache.flush();
        for (final FileModel file : files)
        {
            checkDurable(file, "cache-wide flush, then");
        }
    }

    private void armSyncFault()
    {
        if (config.syncFaultOneIn() > 0 && random.nextInt(config.syncFaultOneIn()) == 0)
        {
            history.note("armed failNextSync");
            device.failNextSync();
        }
    }

    /** After a successful flush: the file's every page must be durable (invariant 5). */
    private void checkDurable(final FileModel file, final String what) throws IOException
    {
        final String problem = deviceCheck.check(file, null);
        if (null != problem)
        {
            final CachedFile cached = cache.file(file.id);
            String inCache;
            try
            {
                readBackWithRetries(op, cached, 0, (int)file.size);
                final int mismatch = Arrays.mismatch(readBack, 0, (int)file.size, file.bytes, 0, (int)file.size);
                inCache = mismatch < 0 ? "the cache itself still serves the model's bytes" :
                    "the cache serves other bytes too, first at offset " + mismatch;
            }
            catch (final IOException | AssertionError ex)
            {
                inCache = "reading it back through the cache failed: " + ex;
            }
            throw failure(op, what + " " + file + " succeeded but the device (past its volatile write cache) " +
                "lacks what the model holds: " + problem + "; " + inCache + "; the file has " +
                cached.dirtyPageCount() + " dirty pages and the cache " + cache.stats().dirtyFrames() + " dirty frames");
        }
    }

    private AssertionError failure(final long n, final String message)
    {
        return new AssertionError("thread " + thread + " op " + n + " (" + current + "): " + message);
    }

    private static long pages(final long size)
    {
        return (size + PAGE - 1) / PAGE;
    }

    /** A pin held across operations, with the bytes its page held when it was taken. */
    private record HeldPin(PinnedPage page, byte[] expected, long file, long op)
    {
    }

    /** The last few operations of this thread: a ring of compact records, formatted only for a failure report. */
    private static final class History
    {
        private final long[] ops;
        private final Op[] kinds;
        private final long[] files;
        private final long[] positions;
        private final long[] lengths;
        private final boolean[] faults;
        private final String[] notes;
        private int next;
        private long count;

        History(final int capacity)
        {
            ops = new long[capacity];
            kinds = new Op[capacity];
            files = new long[capacity];
            positions = new long[capacity];
            lengths = new long[capacity];
            faults = new boolean[capacity];
            notes = new String[capacity];
        }

        void begin(final long op, final Op kind, final long file)
        {
            next = (int)(count++ % ops.length);
            ops[next] = op;
            kinds[next] = kind;
            files[next] = file;
            positions[next] = -1;
            lengths[next] = -1;
            faults[next] = false;
            notes[next] = null;
        }

        void range(final long position, final long length)
        {
            positions[next] = position;
            lengths[next] = length;
        }

        void faulted()
        {
            faults[next] = true;
        }

        void note(final String note)
        {
            notes[next] = null == notes[next] ? note : notes[next] + "; " + note;
        }

        @Override
        public String toString()
        {
            final StringBuilder out = new StringBuilder();
            final long first = Math.max(0, count - ops.length);
            for (long i = first; i < count; i++)
            {
                final int slot = (int)(i % ops.length);
                out.append(String.format("%n    op %d %s file %d", ops[slot], kinds[slot], files[slot]));
                if (positions[slot] >= 0)
                {
                    out.append(" at ").append(positions[slot]).append(" length ").append(lengths[slot]);
                }
                if (null != notes[slot])
                {
                    out.append(" [").append(notes[slot]).append(']');
                }
                if (faults[slot])
                {
                    out.append(" -> injected fault");
                }
            }
            return out.toString();
        }
    }
}
