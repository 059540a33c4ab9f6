package dev.zrepl4j.rpc;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Type;
import java.net.InetSocketAddress;
import java.net.ProtocolException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * Calls endpoints by name, over a connection or in-process. One call at a time: a caller that
 * arrives while a call (or its response stream) is in progress waits for it.
 *
 * <p>A response stream ({@link #callStream}) must be read to its end or closed before the next
 * call; closing it early ends the connection (the rest cannot be skipped cheaply). A stream that
 * fails on the server after it started ends with the server's error as a {@link RemoteException}
 * (protocol version 1) or as a reset connection (seed peers).
 */
public interface RpcClient extends AutoCloseable {

  /**
   * The one call primitive: every other method is built on it.
   *
   * @param request the JSON request, or null for endpoints that take none
   * @param body a request body to stream (protocol version 1 only), or null; read to its end, not
   *     closed
   * @param responseType the JSON response type, {@code void.class}, or {@code InputStream.class}
   *     for an octet response
   * @return the response; null only for void
   * @throws RemoteException for an error the server returned
   * @throws IOException for transport and protocol failures
   */
  @Nullable Object call(
      String endpoint, @Nullable Object request, @Nullable InputStream body, Type responseType)
      throws IOException;

  /** A JSON call. */
  default <T> T call(String endpoint, Object request, Class<T> responseType) throws IOException {
    return nonNull(endpoint, responseType.cast(call(endpoint, request, null, responseType)));
  }

  /** A call whose response is an octet stream; the caller closes it. */
  default InputStream callStream(String endpoint, Object request) throws IOException {
    return nonNull(endpoint, (InputStream) call(endpoint, request, null, InputStream.class));
  }

  /** A call with a JSON request followed by a streamed request body (e.g. push). */
  default <T> T callWithBody(
      String endpoint, Object request, InputStream body, Class<T> responseType) throws IOException {
    return nonNull(endpoint, responseType.cast(call(endpoint, request, body, responseType)));
  }

  /** A call whose response is discarded (void endpoints). */
  default void invoke(String endpoint, Object request) throws IOException {
    call(endpoint, request, null, void.class);
  }

  /** A typed proxy: each interface method calls the endpoint of its name (or {@link RpcName}). */
  default <T> T proxy(Class<T> api) {
    return Proxies.create(this, "", api);
  }

  /** A typed proxy for endpoints registered as {@code prefix.method}. */
  default <T> T proxy(String prefix, Class<T> api) {
    return Proxies.create(this, prefix, api);
  }

  /** Whether calls can still be made (a network client whose connection ended cannot). */
  boolean isOpen();

  /** Whether the peer negotiated protocol version 1 (always true for local clients). */
  boolean extensions();

  /** Sends the seed's close (an RST frame) and closes the transport. Idempotent. */
  @Override
  void close() throws IOException;

  /** A client over an established transport; negotiates the protocol version unless seed-only. */
  static RpcClient connect(Transport transport, RpcOptions options) throws IOException {
    return NetClient.open(transport, options);
  }

  /** A client over TCP. */
  static RpcClient tcp(String host, int port, Duration dialTimeout, RpcOptions options)
      throws IOException {
    var ch = SocketChannel.open();
    try {
      // the adaptor's connect has the timeout that SocketChannel.connect lacks
      var address = new InetSocketAddress(host, port);
      ch.socket().connect(address, (int) dialTimeout.toMillis());
      // the direct data path's data connections go to the very address this one reached
      var reached = (InetSocketAddress) ch.getRemoteAddress();
      return NetClient.open(
          Transport.of(ch),
          options,
          () -> {
            var data = SocketChannel.open();
            try {
              data.socket().connect(reached, (int) dialTimeout.toMillis());
              return data;
            } catch (IOException | RuntimeException e) {
              data.close();
              throw e;
            }
          });
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  /**
   * Prepares the JSON codec for calls with these request and response types (serializers and
   * deserializers built and cached), e.g. on a thread of its own while a short-lived command reads
   * its config and connects: ~30-40 ms of CPU that is then off its critical path. Optional.
   */
  static void prepare(java.lang.reflect.Type... types) {
    Json.prepare(java.util.List.of(types));
  }

  /** A client over a Unix domain socket. */
  static RpcClient unix(Path path, RpcOptions options) throws IOException {
    var ch = SocketChannel.open(StandardProtocolFamily.UNIX);
    try {
      ch.connect(UnixDomainSocketAddress.of(path));
      return connect(Transport.of(ch), options);
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  private static <T> T nonNull(String endpoint, @Nullable T value) throws ProtocolException {
    if (value == null) {
      throw new ProtocolException("endpoint " + endpoint + " returned null");
    }
    return value;
  }
}
