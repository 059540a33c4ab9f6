package dev.zrepl4j.rpc;

/**
 * Body of the {@code zrepl4j.Hello} exchange that negotiates protocol version 1: the first call of
 * a zrepl4j client, answered by a zrepl4j server, refused (as an unregistered endpoint) by a seed
 * server. Also used as the ping of idle connections.
 *
 * @param version highest protocol version the sender speaks (0 = seed only)
 * @param software name and version of the sender
 * @param idleTimeoutMillis the server closes connections idle this long (0 = never); 0 in requests
 * @param keepAliveMillis how often the sender sends keep-alive frames during a call
 */
record Hello(int version, String software, long idleTimeoutMillis, long keepAliveMillis) {
  static final String ENDPOINT = "zrepl4j.Hello";
  static final int VERSION = 1;
}
