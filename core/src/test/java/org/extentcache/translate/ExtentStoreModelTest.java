package org.extentcache.translate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.extentcache.device.MemoryBlockDevice;
import org.junit.jupiter.api.Test;

/**
 * A seeded random sequence of {@link ExtentStore} operations checked against a plain in-heap model, in the manner of
 * xfstests' {@code fsx}.
 *
 * <p>Every byte written is stamped with the number of the operation that wrote it and the file offset it was
 * written at: the 8-byte word at an aligned offset {@code x} holds {@code (op << 32 | x / 8) ^ MASK}, and clones
 * move whole pages, so words stay aligned. A mismatch therefore names the operation whose byte was expected and
 * decodes the operation (and original offset) of the byte found instead.
 *
 * <p>Knobs: {@code -Dextentcache.seed=N} replays a run (the seed is in every failure message);
 * {@code -Dextentcache.ops=N} sets the number of operations (default 20000).
 *
 * <p>Files stay under {@value #MAX_PAGES} pages of {@value #PS} bytes. The device is deliberately small
 * ({@value #BLOCKS} blocks; a run keeps roughly 100 to 190 in use), so that a few percent of writes, punches and
 * truncations find it full and must leave the store unchanged.
 *
 * <p>Besides contents, each mutation must report every page whose bytes or size it changed through
 * {@link TranslationListener#pagesChanged}, blocks reported through {@link TranslationListener#blocksInvalidated}
 * must be freshly written (count 1) or free (count 0) at that moment, and at the end the reference counts must
 * equal the references counted through {@link ExtentStore#translate}.
 */
class ExtentStoreModelTest
{
    private static final int PS = 512;
    private static final int BLOCKS = 160;
    private static final int MAX_PAGES = 64;
    private static final int MAX_BYTES = MAX_PAGES * PS;
    private static final int MAX_FILES = 16;
    private static final int VERIFY_EVERY = 8;
    private static final long MASK = 0xA5C3_5A3C_96E1_1E69L;

    @Test
    void randomOperationsMatchTheModel() throws IOException
    {
        final String property = System.getProperty("extentcache.seed");
        final long seed = null == property ? new Random().nextLong() : Long.parseLong(property);
        final int operations = Integer.getInteger("extentcache.ops", 20_000);
        try (MemoryBlockDevice device = new MemoryBlockDevice(PS, BLOCKS); ExtentStore store = new ExtentStore(device))
        {
            new Run(seed, store, device).run(operations);
        }
    }

    static byte stamp(final int op, final long position)
    {
        final long word = ((long)op << 32 | (position >>> 3)) ^ MASK;
        return (byte)(word >>> (56 - 8 * (position & 7)));
    }

    /**
     * One file of the model: its size and, per byte, its value and the operation that wrote it (0 for zeros).
     * Bytes at and past the size are always zero.
     */
    private static final class ModelFile
    {
        private long size;
        private final byte[] data;
        private final int[] writer;

        ModelFile()
        {
            data = new byte[MAX_BYTES];
            writer = new int[MAX_BYTES];
        }

        ModelFile(final ModelFile other)
        {
            size = other.size;
            data = other.data.clone();
            writer = other.writer.clone();
        }

        void zero(final long from, final long to)
        {
            Arrays.fill(data, (int)from, (int)to, (byte)0);
            Arrays.fill(writer, (int)from, (int)to, 0);
        }
    }

    private static final class Run implements TranslationListener
    {
        private final long seed;
        private final ExtentStore store;
        private final MemoryBlockDevice device;
        private final Random random;
        private final Map<Long, ModelFile> files = new LinkedHashMap<>();
        private final List<Long> deleted = new ArrayList<>();
        private final List<String> log = new ArrayList<>();
        private final List<long[]> changes = new ArrayList<>();
        private int op;

        Run(final long seed, final ExtentStore store, final MemoryBlockDevice device)
        {
            this.seed = seed;
            this.store = store;
            this.device = device;
            this.random = new Random(seed);
            log.add("(zero)");
        }

        void run(final int operations)
        {
            store.addListener(this);
            try
            {
                for (op = 1; op <= operations; op++)
                {
                    step();
                    if (op % VERIFY_EVERY == 0 && !files.isEmpty())
                    {
                        verifyFile(pick());
                    }
                }
                for (final long file : files.keySet())
                {
                    verifyFile(file);
                }
                checkBooks();
            }
            catch (final Throwable ex)
            {
                throw new AssertionError("seed=" + seed + " failed at op #" + op + " (last operation run: " +
                    log.get(log.size() - 1) + "); replay with -Dextentcache.seed=" + seed, ex);
            }
            finally
            {
                store.removeListener(this);
            }
        }

        private void step() throws IOException
        {
            final int dice = random.nextInt(100);
            if (files.isEmpty() || dice < 5 && files.size() < MAX_FILES)
            {
                final long file = store.create();
                log.add("create -> " + file);
                files.put(file, new ModelFile());
            }
            else if (dice < 35)
            {
                write();
            }
            else if (dice < 40 && files.size() < MAX_FILES)
            {
                final long src = pick();
                final long file = store.cloneFile(src);
                log.add("cloneFile(" + src + ") -> " + file);
                files.put(file, new ModelFile(files.get(src)));
            }
            else if (dice < 55)
            {
                cloneRange();
            }
            else if (dice < 65)
            {
                punchHole();
            }
            else if (dice < 75)
            {
                truncate();
            }
            else if (dice < 79 && files.size() > 1)
            {
                final long file = pick();
                log.add("delete(" + file + ")");
                store.delete(file);
                files.remove(file);
                deleted.add(file);
            }
            else if (dice < 80 && !deleted.isEmpty())
            {
                final long file = deleted.get(random.nextInt(deleted.size()));
                log.add("write to deleted file " + file);
                assertThrows(NoSuchFileException.class, () -> store.write(file, 0, ByteBuffer.allocate(1)));
                assertFalse(store.exists(file));
            }
            else
            {
                read();
            }
        }

        private void write() throws IOException
        {
            final long file = pick();
            long position = random.nextInt(MAX_BYTES);
            int length = 1 + random.nextInt(Math.min(3 * PS, MAX_BYTES - (int)position));
            if (random.nextInt(4) == 0)
            {
                position -= position % PS;
                length = Math.max(PS, length - length % PS);
            }
            log.add("write(" + file + ", " + position + ", " + length + ")");
            final byte[] bytes = new byte[length];
            for (int i = 0; i < length; i++)
            {
                bytes[i] = stamp(op, position + i);
            }
            final ByteBuffer src = ByteBuffer.wrap(bytes);
            final long pagesTouched = (position + length - 1) / PS - position / PS + 1;
            final long free = store.freeBlocks();
            final ModelFile before = new ModelFile(files.get(file));
            try
            {
                store.write(file, position, src);
            }
            catch (final IOException ex)
            {
                assertTrue(ex.getMessage().startsWith("device full") && pagesTouched > free,
                    ex.getMessage() + " pagesTouched=" + pagesTouched + " free=" + free);
                assertEquals(0, src.position());
                verifyFile(file);
                return;
            }
            assertTrue(pagesTouched <= free, "the write needed " + pagesTouched + " blocks, " + free + " were free");
            assertEquals(length, src.position());
            final ModelFile model = files.get(file);
            System.arraycopy(bytes, 0, model.data, (int)position, length);
            Arrays.fill(model.writer, (int)position, (int)position + length, op);
            model.size = Math.max(model.size, position + length);
            checkReported(file, before, model);
        }

        private void cloneRange() throws IOException
        {
            final long src = pick();
            final long dst = random.nextInt(3) == 0 ? src : pick();
            final ModelFile source = files.get(src);
            final ModelFile target = files.get(dst);
            final long srcPages = (source.size + PS - 1) / PS;
            if (srcPages == 0)
            {
                log.add("cloneRange(" + src + ", 0, " + dst + ", 0, 0)");
                final ModelFile before = new ModelFile(target);
                store.cloneRange(src, 0, dst, 0, 0);
                checkReported(dst, before, target);
                return;
            }
            final long srcPos = (long)random.nextInt((int)srcPages) * PS;
            final long alignedPages = (source.size - srcPos) / PS;
            final long length = alignedPages == 0 || random.nextInt(3) == 0 ?
                source.size - srcPos : PS * (1 + random.nextInt((int)Math.min(8, alignedPages)));
            final long pages = (length + PS - 1) / PS;
            final long dstPos = (long)random.nextInt((int)(MAX_PAGES - pages + 1)) * PS;
            log.add("cloneRange(" + src + ", " + srcPos + ", " + dst + ", " + dstPos + ", " + length + ")");
            final boolean overlap = src == dst && srcPos < dstPos + length && dstPos < srcPos + length;
            final boolean badTail = length % PS != 0 && dstPos + length < target.size;
            if (overlap || badTail)
            {
                final long size = target.size;
                assertThrows(IllegalArgumentException.class, () -> store.cloneRange(src, srcPos, dst, dstPos, length));
                assertEquals(size, store.size(dst));
                return;
            }
            final ModelFile before = new ModelFile(target);
            store.cloneRange(src, srcPos, dst, dstPos, length);
            final byte[] data = Arrays.copyOfRange(source.data, (int)srcPos, (int)(srcPos + length));
            final int[] writer = Arrays.copyOfRange(source.writer, (int)srcPos, (int)(srcPos + length));
            System.arraycopy(data, 0, target.data, (int)dstPos, data.length);
            System.arraycopy(writer, 0, target.writer, (int)dstPos, writer.length);
            target.size = Math.max(target.size, dstPos + length);
            checkReported(dst, before, target);
        }

        private void punchHole() throws IOException
        {
            final long file = pick();
            final long position = random.nextInt(MAX_BYTES);
            final long length = random.nextInt(4 * PS);
            log.add("punchHole(" + file + ", " + position + ", " + length + ")");
            final ModelFile model = files.get(file);
            final ModelFile before = new ModelFile(model);
            final long free = store.freeBlocks();
            try
            {
                store.punchHole(file, position, length);
            }
            catch (final IOException ex)
            {
                assertTrue(ex.getMessage().startsWith("device full") && free < 2, ex.getMessage());
                verifyFile(file);
                return;
            }
            model.zero(Math.min(position, model.size), Math.min(position + length, model.size));
            checkReported(file, before, model);
        }

        private void truncate() throws IOException
        {
            final long file = pick();
            long size = random.nextInt(MAX_BYTES + 1);
            if (random.nextInt(4) == 0)
            {
                size -= size % PS;
            }
            log.add("truncate(" + file + ", " + size + ")");
            final ModelFile model = files.get(file);
            final ModelFile before = new ModelFile(model);
            final long free = store.freeBlocks();
            try
            {
                store.truncate(file, size);
            }
            catch (final IOException ex)
            {
                assertTrue(ex.getMessage().startsWith("device full") && free < 1, ex.getMessage());
                verifyFile(file);
                return;
            }
            if (size < model.size)
            {
                model.zero(size, model.size);
            }
            model.size = size;
            checkReported(file, before, model);
        }

        private void read() throws IOException
        {
            final long file = pick();
            final ModelFile model = files.get(file);
            final long position = random.nextInt((int)model.size + PS);
            final int length = random.nextInt(2 * PS);
            log.add("read(" + file + ", " + position + ", " + length + ")");
            final ByteBuffer dst = ByteBuffer.allocate(length);
            final int read = store.read(file, position, dst);
            final int expected = length == 0 ? 0 : position >= model.size ? -1 :
                (int)Math.min(length, model.size - position);
            assertEquals(expected, read, "bytes read");
            assertEquals(Math.max(0, expected), dst.position());
            for (int i = 0; i < expected; i++)
            {
                if (dst.get(i) != model.data[(int)position + i])
                {
                    fail(mismatch(file, position + i, dst.get(i)));
                }
            }
        }

        private void verifyFile(final long file) throws IOException
        {
            final ModelFile model = files.get(file);
            assertEquals(model.size, store.size(file), "size of file " + file);
            final byte[] actual = new byte[(int)model.size];
            if (actual.length > 0)
            {
                assertEquals(actual.length, store.read(file, 0, ByteBuffer.wrap(actual)));
            }
            for (int i = 0; i < actual.length; i++)
            {
                if (actual[i] != model.data[i])
                {
                    fail(mismatch(file, i, actual[i]));
                }
            }
            verifyTranslation(file, model);
        }

        /**
         * Reads every page the way a cache does, through {@link ExtentStore#translate} and the device: a hole must
         * be zeros in the model, a mapped page its whole block, zeros past end of file included.
         */
        private void verifyTranslation(final long file, final ModelFile model) throws IOException
        {
            final Extent extent = new Extent();
            final ByteBuffer block = ByteBuffer.allocate(PS);
            final byte[] zeros = new byte[PS];
            for (int page = 0; page < MAX_PAGES; page++)
            {
                store.translate(file, page, extent);
                final int from = page * PS;
                if (extent.isHole())
                {
                    if (!Arrays.equals(zeros, 0, PS, model.data, from, from + PS))
                    {
                        fail("file " + file + " page " + page + " translates to a hole but holds data: " + extent);
                    }
                    continue;
                }
                device.read(extent.blockOf(page), block.clear());
                for (int i = 0; i < PS; i++)
                {
                    if (block.get(i) != model.data[from + i])
                    {
                        fail("through translate " + extent + ": " + mismatch(file, from + i, block.get(i)));
                    }
                }
            }
        }

        private String mismatch(final long file, final long position, final byte actual) throws IOException
        {
            final ModelFile model = files.get(file);
            final int writer = model.writer[(int)position];
            final StringBuilder message = new StringBuilder()
                .append("file ").append(file).append(" byte ").append(position)
                .append(String.format(": expected 0x%02x", model.data[(int)position] & 0xFF))
                .append(0 == writer ? " (zero)" : " written by op #" + writer + " " + log.get(writer))
                .append(String.format(" but read 0x%02x", actual & 0xFF));
            final long wordStart = position & ~7L;
            final ByteBuffer word = ByteBuffer.allocate(8);
            if (wordStart + 8 <= model.size && store.read(file, wordStart, word) == 8)
            {
                final long value = word.getLong(0);
                if (value == 0)
                {
                    message.append(", whose word is zeros (a hole or zeroed range)");
                }
                else
                {
                    final long decoded = value ^ MASK;
                    final long badOp = decoded >>> 32;
                    message.append(", whose word decodes to op #").append(badOp)
                        .append(badOp > 0 && badOp < log.size() ? " " + log.get((int)badOp) : " (not stamped data)")
                        .append(" at file offset ").append((decoded & 0xFFFF_FFFFL) * 8);
                }
            }
            return message.toString();
        }

        /**
         * Every page whose bytes or whose place relative to end of file changed must lie in a reported range.
         */
        private void checkReported(final long file, final ModelFile before, final ModelFile after)
        {
            final long pages = (Math.max(before.size, after.size) + PS - 1) / PS;
            final long sizeChangeFrom = Math.min(before.size, after.size) / PS;
            for (long page = 0; page < pages; page++)
            {
                final int from = (int)(page * PS);
                final boolean changed = !Arrays.equals(before.data, from, from + PS, after.data, from, from + PS) ||
                    before.size != after.size && page >= sizeChangeFrom;
                if (changed && !reported(file, page))
                {
                    fail("page " + page + " of file " + file + " changed but was not reported; reported " +
                        describeChanges());
                }
            }
            changes.clear();
        }

        private boolean reported(final long file, final long page)
        {
            for (final long[] change : changes)
            {
                if (change[0] == file && page >= change[1] && page - change[1] < change[2])
                {
                    return true;
                }
            }
            return false;
        }

        private String describeChanges()
        {
            final StringBuilder builder = new StringBuilder();
            for (final long[] change : changes)
            {
                builder.append(Arrays.toString(change));
            }
            return builder.toString();
        }

        private long pick()
        {
            final int index = random.nextInt(files.size());
            int i = 0;
            for (final long file : files.keySet())
            {
                if (i++ == index)
                {
                    return file;
                }
            }
            throw new IllegalStateException("no files");
        }

        private void checkBooks() throws IOException
        {
            final Map<Long, Integer> references = new HashMap<>();
            final Extent extent = new Extent();
            for (final long file : files.keySet())
            {
                long page = 0;
                while (true)
                {
                    store.translate(file, page, extent);
                    if (extent.filePage() + extent.pageCount() == Long.MAX_VALUE)
                    {
                        assertTrue(extent.isHole());
                        break;
                    }
                    if (!extent.isHole())
                    {
                        for (long p = extent.filePage(); p < extent.filePage() + extent.pageCount(); p++)
                        {
                            assertTrue(p * PS < files.get(file).size, "file " + file + " maps page " + p + " past EOF");
                            references.merge(extent.blockOf(p), 1, Integer::sum);
                        }
                    }
                    page = extent.filePage() + extent.pageCount();
                }
            }
            assertEquals(references.size(), store.allocatedBlocks(), "allocated blocks are the blocks referenced");
            assertEquals(BLOCKS, store.allocatedBlocks() + store.freeBlocks());
            for (long block = 0; block < BLOCKS; block++)
            {
                assertEquals((int)references.getOrDefault(block, 0), store.refCount(block), "refCount of " + block);
            }
        }

        @Override
        public void pagesChanged(final long file, final long firstPage, final long pageCount, final long size)
        {
            assertTrue(firstPage >= 0 && pageCount >= 1, "range " + firstPage + "+" + pageCount);
            try
            {
                assertEquals(store.size(file), size, "pagesChanged reports the new size");
            }
            catch (final NoSuchFileException ex)
            {
                throw new AssertionError("pagesChanged for a missing file", ex);
            }
            changes.add(new long[]{file, firstPage, pageCount, size});
        }

        @Override
        public void blocksInvalidated(final long firstBlock, final long blockCount)
        {
            for (long block = firstBlock; block < firstBlock + blockCount; block++)
            {
                final int count = store.refCount(block);
                assertTrue(count <= 1, "block " + block + " invalidated with refCount " + count);
            }
        }

        @Override
        public void fileDeleted(final long file)
        {
            assertFalse(store.exists(file));
        }
    }
}
