package org.extentcache;

/**
 * Which of a cache's resident frames open files can reach, taken by {@link ExtentCache#residency()}.
 *
 * @param framesResident  frames holding a block.
 * @param framesReachable resident frames that a file the cache knows maps through a valid handle: what open files
 *                        can reach. The rest ({@link #framesCacheOnly()}) are kept only as cache, for a file opened
 *                        again or another file that maps the same block, and are reclaimed like any other clean
 *                        frame when space is needed.
 * @param pageSize        bytes per frame.
 */
public record Residency(int framesResident, int framesReachable, int pageSize)
{
    /**
     * @return resident frames no file the cache knows maps. After every file is closed
     * ({@link ExtentCache#closeFile}), every resident frame is counted here.
     */
    public int framesCacheOnly()
    {
        return Math.max(0, framesResident - framesReachable);
    }

    /**
     * @return bytes of the frames open files can reach.
     */
    public long bytesReachable()
    {
        return (long)framesReachable * pageSize;
    }

    /**
     * @return bytes of the frames kept only as cache.
     */
    public long bytesCacheOnly()
    {
        return (long)framesCacheOnly() * pageSize;
    }
}
