package org.extentcache.nio;

import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The {@code basic} attribute view by name, for {@code Files.readAttributes(path, "basic:size,...")} and
 * {@code Files.setAttribute}: the names {@link BasicFileAttributes} defines, {@code *} for all.
 */
final class BasicAttributeNames
{
    private static final Set<String> SETTABLE = Set.of("lastModifiedTime", "lastAccessTime", "creationTime");

    private BasicAttributeNames()
    {
    }

    /**
     * @param attributes {@code [basic:]name[,name...]} or {@code [basic:]*}.
     * @return the attributes asked for, by name.
     * @throws UnsupportedOperationException if the view is not {@code basic}.
     * @throws IllegalArgumentException      naming an attribute {@code basic} does not have.
     */
    static Map<String, Object> read(final BasicFileAttributes attrs, final String attributes)
    {
        final Map<String, Object> all = new LinkedHashMap<>();
        all.put("lastModifiedTime", attrs.lastModifiedTime());
        all.put("lastAccessTime", attrs.lastAccessTime());
        all.put("creationTime", attrs.creationTime());
        all.put("size", attrs.size());
        all.put("isRegularFile", attrs.isRegularFile());
        all.put("isDirectory", attrs.isDirectory());
        all.put("isSymbolicLink", attrs.isSymbolicLink());
        all.put("isOther", attrs.isOther());
        all.put("fileKey", attrs.fileKey());
        final Map<String, Object> asked = new LinkedHashMap<>();
        for (final String name : namesOf(attributes).split(","))
        {
            if (name.equals("*"))
            {
                asked.putAll(all);
            }
            else if (all.containsKey(name))
            {
                asked.put(name, all.get(name));
            }
            else
            {
                throw new IllegalArgumentException("'" + name + "' not recognized: the basic view has " +
                    all.keySet());
            }
        }
        return asked;
    }

    /**
     * @return the attribute's name without its view.
     * @throws UnsupportedOperationException if the view is not {@code basic}.
     * @throws IllegalArgumentException      if the attribute cannot be set.
     */
    static String nameOf(final String attribute)
    {
        final String name = namesOf(attribute);
        if (!SETTABLE.contains(name))
        {
            throw new IllegalArgumentException("'" + name + "' cannot be set: settable are " + SETTABLE);
        }
        return name;
    }

    /**
     * @return the value as a time.
     * @throws ClassCastException if it is not a {@link FileTime}.
     */
    static FileTime timeToSet(final String attribute, final Object value)
    {
        nameOf(attribute);
        return (FileTime)value;
    }

    private static String namesOf(final String attributes)
    {
        final int colon = attributes.indexOf(':');
        if (colon >= 0 && !attributes.substring(0, colon).equals("basic"))
        {
            throw new UnsupportedOperationException("view '" + attributes.substring(0, colon) +
                "' not available: extentcache file systems have the basic view only");
        }
        return colon < 0 ? attributes : attributes.substring(colon + 1);
    }
}
