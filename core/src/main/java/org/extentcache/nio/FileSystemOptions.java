package org.extentcache.nio;

import org.extentcache.ExtentCache;

import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;

/**
 * How an {@code extentcache} file system builds its cache: the values of the {@code env} map of
 * {@code FileSystems.newFileSystem(URI, env)}, or of the typed entry points of {@link ExtentCacheFileSystems}.
 * An immutable value; each {@code with} method returns a copy.
 *
 * <table>
 *   <caption>env keys</caption>
 *   <tr><th>key</th><th>value</th><th>default</th></tr>
 *   <tr><td>{@value #CAPACITY_BYTES}</td><td>bytes of frames (a Number or its String)</td><td>64 MiB</td></tr>
 *   <tr><td>{@value #PAGE_SIZE}</td><td>bytes per page, over real files (a store has its own)</td><td>4096</td></tr>
 *   <tr><td>{@value #DIRECT_READS}</td><td>misses of real files read with {@code O_DIRECT} (Boolean or String)</td>
 *       <td>false</td></tr>
 *   <tr><td>{@value #DIRECTORY}</td><td>over real files: the directory (a Path or String)</td><td>-</td></tr>
 *   <tr><td>{@value #STORE}, {@value #DEVICE}</td><td>over an ExtentStore: the store and its device, both owned
 *       by the caller</td><td>-</td></tr>
 * </table>
 * Exactly one of {@value #DIRECTORY} and {@value #STORE} is given.
 *
 * @param capacityBytes bytes of frames in the file system's cache.
 * @param pageSize      bytes per page over real files.
 * @param directReads   misses of real files read with {@code O_DIRECT}.
 */
public record FileSystemOptions(long capacityBytes, int pageSize, boolean directReads)
{
    /** env key: bytes of frames in the cache. */
    public static final String CAPACITY_BYTES = "capacityBytes";
    /** env key: bytes per page over real files. */
    public static final String PAGE_SIZE = "pageSize";
    /** env key: read misses of real files with {@code O_DIRECT}. */
    public static final String DIRECT_READS = "directReads";
    /** env key: the directory a file system over real files wraps. */
    public static final String DIRECTORY = "directory";
    /** env key: the ExtentStore a file system over a store uses. */
    public static final String STORE = "store";
    /** env key: the store's BlockDevice, which the cache reads. */
    public static final String DEVICE = "device";

    /** 64 MiB of 4 KiB pages, buffered reads. */
    public static final FileSystemOptions DEFAULTS = new FileSystemOptions(64L << 20, ExtentCache.MIN_PAGE_SIZE,
        false);

    /**
     * @param bytes bytes of frames.
     * @return a copy with that capacity.
     */
    public FileSystemOptions withCapacityBytes(final long bytes)
    {
        return new FileSystemOptions(bytes, pageSize, directReads);
    }

    /**
     * @param size bytes per page over real files.
     * @return a copy with that page size.
     */
    public FileSystemOptions withPageSize(final int size)
    {
        return new FileSystemOptions(capacityBytes, size, directReads);
    }

    /**
     * @param direct read misses of real files with {@code O_DIRECT}.
     * @return a copy with that choice.
     */
    public FileSystemOptions withDirectReads(final boolean direct)
    {
        return new FileSystemOptions(capacityBytes, pageSize, direct);
    }

    /**
     * Reads the cache options of an env map; other keys are left to the caller.
     *
     * @param env the map.
     * @return the options, defaults where a key is absent.
     * @throws IllegalArgumentException naming a key whose value is of the wrong type or unreadable.
     */
    public static FileSystemOptions fromEnv(final Map<String, ?> env)
    {
        Objects.requireNonNull(env, "env");
        return new FileSystemOptions(
            longOf(env, CAPACITY_BYTES, DEFAULTS.capacityBytes),
            (int)longOf(env, PAGE_SIZE, DEFAULTS.pageSize),
            booleanOf(env, DIRECT_READS, DEFAULTS.directReads));
    }

    /**
     * @return the directory of the env, or null.
     * @throws IllegalArgumentException if the value is neither a Path nor a String.
     */
    static Path directoryOf(final Map<String, ?> env)
    {
        final Object value = env.get(DIRECTORY);
        if (null == value || value instanceof Path)
        {
            return (Path)value;
        }
        if (value instanceof String text)
        {
            return Path.of(text);
        }
        throw new IllegalArgumentException("env " + DIRECTORY + " must be a Path or a String: " + value.getClass());
    }

    /**
     * @return the value of the env under {@code key}, or null.
     * @throws IllegalArgumentException if it is not of the type.
     */
    static <T> T objectOf(final Map<String, ?> env, final String key, final Class<T> type)
    {
        final Object value = env.get(key);
        if (null != value && !type.isInstance(value))
        {
            throw new IllegalArgumentException("env " + key + " must be a " + type.getName() + ": " +
                value.getClass().getName());
        }
        return type.cast(value);
    }

    private static long longOf(final Map<String, ?> env, final String key, final long fallback)
    {
        final Object value = env.get(key);
        if (null == value)
        {
            return fallback;
        }
        if (value instanceof Number number)
        {
            return number.longValue();
        }
        try
        {
            return Long.parseLong(value.toString().trim());
        }
        catch (final NumberFormatException ex)
        {
            throw new IllegalArgumentException("env " + key + " must be a number: " + value, ex);
        }
    }

    private static boolean booleanOf(final Map<String, ?> env, final String key, final boolean fallback)
    {
        final Object value = env.get(key);
        if (null == value)
        {
            return fallback;
        }
        if (value instanceof Boolean bool)
        {
            return bool;
        }
        final String text = value.toString().trim();
        if (!text.equalsIgnoreCase("true") && !text.equalsIgnoreCase("false"))
        {
            throw new IllegalArgumentException("env " + key + " must be true or false: " + value);
        }
        return Boolean.parseBoolean(text);
    }
}
