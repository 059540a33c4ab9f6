package dev.zrepl4j.rpc;

import static dev.zrepl4j.rpc.Loopback.concat;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.rpc.Loopback.ScriptedPeer;
import dev.zrepl4j.rpc.SeedEndpoints.EchoMsg;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Bad bytes on the wire get clear errors; the server keeps serving its other connections. */
class BadInputTest {
  static final RpcOptions FAST =
      RpcOptions.defaults()
          .withTimeouts(Duration.ofMillis(800), Duration.ofMillis(1500), Duration.ofMillis(100));

  private final ExecutorService exec = Executors.newVirtualThreadPerTaskExecutor();
  private RpcServer server;
  private RpcServer.RpcListener listener;
  private RpcClient healthy;

  /** An endpoint that takes its time. */
  public static final class Slow {
    public EchoMsg slow(EchoMsg m) throws InterruptedException {
      Thread.sleep(m.seq());
      return m;
    }
  }

  @BeforeEach
  void start() throws Exception {
    server = new RpcServer(FAST).register(new SeedEndpoints()).register("s", new Slow());
    listener =
        server.listenTcp(
            new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), a -> Optional.of("c"));
    healthy = RpcClient.tcp("127.0.0.1", listener.port(), Duration.ofSeconds(5), FAST);
  }

  @AfterEach
  void stop() throws Exception {
    healthy.close();
    listener.close();
    server.close();
    exec.shutdownNow();
  }

  private ScriptedPeer raw() throws Exception {
    var s = new Socket("127.0.0.1", listener.port());
    s.setSoTimeout(10_000);
    return new ScriptedPeer(s);
  }

  static byte[] frame(int type, int fin, byte[] p) {
    var out = new ByteArrayOutputStream();
    out.write(type);
    out.write(fin);
    out.write(p.length);
    out.write(p.length >>> 8);
    out.write(p.length >>> 16);
    out.write(p.length >>> 24);
    out.writeBytes(p);
    return out.toByteArray();
  }

  static byte[] frame(int type, String s) {
    return frame(type, 1, s.getBytes(StandardCharsets.UTF_8));
  }

  static byte[] echoRequest(String body) {
    return concat(
        frame(
            1,
            "{\"Endpoint\":\"Echo\",\"DataType\":2,\"Accept\":2,\"Error\":0,\"ErrorMessage\":\"\"}\n"),
        frame(2, body));
  }

  private void healthyStillWorks() throws Exception {
    assertThat(healthy.call("Echo", new EchoMsg(9, "ok"), EchoMsg.class))
        .isEqualTo(new EchoMsg(9, "ok"));
  }

  private String closedAfter(byte[] garbage) throws Exception {
    try (ScriptedPeer p = raw()) {
      p.send(garbage);
      String got = new String(p.readToEof(), StandardCharsets.ISO_8859_1);
      healthyStillWorks();
      return got;
    }
  }

  @Test
  void truncatedFrameHeaderEndsOnlyThatConnection() throws Exception {
    try (ScriptedPeer p = raw()) {
      p.send(new byte[] {1, 1, 0x10});
      p.socket.shutdownOutput();
      assertThat(p.readToEof()).isEmpty();
    }
    healthyStillWorks();
  }

  @Test
  void unknownFrameTypeIsAnsweredWithRstAndClose() throws Exception {
    String got = closedAfter(new byte[] {9, 1, 0, 0, 0, 0});
    assertThat(got).endsWith("\u00ff\u0001\u0000\u0000\u0000\u0000");
  }

  @Test
  void frameLengthOverTheLimitIsAnsweredWithRstAndClose() throws Exception {
    String got = closedAfter(new byte[] {1, 1, 1, 0, 0x40, 0});
    assertThat(got).endsWith("\u00ff\u0001\u0000\u0000\u0000\u0000");
  }

  @Test
  void headerOfMoreThan4096BytesIsRefused() throws Exception {
    byte[] big = new byte[4097];
    java.util.Arrays.fill(big, (byte) ' ');
    String got = closedAfter(frame(1, 1, big));
    assertThat(got).endsWith("\u00ff\u0001\u0000\u0000\u0000\u0000");
  }

  @Test
  void dataFrameWhereAHeaderBelongsIsRefused() throws Exception {
    String got = closedAfter(frame(2, "{}"));
    assertThat(got).endsWith("\u00ff\u0001\u0000\u0000\u0000\u0000");
  }

  @Test
  void invalidHeaderJsonGetsARequestErrorThenClose() throws Exception {
    String got = closedAfter(concat(frame(1, "{\"Endpoint\":"), frame(2, "{}")));
    assertThat(got)
        .contains("\"Error\":2")
        .contains("invalid request header: header is not valid JSON");
  }

  @Test
  void badBodiesGetRequestErrorsAndTheConnectionStaysInSync() throws Exception {
    try (ScriptedPeer p = raw()) {
      p.send(echoRequest("{\"Seq\": oops}\n"));
      String e1 = new String(p.readFrame(), StandardCharsets.UTF_8);
      assertThat(e1)
          .contains("\"Error\":2")
          .contains("cannot decode marshaled JSON for endpoint Echo");
      p.send(echoRequest("[1,2,3]\n")); // a body of the wrong type
      assertThat(new String(p.readFrame(), StandardCharsets.UTF_8))
          .contains("\"Error\":2")
          .contains("cannot decode marshaled JSON");
      p.send(echoRequest("null\n"));
      assertThat(new String(p.readFrame(), StandardCharsets.UTF_8)).contains("is null");
      p.send(
          concat(
              frame(
                  1,
                  "{\"Endpoint\":\"Echo\",\"DataType\":2,\"Accept\":3,\"Error\":0,\"ErrorMessage\":\"\"}\n"),
              frame(2, "{}\n")));
      assertThat(new String(p.readFrame(), StandardCharsets.UTF_8))
          .contains("wrong Accept for endpoint Echo");
      // and the next call gets its own answer
      p.send(echoRequest("{\"Seq\":5,\"Payload\":\"fine\"}\n"));
      assertThat(new String(p.readFrame(), StandardCharsets.UTF_8)).contains("\"Error\":1");
      assertThat(new String(p.readFrame(), StandardCharsets.UTF_8))
          .endsWith("{\"Seq\":5,\"Payload\":\"fine\"}\n");
    }
  }

  @Test
  void octetRequestBodyFromAPeerThatDidNotNegotiateIsRefused() throws Exception {
    String got =
        closedAfter(
            concat(
                frame(
                    1,
                    "{\"Endpoint\":\"Echo\",\"DataType\":3,\"Accept\":2,\"Error\":0,\"ErrorMessage\":\"\"}\n"),
                frame(2, "abc")));
    assertThat(got).contains("request bodies need protocol version 1");
  }

  @Test
  void seedHeaderOfExactly4096BytesWithItsExtraEmptyFrameIsServed() throws Exception {
    String start =
        "{\"Endpoint\":\"Echo\",\"DataType\":2,\"Accept\":2,\"Error\":0,\"ErrorMessage\":\"\"";
    String header = start + " ".repeat(4096 - start.length() - 2) + "}\n";
    assertThat(header.length()).isEqualTo(4096);
    try (ScriptedPeer p = raw()) {
      p.send(
          concat(
              frame(1, header),
              frame(1, 1, new byte[0]),
              frame(2, "{\"Seq\":6,\"Payload\":\"x\"}\n")));
      assertThat(new String(p.readFrame(), StandardCharsets.UTF_8)).contains("\"Error\":1");
      assertThat(new String(p.readFrame(), StandardCharsets.UTF_8)).contains("\"Seq\":6");
    }
  }

  @Test
  void aPeerThatStopsSendingMidMessageIsDisconnected() throws Exception {
    try (ScriptedPeer p = raw()) {
      p.send(
          concat(
              frame(
                  1,
                  "{\"Endpoint\":\"Echo\",\"DataType\":2,\"Accept\":2,\"Error\":0,\"ErrorMessage\":\"\"}\n"),
              new byte[] {2, 1, 100, 0, 0, 0, '{'}));
      long t0 = System.nanoTime();
      p.readToEof();
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertThat(ms).isBetween(500L, 8000L);
    }
    healthyStillWorks();
  }

  @Test
  void aNewConnectionThatNeverSpeaksIsClosedAfterTheReadTimeout() throws Exception {
    // not after the (longer) idle timeout: a client sends its first request at once, and a
    // silent connection must not hold a server slot (and its buffers) for the idle timeout
    try (ScriptedPeer p = raw()) {
      long t0 = System.nanoTime();
      p.readToEof();
      assertThat((System.nanoTime() - t0) / 1_000_000).isBetween(500L, 1400L);
    }
  }

  @Test
  void anIdleConnectionIsClosedAfterTheIdleTimeout() throws Exception {
    try (ScriptedPeer p = raw()) {
      p.send(
          concat(
              frame(
                  1,
                  "{\"Endpoint\":\"Echo\",\"DataType\":2,\"Accept\":2,\"Error\":0,\"ErrorMessage\":\"\"}\n"),
              frame(2, "{\"Seq\":1,\"Payload\":\"x\"}\n")));
      long t0 = System.nanoTime();
      var got = new String(p.readToEof(), StandardCharsets.ISO_8859_1);
      assertThat(got).contains("\"Payload\":\"x\"");
      assertThat((System.nanoTime() - t0) / 1_000_000).isBetween(1000L, 9000L);
    }
  }

  @Test
  void keepAlivesCarryASlowCallAndIdlePingsKeepTheConnection() throws Exception {
    // the handler takes longer than the read timeout: keep-alive frames keep the client waiting
    assertThat(healthy.call("s.slow", new EchoMsg(2000, "slow"), EchoMsg.class).payload())
        .isEqualTo("slow");
    // idle longer than the server's idle timeout: the client's pings keep the connection
    Thread.sleep(2200);
    healthyStillWorks();
  }

  /** Plays a zrepl4j server that negotiates v1, then answers the first call as given. */
  private Future<RpcClient> v1ClientAgainst(ScriptedPeer srv, Socket clientSide) throws Exception {
    Future<RpcClient> c =
        exec.submit((Callable<RpcClient>) () -> RpcClient.connect(Transport.of(clientSide), FAST));
    srv.readFrame();
    srv.readFrame();
    srv.send(
        concat(
            frame(
                1,
                "{\"Endpoint\":\"\",\"DataType\":2,\"Accept\":0,\"Error\":1,\"ErrorMessage\":\"\"}\n"),
            frame(
                2,
                "{\"Version\":1,\"Software\":\"script\",\"IdleTimeoutMillis\":0,\"KeepAliveMillis\":100}\n")));
    return c;
  }

  @Test
  void clientNoticesAServerThatStopsSendingMidStream() throws Exception {
    Socket[] pair = Loopback.pair();
    try (ScriptedPeer srv = new ScriptedPeer(pair[1])) {
      RpcClient client = v1ClientAgainst(srv, pair[0]).get();
      Future<byte[]> read =
          exec.submit(
              () -> {
                try (InputStream in =
                    client.callStream("Stream", new SeedEndpoints.StreamReq(100))) {
                  return in.readAllBytes();
                }
              });
      srv.readFrame();
      srv.readFrame();
      srv.send(
          concat(
              frame(
                  1,
                  "{\"Endpoint\":\"\",\"DataType\":3,\"Accept\":0,\"Error\":1,\"ErrorMessage\":\"\"}\n"),
              frame(2, 0, new byte[10])));
      assertThatThrownBy(read::get)
          .hasCauseInstanceOf(SocketTimeoutException.class)
          .cause()
          .hasMessageContaining("peer sent nothing for more than 800 ms");
      assertThat(client.isOpen()).isFalse();
    }
  }

  @Test
  void aSeedServersResetMidStreamIsAnError() throws Exception {
    Socket[] pair = Loopback.pair();
    try (ScriptedPeer srv = new ScriptedPeer(pair[1])) {
      RpcClient client = RpcClient.connect(Transport.of(pair[0]), FAST.withSeedOnly(true));
      Future<byte[]> read =
          exec.submit(
              () -> {
                try (InputStream in =
                    client.callStream("Stream", new SeedEndpoints.StreamReq(100))) {
                  return in.readAllBytes();
                }
              });
      srv.readFrame();
      srv.readFrame();
      srv.send(
          concat(
              frame(
                  1,
                  "{\"Endpoint\":\"\",\"DataType\":3,\"Accept\":0,\"Error\":1,\"ErrorMessage\":\"\"}\n"),
              frame(2, 0, new byte[10]),
              new byte[] {(byte) 0xff, 1, 0, 0, 0, 0}));
      assertThatThrownBy(read::get)
          .hasCauseInstanceOf(RemoteException.class)
          .cause()
          .hasMessageContaining("reset frame");
    }
  }
}
