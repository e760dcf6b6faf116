package org.extentcache;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Which merge domain each file is in ({@link ExtentCache#mergeDomain}): a map of the files not in the default domain,
 * and a version bumped after every change, so a file re-reads its domain only when some domain changed
 * ({@link #read}). Thread-safe.
 */
final class MergeDomains
{
    /** Files whose merge domain is not {@link ExtentCache#DEFAULT_MERGE_DOMAIN}. */
    private final ConcurrentHashMap<Long, Integer> domains = new ConcurrentHashMap<>();
    /** Bumped after every change of {@link #domains}: a reader that sees the new version sees the change. */
    private final AtomicInteger version = new AtomicInteger();

    /**
     * @param file   a file id.
     * @param domain its domain, {@code >= 0}, or {@link ExtentCache#NO_MERGE_DOMAIN}.
     * @throws IllegalArgumentException if {@code domain < -1}.
     */
    void set(final long file, final int domain)
    {
        if (domain < ExtentCache.NO_MERGE_DOMAIN)
        {
            throw new IllegalArgumentException("merge domain must be >= 0, or NO_MERGE_DOMAIN (-1): domain=" + domain);
        }
        if (ExtentCache.DEFAULT_MERGE_DOMAIN == domain)
        {
            domains.remove(file);
        }
        else
        {
            domains.put(file, domain);
        }
        version.incrementAndGet();
    }

    /**
     * A file's domain, from what the file saw last if no domain changed since.
     *
     * @param file a file id.
     * @param seen what this returned last for the file, or 0 at first: version (high 32 bits) and domain (low 32).
     *             0 is right until a domain is first named (version 0, the default domain).
     * @return the version and domain now, packed as {@code seen} is; the domain is the low 32 bits.
     */
    long read(final long file, final long seen)
    {
        final int now = version.get();
        if ((int)(seen >>> 32) == now)
        {
            return seen;
        }
        final int domain = domains.getOrDefault(file, ExtentCache.DEFAULT_MERGE_DOMAIN);
        return (long)now << 32 | (domain & 0xFFFF_FFFFL);
    }
}
