package dev.zrepl4j.rpc;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
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

  /** A record component: its accessor, name, and whether it may be null. */
  private record Component(MethodHandle accessor, String name, boolean nullable) {}

  /**
   * Each record class's components, read once (reflection and annotations are slow, and every
   * request is checked); null for a record whose accessors cannot be reached.
   */
  private static final ClassValue<@Nullable List<Component>> COMPONENTS =
      new ClassValue<>() {
        @Override
        protected @Nullable List<Component> computeValue(Class<?> type) {
          var found = new ArrayList<Component>();
          for (RecordComponent c : type.getRecordComponents()) {
            try {
              var accessor = c.getAccessor();
              accessor.setAccessible(true);
              found.add(
                  new Component(
                      MethodHandles.lookup()
                          .unreflect(accessor)
                          .asType(MethodType.methodType(Object.class, Object.class)),
                      c.getName(),
                      c.getAnnotatedType().isAnnotationPresent(Nullable.class)));
            } catch (IllegalAccessException | RuntimeException e) {
              return null;
            }
          }
          return List.copyOf(found);
        }
      };

  /** The path of the first null that is not allowed ({@code to.name}, {@code filesystems[2]}). */
  static Optional<String> firstMissing(@Nullable Object value) {
    return Optional.ofNullable(missing(value, null)).map(Where::render);
  }

  /**
   * Where a value lies: written out only for the null that is reported (a request of a thousand
   * elements costs no string per element).
   */
  private record Where(@Nullable Where parent, @Nullable String name, @Nullable Object key) {
    String render() {
      var b = new StringBuilder();
      render(b);
      return b.toString();
    }

    private void render(StringBuilder b) {
      if (parent != null) {
        parent.render(b);
      }
      if (name != null) {
        if (!b.isEmpty()) {
          b.append('.');
        }
        b.append(name);
      } else {
        b.append('[').append(key).append(']');
      }
    }
  }

  private static @Nullable Where missing(@Nullable Object value, @Nullable Where where) {
    if (value instanceof Record r) {
      var components = COMPONENTS.get(r.getClass());
      if (components == null) {
        return null; // not a plain record: nothing to check
      }
      for (Component c : components) {
        Object v;
        try {
          v = c.accessor().invoke(r);
        } catch (Error e) {
          throw e;
        } catch (Throwable e) {
          return null; // an accessor that throws: nothing to check
        }
        if (v == null) {
          if (!c.nullable()) {
            return new Where(where, c.name(), null);
          }
        } else if (nested(v)) {
          var inner = missing(v, new Where(where, c.name(), null));
          if (inner != null) {
            return inner;
          }
        }
      }
      return null;
    }
    if (value instanceof Collection<?> c) {
      int i = 0;
      for (Object e : c) {
        int index = i++;
        if (e == null) {
          return new Where(where, null, index);
        }
        if (nested(e)) {
          var inner = missing(e, new Where(where, null, index));
          if (inner != null) {
            return inner;
          }
        }
      }
      return null;
    }
    if (value instanceof Map<?, ?> m) {
      for (var e : m.entrySet()) {
        if (e.getKey() == null || e.getValue() == null) {
          return new Where(where, null, e.getKey());
        }
        if (nested(e.getValue())) {
          var inner = missing(e.getValue(), new Where(where, null, e.getKey()));
          if (inner != null) {
            return inner;
          }
        }
      }
    }
    return null;
  }

  /** Whether a value may hold a null to report: a record, a list or a map. */
  private static boolean nested(Object v) {
    return v instanceof Record || v instanceof Collection<?> || v instanceof Map<?, ?>;
  }
}
