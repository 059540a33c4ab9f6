package dev.zrepl4j.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/** {@code serve:} of a passive job: how active jobs reach it, and who they are. */
public sealed interface Serve {
  /**
   * {@code type: tcp}.
   *
   * @param host the address to bind ("" = all interfaces, as in {@code ":8888"})
   * @param clients IP or CIDR to client identity; a CIDR's identity contains {@code *}, replaced by
   *     the client's address
   */
  record Tcp(String host, int port, boolean listenFreebind, Map<String, String> clients)
      implements Serve {
    public Tcp {
      clients = Map.copyOf(clients);
    }
  }

  /** {@code type: tls}: the client's identity is its certificate's CN, one of {@code clientCns}. */
  record Tls(
      String host,
      int port,
      boolean listenFreebind,
      Path ca,
      Path cert,
      Path key,
      List<String> clientCns,
      Duration handshakeTimeout)
      implements Serve {
    public Tls {
      clientCns = List.copyOf(clientCns);
    }
  }

  /**
   * {@code type: stdinserver}: one Unix socket per identity in {@code
   * global.serve.stdinserver.sockdir}, reached through {@code zrepl4j stdinserver ID}.
   */
  record Stdinserver(List<String> clientIdentities) implements Serve {
    public Stdinserver {
      clientIdentities = List.copyOf(clientIdentities);
    }
  }

  /** {@code type: local}. */
  record Local(String listenerName) implements Serve {}
}
