package dev.zrepl4j.rpc;

import static dev.zrepl4j.rpc.BadInputTest.frame;
import static dev.zrepl4j.rpc.Loopback.concat;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.rpc.Loopback.ScriptedPeer;
import dev.zrepl4j.rpc.SeedEndpoints.EchoMsg;
import java.lang.management.ManagementFactory;
import java.net.ProtocolException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** Regression tests for the seed's defects not covered by the wire and frame tests. */
class SeedDefectTest {

  @Test
  void jsonBodySpreadOverFramesIsReadToItsEndSoTheStreamStaysInSync() throws Exception {
    // seed DEFECT: its JSON decoder could stop before the trailing newline in a later frame, whose
    // bytes were then misread as the next frame header
    Socket[] pair = Loopback.pair();
    var server = new RpcServer(RpcOptions.defaults()).register(new SeedEndpoints());
    try (var exec = Executors.newVirtualThreadPerTaskExecutor();
        ScriptedPeer p = new ScriptedPeer(pair[0])) {
      exec.submit(
          () -> {
            server.serve(Transport.of(pair[1]), new Caller("c", "t"));
            return null;
          });
      byte[] header =
          frame(
              1,
              "{\"Endpoint\":\"Echo\",\"DataType\":2,\"Accept\":2,\"Error\":0,\"ErrorMessage\":\"\"}\n");
      for (int i = 0; i < 2; i++) {
        p.send(
            concat(
                header,
                frame(2, 0, "{\"Seq\":7,".getBytes(StandardCharsets.UTF_8)),
                frame(2, 0, "\"Payload\":\"split\"}".getBytes(StandardCharsets.UTF_8)),
                frame(2, 1, "\n \n".getBytes(StandardCharsets.UTF_8))));
        assertThat(new String(p.readFrame(), StandardCharsets.UTF_8)).contains("\"Error\":1");
        assertThat(new String(p.readFrame(), StandardCharsets.UTF_8))
            .endsWith("{\"Seq\":7,\"Payload\":\"split\"}\n");
      }
    }
  }

  @Test
  void clientChecksThatTheResponseHasTheTypeItAskedFor() throws Exception {
    // seed DEFECT: the client did not compare the response's DataType with its Accept
    Socket[] pair = Loopback.pair();
    try (var exec = Executors.newVirtualThreadPerTaskExecutor();
        ScriptedPeer srv = new ScriptedPeer(pair[1])) {
      RpcClient client =
          RpcClient.connect(Transport.of(pair[0]), RpcOptions.defaults().withSeedOnly(true));
      Future<?> f = exec.submit(() -> client.callStream("Stream", new SeedEndpoints.StreamReq(1)));
      srv.readFrame();
      srv.readFrame();
      srv.send(
          concat(
              frame(
                  1,
                  "{\"Endpoint\":\"\",\"DataType\":2,\"Accept\":0,\"Error\":1,\"ErrorMessage\":\"\"}\n"),
              frame(2, "{}\n")));
      assertThatThrownBy(f::get)
          .hasCauseInstanceOf(ProtocolException.class)
          .cause()
          .hasMessageContaining("has DataType 2, asked for 3");
    }
  }

  @Test
  void callsDoNotAllocateAFrameSizedBufferPerMessage() throws Exception {
    // seed DEFECT: a fresh 4 MiB buffer for every message, headers included
    var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    try (var f = new Fixture(Fixture.Kind.TCP)) {
      for (int i = 0; i < 2000; i++) {
        f.client.call("Echo", new EchoMsg(i, "warm-up"), EchoMsg.class);
      }
      long tid = Thread.currentThread().threadId();
      long before = mx.getThreadAllocatedBytes(tid);
      int n = 1000;
      for (int i = 0; i < n; i++) {
        f.client.call("Echo", new EchoMsg(i, "x".repeat(150)), EchoMsg.class);
      }
      long perCall = (mx.getThreadAllocatedBytes(tid) - before) / n;
      assertThat(perCall).as("bytes allocated per call").isLessThan(64 * 1024);
    }
  }
}
