package org.extentcache.fs;

import org.extentcache.translate.TranslationListener;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Review of the Anchor (a held descriptor, reopened through /proc/self/fd/N): once an anchor is closed, its number
 * may be given to any other open in the process, so nothing may use /proc/self/fd/N, or close N, after that.
 */
final class AnchorReviewTest
{
    private static final int PAGE = 4096;
    private static final Path PROC_FDS = Path.of("/proc/self/fd");

    @TempDir
    Path dir;

    private FileSystemTranslator translator;
    private final List<FileChannel> victims = new ArrayList<>();

    @AfterEach
    void cleanUp() throws IOException
    {
        for (final FileChannel victim : victims)
        {
            victim.close();
        }
        if (null != translator)
        {
            translator.close();
        }
    }

    /** Descriptor numbers of this process that name {@code file} now. */
    private static Set<Integer> fdsOf(final Path file) throws IOException
    {
        final Set<Integer> fds = new TreeSet<>();
        try (var links = Files.list(PROC_FDS))
        {
            for (final Path link : (Iterable<Path>)links::iterator)
            {
                try
                {
                    if (Files.readSymbolicLink(link).equals(file))
                    {
                        fds.add(Integer.parseInt(link.getFileName().toString()));
                    }
                }
                catch (final IOException ex)
                {
                    // gone meanwhile (the list's own descriptor)
                }
            }
        }
        return fds;
    }

    /** Opens {@code victim} until every one of {@code numbers} is a descriptor of it (what any other open may do). */
    private void reuse(final Set<Integer> numbers, final Path victim) throws IOException
    {
        for (int i = 0; i < 256 && !fdsOf(victim).containsAll(numbers); i++)
        {
            victims.add(FileChannel.open(victim, StandardOpenOption.READ));
        }
        Assumptions.assumeTrue(fdsOf(victim).containsAll(numbers), "the freed descriptor numbers were not reused");
    }

    private void assumeAnchored()
    {
        Assumptions.assumeTrue(Fiemap.isAvailable() && Files.isDirectory(PROC_FDS), "no FIEMAP binding or /proc");
    }

    /**
     * A truncate that got the file before a close(file) runs after it: the anchor's number, reused by an unrelated
     * open, makes {@code Files.size(/proc/self/fd/N)} and {@code setLength} act on the unrelated file.
     */
    @Test
    void aTruncateRacingCloseNeverReachesAnotherFile() throws Exception
    {
        assumeAnchored();
        final Path path = Files.write(dir.resolve("f"), new byte[3 * PAGE]).toRealPath();
        final Path victim = Files.write(dir.resolve("victim"), new byte[] {1, 2, 3}).toRealPath();
        translator = new FileSystemTranslator(PAGE);
        final long id = translator.open(path, true);
        final Set<Integer> held = fdsOf(path); // the anchor and the channel
        assertEquals(2, held.size(), "anchor + channel: " + held);
        translator.addListener(new Quiet()
        {
            boolean once = true;

            @Override
            public void beforeChange(final long file, final long firstPage, final long pageCount,
                final boolean discard) throws IOException
            {
                if (once)
                {
                    once = false;
                    translator.close(id); // another thread's close, between truncate's lookup and its work
                    reuse(held, victim);  // and another thread's opens
                }
            }
        });

        IOException failure = null;
        try
        {
            translator.truncate(id, 2 * PAGE);
        }
        catch (final IOException ex)
        {
            failure = ex;
        }
        assertEquals(3, Files.size(victim), "an unrelated file was grown through the closed anchor's number");
        assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(victim));
        assertTrue(failure instanceof NoSuchFileException, "the file is closed: truncate must fail, not " + failure);
    }

    /**
     * close(file) racing the translator's close(): both close the file's channels, so the anchor's raw descriptor is
     * closed twice; the second close(2) hits whatever was given that number meanwhile.
     */
    @Test
    void closingAFileAndTheTranslatorTogetherClosesNoOtherDescriptor() throws Exception
    {
        assumeAnchored();
        final Path path = Files.write(dir.resolve("f"), new byte[PAGE]).toRealPath();
        final Path victim = Files.write(dir.resolve("victim"), new byte[] {1, 2, 3}).toRealPath();
        translator = new FileSystemTranslator(PAGE);
        final long id = translator.open(path, true);
        final Set<Integer> held = fdsOf(path);
        translator.addListener(new Quiet()
        {
            boolean once = true;

            @Override
            public void beforeChange(final long file, final long firstPage, final long pageCount,
                final boolean discard) throws IOException
            {
                if (once)
                {
                    once = false;
                    translator.close();  // another thread closes the translator while close(id) runs
                    reuse(held, victim); // and another thread opens a file
                }
            }
        });

        try
        {
            translator.close(id);
        }
        catch (final IOException ex)
        {
            // either way, what matters is the victims' descriptors
        }
        assertVictimsIntact();
    }

    /** As above, with close(id) called by two threads at once (the second finds it closed). */
    @Test
    void closingAFileTwiceAtOnceClosesNoOtherDescriptor() throws Exception
    {
        assumeAnchored();
        final Path path = Files.write(dir.resolve("f"), new byte[PAGE]).toRealPath();
        final Path victim = Files.write(dir.resolve("victim"), new byte[] {1, 2, 3}).toRealPath();
        translator = new FileSystemTranslator(PAGE);
        final long id = translator.open(path, true);
        final Set<Integer> held = fdsOf(path);
        translator.addListener(new Quiet()
        {
            boolean once = true;

            @Override
            public void beforeChange(final long file, final long firstPage, final long pageCount,
                final boolean discard) throws IOException
            {
                if (once)
                {
                    once = false;
                    translator.close(id);
                    reuse(held, victim);
                }
            }
        });
        try
        {
            translator.close(id);
        }
        catch (final NoSuchFileException ex)
        {
            // fine: it was closed meanwhile
        }
        assertVictimsIntact();
    }

    private abstract static class Quiet implements TranslationListener
    {
        @Override
        public void pagesChanged(final long file, final long firstPage, final long pageCount, final long size)
        {
        }

        @Override
        public void blocksInvalidated(final long firstBlock, final long blockCount)
        {
        }

        @Override
        public void fileDeleted(final long file)
        {
        }
    }

    /** Every victim channel still reads its own file: no descriptor under it was closed (or closed and reused). */
    private void assertVictimsIntact() throws IOException
    {
        for (final FileChannel channel : victims)
        {
            assertTrue(channel.isOpen());
            final ByteBuffer buffer = ByteBuffer.allocate(3);
            // a closed (or closed and reused) descriptor under it fails: EBADF, or reads another file
            channel.read(buffer, 0);
            assertArrayEquals(new byte[] {1, 2, 3}, buffer.array(), "a victim channel's descriptor was closed");
        }
    }
}
