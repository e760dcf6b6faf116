package org.extentcache.bench.footprint;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Draws the sweep as a PNG: total memory (MiB) against clone count, one line per cache, plus the ideal. Plain
 * {@code java.awt} in headless mode, so no charting library is needed.
 */
final class SweepChart
{
    private static final int WIDTH = 900;
    private static final int HEIGHT = 560;
    private static final int LEFT = 90;
    private static final int RIGHT = 200;
    private static final int TOP = 50;
    private static final int BOTTOM = 60;
    private static final Color[] COLORS = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c)};

    private SweepChart()
    {
    }

    static void write(final List<Report> reports, final Path png) throws IOException
    {
        System.setProperty("java.awt.headless", "true");
        final BufferedImage image = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        final Graphics2D g = image.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, WIDTH, HEIGHT);

        double maxMib = 1;
        final int maxClones = Math.max(1, reports.get(reports.size() - 1).clones);
        for (final Report report : reports)
        {
            for (final CacheResult r : report.unbounded)
            {
                maxMib = Math.max(maxMib, r.totalBytes() / (double)(1 << 20));
            }
        }
        final int plotWidth = WIDTH - LEFT - RIGHT;
        final int plotHeight = HEIGHT - TOP - BOTTOM;
        final Report first = reports.get(0);

        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        g.drawString(String.format(Locale.ROOT, "Memory to cache N clones of a %d MiB image (%.0f%% of each rewritten)",
            first.options.imageBytes >> 20, 100 * first.options.divergence), LEFT, 30);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        g.drawLine(LEFT, TOP + plotHeight, LEFT + plotWidth, TOP + plotHeight);
        g.drawLine(LEFT, TOP, LEFT, TOP + plotHeight);
        g.drawString("clones", LEFT + plotWidth / 2 - 20, HEIGHT - 15);
        g.drawString("MiB", 20, TOP - 10);
        for (int i = 0; i <= 5; i++)
        {
            final double mib = maxMib * i / 5;
            final int y = TOP + plotHeight - (int)(plotHeight * i / 5.0);
            g.setColor(new Color(0xdddddd));
            g.drawLine(LEFT + 1, y, LEFT + plotWidth, y);
            g.setColor(Color.BLACK);
            g.drawString(String.format(Locale.ROOT, "%,.0f", mib), 25, y + 4);
        }
        for (final Report report : reports)
        {
            final int x = x(report.clones, maxClones, plotWidth);
            g.drawLine(x, TOP + plotHeight, x, TOP + plotHeight + 5);
            g.drawString(Integer.toString(report.clones), x - 6, TOP + plotHeight + 20);
        }

        final int series = first.unbounded.size();
        g.setStroke(new BasicStroke(2.5f));
        for (int line = 0; line <= series; line++)
        {
            final int s = line == 0 ? series : line - 1; // the ideal first, so the caches are drawn over it
            final boolean ideal = s == series;
            g.setColor(ideal ? Color.GRAY : COLORS[s % COLORS.length]);
            g.setStroke(ideal ?
                new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10, new float[]{6, 6}, 0) :
                new BasicStroke(2.5f));
            int lastX = -1;
            int lastY = -1;
            for (final Report report : reports)
            {
                final long bytes = ideal ? report.idealBytes() : report.unbounded.get(s).totalBytes();
                final int px = x(report.clones, maxClones, plotWidth);
                final int py = TOP + plotHeight - (int)(plotHeight * (bytes / (double)(1 << 20)) / maxMib);
                if (lastX >= 0)
                {
                    g.drawLine(lastX, lastY, px, py);
                }
                g.fillOval(px - 3, py - 3, 7, 7);
                lastX = px;
                lastY = py;
            }
            final int legendY = TOP + 20 + 22 * line;
            g.drawLine(LEFT + plotWidth + 20, legendY, LEFT + plotWidth + 45, legendY);
            g.setColor(Color.BLACK);
            g.drawString(ideal ? "ideal" : first.unbounded.get(s).name(), LEFT + plotWidth + 52, legendY + 4);
        }
        g.dispose();
        ImageIO.write(image, "png", png.toFile());
    }

    /** Clone counts on a linear axis from 0 to the largest. */
    private static int x(final int clones, final int maxClones, final int plotWidth)
    {
        return LEFT + (int)(plotWidth * (double)clones / maxClones);
    }
}
