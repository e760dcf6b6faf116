package org.extentcache.translate;

/**
 * One {@link TranslatorGroup} member's counters, cumulative since it joined, taken by
 * {@link TranslatorGroup.Member#stats()}. The cache-wide figures are {@code ExtentCache.stats()}; the frames a
 * member's files reach are {@code ExtentCache.residency(member::owns)}.
 *
 * @param name          the member's name.
 * @param translations  pages the cache asked the member to translate: its files' misses in their mappings (sharing
 *                      hits, device reads and holes).
 * @param blocksRead    blocks read through the member (its device or its files), readahead included.
 * @param blocksWritten dirty pages written back through the member.
 * @param writeFailures write-backs through the member that failed (the pages stayed dirty).
 * @param syncs         syncs of the member (its device, or its files) that succeeded.
 * @param syncFailures  syncs of the member that failed.
 */
public record MemberStats(
    String name,
    long translations,
    long blocksRead,
    long blocksWritten,
    long writeFailures,
    long syncs,
    long syncFailures)
{
}
