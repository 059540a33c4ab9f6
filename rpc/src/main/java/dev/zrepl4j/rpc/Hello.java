package dev.zrepl4j.rpc;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Body of the {@code zrepl4j.Hello} exchange that negotiates protocol version 1: the first call of
 * a zrepl4j client, answered by a zrepl4j server, refused (as an unregistered endpoint) by a seed
 * server. Also used as the ping of idle connections. Each side adapts its timings to the peer's
 * ({@link Conn#adoptPeerTimings}); a key missing from an older peer's hello reads as 0 (unknown).
 *
 * @param version highest protocol version the sender speaks (0 = seed only)
 * @param software name and version of the sender
 * @param idleTimeoutMillis the server closes connections idle this long (0 = never); 0 in requests
 * @param keepAliveMillis how often the sender sends keep-alive frames during a call
 * @param readTimeoutMillis how long the sender waits inside a message for a silent peer (0 = never;
 *     null from peers older than this key)
 * @param features extensions the sender offers beyond version 1 (our own: {@link #DIRECT_DATA});
 *     null from peers older than this key. A server answers with those it takes of the client's
 */
record Hello(
    int version,
    String software,
    long idleTimeoutMillis,
    long keepAliveMillis,
    @Nullable Long readTimeoutMillis,
    @Nullable List<String> features) {
  static final String ENDPOINT = "zrepl4j.Hello";
  static final int VERSION = 1;

  /** The direct data path (docs/DIRECT-PATH.md): a stream's bytes on a connection of their own. */
  static final String DIRECT_DATA = "direct-data/1";

  Hello(
      int version,
      String software,
      long idleTimeoutMillis,
      long keepAliveMillis,
      @Nullable Long readTimeoutMillis) {
    this(version, software, idleTimeoutMillis, keepAliveMillis, readTimeoutMillis, null);
  }

  /** Whether the sender offers {@code feature}. */
  boolean offers(String feature) {
    return features != null && features.contains(feature);
  }
}
