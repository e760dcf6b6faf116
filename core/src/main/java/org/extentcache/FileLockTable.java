package org.extentcache;

import java.nio.channels.OverlappingFileLockException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Process-local byte-range locks: for each file (named by a key the owner chooses) the ranges locked by every
 * {@link CachedFileChannel} of it, with the JDK's rule that a lock overlapping any lock held in this JVM on the same
 * file fails with {@link OverlappingFileLockException}, whichever channel holds it and whether or not either is
 * shared. Since no other process takes these locks, a lock never waits: {@code lock} and {@code tryLock} both
 * succeed or throw.
 *
 * <p>This is the lock strategy for files one process owns, such as an {@link org.extentcache.translate.ExtentStore}'s
 * (the store is not shared between processes, so a process-local lock excludes every other user). A table holds an
 * entry only for files with a lock held: it never grows with files that were locked once.
 *
 * <p>{@link #JVM} is the table {@link CachedFileChannel#open(ExtentCache, long)} uses, keyed by the
 * {@link CachedFile}: the only process-wide state here, and it is empty whenever no such lock is held.
 *
 * <p><b>Thread safety:</b> safe for concurrent use; each file's ranges change atomically
 * ({@link ConcurrentHashMap#compute}).
 */
public final class FileLockTable
{
    /** The table of {@link CachedFileChannel#open(ExtentCache, long)}'s channels, keyed by {@link CachedFile}. */
    static final FileLockTable JVM = new FileLockTable();

    /** Per file key: the ranges held, {@code {position, end}} with {@code end} exclusive. */
    private final ConcurrentHashMap<Object, List<long[]>> held = new ConcurrentHashMap<>();

    /**
     * @param file the file's key: any object with value equality (a file id, a path).
     * @return the lock strategy for channels of that file.
     */
    public ChannelLocks locksOf(final Object file)
    {
        Objects.requireNonNull(file, "file");
        return (position, size, shared, wait) -> lock(file, position, size);
    }

    /**
     * @param file a file's key.
     * @return how many ranges of the file are locked (tests).
     */
    public int lockCount(final Object file)
    {
        final List<long[]> ranges = held.get(file);
        return null == ranges ? 0 : ranges.size();
    }

    private ChannelLocks.Held lock(final Object file, final long position, final long size)
    {
        final long end = 0 == size || position + size < 0 ? Long.MAX_VALUE : position + size;
        final long[] range = {position, end};
        held.compute(file, (key, ranges) ->
        {
            final List<long[]> now = null == ranges ? new ArrayList<>(2) : ranges;
            for (final long[] other : now)
            {
                if (other[0] < end && position < other[1])
                {
                    throw new OverlappingFileLockException();
                }
            }
            now.add(range);
            return now;
        });
        return () -> held.computeIfPresent(file, (key, ranges) ->
        {
            ranges.remove(range);
            return ranges.isEmpty() ? null : ranges;
        });
    }
}
