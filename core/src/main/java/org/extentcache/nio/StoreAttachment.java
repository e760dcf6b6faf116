package org.extentcache.nio;

import org.extentcache.translate.ExtentStore;

import java.util.Map;
import java.util.WeakHashMap;

/**
 * Where a {@link StoreFileSystem} keeps its names in the ExtentStore: the one place that reads and writes the
 * store's attachment.
 *
 * <p><b>Until the persistent ExtentStore lands</b> (its {@code setAttachment(byte[])}, persisted with the store's next
 * metadata commit, and {@code attachment()}, the bytes recovered at open), the bytes are kept here, in memory, per
 * store object: names then survive closing and reopening the file system over the same store in one process, not a
 * restart. Wiring: {@link #load} returns {@code store.attachment()}, {@link #save} calls
 * {@code store.setAttachment(bytes)}; nothing else changes.
 *
 * <p><b>Thread safety:</b> safe for concurrent use.
 */
final class StoreAttachment
{
    /** Stand-in for the store's attachment; weak keys, so a store's entry goes with the store. */
    private static final Map<ExtentStore, byte[]> ATTACHMENTS = new WeakHashMap<>();

    private StoreAttachment()
    {
    }

    /** @return the bytes last saved for the store, empty if none. */
    static byte[] load(final ExtentStore store)
    {
        synchronized (ATTACHMENTS)
        {
            final byte[] bytes = ATTACHMENTS.get(store);
            return null == bytes ? new byte[0] : bytes.clone();
        }
    }

    /** Keeps the bytes with the store (durable from the store's next metadata commit, once it persists). */
    static void save(final ExtentStore store, final byte[] bytes)
    {
        synchronized (ATTACHMENTS)
        {
            ATTACHMENTS.put(store, bytes.clone());
        }
    }
}
