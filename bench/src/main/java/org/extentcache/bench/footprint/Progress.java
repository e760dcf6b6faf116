package org.extentcache.bench.footprint;

import java.io.PrintStream;

/**
 * A progress bar on stderr for phases that take more than a second: nothing is drawn until a phase has run for one
 * second, then at most ten redraws a second. Off entirely when asked to be quiet ({@code --json}, or no terminal).
 */
final class Progress
{
    private static final long SHOW_AFTER_NANOS = 1_000_000_000L;
    private static final long REDRAW_NANOS = 100_000_000L;
    private static final int WIDTH = 30;

    private final PrintStream out;
    private final boolean enabled;
    private String label;
    private long total;
    private long done;
    private long started;
    private long lastDrawn;
    private boolean drawn;

    Progress(final PrintStream out, final boolean enabled)
    {
        this.out = out;
        this.enabled = enabled;
    }

    static Progress quiet()
    {
        return new Progress(System.err, false);
    }

    void start(final String label, final long total)
    {
        this.label = label;
        this.total = Math.max(1, total);
        this.done = 0;
        this.started = System.nanoTime();
        this.lastDrawn = started;
        this.drawn = false;
    }

    void advance(final long amount)
    {
        done += amount;
        if (!enabled)
        {
            return;
        }
        final long now = System.nanoTime();
        if (now - started >= SHOW_AFTER_NANOS && now - lastDrawn >= REDRAW_NANOS)
        {
            draw(now);
        }
    }

    void done()
    {
        if (enabled && drawn)
        {
            done = total;
            draw(System.nanoTime());
            out.println();
        }
    }

    private void draw(final long now)
    {
        final int filled = (int)(WIDTH * Math.min(1.0, (double)done / total));
        out.printf("\r%-32s [%s%s] %3d%% %5.1fs", label, "#".repeat(filled), " ".repeat(WIDTH - filled),
            (int)(100.0 * Math.min(1.0, (double)done / total)), (now - started) / 1e9);
        out.flush();
        lastDrawn = now;
        drawn = true;
    }
}
