package org.extentcache.engines;

import org.h2.message.DbException;
import org.h2.store.fs.FilePath;

import java.io.IOException;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The one piece of H2-specific code: H2 resolves database file names through its own {@link FilePath} SPI, and this
 * one turns names of the form {@code extentcache://<file system>/<path>} into paths of the {@code extentcache}
 * java.nio file system and does everything else through {@link Files} and {@link FileChannel#open}. H2 gets the
 * provider's own channel, unwrapped: its locks, open options and force are the provider's.
 *
 * <p>Register it once with {@link FilePath#register}; then {@code jdbc:h2:extentcache://fs/dir/db} opens a database
 * on the file system named {@code fs}.
 */
public final class ExtentCacheFilePath extends FilePath
{
    static final String SCHEME = "extentcache";

    private Path path()
    {
        return Path.of(URI.create(name));
    }

    private ExtentCacheFilePath at(final Path path)
    {
        return getPath(path.toUri().toString());
    }

    @Override
    public ExtentCacheFilePath getPath(final String path)
    {
        final ExtentCacheFilePath filePath = new ExtentCacheFilePath();
        filePath.name = path;
        return filePath;
    }

    @Override
    public String getScheme()
    {
        return SCHEME;
    }

    @Override
    public long size()
    {
        try
        {
            return Files.size(path());
        }
        catch (final IOException ex)
        {
            return 0; // as H2's own disk FilePath: a file that does not exist has size 0
        }
    }

    @Override
    public void moveTo(final FilePath newName, final boolean atomicReplace)
    {
        final Path target = ((ExtentCacheFilePath)newName).path();
        try
        {
            if (atomicReplace)
            {
                Files.move(path(), target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            }
            else
            {
                Files.move(path(), target);
            }
        }
        catch (final IOException ex)
        {
            throw DbException.convertIOException(ex, "moving " + name + " to " + newName.name);
        }
    }

    @Override
    public boolean createFile()
    {
        try
        {
            Files.createFile(path());
            return true;
        }
        catch (final FileAlreadyExistsException ex)
        {
            return false;
        }
        catch (final IOException ex)
        {
            throw DbException.convertIOException(ex, "creating " + name);
        }
    }

    @Override
    public boolean exists()
    {
        return Files.exists(path());
    }

    @Override
    public void delete()
    {
        try
        {
            Files.deleteIfExists(path());
        }
        catch (final IOException ex)
        {
            throw DbException.convertIOException(ex, "deleting " + name);
        }
    }

    @Override
    public List<FilePath> newDirectoryStream()
    {
        final List<FilePath> children = new ArrayList<>();
        try (Stream<Path> list = Files.list(path()))
        {
            list.forEach(child -> children.add(at(child)));
        }
        catch (final NoSuchFileException ex)
        {
            return children;
        }
        catch (final IOException ex)
        {
            throw DbException.convertIOException(ex, "listing " + name);
        }
        return children;
    }

    @Override
    public FilePath toRealPath()
    {
        try
        {
            return Files.exists(path()) ? at(path().toRealPath()) : at(path().toAbsolutePath().normalize());
        }
        catch (final IOException ex)
        {
            throw DbException.convertIOException(ex, "resolving " + name);
        }
    }

    @Override
    public FilePath getParent()
    {
        final Path parent = path().getParent();
        return null == parent ? null : at(parent);
    }

    @Override
    public boolean isDirectory()
    {
        return Files.isDirectory(path());
    }

    @Override
    public boolean isRegularFile()
    {
        return Files.isRegularFile(path());
    }

    @Override
    public boolean isAbsolute()
    {
        return path().isAbsolute();
    }

    @Override
    public long lastModified()
    {
        try
        {
            return Files.getLastModifiedTime(path()).toMillis();
        }
        catch (final IOException ex)
        {
            return 0;
        }
    }

    @Override
    public boolean canWrite()
    {
        return Files.isWritable(path());
    }

    @Override
    public void createDirectory()
    {
        try
        {
            Files.createDirectories(path());
        }
        catch (final IOException ex)
        {
            throw DbException.convertIOException(ex, "creating directory " + name);
        }
    }

    @Override
    public FileChannel open(final String mode) throws IOException
    {
        final List<OpenOption> options = new ArrayList<>();
        options.add(StandardOpenOption.READ);
        switch (mode)
        {
            case "r":
                break;
            case "rw":
                options.add(StandardOpenOption.WRITE);
                options.add(StandardOpenOption.CREATE);
                break;
            case "rws":
                options.add(StandardOpenOption.WRITE);
                options.add(StandardOpenOption.CREATE);
                options.add(StandardOpenOption.SYNC);
                break;
            case "rwd":
                options.add(StandardOpenOption.WRITE);
                options.add(StandardOpenOption.CREATE);
                options.add(StandardOpenOption.DSYNC);
                break;
            default:
                throw new IllegalArgumentException("unknown open mode for " + name + ": " + mode);
        }
        return FileChannel.open(path(), options.toArray(new OpenOption[0]));
    }

    @Override
    public boolean setReadOnly()
    {
        return false; // no read-only attribute to set on the extentcache file system
    }
}
