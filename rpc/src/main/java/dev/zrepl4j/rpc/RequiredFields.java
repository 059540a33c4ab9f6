package dev.zrepl4j.rpc;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
import java.util.Collection;
import java.util.Map;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * Finds a null where a decoded request may not have one: a record component not declared
 * {@code @Nullable} (JSON {@code null}, or a key the client left out), or a null element of a list
 * or map, at any depth. The endpoint then never sees it: a request with a missing name is refused
 * as malformed before the handler runs, instead of failing inside it with a NullPointerException.
 */
final class RequiredFields {
  private RequiredFields() {}

  /** The path of the first null that is not allowed ({@code to.name}, {@code filesystems[2]}). */
  static Optional<String> firstMissing(@Nullable Object value) {
    return missing(value, "");
  }

  private static Optional<String> missing(@Nullable Object value, String path) {
    if (value == null) {
      return Optional.empty();
    }
    if (value instanceof Record r) {
      for (RecordComponent c : r.getClass().getRecordComponents()) {
        Object v;
        try {
          c.getAccessor().setAccessible(true);
          v = c.getAccessor().invoke(r);
        } catch (IllegalAccessException | InvocationTargetException | RuntimeException e) {
          return Optional.empty(); // not a plain record: nothing to check
        }
        String p = path.isEmpty() ? c.getName() : path + "." + c.getName();
        if (v == null) {
          if (!c.getAnnotatedType().isAnnotationPresent(Nullable.class)) {
            return Optional.of(p);
          }
          continue;
        }
        var inner = missing(v, p);
        if (inner.isPresent()) {
          return inner;
        }
      }
      return Optional.empty();
    }
    if (value instanceof Collection<?> c) {
      int i = 0;
      for (Object e : c) {
        String p = path + "[" + i++ + "]";
        if (e == null) {
          return Optional.of(p);
        }
        var inner = missing(e, p);
        if (inner.isPresent()) {
          return inner;
        }
      }
      return Optional.empty();
    }
    if (value instanceof Map<?, ?> m) {
      for (var e : m.entrySet()) {
        String p = path + "[" + e.getKey() + "]";
        if (e.getKey() == null || e.getValue() == null) {
          return Optional.of(p);
        }
        var inner = missing(e.getValue(), p);
        if (inner.isPresent()) {
          return inner;
        }
      }
    }
    return Optional.empty();
  }
}
