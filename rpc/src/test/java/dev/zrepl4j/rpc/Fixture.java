package dev.zrepl4j.rpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/** A server with {@link TestApi} registered as "t" and a client of it over one transport. */
final class Fixture implements AutoCloseable {
  enum Kind {
    TCP,
    UNIX,
    STREAMS,
    LOCAL
  }

  final RpcServer server;
  final RpcClient client;
  private final AutoCloseable listener;
  private final Path dir;

  Fixture(Kind kind) throws IOException {
    this(kind, RpcOptions.defaults());
  }

  Fixture(Kind kind, RpcOptions options) throws IOException {
    this(kind, options, c -> {});
  }

  /** With {@code hook} seeing each connection's caller ({@link RpcServer#onConnection}). */
  Fixture(Kind kind, RpcOptions options, java.util.function.Consumer<Caller> hook)
      throws IOException {
    server =
        new RpcServer(options)
            .register("t", new TestApi())
            .register(new SeedEndpoints())
            .onConnection(hook);
    dir = Files.createTempDirectory("rpc-test");
    switch (kind) {
      case TCP -> {
        var l =
            server.listenTcp(
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
                a -> Optional.of("client-" + a.getAddress().getHostAddress()));
        listener = l;
        client = RpcClient.tcp("127.0.0.1", l.port(), Duration.ofSeconds(5), options);
      }
      case UNIX -> {
        Path p = dir.resolve("rpc.sock");
        listener = server.listenUnix(p, "unix-client");
        client = RpcClient.unix(p, options);
      }
      case STREAMS -> {
        Socket[] pair = Loopback.pair();
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    var s = pair[1];
                    server.serve(
                        Transport.of(s.getInputStream(), s.getOutputStream(), "stdio", s),
                        new Caller("ssh-client", "stdio"));
                  } catch (IOException e) {
                    throw new IllegalStateException(e);
                  }
                });
        var c = pair[0];
        listener = () -> {};
        client =
            RpcClient.connect(
                Transport.of(c.getInputStream(), c.getOutputStream(), "stdio", c), options);
      }
      case LOCAL -> {
        listener = () -> {};
        client = server.local(new Caller("local-client", "local"));
      }
      default -> throw new IllegalArgumentException(kind.toString());
    }
  }

  /** Reads a stream to its end (checking it); fails as the stream does. */
  @FunctionalInterface
  interface StreamCheck {
    long check(InputStream in) throws IOException;
  }

  /**
   * Calls {@code endpoint}, whose stream fails on the server at byte 5,000,000: reading it with
   * {@code check} raises the server's error, and the connection then still serves a call.
   */
  void assertFailsMidwayAndStaysUsable(String endpoint, StreamCheck check) throws IOException {
    InputStream in = client.callStream(endpoint, new TestApi.Req("", 5_000_000));
    assertThatThrownBy(() -> check.check(in))
        .isInstanceOf(RemoteException.class)
        .hasMessageContaining("zfs send: boom at 5000000");
    in.close();
    assertThat(client.call("t.hello", new TestApi.Req("again", 1), TestApi.Resp.class).text())
        .isEqualTo("hi again");
  }

  @Override
  public void close() throws Exception {
    client.close();
    listener.close();
    server.close();
    // no connection may outlive its server (leak check)
    long deadline = System.nanoTime() + 2_000_000_000L;
    while (server.activeConnections() > 0 && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    if (server.activeConnections() > 0) {
      throw new AssertionError(server.activeConnections() + " connections left after close");
    }
    try (var s = Files.list(dir)) {
      s.forEach(p -> p.toFile().delete());
    }
    Files.deleteIfExists(dir);
  }
}
