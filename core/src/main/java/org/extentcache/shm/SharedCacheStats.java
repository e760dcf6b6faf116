package org.extentcache.shm;

/**
 * A snapshot of a shared cache file's counts ({@link SharedCache#stats()}); the counters are the file's, summed over
 * every process that used it since it was created.
 *
 * @param frames              frames in the file.
 * @param framesReady         frames holding a key's bytes and served.
 * @param framesLoading       frames being filled.
 * @param framesDropped       frames out of the index kept for pins.
 * @param framesLost          frames a dead client was filling, kept out of service for one lease.
 * @param framesFree          frames in no other state.
 * @param liveClients         clients whose heartbeat is within the lease.
 * @param pagesPinnedHere     pages this process has pinned.
 * @param loads               frames filled.
 * @param reclaims            frames taken from one key for another by the sweep.
 * @param recoveries          dead clients recovered.
 * @param invalidations       frames taken out of service because a process found them wrong for its file.
 * @param verificationMisses  frames another process loaded that did not match a process's own file.
 */
public record SharedCacheStats(int frames, int framesReady, int framesLoading, int framesDropped, int framesLost,
    int framesFree, int liveClients, int pagesPinnedHere, long loads, long reclaims, long recoveries,
    long invalidations, long verificationMisses)
{
}
