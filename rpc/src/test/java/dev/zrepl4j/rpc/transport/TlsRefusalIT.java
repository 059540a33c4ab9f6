package dev.zrepl4j.rpc.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.rpc.RefusedException;
import dev.zrepl4j.rpc.RpcClient;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.RpcServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Bad certificates are refused on both sides with a clear error (issue 13): expired, not yet valid,
 * from another CA, with the wrong CN, self-signed; each certificate made here by openssl. After
 * each refusal the server still serves a good client.
 */
class TlsRefusalIT {
  @TempDir static Path dir;
  static TestCerts certs;
  static final Duration DIAL = Duration.ofSeconds(5);
  static final RpcOptions OPTIONS = RpcOptions.defaults();

  RpcServer server;
  RpcServer.RpcListener listener;

  @BeforeAll
  static void certificates() throws Exception {
    certs = TestCerts.usual(dir);
    Instant now = Instant.now();
    Instant longAgo = now.minus(Duration.ofDays(10));
    Instant yesterday = now.minus(Duration.ofDays(1));
    Instant tomorrow = now.plus(Duration.ofDays(1));
    Instant later = now.plus(Duration.ofDays(10));
    var ec = TestCerts.KeyType.EC_PKCS8;
    // clients, all with the admitted CN prod unless the case is the CN
    certs.clientValid("c-expired", "prod", "ca", ec, longAgo, yesterday);
    certs.clientValid("c-not-yet-valid", "prod", "ca", ec, tomorrow, later);
    certs.client("c-wrong-ca", "prod", "ca2", ec);
    certs.client("c-wrong-cn", "intruder", "ca", ec);
    certs.selfSigned("c-self-signed", "prod", ec);
    // servers, all naming backup unless the case is the CN
    certs.serverValid("s-expired", "backup", "ca", ec, longAgo, yesterday, "localhost");
    certs.serverValid("s-not-yet-valid", "backup", "ca", ec, tomorrow, later, "localhost");
    certs.server("s-wrong-ca", "backup", "ca2", ec, "localhost");
    certs.server("s-wrong-cn", "intruder", "ca", ec, "intruder.example");
    certs.selfSigned("s-self-signed", "backup", ec, "localhost");
  }

  static Path f(String name) {
    return certs.dir().resolve(name);
  }

  private RpcServer.RpcListener listenAs(RpcServer s, String serverCert) throws IOException {
    return Tls.listen(
        s,
        new InetSocketAddress("127.0.0.1", 0),
        new TlsServerSettings(
            f("ca.crt"),
            f(serverCert + ".crt"),
            f(serverCert + ".key"),
            List.of("prod"),
            Duration.ofSeconds(2)));
  }

  @BeforeEach
  void listen() throws IOException {
    server = new RpcServer(OPTIONS).register("t", new Api());
    listener = listenAs(server, "server");
  }

  @AfterEach
  void close() throws Exception {
    listener.close();
    server.close();
  }

  RpcClient dial(int port, String clientCert) throws IOException {
    return Tls.dial(
        "127.0.0.1",
        port,
        new TlsClientSettings(
            f("ca.crt"), f(clientCert + ".crt"), f(clientCert + ".key"), "backup"),
        DIAL,
        OPTIONS);
  }

  void assertGoodClientServed() throws IOException {
    try (RpcClient c = dial(listener.port(), "prod")) {
      assertThat(c.call("t.who", new Api.Req("x", 1), Api.Resp.class).identity()).isEqualTo("prod");
    }
  }

  @ParameterizedTest(name = "server refuses a client certificate: {0}")
  @CsvSource({
    "c-expired, expired on",
    "c-not-yet-valid, is not yet valid: valid from",
    "c-wrong-ca, is not issued by the configured ca",
    "c-wrong-cn, client certificate CN 'intruder' is not in client_cns",
    "c-self-signed, is self-signed, not issued by the configured ca"
  })
  void theServerRefusesABadClientCertificateAndServesAGoodClientAfterwards(String cert, String why)
      throws Exception {
    // the server's reason is in its log (the client sees only a TLS alert or a closed connection)
    var log = new ByteArrayOutputStream();
    PrintStream err = System.err;
    System.setErr(new PrintStream(new TeeStream(err, log), true, StandardCharsets.UTF_8));
    try {
      assertThatThrownBy(
              () -> {
                try (RpcClient c = dial(listener.port(), cert)) {
                  c.call("t.who", new Api.Req("x", 1), Api.Resp.class);
                }
              })
          .isInstanceOf(IOException.class)
          .hasMessageContaining("127.0.0.1:" + listener.port())
          .message()
          .containsAnyOf("refused this client", "handshake with");
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      while (!logged(log).contains(why) && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertThat(logged(log)).contains("tls: refusing connection from /127.0.0.1:").contains(why);
    } finally {
      System.setErr(err);
    }
    assertGoodClientServed();
  }

  private static String logged(ByteArrayOutputStream log) {
    synchronized (log) {
      return log.toString(StandardCharsets.UTF_8);
    }
  }

  /** Writes to the real standard error and to a buffer. */
  private static final class TeeStream extends OutputStream {
    private final OutputStream a;
    private final ByteArrayOutputStream b;

    TeeStream(OutputStream a, ByteArrayOutputStream b) {
      this.a = a;
      this.b = b;
    }

    @Override
    public void write(int x) throws IOException {
      a.write(x);
      synchronized (b) {
        b.write(x);
      }
    }

    @Override
    public void write(byte[] x, int off, int len) throws IOException {
      a.write(x, off, len);
      synchronized (b) {
        b.write(x, off, len);
      }
    }
  }

  @ParameterizedTest(name = "client refuses a server certificate: {0}")
  @CsvSource({
    "s-expired, expired on",
    "s-not-yet-valid, is not yet valid: valid from",
    "s-wrong-ca, is not issued by the configured ca",
    "s-wrong-cn, not for server_cn 'backup'",
    "s-self-signed, is self-signed, not issued by the configured ca"
  })
  void theClientRefusesABadServerCertificate(String cert, String why) throws Exception {
    try (var bad = new RpcServer(OPTIONS).register("t", new Api());
        var l = listenAs(bad, cert)) {
      assertThatThrownBy(() -> dial(l.port(), "prod").close())
          .isInstanceOf(RefusedException.class)
          .hasMessageContaining("127.0.0.1:" + l.port())
          .hasMessageContaining(why);
      // the server learns of the client's refusal when its handshake read fails: soon, not at once
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      while (bad.activeConnections() != 0 && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertThat(bad.activeConnections()).isZero();
    }
    assertGoodClientServed();
  }
}
