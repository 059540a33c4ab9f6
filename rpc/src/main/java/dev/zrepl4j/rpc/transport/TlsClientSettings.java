package dev.zrepl4j.rpc.transport;

import java.nio.file.Path;

/**
 * A {@code tls} connect: PEM files and the name the server's certificate must carry.
 *
 * @param ca the CA certificate(s) the server's certificate must chain to; the only trust anchors
 * @param cert this client's certificate (and chain); its subject CN is this client's identity
 * @param key this client's private key
 * @param serverCn the server certificate's subject CN, or one of its DNS subject alternative names
 */
public record TlsClientSettings(Path ca, Path cert, Path key, String serverCn) {
  public TlsClientSettings {
    if (serverCn.isEmpty()) {
      throw new IllegalArgumentException("tls: server_cn is empty");
    }
  }
}
