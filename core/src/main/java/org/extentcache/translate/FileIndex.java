package org.extentcache.translate;

import org.agrona.collections.Hashing;
import org.agrona.collections.LongObjConsumer;

/**
 * The {@link FileTable}'s map from file id to {@link FileTable.FileState}: an open-addressing hash table with
 * linear probing whose lookup may run under an optimistic stamp ({@link StoreLock#tryOptimisticRead}) while a
 * writer changes the table.
 *
 * <h2>Why not Agrona's {@code Long2ObjectHashMap}</h2>
 * Its lookup probes until it finds the key or an empty slot, with no bound, and reads its key and value arrays from
 * two fields that a resize replaces one after the other. Under the lock that is fine; read racily it could pair
 * arrays of different lengths (an exception, which a caller could catch) or, in principle, keep finding occupied
 * slots as a writer moves entries about (a loop, which nothing can catch). This table gives the racy reader the
 * two guarantees it needs and nothing more:
 * <ul>
 *   <li><b>Bounded:</b> {@link #get} probes at most {@code capacity} slots, whatever it reads.</li>
 *   <li><b>In bounds:</b> the ids and states arrays live in one {@link Slots} object with final fields, created
 *       with both arrays at the same power-of-two length and replaced as a whole by a resize; the reader reads the
 *       {@code Slots} reference once and masks every index with its length.</li>
 * </ul>
 * What a racy {@link #get} returns may be wrong (a stale state, another file's state after a backward shift, or
 * null for a file that exists): the caller validates its stamp before acting on it, and a torn answer always
 * comes with a failed validation, because every change here is made holding the write lock.
 *
 * <h2>Costs</h2>
 * Load factor at most 1/2, so a lookup reads one or two slots; a resize doubles and rehashes, {@code O(n)}. Memory:
 * 12 bytes per slot (an id and a reference), 24 to 48 bytes per file. Removal shifts later entries of the probe
 * run back (no tombstones), so lookups stay short however many files come and go.
 *
 * <p><b>Thread safety:</b> {@link #get} may run concurrently with anything; every other method runs holding the
 * store's lock (the write lock to change the table).
 */
final class FileIndex
{
    private static final int INITIAL_CAPACITY = 16;

    /** One generation of the table: both arrays the same power-of-two length, never replaced separately. */
    private static final class Slots
    {
        final long[] ids;
        final FileTable.FileState[] states;

        Slots(final int capacity)
        {
            ids = new long[capacity];
            states = new FileTable.FileState[capacity];
        }
    }

    private Slots slots = new Slots(INITIAL_CAPACITY);
    private int size;

    /**
     * Looks a file up. Safe to call without the lock (the answer is then only a guess until the caller validates
     * its stamp): it reads at most {@code capacity} slots and never indexes outside them.
     *
     * @param id a file id, {@code >= 1}.
     * @return the file's state, or null if it does not exist.
     */
    FileTable.FileState get(final long id)
    {
        final Slots current = slots;
        final long[] ids = current.ids;
        final FileTable.FileState[] states = current.states;
        final int mask = states.length - 1;
        int index = Hashing.hash(id, mask);
        for (int probes = 0; probes <= mask; probes++)
        {
            final FileTable.FileState state = states[index];
            if (null == state)
            {
                return null;
            }
            if (ids[index] == id)
            {
                return state;
            }
            index = (index + 1) & mask;
        }
        return null;
    }

    /**
     * Adds or replaces a file's state; the caller holds the write lock.
     *
     * @param id    a file id, {@code >= 1}.
     * @param state its state, not null.
     */
    void put(final long id, final FileTable.FileState state)
    {
        if (2 * (size + 1) > slots.states.length)
        {
            resize(2 * slots.states.length);
        }
        if (insert(slots, id, state))
        {
            size++;
        }
    }

    /**
     * Drops a file, if present; the caller holds the write lock.
     *
     * @param id a file id.
     */
    void remove(final long id)
    {
        final long[] ids = slots.ids;
        final FileTable.FileState[] states = slots.states;
        final int mask = states.length - 1;
        int hole = Hashing.hash(id, mask);
        while (true)
        {
            if (null == states[hole])
            {
                return;
            }
            if (ids[hole] == id)
            {
                break;
            }
            hole = (hole + 1) & mask;
        }
        // backward shift: move each later entry of the probe run into the hole unless its home lies cyclically in
        // (hole, next], where it would then be unreachable
        int next = hole;
        while (true)
        {
            next = (next + 1) & mask;
            final FileTable.FileState moving = states[next];
            if (null == moving)
            {
                break;
            }
            final int home = Hashing.hash(ids[next], mask);
            final boolean stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
            if (!stays)
            {
                ids[hole] = ids[next];
                states[hole] = moving;
                hole = next;
            }
        }
        states[hole] = null;
        ids[hole] = 0;
        size--;
    }

    /**
     * @return the number of files; the caller holds the lock.
     */
    int size()
    {
        return size;
    }

    /**
     * Calls {@code action} for every file, in no particular order; the caller holds the lock and the action does
     * not change the table.
     */
    void forEach(final LongObjConsumer<FileTable.FileState> action)
    {
        final long[] ids = slots.ids;
        final FileTable.FileState[] states = slots.states;
        for (int i = 0; i < states.length; i++)
        {
            if (null != states[i])
            {
                action.accept(ids[i], states[i]);
            }
        }
    }

    private void resize(final int capacity)
    {
        final Slots bigger = new Slots(capacity);
        final long[] ids = slots.ids;
        final FileTable.FileState[] states = slots.states;
        for (int i = 0; i < states.length; i++)
        {
            if (null != states[i])
            {
                insert(bigger, ids[i], states[i]);
            }
        }
        slots = bigger;
    }

    /**
     * @return true if {@code id} was new.
     */
    private static boolean insert(final Slots into, final long id, final FileTable.FileState state)
    {
        final int mask = into.states.length - 1;
        int index = Hashing.hash(id, mask);
        while (null != into.states[index] && into.ids[index] != id)
        {
            index = (index + 1) & mask;
        }
        final boolean added = null == into.states[index];
        into.ids[index] = id;
        into.states[index] = state;
        return added;
    }
}
