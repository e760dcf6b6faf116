package org.extentcache.shm;

import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.concurrent.locks.LockSupport;

/**
 * The shared cache file on disk (tmpfs): creating it with the right mode, checking what a joiner finds, mapping it,
 * and removing it when the last client leaves. Joins and leaves hold an exclusive {@code fcntl} lock on the file, so
 * no process joins while another initializes it or removes it.
 *
 * <h2>Retired files</h2>
 * A leaver that removes the file, and a joiner that replaces a stale one, first write {@link #RETIRED} over its
 * magic, then unlink it. A joiner that opened the old inode before the unlink finds {@link #RETIRED} once it holds
 * the lock, and opens the path again. The file is never truncated while mapped: a process still mapping it (one that
 * only looked dead) keeps valid memory until it unmaps it, and the kernel frees the pages then.
 *
 * <h2>Who may join</h2>
 * A new file is created with mode 0600, or 0660 with the group the caller names. An existing file is joined only if
 * this process's user owns it and it grants nothing to others: a file another user planted could otherwise be read
 * (or written) by that user.
 */
final class SharedFile
{
    /** Written over the magic of a file that was removed or replaced: joiners holding the old inode retry. */
    static final long RETIRED = 0x444552495445525fL;

    final Path path;
    final SharedLayout layout;
    final long leaseMillis;
    final MappedByteBuffer metaMap;
    final UnsafeBuffer meta;
    final MappedByteBuffer[] chunkMaps;
    final UnsafeBuffer[] chunks;
    /** The inode this process mapped ({@code (st_dev, st_ino)}): leave() touches the path only while it names it. */
    private final Object fileKey;

    private SharedFile(final Path path, final SharedLayout layout, final long leaseMillis, final FileChannel channel,
        final Object fileKey) throws IOException
    {
        this.path = path;
        this.fileKey = fileKey;
        this.layout = layout;
        this.leaseMillis = leaseMillis;
        metaMap = channel.map(FileChannel.MapMode.READ_WRITE, 0, layout.metadataLength());
        meta = new UnsafeBuffer(metaMap);
        final int perChunk = layout.framesPerChunk();
        final int count = (layout.frames + perChunk - 1) / perChunk;
        chunkMaps = new MappedByteBuffer[count];
        chunks = new UnsafeBuffer[count];
        for (int chunk = 0; chunk < count; chunk++)
        {
            final long first = (long)chunk * perChunk;
            final long frames = Math.min(perChunk, layout.frames - first);
            chunkMaps[chunk] = channel.map(FileChannel.MapMode.READ_WRITE,
                layout.framesOffset + first * layout.pageSize, frames * layout.pageSize);
            chunks[chunk] = new UnsafeBuffer(chunkMaps[chunk]);
        }
    }

    /** What a join asks for. */
    record Request(Path path, int pageSize, int frames, int clientSlots, long leaseMillis, String group)
    {
    }

    /** What a join found and did: the mapped file and the claimed session. */
    record Joined(SharedFile file, long session, boolean created)
    {
    }

    /**
     * Opens (creating or replacing it if need be) and maps the file, and claims a client slot, under the file lock.
     *
     * @throws IOException if the file cannot be created, opened, locked or mapped.
     * @throws IllegalStateException if it is not a shared cache file, was made by another layout version while other
     *     processes use it, is made for another geometry, is not safely owned, or has no free client slot.
     */
    static Joined join(final Request request, final long pid) throws IOException
    {
        final SharedLayout layout = new SharedLayout(request.pageSize(), request.frames(), request.clientSlots());
        while (true)
        {
            try (FileChannel channel = open(request))
            {
                final FileLock lock = lockExclusive(channel);
                try
                {
                    final Object fileKey = checkOwnership(request.path());
                    final long size = channel.size();
                    if (0 == size)
                    {
                        return initializeAndClaim(request, layout, channel, pid, fileKey);
                    }
                    final ByteBuffer header = ByteBuffer.allocate(SharedLayout.HEADER_LENGTH)
                        .order(java.nio.ByteOrder.nativeOrder());
                    channel.read(header, 0);
                    header.flip();
                    final long magic = header.remaining() >= 8 ? header.getLong(SharedLayout.MAGIC_OFFSET) : 0;
                    if (RETIRED == magic)
                    {
                        continue; // removed or replaced after we opened it: open the path again
                    }
                    if (0 == magic && size >= SharedLayout.HEADER_LENGTH && allZero(header))
                    {
                        retire(request.path(), channel); // its creator died after sizing it, before its magic
                        continue;
                    }
                    if (SharedLayout.MAGIC != magic || header.remaining() < SharedLayout.HEADER_LENGTH)
                    {
                        throw new IllegalStateException(request.path() + " is not an ExtentCache shared cache file " +
                            "(size " + size + ", magic " + Long.toHexString(magic) + "): remove it or choose another path");
                    }
                    final int version = header.getInt(SharedLayout.VERSION_OFFSET);
                    if (version != SharedLayout.LAYOUT_VERSION)
                    {
                        if (liveOtherVersion(request.path(), header))
                        {
                            throw new IllegalStateException(request.path() + " was made by ExtentCache shared " +
                                "layout version " + version + "; this build uses version " +
                                SharedLayout.LAYOUT_VERSION + ", and processes built with that version still use " +
                                "it: stop them, or give this process another path");
                        }
                        retire(request.path(), channel);
                        continue;
                    }
                    if (1 != header.getInt(SharedLayout.INITIALIZED_OFFSET))
                    {
                        retire(request.path(), channel); // its creator died initializing it (creators hold the lock)
                        continue;
                    }
                    checkGeometry(request, header);
                    final SharedFile file = new SharedFile(request.path(), layout, request.leaseMillis(), channel,
                        fileKey);
                    return new Joined(file, file.claim(pid), false);
                }
                finally
                {
                    lock.release();
                }
            }
        }
    }

    private static FileChannel open(final Request request) throws IOException
    {
        final Set<java.nio.file.OpenOption> options = Set.of(StandardOpenOption.CREATE, StandardOpenOption.READ,
            StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS); // a symbolic link planted at the path is refused
        final Set<PosixFilePermission> mode = PosixFilePermissions.fromString(null == request.group() ?
            "rw-------" : "rw-rw----");
        final boolean existed = Files.exists(request.path(), LinkOption.NOFOLLOW_LINKS);
        final FileChannel channel = FileChannel.open(request.path(), options,
            PosixFilePermissions.asFileAttribute(mode));
        if (!existed && null != request.group())
        {
            try
            {
                final PosixFileAttributeView view =
                    Files.getFileAttributeView(request.path(), PosixFileAttributeView.class);
                final GroupPrincipal group = request.path().getFileSystem().getUserPrincipalLookupService()
                    .lookupPrincipalByGroupName(request.group());
                view.setGroup(group);
                view.setPermissions(mode); // the umask may have taken the group's bits off
            }
            catch (final IOException | RuntimeException ex)
            {
                channel.close();
                Files.deleteIfExists(request.path());
                throw new IOException("cannot give " + request.path() + " to group " + request.group() + ": " + ex,
                    ex);
            }
        }
        return channel;
    }

    private static FileLock lockExclusive(final FileChannel channel) throws IOException
    {
        // fcntl locks belong to the process: another thread of this one joining or leaving the same file holds it
        for (int spins = 0; ; spins++)
        {
            try
            {
                return channel.lock();
            }
            catch (final OverlappingFileLockException ex)
            {
                LockSupport.parkNanos(1_000_000L);
            }
        }
    }

    private static boolean allZero(final ByteBuffer header)
    {
        for (int i = header.position(); i < header.limit(); i++)
        {
            if (0 != header.get(i))
            {
                return false;
            }
        }
        return true;
    }

    /** @return the file's key (its inode), once it is found safe to join. */
    private static Object checkOwnership(final Path path) throws IOException
    {
        final PosixFileAttributes attrs = Files.readAttributes(path, PosixFileAttributes.class,
            LinkOption.NOFOLLOW_LINKS);
        if (!attrs.isRegularFile())
        {
            throw new IllegalStateException(path + " is not a regular file");
        }
        final Object owner = Files.getAttribute(path, "unix:uid", LinkOption.NOFOLLOW_LINKS);
        final Object me = Files.getAttribute(Path.of("/proc/self"), "unix:uid"); // this process's user id
        final Set<PosixFilePermission> perms = attrs.permissions();
        if (!owner.equals(me) || perms.contains(PosixFilePermission.OTHERS_READ) ||
            perms.contains(PosixFilePermission.OTHERS_WRITE))
        {
            throw new IllegalStateException(path + " is owned by uid " + owner + " (" + attrs.owner().getName() +
                ") with mode " + PosixFilePermissions.toString(perms) + ": a shared cache file must belong to this " +
                "process's user (uid " + me + ") and grant nothing to others, since every process that can map it " +
                "can read every cached page");
        }
        return attrs.fileKey();
    }

    private static Joined initializeAndClaim(final Request request, final SharedLayout layout,
        final FileChannel channel, final long pid, final Object fileKey) throws IOException
    {
        // no write: mapping past the end grows the file with ftruncate, sparse, so tmpfs gives pages only when touched
        final SharedFile file = new SharedFile(request.path(), layout, request.leaseMillis(), channel, fileKey);
        final UnsafeBuffer meta = file.meta;
        meta.putLong(SharedLayout.MAGIC_OFFSET, SharedLayout.MAGIC);
        meta.putInt(SharedLayout.VERSION_OFFSET, SharedLayout.LAYOUT_VERSION);
        meta.putInt(SharedLayout.PAGE_SIZE_OFFSET, layout.pageSize);
        meta.putInt(SharedLayout.FRAMES_OFFSET, layout.frames);
        meta.putInt(SharedLayout.CLIENT_SLOTS_OFFSET, layout.clientSlots);
        meta.putInt(SharedLayout.INDEX_SLOTS_OFFSET, layout.indexSlots);
        meta.putInt(SharedLayout.LEASE_OFFSET, (int)request.leaseMillis());
        for (int frame = 0; frame < layout.frames; frame++)
        {
            meta.putLong((int)layout.recordOffset(frame) + SharedLayout.STATE_OFFSET,
                SharedLayout.stateWord(1, 0, SharedLayout.FREE));
        }
        meta.putIntRelease(SharedLayout.INITIALIZED_OFFSET, 1); // a joiner finding 0 replaces the file
        return new Joined(file, file.claim(pid), true);
    }

    /**
     * Another version's client table may lie elsewhere; its clients are taken as alive unless neither the header's
     * last beat (at the same offset in every version; each heartbeat stores it) nor the file's mtime (write(2)s
     * move it; stores through the mapping do not, on tmpfs) is within two leases.
     */
    private static boolean liveOtherVersion(final Path path, final ByteBuffer header)
    {
        try
        {
            final long now = System.currentTimeMillis();
            final int lease = Math.max(1000, header.getInt(SharedLayout.LEASE_OFFSET));
            final long lastBeat = header.getLong(SharedLayout.LAST_BEAT_OFFSET);
            final long modified = Files.getLastModifiedTime(path).toMillis();
            return now - lastBeat <= 2L * lease || now - modified <= 2L * lease;
        }
        catch (final IOException ex)
        {
            return true;
        }
    }

    private static void checkGeometry(final Request request, final ByteBuffer header)
    {
        final Path path = request.path();
        final int pageSize = header.getInt(SharedLayout.PAGE_SIZE_OFFSET);
        final int frames = header.getInt(SharedLayout.FRAMES_OFFSET);
        final int clientSlots = header.getInt(SharedLayout.CLIENT_SLOTS_OFFSET);
        final int lease = header.getInt(SharedLayout.LEASE_OFFSET);
        if (pageSize != request.pageSize() || frames != request.frames() ||
            clientSlots != request.clientSlots() || lease != request.leaseMillis())
        {
            throw new IllegalArgumentException(path + " holds a shared cache of pageSize=" + pageSize + ", frames=" +
                frames + ", clientSlots=" + clientSlots + ", leaseMillis=" + lease + "; this process asked for " +
                "pageSize=" + request.pageSize() + ", frames=" + request.frames() + ", clientSlots=" +
                request.clientSlots() + ", leaseMillis=" + request.leaseMillis() + ": every process must ask for " +
                "the same");
        }
    }

    ClientTable clients()
    {
        return new ClientTable(meta, layout);
    }

    private long claim(final long pid)
    {
        final long session = clients().claim(pid, System.currentTimeMillis(), leaseMillis);
        if (0 == session)
        {
            throw new IllegalStateException(path + " has no free client slot: all " + layout.clientSlots +
                " are taken by live processes (or by dead ones whose lease of " + leaseMillis +
                " ms has not run out yet, or recovered less than a lease ago)");
        }
        return session;
    }

    /** Marks the file retired and unlinks it; the caller holds the file lock. */
    private static void retire(final Path path, final FileChannel channel) throws IOException
    {
        final ByteBuffer retired = ByteBuffer.allocate(Long.BYTES).order(java.nio.ByteOrder.nativeOrder());
        retired.putLong(0, RETIRED);
        channel.write(retired, SharedLayout.MAGIC_OFFSET);
        Files.deleteIfExists(path);
    }

    /**
     * Leaves: frees the session's slot (the caller recovered its pins and loads), and removes the file if no other
     * client is alive, all under the file lock.
     *
     * @return true if this was the last client and the file was removed.
     */
    boolean leave(final long session) throws IOException
    {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS))
        {
            clients().release(session, 0);
            return false;
        }
        final FileChannel opened;
        try
        {
            opened = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE,
                LinkOption.NOFOLLOW_LINKS);
        }
        catch (final java.nio.file.NoSuchFileException ex)
        {
            clients().release(session, 0); // another client leaving last removed it since the check above
            return false;
        }
        try (FileChannel channel = opened)
        {
            final FileLock lock = lockExclusive(channel);
            try
            {
                if (!java.util.Objects.equals(fileKey, keyAt(path)))
                {
                    clients().release(session, 0); // the path names another file now (ours was removed): not ours
                    return false;
                }
                final ByteBuffer magic = ByteBuffer.allocate(Long.BYTES).order(java.nio.ByteOrder.nativeOrder());
                channel.read(magic, 0);
                final boolean same = magic.flip().remaining() == Long.BYTES &&
                    magic.getLong(0) == meta.getLongVolatile(SharedLayout.MAGIC_OFFSET) &&
                    meta.getLongVolatile(SharedLayout.MAGIC_OFFSET) == SharedLayout.MAGIC;
                clients().release(session, 0);
                if (same && 0 == clients().live(System.currentTimeMillis(), leaseMillis))
                {
                    retire(path, channel);
                    return true;
                }
                return false;
            }
            finally
            {
                lock.release();
            }
        }
    }

    /** @return the key of the file at the path now, or null if there is none. */
    private static Object keyAt(final Path path)
    {
        try
        {
            return Files.readAttributes(path, java.nio.file.attribute.BasicFileAttributes.class,
                LinkOption.NOFOLLOW_LINKS).fileKey();
        }
        catch (final IOException ex)
        {
            return null;
        }
    }

    /** @return frame {@code frame}'s chunk buffer; its offset in it is {@link #frameOffset}. */
    UnsafeBuffer chunkOf(final int frame)
    {
        return chunks[frame / layout.framesPerChunk()];
    }

    int frameOffset(final int frame)
    {
        return (frame % layout.framesPerChunk()) * layout.pageSize;
    }
}
