package org.extentcache.fs;

import static org.extentcache.fs.NativeLibc.errnoText;
import static org.extentcache.fs.NativeLibc.is;
import static org.extentcache.fs.NativeLibc.nulTerminated;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystems;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import jnr.constants.platform.Errno;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.SaveError;
import jnr.ffi.annotations.Variadic;
import jnr.ffi.types.u_int64_t;

/**
 * The Linux {@code FS_IOC_FIEMAP} ioctl through jnr-ffi: which device bytes back which bytes of a file, and which of
 * them are shared with other files (reflink copies, snapshots).
 *
 * <p><b>Availability</b>: Linux on x86_64 or aarch64 with a libc jnr-ffi can load. The binding is loaded lazily, once,
 * on the first call to {@link #isAvailable()}, {@link #unavailableReason()} or {@link #extents(Path)}; loading this
 * class alone touches no native code. Where the binding is unavailable {@link #extents(Path)} throws
 * {@link UnsupportedOperationException}; where the file system has no FIEMAP (tmpfs, procfs, some FUSE and network
 * file systems) it throws {@link NotSupportedException}. Both mean the same to a caller: no sharing information, so
 * treat every file as sharing nothing.
 *
 * <p><b>Costs</b>: one {@code open}, one {@code ioctl} per 256 extents and one {@code close}
 * per call, plus a native buffer of {@code 32 + 56 * 256} bytes (about 14 KiB) freed by the
 * garbage collector. {@code FIEMAP_FLAG_SYNC} makes the kernel write back the file's dirty pages first, so that
 * delayed allocations get real addresses: on a freshly written file that costs as much as an {@code fdatasync}. Call
 * this when a file is opened, never per read.
 *
 * <p><b>Consistency</b>: the result is a snapshot. Each batch of 256 extents is one ioctl; if
 * the file is written, truncated or reflinked concurrently, the batches may mix the mapping before and after, but the
 * list is still in logical order without overlaps. Physical addresses stay valid only while nobody rewrites the
 * file (a copy-on-write file system moves every range written).
 *
 * <p>Thread safety: all methods are safe for concurrent use; errno is read through jnr-ffi's per-thread last error.
 */
public final class Fiemap
{
    /** This is the last extent of the file; the kernel will report no extent after it. */
    public static final int FIEMAP_EXTENT_LAST = 0x1;
    /** The data location is unknown; {@link FiemapExtent#physical()} is meaningless. */
    public static final int FIEMAP_EXTENT_UNKNOWN = 0x2;
    /** Delayed allocation: no location yet (implies {@code UNKNOWN}). */
    public static final int FIEMAP_EXTENT_DELALLOC = 0x4;
    /** The data is encoded (compressed, for example); the physical bytes are not the file's bytes. */
    public static final int FIEMAP_EXTENT_ENCODED = 0x8;
    /** The data is encrypted by the file system (implies {@code ENCODED}). */
    public static final int FIEMAP_EXTENT_DATA_ENCRYPTED = 0x80;
    /** The extent's offsets may not be block aligned. */
    public static final int FIEMAP_EXTENT_NOT_ALIGNED = 0x100;
    /** The data is stored inline with metadata (implies {@code NOT_ALIGNED}). */
    public static final int FIEMAP_EXTENT_DATA_INLINE = 0x200;
    /** The data is packed into a block with other files' tails (implies {@code NOT_ALIGNED}). */
    public static final int FIEMAP_EXTENT_DATA_TAIL = 0x400;
    /** Space is allocated but not written: it reads as zeros. */
    public static final int FIEMAP_EXTENT_UNWRITTEN = 0x800;
    /** The file system merged several block-sized mappings into this extent for the report. */
    public static final int FIEMAP_EXTENT_MERGED = 0x1000;
    /** The extent's blocks may be shared with another file or snapshot. */
    public static final int FIEMAP_EXTENT_SHARED = 0x2000;

    /** Extents asked for per ioctl. */
    static final int EXTENTS_PER_CALL = 256;

    /** {@code _IOWR('f', 11, struct fiemap)}: the same number on every Linux architecture this class supports. */
    private static final long FS_IOC_FIEMAP = 0xC020660BL;
    /** {@code fm_flags}: write back dirty pages before mapping, so delayed allocations have addresses. */
    private static final int FIEMAP_FLAG_SYNC = 0x1;
    /** {@code fm_length} meaning "to the end of the file". */
    private static final long FIEMAP_MAX_OFFSET = ~0L;

    /** {@code open(2)} flags, identical on Linux x86_64 and aarch64 (asm-generic). */
    private static final int O_RDONLY = 0;
    /** Never becomes readable: opening a FIFO for reading must not wait for a writer. No effect on regular files. */
    private static final int O_NONBLOCK = 0x800;
    /** The descriptor must not leak into processes spawned while it is open. */
    private static final int O_CLOEXEC = 0x80000;
    private static final String OPEN_FLAGS_TEXT = "O_RDONLY|O_NONBLOCK|O_CLOEXEC";

    private Fiemap()
    {
    }

    /**
     * Thrown when the file's file system does not implement {@code FS_IOC_FIEMAP} (the ioctl failed with
     * {@code EOPNOTSUPP}, {@code ENOTTY} or {@code EINVAL}), or the path is not on the default (native) file system.
     * Callers fall back to treating the file as sharing nothing.
     */
    public static final class NotSupportedException extends IOException
    {
        private static final long serialVersionUID = 1L;

        /**
         * @param message names the path and the errno.
         */
        public NotSupportedException(final String message)
        {
            super(message);
        }
    }

    /**
     * Loads the binding on first call.
     *
     * @return true if {@link #extents(Path)} can run on this platform.
     */
    public static boolean isAvailable()
    {
        return Binding.UNAVAILABLE_REASON == null;
    }

    /**
     * Loads the binding on first call.
     *
     * @return why {@link #extents(Path)} cannot run here (not Linux x86_64/aarch64, or jnr-ffi could not load libc),
     *         or null if it can.
     */
    public static String unavailableReason()
    {
        return Binding.UNAVAILABLE_REASON;
    }

    /**
     * Maps the whole file: every extent the kernel reports for bytes {@code [0, end of file)}, in logical order,
     * without overlaps. Holes are gaps between extents; an empty file, or one that is all hole, has no extents.
     * Dirty pages are written back first ({@code FIEMAP_FLAG_SYNC}).
     *
     * @param file a file of the default file system; opened read-only for the call and closed before return.
     * @return the extents, an unmodifiable list.
     * @throws UnsupportedOperationException if {@link #isAvailable()} is false, with {@link #unavailableReason()}.
     * @throws NotSupportedException         if the file system has no FIEMAP; the message names the path and errno.
     * @throws NoSuchFileException           if the file does not exist.
     * @throws AccessDeniedException         if the file cannot be opened for reading.
     * @throws IOException                   if {@code open}, {@code ioctl} or {@code close} fails otherwise; the message
     *                                       names the path, the call and the errno.
     */
    public static List<FiemapExtent> extents(final Path file) throws IOException
    {
        requireAvailable();
        if (file.getFileSystem() != FileSystems.getDefault())
        {
            throw new NotSupportedException(
                "FIEMAP needs a file of the default file system: path=" + file + ", provider=" +
                file.getFileSystem().provider().getClass().getName());
        }
        final Binding.LibC libc = Binding.LIBC;
        final int fd = open(libc, file);
        final List<FiemapExtent> extents;
        try
        {
            extents = map(libc, fd, file);
        }
        catch (final IOException | RuntimeException ex)
        {
            if (libc.close(fd) != 0)
            {
                ex.addSuppressed(new IOException(
                    "close(" + fd + ") failed for " + file + ": " + errnoText(Binding.lastError())));
            }
            throw ex;
        }
        if (libc.close(fd) != 0)
        {
            throw new IOException("close(" + fd + ") failed for " + file + ": " + errnoText(Binding.lastError()));
        }
        return extents;
    }

    /**
     * Opens a file read-only and returns the descriptor, so a caller can hold on to its inode: reopened through
     * {@code /proc/self/fd/N}, it is the same file whatever its path names later (renamed over, or deleted).
     *
     * @param file the file.
     * @return the descriptor; close it with {@link #closeDescriptor}.
     * @throws UnsupportedOperationException if {@link #isAvailable()} is false.
     * @throws NoSuchFileException           if the file does not exist.
     * @throws AccessDeniedException         if it cannot be opened for reading.
     * @throws IOException                   if {@code open} fails otherwise.
     */
    static int openDescriptor(final Path file) throws IOException
    {
        requireAvailable();
        return open(Binding.LIBC, file);
    }

    private static void requireAvailable()
    {
        if (!isAvailable())
        {
            throw new UnsupportedOperationException("FIEMAP is unavailable: " + Binding.UNAVAILABLE_REASON);
        }
    }

    /**
     * @param fd a descriptor from {@link #openDescriptor}.
     * @throws IOException if {@code close} fails.
     */
    static void closeDescriptor(final int fd) throws IOException
    {
        if (Binding.LIBC.close(fd) != 0)
        {
            throw new IOException("close(" + fd + ") failed: " + errnoText(Binding.lastError()));
        }
    }

    /**
     * @param flags {@code FIEMAP_EXTENT_*} bits.
     * @return the names of the set bits, as {@code [LAST|SHARED]}; unknown bits in hex.
     */
    static String flagNames(final int flags)
    {
        final String[] names = {
            "LAST", "UNKNOWN", "DELALLOC", "ENCODED", null, null, null, "DATA_ENCRYPTED",
            "NOT_ALIGNED", "DATA_INLINE", "DATA_TAIL", "UNWRITTEN", "MERGED", "SHARED"};
        final StringBuilder text = new StringBuilder("[");
        int unknown = 0;
        for (int bit = 0; bit < Integer.SIZE; bit++)
        {
            if ((flags & (1 << bit)) == 0)
            {
                continue;
            }
            if (bit < names.length && names[bit] != null)
            {
                text.append(text.length() > 1 ? "|" : "").append(names[bit]);
            }
            else
            {
                unknown |= 1 << bit;
            }
        }
        if (unknown != 0)
        {
            text.append(text.length() > 1 ? "|" : "").append("0x").append(Integer.toHexString(unknown));
        }
        return text.append(']').toString();
    }

    private static int open(final Binding.LibC libc, final Path file) throws IOException
    {
        final byte[] path = nulTerminated(file);
        while (true)
        {
            final int fd = libc.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
            if (fd >= 0)
            {
                return fd;
            }
            final int errno = Binding.lastError();
            if (is(errno, Errno.EINTR))
            {
                continue;
            }
            final String reason = "open(" + OPEN_FLAGS_TEXT + ") failed: " + errnoText(errno);
            if (is(errno, Errno.ENOENT))
            {
                throw new NoSuchFileException(file.toString(), null, reason);
            }
            if (is(errno, Errno.EACCES) || is(errno, Errno.EPERM))
            {
                throw new AccessDeniedException(file.toString(), null, reason);
            }
            throw new IOException(file + ": " + reason);
        }
    }

    /**
     * Runs {@code FS_IOC_FIEMAP} in batches from offset 0 until an extent carries {@code FIEMAP_EXTENT_LAST} or a
     * batch maps nothing; each batch starts where the last extent kept so far ends.
     */
    private static List<FiemapExtent> map(final Binding.LibC libc, final int fd, final Path file) throws IOException
    {
        final Pointer request = Memory.allocateDirect(Binding.RUNTIME, FiemapLayout.length(EXTENTS_PER_CALL), true);
        final List<FiemapExtent> extents = new ArrayList<>();
        long start = 0;
        long end = 0;
        while (true)
        {
            request.putLongLong(FiemapLayout.START_OFFSET, start);
            request.putLongLong(FiemapLayout.LENGTH_OFFSET, FIEMAP_MAX_OFFSET);
            request.putInt(FiemapLayout.FLAGS_OFFSET, FIEMAP_FLAG_SYNC);
            request.putInt(FiemapLayout.MAPPED_EXTENTS_OFFSET, 0);
            request.putInt(FiemapLayout.EXTENT_COUNT_OFFSET, EXTENTS_PER_CALL);
            request.putInt(FiemapLayout.RESERVED_OFFSET, 0);
            if (libc.ioctl(fd, FS_IOC_FIEMAP, request) != 0)
            {
                throw ioctlFailure(file, start, Binding.lastError(), request.getInt(FiemapLayout.FLAGS_OFFSET));
            }
            final int mapped = request.getInt(FiemapLayout.MAPPED_EXTENTS_OFFSET);
            if (mapped < 0 || mapped > EXTENTS_PER_CALL)
            {
                throw new IOException("ioctl(FS_IOC_FIEMAP) on " + file + " at fm_start=" + start +
                    " reported fm_mapped_extents=" + Integer.toUnsignedString(mapped) + " for fm_extent_count=" +
                    EXTENTS_PER_CALL);
            }
            if (mapped == 0)
            {
                return List.copyOf(extents);
            }
            boolean last = false;
            for (int i = 0; i < mapped; i++)
            {
                final int base = FiemapLayout.extentOffset(i);
                final long logical = request.getLongLong(FiemapLayout.logicalOffset(base));
                final long physical = request.getLongLong(FiemapLayout.physicalOffset(base));
                final long length = request.getLongLong(FiemapLayout.extentLengthOffset(base));
                final int flags = request.getInt(FiemapLayout.extentFlagsOffset(base));
                last |= (flags & FIEMAP_EXTENT_LAST) != 0;
                if (logical < 0 || physical < 0 || length < 0 || logical + length < 0)
                {
                    throw new IOException("ioctl(FS_IOC_FIEMAP) on " + file + " returned an extent out of range: " +
                        "fe_logical=" + Long.toUnsignedString(logical) + ", fe_physical=" +
                        Long.toUnsignedString(physical) + ", fe_length=" + Long.toUnsignedString(length));
                }
                if (logical + length <= end)
                {
                    // A zero-length extent, or one reported twice because the file changed between batches.
                    continue;
                }
                if (logical < end)
                {
                    // The file changed between batches: keep only the part not yet reported.
                    final long overlap = end - logical;
                    extents.add(new FiemapExtent(end, physical + overlap, length - overlap, flags));
                }
                else
                {
                    extents.add(new FiemapExtent(logical, physical, length, flags));
                }
                end = logical + length;
            }
            if (last)
            {
                return List.copyOf(extents);
            }
            if (end <= start)
            {
                throw new IOException("ioctl(FS_IOC_FIEMAP) on " + file + " made no progress: fm_start=" + start +
                    ", " + mapped + " extents all end at or before " + end);
            }
            start = end;
        }
    }

    private static IOException ioctlFailure(final Path file, final long start, final int errno, final int flagsOut)
    {
        final String call = "ioctl(FS_IOC_FIEMAP, fm_start=" + start + ", fm_flags=FIEMAP_FLAG_SYNC)";
        if (is(errno, Errno.EOPNOTSUPP) || is(errno, Errno.ENOTSUP) || is(errno, Errno.ENOTTY) ||
            is(errno, Errno.EINVAL))
        {
            return new NotSupportedException(
                "file system does not support FIEMAP: " + file + ": " + call + " failed: " + errnoText(errno));
        }
        if (is(errno, Errno.EBADR))
        {
            // The kernel returns the flags it does not support in fm_flags.
            return new IOException(file + ": " + call + " failed: " + errnoText(errno) +
                "; unsupported fm_flags=0x" + Integer.toHexString(flagsOut));
        }
        return new IOException(file + ": " + call + " failed: " + errnoText(errno));
    }

    /**
     * Layout of the ioctl argument: a {@code struct fiemap} header followed by {@code fm_extent_count}
     * {@code struct fiemap_extent}s ({@code <linux/fiemap.h>}). All fields are in native byte order, all {@code u64}
     * fields naturally aligned.
     *
     * <pre>
     *   struct fiemap (32 bytes)
     *    0                   1                   2                   3
     *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
     *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
     *   |             fm_start (u64, in): first byte to map             |  0
     *   |                                                               |
     *   +---------------------------------------------------------------+
     *   |               fm_length (u64, in): bytes to map               |  8
     *   |                                                               |
     *   +---------------------------------------------------------------+
     *   |        fm_flags (u32, in: FIEMAP_FLAG_*; out on EBADR)        | 16
     *   +---------------------------------------------------------------+
     *   |          fm_mapped_extents (u32, out): extents filled         | 20
     *   +---------------------------------------------------------------+
     *   |        fm_extent_count (u32, in): room in fm_extents[]        | 24
     *   +---------------------------------------------------------------+
     *   |                       fm_reserved (u32)                       | 28
     *   +---------------------------------------------------------------+
     *   |                  fm_extents[fm_extent_count]                  ... 32
     *
     *   struct fiemap_extent (56 bytes), at 32 + 56 * index
     *    0                   1                   2                   3
     *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
     *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
     *   |           fe_logical (u64): byte offset in the file           |  0
     *   |                                                               |
     *   +---------------------------------------------------------------+
     *   |          fe_physical (u64): byte offset on the device         |  8
     *   |                                                               |
     *   +---------------------------------------------------------------+
     *   |                 fe_length (u64): bytes mapped                 | 16
     *   |                                                               |
     *   +---------------------------------------------------------------+
     *   |                   fe_reserved64[2] (2 x u64)                  | 24
     *   |                                                               |
     *   |                                                               |
     *   |                                                               |
     *   +---------------------------------------------------------------+
     *   |                fe_flags (u32): FIEMAP_EXTENT_*                | 40
     *   +---------------------------------------------------------------+
     *   |                    fe_reserved[3] (3 x u32)                   | 44
     *   |                                                               |
     *   |                                                               |
     *   +---------------------------------------------------------------+
     * </pre>
     */
    private static final class FiemapLayout
    {
        static final int START_OFFSET = 0;
        static final int LENGTH_OFFSET = 8;
        static final int FLAGS_OFFSET = 16;
        static final int MAPPED_EXTENTS_OFFSET = 20;
        static final int EXTENT_COUNT_OFFSET = 24;
        static final int RESERVED_OFFSET = 28;
        static final int HEADER_LENGTH = 32;

        static final int EXTENT_LOGICAL_OFFSET = 0;
        static final int EXTENT_PHYSICAL_OFFSET = 8;
        static final int EXTENT_LENGTH_OFFSET = 16;
        static final int EXTENT_FLAGS_OFFSET = 40;
        static final int EXTENT_LENGTH = 56;

        private FiemapLayout()
        {
        }

        /** @return bytes for a header and {@code extentCount} extents. */
        static int length(final int extentCount)
        {
            return HEADER_LENGTH + EXTENT_LENGTH * extentCount;
        }

        /** @return the offset of extent {@code index} in the buffer. */
        static int extentOffset(final int index)
        {
            return HEADER_LENGTH + EXTENT_LENGTH * index;
        }

        static int logicalOffset(final int extentBase)
        {
            return extentBase + EXTENT_LOGICAL_OFFSET;
        }

        static int physicalOffset(final int extentBase)
        {
            return extentBase + EXTENT_PHYSICAL_OFFSET;
        }

        static int extentLengthOffset(final int extentBase)
        {
            return extentBase + EXTENT_LENGTH_OFFSET;
        }

        static int extentFlagsOffset(final int extentBase)
        {
            return extentBase + EXTENT_FLAGS_OFFSET;
        }
    }

    /**
     * The libc binding, loaded when this class initialises: on the first call that needs it, never when
     * {@link Fiemap} itself is loaded.
     */
    private static final class Binding
    {
        static final LibC LIBC;
        static final jnr.ffi.Runtime RUNTIME;
        static final String UNAVAILABLE_REASON;

        static
        {
            final NativeLibc<LibC> binding = NativeLibc.load(LibC.class, "FS_IOC_FIEMAP");
            LIBC = binding.calls();
            RUNTIME = binding.runtime();
            UNAVAILABLE_REASON = binding.unavailableReason();
        }

        private Binding()
        {
        }

        /** @return errno of this thread's last call through {@link #LIBC}. */
        static int lastError()
        {
            return RUNTIME.getLastError();
        }

        /**
         * The libc calls used. Public because jnr-ffi implements it in a class of its own class loader; not part of
         * the API, since the enclosing class is private.
         */
        public interface LibC
        {
            /** {@code int open(const char *path, int flags, ...)}; no mode, since O_CREAT is never passed. */
            @SaveError
            @Variadic(fixedCount = 2)
            int open(@In byte[] path, int flags);

            /** {@code int ioctl(int fd, unsigned long request, ...)}: variadic, the argument is the third. */
            @SaveError
            @Variadic(fixedCount = 2)
            int ioctl(int fd, @u_int64_t long request, Pointer argument);

            /** {@code int close(int fd)}. */
            @SaveError
            int close(int fd);
        }
    }
}
