package dev.zrepl4j.rpc;

import static dev.zrepl4j.rpc.BadInputTest.frame;
import static dev.zrepl4j.rpc.Loopback.concat;
import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.rpc.Loopback.ScriptedPeer;
import dev.zrepl4j.rpc.SeedEndpoints.EchoMsg;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Each side uses the timings the peer announced in the hello (issue 13, defect 7), over real TCP
 * sockets: a client whose read timeout is shorter than the server's keep-alive interval still waits
 * out a slow but alive server.
 */
class KeepAliveTimingTest {
  /** A client that gives up on a silent peer after 1 s (keep-alives every 300 ms). */
  private static final RpcOptions IMPATIENT =
      RpcOptions.defaults()
          .withTimeouts(Duration.ofSeconds(1), Duration.ofMinutes(1), Duration.ofMillis(300));

  /** A server that sends keep-alives only every 10 s. */
  private static final RpcOptions SLOW_KEEPALIVE =
      RpcOptions.defaults()
          .withTimeouts(Duration.ofSeconds(30), Duration.ofMinutes(1), Duration.ofSeconds(10));

  private final ExecutorService exec = Executors.newVirtualThreadPerTaskExecutor();

  @AfterEach
  void shutdown() {
    exec.shutdownNow();
  }

  @Test
  void theServerSendsKeepAlivesOftenEnoughForTheClientsReadTimeout() throws Exception {
    try (var server = new RpcServer(SLOW_KEEPALIVE).register("s", new BadInputTest.Slow())) {
      var l =
          server.listenTcp(
              new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), a -> Optional.of("c"));
      try (var client = RpcClient.tcp("127.0.0.1", l.port(), Duration.ofSeconds(5), IMPATIENT)) {
        assertThat(client.extensions()).isTrue();
        // the handler is silent for 2.5 s, longer than the client's 1 s read timeout
        var r = exec.submit(() -> client.call("s.slow", new EchoMsg(2500, "alive"), EchoMsg.class));
        assertThat(r.get(20, TimeUnit.SECONDS)).isEqualTo(new EchoMsg(2500, "alive"));
        assertThat(client.isOpen()).isTrue();
      }
    }
  }

  @Test
  void theClientWaitsLongEnoughForTheServersAnnouncedKeepAliveInterval() throws Exception {
    // a server that announces keep-alives every 1.5 s and does not adapt to the client: the
    // client's 1 s read timeout must stretch to twice that
    Socket[] pair = Loopback.pair();
    try (ScriptedPeer srv = new ScriptedPeer(pair[1])) {
      Future<RpcClient> connecting =
          exec.submit(
              (Callable<RpcClient>) () -> RpcClient.connect(Transport.of(pair[0]), IMPATIENT));
      assertThat(new String(srv.readFrame(), StandardCharsets.UTF_8)).contains("zrepl4j.Hello");
      assertThat(new String(srv.readFrame(), StandardCharsets.UTF_8))
          .contains("\"ReadTimeoutMillis\":1000");
      srv.send(
          concat(
              frame(
                  1,
                  "{\"Endpoint\":\"\",\"DataType\":2,\"Accept\":0,\"Error\":1,\"ErrorMessage\":\"\"}\n"),
              frame(
                  2,
                  "{\"Version\":1,\"Software\":\"script\",\"IdleTimeoutMillis\":0,\"KeepAliveMillis\":1500}\n")));
      RpcClient client = connecting.get(10, TimeUnit.SECONDS);
      Future<EchoMsg> r =
          exec.submit(() -> client.call("Echo", new EchoMsg(5, "late"), EchoMsg.class));
      srv.readFrame();
      srv.readFrame();
      byte[] keepAlive = {0x04, 0x01, 0, 0, 0, 0};
      for (int i = 0; i < 3; i++) {
        Thread.sleep(1400); // silent for longer than the client's own read timeout
        srv.send(keepAlive);
      }
      srv.send(
          concat(
              frame(
                  1,
                  "{\"Endpoint\":\"\",\"DataType\":2,\"Accept\":0,\"Error\":1,\"ErrorMessage\":\"\"}\n"),
              frame(2, "{\"Seq\":5,\"Payload\":\"late\"}\n")));
      assertThat(r.get(10, TimeUnit.SECONDS)).isEqualTo(new EchoMsg(5, "late"));
      client.close();
    }
  }

  @Test
  void timingsAdoptedFromAHello() throws Exception {
    Socket[] pair = Loopback.pair();
    try (var c = new Conn(Transport.of(pair[0]), IMPATIENT, "t", () -> {});
        var other = pair[1]) {
      c.adoptPeerTimings(new Hello(1, "p", 0, 0, null)); // an older peer: nothing known
      assertThat(c.keepAlive()).isEqualTo(Duration.ofMillis(300));
      assertThat(c.readTimeout()).isEqualTo(Duration.ofSeconds(1));
      c.adoptPeerTimings(new Hello(1, "p", 0, 2000, 600L));
      assertThat(c.keepAlive()).isEqualTo(Duration.ofMillis(200));
      assertThat(c.readTimeout()).isEqualTo(Duration.ofSeconds(4));
      c.adoptPeerTimings(new Hello(1, "p", 0, 100, 60_000L)); // never weakens its own
      assertThat(c.keepAlive()).isEqualTo(Duration.ofMillis(300));
      assertThat(c.readTimeout()).isEqualTo(Duration.ofSeconds(1));
      c.adoptPeerTimings(new Hello(1, "p", 0, 100, 30L));
      assertThat(c.keepAlive()).isEqualTo(Conn.MIN_KEEP_ALIVE);
    }
  }
}
