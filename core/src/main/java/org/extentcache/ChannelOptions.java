package org.extentcache;

import java.nio.file.LinkOption;
import java.nio.file.OpenOption;
import java.nio.file.StandardOpenOption;
import java.util.Objects;
import java.util.Set;

/**
 * The open options of a {@link CachedFileChannel}, read as {@code FileChannel.open} reads them on Linux.
 *
 * <ul>
 *   <li>{@code READ}, {@code WRITE}: the channel's mode. With neither, the channel reads, or writes if
 *       {@code APPEND} is given. A read-only channel's writes throw {@code NonWritableChannelException}, a write-only
 *       channel's reads {@code NonReadableChannelException}.</li>
 *   <li>{@code CREATE}, {@code CREATE_NEW}, {@code TRUNCATE_EXISTING}: count only for a writing channel (as the
 *       JDK ignores them otherwise). Creating is the file system's job, before the channel opens; truncating is the
 *       channel's, as it opens.</li>
 *   <li>{@code APPEND}: every relative write goes to the end of the file, and {@code position()} is the size.</li>
 *   <li>{@code SYNC}, {@code DSYNC}: every write is followed by {@link CachedFileChannel#force}, which writes the
 *       file's dirty pages back and commits its metadata; both mean the same here.</li>
 *   <li>{@code SPARSE}: a hint, ignored (files are sparse already). {@link LinkOption#NOFOLLOW_LINKS}: for the file
 *       system to honour; accepted.</li>
 * </ul>
 * Any other option ({@code DELETE_ON_CLOSE}, another provider's) throws {@link UnsupportedOperationException}
 * naming it; {@code READ} with {@code APPEND}, and {@code APPEND} with {@code TRUNCATE_EXISTING}, throw
 * {@link IllegalArgumentException}, as the JDK does.
 *
 * @param read             the channel reads.
 * @param write            the channel writes.
 * @param append           relative writes go to the end of the file.
 * @param truncateExisting the file is cut to 0 bytes when the channel opens (writing channels only).
 * @param create           the file is created if missing (writing channels only).
 * @param createNew        the file must not exist and is created (writing channels only).
 * @param sync             every write is forced.
 * @param noFollowLinks    a symbolic link is not followed.
 */
public record ChannelOptions(boolean read, boolean write, boolean append, boolean truncateExisting, boolean create,
    boolean createNew, boolean sync, boolean noFollowLinks)
{
    /** Reading and writing, as {@link CachedFileChannel#open(ExtentCache, long)} opens. */
    public static final ChannelOptions READ_WRITE = new ChannelOptions(true, true, false, false, false, false, false,
        false);

    /**
     * Reads a set of options.
     *
     * @param options the options, as given to {@code FileChannel.open}.
     * @return what they ask for.
     * @throws NullPointerException          if the set or an element is null.
     * @throws UnsupportedOperationException naming an option that is not supported.
     * @throws IllegalArgumentException      for {@code READ + APPEND} or {@code APPEND + TRUNCATE_EXISTING}.
     */
    public static ChannelOptions of(final Set<? extends OpenOption> options)
    {
        boolean read = false;
        boolean write = false;
        boolean append = false;
        boolean truncate = false;
        boolean create = false;
        boolean createNew = false;
        boolean sync = false;
        boolean noFollow = false;
        for (final OpenOption option : options)
        {
            Objects.requireNonNull(option, "open option");
            if (option == LinkOption.NOFOLLOW_LINKS)
            {
                noFollow = true;
                continue;
            }
            if (!(option instanceof StandardOpenOption standard))
            {
                throw new UnsupportedOperationException("open option not supported by ExtentCache channels: " +
                    option + " (" + option.getClass().getName() + ')');
            }
            switch (standard)
            {
                case READ -> read = true;
                case WRITE -> write = true;
                case APPEND -> append = true;
                case TRUNCATE_EXISTING -> truncate = true;
                case CREATE -> create = true;
                case CREATE_NEW -> createNew = true;
                case SYNC, DSYNC -> sync = true;
                case SPARSE ->
                {
                    // a hint: files are sparse already
                }
                default -> throw new UnsupportedOperationException("open option not supported by ExtentCache " +
                    "channels: " + standard);
            }
        }
        if (read && append)
        {
            throw new IllegalArgumentException("READ + APPEND not allowed");
        }
        if (append && truncate)
        {
            throw new IllegalArgumentException("APPEND + TRUNCATE_EXISTING not allowed");
        }
        if (!read && !write)
        {
            write = append;
            read = !append;
        }
        return new ChannelOptions(read, write || append, append, write && truncate, write && create,
            write && createNew, sync, noFollow);
    }
}
