package org.extentcache.bench.footprint;

import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.Console;
import java.io.PrintStream;
import java.lang.reflect.Method;

/**
 * Progress of the footprint tool's phases, drawn by me.tongfei {@code progressbar} on stderr: nothing is drawn until a
 * phase has run for one second, so short phases leave no trace. Off entirely when asked to be quiet ({@code --json})
 * or when stdout is not a terminal (piped, redirected, or run by Maven without {@code inheritIo}).
 *
 * <p>Not thread-safe: one thread drives a phase; the bar's own thread only redraws.
 */
final class Progress
{
    private static final long SHOW_AFTER_NANOS = 1_000_000_000L;
    private static final int REDRAW_MILLIS = 100;

    private final PrintStream out;
    private final boolean enabled;
    private String label;
    private long total;
    private long done;
    private long started;
    private ProgressBar bar;

    Progress(final PrintStream out, final boolean enabled)
    {
        this.out = out;
        this.enabled = enabled;
    }

    /** @return a progress that never draws. */
    static Progress quiet()
    {
        return new Progress(System.err, false);
    }

    /**
     * @return true if stdin and stdout are a terminal: {@link System#console()} exists and, on JDK 22 and later where
     * it may exist without one, {@code Console.isTerminal()} says so.
     */
    static boolean onTerminal()
    {
        final Console console = System.console();
        if (null == console)
        {
            return false;
        }
        try
        {
            final Method isTerminal = Console.class.getMethod("isTerminal");
            return (Boolean)isTerminal.invoke(console);
        }
        catch (final NoSuchMethodException ex)
        {
            return true; // JDK 17 to 21: a console exists only on a terminal
        }
        catch (final ReflectiveOperationException ex)
        {
            return false;
        }
    }

    void start(final String label, final long total)
    {
        close();
        this.label = label;
        this.total = Math.max(1, total);
        this.done = 0;
        this.started = System.nanoTime();
    }

    void advance(final long amount)
    {
        done = Math.min(total, done + amount);
        if (!enabled)
        {
            return;
        }
        if (null == bar && System.nanoTime() - started >= SHOW_AFTER_NANOS)
        {
            bar = new ProgressBarBuilder()
                .setTaskName(label)
                .setInitialMax(total)
                .setStyle(ProgressBarStyle.ASCII)
                .setUpdateIntervalMillis(REDRAW_MILLIS)
                .setConsumer(new ConsoleProgressBarConsumer(out))
                .build();
        }
        if (null != bar)
        {
            bar.stepTo(done);
        }
    }

    void done()
    {
        if (null != bar)
        {
            bar.stepTo(total);
        }
        close();
    }

    private void close()
    {
        if (null != bar)
        {
            bar.close();
            bar = null;
        }
    }
}
