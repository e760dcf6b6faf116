package org.extentcache.bench.jmh;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small JSON parser (RFC 8259), enough for JMH's {@code -rf json} output and nothing more, so the report needs no
 * JSON library. Values come back as plain Java objects: an object is an unmodifiable {@code Map<String, Object>} in
 * document order, an array an unmodifiable {@code List<Object>}, a string a {@code String}, a number a
 * {@code Double}, {@code true}/{@code false} a {@code Boolean}, and {@code null} is {@code null}. JMH writes
 * non-finite numbers as strings ({@code "NaN"}); {@link #number} reads both forms.
 *
 * <p>Stateless and thread-safe: each {@link #parse} call works on its own cursor. A malformed document is an
 * {@link IllegalArgumentException} naming the line and column.
 *
 * <p>Public so that the footprint tool's tests can parse its {@code --json} output with it too.
 */
public final class JsonReader
{
    private final String text;
    private int at;

    private JsonReader(final String text)
    {
        this.text = text;
    }

    /**
     * Parses one JSON document.
     *
     * @param text the document; whitespace around the value is allowed, anything else after it is not.
     * @return the value, as described in the class comment.
     * @throws IllegalArgumentException if the text is not one well-formed JSON value; the message says where.
     */
    public static Object parse(final String text)
    {
        final JsonReader reader = new JsonReader(text);
        reader.skipWhitespace();
        final Object value = reader.value();
        reader.skipWhitespace();
        if (reader.at != text.length())
        {
            throw reader.error("unexpected text after the JSON value");
        }
        return value;
    }

    /**
     * Reads a number that may have been written as a string, as JMH does for {@code "NaN"} and
     * {@code "Infinity"}.
     *
     * @param value a {@code Double} or a string holding a number.
     * @param what  what the value is, for the error message.
     * @return the number.
     * @throws IllegalArgumentException if the value is neither.
     */
    static double number(final Object value, final String what)
    {
        if (value instanceof Double)
        {
            return (Double)value;
        }
        if (value instanceof String)
        {
            try
            {
                return Double.parseDouble((String)value);
            }
            catch (final NumberFormatException ex)
            {
                throw new IllegalArgumentException(what + " must be a number: \"" + value + "\"");
            }
        }
        throw new IllegalArgumentException(what + " must be a number: " + describe(value));
    }

    /**
     * @param value a parsed value.
     * @return a short description of it for error messages: its JSON type, and its text if it is a scalar.
     */
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
        if (value instanceof String)
        {
            return "\"" + value + "\"";
        }
        return value.toString();
    }

    private Object value()
    {
        if (at >= text.length())
        {
            throw error("unexpected end of input, expected a value");
        }
        final char c = text.charAt(at);
        switch (c)
        {
            case '{':
                return object();
            case '[':
                return array();
            case '"':
                return string();
            case 't':
                literal("true");
                return Boolean.TRUE;
            case 'f':
                literal("false");
                return Boolean.FALSE;
            case 'n':
                literal("null");
                return null;
            default:
                if (c == '-' || (c >= '0' && c <= '9'))
                {
                    return numberLiteral();
                }
                throw error("unexpected character '" + c + "', expected a value");
        }
    }

    private Map<String, Object> object()
    {
        expect('{');
        final Map<String, Object> members = new LinkedHashMap<>();
        skipWhitespace();
        if (peek() == '}')
        {
            at++;
            return Collections.unmodifiableMap(members);
        }
        while (true)
        {
            skipWhitespace();
            if (peek() != '"')
            {
                throw error("expected a member name in double quotes");
            }
            final String name = string();
            skipWhitespace();
            expect(':');
            skipWhitespace();
            members.put(name, value());
            skipWhitespace();
            final char c = next("',' or '}' in an object");
            if (c == '}')
            {
                return Collections.unmodifiableMap(members);
            }
            if (c != ',')
            {
                at--;
                throw error("expected ',' or '}' in an object, found '" + c + "'");
            }
        }
    }

    private List<Object> array()
    {
        expect('[');
        final List<Object> elements = new ArrayList<>();
        skipWhitespace();
        if (peek() == ']')
        {
            at++;
            return Collections.unmodifiableList(elements);
        }
        while (true)
        {
            skipWhitespace();
            elements.add(value());
            skipWhitespace();
            final char c = next("',' or ']' in an array");
            if (c == ']')
            {
                return Collections.unmodifiableList(elements);
            }
            if (c != ',')
            {
                at--;
                throw error("expected ',' or ']' in an array, found '" + c + "'");
            }
        }
    }

    private String string()
    {
        expect('"');
        final StringBuilder out = new StringBuilder();
        while (true)
        {
            final char c = next("closing '\"' of a string");
            if (c == '"')
            {
                return out.toString();
            }
            if (c < 0x20)
            {
                at--;
                throw error("control character 0x" + Integer.toHexString(c) + " in a string must be escaped");
            }
            if (c != '\\')
            {
                out.append(c);
                continue;
            }
            final char escape = next("an escape sequence");
            switch (escape)
            {
                case '"':
                case '\\':
                case '/':
                    out.append(escape);
                    break;
                case 'b':
                    out.append('\b');
                    break;
                case 'f':
                    out.append('\f');
                    break;
                case 'n':
                    out.append('\n');
                    break;
                case 'r':
                    out.append('\r');
                    break;
                case 't':
                    out.append('\t');
                    break;
                case 'u':
                    out.append(hexChar());
                    break;
                default:
                    at--;
                    throw error("invalid escape '\\" + escape + "'");
            }
        }
    }

    private char hexChar()
    {
        if (at + 4 > text.length())
        {
            throw error("unexpected end of input in a \\u escape");
        }
        int code = 0;
        for (int i = 0; i < 4; i++)
        {
            final int digit = Character.digit(text.charAt(at), 16);
            if (digit < 0)
            {
                throw error("invalid hex digit '" + text.charAt(at) + "' in a \\u escape");
            }
            code = code << 4 | digit;
            at++;
        }
        return (char)code;
    }

    private Double numberLiteral()
    {
        final int start = at;
        if (peek() == '-')
        {
            at++;
        }
        if (peek() == '0')
        {
            at++;
        }
        else if (!digits())
        {
            throw error("expected a digit");
        }
        if (peek() == '.')
        {
            at++;
            if (!digits())
            {
                throw error("expected a digit after the decimal point");
            }
        }
        if (peek() == 'e' || peek() == 'E')
        {
            at++;
            if (peek() == '+' || peek() == '-')
            {
                at++;
            }
            if (!digits())
            {
                throw error("expected a digit in the exponent");
            }
        }
        return Double.valueOf(text.substring(start, at));
    }

    /** Consumes a run of decimal digits; false if there was none. */
    private boolean digits()
    {
        final int start = at;
        while (at < text.length() && text.charAt(at) >= '0' && text.charAt(at) <= '9')
        {
            at++;
        }
        return at > start;
    }

    private void literal(final String word)
    {
        if (!text.startsWith(word, at))
        {
            throw error("unexpected character '" + text.charAt(at) + "', expected a value");
        }
        at += word.length();
    }

    private void expect(final char c)
    {
        final char found = next("'" + c + "'");
        if (found != c)
        {
            at--;
            throw error("expected '" + c + "', found '" + found + "'");
        }
    }

    /** The next character, consumed; an error naming what was expected at end of input. */
    private char next(final String expected)
    {
        if (at >= text.length())
        {
            throw error("unexpected end of input, expected " + expected);
        }
        return text.charAt(at++);
    }

    /** The next character, not consumed, or 0 at end of input. */
    private char peek()
    {
        return at < text.length() ? text.charAt(at) : 0;
    }

    private void skipWhitespace()
    {
        while (at < text.length())
        {
            final char c = text.charAt(at);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            {
                return;
            }
            at++;
        }
    }

    private IllegalArgumentException error(final String message)
    {
        int line = 1;
        int column = 1;
        for (int i = 0; i < Math.min(at, text.length()); i++)
        {
            if (text.charAt(i) == '\n')
            {
                line++;
                column = 1;
            }
            else
            {
                column++;
            }
        }
        return new IllegalArgumentException("invalid JSON at line " + line + ", column " + column + ": " + message);
    }
}
