package org.extentcache;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/**
 * Checks, once, that the JVM was started with the flags ExtentCache's dependencies need, and otherwise fails with a
 * message that names them instead of an {@link IllegalAccessError} from deep inside Agrona.
 *
 * <p>The flags come from {@code jvm-flags.properties}, which the build fills in from the parent pom's
 * {@code extentcache.jvm.flags} property, so the message and the build can never disagree.
 */
public final class JvmFlags
{
    private static volatile boolean checked;

    private JvmFlags()
    {
    }

    /**
     * @return the JVM flags ExtentCache needs, as one command-line string.
     */
    public static String required()
    {
        final Properties properties = new Properties();
        try (InputStream in = JvmFlags.class.getResourceAsStream("jvm-flags.properties"))
        {
            if (null != in)
            {
                properties.load(in);
            }
        }
        catch (final IOException ex)
        {
            // fall through to the built-in minimum
        }
        final String flags = properties.getProperty("flags", "");
        return flags.isEmpty() || flags.startsWith("${") ?
            "--add-exports java.base/jdk.internal.misc=ALL-UNNAMED" : flags;
    }

    /**
     * @return the one flag core needs, for where Agrona was loaded from: {@code ALL-UNNAMED} on the class path, or
     * Agrona's module name on the module path (where {@code ALL-UNNAMED} would not reach it).
     */
    static String coreFlag()
    {
        final Module agrona = org.agrona.UnsafeApi.class.getModule();
        return "--add-exports java.base/jdk.internal.misc=" + (agrona.isNamed() ? agrona.getName() : "ALL-UNNAMED");
    }

    /**
     * Verifies the JVM lets Agrona reach {@code jdk.internal.misc.Unsafe}.
     *
     * @throws IllegalStateException naming the missing flags if it does not.
     */
    public static void requireAccess()
    {
        if (checked)
        {
            return;
        }
        try
        {
            org.agrona.UnsafeApi.loadFence();
        }
        catch (final LinkageError ex)
        {
            throw new IllegalStateException(
                "ExtentCache needs a JVM flag that this JVM was started without (Agrona uses jdk.internal.misc.Unsafe)." +
                " Start java with: " + coreFlag(), ex);
        }
        checked = true;
    }
}
