package org.extentcache.translate;

import static org.extentcache.translate.SnapshotDescriptor.FILE_HEADER_LENGTH;
import static org.extentcache.translate.SnapshotDescriptor.MAX_ATTACHMENT;
import static org.extentcache.translate.SnapshotDescriptor.PAYLOAD_HEADER_LENGTH;
import static org.extentcache.translate.SnapshotDescriptor.RUN_LENGTH;
import static org.extentcache.translate.SuperblockDescriptor.SLOT_COUNT;

import java.io.IOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns the durable state of an {@link ExtentStore} into a snapshot payload and back; the grammar is in
 * {@link SnapshotDescriptor}. Decoding checks every value against the device's geometry and the map invariants
 * (runs in page order, not overlapping, inside the file's size), so a payload that passed its CRC but was written by
 * a buggy writer is refused with a message rather than turned into a store with inconsistent reference counts.
 *
 * <p><b>Costs:</b> encoding allocates the payload once, exactly sized: 40 bytes plus the attachment plus 20 bytes per
 * file plus 24 bytes per run. Decoding is linear in the payload.
 *
 * <p><b>Thread safety:</b> stateless.
 */
final class SnapshotCodec
{
    /** A file as a snapshot holds it. */
    static final class FileRecord
    {
        final long id;
        final long size;
        final RunList runs;

        FileRecord(final long id, final long size, final RunList runs)
        {
            this.id = id;
            this.size = size;
            this.runs = runs;
        }
    }

    /** A decoded payload. */
    static final class Decoded
    {
        final long nextFileId;
        final byte[] attachment;
        final List<FileRecord> files;

        Decoded(final long nextFileId, final byte[] attachment, final List<FileRecord> files)
        {
            this.nextFileId = nextFileId;
            this.attachment = attachment;
            this.files = files;
        }
    }

    private SnapshotCodec()
    {
    }

    /**
     * @param sequence   the snapshot's sequence.
     * @param nextFileId the next file id.
     * @param attachment the attachment.
     * @param ids        file ids, ascending.
     * @param captures   each file's map and size, parallel to {@code ids}.
     * @return the payload.
     * @throws IOException if the payload would pass 2 GiB.
     */
    static byte[] encode(final long sequence, final long nextFileId, final byte[] attachment, final long[] ids,
        final DurableState.Capture[] captures) throws IOException
    {
        long length = PAYLOAD_HEADER_LENGTH + attachment.length + 4;
        for (final DurableState.Capture capture : captures)
        {
            length += FILE_HEADER_LENGTH + (long)RUN_LENGTH * capture.map.runCount();
        }
        if (length > Integer.MAX_VALUE - 8)
        {
            throw new IOException("metadata snapshot too large: " + length + " bytes for " + ids.length +
                " files; the limit is 2 GiB");
        }
        final ByteBuffer out = ByteBuffer.allocate((int)length);
        out.putLong(sequence).putLong(nextFileId).putInt(attachment.length).put(attachment).putInt(ids.length);
        for (int i = 0; i < ids.length; i++)
        {
            final ExtentMap map = captures[i].map;
            out.putLong(ids[i]).putLong(captures[i].size).putInt(map.runCount());
            for (int run = 0; run < map.runCount(); run++)
            {
                out.putLong(map.filePage(run)).putLong(map.deviceBlock(run)).putLong(map.pageCount(run));
            }
        }
        return out.array();
    }

    /**
     * @param payload    the payload, its CRC already checked.
     * @param sequence   the superblock's sequence, which the payload must repeat.
     * @param pageShift  log2 of the block size.
     * @param blockCount the device's block count.
     * @return the decoded snapshot.
     * @throws IOException {@code "corrupt metadata snapshot: ..."} naming the first inconsistency.
     */
    static Decoded decode(final byte[] payload, final long sequence, final int pageShift, final long blockCount)
        throws IOException
    {
        final ByteBuffer in = ByteBuffer.wrap(payload);
        try
        {
            final long found = in.getLong();
            if (found != sequence)
            {
                throw corrupt("it repeats sequence " + found + " but its superblock has " + sequence);
            }
            final long nextFileId = in.getLong();
            final int attachmentLength = in.getInt();
            if (attachmentLength < 0 || attachmentLength > MAX_ATTACHMENT)
            {
                throw corrupt("attachment length " + attachmentLength);
            }
            final byte[] attachment = new byte[attachmentLength];
            in.get(attachment);
            final int fileCount = in.getInt();
            if (fileCount < 0 || (long)fileCount * FILE_HEADER_LENGTH > in.remaining())
            {
                throw corrupt("file count " + fileCount + " with " + in.remaining() + " bytes left");
            }
            final List<FileRecord> files = new ArrayList<>(fileCount);
            long previousId = 0;
            for (int f = 0; f < fileCount; f++)
            {
                final long id = in.getLong();
                final long size = in.getLong();
                final int runCount = in.getInt();
                if (id <= previousId || id >= nextFileId || size < 0)
                {
                    throw corrupt("file " + id + " (after file " + previousId + ", next file id " + nextFileId +
                        ") has size " + size);
                }
                if (runCount < 0 || (long)runCount * RUN_LENGTH > in.remaining())
                {
                    throw corrupt("file " + id + " has run count " + runCount + " with " + in.remaining() +
                        " bytes left");
                }
                final long sizePages = (size >>> pageShift) + ((size & ((1L << pageShift) - 1)) == 0 ? 0 : 1);
                final RunList runs = new RunList();
                long previousEnd = 0;
                for (int r = 0; r < runCount; r++)
                {
                    final long filePage = in.getLong();
                    final long block = in.getLong();
                    final long pageCount = in.getLong();
                    if (filePage < previousEnd || pageCount < 1 || filePage > sizePages - pageCount ||
                        block < SLOT_COUNT || block > blockCount - pageCount)
                    {
                        throw corrupt("file " + id + " (size " + size + ") has run " + r + ": pages " + filePage +
                            "+" + pageCount + " -> block " + block + " (previous run ends at page " + previousEnd +
                            ", blockCount " + blockCount + ")");
                    }
                    runs.add(filePage, block, pageCount);
                    previousEnd = filePage + pageCount;
                }
                files.add(new FileRecord(id, size, runs));
                previousId = id;
            }
            if (in.hasRemaining())
            {
                throw corrupt(in.remaining() + " bytes after the last file");
            }
            return new Decoded(nextFileId, attachment, files);
        }
        catch (final BufferUnderflowException ex)
        {
            throw corrupt("it ends early, at byte " + in.position() + " of " + payload.length);
        }
    }

    private static IOException corrupt(final String what)
    {
        return new IOException("corrupt metadata snapshot: " + what);
    }
}
