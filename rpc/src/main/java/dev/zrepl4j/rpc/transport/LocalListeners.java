package dev.zrepl4j.rpc.transport;

import dev.zrepl4j.rpc.Caller;
import dev.zrepl4j.rpc.RpcClient;
import dev.zrepl4j.rpc.RpcServer;
import java.io.IOException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * The {@code local} transport: servers registered by listener name, dialed in-process by jobs of
 * the same daemon (zrepl's {@code listener_name}). One instance per daemon. Thread-safe.
 */
public final class LocalListeners {
  private final ConcurrentMap<String, RpcServer> servers = new ConcurrentHashMap<>();

  /**
   * Registers {@code server} under {@code listenerName} until the returned handle is closed.
   *
   * @throws IllegalStateException if the name is taken
   * @throws IllegalArgumentException for an empty name
   */
  public AutoCloseable register(String listenerName, RpcServer server) {
    if (listenerName.isEmpty()) {
      throw new IllegalArgumentException("empty local listener name");
    }
    if (servers.putIfAbsent(listenerName, server) != null) {
      throw new IllegalStateException(
          "local listener '" + listenerName + "' is already registered");
    }
    return () -> servers.remove(listenerName, server);
  }

  /**
   * An in-process client of the server registered under {@code listenerName}, calling as {@code
   * clientIdentity}. The caller closes it.
   *
   * @throws IOException if no server is registered under that name
   * @throws IllegalArgumentException if {@code clientIdentity} is not a valid client identity
   */
  public RpcClient dial(String listenerName, String clientIdentity) throws IOException {
    Identities.require("local client_identity", clientIdentity);
    RpcServer server = servers.get(listenerName);
    if (server == null) {
      throw new IOException(
          "no local listener '" + listenerName + "' (is the sink/source job in this daemon?)");
    }
    return server.local(new Caller(clientIdentity, "local"));
  }
}
