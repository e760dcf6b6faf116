package org.extentcache.micrometer;

import io.micrometer.core.instrument.Clock;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.BaseUnits;
import io.micrometer.core.instrument.binder.MeterBinder;
import org.extentcache.CacheStats;
import org.extentcache.ExtentCache;

import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.ToLongFunction;

/**
 * Binds an {@link ExtentCache}'s {@link ExtentCache#stats() statistics} to a Micrometer {@link MeterRegistry}:
 * cumulative counts as {@link FunctionCounter}s, levels as {@link Gauge}s, every meter tagged {@code cache=<name>}
 * plus the caller's tags.
 *
 * <pre>{@code
 * ExtentCache cache = ExtentCache.builder().device(device).translator(translator).build();
 * new ExtentCacheMetrics(cache, "blocks", Tags.of("tier", "ssd")).bindTo(registry);
 * // or, in the style of Micrometer's CaffeineCacheMetrics:
 * ExtentCacheMetrics.monitor(registry, cache, "blocks", "tier", "ssd");
 * }</pre>
 *
 * <h2>Meters</h2>
 * <table>
 *   <caption>Meters and the {@link CacheStats} figure each reads</caption>
 *   <tr><th>name</th><th>type</th><th>tags</th><th>figure</th></tr>
 *   <tr><td>{@code extentcache.requests}</td><td>counter</td><td>{@code result=hit, lookup=file}</td>
 *       <td>{@link CacheStats#fileHits()}</td></tr>
 *   <tr><td>{@code extentcache.requests}</td><td>counter</td><td>{@code result=hit, lookup=sharing}</td>
 *       <td>{@link CacheStats#sharingHits()}</td></tr>
 *   <tr><td>{@code extentcache.requests}</td><td>counter</td><td>{@code result=miss, lookup=device}</td>
 *       <td>{@link CacheStats#deviceReads()}</td></tr>
 *   <tr><td>{@code extentcache.reclaims}</td><td>counter</td><td></td><td>{@link CacheStats#reclaims()}</td></tr>
 *   <tr><td>{@code extentcache.invalidations}</td><td>counter</td><td></td>
 *       <td>{@link CacheStats#invalidations()}</td></tr>
 *   <tr><td>{@code extentcache.load.failures}</td><td>counter</td><td></td>
 *       <td>{@link CacheStats#loadFailures()}</td></tr>
 *   <tr><td>{@code extentcache.copy.on.writes}</td><td>counter</td><td></td>
 *       <td>{@link CacheStats#copyOnWrites()}</td></tr>
 *   <tr><td>{@code extentcache.writebacks}</td><td>counter</td><td>{@code result=success}</td>
 *       <td>{@link CacheStats#writebacks()}</td></tr>
 *   <tr><td>{@code extentcache.writebacks}</td><td>counter</td><td>{@code result=failure}</td>
 *       <td>{@link CacheStats#writebackFailures()}</td></tr>
 *   <tr><td>{@code extentcache.sync.failures}</td><td>counter</td><td></td>
 *       <td>{@link CacheStats#syncFailures()}</td></tr>
 *   <tr><td>{@code extentcache.background.errors}</td><td>counter</td><td></td>
 *       <td>{@link CacheStats#backgroundErrors()}</td></tr>
 *   <tr><td>{@code extentcache.frames}</td><td>gauge, frames</td>
 *       <td>{@code state=resident|free|retired|parked}</td>
 *       <td>{@link CacheStats#framesResident()}, {@link CacheStats#framesFree()},
 *       {@link CacheStats#framesRetired()}, {@link CacheStats#framesParked()}</td></tr>
 *   <tr><td>{@code extentcache.frames.capacity}</td><td>gauge, frames</td><td></td>
 *       <td>{@link CacheStats#capacityFrames()}</td></tr>
 *   <tr><td>{@code extentcache.frames.dirty}</td><td>gauge, frames</td><td></td>
 *       <td>{@link CacheStats#dirtyFrames()}</td></tr>
 *   <tr><td>{@code extentcache.offheap.reserved}</td><td>gauge, bytes</td><td>{@code region=frames|metadata}</td>
 *       <td>{@link CacheStats#frameBytesReserved()}, {@link CacheStats#offHeapMetadataBytes()}</td></tr>
 *   <tr><td>{@code extentcache.offheap.used}</td><td>gauge, bytes</td><td>{@code region=frames}</td>
 *       <td>{@link CacheStats#frameBytesInUse()}</td></tr>
 *   <tr><td>{@code extentcache.heap.metadata}</td><td>gauge, bytes</td><td></td>
 *       <td>{@link CacheStats#heapMetadataBytes()} (an estimate)</td></tr>
 *   <tr><td>{@code extentcache.files}</td><td>gauge, files</td><td></td>
 *       <td>{@link CacheStats#filesMapped()}</td></tr>
 *   <tr><td>{@code extentcache.handles}</td><td>gauge</td><td></td><td>{@link CacheStats#handlesHeld()}</td></tr>
 * </table>
 * Ratios are left to the monitoring system ({@code sum by (result)} over {@code extentcache.requests}), as Micrometer
 * advises; the three lookups add up to {@link CacheStats#requestCount()}.
 *
 * <h2>One snapshot per scrape</h2>
 * {@link ExtentCache#stats()} takes no lock and walks no file, but it allocates a snapshot and sums some twenty
 * counters, and a scrape reads some twenty meters. Each binding (one per registry) therefore keeps the last snapshot and takes a
 * new one only when the last is older than the snapshot window, measured on the registry's
 * {@link MeterRegistry.Config#clock() clock}: one {@code stats()} call per scrape, and meters of one scrape that
 * agree with each other (resident, free, retired and parked frames add up to the capacity). The window, one second by
 * default, is also how stale a value read straight from a meter may be; {@link Duration#ZERO} takes a snapshot per
 * meter read.
 *
 * <h2>Lifetime</h2>
 * The binder and its meters hold the cache through a weak reference: a registry does not keep a cache alive. Once
 * the cache is closed (or collected) there is nothing to report ({@link ExtentCache#stats()} refuses a closed
 * cache), so from the next read on the gauges read {@link Double#NaN}, Micrometer's "no value", and the counters
 * keep the counts of the last snapshot taken while it was open (a counter never goes back); counts made between
 * that snapshot and the close are not seen. The meters stay registered until the caller removes them from the
 * registry.
 *
 * <p><b>Thread safety</b>: safe to bind from any thread and to scrape from several at once; concurrent scrapes that
 * find the snapshot stale take turns to refresh it (one {@code stats()} call each at most), so they agree and no
 * counter goes back.
 */
public final class ExtentCacheMetrics implements MeterBinder
{
    /** How long a snapshot serves meter reads unless the caller says otherwise. */
    public static final Duration DEFAULT_SNAPSHOT_WINDOW = Duration.ofSeconds(1);

    private final WeakReference<ExtentCache> cache;
    private final Tags tags;
    private final long snapshotWindowNanos;
    /** {@link ExtentCache#stats()}; another function only in tests, to hold a scrape between snapshot and publish. */
    private final Function<ExtentCache, CacheStats> statsOf;

    /**
     * Meters tagged {@code cache=cacheName} and {@code tags}, with the {@link #DEFAULT_SNAPSHOT_WINDOW default
     * snapshot window}.
     *
     * @param cache     the cache to report on; held weakly.
     * @param cacheName the value of the {@code cache} tag.
     * @param tags      further tags for every meter.
     * @throws NullPointerException  if an argument is null.
     * @throws IllegalStateException if the cache is closed.
     */
    public ExtentCacheMetrics(final ExtentCache cache, final String cacheName, final Iterable<Tag> tags)
    {
        this(cache, cacheName, tags, DEFAULT_SNAPSHOT_WINDOW);
    }

    /**
     * Meters tagged {@code cache=cacheName} and {@code tags}.
     *
     * @param cache          the cache to report on; held weakly.
     * @param cacheName      the value of the {@code cache} tag.
     * @param tags           further tags for every meter.
     * @param snapshotWindow how long one {@link ExtentCache#stats()} snapshot serves meter reads, on the registry's
     *                       clock; {@link Duration#ZERO} for a snapshot per read.
     * @throws NullPointerException     if an argument is null.
     * @throws IllegalArgumentException if {@code snapshotWindow} is negative.
     * @throws IllegalStateException    if the cache is closed.
     */
    public ExtentCacheMetrics(
        final ExtentCache cache, final String cacheName, final Iterable<Tag> tags, final Duration snapshotWindow)
    {
        this(cache, cacheName, tags, snapshotWindow, ExtentCache::stats);
    }

    /** For tests: takes each snapshot with {@code statsOf} instead of {@link ExtentCache#stats()}. */
    ExtentCacheMetrics(
        final ExtentCache cache, final String cacheName, final Iterable<Tag> tags, final Duration snapshotWindow,
        final Function<ExtentCache, CacheStats> statsOf)
    {
        Objects.requireNonNull(cache, "cache");
        Objects.requireNonNull(cacheName, "cacheName");
        Objects.requireNonNull(tags, "tags");
        Objects.requireNonNull(snapshotWindow, "snapshotWindow");
        if (snapshotWindow.isNegative())
        {
            throw new IllegalArgumentException("snapshotWindow must be >= 0: snapshotWindow=" + snapshotWindow);
        }
        if (cache.isClosed())
        {
            throw new IllegalStateException("cache is closed: cacheName=" + cacheName);
        }
        this.cache = new WeakReference<>(cache);
        this.tags = Tags.concat(tags, "cache", cacheName);
        this.snapshotWindowNanos = snapshotWindow.toNanos();
        this.statsOf = statsOf;
    }

    /**
     * Binds a cache's meters to a registry, as {@code CaffeineCacheMetrics.monitor} does.
     *
     * @param registry  the registry.
     * @param cache     the cache to report on; held weakly.
     * @param cacheName the value of the {@code cache} tag.
     * @param tags      further tags as key/value pairs.
     * @return {@code cache}.
     * @throws NullPointerException     if an argument is null.
     * @throws IllegalArgumentException if {@code tags} has an odd number of elements.
     * @throws IllegalStateException    if the cache is closed.
     */
    public static ExtentCache monitor(
        final MeterRegistry registry, final ExtentCache cache, final String cacheName, final String... tags)
    {
        new ExtentCacheMetrics(cache, cacheName, Tags.of(tags)).bindTo(registry);
        return cache;
    }

    @Override
    public void bindTo(final MeterRegistry registry)
    {
        final Snapshots snapshots = new Snapshots(cache, registry.config().clock(), snapshotWindowNanos, statsOf);

        counter(registry, snapshots, "extentcache.requests", CacheStats::fileHits,
            "Page lookups served through the file mapping's handle", "result", "hit", "lookup", "file");
        counter(registry, snapshots, "extentcache.requests", CacheStats::sharingHits,
            "Page lookups found in the device index without a device read", "result", "hit", "lookup", "sharing");
        counter(registry, snapshots, "extentcache.requests", CacheStats::deviceReads,
            "Page lookups that read the device", "result", "miss", "lookup", "device");
        counter(registry, snapshots, "extentcache.reclaims", CacheStats::reclaims,
            "Frames taken back by the CLOCK sweep");
        counter(registry, snapshots, "extentcache.invalidations", CacheStats::invalidations,
            "Frames dropped because the translator reported their block changed or freed");
        counter(registry, snapshots, "extentcache.load.failures", CacheStats::loadFailures,
            "Device reads that failed");
        counter(registry, snapshots, "extentcache.copy.on.writes", CacheStats::copyOnWrites,
            "Writes that broke sharing (or filled a hole) by moving a page to a fresh block");
        counter(registry, snapshots, "extentcache.writebacks", CacheStats::writebacks,
            "Dirty frames written to the device", "result", "success");
        counter(registry, snapshots, "extentcache.writebacks", CacheStats::writebackFailures,
            "Device writes of dirty frames that failed", "result", "failure");
        counter(registry, snapshots, "extentcache.sync.failures", CacheStats::syncFailures,
            "Device syncs that failed");
        counter(registry, snapshots, "extentcache.background.errors", CacheStats::backgroundErrors,
            "Errors the background write-back caught and went on from");

        gauge(registry, snapshots, "extentcache.frames", CacheStats::framesResident, "frames",
            "Frames holding a block", "state", "resident");
        gauge(registry, snapshots, "extentcache.frames", CacheStats::framesFree, "frames",
            "Frames on the free list", "state", "free");
        gauge(registry, snapshots, "extentcache.frames", CacheStats::framesRetired, "frames",
            "Frames taken out of service", "state", "retired");
        gauge(registry, snapshots, "extentcache.frames", CacheStats::framesParked, "frames",
            "Free frames out of service while the capacity is set below the frames reserved", "state", "parked");
        gauge(registry, snapshots, "extentcache.frames.capacity", CacheStats::capacityFrames, "frames",
            "Frames in the arena");
        gauge(registry, snapshots, "extentcache.frames.dirty", CacheStats::dirtyFrames, "frames",
            "Frames holding bytes the device does not have yet");
        gauge(registry, snapshots, "extentcache.offheap.reserved", CacheStats::frameBytesReserved, BaseUnits.BYTES,
            "Off-heap bytes reserved for frames", "region", "frames");
        gauge(registry, snapshots, "extentcache.offheap.reserved", CacheStats::offHeapMetadataBytes,
            BaseUnits.BYTES, "Off-heap bytes of frame metadata and the device index", "region", "metadata");
        gauge(registry, snapshots, "extentcache.offheap.used", CacheStats::frameBytesInUse, BaseUnits.BYTES,
            "Off-heap bytes of frames holding a block", "region", "frames");
        gauge(registry, snapshots, "extentcache.heap.metadata", CacheStats::heapMetadataBytes, BaseUnits.BYTES,
            "Estimated heap bytes of the file mappings' trees");
        gauge(registry, snapshots, "extentcache.files", CacheStats::filesMapped, BaseUnits.FILES,
            "Files with a mapping in the cache");
        gauge(registry, snapshots, "extentcache.handles", CacheStats::handlesHeld, null,
            "Slots holding a handle, summed over files");
    }

    private void counter(
        final MeterRegistry registry,
        final Snapshots snapshots,
        final String name,
        final ToLongFunction<CacheStats> count,
        final String description,
        final String... meterTags)
    {
        // A FunctionCounter holds its state object weakly and has no strongReference option; the function, which it
        // holds strongly, captures the snapshots so that they live exactly as long as the counter.
        FunctionCounter.builder(name, snapshots, ignored -> snapshots.count(count))
            .tags(tags).tags(meterTags).description(description).register(registry);
    }

    private void gauge(
        final MeterRegistry registry,
        final Snapshots snapshots,
        final String name,
        final ToLongFunction<CacheStats> level,
        final String baseUnit,
        final String description,
        final String... meterTags)
    {
        // strongly: the snapshots belong to the meters (they hold the cache weakly themselves)
        Gauge.builder(name, snapshots, s -> s.level(level))
            .strongReference(true).tags(tags).tags(meterTags).baseUnit(baseUnit).description(description)
            .register(registry);
    }

    /**
     * One binding's memo of {@link ExtentCache#stats()}: a snapshot serves reads until it is older than the window.
     * A read of a fresh enough snapshot takes no lock: {@link #last} is a volatile reference to an immutable pair.
     * Refreshes take this object's monitor (one {@code stats()} call, which itself takes no lock), so snapshots are
     * published in the order they were taken and a counter never goes back.
     */
    private static final class Snapshots
    {
        private final WeakReference<ExtentCache> cache;
        private final Clock clock;
        private final long windowNanos;
        private final Function<ExtentCache, CacheStats> statsOf;
        /** The last snapshot taken while the cache was open, with its time; null before the first. */
        private volatile Taken last;
        /** Set once the cache is seen closed or collected: no snapshot is taken after it. */
        private volatile boolean gone;

        Snapshots(final WeakReference<ExtentCache> cache, final Clock clock, final long windowNanos,
            final Function<ExtentCache, CacheStats> statsOf)
        {
            this.cache = cache;
            this.clock = clock;
            this.windowNanos = windowNanos;
            this.statsOf = statsOf;
        }

        /** @return a counter's value: from a fresh enough snapshot, else the last one, else zero. */
        double count(final ToLongFunction<CacheStats> count)
        {
            current();
            final Taken taken = last;
            return null == taken ? 0 : count.applyAsLong(taken.stats);
        }

        /** @return a gauge's value: from a fresh enough snapshot, or NaN once the cache is closed or collected. */
        double level(final ToLongFunction<CacheStats> level)
        {
            final CacheStats stats = current();
            return null == stats ? Double.NaN : level.applyAsLong(stats);
        }

        /**
         * @return a snapshot no older than the window, or null once the cache is closed or collected (checked on
         * every read, a volatile load, so that no gauge reports a closed cache from a snapshot still in its window).
         */
        private CacheStats current()
        {
            if (gone)
            {
                return null;
            }
            final ExtentCache open = cache.get();
            if (null == open || open.isClosed())
            {
                gone = true;
                return null;
            }
            final Taken taken = last;
            if (null != taken && clock.monotonicTime() - taken.nanos < windowNanos)
            {
                return taken.stats;
            }
            return refresh(open);
        }

        /**
         * Takes and publishes a snapshot, one refresh at a time: a snapshot taken earlier is never published over one
         * taken later (a counter would go back). A refresh that waited finds the one before it fresh enough, unless
         * the window is zero.
         */
        private synchronized CacheStats refresh(final ExtentCache open)
        {
            final long now = clock.monotonicTime();
            final Taken taken = last;
            if (null != taken && now - taken.nanos < windowNanos)
            {
                return taken.stats;
            }
            final CacheStats stats;
            try
            {
                stats = statsOf.apply(open);
            }
            catch (final IllegalStateException closedMeanwhile)
            {
                // closed between isClosed() and stats(): the one exception stats() throws
                gone = true;
                return null;
            }
            last = new Taken(stats, now);
            return stats;
        }
    }

    /** A snapshot and the registry clock's monotonic time when it was taken. */
    private record Taken(CacheStats stats, long nanos)
    {
    }
}
