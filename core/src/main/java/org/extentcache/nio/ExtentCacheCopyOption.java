package org.extentcache.nio;

import java.nio.file.CopyOption;

/**
 * Copy options of the {@code extentcache} file systems, beside {@link java.nio.file.StandardCopyOption}.
 */
public enum ExtentCacheCopyOption implements CopyOption
{
    /**
     * Copy by reference: the copy shares the source's blocks until either is written (copy-on-write), so it costs
     * no data copy and, in the cache, no second copy of the frames. Over an ExtentStore it is
     * {@code ExtentStore.cloneFile}; over real files it is the {@code FICLONE} ioctl. The source's dirty pages are
     * written back first, so the copy holds what the cache holds. Where a reference copy is impossible (source and
     * target on different file systems, {@code EXDEV}; a file system without reflink, {@code EOPNOTSUPP} or
     * {@code EINVAL}; a directory) {@code Files.copy} fails with a {@link java.nio.file.FileSystemException} giving
     * the reason, and never falls back to copying the bytes.
     */
    REFLINK
}
