package org.extentcache.translate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The contract every {@link Translator} passes: one subclass per implementation supplies a {@link Fixture} that lays
 * out files on it. The suite only reads through {@link Translator}: it finds references to a block by translating
 * every page of every live file, so a translator needs no reference-count API to be tested.
 *
 * <p>Checked: a run covers the page asked for and starts at or before it; every page of a run maps what the run
 * says, with an exact shared flag; pages at or past end of file are holes; unknown files and negative pages are
 * rejected; and each mutation notifies listeners in order, with the new answers already visible inside
 * {@code pagesChanged}, freed blocks unreferenced (and not yet reused) inside {@code blocksInvalidated}, and every
 * changed page, written block and freed block reported.
 */
public abstract class TranslatorContractTest
{
    /**
     * Lays out files on the translator under test through its own API.
     *
     * <p>Every operation is a mutation the translator performs by itself, behind any cache's back: a page it writes
     * goes to a block no other page maps, and the translator must report that block through
     * {@link TranslationListener#blocksInvalidated}.
     */
    protected interface Fixture extends AutoCloseable
    {
        /**
         * @return the translator under test.
         */
        Translator translator();

        /**
         * @param size bytes.
         * @return a new file of {@code size} bytes whose every page holds data on a block of its own.
         * @throws IOException if the translator fails.
         */
        long createFile(long size) throws IOException;

        /**
         * @param src a file.
         * @return a new file sharing every block of {@code src} at the same pages (reflink), of the same size.
         * @throws IOException if the translator fails.
         */
        long cloneFile(long src) throws IOException;

        /**
         * Makes {@code pageCount} whole pages of {@code dst} from {@code dstPage} share the blocks of {@code src}'s
         * pages from {@code srcPage}; the ranges lie inside the files and do not overlap.
         *
         * @param src       the source file.
         * @param srcPage   first source page.
         * @param dst       the destination file.
         * @param dstPage   first destination page.
         * @param pageCount pages.
         * @throws IOException if the translator fails.
         */
        void clonePages(long src, long srcPage, long dst, long dstPage, long pageCount) throws IOException;

        /**
         * Writes new data over the part of {@code page} before end of file (copy-on-write: a fresh block).
         *
         * @param file a file.
         * @param page a page before end of file.
         * @throws IOException if the translator fails.
         */
        void rewritePage(long file, long page) throws IOException;

        /**
         * Unmaps whole pages, leaving holes; the size does not change.
         *
         * @param file      a file.
         * @param firstPage first page.
         * @param pageCount pages.
         * @throws IOException if the translator fails.
         */
        void punchPages(long file, long firstPage, long pageCount) throws IOException;

        /**
         * @param file a file.
         * @param size its new size in bytes.
         * @throws IOException if the translator fails.
         */
        void truncate(long file, long size) throws IOException;

        /**
         * @param file a file to delete.
         * @throws IOException if the translator fails.
         */
        void delete(long file) throws IOException;

        @Override
        void close() throws IOException;
    }

    /**
     * @return a fixture over a fresh translator with no files; the suite closes it.
     * @throws IOException if it cannot be made.
     */
    protected abstract Fixture newFixture() throws IOException;

    private Fixture fixture;
    private Translator translator;
    private int pageSize;
    private final Set<Long> liveFiles = new LinkedHashSet<>();

    @BeforeEach
    void openFixture() throws IOException
    {
        fixture = newFixture();
        translator = fixture.translator();
        pageSize = translator.pageSize();
    }

    @AfterEach
    void closeFixture() throws IOException
    {
        fixture.close();
    }

    @Test
    void distinctFilesGetDistinctIds() throws IOException
    {
        final long first = createFile(pageSize);
        final long second = createFile(pageSize);
        assertNotEquals(first, second);
        final long clone = cloneFile(first);
        assertNotEquals(first, clone);
        assertNotEquals(second, clone);
    }

    @Test
    void runsCoverThePageAskedFor() throws IOException
    {
        layOutMixedFiles();
        final Extent extent = new Extent();
        for (final long file : liveFiles)
        {
            final long pages = pagesOf(file);
            for (long page = 0; page < pages + 3; page++)
            {
                translator.translate(file, page, extent);
                assertCovers(file, page, extent);
            }
            for (final long page : new long[]{1L << 40, Long.MAX_VALUE - 1})
            {
                translator.translate(file, page, extent);
                assertCovers(file, page, extent);
                assertTrue(extent.isHole(), "page " + page + " of file " + file + " is past end of file: " + extent);
            }
        }
    }

    @Test
    void everyPageOfARunMapsWhatTheRunSays() throws IOException
    {
        layOutMixedFiles();
        final Extent run = new Extent();
        final Extent single = new Extent();
        for (final long file : liveFiles)
        {
            final long pages = pagesOf(file);
            long page = 0;
            while (page <= pages)
            {
                translator.translate(file, page, run);
                final long end = Math.min(run.filePage() + run.pageCount(), pages + 2);
                for (long inside = run.filePage(); inside < end; inside++)
                {
                    translator.translate(file, inside, single);
                    assertEquals(run.blockOf(inside), single.blockOf(inside),
                        "file " + file + " page " + inside + " in " + run + " vs " + single);
                    assertEquals(run.isShared(), single.isShared(),
                        "shared flag of file " + file + " page " + inside + " in " + run + " vs " + single);
                }
                page = run.filePage() + run.pageCount();
            }
        }
    }

    @Test
    void sharedFlagIsExactForEveryPage() throws IOException
    {
        layOutMixedFiles();
        final Map<Long, Integer> references = references();
        final Extent extent = new Extent();
        int shared = 0;
        int unshared = 0;
        for (final long file : liveFiles)
        {
            for (long page = 0; page < pagesOf(file); page++)
            {
                translator.translate(file, page, extent);
                if (extent.isHole())
                {
                    assertFalse(extent.isShared(), "a hole is never shared: " + extent);
                    continue;
                }
                final int count = references.get(extent.blockOf(page));
                assertEquals(count > 1, extent.isShared(),
                    "file " + file + " page " + page + " block " + extent.blockOf(page) + " has " + count +
                    " references: " + extent);
                if (count > 1)
                {
                    shared++;
                }
                else
                {
                    unshared++;
                }
            }
        }
        assertTrue(shared > 0 && unshared > 0, "the layout mixes shared and unshared pages");
    }

    @Test
    void pagesAtOrPastEndOfFileAreHoles() throws IOException
    {
        final long file = createFile(3L * pageSize + 10);
        fixture.truncate(file, 2L * pageSize);
        final long sparse = createFile(0);
        fixture.truncate(sparse, 5L * pageSize);
        final Extent extent = new Extent();

        translator.translate(file, 1, extent);
        assertFalse(extent.isHole(), extent.toString());
        for (final long page : new long[]{2, 3, 4, 1000})
        {
            translator.translate(file, page, extent);
            assertTrue(extent.isHole(), "page " + page + ": " + extent);
            assertCovers(file, page, extent);
        }
        for (final long page : new long[]{0, 4, 5, 99})
        {
            translator.translate(sparse, page, extent);
            assertTrue(extent.isHole(), "page " + page + ": " + extent);
            assertCovers(sparse, page, extent);
        }
    }

    @Test
    void punchedPagesAreHoles() throws IOException
    {
        final long file = createFile(6L * pageSize);
        fixture.punchPages(file, 2, 2);
        final Extent extent = new Extent();
        translator.translate(file, 3, extent);
        assertTrue(extent.isHole(), extent.toString());
        assertTrue(extent.filePage() <= 2 && extent.filePage() + extent.pageCount() >= 4, extent.toString());
        translator.translate(file, 4, extent);
        assertFalse(extent.isHole(), extent.toString());
        assertEquals(6L * pageSize, translator.size(file));
    }

    @Test
    void unknownFilesAreRejected() throws IOException
    {
        final long file = createFile(pageSize);
        delete(file);
        assertThrows(NoSuchFileException.class, () -> translator.translate(file, 0, new Extent()));
        assertThrows(NoSuchFileException.class, () -> translator.size(file));
    }

    @Test
    void negativePagesAreRejected() throws IOException
    {
        final long file = createFile(pageSize);
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
            () -> translator.translate(file, -3, new Extent()));
        assertTrue(ex.getMessage().contains("-3"), ex.getMessage());
    }

    @Test
    void rewritingAnUnsharedPageNotifiesInOrder() throws IOException
    {
        final long file = createFile(4L * pageSize);
        checkMutation(() -> fixture.rewritePage(file, 2));
    }

    @Test
    void rewritingASharedPageNotifiesInOrder() throws IOException
    {
        final long file = createFile(4L * pageSize);
        final long clone = cloneFile(file);
        checkMutation(() -> fixture.rewritePage(clone, 1));
    }

    @Test
    void cloningAFileNotifiesTheSourceWhosePagesTurnShared() throws IOException
    {
        final long file = createFile(4L * pageSize);
        checkMutation(() -> liveFiles.add(fixture.cloneFile(file)));
    }

    @Test
    void cloningPagesNotifiesInOrder() throws IOException
    {
        final long src = createFile(6L * pageSize);
        final long dst = createFile(6L * pageSize);
        checkMutation(() -> fixture.clonePages(src, 1, dst, 2, 3));
        checkMutation(() -> fixture.clonePages(dst, 0, dst, 5, 1));
    }

    @Test
    void punchingNotifiesInOrder() throws IOException
    {
        final long file = createFile(6L * pageSize);
        final long clone = cloneFile(file);
        checkMutation(() -> fixture.punchPages(file, 1, 2));
        checkMutation(() -> fixture.punchPages(clone, 0, 6));
    }

    @Test
    void truncatingNotifiesInOrder() throws IOException
    {
        final long file = createFile(6L * pageSize);
        checkMutation(() -> fixture.truncate(file, 2L * pageSize));
        checkMutation(() -> fixture.truncate(file, 9L * pageSize));
        checkMutation(() -> fixture.truncate(file, 0));
    }

    @Test
    void deletingNotifiesInOrder() throws IOException
    {
        final long file = createFile(3L * pageSize);
        final long clone = cloneFile(file);
        fixture.rewritePage(clone, 0);
        final List<Event> events = checkMutation(() -> delete(file));
        assertEquals(Event.Kind.FILE_DELETED, events.get(events.size() - 1).kind, events.toString());
        assertEquals(file, events.get(events.size() - 1).file);
    }

    @Test
    void aRemovedListenerHearsNothing() throws IOException
    {
        final long file = createFile(2L * pageSize);
        final RecordingListener listener = new RecordingListener();
        translator.addListener(listener);
        translator.removeListener(listener);
        fixture.rewritePage(file, 0);
        delete(file);
        assertTrue(listener.events.isEmpty(), listener.events.toString());
        translator.removeListener(listener);
    }

    /**
     * Files with every kind of page: unshared, shared with a clone, shared three ways, the same block twice in one
     * file, holes inside and a partial last page.
     *
     * @throws IOException if the translator fails.
     */
    protected final void layOutMixedFiles() throws IOException
    {
        final long a = createFile(8L * pageSize + 100);
        final long b = cloneFile(a);
        fixture.rewritePage(b, 3);
        final long c = createFile(5L * pageSize);
        fixture.clonePages(a, 5, c, 1, 2);
        fixture.clonePages(c, 0, c, 4, 1);
        fixture.punchPages(b, 6, 1);
        final long d = createFile(2L * pageSize);
        fixture.truncate(d, 4L * pageSize);
    }

    /**
     * @param size bytes.
     * @return a new live file.
     * @throws IOException if the translator fails.
     */
    protected final long createFile(final long size) throws IOException
    {
        final long file = fixture.createFile(size);
        liveFiles.add(file);
        return file;
    }

    /**
     * @param src a file.
     * @return its clone, now live.
     * @throws IOException if the translator fails.
     */
    protected final long cloneFile(final long src) throws IOException
    {
        final long file = fixture.cloneFile(src);
        liveFiles.add(file);
        return file;
    }

    /**
     * @param file a live file to delete.
     * @throws IOException if the translator fails.
     */
    protected final void delete(final long file) throws IOException
    {
        liveFiles.remove(file);
        fixture.delete(file);
    }

    private void assertCovers(final long file, final long page, final Extent extent)
    {
        assertTrue(extent.filePage() <= page && page - extent.filePage() < extent.pageCount(),
            "file " + file + " page " + page + " not covered by " + extent);
    }

    private long pagesOf(final long file) throws NoSuchFileException
    {
        final long size = translator.size(file);
        return (size + pageSize - 1) / pageSize;
    }

    /**
     * @return for every block mapped by a page before end of file of a live file, how many such pages map it.
     */
    private Map<Long, Integer> references() throws NoSuchFileException
    {
        final Map<Long, Integer> references = new HashMap<>();
        final Extent extent = new Extent();
        for (final long file : liveFiles)
        {
            final long pages = pagesOf(file);
            long page = 0;
            while (page < pages)
            {
                translator.translate(file, page, extent);
                final long end = Math.min(pages, extent.filePage() + extent.pageCount());
                if (!extent.isHole())
                {
                    for (long inside = page; inside < end; inside++)
                    {
                        references.merge(extent.blockOf(inside), 1, Integer::sum);
                    }
                }
                page = end;
            }
        }
        return references;
    }

    /**
     * @return every live file's size and, per page before end of file, its block ({@link Extent#HOLE} for holes)
     * and shared flag.
     */
    private Map<Long, FileSnapshot> snapshot() throws NoSuchFileException
    {
        final Map<Long, FileSnapshot> snapshot = new HashMap<>();
        for (final long file : liveFiles)
        {
            snapshot.put(file, FileSnapshot.of(translator, file, 0, pagesOf(file)));
        }
        return snapshot;
    }

    private List<Event> checkMutation(final Mutation mutation) throws IOException
    {
        final Map<Long, FileSnapshot> before = snapshot();
        final Map<Long, Integer> referencesBefore = references();
        final RecordingListener listener = new RecordingListener();
        translator.addListener(listener);
        try
        {
            mutation.run();
        }
        finally
        {
            translator.removeListener(listener);
        }
        final Map<Long, FileSnapshot> after = snapshot();
        final Map<Long, Integer> referencesAfter = references();
        final List<Event> events = listener.events;
        if (null != listener.failure)
        {
            throw new AssertionError("a check inside a callback failed; events " + events, listener.failure);
        }

        int phase = 0;
        final Set<Long> invalidated = new LinkedHashSet<>();
        for (final Event event : events)
        {
            final int eventPhase = event.kind.ordinal();
            assertTrue(eventPhase >= phase, "pagesChanged, then blocksInvalidated, then fileDeleted: " + events);
            phase = eventPhase;
            switch (event.kind)
            {
                case PAGES_CHANGED:
                    if (!liveFiles.contains(event.file))
                    {
                        break;
                    }
                    final FileSnapshot now = FileSnapshot.of(
                        translator, event.file, event.firstPage, event.seen.blocks.length);
                    assertEquals(now, event.seen, "inside pagesChanged the translator already gave the new answer");
                    assertEquals(translator.size(event.file), event.size, "pagesChanged reports the new size");
                    break;
                case BLOCKS_INVALIDATED:
                    for (int i = 0; i < event.blockCount; i++)
                    {
                        final long block = event.firstBlock + i;
                        invalidated.add(block);
                        assertEquals(referencesAfter.getOrDefault(block, 0), event.references[i],
                            "inside blocksInvalidated block " + block + " is already mapped as it ends up: a freed " +
                            "block has no reference and was not reused; " + events);
                    }
                    break;
                case FILE_DELETED:
                    assertFalse(liveFiles.contains(event.file), "deleted file " + event.file);
                    break;
                default:
                    fail("unknown event " + event);
            }
        }

        for (final long block : referencesBefore.keySet())
        {
            if (!referencesAfter.containsKey(block))
            {
                assertTrue(invalidated.contains(block), "freed block " + block + " reported; events " + events);
            }
        }
        for (final long block : referencesAfter.keySet())
        {
            if (!referencesBefore.containsKey(block))
            {
                assertTrue(invalidated.contains(block), "newly written block " + block + " reported; events " + events);
            }
        }
        for (final Map.Entry<Long, FileSnapshot> entry : after.entrySet())
        {
            final long file = entry.getKey();
            final FileSnapshot now = entry.getValue();
            final FileSnapshot then = before.get(file);
            if (null == then)
            {
                continue;
            }
            final long pages = Math.max(now.blocks.length, then.blocks.length);
            for (long page = 0; page < pages; page++)
            {
                final boolean moved = now.block(page) != then.block(page) || now.size != then.size &&
                    page >= Math.min(now.size, then.size) / pageSize;
                final boolean turnedShared = now.shared(page) && !then.shared(page);
                if (moved || turnedShared)
                {
                    assertTrue(reported(events, file, page),
                        "page " + page + " of file " + file + " changed (" + then.describe(page) + " -> " +
                        now.describe(page) + ") and was reported; events " + events);
                }
            }
        }
        return events;
    }

    private static boolean reported(final List<Event> events, final long file, final long page)
    {
        for (final Event event : events)
        {
            if (event.kind == Event.Kind.PAGES_CHANGED && event.file == file &&
                page >= event.firstPage && page - event.firstPage < event.pageCount)
            {
                return true;
            }
        }
        return false;
    }

    /**
     * A mutation of the layout, run while a recording listener listens.
     */
    @FunctionalInterface
    private interface Mutation
    {
        /**
         * @throws IOException if the translator fails.
         */
        void run() throws IOException;
    }

    private static final class FileSnapshot
    {
        private final long size;
        private final long[] blocks;
        private final boolean[] shared;

        private FileSnapshot(final long size, final long[] blocks, final boolean[] shared)
        {
            this.size = size;
            this.blocks = blocks;
            this.shared = shared;
        }

        static FileSnapshot of(final Translator translator, final long file, final long firstPage, final long pages)
            throws NoSuchFileException
        {
            final int count = (int)Math.min(pages, 1024);
            final long[] blocks = new long[count];
            final boolean[] shared = new boolean[count];
            final Extent extent = new Extent();
            for (int i = 0; i < count; i++)
            {
                translator.translate(file, firstPage + i, extent);
                blocks[i] = extent.blockOf(firstPage + i);
                shared[i] = extent.isShared();
            }
            return new FileSnapshot(translator.size(file), blocks, shared);
        }

        long block(final long page)
        {
            return page < blocks.length ? blocks[(int)page] : Extent.HOLE;
        }

        boolean shared(final long page)
        {
            return page < shared.length && shared[(int)page];
        }

        String describe(final long page)
        {
            return "size=" + size + " block=" + block(page) + " shared=" + shared(page);
        }

        @Override
        public boolean equals(final Object other)
        {
            if (!(other instanceof FileSnapshot))
            {
                return false;
            }
            final FileSnapshot that = (FileSnapshot)other;
            return size == that.size && java.util.Arrays.equals(blocks, that.blocks) &&
                java.util.Arrays.equals(shared, that.shared);
        }

        @Override
        public int hashCode()
        {
            return java.util.Arrays.hashCode(blocks);
        }

        @Override
        public String toString()
        {
            return "FileSnapshot{size=" + size + ", blocks=" + java.util.Arrays.toString(blocks) +
                ", shared=" + java.util.Arrays.toString(shared) + '}';
        }
    }

    private static final class Event
    {
        enum Kind
        {
            PAGES_CHANGED, BLOCKS_INVALIDATED, FILE_DELETED
        }

        private final Kind kind;
        private long file;
        private long firstPage;
        private long pageCount;
        private long size;
        private FileSnapshot seen;
        private long firstBlock;
        private long blockCount;
        private int[] references;

        private Event(final Kind kind)
        {
            this.kind = kind;
        }

        @Override
        public String toString()
        {
            switch (kind)
            {
                case PAGES_CHANGED:
                    return "pagesChanged(" + file + ", " + firstPage + ", " + pageCount + ", " + size + ")";
                case BLOCKS_INVALIDATED:
                    return "blocksInvalidated(" + firstBlock + ", " + blockCount + ")";
                default:
                    return "fileDeleted(" + file + ")";
            }
        }
    }

    /**
     * Records each call and, inside it, what the translator answers at that moment.
     */
    private final class RecordingListener implements TranslationListener
    {
        private final List<Event> events = new ArrayList<>();
        private Throwable failure;

        @Override
        public void pagesChanged(final long file, final long firstPage, final long pageCount, final long size)
        {
            final Event event = new Event(Event.Kind.PAGES_CHANGED);
            event.file = file;
            event.firstPage = firstPage;
            event.pageCount = pageCount;
            event.size = size;
            try
            {
                assertTrue(firstPage >= 0 && pageCount >= 1, "range " + firstPage + "+" + pageCount);
                event.seen = FileSnapshot.of(translator, file, firstPage, pageCount);
            }
            catch (final Throwable ex)
            {
                recordFailure(ex);
            }
            events.add(event);
        }

        @Override
        public void blocksInvalidated(final long firstBlock, final long blockCount)
        {
            final Event event = new Event(Event.Kind.BLOCKS_INVALIDATED);
            event.firstBlock = firstBlock;
            event.blockCount = blockCount;
            try
            {
                assertTrue(firstBlock >= 0 && blockCount >= 1 && blockCount <= 1 << 20,
                    "range " + firstBlock + "+" + blockCount);
                final Map<Long, Integer> references = references();
                event.references = new int[(int)blockCount];
                for (int i = 0; i < blockCount; i++)
                {
                    event.references[i] = references.getOrDefault(firstBlock + i, 0);
                }
            }
            catch (final Throwable ex)
            {
                recordFailure(ex);
            }
            events.add(event);
        }

        @Override
        public void fileDeleted(final long file)
        {
            final Event event = new Event(Event.Kind.FILE_DELETED);
            event.file = file;
            try
            {
                assertThrows(NoSuchFileException.class, () -> translator.size(file),
                    "inside fileDeleted the file is already gone");
            }
            catch (final Throwable ex)
            {
                recordFailure(ex);
            }
            events.add(event);
        }

        private void recordFailure(final Throwable ex)
        {
            if (null == failure)
            {
                failure = ex;
            }
            else
            {
                failure.addSuppressed(ex);
            }
        }
    }
}
