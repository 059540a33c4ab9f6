package dev.zrepl4j.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.config.Connect;
import dev.zrepl4j.config.Serve;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.RpcServer;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TransportsTest {
  @TempDir Path dir;

  @Test
  void localConnectWaitsUpToDialTimeoutForItsListener() throws Exception {
    var t = new Transports(dir, RpcOptions.defaults());
    var dialer = t.dialer(new Connect.Local("sink", "prod", Duration.ofSeconds(5)));
    try (var server = new RpcServer(RpcOptions.defaults())) {
      var late =
          Thread.ofVirtual()
              .start(
                  () -> {
                    try {
                      Thread.sleep(300);
                      t.serve("sink", new Serve.Local("sink"), server);
                    } catch (Exception e) {
                      throw new IllegalStateException(e);
                    }
                  });
      long t0 = System.nanoTime();
      try (var c = dialer.dial()) {
        assertThat(c).isNotNull();
      }
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isGreaterThan(Duration.ofMillis(250));
      late.join();
    }
  }

  @Test
  void localConnectFailsAfterDialTimeoutWithoutListener() {
    var t = new Transports(dir, RpcOptions.defaults());
    var dialer = t.dialer(new Connect.Local("nobody", "prod", Duration.ofMillis(200)));
    long t0 = System.nanoTime();
    assertThatThrownBy(dialer::dial)
        .isInstanceOf(IOException.class)
        .hasMessageContaining("no local listener 'nobody'")
        .hasMessageContaining("within dial_timeout PT0.2S");
    assertThat(Duration.ofNanos(System.nanoTime() - t0))
        .isGreaterThanOrEqualTo(Duration.ofMillis(200));
  }
}
