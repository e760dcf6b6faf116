package org.extentcache.nio;

import org.extentcache.translate.ExtentStore;

import java.io.IOException;

/**
 * Where a {@link StoreFileSystem} keeps its names in the ExtentStore: the one place that reads and writes the
 * store's attachment ({@link ExtentStore#attachment()}, {@link ExtentStore#setAttachment(byte[])}), and makes it
 * durable ({@link ExtentStore#sync()}). A persistent store ({@link ExtentStore#format}, {@link ExtentStore#open})
 * persists the attachment with its next snapshot (any file's commit, or a sync) and recovers it at open; an
 * in-memory store keeps it for its own life.
 *
 * <p><b>Thread safety:</b> safe for concurrent use (the store's own).
 */
final class StoreAttachment
{
    private StoreAttachment()
    {
    }

    /** @return the bytes last saved, or recovered by the store's open; empty if none. */
    static byte[] load(final ExtentStore store)
    {
        return store.attachment();
    }

    /** Sets the bytes, durable from the store's next snapshot. */
    static void save(final ExtentStore store, final byte[] bytes)
    {
        store.setAttachment(bytes);
    }

    /**
     * Makes the store durable, the attachment with it.
     *
     * @throws IOException naming the step that failed; the previous durable state stands.
     */
    static void sync(final ExtentStore store) throws IOException
    {
        store.sync();
    }
}
