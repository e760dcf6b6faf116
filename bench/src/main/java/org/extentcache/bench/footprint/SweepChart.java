package org.extentcache.bench.footprint;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Draws the sweep as a PNG with XChart: total memory (MiB) against clone count, one line per cache, plus the ideal.
 * Clone counts go on a log2 axis (1, 2, 4, 8, ... evenly spaced), memory on a linear axis with round ticks. Every
 * series has its own colour, marker and dash, and the ideal is drawn last and dashed, so a cache that sits on the
 * ideal does not hide it.
 */
final class SweepChart
{
    static final int WIDTH = 900;
    static final int HEIGHT = 560;
    private static final Color[] COLORS = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c)};
    private static final BasicStroke[] LINES = {SeriesLines.SOLID, SeriesLines.DASH_DOT, SeriesLines.DOT_DOT};

    private SweepChart()
    {
    }

    /**
     * @param reports one per clone count, in increasing order.
     * @param png     where the chart goes.
     * @throws IOException if the file cannot be written.
     */
    static void write(final List<Report> reports, final Path png) throws IOException
    {
        System.setProperty("java.awt.headless", "true");
        final Report first = reports.get(0);
        final XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT)
            .title(String.format(Locale.ROOT, "Memory to cache N clones of a %d MiB image (%.0f%% of each rewritten)",
                first.options.imageBytes >> 20, 100 * first.options.divergence))
            .xAxisTitle("clones (log2 scale)").yAxisTitle("total memory (MiB)").build();
        final Styler styler = chart.getStyler();
        styler.setChartBackgroundColor(Color.WHITE);
        styler.setLegendPosition(Styler.LegendPosition.InsideNW);
        chart.getStyler().setYAxisMin(0.0);
        chart.getStyler().setYAxisDecimalPattern("#,##0");
        chart.getStyler().setXAxisDecimalPattern("0");

        // log2 of the clone count on a linear axis, labelled with the count itself: evenly spaced doublings.
        final double[] x = new double[reports.size()];
        for (int i = 0; i < x.length; i++)
        {
            x[i] = log2(Math.max(1, reports.get(i).clones));
        }
        chart.setCustomXAxisTickLabelsFormatter(value -> Math.abs(value - Math.rint(value)) < 1e-9 ?
            String.format(Locale.ROOT, "%d", Math.round(Math.pow(2, value))) : "");
        chart.getStyler().setXAxisTickMarkSpacingHint(60);

        for (int s = 0; s < first.unbounded.size(); s++)
        {
            final double[] mib = new double[reports.size()];
            for (int i = 0; i < mib.length; i++)
            {
                mib[i] = reports.get(i).unbounded.get(s).totalBytes() / (double)(1 << 20);
            }
            final XYSeries series = chart.addSeries(first.unbounded.get(s).name(), x, mib);
            series.setLineColor(COLORS[s % COLORS.length]);
            series.setMarkerColor(COLORS[s % COLORS.length]);
            series.setLineStyle(LINES[s % LINES.length]);
            series.setMarker(s % 2 == 0 ? SeriesMarkers.CIRCLE : SeriesMarkers.SQUARE);
        }
        final double[] ideal = new double[reports.size()];
        for (int i = 0; i < ideal.length; i++)
        {
            ideal[i] = reports.get(i).idealBytes() / (double)(1 << 20);
        }
        final XYSeries idealSeries = chart.addSeries("ideal", x, ideal);
        idealSeries.setLineColor(Color.BLACK);
        idealSeries.setMarkerColor(Color.BLACK);
        idealSeries.setLineStyle(SeriesLines.DASH_DASH);
        idealSeries.setMarker(SeriesMarkers.DIAMOND);
        BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
    }

    private static double log2(final double value)
    {
        return Math.log(value) / Math.log(2);
    }
}
