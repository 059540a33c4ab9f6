package dev.zrepl4j.cli;

import dev.zrepl4j.config.DaemonConfig;
import dev.zrepl4j.daemon.Control;
import dev.zrepl4j.rpc.RpcClient;
import dev.zrepl4j.rpc.RpcOptions;
import java.io.IOException;
import java.net.SocketException;
import java.nio.file.Files;

/** Calls the running daemon over its control socket. */
final class ControlClient {
  private ControlClient() {}

  static <T> T call(DaemonConfig config, String endpoint, Object request, Class<T> type)
      throws IOException {
    var sock = config.global().controlSockpath();
    if (!Files.exists(sock)) {
      throw new IOException(
          "no control socket at " + sock + ": is the daemon running with this config?");
    }
    RpcClient c;
    try {
      c = RpcClient.unix(sock, RpcOptions.defaults());
    } catch (SocketException e) {
      // a socket file left by a daemon that is gone: refused, not a mystery
      throw new IOException(
          "no daemon answers on the control socket " + sock + ": " + e.getMessage(), e);
    }
    try (c) {
      return c.call(Control.PREFIX + "." + endpoint, request, type);
    }
  }
}
