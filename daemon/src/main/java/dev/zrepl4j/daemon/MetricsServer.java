package dev.zrepl4j.daemon;

import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@code global.monitoring} of type {@code prometheus}: the Prometheus text exposition format on
 * {@code http://LISTEN/metrics}, served by the Prometheus Java client's HTTP server on virtual
 * threads. Thread-safe; {@link #close()} is idempotent.
 */
final class MetricsServer implements AutoCloseable {
  private final HTTPServer server;
  private final ExecutorService executor;
  private final AtomicBoolean closed = new AtomicBoolean();

  private MetricsServer(HTTPServer server, ExecutorService executor) {
    this.server = server;
    this.executor = executor;
  }

  /**
   * Listens on {@code listen} ({@code host:port}, {@code :port} for every address, {@code
   * [v6]:port}).
   *
   * @throws IOException naming {@code listen} if it cannot be resolved or bound
   */
  static MetricsServer start(String listen, Metrics metrics) throws IOException {
    var address = address(listen);
    var executor =
        Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("metrics-", 0).factory());
    try {
      var server =
          HTTPServer.builder()
              .inetAddress(address.getAddress())
              .port(address.getPort())
              .registry(metrics.registry())
              .executorService(executor)
              .buildAndStart();
      return new MetricsServer(server, executor);
    } catch (IOException e) {
      executor.close();
      throw new IOException(
          "global.monitoring: cannot listen on " + listen + " (prometheus): " + e, e);
    }
  }

  /** {@code host:port}, {@code :port} (every address) or {@code [v6]:port}. */
  static InetSocketAddress address(String listen) throws IOException {
    int colon = listen.lastIndexOf(':');
    if (colon < 0) {
      throw new IOException("global.monitoring: listen '" + listen + "' has no port");
    }
    var host = listen.substring(0, colon);
    int port;
    try {
      port = Integer.parseInt(listen.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IOException("global.monitoring: listen '" + listen + "': bad port", e);
    }
    if (port < 0 || port > 65535) {
      throw new IOException("global.monitoring: listen '" + listen + "': port out of range");
    }
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    if (host.isEmpty()) {
      return new InetSocketAddress(port);
    }
    try {
      return new InetSocketAddress(InetAddress.getByName(host), port);
    } catch (UnknownHostException e) {
      throw new IOException(
          "global.monitoring: cannot listen on " + listen + ": unknown host " + host, e);
    }
  }

  /** The port it listens on (the one chosen when {@code listen} said port 0). */
  int port() {
    return server.getPort();
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    server.close();
    executor.close();
  }
}
