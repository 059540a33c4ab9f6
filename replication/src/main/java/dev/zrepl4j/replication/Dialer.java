package dev.zrepl4j.replication;

import dev.zrepl4j.rpc.RpcClient;
import dev.zrepl4j.rpc.RpcOptions;
import java.io.IOException;
import java.time.Duration;

/** Opens a new connection to the remote side; called again to reconnect. Thread-safe. */
@FunctionalInterface
public interface Dialer {
  /**
   * @return a new client; the caller closes it
   * @throws IOException if the peer cannot be reached
   */
  RpcClient dial() throws IOException;

  /** Dials {@code host:port} over TCP. */
  static Dialer tcp(String host, int port, Duration dialTimeout, RpcOptions options) {
    return () -> RpcClient.tcp(host, port, dialTimeout, options);
  }
}
