package dev.zrepl4j.rpc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.rpc.TestApi.Req;
import dev.zrepl4j.rpc.TestApi.Resp;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * A request body that takes longer than the keep-alive interval (a push over a slow link): the
 * server's keep-alives while it receives are not its answer, so the client goes on sending.
 */
class SlowBodyTest {
  static final RpcOptions FAST =
      RpcOptions.defaults()
          .withTimeouts(Duration.ofMillis(800), Duration.ofMillis(1500), Duration.ofMillis(50));

  /** {@code chunks} chunks of 1 KiB of the test pattern, one every {@code pause}. */
  static InputStream slow(int chunks, Duration pause) {
    var pattern = TestApi.patternStream((long) chunks * 1024, Long.MAX_VALUE);
    return new InputStream() {
      long sent;

      @Override
      public int read() throws IOException {
        var b = new byte[1];
        return read(b, 0, 1) < 0 ? -1 : b[0] & 0xFF;
      }

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        if (sent % 1024 == 0 && sent > 0) {
          try {
            Thread.sleep(pause);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException();
          }
        }
        int n = pattern.read(b, off, (int) Math.min(len, 1024 - sent % 1024));
        if (n > 0) {
          sent += n;
        }
        return n;
      }
    };
  }

  @Test
  void issue14_aBodySlowerThanTheKeepAliveIntervalArrivesWhole() throws Exception {
    try (var server = new RpcServer(FAST).register("t", new TestApi());
        var listener =
            server.listenTcp(
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), a -> Optional.of("c"));
        var client = RpcClient.tcp("127.0.0.1", listener.port(), Duration.ofSeconds(5), FAST)) {
      // 20 chunks 40 ms apart: ~0.8 s, sixteen keep-alive intervals
      var r =
          client.callWithBody(
              "t.upload", new Req("slow", 0), slow(20, Duration.ofMillis(40)), Resp.class);
      assertThat(r.count()).isEqualTo(20 * 1024);
      assertThat(client.call("t.hello", new Req("after", 1), Resp.class).text())
          .isEqualTo("hi after");
    }
  }
}
