package dev.zrepl4j.rpc.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.rpc.RpcClient;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.RpcServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Mutual TLS with certificates made here by the real openssl CLI. */
class TlsIT {
  @TempDir static Path dir;
  static TestCerts certs;
  static final Duration DIAL = Duration.ofSeconds(5);
  static final RpcOptions OPTIONS = RpcOptions.defaults();

  RpcServer server;
  RpcServer.RpcListener listener;

  @BeforeAll
  static void certificates() throws Exception {
    certs = TestCerts.usual(dir);
    assertThat(Files.readString(f("server.key"))).contains("BEGIN EC PRIVATE KEY");
    assertThat(Files.readString(f("prod.key"))).contains("BEGIN RSA PRIVATE KEY");
    assertThat(Files.readString(f("other.key"))).contains("BEGIN PRIVATE KEY");
  }

  static Path f(String name) {
    return certs.dir().resolve(name);
  }

  static TlsClientSettings client(String name, String serverCn) {
    return new TlsClientSettings(f("ca.crt"), f(name + ".crt"), f(name + ".key"), serverCn);
  }

  @BeforeEach
  void listen() throws IOException {
    server = new RpcServer(OPTIONS).register("t", new Api());
    listener =
        Tls.listen(
            server,
            new InetSocketAddress("127.0.0.1", 0),
            new TlsServerSettings(
                f("ca.crt"),
                f("server.crt"),
                f("server.key"),
                List.of("prod", "dev"),
                Duration.ofSeconds(2)));
  }

  @AfterEach
  void close() throws Exception {
    listener.close();
    server.close();
  }

  RpcClient dial(String name, String serverCn) throws IOException {
    return Tls.dial("127.0.0.1", listener.port(), client(name, serverCn), DIAL, OPTIONS);
  }

  void assertServed(String name) throws IOException {
    try (RpcClient c = dial(name, "backup")) {
      var r = c.call("t.who", new Api.Req("x", 1), Api.Resp.class);
      assertThat(r.identity()).isEqualTo(name);
    }
  }

  @Test
  void mutualTlsCallSeesTheClientCnAsIdentity() throws IOException {
    try (RpcClient c = dial("prod", "backup")) {
      var r = c.call("t.who", new Api.Req("x", 7), Api.Resp.class);
      assertThat(r).isEqualTo(new Api.Resp("hi x", "prod", 7));
    }
  }

  @Test
  void serverCnMayBeADnsSan() throws IOException {
    try (RpcClient c = dial("prod", "backup.example")) {
      assertThat(c.call("t.who", new Api.Req("x", 1), Api.Resp.class).identity()).isEqualTo("prod");
    }
  }

  @Test
  void streamsSeveralMebibytesIntactBothWays() throws IOException {
    long n = 5L * 1024 * 1024 + 17;
    try (RpcClient c = dial("prod", "backup")) {
      try (InputStream in = c.callStream("t.bytes", new Api.Req("d", n))) {
        assertThat(Api.check(in)).isEqualTo(n);
      }
      var r = c.callWithBody("t.upload", new Api.Req("u", n), Api.pattern(n), Api.Resp.class);
      assertThat(r.count()).isEqualTo(n);
    }
  }

  @Test
  void refusesACertificateFromAnotherCa() throws IOException {
    assertThatThrownBy(
            () -> dial("rogue", "backup").call("t.who", new Api.Req("x", 1), Api.Resp.class))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("127.0.0.1:" + listener.port())
        // the server's alert comes during the client's handshake or right after it
        .message()
        .containsAnyOf("refused this client", "handshake with");
    assertServed("prod");
  }

  @Test
  void refusesACnNotInClientCns() throws IOException {
    assertThatThrownBy(
            () -> dial("other", "backup").call("t.who", new Api.Req("x", 1), Api.Resp.class))
        .isInstanceOf(dev.zrepl4j.rpc.RefusedException.class)
        .hasMessageContaining("127.0.0.1:" + listener.port() + " refused this client");
    assertServed("prod");
  }

  @Test
  void refusesPlainTcpOnTheTlsPort() throws IOException {
    assertThatThrownBy(
            () ->
                RpcClient.tcp("127.0.0.1", listener.port(), DIAL, OPTIONS)
                    .call("t.who", new Api.Req("x", 1), Api.Resp.class))
        .isInstanceOf(IOException.class);
    assertServed("prod");
  }

  @Test
  void clientRefusesAServerWithAnotherName() {
    assertThatThrownBy(() -> dial("prod", "db.example"))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("server_cn 'db.example'")
        .hasMessageContaining("CN=backup");
  }

  @Test
  void clientTrustsOnlyItsCa() {
    var s = new TlsClientSettings(f("ca2.crt"), f("prod.crt"), f("prod.key"), "backup");
    assertThatThrownBy(() -> Tls.dial("127.0.0.1", listener.port(), s, DIAL, OPTIONS))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("handshake");
  }

  @Test
  void aSilentClientStallsNobodyAndIsClosedAfterTheHandshakeTimeout() throws Exception {
    try (var silent = new Socket()) {
      silent.connect(new InetSocketAddress("127.0.0.1", listener.port()));
      long t0 = System.nanoTime();
      assertServed("prod"); // while the silent one is pending
      assertServed("prod");
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(2));
      silent.setSoTimeout(10_000);
      // closed by the server (after at most a TLS alert); a timeout here would throw
      assertThat(silent.getInputStream().readAllBytes().length).isLessThan(100);
      assertThat(Duration.ofNanos(System.nanoTime() - t0))
          .isGreaterThanOrEqualTo(Duration.ofMillis(1500));
    }
    assertServed("prod");
  }

  @Test
  void afterEveryKindOfRefusalAGoodClientIsServed() throws Exception {
    for (String bad : List.of("rogue", "other")) {
      try (RpcClient c = dial(bad, "backup")) {
        c.call("t.who", new Api.Req("x", 1), Api.Resp.class);
      } catch (IOException expected) {
        // refused
      }
    }
    try (var plain = new Socket("127.0.0.1", listener.port())) {
      plain
          .getOutputStream()
          .write("GET / HTTP/1.0\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      plain.setSoTimeout(5000);
      plain.getInputStream().readAllBytes();
    } catch (IOException expected) {
      // reset
    }
    assertServed("prod");
    // the server notices the good client's close on its own reader thread: wait for it
    long deadline = System.nanoTime() + 5_000_000_000L;
    while (server.activeConnections() > 0 && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertThat(server.activeConnections()).isZero();
  }

  @Test
  void checkLoadsEveryKeyFormatAndNamesTheBadFile() throws Exception {
    Tls.check(f("ca.crt"), f("server.crt"), f("server.key")); // SEC1
    Tls.check(f("ca.crt"), f("prod.crt"), f("prod.key")); // PKCS#1
    Tls.check(f("ca.crt"), f("other.crt"), f("other.key")); // PKCS#8
    assertThatThrownBy(() -> Tls.check(f("ca.crt"), f("prod.crt"), f("other.key")))
        .hasMessageContaining("other.key")
        .hasMessageContaining("does not belong");
    assertThatThrownBy(() -> Tls.check(f("ca.crt"), f("prod.key"), f("prod.key")))
        .hasMessageContaining("prod.key")
        .hasMessageContaining("no PEM certificate");
    assertThatThrownBy(() -> Tls.check(f("ca.crt"), f("prod.crt"), f("prod.crt")))
        .hasMessageContaining("prod.crt")
        .hasMessageContaining("no PEM private key");
    assertThatThrownBy(() -> Tls.check(f("missing.crt"), f("prod.crt"), f("prod.key")))
        .hasMessage("file " + f("missing.crt") + " does not exist");
  }
}
