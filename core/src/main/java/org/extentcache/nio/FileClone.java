package org.extentcache.nio;

import org.extentcache.fs.NativeLibc;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

import jnr.constants.platform.Errno;

/**
 * A reference copy of a real file: Linux's {@code FICLONE} ioctl through jnr-ffi (the FFI library the project uses
 * for FIEMAP), which makes the target share every extent of the source on file systems with reflink (XFS made with
 * {@code reflink=1}, btrfs). Nothing is ever copied byte by byte: where the kernel refuses, the copy fails.
 *
 * <p><b>Availability</b>: Linux on x86_64 or aarch64 ({@link NativeCalls}).
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
        if (null != NativeCalls.unavailableReason())
        {
            throw new FileSystemException(source.toString(), target.toString(),
                "REFLINK needs FICLONE, unavailable here: " + NativeCalls.unavailableReason());
        }
        final int from = NativeCalls.open(source, NativeCalls.O_RDONLY | NativeCalls.O_CLOEXEC, 0, target);
        try
        {
            final int to = NativeCalls.open(target, NativeCalls.O_WRONLY | NativeCalls.O_CREAT | NativeCalls.O_EXCL |
                NativeCalls.O_CLOEXEC, MODE, source);
            boolean cloned = false;
            try
            {
                final int errno = NativeCalls.ioctl(to, FICLONE, from);
                if (errno != 0)
                {
                    throw refused(source, target, errno);
                }
                cloned = true;
            }
            finally
            {
                NativeCalls.close(to, target);
                if (!cloned)
                {
                    Files.deleteIfExists(target);
                }
            }
        }
        finally
        {
            NativeCalls.close(from, source);
        }
    }

    private static FileSystemException refused(final Path source, final Path target, final int errno)
    {
        final String call = "ioctl(FICLONE) failed: " + NativeLibc.errnoText(errno);
        if (NativeLibc.is(errno, Errno.EXDEV))
        {
            return new FileSystemException(source.toString(), target.toString(),
                "REFLINK impossible: source and target are on different file systems; " + call);
        }
        if (NativeLibc.is(errno, Errno.EOPNOTSUPP) || NativeLibc.is(errno, Errno.ENOTSUP) ||
            NativeLibc.is(errno, Errno.EINVAL) || NativeLibc.is(errno, Errno.ENOTTY))
        {
            return new FileSystemException(source.toString(), target.toString(),
                "REFLINK unsupported: the file system cannot share extents (XFS needs reflink=1); " + call);
        }
        return new FileSystemException(source.toString(), target.toString(), call);
    }
}
