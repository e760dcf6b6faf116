package org.extentcache.bench.jmh;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.CategorySeries;
import org.knowm.xchart.style.CategoryStyler;
import org.knowm.xchart.style.Styler;

import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The report's chart, drawn with XChart like the footprint tool's sweep chart: one bar per benchmark of ns per
 * operation at 4 KiB pages on a logarithmic axis whose ends and labelled ticks are powers of ten (the suite spans a
 * pin of tens of ns to a miss of microseconds, so a linear axis would flatten the hits). Each kind of bar is a series
 * of its own colour in the legend: ExtentCache, the per-file cache on the same engine, Caffeine, and the baselines
 * with no cache. Each bar's label gives its score with JMH's 99.9% half-interval; a benchmark that was not run, or
 * not in ns/op, keeps its place, labelled "not run", with no bar.
 *
 * <p>Stateless and thread-safe, apart from setting {@code java.awt.headless} before drawing.
 */
final class JmhChart
{
    static final int WIDTH = 960;
    static final int HEIGHT = 620;

    /** The bars, left to right. */
    static final List<String> BARS = List.of(Suite.BARE_COPY, Suite.FILE_HIT, Suite.PIN_UNPIN, Suite.CAFFEINE_HIT,
        Suite.PER_FILE_HIT, Suite.SHARING_HIT, Suite.FILE_CHANNEL_READ, Suite.MISS, Suite.IN_PLACE_WRITE,
        Suite.COPY_ON_WRITE, Suite.ZIPF_MIX);

    /** The legend's series, in order: what each bar measures. */
    enum Kind
    {
        /** ExtentCache's own operations. */
        EXTENTCACHE("ExtentCache", new Color(0x1f77b4)),
        /** The same engine keyed by (file, page), what Linux does for reflinked files. */
        PER_FILE("per-file (same engine)", new Color(0xd62728)),
        /** Caffeine holding direct buffers. */
        CAFFEINE("Caffeine", new Color(0x2ca02c)),
        /** No cache: the copy or read a cache is measured against. */
        BASELINE("no cache (baseline)", new Color(0x8c8c8c));

        final String label;
        final Color color;

        Kind(final String label, final Color color)
        {
            this.label = label;
            this.color = color;
        }

        /**
         * @param name a benchmark, {@code Class.method}.
         * @return what its bar measures.
         */
        static Kind of(final String name)
        {
            switch (name)
            {
                case Suite.BARE_COPY:
                case Suite.FILE_CHANNEL_READ:
                    return BASELINE;
                case Suite.PER_FILE_HIT:
                    return PER_FILE;
                case Suite.CAFFEINE_HIT:
                    return CAFFEINE;
                default:
                    return EXTENTCACHE;
            }
        }
    }

    private JmhChart()
    {
    }

    /**
     * Draws the chart to a PNG file.
     *
     * @param results  the run's results.
     * @param modified when the results file was last modified, for the axis title.
     * @param png      the file to write.
     * @throws IOException if it cannot be written.
     */
    static void write(final List<JmhResult> results, final Instant modified, final Path png) throws IOException
    {
        System.setProperty("java.awt.headless", "true");
        BitmapEncoder.saveBitmap(chart(results, modified), png.toString(), BitmapEncoder.BitmapFormat.PNG);
    }

    /**
     * Builds the chart without drawing it.
     *
     * @param results  the run's results.
     * @param modified when the results file was last modified.
     * @return the chart: one category per benchmark in {@link #BARS}, one series per {@link Kind} with a bar.
     */
    static CategoryChart chart(final List<JmhResult> results, final Instant modified)
    {
        final List<String> labels = new ArrayList<>(BARS.size());
        final List<Score> scores = new ArrayList<>(BARS.size());
        double low = Double.MAX_VALUE;
        double high = 0;
        for (final String name : BARS)
        {
            final Score score = drawable(Suite.find(results, name, Suite.FOUR_KIB));
            scores.add(score);
            labels.add(Suite.shortName(name) + (Suite.batch(name) > 1 ? " (per op)" : "") + ": " +
                (null == score ? "not run" : score.text()));
            if (null != score)
            {
                final double error = Double.isNaN(score.error()) ? 0 : score.error();
                low = Math.min(low, score.value() - error > 0 ? score.value() - error : score.value());
                high = Math.max(high, score.value() + error);
            }
        }

        final String jvm = results.isEmpty() ? "no results" : results.get(0).jvm();
        final CategoryChart chart = new CategoryChartBuilder().width(WIDTH).height(HEIGHT)
            .title("ExtentCache JMH: ns per operation at 4 KiB pages (log scale; lower is better)")
            .xAxisTitle(jvm + ", results of " + MarkdownReport.DATE.format(modified) +
                "; ± is the 99.9% confidence half-interval")
            .yAxisTitle("ns per operation").build();
        final CategoryStyler styler = chart.getStyler();
        styler.setChartBackgroundColor(Color.WHITE);
        styler.setLegendPosition(Styler.LegendPosition.InsideNW);
        styler.setDefaultSeriesRenderStyle(CategorySeries.CategorySeriesRenderStyle.Bar);
        styler.setOverlapped(true);
        styler.setXAxisLabelRotation(30);
        styler.setYAxisLogarithmic(true);
        styler.setAxisTitleFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        styler.setYAxisDecimalPattern("#,##0.###");
        if (high == 0)
        {
            low = 1;
            high = 1000;
        }
        final double bottom = decade(low, false);
        styler.setYAxisMin(bottom);
        styler.setYAxisMax(Math.max(decade(high, true), 10 * bottom));

        // A category another kind owns gets a bar of the axis minimum: no height, nothing drawn. (The interval is
        // in the label, not an error bar: XChart 3.8 draws error bars on a log axis at the wrong scale.)
        for (final Kind kind : Kind.values())
        {
            final List<Double> values = new ArrayList<>(Collections.nCopies(BARS.size(), bottom));
            boolean bars = false;
            for (int i = 0; i < BARS.size(); i++)
            {
                final Score score = scores.get(i);
                if (null != score && Kind.of(BARS.get(i)) == kind)
                {
                    values.set(i, score.value());
                    bars = true;
                }
            }
            if (bars || (chart.getSeriesMap().isEmpty() && kind == Kind.BASELINE))
            {
                // With no bar at all, one empty series still lays out the categories and the axis.
                final CategorySeries series = chart.addSeries(kind.label, labels, values);
                series.setFillColor(kind.color);
                series.setLineColor(kind.color);
            }
        }
        return chart;
    }

    /** @return the score to draw for a result: ns/op and positive, or null for no bar. */
    private static Score drawable(final JmhResult result)
    {
        final Score score = null == result ? null : result.perOp();
        return null != score && Score.NS_PER_OP.equals(score.unit()) && score.value() > 0 ? score : null;
    }

    /**
     * @param value a positive number.
     * @param up    round up if true, down if false.
     * @return the power of ten at or above {@code value} if {@code up}, at or below it otherwise: the axis ends
     * there, so its ends are ticks.
     */
    static double decade(final double value, final boolean up)
    {
        final double log = Math.log10(value);
        return Math.pow(10, up ? Math.ceil(log - 1e-9) : Math.floor(log + 1e-9));
    }
}
