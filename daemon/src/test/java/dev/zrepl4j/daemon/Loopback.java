package dev.zrepl4j.daemon;

import dev.zrepl4j.replication.Dialer;
import dev.zrepl4j.rpc.RpcClient;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.Transport;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;

/**
 * TCP connections from a chosen loopback address ({@code 127.0.0.x}): a {@code tcp} serve's {@code
 * clients:} map names a client by its address, so each address is one client identity.
 */
final class Loopback {
  private Loopback() {}

  /**
   * A connected channel from {@code from} (port chosen by the system) to 127.0.0.1:{@code port}.
   */
  static SocketChannel connect(String from, int port) throws IOException {
    var ch = SocketChannel.open();
    try {
      ch.bind(new InetSocketAddress(from, 0));
      ch.socket().connect(new InetSocketAddress("127.0.0.1", port), 10_000);
      return ch;
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  /** An RPC client from {@code from} to 127.0.0.1:{@code port}. */
  static RpcClient client(String from, int port, RpcOptions options) throws IOException {
    var ch = connect(from, port);
    try {
      return RpcClient.connect(Transport.of(ch), options);
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  /** A dialer of {@link #client}. */
  static Dialer dialer(String from, int port, RpcOptions options) {
    return () -> client(from, port, options);
  }
}
