package org.extentcache.bench.jmh;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Reads JMH's results file ({@code -rf json}) into {@link JmhResult}s with Jackson, checking each member the report
 * needs and naming the result and member that is wrong. JMH writes a missing error as the string {@code "NaN"}, and
 * the allocation metric as {@code gc.alloc.rate.norm} (JMH 1.37) or {@code \u00b7gc.alloc.rate.norm} (older, with a
 * leading middle dot); both are read.
 *
 * <p>Stateless and thread-safe.
 */
final class JmhResultsFile
{
    /** Jackson, reading into plain maps, lists, strings, numbers and booleans; one document and nothing after it. */
    private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private static final String ALLOC_NORM = "gc.alloc.rate.norm";
    private static final char MIDDLE_DOT = '\u00b7';

    private JmhResultsFile()
    {
    }

    /**
     * Reads a JMH JSON results file.
     *
     * @param json the file.
     * @return its results, in file order.
     * @throws IOException              if the file cannot be read.
     * @throws IllegalArgumentException if it is not JSON, or not JMH's results array; the message says where.
     */
    static List<JmhResult> read(final Path json) throws IOException
    {
        String text = Files.readString(json, StandardCharsets.UTF_8);
        if (text.startsWith("\ufeff"))
        {
            text = text.substring(1);
        }
        return parse(text);
    }

    /**
     * Parses JMH's JSON results: an array of one object per benchmark and parameter set.
     *
     * @param json the document.
     * @return the results, in document order.
     * @throws IllegalArgumentException if it is not JSON, or a result lacks {@code benchmark}, {@code mode},
     *                                  {@code primaryMetric.score} or {@code primaryMetric.scoreUnit}, or has a
     *                                  unit this report cannot convert; the message names the result.
     */
    static List<JmhResult> parse(final String json)
    {
        final Object document = readJson(json);
        if (!(document instanceof List<?> array))
        {
            throw new IllegalArgumentException("expected an array of results, found " +
                describe(document));
        }
        final List<JmhResult> results = new ArrayList<>(array.size());
        for (int i = 0; i < array.size(); i++)
        {
            final Object element = array.get(i);
            if (!(element instanceof Map<?, ?> object))
            {
                throw new IllegalArgumentException("result " + i + " must be an object, found " +
                    describe(element));
            }
            final Object benchmark = object.get("benchmark");
            final String where = "result " + i + (benchmark instanceof String ? " (" + benchmark + ")" : "");
            try
            {
                results.add(result(object));
            }
            catch (final IllegalArgumentException ex)
            {
                throw new IllegalArgumentException(where + ": " + ex.getMessage(), ex);
            }
        }
        return Collections.unmodifiableList(results);
    }

    /**
     * @param json a JSON document.
     * @return it as maps, lists, strings, numbers, booleans and nulls.
     * @throws IllegalArgumentException if it is not one JSON document; the message names the line and column.
     */
    static Object readJson(final String json)
    {
        try
        {
            return JSON.readValue(json, Object.class);
        }
        catch (final JsonProcessingException ex)
        {
            final JsonLocation where = ex.getLocation();
            throw new IllegalArgumentException("invalid JSON at line " + (null == where ? 1 : where.getLineNr()) +
                ", column " + (null == where ? 1 : where.getColumnNr()) + ": " + ex.getOriginalMessage(), ex);
        }
    }

    /**
     * @param value a parsed value: a number, or a string JMH writes for one ({@code "NaN"}, {@code "Infinity"}).
     * @param what  its name, for the message.
     * @return it as a double.
     * @throws IllegalArgumentException if it is neither.
     */
    static double number(final Object value, final String what)
    {
        if (value instanceof Number n)
        {
            return n.doubleValue();
        }
        if (value instanceof String text)
        {
            try
            {
                return Double.parseDouble(text);
            }
            catch (final NumberFormatException ex)
            {
                throw new IllegalArgumentException(what + " must be a number: \"" + text + "\"");
            }
        }
        throw new IllegalArgumentException(what + " must be a number: " + describe(value));
    }

    /** @return a short description of a parsed value for messages: its JSON type, and its text if a scalar. */
    static String describe(final Object value)
    {
        if (null == value)
        {
            return "null (or missing)";
        }
        if (value instanceof Map)
        {
            return "an object";
        }
        if (value instanceof List)
        {
            return "an array";
        }
        return value instanceof String ? "\"" + value + "\"" : value.toString();
    }

    private static JmhResult result(final Map<?, ?> object)
    {
        final String benchmark = string(object, "benchmark", null);
        final String mode = string(object, "mode", null);
        final Map<?, ?> primary = object(object, "primaryMetric");
        if (null == primary)
        {
            throw new IllegalArgumentException("primaryMetric must be an object: " +
                describe(object.get("primaryMetric")));
        }
        final double score = number(primary.get("score"), "primaryMetric.score");
        final double scoreError = optionalNumber(primary, "scoreError", "primaryMetric.scoreError");
        final String scoreUnit = string(primary, "scoreUnit", null);
        Score.normalize(score, scoreError, scoreUnit);

        final Map<String, String> params = new TreeMap<>();
        final Map<?, ?> paramsObject = object(object, "params");
        if (null != paramsObject)
        {
            for (final Map.Entry<?, ?> entry : paramsObject.entrySet())
            {
                final Object value = entry.getValue();
                params.put(entry.getKey().toString(),
                    value instanceof Double d ? BigDecimal.valueOf(d).stripTrailingZeros().toPlainString() :
                    String.valueOf(value));
            }
        }

        double alloc = Double.NaN;
        double allocError = Double.NaN;
        final Map<?, ?> secondary = object(object, "secondaryMetrics");
        if (null != secondary)
        {
            for (final Map.Entry<?, ?> entry : secondary.entrySet())
            {
                final String name = entry.getKey().toString();
                final String bare = !name.isEmpty() && name.charAt(0) == MIDDLE_DOT ? name.substring(1) : name;
                if (ALLOC_NORM.equals(bare) && entry.getValue() instanceof Map<?, ?> metric)
                {
                    alloc = number(metric.get("score"), "secondaryMetrics." + name + ".score");
                    allocError = optionalNumber(metric, "scoreError", "secondaryMetrics." + name + ".scoreError");
                }
            }
        }

        return new JmhResult(benchmark, mode, integer(object, "threads", 1), integer(object, "forks", 0),
            Collections.unmodifiableMap(params), score, scoreError, scoreUnit, alloc, allocError,
            integer(object, "warmupIterations", 0), string(object, "warmupTime", ""),
            integer(object, "measurementIterations", 0), string(object, "measurementTime", ""),
            integer(object, "measurementBatchSize", 0), string(object, "vmName", "unknown VM"),
            string(object, "vmVersion", ""), string(object, "jdkVersion", "unknown"));
    }

    /** A string member; {@code fallback} if absent, or an error if absent and no fallback. */
    private static String string(final Map<?, ?> object, final String name, final String fallback)
    {
        final Object value = object.get(name);
        if (value instanceof String s)
        {
            return s;
        }
        if (null == value && null != fallback)
        {
            return fallback;
        }
        throw new IllegalArgumentException(name + " must be a string: " + describe(value));
    }

    private static int integer(final Map<?, ?> object, final String name, final int fallback)
    {
        final Object value = object.get(name);
        if (null == value)
        {
            return fallback;
        }
        final double d = number(value, name);
        if (d != Math.rint(d) || Math.abs(d) > Integer.MAX_VALUE)
        {
            throw new IllegalArgumentException(name + " must be an integer: " + describe(value));
        }
        return (int)d;
    }

    private static double optionalNumber(final Map<?, ?> object, final String name, final String what)
    {
        final Object value = object.get(name);
        return null == value ? Double.NaN : number(value, what);
    }

    /** An object member, or null if absent; an error if present and not an object. */
    private static Map<?, ?> object(final Map<?, ?> object, final String name)
    {
        final Object value = object.get(name);
        if (null == value)
        {
            return null;
        }
        if (value instanceof Map<?, ?> map)
        {
            return map;
        }
        throw new IllegalArgumentException(name + " must be an object: " + describe(value));
    }
}
