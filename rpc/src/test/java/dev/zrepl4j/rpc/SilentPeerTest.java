package dev.zrepl4j.rpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.rpc.TestApi.Req;
import dev.zrepl4j.rpc.TestApi.Resp;
import dev.zrepl4j.rpc.frame.FrameReader;
import dev.zrepl4j.rpc.frame.FrameWriter;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A peer that goes silent, and one that is slow but alive, over real loopback TCP (issue 13): a
 * client's hello and a client's request body time out on a silent peer instead of hanging (a retry
 * of a replication step reconnects, and must not hang on a stalled link); a request body that takes
 * longer than the keep-alive interval is not cut short by the server's keep-alives.
 */
@Timeout(60)
class SilentPeerTest {
  /** 1 s read timeout, 30 s idle, 100 ms keep-alive. */
  static final RpcOptions SHORT =
      RpcOptions.defaults()
          .withTimeouts(Duration.ofSeconds(1), Duration.ofSeconds(30), Duration.ofMillis(100));

  /** A server that accepts, answers the hello as a version-1 peer if asked, then stops reading. */
  static final class Mute implements AutoCloseable {
    final ServerSocket server = new ServerSocket();
    final CompletableFuture<Socket> accepted = new CompletableFuture<>();

    Mute(boolean answerHello) throws IOException {
      server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      Thread.ofVirtual()
          .start(
              () -> {
                try {
                  var s = server.accept();
                  accepted.complete(s);
                  if (answerHello) {
                    var r = new FrameReader(s.getInputStream(), 64 * 1024);
                    r.readHeaderMessage();
                    r.readDataMessage(64 * 1024);
                    var w = new FrameWriter(s.getOutputStream(), 64 * 1024);
                    w.headerMessage(Header.ok(DataType.JSON).encode());
                    byte[] json = Json.write(new Hello(Hello.VERSION, "mute", 0, 100));
                    w.dataMessage(json, 0, json.length);
                    w.flush();
                  }
                  // then nothing: no byte read, none written, the socket kept open
                } catch (IOException e) {
                  accepted.completeExceptionally(e);
                }
              });
    }

    int port() {
      return server.getLocalPort();
    }

    @Override
    public void close() throws Exception {
      server.close();
      if (accepted.isDone() && !accepted.isCompletedExceptionally()) {
        accepted.get().close();
      }
    }
  }

  @Test
  void aHelloToAPeerThatNeverAnswersTimesOut() throws Exception {
    try (var mute = new Mute(false)) {
      long t0 = System.nanoTime();
      assertThatThrownBy(
              () -> RpcClient.tcp("127.0.0.1", mute.port(), Duration.ofSeconds(5), SHORT))
          .isInstanceOf(SocketTimeoutException.class)
          .hasMessageContaining("peer sent nothing for more than 1000 ms");
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(10));
    }
  }

  @Test
  void aRequestBodyToAPeerThatStopsReadingTimesOut() throws Exception {
    try (var mute = new Mute(true);
        var client = RpcClient.tcp("127.0.0.1", mute.port(), Duration.ofSeconds(5), SHORT)) {
      assertThat(client.extensions()).isTrue();
      long t0 = System.nanoTime();
      // far more than the socket buffers hold: the writes block once they are full
      assertThatThrownBy(
              () ->
                  client.callWithBody(
                      "t.upload",
                      new Req("x", 0),
                      TestApi.patternStream(1L << 40, Long.MAX_VALUE),
                      Resp.class))
          .isInstanceOf(SocketTimeoutException.class)
          .hasMessageContaining("peer accepted nothing for more than 1000 ms");
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(20));
    }
  }

  /** A body source that yields {@code chunks} chunks of the pattern, one every {@code pause}. */
  static InputStream slow(int chunks, int chunkSize, Duration pause) {
    var pattern = TestApi.patternStream((long) chunks * chunkSize, Long.MAX_VALUE);
    return new InputStream() {
      int given;

      @Override
      public int read() throws IOException {
        byte[] b = new byte[1];
        return read(b, 0, 1) < 0 ? -1 : b[0] & 0xFF;
      }

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        if (given >= chunks) {
          return pattern.read(b, off, len);
        }
        try {
          TimeUnit.NANOSECONDS.sleep(pause.toNanos());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new java.io.InterruptedIOException();
        }
        given++;
        return pattern.readNBytes(b, off, Math.min(len, chunkSize));
      }
    };
  }

  @Test
  void aRequestBodySlowerThanTheKeepAliveIntervalIsNotCutShortByTheServersKeepAlives()
      throws Exception {
    try (var f = new Fixture(Fixture.Kind.TCP, SHORT)) {
      // 1.5 s of body, the server silent meanwhile: it sends a keep-alive every 100 ms
      Resp up =
          f.client.callWithBody(
              "t.upload", new Req("slow", 0), slow(30, 1000, Duration.ofMillis(50)), Resp.class);
      assertThat(up.count()).isEqualTo(30_000);
    }
  }
}
