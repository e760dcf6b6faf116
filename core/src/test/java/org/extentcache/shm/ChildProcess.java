package org.extentcache.shm;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A test's handle on a {@link SharedCacheChild} JVM: starts it, sends commands, waits for their replies (with a
 * bound, so a hung child fails the test instead of holding it), and kills it with {@code SIGKILL}
 * ({@link Process#destroyForcibly()}). Its stderr is copied to this process's, each line marked with its name.
 *
 * <p><b>Ownership:</b> {@link #close()} kills the child if it is still running; call it in a {@code finally} or an
 * {@code @AfterEach}.
 */
final class ChildProcess implements AutoCloseable
{
    private static final Pattern FIELD = Pattern.compile("(\\w+)=(-?\\w+)");
    private static final String END = "\u0000end";

    final String name;
    private final Process process;
    private final Writer stdin;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private volatile long progress;

    private ChildProcess(final String name, final Process process)
    {
        this.name = name;
        this.process = process;
        this.stdin = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        pump("stdout", new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)),
            true);
        pump("stderr", new BufferedReader(new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8)),
            false);
    }

    /** Starts a child JVM running {@link SharedCacheChild}. */
    static ChildProcess start(final String name) throws IOException
    {
        final String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        final Process process = new ProcessBuilder(java, "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
            "-Xmx256m", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
            SharedCacheChild.class.getName()).start();
        return new ChildProcess(name, process);
    }

    private void pump(final String stream, final BufferedReader reader, final boolean replies)
    {
        final Thread thread = new Thread(() ->
        {
            try
            {
                for (String line = reader.readLine(); null != line; line = reader.readLine())
                {
                    if (!replies)
                    {
                        System.err.println("[" + name + " " + stream + "] " + line);
                    }
                    else if (line.startsWith("progress "))
                    {
                        progress = Long.parseLong(line.substring("progress ".length()));
                    }
                    else if (line.startsWith("#"))
                    {
                        System.out.println("[" + name + "] " + line);
                    }
                    else
                    {
                        lines.add(line);
                    }
                }
            }
            catch (final IOException ex)
            {
                // the child died: its pipes closed
            }
            if (replies)
            {
                lines.add(END);
            }
        }, name + "-" + stream);
        thread.setDaemon(true);
        thread.start();
    }

    long pid()
    {
        return process.pid();
    }

    /** Sends a command without waiting for its reply ({@link #reply} takes it later). */
    void send(final String command)
    {
        try
        {
            stdin.write(command + "\n");
            stdin.flush();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(name + ": cannot send '" + command + "'", ex);
        }
    }

    /**
     * Waits for the next reply.
     *
     * @throws AssertionError if none comes within {@code timeoutSeconds}, the child ended, or the reply is an error.
     */
    String reply(final String command, final long timeoutSeconds) throws InterruptedException
    {
        final String line = lines.poll(timeoutSeconds, TimeUnit.SECONDS);
        if (null == line)
        {
            throw new AssertionError(name + ": no reply to '" + command + "' within " + timeoutSeconds + " s");
        }
        if (END.equals(line))
        {
            lines.add(END);
            throw new AssertionError(name + ": ended before replying to '" + command + "'");
        }
        if (!line.startsWith("ok"))
        {
            throw new AssertionError(name + ": '" + command + "' answered: " + line);
        }
        return line;
    }

    /** Sends a command and waits (up to 60 s) for its {@code ok} reply. */
    String command(final String command) throws InterruptedException
    {
        send(command);
        return reply(command, 60);
    }

    /** @return the {@code name=value} fields of a reply. */
    static Map<String, String> fields(final String reply)
    {
        final Map<String, String> fields = new ConcurrentHashMap<>();
        final Matcher matcher = FIELD.matcher(reply);
        while (matcher.find())
        {
            fields.put(matcher.group(1), matcher.group(2));
        }
        return fields;
    }

    static long field(final String reply, final String name)
    {
        final String value = fields(reply).get(name);
        if (null == value)
        {
            throw new AssertionError("no " + name + " in: " + reply);
        }
        return Long.parseLong(value);
    }

    /** Waits until a model run reported at least {@code ops} operations. */
    void awaitProgress(final long ops, final long timeoutSeconds) throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
        while (progress < ops)
        {
            if (System.nanoTime() > deadline || !process.isAlive())
            {
                throw new AssertionError(name + ": progress " + progress + " of " + ops + " within " +
                    timeoutSeconds + " s (alive " + process.isAlive() + ")");
            }
            Thread.sleep(5);
        }
    }

    long progress()
    {
        return progress;
    }

    /** {@code kill -9}: the child gets no chance to release anything. Returns once it is gone. */
    void kill() throws InterruptedException
    {
        process.destroyForcibly();
        if (!process.waitFor(30, TimeUnit.SECONDS))
        {
            throw new AssertionError(name + " survived SIGKILL for 30 s");
        }
    }

    /**
     * Stops the child ({@code SIGSTOP}) and returns once every one of its threads is stopped (state {@code T} in
     * {@code /proc/PID/task/TID/stat}), so what it holds in shared memory stays as it is until {@link #signal} CONT or
     * {@link #kill}.
     */
    void stop() throws IOException, InterruptedException
    {
        signal("STOP");
        final Path tasks = Path.of("/proc", Long.toString(process.pid()), "task");
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!allStopped(tasks))
        {
            if (System.nanoTime() > deadline)
            {
                throw new AssertionError(name + ": threads still running 30 s after SIGSTOP");
            }
            Thread.onSpinWait();
        }
    }

    private static boolean allStopped(final Path tasks) throws IOException
    {
        try (java.util.stream.Stream<Path> threads = java.nio.file.Files.list(tasks))
        {
            for (final Path thread : threads.toList())
            {
                final String stat;
                try
                {
                    stat = java.nio.file.Files.readString(thread.resolve("stat"));
                }
                catch (final java.nio.file.NoSuchFileException ex)
                {
                    continue; // the thread ended
                }
                final char state = stat.charAt(stat.lastIndexOf(')') + 2); // "tid (comm) S ..."
                if ('T' != state && 't' != state && 'Z' != state && 'X' != state)
                {
                    return false;
                }
            }
        }
        return true;
    }

    /** Sends a signal by name ({@code STOP}, {@code CONT}) with {@code kill(1)}, and waits for that to return. */
    void signal(final String signal) throws IOException, InterruptedException
    {
        final Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(process.pid()))
            .redirectErrorStream(true).start();
        if (!kill.waitFor(30, TimeUnit.SECONDS) || 0 != kill.exitValue())
        {
            throw new AssertionError("kill -" + signal + " " + process.pid() + " failed: " +
                new String(kill.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
        }
    }

    /** Asks the child to exit and waits for it (up to 30 s); it exits 0. */
    void exit() throws InterruptedException
    {
        send("exit");
        if (!process.waitFor(30, TimeUnit.SECONDS))
        {
            throw new AssertionError(name + " did not exit within 30 s");
        }
        if (0 != process.exitValue())
        {
            throw new AssertionError(name + " exited " + process.exitValue());
        }
    }

    @Override
    public void close()
    {
        process.destroyForcibly();
    }
}
