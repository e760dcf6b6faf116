package org.extentcache;

import java.io.IOException;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;

/**
 * How a {@link CachedFileChannel} takes its {@link FileLock}s: the lock strategy given when the channel is opened.
 * Two strategies exist: {@link FileLockTable}, process-local locks for files that one process owns (an
 * {@link org.extentcache.translate.ExtentStore}'s files, and the default of {@link CachedFileChannel#open(ExtentCache,
 * long)}); and the operating system's locks on a real file (the {@code extentcache} file system over real files), so
 * that two processes cannot both lock one file.
 *
 * <p>Whatever the strategy, the channel checks its own mode first (a shared lock needs a readable channel, an
 * exclusive one a writable channel) and its arguments; the strategy sees only valid ranges.
 *
 * <p><b>Thread safety:</b> implementations are safe for concurrent use by every channel of the file.
 */
@FunctionalInterface
public interface ChannelLocks
{
    /**
     * Takes a lock on a range of the file.
     *
     * @param position where the range starts, {@code >= 0}.
     * @param size     bytes in the range, {@code >= 0} with {@code position + size >= 0}; 0 means from
     *                 {@code position} to the end of the file, however it grows (the {@code FileChannel} contract).
     * @param shared   true for a shared (read) lock, false for an exclusive one.
     * @param wait     true to wait for a lock another process holds ({@code lock}); false to return null instead
     *                 ({@code tryLock}).
     * @return the lock held, which the caller releases exactly once; or null if {@code wait} is false and another
     * process holds an overlapping lock.
     * @throws OverlappingFileLockException if a lock held in this JVM (by any channel of the file) overlaps the
     *                                      range, or another thread of this JVM is waiting to lock an overlapping
     *                                      range, as {@code FileChannel} throws.
     * @throws IOException                  if the operating system refuses the lock, or an interrupt ends the wait.
     */
    Held acquire(long position, long size, boolean shared, boolean wait) throws IOException;

    /**
     * A lock the strategy granted.
     */
    @FunctionalInterface
    interface Held
    {
        /**
         * Releases the lock; called exactly once.
         *
         * @throws IOException if the operating system fails to release it.
         */
        void release() throws IOException;
    }
}
