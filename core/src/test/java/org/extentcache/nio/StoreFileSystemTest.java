package org.extentcache.nio;

import org.extentcache.device.MemoryBlockDevice;
import org.extentcache.translate.Extent;
import org.extentcache.translate.ExtentStore;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemAlreadyExistsException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The contract over an {@link ExtentStore} ({@link StoreFileSystem}), plus what only a store shows: a reflink copy
 * shares the store's blocks ({@link ExtentStore#refCount}), a deleted file's store file goes at its last close, and
 * the names survive a remount of the store, reconciled with its files.
 */
final class StoreFileSystemTest extends FileSystemContractTest
{
    private final List<MemoryBlockDevice> devices = new ArrayList<>();
    private final List<ExtentStore> stores = new ArrayList<>();

    private ExtentStore newStore()
    {
        final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 2048);
        devices.add(device);
        final ExtentStore store = new ExtentStore(device);
        stores.add(store);
        return store;
    }

    private StoreFileSystem mount(final ExtentStore store) throws IOException
    {
        return ExtentCacheFileSystems.overStore(store, devices.get(stores.indexOf(store)),
            FileSystemOptions.DEFAULTS.withCapacityBytes(64 * PAGE));
    }

    @Override
    ExtentCacheFileSystem newFileSystem() throws IOException
    {
        return mount(newStore());
    }

    @Override
    void afterClose()
    {
        stores.forEach(ExtentStore::close);
        devices.forEach(MemoryBlockDevice::close);
    }

    private StoreFileSystem storeFs()
    {
        return (StoreFileSystem)fs;
    }

    @Override
    void assertReflinked(final Path source, final Path copy) throws IOException
    {
        final ExtentStore store = storeFs().store();
        final long a = storeFs().fileId(source);
        final long b = storeFs().fileId(copy);
        assertNotEquals(a, b);
        final Extent ea = new Extent();
        final Extent eb = new Extent();
        for (long page = 0; page < (Files.size(source) + PAGE - 1) / PAGE; page++)
        {
            store.translate(a, page, ea);
            store.translate(b, page, eb);
            assertEquals(ea.blockOf(page), eb.blockOf(page), "page " + page + " maps one block in both");
            assertEquals(2, store.refCount(ea.blockOf(page)), "page " + page + "'s block is shared");
        }
    }

    @Override
    void assertNotReflinked(final Path source, final Path copy) throws IOException
    {
        final ExtentStore store = storeFs().store();
        fs.cache().flush();
        final Extent ea = new Extent();
        final Extent eb = new Extent();
        for (long page = 0; page < (Files.size(source) + PAGE - 1) / PAGE; page++)
        {
            store.translate(storeFs().fileId(source), page, ea);
            store.translate(storeFs().fileId(copy), page, eb);
            assertNotEquals(ea.blockOf(page), eb.blockOf(page), "page " + page);
            assertEquals(1, store.refCount(ea.blockOf(page)));
        }
    }

    @Test
    void theStoreFileOfADeletedFileGoesWithItsLastChannel() throws IOException
    {
        final Path path = Files.write(fs.getPath("/doomed"), bytes(9, 2 * PAGE));
        final long id = storeFs().fileId(path);
        final FileChannel channel = FileChannel.open(path, StandardOpenOption.READ);
        Files.delete(path);
        assertTrue(storeFs().store().exists(id), "kept while a channel is open");
        channel.close();
        assertFalse(storeFs().store().exists(id), "deleted at its last close");

        final Path replaced = Files.write(fs.getPath("/replaced"), bytes(10, PAGE));
        final long old = storeFs().fileId(replaced);
        try (FileChannel open = FileChannel.open(replaced, StandardOpenOption.READ))
        {
            Files.move(Files.write(fs.getPath("/tmp"), new byte[] {1}), replaced,
                java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            assertEquals(PAGE, open.size(), "the file renamed over is still open");
            assertTrue(storeFs().store().exists(old));
        }
        assertFalse(storeFs().store().exists(old));
    }

    @Test
    void namesSurviveARemountOfTheStore() throws IOException
    {
        final ExtentStore store = storeFs().store();
        Files.createDirectories(fs.getPath("/db/idx"));
        Files.write(fs.getPath("/db/main.db"), bytes(11, 3 * PAGE));
        Files.write(fs.getPath("/db/idx/seg_1"), bytes(12, PAGE / 2));
        final FileTime time = FileTime.fromMillis(1_600_000_000_000L);
        Files.setLastModifiedTime(fs.getPath("/db/main.db"), time);
        final Object key = Files.readAttributes(fs.getPath("/db/main.db"), BasicFileAttributes.class).fileKey();
        fs.close();

        fs = mount(store);
        assertArrayEquals(bytes(11, 3 * PAGE), Files.readAllBytes(fs.getPath("/db/main.db")));
        assertArrayEquals(bytes(12, PAGE / 2), Files.readAllBytes(fs.getPath("/db/idx/seg_1")));
        assertEquals(time, Files.getLastModifiedTime(fs.getPath("/db/main.db")));
        assertEquals(key, Files.readAttributes(fs.getPath("/db/main.db"), BasicFileAttributes.class).fileKey());
        assertTrue(Files.isDirectory(fs.getPath("/db/idx")));
        Files.createDirectory(fs.getPath("/db/new")); // directory keys go on from the highest one
        assertNotEquals(Files.readAttributes(fs.getPath("/db/idx"), BasicFileAttributes.class).fileKey(),
            Files.readAttributes(fs.getPath("/db/new"), BasicFileAttributes.class).fileKey());
    }

    @Test
    void namesAndBytesSurviveARestartOfAPersistentStore() throws IOException
    {
        final MemoryBlockDevice device = new MemoryBlockDevice(PAGE, 2048);
        devices.add(device);
        final ExtentStore first = ExtentStore.format(device);
        stores.add(first);
        final byte[] data = bytes(13, 5 * PAGE + 7);
        try (StoreFileSystem before = mount(first))
        {
            Files.createDirectories(before.getPath("/h2/db"));
            Files.write(before.getPath("/h2/db/test.mv.db"), data);
            Files.copy(before.getPath("/h2/db/test.mv.db"), before.getPath("/h2/db/clone.mv.db"),
                ExtentCacheCopyOption.REFLINK);
            try (FileChannel dir = FileChannel.open(before.getPath("/h2/db"), StandardOpenOption.READ))
            {
                dir.force(true); // syncs the store: the names are durable from here
            }
            assertNull(before.cache().checkBooks());
        }
        first.close();

        final ExtentStore second = ExtentStore.open(device);
        stores.add(second);
        devices.add(device); // mount() finds the device by the store's index
        try (StoreFileSystem after = mount(second))
        {
            assertArrayEquals(data, Files.readAllBytes(after.getPath("/h2/db/test.mv.db")));
            assertArrayEquals(data, Files.readAllBytes(after.getPath("/h2/db/clone.mv.db")));
            assertTrue(second.isPersistent());
            assertNull(after.cache().checkBooks());
        }
    }

    @Test
    void theLastCloseOfAFileClosesItInTheCache() throws IOException
    {
        final Path path = fs.getPath("/closed");
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.WRITE, StandardOpenOption.CREATE_NEW))
        {
            channel.write(java.nio.ByteBuffer.wrap(bytes(14, 3 * PAGE)));
            assertTrue(fs.cache().residency().framesCacheOnly() == 0, "an open file's frames are reachable");
        }
        assertEquals(3 * PAGE, Files.size(path), "the store's size, durable");
        assertTrue(fs.cache().residency().framesCacheOnly() > 0, "closed means gone: its frames are kept only as cache");
        assertArrayEquals(bytes(14, 3 * PAGE), Files.readAllBytes(path), "and found again by translation");
    }

    @Test
    void aMountDropsNamesOfMissingFilesAndDeletesFilesWithoutNames() throws IOException
    {
        final ExtentStore store = storeFs().store();
        final long kept = storeFs().fileId(Files.write(fs.getPath("/kept"), new byte[] {1}));
        final long lost = storeFs().fileId(Files.write(fs.getPath("/lost"), new byte[] {2}));
        final long orphan = storeFs().fileId(Files.write(fs.getPath("/orphan"), new byte[] {3}));
        fs.close();
        // as a crash leaves them: a name whose file is gone, and a file deleted while open whose name went first
        store.delete(lost);
        final TreeCodec.Decoded names = TreeCodec.decode(StoreAttachment.load(store));
        names.tree().remove(new String[] {"orphan"}, "/orphan");
        StoreAttachment.save(store, TreeCodec.encode(names.tree(), names.highestFile()));

        fs = mount(store);
        assertTrue(Files.exists(fs.getPath("/kept")));
        assertFalse(Files.exists(fs.getPath("/lost")), "the name of a missing store file is dropped");
        assertFalse(store.exists(orphan), "a store file without a name is deleted");
        assertTrue(store.exists(kept));
        try (var list = Files.list(fs.getPath("/")))
        {
            assertEquals(1, list.count());
        }
    }

    @Test
    void theProviderBuildsAStoreFileSystemFromAnEnvMap() throws IOException
    {
        final ExtentStore store = newStore();
        final MemoryBlockDevice device = devices.get(devices.size() - 1);
        final URI uri = URI.create("extentcache://env-store-" + System.nanoTime());
        try (FileSystem made = FileSystems.newFileSystem(uri, Map.of(FileSystemOptions.STORE, store,
            FileSystemOptions.DEVICE, device, FileSystemOptions.CAPACITY_BYTES, String.valueOf(32 * PAGE))))
        {
            assertTrue(made instanceof StoreFileSystem);
            assertThrows(FileSystemAlreadyExistsException.class, () -> FileSystems.newFileSystem(uri, Map.of(
                FileSystemOptions.STORE, store, FileSystemOptions.DEVICE, device)));
            final Path file = Path.of(URI.create(uri + "/hello"));
            Files.write(file, new byte[] {1});
            assertSame(made, file.getFileSystem());
        }
        final IllegalArgumentException noDevice = assertThrows(IllegalArgumentException.class,
            () -> FileSystems.newFileSystem(uri, Map.of(FileSystemOptions.STORE, store)));
        assertTrue(noDevice.getMessage().contains(FileSystemOptions.DEVICE), noDevice.getMessage());
        assertThrows(IllegalArgumentException.class, () -> FileSystems.newFileSystem(uri, Map.of()));
        assertThrows(IllegalArgumentException.class, () -> FileSystems.newFileSystem(uri, Map.of(
            FileSystemOptions.STORE, store, FileSystemOptions.DEVICE, device, FileSystemOptions.CAPACITY_BYTES, "x")));
    }

    @Test
    void aStoreDirectoryForcedWritesTheNames() throws IOException
    {
        final ExtentStore store = storeFs().store();
        Files.write(fs.getPath("/n"), new byte[] {1});
        StoreAttachment.save(store, new byte[0]); // forget, to see the force write them again
        try (FileChannel dir = FileChannel.open(fs.getPath("/"), StandardOpenOption.READ))
        {
            dir.force(true);
        }
        final TreeCodec.Decoded names = TreeCodec.decode(StoreAttachment.load(store));
        assertNotNull(names.tree().find(new String[] {"n"}));
    }
}
