package org.extentcache.nio;

import java.io.IOException;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;

import jnr.constants.platform.Errno;
import jnr.ffi.LibraryLoader;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.SaveError;
import jnr.ffi.annotations.Variadic;
import jnr.ffi.types.u_int64_t;

/**
 * A reference copy of a real file: Linux's {@code FICLONE} ioctl through jnr-ffi (the FFI library the project uses
 * for FIEMAP), which makes the target share every extent of the source on file systems with reflink (XFS made with
 * {@code reflink=1}, btrfs). Nothing is ever copied byte by byte: where the kernel refuses, the copy fails.
 *
 * <p><b>Availability</b>: Linux on x86_64 or aarch64, with a libc jnr-ffi can load; the binding loads on first use.
 *
 * <p><b>Costs</b>: two {@code open}s, one {@code ioctl} (the file system's metadata work, proportional to the
 * source's extents), two {@code close}s.
 *
 * <p>Thread safety: safe for concurrent use; errno is read through jnr-ffi's per-thread last error.
 */
final class FileClone
{
    /** {@code _IOW(0x94, 9, int)}: the same number on x86_64 and aarch64. */
    private static final long FICLONE = 0x40049409L;
    private static final int O_RDONLY = 0;
    private static final int O_WRONLY = 0x1;
    private static final int O_CREAT = 0x40;
    private static final int O_EXCL = 0x80;
    private static final int O_CLOEXEC = 0x80000;
    /** {@code rw-rw-rw-}, less the process's umask (applied by the kernel). */
    private static final int MODE = 0666;

    private FileClone()
    {
    }

    /**
     * Creates {@code target}, which must not exist, as a reference copy of {@code source}. If the clone fails, the
     * target is removed again.
     *
     * @param source a regular file.
     * @param target a path of the same file system where no file is.
     * @throws FileAlreadyExistsException if the target exists.
     * @throws NoSuchFileException        if the source or the target's directory does not exist.
     * @throws FileSystemException        with the reason, if the kernel refuses the clone: the two are on different
     *                                    file systems ({@code EXDEV}), or the file system has no reflink
     *                                    ({@code EOPNOTSUPP}, {@code EINVAL}); or this platform has no
     *                                    {@code FICLONE}.
     * @throws IOException                if an open, the ioctl or a close fails otherwise.
     */
    static void cloneFile(final Path source, final Path target) throws IOException
    {
        if (null != Binding.UNAVAILABLE_REASON)
        {
            throw new FileSystemException(source.toString(), target.toString(),
                "REFLINK needs FICLONE, unavailable here: " + Binding.UNAVAILABLE_REASON);
        }
        final Binding.LibC libc = Binding.LIBC;
        final int from = open(libc, source, O_RDONLY | O_CLOEXEC, target);
        try
        {
            final int to = open(libc, target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, source);
            boolean cloned = false;
            try
            {
                if (libc.ioctl(to, FICLONE, from) != 0)
                {
                    throw refused(source, target, Binding.lastError());
                }
                cloned = true;
            }
            finally
            {
                close(libc, to, target);
                if (!cloned)
                {
                    Files.deleteIfExists(target);
                }
            }
        }
        finally
        {
            close(libc, from, source);
        }
    }

    private static FileSystemException refused(final Path source, final Path target, final int errno)
    {
        final String call = "ioctl(FICLONE) failed: " + errnoText(errno);
        if (is(errno, Errno.EXDEV))
        {
            return new FileSystemException(source.toString(), target.toString(),
                "REFLINK impossible: source and target are on different file systems; " + call);
        }
        if (is(errno, Errno.EOPNOTSUPP) || is(errno, Errno.ENOTSUP) || is(errno, Errno.EINVAL) ||
            is(errno, Errno.ENOTTY))
        {
            return new FileSystemException(source.toString(), target.toString(),
                "REFLINK unsupported: the file system cannot share extents (XFS needs reflink=1); " + call);
        }
        return new FileSystemException(source.toString(), target.toString(), call);
    }

    private static int open(final Binding.LibC libc, final Path file, final int flags, final Path other)
        throws IOException
    {
        final byte[] path = nulTerminated(file);
        while (true)
        {
            final int fd = libc.open(path, flags, MODE);
            if (fd >= 0)
            {
                return fd;
            }
            final int errno = Binding.lastError();
            if (is(errno, Errno.EINTR))
            {
                continue;
            }
            final String reason = "open failed: " + errnoText(errno);
            if (is(errno, Errno.ENOENT))
            {
                throw new NoSuchFileException(file.toString(), other.toString(), reason);
            }
            if (is(errno, Errno.EEXIST))
            {
                throw new FileAlreadyExistsException(file.toString(), other.toString(), reason);
            }
            if (is(errno, Errno.EACCES) || is(errno, Errno.EPERM))
            {
                throw new AccessDeniedException(file.toString(), other.toString(), reason);
            }
            throw new FileSystemException(file.toString(), other.toString(), reason);
        }
    }

    private static void close(final Binding.LibC libc, final int fd, final Path file) throws IOException
    {
        if (libc.close(fd) != 0)
        {
            throw new IOException("close(" + fd + ") of " + file + " failed: " + errnoText(Binding.lastError()));
        }
    }

    private static boolean is(final int errno, final Errno constant)
    {
        return constant.defined() && constant.intValue() == errno;
    }

    private static String errnoText(final int errno)
    {
        final Errno constant = Errno.valueOf(errno);
        if (constant == null || constant == Errno.__UNKNOWN_CONSTANT__ || !constant.defined())
        {
            return "errno " + errno;
        }
        return constant.name() + " (" + constant.description() + ", errno " + errno + ')';
    }

    /** The path in the encoding the JDK uses for file names, NUL-terminated. */
    private static byte[] nulTerminated(final Path file)
    {
        Charset charset;
        try
        {
            charset = Charset.forName(System.getProperty("sun.jnu.encoding", "UTF-8"));
        }
        catch (final IllegalArgumentException ex)
        {
            charset = StandardCharsets.UTF_8;
        }
        final byte[] name = file.toString().getBytes(charset);
        final byte[] path = new byte[name.length + 1];
        System.arraycopy(name, 0, path, 0, name.length);
        return path;
    }

    /** The libc binding, loaded on first use. */
    private static final class Binding
    {
        static final LibC LIBC;
        static final jnr.ffi.Runtime RUNTIME;
        static final String UNAVAILABLE_REASON;

        static
        {
            LibC libc = null;
            jnr.ffi.Runtime runtime = null;
            String reason = platformProblem();
            if (null == reason)
            {
                try
                {
                    libc = LibraryLoader.create(LibC.class).failImmediately().load("c");
                    runtime = jnr.ffi.Runtime.getRuntime(libc);
                }
                catch (final LinkageError | RuntimeException ex)
                {
                    libc = null;
                    runtime = null;
                    reason = "jnr-ffi could not load libc: " + ex;
                }
            }
            LIBC = libc;
            RUNTIME = runtime;
            UNAVAILABLE_REASON = reason;
        }

        private Binding()
        {
        }

        static int lastError()
        {
            return RUNTIME.getLastError();
        }

        private static String platformProblem()
        {
            final String os = System.getProperty("os.name", "");
            final String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
            if (!os.equals("Linux"))
            {
                return "FICLONE is Linux-only: os.name=" + os;
            }
            if (!arch.equals("amd64") && !arch.equals("x86_64") && !arch.equals("aarch64"))
            {
                return "the FICLONE binding supports Linux x86_64 and aarch64 only: os.arch=" + arch;
            }
            return null;
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

            /** {@code int ioctl(int fd, unsigned long request, int srcfd)}. */
            @SaveError
            @Variadic(fixedCount = 2)
            int ioctl(int fd, @u_int64_t long request, int source);

            /** {@code int close(int fd)}. */
            @SaveError
            int close(int fd);
        }
    }
}
