package dev.zrepl4j.rpc;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** One client identity cannot take every connection slot of a server. */
class ConnectionLimitsTest {
  /** 8 slots, so 2 per client; long timeouts, so nothing closes for being silent here. */
  static final RpcOptions OPTIONS =
      RpcOptions.defaults()
          .withMaxConnections(8)
          .withTimeouts(Duration.ofSeconds(60), Duration.ofMinutes(10), Duration.ofSeconds(10));

  static Socket from(String address, int port) throws IOException {
    var s = new Socket();
    s.bind(new InetSocketAddress(address, 0));
    s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
    return s;
  }

  /** Whether the server closed {@code s} within {@code ms}. */
  static boolean closedWithin(Socket s, int ms) throws IOException {
    s.setSoTimeout(ms);
    try {
      return s.getInputStream().read() < 0;
    } catch (SocketTimeoutException e) {
      return false;
    } catch (IOException reset) {
      return true;
    }
  }

  @Test
  void aClientBeyondItsShareIsClosedAndOthersAreStillServed() throws Exception {
    assertThat(OPTIONS.maxConnectionsPerClient()).isEqualTo(2);
    try (var server = new RpcServer(OPTIONS).register(new SeedEndpoints())) {
      var listener =
          server.listenTcp(
              new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
              a -> Optional.of(a.getAddress().getHostAddress()));
      int port = listener.port();
      var flood = new ArrayList<Socket>();
      try {
        for (int i = 0; i < 12; i++) {
          flood.add(from("127.0.0.2", port)); // more than all 8 slots, saying nothing
        }
        int closed = 0;
        for (var s : flood) {
          if (closedWithin(s, 300)) {
            closed++;
          }
        }
        assertThat(closed).as("flood connections closed by the server").isEqualTo(10);
        assertThat(server.activeConnections()).isEqualTo(2);
        // another client is served while the flood holds its two
        try (var good = RpcClient.connect(Transport.of(from("127.0.0.3", port)), OPTIONS)) {
          var r =
              good.call("Echo", new SeedEndpoints.EchoMsg(7, "hi"), SeedEndpoints.EchoMsg.class);
          assertThat(r.payload()).isEqualTo("hi");
        }
      } finally {
        for (var s : flood) {
          s.close();
        }
        listener.close();
      }
    }
  }
}
