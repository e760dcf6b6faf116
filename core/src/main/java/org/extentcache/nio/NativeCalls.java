package org.extentcache.nio;

import org.extentcache.fs.NativeLibc;

import static org.extentcache.fs.NativeLibc.errnoText;
import static org.extentcache.fs.NativeLibc.is;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

import jnr.constants.platform.Errno;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.SaveError;
import jnr.ffi.annotations.Variadic;
import jnr.ffi.types.u_int64_t;

/**
 * The libc calls of the real-file file system, through jnr-ffi (the project's one FFI library): {@code open},
 * {@code close}, {@code ioctl(FICLONE)} for {@link FileClone}, and {@code fcntl} with open file description locks
 * ({@code F_OFD_SETLK}) for {@link DirectoryFileSystem}'s locks.
 *
 * <h2>Why OFD locks</h2>
 * The JDK's {@code FileChannel.lock} takes classic POSIX record locks, which belong to the process: closing
 * <em>any</em> descriptor of the file drops them all. The translator opens and closes descriptors of an open file
 * (its extent map is read through a fresh descriptor on every revalidation), so a classic lock would silently
 * vanish. An OFD lock belongs to one open file description and lasts until that is closed; it conflicts with other
 * descriptions' OFD locks and with every classic lock, of this process or another, so a JVM using the JDK's locks
 * is refused too.
 *
 * <p><b>Availability</b>: Linux (OFD locks since 3.15) on x86_64 or aarch64; loaded on first use.
 *
 * <p>Thread safety: safe for concurrent use; errno is read through jnr-ffi's per-thread last error.
 */
final class NativeCalls
{
    static final int O_RDONLY = 0;
    static final int O_WRONLY = 0x1;
    static final int O_RDWR = 0x2;
    static final int O_CREAT = 0x40;
    static final int O_EXCL = 0x80;
    static final int O_CLOEXEC = 0x80000;

    /** {@code F_OFD_SETLK}: lock or unlock without waiting. */
    private static final int F_OFD_SETLK = 37;
    /** {@code F_OFD_SETLKW}: lock, waiting for a conflicting lock. */
    private static final int F_OFD_SETLKW = 38;
    private static final short F_RDLCK = 0;
    private static final short F_WRLCK = 1;
    private static final short F_UNLCK = 2;
    private static final short SEEK_SET = 0;

    /**
     * {@code struct flock} on LP64 Linux (x86_64, aarch64):
     * <pre>
     *    0               1               2               3
     *   +-------+-------+-------+-------+-------+-------+-------+-------+
     *   | l_type (i16)  | l_whence (i16)|            (padding)          |  0
     *   +-------+-------+-------+-------+-------+-------+-------+-------+
     *   |                      l_start (off_t, i64)                     |  8
     *   +---------------------------------------------------------------+
     *   |              l_len (off_t, i64): 0 = to end of file           | 16
     *   +---------------------------------------------------------------+
     *   |      l_pid (i32): 0 for OFD     |           (padding)         | 24
     *   +---------------------------------------------------------------+
     * </pre>
     */
    private static final int FLOCK_TYPE_OFFSET = 0;
    private static final int FLOCK_WHENCE_OFFSET = 2;
    private static final int FLOCK_START_OFFSET = 8;
    private static final int FLOCK_LEN_OFFSET = 16;
    private static final int FLOCK_PID_OFFSET = 24;
    private static final int FLOCK_LENGTH = 32;

    private NativeCalls()
    {
    }

    /** @return why the calls are unavailable here, or null. */
    static String unavailableReason()
    {
        return Binding.UNAVAILABLE_REASON;
    }

    /**
     * @return the descriptor.
     * @throws NoSuchFileException        if the file (or its directory) does not exist.
     * @throws FileAlreadyExistsException if {@code O_EXCL} and it exists.
     * @throws AccessDeniedException      if it may not be opened so.
     * @throws FileSystemException        otherwise, with errno.
     */
    static int open(final Path file, final int flags, final int mode, final Path other) throws IOException
    {
        requireAvailable();
        final byte[] path = NativeLibc.nulTerminated(file);
        final String second = null == other ? null : other.toString();
        while (true)
        {
            final int fd = Binding.LIBC.open(path, flags, mode);
            if (fd >= 0)
            {
                return fd;
            }
            final int errno = lastError();
            if (is(errno, Errno.EINTR))
            {
                continue;
            }
            final String reason = "open failed: " + errnoText(errno);
            if (is(errno, Errno.ENOENT))
            {
                throw new NoSuchFileException(file.toString(), second, reason);
            }
            if (is(errno, Errno.EEXIST))
            {
                throw new FileAlreadyExistsException(file.toString(), second, reason);
            }
            if (is(errno, Errno.EACCES) || is(errno, Errno.EPERM))
            {
                throw new AccessDeniedException(file.toString(), second, reason);
            }
            throw new FileSystemException(file.toString(), second, reason);
        }
    }

    static void close(final int fd, final Path file) throws IOException
    {
        if (Binding.LIBC.close(fd) != 0)
        {
            throw new IOException("close(" + fd + ") of " + file + " failed: " + errnoText(lastError()));
        }
    }

    /** @return 0, or errno of a failed {@code ioctl(to, request, from)}; {@code to} came from {@link #open}. */
    static int ioctl(final int to, final long request, final int from)
    {
        return Binding.LIBC.ioctl(to, request, from) == 0 ? 0 : lastError();
    }

    /**
     * Takes an OFD lock on a range of the file open as {@code fd}.
     *
     * @param size bytes, 0 or {@code Long.MAX_VALUE} for "to the end of the file, however it grows".
     * @return true if locked; false if {@code wait} is false and a conflicting lock is held.
     * @throws IOException with errno, if the kernel refuses otherwise.
     */
    static boolean lock(final int fd, final long position, final long size, final boolean shared,
        final boolean wait, final Path file) throws IOException
    {
        requireAvailable();
        final Pointer flock = flock(shared ? F_RDLCK : F_WRLCK, position, size);
        while (true)
        {
            if (Binding.LIBC.fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, flock) == 0)
            {
                return true;
            }
            final int errno = lastError();
            if (is(errno, Errno.EINTR))
            {
                continue;
            }
            if (!wait && (is(errno, Errno.EAGAIN) || is(errno, Errno.EACCES)))
            {
                return false;
            }
            throw new IOException("fcntl(F_OFD_SETLK" + (wait ? "W" : "") + ", " + (shared ? "F_RDLCK" : "F_WRLCK") +
                ", start=" + position + ", len=" + size + ") on " + file + " failed: " + errnoText(errno));
        }
    }

    /** Releases an OFD lock taken by {@link #lock}. */
    static void unlock(final int fd, final long position, final long size, final Path file) throws IOException
    {
        if (Binding.LIBC.fcntl(fd, F_OFD_SETLK, flock(F_UNLCK, position, size)) != 0)
        {
            throw new IOException("fcntl(F_OFD_SETLK, F_UNLCK, start=" + position + ", len=" + size + ") on " + file +
                " failed: " + errnoText(lastError()));
        }
    }

    private static Pointer flock(final short type, final long position, final long size)
    {
        final Pointer flock = Memory.allocateDirect(Binding.RUNTIME, FLOCK_LENGTH, true);
        flock.putShort(FLOCK_TYPE_OFFSET, type);
        flock.putShort(FLOCK_WHENCE_OFFSET, SEEK_SET);
        flock.putLongLong(FLOCK_START_OFFSET, position);
        flock.putLongLong(FLOCK_LEN_OFFSET, size == Long.MAX_VALUE ? 0 : size); // as the JDK: MAX_VALUE is "to EOF"
        flock.putInt(FLOCK_PID_OFFSET, 0);
        return flock;
    }

    private static int lastError()
    {
        return Binding.RUNTIME.getLastError();
    }

    private static void requireAvailable() throws FileSystemException
    {
        if (null != Binding.UNAVAILABLE_REASON)
        {
            throw new FileSystemException(null, null, Binding.UNAVAILABLE_REASON);
        }
    }

    /** The libc binding, loaded on first use. */
    private static final class Binding
    {
        static final LibC LIBC;
        static final jnr.ffi.Runtime RUNTIME;
        static final String UNAVAILABLE_REASON;

        static
        {
            final NativeLibc<LibC> binding = NativeLibc.load(LibC.class, "FICLONE and OFD locks");
            LIBC = binding.calls();
            RUNTIME = binding.runtime();
            UNAVAILABLE_REASON = binding.unavailableReason();
        }

        private Binding()
        {
        }

        /**
         * The libc calls used. Public because jnr-ffi implements it in a class of its own class loader; not part of
         * the API, since the enclosing class is private.
         */
        public interface LibC
        {
            /** {@code int open(const char *path, int flags, mode_t mode)}. */
            @SaveError
            @Variadic(fixedCount = 2)
            int open(@In byte[] path, int flags, int mode);

            /** {@code int ioctl(int fd, unsigned long request, int arg)}. */
            @SaveError
            @Variadic(fixedCount = 2)
            int ioctl(int fd, @u_int64_t long request, int arg);

            /** {@code int fcntl(int fd, int cmd, struct flock *lock)}. */
            @SaveError
            @Variadic(fixedCount = 2)
            int fcntl(int fd, int cmd, Pointer lock);

            /** {@code int close(int fd)}. */
            @SaveError
            int close(int fd);
        }
    }
}
