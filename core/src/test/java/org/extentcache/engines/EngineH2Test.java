package org.extentcache.engines;

import org.extentcache.CacheStats;
import org.extentcache.device.FileBlockDevice;
import org.extentcache.fs.ReflinkDir;
import org.extentcache.nio.ExtentCacheCopyOption;
import org.extentcache.nio.ExtentCacheFileSystem;
import org.extentcache.nio.ExtentCacheFileSystems;
import org.extentcache.nio.FileSystemOptions;
import org.extentcache.translate.ExtentStore;
import org.h2.store.fs.FilePath;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * H2 (MVStore) runs unchanged on the {@code extentcache} file system: it creates a database, the test clones it eight
 * times with {@code Files.copy(..., REFLINK)}, each clone diverges, and all nine are reopened and verified through
 * {@code jdbc:h2:} URLs, over real files on XFS and over a persistent {@link ExtentStore} reopened after a restart.
 * H2 reaches the file system through {@link ExtentCacheFilePath} only, and gets the provider's own channel: H2 takes
 * its file lock with {@code tryLock} on every open, with READ/WRITE/CREATE options, and forces on commit.
 */
class EngineH2Test
{
    private static final int ROWS = 20_000;
    private static final int CLONES = 8;
    private static final int PAGE = 4096;

    @TempDir
    Path temp;

    @BeforeAll
    static void registerFilePath()
    {
        FilePath.register(new ExtentCacheFilePath());
    }

    @Test
    void nineDatabasesOverRealFilesOnXfs() throws Exception
    {
        final Path dir = ReflinkDir.create();
        try
        {
            final FileSystemOptions options = FileSystemOptions.DEFAULTS.withCapacityBytes(256L << 20);
            try (ExtentCacheFileSystem fs = ExtentCacheFileSystems.overDirectory(dir, options))
            {
                createCloneAndDiverge(fs);
                verifyAll(fs, "over real files");
            }
            try (ExtentCacheFileSystem fs = ExtentCacheFileSystems.overDirectory(dir, options)) // a fresh cache
            {
                verifyAll(fs, "over real files, a new file system");
            }
        }
        finally
        {
            ReflinkDir.delete(dir);
        }
    }

    /**
     * The sharing figure of the README: the nine databases in use at once, through the {@code extentcache} file system
     * and through the default file system (H2's own {@code jdbc:h2:file:}), with the kernel's page cache for the nine
     * files counted by {@code fincore} after evicting them ({@code dd iflag=nocache}). The kernel keeps one copy per
     * file, reflinked or not.
     */
    @Test
    void sharingAgainstTheKernelPageCache() throws Exception
    {
        Assumptions.assumeTrue(available("fincore") && available("dd"), "needs fincore and dd (util-linux, coreutils)");
        final Path dir = ReflinkDir.create();
        try
        {
            final FileSystemOptions options = FileSystemOptions.DEFAULTS.withCapacityBytes(256L << 20);
            try (ExtentCacheFileSystem fs = ExtentCacheFileSystems.overDirectory(dir, options))
            {
                createCloneAndDiverge(fs);
            }
            final List<String> files = new ArrayList<>();
            for (int i = 0; i <= CLONES; i++)
            {
                files.add(dir.resolve("db").resolve((0 == i ? "base" : "clone" + i) + ".mv.db").toString());
            }
            for (final String file : files)
            {
                run("dd", "if=" + file, "iflag=nocache", "count=0", "status=none"); // drop its page cache
            }
            final Connection[] connections = new Connection[CLONES + 1];
            try
            {
                for (int i = 0; i <= CLONES; i++)
                {
                    final String name = 0 == i ? "base" : "clone" + i;
                    connections[i] = DriverManager.getConnection("jdbc:h2:file:" + dir.resolve("db").resolve(name),
                        "sa", "");
                    try (Statement sql = connections[i].createStatement())
                    {
                        verify(sql, i, name);
                    }
                }
                final List<String> command = new ArrayList<>(List.of("fincore", "--bytes", "--noheadings",
                    "--output", "RES"));
                command.addAll(files);
                long kernelBytes = 0;
                for (final String line : run(command.toArray(new String[0])).split("\n"))
                {
                    kernelBytes += line.isBlank() ? 0 : Long.parseLong(line.trim());
                }
                final CacheStats stats;
                final long[] ecBytes = new long[2];
                // a capacity that holds what the nine use: frame records are reserved for the whole capacity
                try (ExtentCacheFileSystem fs = ExtentCacheFileSystems.overDirectory(dir,
                    FileSystemOptions.DEFAULTS.withCapacityBytes(16L << 20)))
                {
                    verifyAll(fs, "against the kernel");
                    stats = fs.cache().stats();
                }
                ecBytes[0] = stats.frameBytesInUse();
                ecBytes[1] = stats.offHeapMetadataBytes() + stats.heapMetadataBytes();
                System.out.printf(Locale.ROOT, "H2, nine databases cloned from one base, all open: kernel page " +
                    "cache %.1f MiB (fincore, default file system); ExtentCache %.1f MiB of frames + %.1f MiB of " +
                    "metadata (extentcache file system)%n", kernelBytes / 1048576.0, ecBytes[0] / 1048576.0,
                    ecBytes[1] / 1048576.0);
                assertTrue(ecBytes[0] < kernelBytes, "one copy against one per file: " + ecBytes[0] + " against " +
                    kernelBytes);
            }
            finally
            {
                for (final Connection connection : connections)
                {
                    if (null != connection)
                    {
                        connection.close();
                    }
                }
            }
        }
        finally
        {
            ReflinkDir.delete(dir);
        }
    }

    private static boolean available(final String command)
    {
        try
        {
            run("sh", "-c", "command -v " + command);
            return true;
        }
        catch (final IOException ex)
        {
            return false;
        }
    }

    private static String run(final String... command) throws IOException
    {
        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        try
        {
            final String output = new String(process.getInputStream().readAllBytes());
            if (!process.waitFor(60, TimeUnit.SECONDS) || 0 != process.exitValue())
            {
                throw new IOException(String.join(" ", command) + " failed: " + output);
            }
            return output;
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted: " + String.join(" ", command), ex);
        }
        finally
        {
            process.destroyForcibly();
        }
    }

    @Test
    void nineDatabasesOverAPersistentStoreReopenedAfterARestart() throws Exception
    {
        final Path image = temp.resolve("device.img");
        final long blocks = (512L << 20) / PAGE;
        final FileSystemOptions options = FileSystemOptions.DEFAULTS.withCapacityBytes(256L << 20);
        try (FileBlockDevice device = FileBlockDevice.open(image, PAGE, blocks))
        {
            final ExtentStore store = ExtentStore.format(device);
            try (ExtentCacheFileSystem fs = ExtentCacheFileSystems.overStore(store, device, options))
            {
                createCloneAndDiverge(fs);
                verifyAll(fs, "over a store");
            }
            store.close();
        }
        try (FileBlockDevice device = FileBlockDevice.open(image, PAGE, blocks)) // the restart
        {
            final ExtentStore store = ExtentStore.open(device);
            try (ExtentCacheFileSystem fs = ExtentCacheFileSystems.overStore(store, device, options))
            {
                verifyAll(fs, "over the store reopened");
            }
            store.close();
        }
    }

    private static void createCloneAndDiverge(final ExtentCacheFileSystem fs) throws SQLException, IOException
    {
        Files.createDirectories(fs.getPath("/db"));
        try (Connection connection = connect(fs, "base"); Statement sql = connection.createStatement())
        {
            sql.execute("CREATE TABLE t(id INT PRIMARY KEY, v VARCHAR(200))");
            sql.execute("INSERT INTO t SELECT X, 'row-' || X || '-' || REPEAT('x', 80) FROM SYSTEM_RANGE(1, " +
                ROWS + ")");
        }
        for (int i = 1; i <= CLONES; i++)
        {
            Files.copy(file(fs, "base"), file(fs, "clone" + i), ExtentCacheCopyOption.REFLINK);
        }
        for (int i = 1; i <= CLONES; i++)
        {
            try (Connection connection = connect(fs, "clone" + i); Statement sql = connection.createStatement())
            {
                sql.execute("UPDATE t SET v = 'clone-" + i + "' WHERE id BETWEEN " + (i * 100) + " AND " +
                    (i * 100 + 99));
                sql.execute("INSERT INTO t VALUES (" + (1_000_000 + i) + ", 'only-" + i + "')");
            }
        }
    }

    /**
     * Opens all nine databases at once (databases cloned from one base, in use together: what sharing is for; over
     * real files the cache trusts a block only while a file that maps it is open), checks each, reports memory.
     */
    private static void verifyAll(final ExtentCacheFileSystem fs, final String where) throws SQLException, IOException
    {
        final Connection[] connections = new Connection[CLONES + 1];
        try
        {
            long fileBytes = 0;
            for (int i = 0; i <= CLONES; i++)
            {
                final String name = 0 == i ? "base" : "clone" + i;
                connections[i] = connect(fs, name);
                try (Statement sql = connections[i].createStatement())
                {
                    verify(sql, i, name);
                }
                fileBytes += Files.size(file(fs, name));
            }
            final CacheStats stats = fs.cache().stats();
            System.out.printf(Locale.ROOT, "H2 %s: 9 databases open, %.1f MiB of files; the cache holds %.1f MiB " +
                "of frames, %.1f MiB mapped by open files (%,d sharing hits, %,d device reads)%n", where,
                fileBytes / 1048576.0, stats.frameBytesInUse() / 1048576.0,
                fs.cache().residency().bytesReachable() / 1048576.0, stats.sharingHits(),
                stats.deviceReads());
            // sharing is what the open databases map: frames kept only as cache (pages H2 wrote and freed, whose
            // count depends on how often its background writer ran) are not the databases' and would be reclaimed
            final long mapped = fs.cache().residency().bytesReachable();
            assertTrue(mapped < fileBytes / 2, "the clones share the base's frames: " + mapped + " bytes mapped for " +
                fileBytes + " bytes of files; " + stats);
        }
        finally
        {
            for (final Connection connection : connections)
            {
                if (null != connection)
                {
                    connection.close();
                }
            }
        }
    }

    private static void verify(final Statement sql, final int i, final String name) throws SQLException
    {
        assertEquals(0 == i ? ROWS : ROWS + 1, longOf(sql, "SELECT COUNT(*) FROM t"), name);
        for (int j = 1; j <= CLONES; j++)
        {
            final long changed = longOf(sql, "SELECT COUNT(*) FROM t WHERE v = 'clone-" + j + "'");
            assertEquals(i == j ? 100 : 0, changed, name + ": rows of clone " + j);
        }
        assertEquals(0 == i ? 0 : 1, longOf(sql, "SELECT COUNT(*) FROM t WHERE v = 'only-" + i + "'"), name);
        assertEquals(ROWS - (0 == i ? 0 : 100), longOf(sql, "SELECT COUNT(*) FROM t WHERE v LIKE 'row-%'"), name);
        assertEquals("row-4242-" + "x".repeat(80), stringOf(sql, "SELECT v FROM t WHERE id = 4242"), name);
    }

    private static Connection connect(final ExtentCacheFileSystem fs, final String name) throws SQLException
    {
        return DriverManager.getConnection("jdbc:h2:" + fs.getPath("/db", name).toUri(), "sa", "");
    }

    private static Path file(final ExtentCacheFileSystem fs, final String name)
    {
        return fs.getPath("/db", name + ".mv.db");
    }

    private static long longOf(final Statement sql, final String query) throws SQLException
    {
        try (ResultSet rows = sql.executeQuery(query))
        {
            assertTrue(rows.next(), query);
            return rows.getLong(1);
        }
    }

    private static String stringOf(final Statement sql, final String query) throws SQLException
    {
        try (ResultSet rows = sql.executeQuery(query))
        {
            assertTrue(rows.next(), query);
            return rows.getString(1);
        }
    }
}
