package org.extentcache.translate;

/**
 * One run of a file's pages answered by a {@link Translator}: {@link #pageCount()} consecutive file pages starting
 * at {@link #filePage()} map to as many consecutive device blocks starting at {@link #deviceBlock()}, or are a hole
 * that reads as zeros.
 *
 * <p>A re-usable flyweight: the caller allocates one, the translator fills it, so translation allocates nothing.
 * Not thread-safe: one per thread.
 */
public final class Extent
{
    /** {@link #deviceBlock()} of a hole: no block, the pages read as zeros. */
    public static final long HOLE = -1;

    private long filePage;
    private long pageCount;
    private long deviceBlock;
    private boolean shared;

    /**
     * Sets every field; for translators.
     *
     * @param filePage    first file page of the run, {@code >= 0}.
     * @param pageCount   pages in the run, {@code >= 1}.
     * @param deviceBlock device block of {@code filePage}, or {@link #HOLE}.
     * @param shared      whether any other file page (of this file or another) maps any block of the run.
     * @return this extent.
     */
    public Extent set(final long filePage, final long pageCount, final long deviceBlock, final boolean shared)
    {
        if (filePage < 0 || pageCount < 1 || filePage + pageCount < filePage || deviceBlock < HOLE)
        {
            throw new IllegalArgumentException("invalid extent: filePage=" + filePage + " pageCount=" + pageCount +
                " deviceBlock=" + deviceBlock);
        }
        this.filePage = filePage;
        this.pageCount = pageCount;
        this.deviceBlock = deviceBlock;
        this.shared = shared && deviceBlock != HOLE;
        return this;
    }

    /**
     * @return first file page of the run.
     */
    public long filePage()
    {
        return filePage;
    }

    /**
     * @return pages in the run.
     */
    public long pageCount()
    {
        return pageCount;
    }

    /**
     * @return device block of {@link #filePage()}, or {@link #HOLE}.
     */
    public long deviceBlock()
    {
        return deviceBlock;
    }

    /**
     * @return true if the run is a hole.
     */
    public boolean isHole()
    {
        return deviceBlock == HOLE;
    }

    /**
     * @return whether some block of the run is mapped by more than one file page; a write to a shared page must break
     * the sharing (copy-on-write).
     */
    public boolean isShared()
    {
        return shared;
    }

    /**
     * @param page a file page inside the run.
     * @return the device block of {@code page}, or {@link #HOLE}.
     * @throws IllegalArgumentException if {@code page} is outside the run.
     */
    public long blockOf(final long page)
    {
        if (page < filePage || page - filePage >= pageCount)
        {
            throw new IllegalArgumentException(
                "page outside extent: page=" + page + " filePage=" + filePage + " pageCount=" + pageCount);
        }
        return deviceBlock == HOLE ? HOLE : deviceBlock + (page - filePage);
    }

    @Override
    public String toString()
    {
        return "Extent{filePage=" + filePage + ", pageCount=" + pageCount +
            ", deviceBlock=" + (deviceBlock == HOLE ? "HOLE" : Long.toString(deviceBlock)) +
            ", shared=" + shared + '}';
    }
}
