package org.extentcache;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The README's examples stay true: every {@code java} block of README.md that is a complete class is compiled
 * against the library as built and its {@code main} run. (Blocks that are fragments, continuing an example above
 * them, are not compiled on their own.)
 */
class ReadmeExamplesTest
{
    private static final Pattern JAVA_BLOCK = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL);
    private static final Pattern CLASS_NAME = Pattern.compile("public class (\\w+)");

    @TempDir
    Path classes;

    @Test
    void everyCompleteClassInTheReadmeCompilesAndRuns() throws Exception
    {
        final String readme = Files.readString(Path.of("..", "README.md"), StandardCharsets.UTF_8);
        final List<String> ran = new ArrayList<>();
        final Matcher block = JAVA_BLOCK.matcher(readme);
        while (block.find())
        {
            final Matcher name = CLASS_NAME.matcher(block.group(1));
            if (name.find())
            {
                run(name.group(1), block.group(1));
                ran.add(name.group(1));
            }
        }
        assertTrue(ran.contains("QuickStart"), "the quick-start is a complete class: " + ran);
    }

    private void run(final String name, final String source) throws Exception
    {
        final Path file = classes.resolve(name + ".java");
        Files.writeString(file, source, StandardCharsets.UTF_8);
        final JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        final ByteArrayOutputStream diagnostics = new ByteArrayOutputStream();
        final int status = javac.run(null, diagnostics, diagnostics, "-d", classes.toString(), "-cp",
            System.getProperty("java.class.path"), file.toString());
        assertEquals(0, status, name + " from README.md does not compile:\n" + diagnostics);
        final PrintStream stdout = System.out;
        final ByteArrayOutputStream printed = new ByteArrayOutputStream();
        try (URLClassLoader loader = new URLClassLoader(new URL[]{classes.toUri().toURL()},
            ReadmeExamplesTest.class.getClassLoader()))
        {
            final Method main = loader.loadClass(name).getMethod("main", String[].class);
            System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
            main.invoke(null, (Object)new String[0]);
        }
        catch (final IOException ex)
        {
            throw new AssertionError(name + " from README.md failed", ex);
        }
        finally
        {
            System.setOut(stdout);
        }
        assertFalse(printed.toString(StandardCharsets.UTF_8).isEmpty(), name + " printed nothing");
    }
}
