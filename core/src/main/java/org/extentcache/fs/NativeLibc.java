package org.extentcache.fs;

import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.util.Locale;

import jnr.constants.platform.Errno;
import jnr.ffi.LibraryLoader;

/**
 * The one way ExtentCache binds libc through jnr-ffi, shared by its system calls ({@link Fiemap} for
 * {@code FS_IOC_FIEMAP}; the {@code extentcache} file system for {@code FICLONE} and OFD locks): the platform check,
 * the loading, errno text and path encoding. Each caller declares the calls it uses as its own interface. Public only
 * so that {@code org.extentcache.nio} can use it; not part of the library's API.
 *
 * @param <T> the interface of libc calls.
 */
public final class NativeLibc<T>
{
    /**
     * {@code com.sun.nio.file.ExtendedOpenOption.DIRECT}, for {@code FileChannel.open}: {@code O_DIRECT}. Looked up
     * by name: the option lives in the {@code jdk.unsupported} module, which every JDK from 17 on exports, but naming
     * it in source is a warning newer compilers cannot silence. {@code null} if a JDK lacks it.
     */
    public static final OpenOption O_DIRECT = directOption();

    private final T calls;
    private final jnr.ffi.Runtime runtime;
    private final String unavailableReason;

    private NativeLibc(final T calls, final jnr.ffi.Runtime runtime, final String unavailableReason)
    {
        this.calls = calls;
        this.runtime = runtime;
        this.unavailableReason = unavailableReason;
    }

    private static OpenOption directOption()
    {
        try
        {
            for (final Object option : Class.forName("com.sun.nio.file.ExtendedOpenOption").getEnumConstants())
            {
                if ("DIRECT".equals(((Enum<?>)option).name()))
                {
                    return (OpenOption)option;
                }
            }
            return null;
        }
        catch (final ClassNotFoundException ex)
        {
            return null;
        }
    }

    /**
     * Loads libc with the calls of {@code callsInterface}, on Linux x86_64 and aarch64 only.
     *
     * @param callsInterface the calls, an interface jnr-ffi implements (it must be public).
     * @param what           what needs them, for the reason given where they are unavailable (e.g. "FS_IOC_FIEMAP").
     * @param <T>            the interface.
     * @return the binding; {@link #unavailableReason()} says why if libc could not be bound.
     */
    public static <T> NativeLibc<T> load(final Class<T> callsInterface, final String what)
    {
        final String os = System.getProperty("os.name", "");
        final String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        if (!os.equals("Linux"))
        {
            return new NativeLibc<>(null, null, what + " needs Linux: os.name=" + os);
        }
        if (!arch.equals("amd64") && !arch.equals("x86_64") && !arch.equals("aarch64"))
        {
            return new NativeLibc<>(null, null, what + " needs Linux on x86_64 or aarch64 (the libc binding's " +
                "layouts): os.arch=" + arch);
        }
        try
        {
            final T calls = LibraryLoader.create(callsInterface).failImmediately().load("c");
            return new NativeLibc<>(calls, jnr.ffi.Runtime.getRuntime(calls), null);
        }
        catch (final LinkageError | RuntimeException ex)
        {
            return new NativeLibc<>(null, null, "jnr-ffi could not load libc: " + ex);
        }
    }

    /**
     * @return the calls, or {@code null} if unavailable.
     */
    public T calls()
    {
        return calls;
    }

    /**
     * @return jnr-ffi's runtime of the binding (for native memory), or {@code null} if unavailable.
     */
    public jnr.ffi.Runtime runtime()
    {
        return runtime;
    }

    /**
     * @return why libc could not be bound, or {@code null} if it was.
     */
    public String unavailableReason()
    {
        return unavailableReason;
    }

    /**
     * @return errno of this thread's last call through the binding (calls annotated {@code @SaveError}).
     */
    public int lastError()
    {
        return runtime.getLastError();
    }

    /**
     * @param errno    an errno value.
     * @param constant a jnr-constants errno.
     * @return true if the platform defines {@code constant} and it is {@code errno}.
     */
    public static boolean is(final int errno, final Errno constant)
    {
        return constant.defined() && constant.intValue() == errno;
    }

    /**
     * @param errno an errno value.
     * @return as {@code ENOENT (No such file or directory, errno 2)}, or {@code errno 1234} if jnr-constants does not
     *         know the number.
     */
    public static String errnoText(final int errno)
    {
        final Errno constant = Errno.valueOf(errno);
        if (constant == null || constant == Errno.__UNKNOWN_CONSTANT__ || !constant.defined())
        {
            return "errno " + errno;
        }
        return constant.name() + " (" + constant.description() + ", errno " + errno + ')';
    }

    /**
     * @param file a path of the default file system.
     * @return the path in the encoding the JDK itself uses for file names, NUL-terminated for {@code open(2)}.
     */
    public static byte[] nulTerminated(final Path file)
    {
        Charset charset;
        try
        {
            charset = Charset.forName(System.getProperty("sun.jnu.encoding", "UTF-8"));
        }
        catch (final IllegalArgumentException ex)
        {
            charset = StandardCharsets.UTF_8;
        }
        final byte[] name = file.toString().getBytes(charset);
        final byte[] path = new byte[name.length + 1];
        System.arraycopy(name, 0, path, 0, name.length);
        return path;
    }
}
