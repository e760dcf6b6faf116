package org.extentcache.nio;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.ProviderMismatchException;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * A path of an {@code extentcache} file system, for both kinds (over real files and over an ExtentStore): names
 * separated by {@code /}, absolute from the root {@code /}, with Unix path semantics ({@code normalize},
 * {@code resolve}, {@code relativize}, {@code startsWith} compare names, not strings). The working directory of
 * relative paths is the root. An immutable value: safe for concurrent use.
 *
 * <p>{@link #toFile()} throws {@link UnsupportedOperationException}: the path belongs to no {@code java.io} file
 * system. {@link #register} throws it too: there is no watch service. {@link #toUri()} is
 * {@code extentcache://<file system name>/<absolute path>}, which {@code Path.of(URI)} turns back into this path
 * while the file system is open.
 */
final class ExtentCachePath implements Path
{
    private static final String[] NO_NAMES = new String[0];

    private final ExtentCacheFileSystem fs;
    private final boolean absolute;
    private final String[] names;

    private ExtentCachePath(final ExtentCacheFileSystem fs, final boolean absolute, final String[] names)
    {
        this.fs = fs;
        this.absolute = absolute;
        this.names = names;
    }

    /**
     * Parses a path string: empty names (repeated or trailing slashes) are dropped.
     *
     * @throws InvalidPathException if it holds a NUL character.
     */
    static ExtentCachePath parse(final ExtentCacheFileSystem fs, final String first, final String... more)
    {
        final StringBuilder joined = new StringBuilder(first);
        for (final String part : more)
        {
            if (!part.isEmpty())
            {
                joined.append('/').append(part);
            }
        }
        final String text = joined.toString();
        final int nul = text.indexOf('\0');
        if (nul >= 0)
        {
            throw new InvalidPathException(text, "NUL character not allowed", nul);
        }
        final List<String> parts = new ArrayList<>();
        for (final String name : text.split("/"))
        {
            if (!name.isEmpty())
            {
                parts.add(name);
            }
        }
        return new ExtentCachePath(fs, text.startsWith("/"), parts.toArray(NO_NAMES));
    }

    static ExtentCachePath root(final ExtentCacheFileSystem fs)
    {
        return new ExtentCachePath(fs, true, NO_NAMES);
    }

    /**
     * @param path a path of any provider.
     * @return it as an {@code extentcache} path.
     * @throws ProviderMismatchException if it is another provider's.
     */
    static ExtentCachePath of(final Path path)
    {
        Objects.requireNonNull(path, "path");
        if (!(path instanceof ExtentCachePath ours))
        {
            throw new ProviderMismatchException("not an extentcache path: " + path + " (" +
                path.getClass().getName() + ')');
        }
        return ours;
    }

    /** @return the names, in order (the array is the path's own: do not change it). */
    String[] names()
    {
        return names;
    }

    /** @return the absolute, normalized names of this path (relative paths are resolved against the root). */
    String[] absoluteNames()
    {
        return ((ExtentCachePath)toAbsolutePath().normalize()).names;
    }

    @Override
    public ExtentCacheFileSystem getFileSystem()
    {
        return fs;
    }

    @Override
    public boolean isAbsolute()
    {
        return absolute;
    }

    @Override
    public Path getRoot()
    {
        return absolute ? root(fs) : null;
    }

    @Override
    public Path getFileName()
    {
        if (names.length == 0)
        {
            return absolute ? null : this;
        }
        return new ExtentCachePath(fs, false, new String[] {names[names.length - 1]});
    }

    @Override
    public Path getParent()
    {
        if (names.length == 0 || (names.length == 1 && !absolute))
        {
            return null;
        }
        return new ExtentCachePath(fs, absolute, Arrays.copyOf(names, names.length - 1));
    }

    @Override
    public int getNameCount()
    {
        return names.length == 0 && !absolute ? 1 : names.length;
    }

    @Override
    public Path getName(final int index)
    {
        if (names.length == 0 && !absolute && index == 0)
        {
            return this;
        }
        if (index < 0 || index >= names.length)
        {
            throw new IllegalArgumentException("name index out of range: index=" + index + " names=" + names.length);
        }
        return new ExtentCachePath(fs, false, new String[] {names[index]});
    }

    @Override
    public Path subpath(final int beginIndex, final int endIndex)
    {
        if (beginIndex < 0 || endIndex > names.length || beginIndex >= endIndex)
        {
            throw new IllegalArgumentException("subpath out of range: beginIndex=" + beginIndex + " endIndex=" +
                endIndex + " names=" + names.length);
        }
        return new ExtentCachePath(fs, false, Arrays.copyOfRange(names, beginIndex, endIndex));
    }

    @Override
    public boolean startsWith(final Path other)
    {
        if (!(other instanceof ExtentCachePath that) || that.fs != fs || that.absolute != absolute ||
            that.names.length > names.length)
        {
            return false;
        }
        if (!that.absolute && that.names.length == 0)
        {
            return names.length == 0;
        }
        return Arrays.equals(names, 0, that.names.length, that.names, 0, that.names.length);
    }

    @Override
    public boolean endsWith(final Path other)
    {
        if (!(other instanceof ExtentCachePath that) || that.fs != fs || that.names.length > names.length)
        {
            return false;
        }
        if (that.absolute)
        {
            return equals(that);
        }
        if (that.names.length == 0)
        {
            return names.length == 0 && !absolute;
        }
        return Arrays.equals(names, names.length - that.names.length, names.length, that.names, 0,
            that.names.length);
    }

    @Override
    public Path normalize()
    {
        final List<String> kept = new ArrayList<>(names.length);
        for (final String name : names)
        {
            if (name.equals("."))
            {
                continue;
            }
            if (name.equals(".."))
            {
                if (!kept.isEmpty() && !kept.get(kept.size() - 1).equals(".."))
                {
                    kept.remove(kept.size() - 1);
                    continue;
                }
                if (absolute)
                {
                    continue; // the root's parent is the root
                }
            }
            kept.add(name);
        }
        return kept.size() == names.length ? this : new ExtentCachePath(fs, absolute, kept.toArray(NO_NAMES));
    }

    @Override
    public Path resolve(final Path other)
    {
        final ExtentCachePath that = of(other);
        if (that.absolute)
        {
            return that;
        }
        if (that.names.length == 0)
        {
            return this;
        }
        final String[] joined = Arrays.copyOf(names, names.length + that.names.length);
        System.arraycopy(that.names, 0, joined, names.length, that.names.length);
        return new ExtentCachePath(fs, absolute, joined);
    }

    @Override
    public Path resolve(final String other)
    {
        return resolve(parse(fs, other));
    }

    @Override
    public Path relativize(final Path other)
    {
        final ExtentCachePath that = of(other);
        if (that.absolute != absolute)
        {
            throw new IllegalArgumentException("both paths must be absolute, or both relative: " + this + " and " +
                that);
        }
        int common = 0;
        while (common < names.length && common < that.names.length && names[common].equals(that.names[common]))
        {
            common++;
        }
        final List<String> parts = new ArrayList<>();
        for (int i = common; i < names.length; i++)
        {
            parts.add("..");
        }
        parts.addAll(Arrays.asList(that.names).subList(common, that.names.length));
        return new ExtentCachePath(fs, false, parts.toArray(NO_NAMES));
    }

    /**
     * @return {@code extentcache://<file system name>/<absolute normalized path>}.
     */
    @Override
    public URI toUri()
    {
        try
        {
            return new URI(ExtentCacheFileSystemProvider.SCHEME, fs.name(), toAbsolutePath().normalize().toString(),
                null, null);
        }
        catch (final URISyntaxException ex)
        {
            throw new IllegalStateException("no URI for " + this + " in file system " + fs.name() + ": " + ex, ex);
        }
    }

    @Override
    public Path toAbsolutePath()
    {
        return absolute ? this : new ExtentCachePath(fs, true, names);
    }

    /**
     * @return the absolute, normalized path, after checking the file exists (there are no symbolic links).
     * @throws java.nio.file.NoSuchFileException if it does not.
     */
    @Override
    public Path toRealPath(final LinkOption... options) throws IOException
    {
        final Path real = toAbsolutePath().normalize();
        fs.provider().checkAccess(real);
        return real;
    }

    /**
     * Not supported: the path belongs to no {@code java.io} file system.
     *
     * @throws UnsupportedOperationException always.
     */
    @Override
    public java.io.File toFile()
    {
        throw new UnsupportedOperationException("an extentcache path has no java.io.File: " + toUri());
    }

    /**
     * Not supported: there is no watch service.
     *
     * @throws UnsupportedOperationException always.
     */
    @Override
    public WatchKey register(final WatchService watcher, final WatchEvent.Kind<?>[] events,
        final WatchEvent.Modifier... modifiers)
    {
        throw new UnsupportedOperationException("extentcache file systems have no watch service");
    }

    @Override
    public int compareTo(final Path other)
    {
        return toString().compareTo(of(other).toString());
    }

    @Override
    public boolean equals(final Object other)
    {
        return other instanceof ExtentCachePath that && that.fs == fs && that.absolute == absolute &&
            Arrays.equals(that.names, names);
    }

    @Override
    public int hashCode()
    {
        return 31 * (31 * System.identityHashCode(fs) + Boolean.hashCode(absolute)) + Arrays.hashCode(names);
    }

    @Override
    public String toString()
    {
        final String joined = String.join("/", names);
        return absolute ? "/" + joined : joined;
    }
}
