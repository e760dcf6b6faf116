package org.extentcache.translate;

import java.util.Arrays;

/**
 * The block keys and file ids of a {@link TranslatorGroup}: each member's keys moved into a namespace of their own,
 * except keys in an address space two members share ({@link Translator#blockSpace}).
 *
 * <h2>Layout</h2>
 * <pre>
 *   group block key:
 *    63 62                  48 47                                               0
 *   +--+----------------------+--------------------------------------------------+
 *   | 0|      chunk (15)      |            the member key's low 48 bits          |
 *   +--+----------------------+--------------------------------------------------+
 *
 *   group file id:
 *    63 62            55 54                                                     0
 *   +--+----------------+-------------------------------------------------------+
 *   | 0|  member (8)    |                 the member's file id (55)             |
 *   +--+----------------+-------------------------------------------------------+
 * </pre>
 * A member key's bits from 48 up (its <em>chunk</em>, 15 bits, keys being non-negative) are given a group chunk the
 * first time the member answers a key in it: a chunk of the member's own, or, when the member names the chunk's
 * address space, that space's one group chunk, whichever member named it first. Low bits are kept, so a run of
 * consecutive member keys inside a chunk is a run of consecutive group keys. At most {@link #CHUNKS} group chunks
 * are handed out over the group's life; they are never taken back.
 *
 * <h2>Concurrency and costs</h2>
 * Lookups read copy-on-write arrays through volatile fields, with no lock: an array load and a compare per key. A
 * new chunk is handed out under the group's lock (once per chunk, so a handful of times per member), and published
 * by a volatile store of the new arrays that the lookups' volatile loads read.
 */
final class GroupKeys
{
    /** Bits of a member key, and of a group key, kept as they are. */
    static final int LOW_BITS = 48;
    /** The low bits' mask. */
    static final long LOW_MASK = (1L << LOW_BITS) - 1;
    /** Group chunks the key space holds: keys are non-negative, so 63 - {@link #LOW_BITS} bits. */
    static final int CHUNKS = 1 << (63 - LOW_BITS);
    /** Bits of a member's file id in a group file id. */
    static final int FILE_BITS = 55;
    /** Members a group holds. */
    static final int MEMBERS = 1 << (63 - FILE_BITS);
    /** The largest member file id, plus one. */
    static final long FILE_LIMIT = 1L << FILE_BITS;
    /** Not a chunk of a member: {@link #memberKey} answers it for a group key the member cannot name. */
    static final long NONE = -1;

    /** Where a group chunk comes from. */
    private static final class Origin
    {
        /** The member whose own chunk it is, or -1 for a shared address space. */
        final int owner;
        /** The owner's chunk, or -1. */
        final int ownerChunk;
        /** The shared address space, or null. */
        final Object space;
        /** For a shared space: per member index, that member's chunk in the space, plus one (0: none yet). */
        volatile int[] chunkByMember;

        Origin(final int owner, final int ownerChunk, final Object space)
        {
            this.owner = owner;
            this.ownerChunk = ownerChunk;
            this.space = space;
            this.chunkByMember = new int[0];
        }
    }

    private final Object lock = new Object();
    /** Per member index: its chunk to the group chunk plus one (0: not yet handed out). Copy-on-write. */
    private volatile int[][] toGroup = new int[0][];
    /** Per group chunk, where it comes from. Copy-on-write. */
    private volatile Origin[] origins = new Origin[0];

    /** @return the group file id of a member's file. */
    static long fileId(final int member, final long file)
    {
        if (file < 0 || file >= FILE_LIMIT)
        {
            throw new IllegalArgumentException("a file id in a translator group must be 0.." + (FILE_LIMIT - 1) +
                ": file=" + file);
        }
        return (long)member << FILE_BITS | file;
    }

    /** @return the member index of a group file id. */
    static int memberOf(final long groupFile)
    {
        return (int)(groupFile >>> FILE_BITS);
    }

    /** @return the member's own id of a group file id. */
    static long memberFile(final long groupFile)
    {
        return groupFile & (FILE_LIMIT - 1);
    }

    /**
     * @param member      the member's index.
     * @param memberBlock a key the member answered, {@code >= 0}.
     * @param translator  the member's translator, asked for the chunk's address space the first time.
     * @return the group key.
     * @throws IllegalStateException if the group's chunks are used up.
     */
    long groupKey(final int member, final long memberBlock, final Translator translator)
    {
        final long known = groupKeyIfKnown(member, memberBlock);
        if (NONE != known)
        {
            return known;
        }
        final int chunk = (int)(memberBlock >>> LOW_BITS);
        return (long)handOut(member, chunk, translator.blockSpace(memberBlock)) << LOW_BITS |
            (memberBlock & LOW_MASK);
    }

    /**
     * @return the group key of a member key, or {@link #NONE} if no group chunk was handed out for its chunk (so no
     * frame can hold it).
     */
    long groupKeyIfKnown(final int member, final long memberBlock)
    {
        final int chunk = (int)(memberBlock >>> LOW_BITS);
        final int[][] maps = toGroup;
        if (member < maps.length)
        {
            final int[] map = maps[member];
            if (chunk < map.length && 0 != map[chunk])
            {
                return (long)(map[chunk] - 1) << LOW_BITS | (memberBlock & LOW_MASK);
            }
        }
        return NONE;
    }

    /**
     * @param member   a member's index.
     * @param groupKey a group key.
     * @return the member's key for it, or {@link #NONE} if the key lies in another member's own chunk, or in a shared
     * space the member has never named.
     */
    long memberKey(final int member, final long groupKey)
    {
        final Origin origin = originOf(groupKey);
        if (null == origin)
        {
            return NONE;
        }
        int memberChunk = origin.owner == member ? origin.ownerChunk : -1;
        if (null != origin.space)
        {
            final int[] byMember = origin.chunkByMember;
            memberChunk = member < byMember.length ? byMember[member] - 1 : -1;
        }
        return memberChunk < 0 ? NONE : (long)memberChunk << LOW_BITS | (groupKey & LOW_MASK);
    }

    /**
     * @return the index of a member that can name {@code groupKey} (its owner, or the first member to name its shared
     * space), or -1 if none.
     */
    int someMemberOf(final long groupKey)
    {
        final Origin origin = originOf(groupKey);
        if (null == origin)
        {
            return -1;
        }
        if (null == origin.space)
        {
            return origin.owner;
        }
        final int[] byMember = origin.chunkByMember;
        for (int i = 0; i < byMember.length; i++)
        {
            if (0 != byMember[i])
            {
                return i;
            }
        }
        return -1;
    }

    /**
     * @return true if {@code groupKey} lies in an address space members share ({@link Translator#blockSpace}), where
     * the key alone does not tell which member it came from.
     */
    boolean inSharedSpace(final long groupKey)
    {
        final Origin origin = originOf(groupKey);
        return null != origin && null != origin.space;
    }

    /** @return where {@code groupKey}'s chunk comes from, or null if no such chunk was handed out. */
    private Origin originOf(final long groupKey)
    {
        final Origin[] known = origins;
        final int chunk = (int)(groupKey >>> LOW_BITS);
        return groupKey < 0 || chunk >= known.length ? null : known[chunk];
    }

    /** @return group chunks handed out so far. */
    int chunksUsed()
    {
        return origins.length;
    }

    private int handOut(final int member, final int chunk, final Object space)
    {
        synchronized (lock)
        {
            int[][] maps = toGroup;
            if (member < maps.length && chunk < maps[member].length && 0 != maps[member][chunk])
            {
                return maps[member][chunk] - 1; // handed out by a racing call
            }
            Origin[] known = origins;
            int groupChunk = -1;
            if (null != space)
            {
                for (int i = 0; i < known.length; i++)
                {
                    if (space.equals(known[i].space))
                    {
                        groupChunk = i;
                        break;
                    }
                }
            }
            if (groupChunk < 0)
            {
                if (known.length == CHUNKS)
                {
                    throw new IllegalStateException("the translator group's key space is used up: " + CHUNKS +
                        " chunks of 2^" + LOW_BITS + " blocks handed out");
                }
                groupChunk = known.length;
                known = Arrays.copyOf(known, known.length + 1);
                known[groupChunk] = null == space ? new Origin(member, chunk, null) : new Origin(-1, -1, space);
            }
            final Origin origin = known[groupChunk];
            if (null != space)
            {
                final int[] named = origin.chunkByMember;
                if (member < named.length && 0 != named[member])
                {
                    // folding a second chunk of the member into the space's group chunk would make its key k in
                    // both chunks one frame, and the member key of that frame ambiguous: another block's bytes
                    throw new IllegalStateException("translator group member " + member + " names address space " +
                        space + " for two of its chunks (" + (named[member] - 1) + " and " + chunk + "): a " +
                        "translator must answer a space for at most one of its 2^" + LOW_BITS + "-key chunks");
                }
                final int[] byMember = Arrays.copyOf(origin.chunkByMember,
                    Math.max(origin.chunkByMember.length, member + 1));
                byMember[member] = chunk + 1;
                origin.chunkByMember = byMember;
            }
            if (member >= maps.length)
            {
                maps = Arrays.copyOf(maps, member + 1);
                for (int i = 0; i < maps.length; i++)
                {
                    if (null == maps[i])
                    {
                        maps[i] = new int[0];
                    }
                }
            }
            else
            {
                maps = maps.clone();
            }
            final int[] map = Arrays.copyOf(maps[member], Math.max(maps[member].length, chunk + 1));
            map[chunk] = groupChunk + 1;
            maps[member] = map;
            // the origin first, then the forward map: a lookup that finds the chunk finds where it comes from
            origins = known;
            toGroup = maps;
            return groupChunk;
        }
    }
}
