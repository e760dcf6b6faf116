package org.extentcache.nio;

import java.nio.file.CopyOption;
import java.nio.file.LinkOption;
import java.nio.file.StandardCopyOption;
import java.util.Objects;

/**
 * The copy and move options an {@code extentcache} file system understands.
 *
 * @param replaceExisting {@link StandardCopyOption#REPLACE_EXISTING}.
 * @param copyAttributes  {@link StandardCopyOption#COPY_ATTRIBUTES}: the times are copied.
 * @param atomicMove      {@link StandardCopyOption#ATOMIC_MOVE}: a move is one rename (it always is here, within
 *                        one file system).
 * @param reflink         {@link ExtentCacheCopyOption#REFLINK}.
 */
record CopyOptions(boolean replaceExisting, boolean copyAttributes, boolean atomicMove, boolean reflink)
{
    /**
     * @throws UnsupportedOperationException naming an option not understood.
     */
    static CopyOptions of(final CopyOption... options)
    {
        boolean replace = false;
        boolean attributes = false;
        boolean atomic = false;
        boolean reflink = false;
        for (final CopyOption option : options)
        {
            Objects.requireNonNull(option, "copy option");
            if (option == StandardCopyOption.REPLACE_EXISTING)
            {
                replace = true;
            }
            else if (option == StandardCopyOption.COPY_ATTRIBUTES)
            {
                attributes = true;
            }
            else if (option == StandardCopyOption.ATOMIC_MOVE)
            {
                atomic = true;
            }
            else if (option == ExtentCacheCopyOption.REFLINK)
            {
                reflink = true;
            }
            else if (option != LinkOption.NOFOLLOW_LINKS) // there are no links to follow
            {
                throw new UnsupportedOperationException("copy option not supported by extentcache file systems: " +
                    option);
            }
        }
        return new CopyOptions(replace, attributes, atomic, reflink);
    }
}
