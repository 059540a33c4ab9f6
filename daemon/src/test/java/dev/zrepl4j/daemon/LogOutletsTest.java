package dev.zrepl4j.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.LoggerContext;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.zrepl4j.config.DaemonConfig;
import dev.zrepl4j.config.DaemonConfig.LogOutlet;
import dev.zrepl4j.rpc.transport.TestCerts;
import dev.zrepl4j.rpc.transport.Tls;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The log outlets on real sockets: a TCP and a TLS listener made here, stdout captured. The syslog
 * outlet's test with a real rsyslogd is {@link LogOutletsIT}.
 */
class LogOutletsTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;
  private final List<AutoCloseable> closeLater = new ArrayList<>();
  private final ByteArrayOutputStream stdout = new ByteArrayOutputStream();

  @AfterEach
  void closeAll() throws Exception {
    for (var c : closeLater.reversed()) {
      c.close();
    }
  }

  private LogOutlets install(List<LogOutlet> outlets, int buffer) throws IOException {
    var ctx = new LoggerContext();
    ctx.start();
    var o =
        LogOutlets.install(
            outlets,
            ctx,
            new LogOutlets.Options(
                new PrintStream(stdout, true, StandardCharsets.UTF_8),
                false,
                List.of(dir.resolve("no-syslog-here")),
                ZoneOffset.UTC,
                buffer));
    closeLater.add(o);
    closeLater.add(ctx::stop);
    this.ctx = ctx;
    return o;
  }

  private LoggerContext ctx = new LoggerContext();

  private org.slf4j.Logger logger(String name) {
    return ctx.getLogger(name);
  }

  private List<String> stdoutLines() {
    var s = stdout.toString(StandardCharsets.UTF_8);
    return s.isEmpty() ? List.of() : List.of(s.split("\n"));
  }

  static void await(BooleanSupplier cond, Duration max, String what) throws InterruptedException {
    long deadline = System.nanoTime() + max.toNanos();
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what);
      }
      Thread.sleep(20);
    }
  }

  /** A listener that keeps every line it receives, over plain TCP or TLS. */
  static final class LineServer implements AutoCloseable {
    final ServerSocket server;
    final List<String> lines = new CopyOnWriteArrayList<>();
    final List<String> peers = new CopyOnWriteArrayList<>();
    private final Thread acceptor;

    LineServer(ServerSocket server) {
      this.server = server;
      this.acceptor = Thread.ofVirtual().start(this::accept);
    }

    int port() {
      return server.getLocalPort();
    }

    private void accept() {
      while (!server.isClosed()) {
        Socket s;
        try {
          s = server.accept();
        } catch (IOException e) {
          return;
        }
        Thread.ofVirtual().start(() -> read(s));
      }
    }

    private void read(Socket s) {
      try (s;
          var r =
              new BufferedReader(
                  new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8))) {
        if (s instanceof SSLSocket t) {
          t.startHandshake();
          var cert = (java.security.cert.X509Certificate) t.getSession().getPeerCertificates()[0];
          peers.add(cert.getSubjectX500Principal().getName());
        }
        String line;
        while ((line = r.readLine()) != null) {
          lines.add(line);
        }
      } catch (IOException e) {
        // the client went away
      }
    }

    @Override
    public void close() throws Exception {
      server.close();
      acceptor.join();
    }
  }

  private LineServer plainServer() throws IOException {
    var s = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    var l = new LineServer(s);
    closeLater.add(l);
    return l;
  }

  private static LogOutlet.Tcp tcp(String level, String format, int port, Duration retry) {
    return new LogOutlet.Tcp(level, format, "tcp", "127.0.0.1", port, retry, null);
  }

  @Test
  void eachOutletWritesFromItsOwnLevelUp() throws Exception {
    var server = plainServer();
    var o =
        install(
            List.of(
                new LogOutlet.Stdout("warn", "logfmt", false, false),
                tcp("debug", "json", server.port(), Duration.ofSeconds(5))),
            OutletAppender.BUFFER);
    var log = logger("dev.zrepl4j.replication.Replication");
    try (var _ = LogContext.job("prod")) {
      log.debug("d");
      log.info("i");
      log.warn("w");
      log.error("e");
    }
    await(() -> server.lines.size() >= 4, Duration.ofSeconds(10), "4 lines on tcp");
    await(() -> stdoutLines().size() >= 2, Duration.ofSeconds(10), "2 lines on stdout");
    var tcpLevels = new ArrayList<String>();
    for (var l : server.lines) {
      Map<String, Object> m = JSON.readValue(l, new TypeReference<>() {});
      tcpLevels.add((String) m.get("level"));
      assertThat(m).containsEntry("job", "prod").containsEntry("subsystem", "repl");
    }
    assertThat(tcpLevels).containsExactly("debug", "info", "warn", "error");
    var out = stdoutLines().stream().map(Logfmt::parse).toList();
    assertThat(out).extracting(m -> m.get("level")).containsExactly("warn", "error");
    assertThat(out).extracting(m -> m.get("msg")).containsExactly("w", "e");
    assertThat(out.getFirst()).containsEntry("job", "prod").containsEntry("subsystem", "repl");
    assertThat(out.getFirst()).doesNotContainKey("time"); // time: false and not a terminal
    assertThat(o.stats().entries("debug")).isEqualTo(1);
    assertThat(o.stats().entries()).containsEntry(new LogStats.Key("prod", "repl", "warn"), 1L);
  }

  @Test
  void threadsAJobStartsLogWithItsName() throws Exception {
    install(List.of(new LogOutlet.Stdout("info", "logfmt", false, false)), OutletAppender.BUFFER);
    var log = logger("dev.zrepl4j.rpc.transport.Tls");
    Thread t;
    try (var _ = LogContext.job("sink")) {
      t = Thread.ofPlatform().unstarted(() -> Thread.ofVirtual().start(() -> log.info("x")));
    }
    t.start();
    t.join();
    log.info("outside");
    await(() -> stdoutLines().size() >= 2, Duration.ofSeconds(10), "2 lines");
    var byMsg = new java.util.HashMap<String, Map<String, String>>();
    stdoutLines().stream().map(Logfmt::parse).forEach(m -> byMsg.put(m.get("msg"), m));
    assertThat(byMsg.get("x")).containsEntry("job", "sink").containsEntry("subsystem", "transport");
    assertThat(byMsg.get("outside")).doesNotContainKey("job");
  }

  @Test
  void tcpOutletSpeaksTlsWithItsClientCertificate() throws Exception {
    var certs = TestCerts.usual(dir.resolve("certs"));
    var sctx = Tls.context(certs.crt("ca"), certs.crt("server"), certs.key("server"));
    var ss = (SSLServerSocket) sctx.getServerSocketFactory().createServerSocket();
    ss.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    ss.setNeedClientAuth(true);
    var server = new LineServer(ss);
    closeLater.add(server);
    install(
        List.of(
            new LogOutlet.Tcp(
                "info",
                "logfmt",
                "tcp",
                "localhost",
                server.port(),
                Duration.ofSeconds(5),
                new DaemonConfig.OutletTls(certs.crt("ca"), certs.crt("prod"), certs.key("prod")))),
        OutletAppender.BUFFER);
    try (var _ = LogContext.job("push")) {
      logger("dev.zrepl4j.replication.Sender").info("sent {} bytes", 42);
    }
    await(() -> !server.lines.isEmpty(), Duration.ofSeconds(10), "a line over TLS");
    var m = Logfmt.parse(server.lines.getFirst());
    assertThat(m)
        .containsEntry("level", "info")
        .containsEntry("job", "push")
        .containsEntry("subsystem", "endpoint")
        .containsEntry("msg", "sent 42 bytes")
        .containsKey("time");
    assertThat(server.peers).containsExactly("CN=prod");
  }

  @Test
  void tlsOutletRefusesAServerItsCaDidNotSign() throws Exception {
    var certs = TestCerts.usual(dir.resolve("certs"));
    certs.server("imposter", "localhost", "ca2", TestCerts.KeyType.EC_PKCS8, "localhost");
    var sctx = Tls.context(certs.crt("ca"), certs.crt("imposter"), certs.key("imposter"));
    var ss = (SSLServerSocket) sctx.getServerSocketFactory().createServerSocket();
    ss.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    var server = new LineServer(ss);
    closeLater.add(server);
    var o =
        install(
            List.of(
                new LogOutlet.Stdout("error", "human", false, false),
                new LogOutlet.Tcp(
                    "info",
                    "json",
                    "tcp",
                    "localhost",
                    server.port(),
                    Duration.ofSeconds(30),
                    new DaemonConfig.OutletTls(
                        certs.crt("ca"), certs.crt("prod"), certs.key("prod")))),
            OutletAppender.BUFFER);
    logger("dev.zrepl4j.daemon.Daemon").info("secret");
    await(() -> !stdoutLines().isEmpty(), Duration.ofSeconds(10), "the outlet's error on stdout");
    assertThat(stdoutLines().getFirst())
        .contains("[ERRO][logging]: cannot write to this outlet")
        .contains("tcp+tls localhost:" + server.port());
    assertThat(server.lines).isEmpty();
    await(() -> o.stats().dropped() == 1, Duration.ofSeconds(5), "the entry counted as dropped");
  }

  @Test
  void tcpOutletDialsOnlyTheAddressFamilyOfItsNet() throws Exception {
    var server = plainServer();
    var o =
        install(
            List.of(
                new LogOutlet.Stdout("error", "logfmt", false, false),
                new LogOutlet.Tcp(
                    "info",
                    "logfmt",
                    "tcp6",
                    "127.0.0.1",
                    server.port(),
                    Duration.ofSeconds(30),
                    null)),
            OutletAppender.BUFFER);
    logger("dev.zrepl4j.daemon.Daemon").info("v4 only");
    await(() -> !stdoutLines().isEmpty(), Duration.ofSeconds(10), "the outlet's report");
    assertThat(Logfmt.parse(stdoutLines().getFirst()).get("msg"))
        .contains("127.0.0.1 has no tcp6 address");
    assertThat(server.lines).isEmpty();
    assertThat(o.stats().outlets().get(1).dropped()).isEqualTo(1);
  }

  @Test
  void syslogDatagramIsGosLocalFormatWithFacilityAndSeverity() {
    var s = new SyslogSink(List.of(dir.resolve("x")), "local3", "zrepl", ZoneOffset.UTC);
    var when = java.time.LocalDateTime.of(2026, 12, 6, 9, 5, 7);
    // local3 = 19: 19 * 8 + 4 (warning) = 156; the day padded to two columns, as in RFC 3164
    assertThat(s.message(LogEntry.Level.WARN, "job=x msg=y", when, 42))
        .isEqualTo("<156>Dec  6 09:05:07 zrepl[42]: job=x msg=y");
    assertThat(SyslogSink.facilityCode("kern")).isZero();
    assertThat(SyslogSink.facilityCode("local7")).isEqualTo(23);
  }

  @Test
  void unreachableTcpOutletNeitherBlocksNorFailsAJob() throws Exception {
    int closedPort;
    try (var s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closedPort = s.getLocalPort();
    }
    var o =
        install(
            List.of(
                new LogOutlet.Stdout("error", "logfmt", false, false),
                tcp("debug", "logfmt", closedPort, Duration.ofSeconds(30))),
            64);
    var log = logger("dev.zrepl4j.replication.Replication");
    int n = 50_000;
    long t0 = System.nanoTime();
    var job =
        Thread.ofPlatform()
            .start(
                () -> {
                  try (var _ = LogContext.job("burst")) {
                    for (int i = 0; i < n; i++) {
                      log.info("entry {}", i);
                    }
                  }
                });
    job.join(Duration.ofSeconds(20));
    long ms = (System.nanoTime() - t0) / 1_000_000;
    assertThat(job.isAlive()).as("the burst is still running after %d ms", ms).isFalse();
    assertThat(ms).as("burst of %d entries took %d ms", n, ms).isLessThan(15_000);
    assertThat(o.stats().entries())
        .containsEntry(new LogStats.Key("burst", "repl", "info"), (long) n);
    // every entry is written or dropped: with the outlet down, all of them are dropped
    await(
        () -> o.stats().outlets().get(1).dropped() == n,
        Duration.ofSeconds(10),
        "all " + n + " entries counted as dropped, now " + o.stats().outlets().get(1).dropped());
    // reported once to the other outlet, not once per entry
    await(() -> !stdoutLines().isEmpty(), Duration.ofSeconds(5), "the report on stdout");
    var reports = stdoutLines().stream().map(Logfmt::parse).toList();
    assertThat(reports).hasSize(1);
    assertThat(reports.getFirst())
        .containsEntry("level", "error")
        .containsEntry("subsystem", "logging")
        .containsEntry("outlet", "#1 tcp 127.0.0.1:" + closedPort)
        .containsEntry("retry_interval", "PT30S");
    assertThat(reports.getFirst().get("msg")).contains("cannot write to this outlet");
  }

  @Test
  void stalledTcpServerMakesTheOutletDropNotTheJobWait() throws Exception {
    // accepts, then never reads: the kernel's buffers fill and the outlet's write blocks
    var ss = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    var accepted = new CopyOnWriteArrayList<Socket>();
    var acceptor =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    while (true) {
                      accepted.add(ss.accept());
                    }
                  } catch (IOException e) {
                    // closed
                  }
                });
    closeLater.add(
        () -> {
          ss.close();
          acceptor.join();
          for (var s : accepted) {
            s.close();
          }
        });
    var o = install(List.of(tcp("info", "logfmt", ss.getLocalPort(), Duration.ofMillis(500))), 256);
    var log = logger("dev.zrepl4j.replication.Replication");
    var big = "x".repeat(4096);
    int n = 20_000; // 80 MB, far more than any socket buffer
    long t0 = System.nanoTime();
    for (int i = 0; i < n; i++) {
      log.info("{} {}", i, big);
    }
    long ms = (System.nanoTime() - t0) / 1_000_000;
    assertThat(ms).as("burst took %d ms", ms).isLessThan(15_000);
    await(() -> o.stats().dropped() > 0, Duration.ofSeconds(10), "drops counted");
    assertThat(o.stats().entries("info")).isEqualTo(n);
  }
}
