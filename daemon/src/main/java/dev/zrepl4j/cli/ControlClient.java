package dev.zrepl4j.cli;

import dev.zrepl4j.config.DaemonConfig;
import dev.zrepl4j.daemon.Control;
import dev.zrepl4j.rpc.RpcClient;
import dev.zrepl4j.rpc.RpcOptions;
import java.io.IOException;
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
    try (var c = RpcClient.unix(sock, RpcOptions.defaults())) {
      return c.call(Control.PREFIX + "." + endpoint, request, type);
    }
  }
}
