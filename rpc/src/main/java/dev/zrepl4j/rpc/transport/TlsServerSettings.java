package dev.zrepl4j.rpc.transport;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * A {@code tls} serve: PEM files and the client certificate CNs admitted (each one a client
 * identity).
 *
 * @param ca the CA certificate(s) that client certificates must chain to; the only trust anchors
 * @param cert this server's certificate (and chain)
 * @param key this server's private key
 * @param clientCns the subject CNs admitted; a client's CN is its identity
 * @param handshakeTimeout how long a connection may take to complete its TLS handshake
 */
public record TlsServerSettings(
    Path ca, Path cert, Path key, List<String> clientCns, Duration handshakeTimeout) {
  public TlsServerSettings {
    clientCns = List.copyOf(clientCns);
    if (clientCns.isEmpty()) {
      throw new IllegalArgumentException("tls: client_cns is empty: no client could connect");
    }
    for (String cn : clientCns) {
      Identities.require("tls: client_cns", cn);
    }
    if (handshakeTimeout.isNegative() || handshakeTimeout.isZero()) {
      throw new IllegalArgumentException("tls: handshake_timeout must be positive");
    }
  }
}
