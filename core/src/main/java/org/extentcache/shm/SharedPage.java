package org.extentcache.shm;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A page pinned in a shared cache ({@link SharedCache#pin}): while pinned, its frame is not reclaimed, reused or
 * changed by any process. Unpin with {@link #close()}, exactly once.
 *
 * <h2>The view</h2>
 * {@link #buffer()} is an Agrona {@link DirectBuffer} over the frame, revoked when the page is unpinned, when the
 * cache closes, or when this process's lease is taken over: a kept reference then has capacity 0 and any access
 * throws {@link IndexOutOfBoundsException}. Revoking changes only the view's capacity, never its address or backing
 * object, so a read racing the revocation on another thread reads the frame's mapped memory (the mapping outlives
 * the view, which holds it) or throws; it never pairs a heap array with a native address, which crashed the JVM when
 * the view was re-wrapped onto an empty array. With Agrona's bounds checks disabled, a revoked view reads the frame's
 * current bytes, whatever they are by then: mapped memory, never a crash.
 *
 * <p><b>Thread safety:</b> the view may be read by any thread while pinned; {@link #close()} is safe to race with
 * the cache's revocation.
 */
public final class SharedPage implements AutoCloseable
{
    final int frame;
    private final SharedCache cache;
    private final long handle;
    private final long key;
    private final UnsafeBuffer chunk;
    private final int offset;
    private final UnsafeBuffer view;
    private final AtomicBoolean released = new AtomicBoolean();

    SharedPage(final SharedCache cache, final int frame, final long handle, final long key, final UnsafeBuffer chunk,
        final int offset, final int pageSize)
    {
        this.cache = cache;
        this.frame = frame;
        this.handle = handle;
        this.key = key;
        this.chunk = chunk;
        this.offset = offset;
        this.view = new UnsafeBuffer(chunk, offset, pageSize);
    }

    /** @return the pinned bytes; revoked at unpin (see the class comment). */
    public DirectBuffer buffer()
    {
        return view;
    }

    /** @return the key the frame held when pinned. */
    public long key()
    {
        return key;
    }

    /** @return the handle it was pinned by. */
    public long handle()
    {
        return handle;
    }

    /** @return true while pinned (not closed, nor revoked by the cache). */
    public boolean isPinned()
    {
        return !released.get();
    }

    /**
     * Unpins the page and revokes its view.
     *
     * @throws IllegalStateException if it was already unpinned (nothing is released twice); a page the cache revoked
     *     (closed, or the lease lost) closes once without complaint.
     */
    @Override
    public void close()
    {
        if (!released.compareAndSet(false, true))
        {
            if (revoked)
            {
                revoked = false;
                return;
            }
            throw new IllegalStateException("page of key " + key + " (frame " + frame + ") is already unpinned");
        }
        revokeView();
        cache.unpin(this);
    }

    private volatile boolean revoked;

    /** Capacity 0 over the same frame address: the only field a racing reader can see change is the capacity. */
    private void revokeView()
    {
        view.wrap(chunk, offset, 0);
    }

    /** The cache's revocation (close, lost lease): @return true if it was still pinned. */
    boolean revoke()
    {
        if (!released.compareAndSet(false, true))
        {
            return false;
        }
        revoked = true;
        revokeView();
        return true;
    }
}
