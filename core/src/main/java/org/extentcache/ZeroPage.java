package org.extentcache;

import org.agrona.BufferUtil;

import java.nio.ByteBuffer;

/**
 * The page of zeros that pins of holes point at: one per JVM, {@link ExtentCache#MAX_PAGE_SIZE} bytes, shared by
 * every cache. It is never written and never freed, so a view of a hole stays valid whatever happens to the cache
 * that pinned it (a cache's own memory can be freed at close; this cannot be, and need not be). Not counted in any
 * cache's footprint: 64 KiB once per JVM.
 */
final class ZeroPage
{
    private static final ByteBuffer PAGE = ByteBuffer.allocateDirect(ExtentCache.MAX_PAGE_SIZE);
    /** Address of the first byte; valid for the life of the JVM. */
    static final long ADDRESS = BufferUtil.address(PAGE);

    private ZeroPage()
    {
    }

    /**
     * @param length bytes to cover, at most {@link ExtentCache#MAX_PAGE_SIZE}.
     * @return a new read-only buffer of zeros, position 0, limit {@code length}.
     */
    static ByteBuffer view(final int length)
    {
        return PAGE.duplicate().limit(length).asReadOnlyBuffer();
    }
}
