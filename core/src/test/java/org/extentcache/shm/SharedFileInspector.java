package org.extentcache.shm;

import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.extentcache.shm.SharedLayout.READY;

/**
 * A test's own mapping of a shared cache file, outside any {@link SharedCache}: reads the frame records, pin counts,
 * index, lock word and frame bytes as the processes left them, to check the books after a run (nothing LOADING, no
 * pin left, every READY frame indexed under its key and holding its key's stamp). Also lets a child process take the
 * allocation lock through {@link SharedLock} itself, so a test can kill a process that holds it.
 *
 * <p><b>Thread safety:</b> reads are racy snapshots; meaningful only while the clients are idle.
 */
final class SharedFileInspector
{
    final SharedLayout layout;
    final long leaseMillis;
    private final UnsafeBuffer meta;
    private final UnsafeBuffer frames;
    private final FrameRecords records;
    private final SharedIndex index;
    private final ClientTable clients;

    SharedFileInspector(final Path path) throws IOException
    {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE))
        {
            final ByteBuffer header = ByteBuffer.allocate(SharedLayout.HEADER_LENGTH).order(ByteOrder.nativeOrder());
            channel.read(header, 0);
            if (header.getLong(SharedLayout.MAGIC_OFFSET) != SharedLayout.MAGIC)
            {
                throw new IllegalStateException(path + " is not a live shared cache file");
            }
            layout = new SharedLayout(header.getInt(SharedLayout.PAGE_SIZE_OFFSET),
                header.getInt(SharedLayout.FRAMES_OFFSET), header.getInt(SharedLayout.CLIENT_SLOTS_OFFSET));
            leaseMillis = header.getInt(SharedLayout.LEASE_OFFSET);
            meta = new UnsafeBuffer(channel.map(FileChannel.MapMode.READ_WRITE, 0, layout.metadataLength()));
            frames = new UnsafeBuffer(channel.map(FileChannel.MapMode.READ_WRITE, layout.framesOffset,
                (long)layout.frames * layout.pageSize));
        }
        records = new FrameRecords(meta, layout);
        index = new SharedIndex(meta, layout, records);
        clients = new ClientTable(meta, layout);
    }

    /** @return the allocation lock's holder (a session), 0 if free. */
    long lockHolder()
    {
        return meta.getLongVolatile(SharedLayout.LOCK_OFFSET);
    }

    /** @return the session in a client slot, 0 if free. */
    long session(final int slot)
    {
        return clients.session(slot);
    }

    int state(final int frame)
    {
        return SharedLayout.stateOf(records.state(frame));
    }

    /** @return every client's pin counts of every frame, summed. */
    long pinsHeld()
    {
        long pins = 0;
        for (int frame = 0; frame < layout.frames; frame++)
        {
            for (int client = 0; client < layout.clientSlots; client++)
            {
                pins += records.pins(frame, client);
            }
        }
        return pins;
    }

    /** @return the frames in each state, by name, e.g. {@code {READY=14, LOST=2}}. */
    Map<String, Integer> states()
    {
        final Map<String, Integer> states = new HashMap<>();
        for (int frame = 0; frame < layout.frames; frame++)
        {
            states.merge(SharedLayout.stateName(state(frame)), 1, Integer::sum);
        }
        return states;
    }

    /**
     * The books of an idle file: every READY frame holds its key's stamp in every word, is found by the index under
     * its key, and no two READY frames hold one key; every index slot names a READY frame, and no frame is named twice.
     *
     * @return what is wrong, one line each (empty if nothing).
     */
    List<String> problems()
    {
        final List<String> problems = new ArrayList<>();
        final Map<Long, Integer> readyKeys = new HashMap<>();
        final long[] found = new long[1];
        for (int frame = 0; frame < layout.frames; frame++)
        {
            if (READY != state(frame))
            {
                continue;
            }
            final long key = records.key(frame);
            final Integer other = readyKeys.put(key, frame);
            if (null != other)
            {
                problems.add("frames " + other + " and " + frame + " are both READY with key " + key);
            }
            final int indexed = index.find(key, found);
            if (indexed != frame)
            {
                problems.add("READY frame " + frame + " of key " + key + " is not what the index finds: " + indexed);
            }
            final String wrong = checkFrame(frame, key);
            if (null != wrong)
            {
                problems.add("READY frame " + frame + ": " + wrong);
            }
        }
        final int[] slotsNaming = new int[layout.frames];
        for (int slot = 0; slot < layout.indexSlots; slot++)
        {
            final long value = meta.getLongVolatile((int)layout.indexSlotOffset(slot));
            if (value > 0)
            {
                final int frame = (int)(value - 1);
                if (++slotsNaming[frame] == 2)
                {
                    problems.add("frame " + frame + " is named by two index slots: " + slotsNaming(frame));
                }
                if (READY != state(frame))
                {
                    problems.add("index slot " + slot + " names frame " + frame + ", which is " +
                        SharedLayout.stateName(state(frame)));
                }
            }
        }
        return problems;
    }

    /** @return every frame's state, key and client, for messages: "0 READY key 1 gen 1 | 1 LOST ...". */
    String frameTable()
    {
        final StringBuilder table = new StringBuilder();
        for (int frame = 0; frame < layout.frames; frame++)
        {
            final long word = records.state(frame);
            table.append(0 == frame ? "" : " | ").append(frame).append(' ')
                .append(SharedLayout.stateName(SharedLayout.stateOf(word))).append(" key ").append(records.key(frame))
                .append(" gen ").append(SharedLayout.generationOf(word)).append(" client ")
                .append(SharedLayout.clientOf(word)).append(" slots ").append(slotsNaming(frame));
        }
        return table.toString();
    }

    /** @return the frame the index finds for {@code key} and its state's name, or "absent". */
    String find(final long key)
    {
        final long[] found = new long[1];
        final int frame = index.find(key, found);
        return frame < 0 ? "absent" : "frame " + frame + " " + SharedLayout.stateName(SharedLayout.stateOf(found[0]));
    }

    /** @return the index slots naming {@code frame}, for messages: "slot 3, slot 9". */
    String slotsNaming(final int frame)
    {
        final StringBuilder slots = new StringBuilder();
        for (int slot = 0; slot < layout.indexSlots; slot++)
        {
            if (meta.getLongVolatile((int)layout.indexSlotOffset(slot)) == frame + 1L)
            {
                slots.append(slots.length() == 0 ? "" : ", ").append("slot ").append(slot);
            }
        }
        return slots.length() == 0 ? "none" : slots.toString();
    }

    private String checkFrame(final int frame, final long key)
    {
        final int base = frame * layout.pageSize;
        for (int word = 0; word < layout.pageSize / Long.BYTES; word++)
        {
            final long value = frames.getLong(base + word * Long.BYTES, ByteOrder.BIG_ENDIAN);
            if (value != PageStamps.word(key, word))
            {
                return "word " + word + " is " + PageStamps.describe(value) + ", not key " + key + "'s";
            }
        }
        return null;
    }

    /**
     * Takes the allocation lock for the client in {@code slot} through {@link SharedLock}, as its cache would, and
     * never releases it: for a process about to be killed holding it.
     */
    void takeLockFor(final int slot)
    {
        final long session = clients.session(slot);
        final long dead = new SharedLock(meta, clients, leaseMillis).lock(session);
        if (0 != dead)
        {
            throw new IllegalStateException("took the lock over from session " + dead);
        }
    }

    /** Empties the index, as a rebuild does first: what a holder killed in the middle of a rebuild leaves. */
    void emptyIndex()
    {
        for (int slot = 0; slot < layout.indexSlots; slot++)
        {
            meta.putLongVolatile((int)layout.indexSlotOffset(slot), SharedLayout.EMPTY);
        }
        meta.putLongVolatile(SharedLayout.TOMBSTONES_OFFSET, 0);
    }
}
