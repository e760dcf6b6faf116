package org.extentcache.translate;

import org.extentcache.device.BlockDevice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.LongAdder;

/**
 * Several translators behind one cache, so that storage engines in one JVM share one memory budget, as RocksDB
 * instances share one block {@code Cache}: several {@link ExtentStore}s, a
 * {@link org.extentcache.fs.FileSystemTranslator} and an engine's own translator over its own device.
 *
 * <pre>{@code
 * TranslatorGroup group = new TranslatorGroup(4096);
 * TranslatorGroup.Member orders = group.add("orders", ordersStore, ordersDevice);
 * TranslatorGroup.Member images = group.add("images", fileSystemTranslator);
 * try (ExtentCache cache = ExtentCache.builder().translator(group).capacityBytes(1L << 30).build())
 * {
 *     CachedFile file = cache.file(orders.fileId(42));
 *     MemberStats mine = orders.stats();
 * }
 * }</pre>
 *
 * <h2>Namespaces</h2>
 * A member's files are named in the group by {@link Member#fileId}: the member's index in the top bits, its own id
 * below ({@link GroupKeys}). Its block keys get a namespace of their own, so block 7 of one store and block 7 of
 * another are two frames. The exception is an address space two members both name ({@link Translator#blockSpace}):
 * their keys in it are one key in the group, and share a frame. Two {@code FileSystemTranslator}s keep separate
 * namespaces: which open files vouch for a physical block is each translator's own bookkeeping, so one could not
 * invalidate a frame the other's file no longer maps. Engines that read the same files share one
 * {@code FileSystemTranslator} (one member) instead.
 *
 * <h2>I/O</h2>
 * The group is a {@link FileBackedTranslator}: a missed block is read through its member (the member's device, or a
 * file-backed member's own files), and a dirty page is written back through the member whose namespace holds its
 * block. A file of a member over a block device syncs that device ({@link #syncsFileAlone} false); a failed sync is
 * reported to the member whose sync failed ({@link Translator#deviceSyncFailed}), by the group, at once. Since the
 * cache reads windows ahead for file-backed translators, it does so for every member of a group: a device member's
 * window is read one block at a time.
 *
 * <h2>Changes</h2>
 * Each member's change notifications reach the group's listeners with the member's file ids and block keys moved
 * into the group's; a notification for blocks the group never handed out a key for reaches no one, since no frame
 * can hold them.
 *
 * <h2>Thread safety and ownership</h2>
 * Safe for concurrent use; {@link #add} may run while the cache reads. Members stay for the group's life. The
 * caller owns the members' translators and devices and closes them after the cache. Costs: a translation, read or
 * write goes through one more call and an array lookup per key ({@link GroupKeys}).
 */
public final class TranslatorGroup implements FileBackedTranslator
{
    private final int pageSize;
    private final GroupKeys keys = new GroupKeys();
    private final CopyOnWriteArrayList<TranslationListener> listeners = new CopyOnWriteArrayList<>();
    /**
     * Blocks in shared address spaces that a member reserved ({@link #reserveBlock}) and the cache has not yet
     * committed or released, to that member: a shared key alone does not tell which member reserved it, and a release
     * must reach the member whose reservation it is.
     */
    private final ConcurrentHashMap<Long, Member> sharedReservations = new ConcurrentHashMap<>();
    /** Copy-on-write, indexed by member index. */
    private volatile Member[] members = new Member[0];

    /**
     * @param pageSize the page size of every member, and of the cache over the group.
     * @throws IllegalArgumentException if it is not a power of two of at least 512.
     */
    public TranslatorGroup(final int pageSize)
    {
        if (pageSize < 512 || Integer.bitCount(pageSize) != 1)
        {
            throw new IllegalArgumentException("pageSize must be a power of two >= 512: pageSize=" + pageSize);
        }
        this.pageSize = pageSize;
    }

    /**
     * Adds a translator whose blocks live on {@code device}: an {@link ExtentStore} and its device, or an engine's
     * own translator.
     *
     * @param name       the member's name, for stats and messages.
     * @param translator the member's translator; not a {@link FileBackedTranslator}.
     * @param device     the device its blocks live on.
     * @return the member.
     * @throws IllegalArgumentException if the page or block size differs from the group's, the translator is
     *                                  file-backed, is already a member, or the group is full (256 members).
     */
    public Member add(final String name, final Translator translator, final BlockDevice device)
    {
        Objects.requireNonNull(device, "device");
        if (translator instanceof FileBackedTranslator)
        {
            throw new IllegalArgumentException(name + ": a FileBackedTranslator does its own I/O; add it without a " +
                "device");
        }
        if (device.blockSize() != pageSize)
        {
            throw new IllegalArgumentException(name + ": device block size must equal the group's page size: " +
                "blockSize=" + device.blockSize() + " pageSize=" + pageSize);
        }
        return join(name, translator, device);
    }

    /**
     * Adds a translator whose files do their own I/O, such as a {@link org.extentcache.fs.FileSystemTranslator}.
     *
     * @param name       the member's name, for stats and messages.
     * @param translator the member's translator.
     * @return the member.
     * @throws IllegalArgumentException if its page size differs from the group's, it is already a member, or the
     *                                  group is full (256 members).
     */
    public Member add(final String name, final FileBackedTranslator translator)
    {
        return join(name, translator, null);
    }

    private Member join(final String name, final Translator translator, final BlockDevice device)
    {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(translator, "translator");
        if (translator == this)
        {
            throw new IllegalArgumentException(name + ": a group cannot be its own member");
        }
        if (translator.pageSize() != pageSize)
        {
            throw new IllegalArgumentException(name + ": translator page size must equal the group's: " +
                "translatorPageSize=" + translator.pageSize() + " pageSize=" + pageSize);
        }
        final Member member;
        synchronized (this)
        {
            final Member[] known = members;
            for (final Member m : known)
            {
                if (m.translator == translator)
                {
                    throw new IllegalArgumentException(name + ": the translator is already member " + m.name);
                }
            }
            if (known.length == GroupKeys.MEMBERS)
            {
                throw new IllegalArgumentException(name + ": a group holds at most " + GroupKeys.MEMBERS +
                    " members");
            }
            member = new Member(this, known.length, name, translator, device);
            translator.addListener(member.listener);
            final Member[] grown = Arrays.copyOf(known, known.length + 1);
            grown[member.index] = member;
            members = grown;
        }
        return member;
    }

    /**
     * @return the members, in the order they were added.
     */
    public List<Member> members()
    {
        return List.of(members);
    }

    /**
     * @param groupFile a group file id.
     * @return the member whose file it names.
     * @throws IllegalArgumentException if no member has that index.
     */
    public Member memberOf(final long groupFile)
    {
        final Member member = find(members, groupFile);
        if (null == member)
        {
            throw new IllegalArgumentException("not a file of any member of the group: file=" + groupFile);
        }
        return member;
    }

    /**
     * @return the member of a file the cache passes in, or a {@link NoSuchFileException} for an id no member has.
     */
    private Member member(final long groupFile) throws NoSuchFileException
    {
        final Member member = find(members, groupFile);
        if (null == member)
        {
            throw new NoSuchFileException("file " + groupFile + " (no member of the group has it)");
        }
        return member;
    }

    /** @return the member among {@code known} whose file {@code groupFile} names, or null if none. */
    private static Member find(final Member[] known, final long groupFile)
    {
        final int index = GroupKeys.memberOf(groupFile);
        return groupFile < 0 || index >= known.length ? null : known[index];
    }

    @Override
    public int pageSize()
    {
        return pageSize;
    }

    @Override
    public long size(final long file) throws NoSuchFileException
    {
        return member(file).translator.size(GroupKeys.memberFile(file));
    }

    @Override
    public void translate(final long file, final long page, final Extent extent) throws NoSuchFileException
    {
        final Member member = member(file);
        member.translator.translate(GroupKeys.memberFile(file), page, extent);
        member.translations.increment();
        if (extent.isHole())
        {
            return;
        }
        final long block = extent.blockOf(page);
        final long low = block & GroupKeys.LOW_MASK;
        // the run, cut to the part of its chunk that holds the page: the next chunk may be anywhere in the group
        final long before = Math.min(page - extent.filePage(), low);
        final long after = Math.min(extent.filePage() + extent.pageCount() - page, GroupKeys.LOW_MASK + 1 - low);
        extent.set(page - before, before + after, keys.groupKey(member.index, block, member.translator) - before,
            extent.isShared());
    }

    @Override
    public void checkWritable(final long file) throws IOException
    {
        member(file).translator.checkWritable(GroupKeys.memberFile(file));
    }

    @Override
    public long reserveBlock(final long file, final long page) throws IOException
    {
        final Member member = member(file);
        final long block = member.translator.reserveBlock(GroupKeys.memberFile(file), page);
        final long groupKey;
        try
        {
            groupKey = keys.groupKey(member.index, block, member.translator);
        }
        catch (final RuntimeException ex)
        {
            member.translator.releaseBlock(block);
            throw ex;
        }
        if (keys.inSharedSpace(groupKey))
        {
            sharedReservations.put(groupKey, member);
        }
        return groupKey;
    }

    @Override
    public void commitBlock(final long file, final long page, final long block) throws NoSuchFileException
    {
        final Member member = member(file);
        member.translator.commitBlock(GroupKeys.memberFile(file), page, member.key(block));
        // committed: no release can follow (a failed commit keeps the entry for the release the cache then makes)
        sharedReservations.remove(block, member);
    }

    /**
     * Releases through the member that reserved the block: in a shared space, the one recorded at
     * {@link #reserveBlock}, not whichever member named the space first.
     */
    @Override
    public void releaseBlock(final long block)
    {
        final Member reserver = sharedReservations.remove(block);
        final Member member = null == reserver ? owner(block) : reserver;
        member.translator.releaseBlock(member.key(block));
    }

    @Override
    public void extend(final long file, final long size) throws IOException
    {
        member(file).translator.extend(GroupKeys.memberFile(file), size);
    }

    @Override
    public void truncate(final long file, final long size) throws IOException
    {
        member(file).translator.truncate(GroupKeys.memberFile(file), size);
    }

    @Override
    public void commit(final long file) throws IOException
    {
        member(file).translator.commit(GroupKeys.memberFile(file));
    }

    /**
     * Commits each member's files with one call to that member ({@link Translator#commit(long[])}).
     *
     * @throws IOException the first member's failure, the others' suppressed in it; every member is asked.
     */
    @Override
    public void commit(final long[] files) throws IOException
    {
        final Member[] known = members;
        final long[][] byMember = new long[known.length][];
        final int[] counts = new int[known.length];
        for (final long file : files)
        {
            final Member member = find(known, file);
            if (null == member)
            {
                continue; // no such file: nothing to make durable
            }
            final int index = member.index;
            if (null == byMember[index])
            {
                byMember[index] = new long[files.length];
            }
            byMember[index][counts[index]++] = GroupKeys.memberFile(file);
        }
        IOException failure = null;
        for (int i = 0; i < known.length; i++)
        {
            if (null == byMember[i])
            {
                continue;
            }
            try
            {
                known[i].translator.commit(Arrays.copyOf(byMember[i], counts[i]));
            }
            catch (final IOException ex)
            {
                failure = first(failure, ex);
            }
        }
        if (null != failure)
        {
            throw failure;
        }
    }

    /**
     * Does nothing: the group tells the member whose sync failed itself, as the failure happens.
     */
    @Override
    public void deviceSyncFailed(final Throwable failure)
    {
    }

    @Override
    public void readBlock(final long file, final long page, final long block, final ByteBuffer dst)
        throws IOException
    {
        member(file).read(GroupKeys.memberFile(file), page, block, dst);
    }

    @Override
    public void readBlocks(final long file, final long firstPage, final long[] blocks, final ByteBuffer[] dsts,
        final int count) throws IOException
    {
        final Member member = member(file);
        if (null != member.device)
        {
            FileBackedTranslator.super.readBlocks(file, firstPage, blocks, dsts, count);
            return;
        }
        for (int i = 0; i < count; i++)
        {
            if (Extent.HOLE != blocks[i])
            {
                blocks[i] = member.key(blocks[i]);
            }
        }
        boolean done = false;
        try
        {
            ((FileBackedTranslator)member.translator).readBlocks(GroupKeys.memberFile(file), firstPage, blocks, dsts,
                count);
            done = true;
        }
        finally
        {
            int read = 0;
            for (int i = 0; i < count; i++)
            {
                if (Extent.HOLE != blocks[i])
                {
                    // back to the group's key: its chunk was handed out when the page was translated (no allocation)
                    blocks[i] = keys.groupKeyIfKnown(member.index, blocks[i]);
                    read++;
                }
            }
            if (done)
            {
                member.blocksRead.add(read); // a failed read counts no page as read
            }
        }
    }

    @Override
    public void writeBlock(final long block, final ByteBuffer src) throws IOException
    {
        owner(block).write(block, src);
    }

    /**
     * Syncs every member: its device, or a file-backed member's own {@link FileBackedTranslator#sync}.
     *
     * @throws IOException the first member's failure, the others' suppressed in it; every member is synced, and each
     *                     that failed is told ({@link Translator#deviceSyncFailed}).
     */
    @Override
    public void sync() throws IOException
    {
        IOException failure = null;
        for (final Member member : members)
        {
            try
            {
                member.sync(Member.WHOLE);
            }
            catch (final IOException ex)
            {
                failure = first(failure, ex);
            }
        }
        if (null != failure)
        {
            throw failure;
        }
    }

    @Override
    public void syncFile(final long file) throws IOException
    {
        final Member member = find(members, file);
        if (null != member) // else no member has it: nothing of the cache's to sync
        {
            member.sync(GroupKeys.memberFile(file));
        }
    }

    /**
     * @return false for a file of a member over a block device, whose sync is the device's.
     */
    @Override
    public boolean syncsFileAlone(final long file)
    {
        final Member member = find(members, file);
        return null == member || null == member.device;
    }

    @Override
    public void addListener(final TranslationListener listener)
    {
        listeners.add(Objects.requireNonNull(listener, "listener"));
    }

    @Override
    public void removeListener(final TranslationListener listener)
    {
        listeners.remove(listener);
    }

    /** @return the member that owns {@code block}'s namespace, or one that names its shared space. */
    private Member owner(final long block)
    {
        final int index = keys.someMemberOf(block);
        if (index < 0)
        {
            throw new IllegalArgumentException("not a block of any member of the group: block=" + block);
        }
        return members[index];
    }

    /** @return {@code failure}, with {@code next} added to its suppressed ones; or {@code next} if there is none. */
    static <T extends Exception> T first(final T failure, final T next)
    {
        if (null == failure)
        {
            return next;
        }
        failure.addSuppressed(next);
        return failure;
    }

    /**
     * One translator of a group. Its counters are cumulative since it joined; the cache's own figures for it
     * (frames its files reach) are {@code ExtentCache.residency(member::owns)}. Thread-safe.
     */
    public static final class Member
    {
        /** {@link #sync(long)}'s file for a sync of the whole member: its device, or every file. */
        private static final long WHOLE = -1;

        private final TranslatorGroup group;
        private final int index;
        private final String name;
        private final Translator translator;
        /** The device its blocks are read from and written to; null for a file-backed member. */
        private final BlockDevice device;
        private final GroupListener listener;
        private final LongAdder translations = new LongAdder();
        private final LongAdder blocksRead = new LongAdder();
        private final LongAdder blocksWritten = new LongAdder();
        private final LongAdder writeFailures = new LongAdder();
        private final LongAdder syncs = new LongAdder();
        private final LongAdder syncFailures = new LongAdder();

        private Member(final TranslatorGroup group, final int index, final String name, final Translator translator,
            final BlockDevice device)
        {
            this.group = group;
            this.index = index;
            this.name = name;
            this.translator = translator;
            this.device = device;
            this.listener = new GroupListener(index, group.listeners, group.keys);
        }

        /** @return the name it was added under. */
        public String name()
        {
            return name;
        }

        /** @return its translator. */
        public Translator translator()
        {
            return translator;
        }

        /** @return its place in the group: the top bits of its files' group ids. */
        public int index()
        {
            return index;
        }

        /**
         * @param file the member's own file id, {@code 0 <= file < 2^55}.
         * @return the id the group, and a cache over it, name the file by.
         * @throws IllegalArgumentException if {@code file} is out of range.
         */
        public long fileId(final long file)
        {
            return GroupKeys.fileId(index, file);
        }

        /**
         * @param groupFile a group file id.
         * @return true if it names one of this member's files.
         */
        public boolean owns(final long groupFile)
        {
            return groupFile >= 0 && GroupKeys.memberOf(groupFile) == index;
        }

        /**
         * @param groupFile a group file id of this member.
         * @return the member's own id for it.
         * @throws IllegalArgumentException if it is another member's.
         */
        public long memberFileId(final long groupFile)
        {
            if (!owns(groupFile))
            {
                throw new IllegalArgumentException(name + " does not own file " + groupFile);
            }
            return GroupKeys.memberFile(groupFile);
        }

        /**
         * @return its counters now; each exact, not taken at one instant.
         */
        public MemberStats stats()
        {
            return new MemberStats(name, translations.sum(), blocksRead.sum(), blocksWritten.sum(),
                writeFailures.sum(), syncs.sum(), syncFailures.sum());
        }

        /** @return the member's key for a group key in its namespace (or a shared space it names). */
        private long key(final long groupKey)
        {
            final long key = group.keys.memberKey(index, groupKey);
            if (GroupKeys.NONE == key)
            {
                throw new IllegalArgumentException(name + " cannot name group block " + groupKey);
            }
            return key;
        }

        /** Reads a block for a miss of {@code file} (the member's own id): through its device, or its files. */
        private void read(final long file, final long page, final long groupKey, final ByteBuffer dst)
            throws IOException
        {
            final long key = key(groupKey);
            if (null == device)
            {
                ((FileBackedTranslator)translator).readBlock(file, page, key, dst);
            }
            else
            {
                device.read(key, dst);
            }
            blocksRead.increment();
        }

        /** Writes a dirty page back through its device, or its files. */
        private void write(final long groupKey, final ByteBuffer src) throws IOException
        {
            final long key = key(groupKey);
            try
            {
                if (null == device)
                {
                    ((FileBackedTranslator)translator).writeBlock(key, src);
                }
                else
                {
                    device.write(key, src);
                }
            }
            catch (final IOException | RuntimeException | Error ex)
            {
                writeFailures.increment();
                throw ex;
            }
            blocksWritten.increment();
        }

        /**
         * Syncs the member's device, or a file-backed member's files: all of them ({@link #WHOLE}), or one. A whole
         * sync's failure (a device's is always whole) is told to the translator ({@link Translator#deviceSyncFailed});
         * one file's is not, as a lone cache's translator is not told of it.
         *
         * @param file the member's own id of the file to sync, or {@link #WHOLE}.
         */
        private void sync(final long file) throws IOException
        {
            final boolean whole = null != device || WHOLE == file;
            try
            {
                if (null != device)
                {
                    device.sync();
                }
                else if (whole)
                {
                    ((FileBackedTranslator)translator).sync();
                }
                else
                {
                    ((FileBackedTranslator)translator).syncFile(file);
                }
            }
            catch (final IOException | RuntimeException | Error ex)
            {
                syncFailures.increment();
                try
                {
                    if (whole)
                    {
                        translator.deviceSyncFailed(ex);
                    }
                }
                catch (final RuntimeException notified)
                {
                    ex.addSuppressed(notified);
                }
                throw ex;
            }
            syncs.increment();
        }

        @Override
        public String toString()
        {
            return "Member{" + index + ": " + name + '}';
        }
    }

    /**
     * @return a description of the group's members, for messages.
     */
    @Override
    public String toString()
    {
        final List<String> names = new ArrayList<>();
        for (final Member member : members)
        {
            names.add(member.name);
        }
        return "TranslatorGroup" + names;
    }
}
