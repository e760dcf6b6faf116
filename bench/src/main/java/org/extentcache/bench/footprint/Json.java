package org.extentcache.bench.footprint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.UncheckedIOException;

/**
 * The footprint tool's JSON documents are Jackson trees, written by one shared {@link ObjectMapper}: field order is
 * insertion order, strings are escaped by Jackson, and rounded doubles keep the documents short. Thread-safe.
 */
final class Json
{
    /** Shared: an {@link ObjectMapper} is thread-safe once configured. */
    static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private Json()
    {
    }

    /** @return a new, empty object node. */
    static ObjectNode object()
    {
        return MAPPER.createObjectNode();
    }

    /**
     * @param node a document.
     * @return it as indented JSON text with a final newline.
     */
    static String write(final JsonNode node)
    {
        try
        {
            return MAPPER.writeValueAsString(node) + "\n";
        }
        catch (final JsonProcessingException ex)
        {
            throw new UncheckedIOException("a tree of plain nodes always serialises", ex);
        }
    }

    /**
     * @param value    a finite number.
     * @param decimals digits after the point to keep.
     * @return the value rounded half up to that many decimals.
     */
    static double round(final double value, final int decimals)
    {
        final double scale = Math.pow(10, decimals);
        return Math.round(value * scale) / scale;
    }
}
