package dev.zrepl4j.rpc;

import com.fasterxml.jackson.databind.JavaType;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * The endpoint registry shared by the network server and local calls: every public method of a
 * registered object becomes an endpoint, resolved once, at registration, into a method handle and
 * the JSON types of its request and response. Nothing is reflected per call. Thread-safe.
 */
final class Endpoints {
  private final Map<String, Endpoint> byName = new ConcurrentHashMap<>();

  /**
   * Registers every public method of {@code target} as {@code prefix.method} (or {@code method} for
   * an empty prefix; {@link RpcName} overrides the method part).
   *
   * @throws IllegalArgumentException naming {@code Class.method} for a signature that breaks the
   *     rules, a duplicate name, or an object without public methods
   */
  void register(String prefix, Object target) {
    var found = new ArrayList<Endpoint>();
    for (Endpoint r : RESOLVED.get(target.getClass())) {
      found.add(r.bind(prefix, target));
    }
    if (found.isEmpty()) {
      throw new IllegalArgumentException(
          target.getClass().getName() + " has no public methods to register");
    }
    var names = new HashSet<String>();
    for (Endpoint e : found) {
      if (!names.add(e.name()) || byName.containsKey(e.name())) {
        throw new IllegalArgumentException(
            "endpoint " + e.name() + " registered twice (" + e.method() + ")");
      }
    }
    for (Endpoint e : found) {
      byName.put(e.name(), e);
    }
  }

  /**
   * Each class's public methods resolved once (reflection, generic types, method handles), not at
   * every registration: a job registers its endpoints at every run.
   */
  private static final ClassValue<List<Endpoint>> RESOLVED =
      new ClassValue<>() {
        @Override
        protected List<Endpoint> computeValue(Class<?> type) {
          var found = new ArrayList<Endpoint>();
          for (Method m : type.getMethods()) {
            if (m.getDeclaringClass() == Object.class
                || Modifier.isStatic(m.getModifiers())
                || m.isSynthetic()
                || m.isBridge()) {
              continue;
            }
            found.add(resolve(m));
          }
          return List.copyOf(found);
        }
      };

  Optional<Endpoint> find(String name) {
    return Optional.ofNullable(byName.get(name));
  }

  List<String> names() {
    return byName.keySet().stream().sorted().toList();
  }

  /** Every endpoint, by name. */
  List<Endpoint> all() {
    return byName.values().stream().sorted(java.util.Comparator.comparing(Endpoint::name)).toList();
  }

  static String endpointName(String prefix, Method m) {
    return endpointName(prefix, baseName(m));
  }

  private static String endpointName(String prefix, String base) {
    return prefix.isEmpty() ? base : prefix + "." + base;
  }

  /** The method's part of its endpoint name: its {@link RpcName}, else its own name. */
  private static String baseName(Method m) {
    RpcName n = m.getAnnotation(RpcName.class);
    String base = n != null ? n.value() : m.getName();
    if (base.isEmpty()) {
      throw new IllegalArgumentException("empty @RpcName on " + describe(m));
    }
    return base;
  }

  static String describe(Method m) {
    return m.getDeclaringClass().getSimpleName() + "." + m.getName();
  }

  /** {@code m} resolved for any object of its class: named by its base name, bound to none. */
  private static Endpoint resolve(Method m) {
    String where = describe(m);
    int request = -1;
    int body = -1;
    int out = -1;
    int caller = -1;
    Class<?>[] types = m.getParameterTypes();
    for (int i = 0; i < types.length; i++) {
      Class<?> t = types[i];
      if (t == Caller.class) {
        caller = single(caller, i, "Caller", where);
      } else if (t == InputStream.class) {
        body = single(body, i, "InputStream", where);
      } else if (t == OutputStream.class) {
        out = single(out, i, "OutputStream", where);
      } else if (InputStream.class.isAssignableFrom(t) || OutputStream.class.isAssignableFrom(t)) {
        throw new IllegalArgumentException(
            "parameter "
                + i
                + " of "
                + where
                + ": declare streams as InputStream/OutputStream, not "
                + t.getSimpleName());
      } else if (t.isPrimitive()) {
        throw new IllegalArgumentException(
            "parameter " + i + " of " + where + " is primitive; use a request record");
      } else {
        request = single(request, i, "request", where);
      }
    }
    Class<?> ret = m.getReturnType();
    DataType outType;
    JavaType responseType = null;
    if (ret == InputStream.class) {
      if (out >= 0) {
        throw new IllegalArgumentException(
            where + " returns InputStream and takes an OutputStream");
      }
      outType = DataType.OCTETS;
    } else if (out >= 0) {
      if (ret != void.class) {
        throw new IllegalArgumentException(where + " takes an OutputStream and must return void");
      }
      outType = DataType.OCTETS;
    } else {
      outType = DataType.JSON;
      responseType = ret == void.class ? null : Json.type(m.getGenericReturnType());
    }
    DataType inType =
        body >= 0 ? (request >= 0 ? DataType.JSON_AND_OCTETS : DataType.OCTETS) : DataType.JSON;
    JavaType requestType = request >= 0 ? Json.type(m.getGenericParameterTypes()[request]) : null;
    MethodHandle h;
    try {
      m.setAccessible(true);
      h =
          MethodHandles.lookup()
              .unreflect(m)
              .asSpreader(Object[].class, types.length)
              .asType(MethodType.methodType(Object.class, Object.class, Object[].class));
    } catch (IllegalAccessException | RuntimeException e) {
      throw new IllegalArgumentException("cannot access " + where + ": " + e.getMessage(), e);
    }
    return new Endpoint(
        baseName(m),
        where,
        h,
        null,
        types.length,
        request,
        requestType,
        body,
        out,
        caller,
        inType,
        outType,
        responseType,
        request >= 0 ? m.getGenericParameterTypes()[request] : null);
  }

  private static int single(int current, int i, String what, String where) {
    if (current >= 0) {
      throw new IllegalArgumentException(where + " has more than one " + what + " parameter");
    }
    return i;
  }

  /**
   * One resolved endpoint.
   *
   * @param method {@code Class.method}, for messages
   * @param handle {@code (Object target, Object[]) -> Object}
   * @param target the registered object the handle is called on; null in a class's template ({@link
   *     #bind} names it and binds it)
   * @param responseType null for void and octet responses
   * @param requestGenericType the request parameter's declared type; null without a request
   */
  record Endpoint(
      String name,
      String method,
      MethodHandle handle,
      @Nullable Object target,
      int arity,
      int requestSlot,
      @Nullable JavaType requestType,
      int bodySlot,
      int outSlot,
      int callerSlot,
      DataType in,
      DataType out,
      @Nullable JavaType responseType,
      java.lang.reflect.@Nullable Type requestGenericType) {

    /** This template endpoint of a class registered under {@code prefix} for {@code target}. */
    Endpoint bind(String prefix, Object target) {
      return new Endpoint(
          endpointName(prefix, name),
          method,
          handle,
          target,
          arity,
          requestSlot,
          requestType,
          bodySlot,
          outSlot,
          callerSlot,
          in,
          out,
          responseType,
          requestGenericType);
    }

    /** Builds the argument array; slots that don't exist are ignored. */
    Object[] args(
        @Nullable Object request,
        @Nullable InputStream body,
        @Nullable OutputStream outStream,
        Caller caller) {
      Object[] a = new Object[arity];
      if (requestSlot >= 0) {
        a[requestSlot] = request;
      }
      if (bodySlot >= 0) {
        a[bodySlot] = body;
      }
      if (outSlot >= 0) {
        a[outSlot] = outStream;
      }
      if (callerSlot >= 0) {
        a[callerSlot] = caller;
      }
      return a;
    }

    /** Calls the method; exceptions it throws come out unchanged. */
    @Nullable Object invoke(Object[] args) throws Throwable {
      return (Object) handle.invokeExact(Objects.requireNonNull(target), args);
    }
  }
}
