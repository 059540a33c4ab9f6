package dev.zrepl4j.daemon;

import dev.zrepl4j.config.Connect;
import dev.zrepl4j.config.Serve;
import dev.zrepl4j.replication.Dialer;
import dev.zrepl4j.rpc.RpcClient;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.RpcServer;
import dev.zrepl4j.rpc.transport.ClientMap;
import dev.zrepl4j.rpc.transport.LocalListeners;
import dev.zrepl4j.rpc.transport.Ssh;
import dev.zrepl4j.rpc.transport.SshSettings;
import dev.zrepl4j.rpc.transport.Stdinserver;
import dev.zrepl4j.rpc.transport.Tls;
import dev.zrepl4j.rpc.transport.TlsClientSettings;
import dev.zrepl4j.rpc.transport.TlsServerSettings;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;

/**
 * The daemon's transports: turns a job's {@code connect:} into a {@link Dialer} and its {@code
 * serve:} into a running listener. Owns the registry of {@code local} listeners, so a push job and
 * a sink job of the same daemon meet in-process. Thread-safe.
 */
final class Transports {
  private final LocalListeners local = new LocalListeners();
  private final Path stdinserverSockdir;
  private final RpcOptions options;

  /** The RPC options of the jobs' connections. */
  RpcOptions options() {
    return options;
  }

  Transports(Path stdinserverSockdir, RpcOptions options) {
    this.stdinserverSockdir = stdinserverSockdir;
    this.options = options;
  }

  Dialer dialer(Connect connect) {
    return switch (connect) {
      case Connect.Tcp t -> Dialer.tcp(t.host(), t.port(), t.dialTimeout(), options);
      case Connect.Tls t -> {
        var settings = new TlsClientSettings(t.ca(), t.cert(), t.key(), t.serverCn());
        yield () -> Tls.dial(t.host(), t.port(), settings, t.dialTimeout(), options);
      }
      case Connect.Ssh s -> {
        var settings = new SshSettings(s.host(), s.user(), s.port(), s.identityFile(), s.options());
        yield () -> Ssh.dial(settings, s.dialTimeout(), options);
      }
      case Connect.Local l -> () -> dialLocal(l);
    };
  }

  /**
   * zrepl's local connect: waits up to {@code dial_timeout} for the sink or source to register its
   * listener (a daemon starting up, or a passive job being restarted).
   */
  private RpcClient dialLocal(Connect.Local l) throws IOException {
    long deadline = System.nanoTime() + l.dialTimeout().toNanos();
    while (true) {
      try {
        return local.dial(l.listenerName(), l.clientIdentity());
      } catch (IOException e) {
        if (System.nanoTime() - deadline >= 0) {
          throw new IOException(e.getMessage() + " within dial_timeout " + l.dialTimeout(), e);
        }
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("dialing local listener '" + l.listenerName() + "'");
      }
    }
  }

  /** Starts serving {@code server} as configured; closing the result stops accepting. */
  AutoCloseable serve(String job, Serve serve, RpcServer server) throws IOException {
    return switch (serve) {
      case Serve.Tcp t ->
          server.listenTcp(address(t.host(), t.port()), ClientMap.parse(t.clients()));
      case Serve.Tls t ->
          Tls.listen(
              server,
              address(t.host(), t.port()),
              new TlsServerSettings(
                  t.ca(), t.cert(), t.key(), t.clientCns(), t.handshakeTimeout()));
      case Serve.Stdinserver s ->
          Stdinserver.listen(server, stdinserverSockdir, s.clientIdentities());
      case Serve.Local l -> local.register(l.listenerName(), server);
    };
  }

  private static InetSocketAddress address(String host, int port) {
    return host.isEmpty() ? new InetSocketAddress(port) : new InetSocketAddress(host, port);
  }
}
