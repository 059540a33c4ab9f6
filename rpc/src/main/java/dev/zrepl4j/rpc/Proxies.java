package dev.zrepl4j.rpc;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Proxy;
import java.lang.reflect.Type;
import java.util.HashMap;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/** Builds typed client proxies from plain interfaces, so that callers never write stubs. */
final class Proxies {
  private Proxies() {}

  /**
   * @throws IllegalArgumentException naming {@code Interface.method} for a method that cannot be a
   *     call (more than one request or body parameter, or no {@code throws IOException})
   */
  static <T> T create(RpcClient client, String prefix, Class<T> api) {
    if (!api.isInterface()) {
      throw new IllegalArgumentException(api.getName() + " is not an interface");
    }
    Map<Method, Call> calls = new HashMap<>();
    for (Method m : api.getMethods()) {
      if (m.isDefault() || Modifier.isStatic(m.getModifiers())) {
        continue;
      }
      calls.put(m, resolve(prefix, m));
    }
    InvocationHandler h =
        (proxy, method, args) -> {
          Call call = calls.get(method);
          if (call != null) {
            return call.invoke(client, args);
          }
          if (method.isDefault()) {
            return InvocationHandler.invokeDefault(proxy, method, args);
          }
          return switch (method.getName()) {
            case "toString" -> "RpcProxy[" + api.getSimpleName() + "]";
            case "hashCode" -> System.identityHashCode(proxy);
            case "equals" -> proxy == args[0];
            default -> throw new UnsupportedOperationException(method.toString());
          };
        };
    return api.cast(Proxy.newProxyInstance(api.getClassLoader(), new Class<?>[] {api}, h));
  }

  private static Call resolve(String prefix, Method m) {
    String where = Endpoints.describe(m);
    boolean declaresIo = false;
    for (Class<?> e : m.getExceptionTypes()) {
      declaresIo |= e.isAssignableFrom(IOException.class);
    }
    if (!declaresIo) {
      throw new IllegalArgumentException(where + " must declare throws IOException");
    }
    int request = -1;
    int body = -1;
    Class<?>[] types = m.getParameterTypes();
    for (int i = 0; i < types.length; i++) {
      if (types[i] == InputStream.class) {
        if (body >= 0) {
          throw new IllegalArgumentException(where + " has more than one InputStream parameter");
        }
        body = i;
      } else {
        if (request >= 0) {
          throw new IllegalArgumentException(where + " has more than one request parameter");
        }
        request = i;
      }
    }
    return new Call(Endpoints.endpointName(prefix, m), request, body, m.getGenericReturnType());
  }

  private record Call(String endpoint, int request, int body, Type returns) {
    @Nullable Object invoke(RpcClient client, @Nullable Object[] args) throws IOException {
      Object req = request >= 0 && args != null ? args[request] : null;
      InputStream b = body >= 0 && args != null ? (InputStream) args[body] : null;
      return client.call(endpoint, req, b, returns);
    }
  }
}
