package org.extentcache.engines;

import org.apache.lucene.analysis.standard.StandardAnalyzer;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.StringField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.NIOFSDirectory;
import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.fs.ReflinkDir;
import org.extentcache.nio.ExtentCacheCopyOption;
import org.extentcache.nio.ExtentCacheFileSystem;
import org.extentcache.nio.ExtentCacheFileSystems;
import org.extentcache.nio.FileSystemOptions;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Lucene's own {@link NIOFSDirectory} over an {@code extentcache} path, with no project-written Directory: index,
 * search, copy the index by reflink ({@code Files.copy(..., REFLINK)} of each index file), diverge the copy (delete
 * and add documents), and search both. Lucene takes its write lock with {@code FileChannel.tryLock}, writes with
 * {@code CREATE_NEW}, renames with {@code ATOMIC_MOVE}, fsyncs files and the directory, and deletes files that
 * readers may still have open.
 */
class EngineLuceneTest
{
    private static final int DOCS = 5_000;

    @Test
    void overAnExtentStore() throws IOException
    {
        final MemoryBlockDevice device = new MemoryBlockDevice(4096, 32_768);
        final ExtentStore store = new ExtentStore(device);
        try (ExtentCacheFileSystem fs = ExtentCacheFileSystems.overStore(store, device,
            FileSystemOptions.DEFAULTS.withCapacityBytes(32L << 20)))
        {
            indexCopyDivergeAndSearch(fs);
        }
        store.close();
    }

    @Test
    void overRealFilesOnXfs() throws IOException
    {
        final Path dir = ReflinkDir.create();
        try (ExtentCacheFileSystem fs = ExtentCacheFileSystems.overDirectory(dir,
            FileSystemOptions.DEFAULTS.withCapacityBytes(32L << 20)))
        {
            indexCopyDivergeAndSearch(fs);
        }
        finally
        {
            ReflinkDir.delete(dir);
        }
    }

    private static void indexCopyDivergeAndSearch(final ExtentCacheFileSystem fs) throws IOException
    {
        final Path original = Files.createDirectories(fs.getPath("/index/original"));
        try (Directory directory = new NIOFSDirectory(original);
            IndexWriter writer = new IndexWriter(directory, new IndexWriterConfig(new StandardAnalyzer())))
        {
            for (int i = 0; i < DOCS; i++)
            {
                final Document doc = new Document();
                doc.add(new StringField("id", Integer.toString(i), Field.Store.YES));
                doc.add(new TextField("body", "common words for every document " + (0 == i % 10 ? "rare" : "") +
                    " number" + i, Field.Store.YES));
                writer.addDocument(doc);
                if (i == DOCS / 2)
                {
                    writer.commit(); // two commits: a segment merge and a deleted segments file on the way
                }
            }
            writer.commit();
        }
        assertEquals(DOCS / 10, hits(original, "rare"));
        assertEquals(DOCS, hits(original, "common"));

        final Path copy = Files.createDirectories(fs.getPath("/index/copy"));
        try (Stream<Path> files = Files.list(original))
        {
            for (final Path file : files.toList())
            {
                if (!file.getFileName().toString().equals("write.lock"))
                {
                    Files.copy(file, copy.resolve(file.getFileName().toString()), ExtentCacheCopyOption.REFLINK);
                }
            }
        }
        assertEquals(DOCS / 10, hits(copy, "rare"), "the reflinked copy searches like the original");

        try (Directory directory = new NIOFSDirectory(copy);
            IndexWriter writer = new IndexWriter(directory, new IndexWriterConfig(new StandardAnalyzer())))
        {
            writer.deleteDocuments(new Term("id", "0"), new Term("id", "10"));
            for (int i = 0; i < 300; i++)
            {
                final Document doc = new Document();
                doc.add(new StringField("id", "fresh" + i, Field.Store.YES));
                doc.add(new TextField("body", "fresh rare", Field.Store.YES));
                writer.addDocument(doc);
            }
            writer.forceMerge(1); // rewrites every segment of the copy; the original's files must stay intact
            writer.commit();
        }
        assertEquals(DOCS / 10 - 2 + 300, hits(copy, "rare"));
        assertEquals(300, hits(copy, "fresh"));
        assertEquals(DOCS / 10, hits(original, "rare"), "the original is untouched by its copy's changes");
        assertEquals(0, hits(original, "fresh"));
        assertEquals(DOCS, hits(original, "common"));
        try (Directory directory = new NIOFSDirectory(copy))
        {
            final List<String> left = List.of(directory.listAll());
            assertTrue(left.stream().noneMatch(name -> name.startsWith("_0.")), "merged away: " + left);
        }
    }

    private static int hits(final Path index, final String word) throws IOException
    {
        try (Directory directory = new NIOFSDirectory(index); DirectoryReader reader = DirectoryReader.open(directory))
        {
            return new IndexSearcher(reader).count(new TermQuery(new Term("body", word)));
        }
    }
}
