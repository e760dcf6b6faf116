package org.extentcache.bench.jmh;

import java.util.Locale;

/**
 * A number with its error and unit, and how the report writes numbers: no decimals from 1,000 up, one from 100, two
 * from 1, three below; n/a for what is not finite.
 *
 * @param value the value.
 * @param error its half-interval, NaN if unknown.
 * @param unit  {@code ns/op}, {@code ops/us}, {@code B/op} or {@code ×} for a ratio.
 */
record Score(double value, double error, String unit)
{
    /** Time per operation, the unit every time is converted to. */
    static final String NS_PER_OP = "ns/op";
    /** Operations per microsecond, the unit every throughput is converted to. */
    static final String OPS_PER_US = "ops/us";
    /** What the report writes for a figure that does not apply. */
    static final String NONE = "—";

    private static final String[] TIME_UNITS = {"ns", "us", "µs", "ms", "s", "min"};
    private static final double[] NANOS = {1, 1e3, 1e3, 1e6, 1e9, 60e9};

    /**
     * Converts a JMH score to ns/op (time per operation) or ops/us (throughput).
     *
     * @param value a score.
     * @param error its error.
     * @param unit  its unit, {@code <time>/op} or {@code ops/<time>}.
     * @return the converted score.
     * @throws IllegalArgumentException for any other unit.
     */
    static Score normalize(final double value, final double error, final String unit)
    {
        final int slash = unit.indexOf('/');
        if (slash > 0)
        {
            final String left = unit.substring(0, slash);
            final String right = unit.substring(slash + 1);
            if ("op".equals(right))
            {
                final double factor = nanos(left, unit);
                return new Score(value * factor, error * factor, NS_PER_OP);
            }
            if ("ops".equals(left))
            {
                final double factor = 1e3 / nanos(right, unit);
                return new Score(value * factor, error * factor, OPS_PER_US);
            }
        }
        throw new IllegalArgumentException("unknown score unit: \"" + unit + "\" (expected <time>/op or " +
            "ops/<time>)");
    }

    private static double nanos(final String timeUnit, final String unit)
    {
        for (int i = 0; i < TIME_UNITS.length; i++)
        {
            if (TIME_UNITS[i].equals(timeUnit))
            {
                return NANOS[i];
            }
        }
        throw new IllegalArgumentException("unknown time unit \"" + timeUnit + "\" in score unit \"" + unit + "\"");
    }

    /**
     * @param baseline the denominator, in the same unit.
     * @return this over the baseline, its error the sum of the relative errors (NaN if either is unknown).
     */
    Score over(final Score baseline)
    {
        final double ratio = value / baseline.value;
        final double relative = Math.abs(error / value) + Math.abs(baseline.error / baseline.value);
        return new Score(ratio, Math.abs(ratio) * relative, "×");
    }

    /**
     * @return e.g. {@code 90.4 ± 3.2 ns/op}, {@code 90.4 ± n/a ns/op}.
     */
    String text()
    {
        return number(value) + " ± " + (Double.isNaN(error) ? "n/a" : number(error, decimals(value))) + " " + unit;
    }

    /**
     * @return a ratio, e.g. {@code 1.21 (±0.10)}, {@code 1.21 (± n/a)}.
     */
    String ratioText()
    {
        if (Double.isNaN(value) || Double.isInfinite(value))
        {
            return "n/a";
        }
        return String.format(Locale.ROOT, "%.2f (%s)", value,
            Double.isNaN(error) || Double.isInfinite(error) ? "± n/a" :
            String.format(Locale.ROOT, error < 0.01 ? "±%.3f" : "±%.2f", error));
    }

    /**
     * @param bytes bytes allocated per operation, NaN if not measured.
     * @return them with two decimals, or {@link #NONE} if not measured.
     */
    static String allocText(final double bytes)
    {
        return Double.isNaN(bytes) ? NONE : String.format(Locale.ROOT, "%,.2f", bytes);
    }

    /**
     * @param v a number.
     * @return it readably: no decimals from 1,000 up, one from 100, two from 1, three below; n/a if not finite.
     */
    static String number(final double v)
    {
        return number(v, decimals(v));
    }

    private static String number(final double v, final int decimals)
    {
        if (Double.isNaN(v) || Double.isInfinite(v))
        {
            return "n/a";
        }
        return String.format(Locale.ROOT, "%,." + decimals + "f", v);
    }

    private static int decimals(final double v)
    {
        final double a = Math.abs(v);
        return a >= 1000 ? 0 : a >= 100 ? 1 : a >= 1 ? 2 : 3;
    }
}
