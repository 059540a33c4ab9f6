package dev.zrepl4j.rpc.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.rpc.RpcClient;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.RpcServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ssh+stdinserver end to end through a real sshd on 127.0.0.1 that this test starts with its own
 * config, host key and authorized_keys (scripts/test.sh installs openssh-server). Fails, never
 * skips, when sshd is missing.
 */
class SshStdinserverIT {
  static final Duration DIAL = Duration.ofSeconds(20);
  static final RpcOptions OPTIONS = RpcOptions.defaults();

  @TempDir static Path dir;
  static TestSshd sshd;
  static RpcServer server;
  static AutoCloseable listener;
  static Path sockdir;

  @BeforeAll
  static void start() throws Exception {
    var client1 = TestSshd.keygen(dir, "client1");
    TestSshd.keygen(dir, "stranger");
    sockdir = dir.resolve("stdinserver");
    String java = ProcessHandle.current().info().command().orElseThrow();
    String command =
        java
            + " -cp "
            + System.getProperty("java.class.path")
            + " "
            + StdinserverMain.class.getName()
            + " "
            + sockdir
            + " client1";
    sshd = TestSshd.start(dir, TestSshd.forcedCommand(command, client1));
    server = new RpcServer(OPTIONS).register("t", new Api());
    listener = Stdinserver.listen(server, sockdir, List.of("client1", "client2"));
  }

  @AfterAll
  static void stop() throws Exception {
    if (listener != null) {
      listener.close();
    }
    if (server != null) {
      server.close();
    }
    if (sshd != null) {
      sshd.close();
    }
  }

  static SshSettings settings(String key) {
    return sshd.settings(dir.resolve(key));
  }

  @Test
  void callsAndStreamsThroughSshWithTheForcedIdentity() throws Exception {
    ProcessHandle ssh;
    try (RpcClient c = Ssh.dial(settings("client1"), DIAL, OPTIONS)) {
      var r = c.call("t.who", new Api.Req("x", 3), Api.Resp.class);
      assertThat(r).isEqualTo(new Api.Resp("hi x", "client1", 3));
      long n = 4L * 1024 * 1024 + 5;
      try (InputStream in = c.callStream("t.bytes", new Api.Req("d", n))) {
        assertThat(Api.check(in)).isEqualTo(n);
      }
      var u = c.callWithBody("t.upload", new Api.Req("u", n), Api.pattern(n), Api.Resp.class);
      assertThat(u.count()).isEqualTo(n);
      assertThat(c.call("t.who", new Api.Req("y", 1), Api.Resp.class).identity())
          .isEqualTo("client1");
      ssh = sshChild().orElseThrow();
    }
    // closing killed and reaped ssh: no process, no zombie
    assertThat(ssh.isAlive()).isFalse();
    assertThat(Path.of("/proc/" + ssh.pid())).doesNotExist();
    // and the server side connection ends
    long deadline = System.nanoTime() + 5_000_000_000L;
    while (server.activeConnections() > 0 && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertThat(server.activeConnections()).isZero();
  }

  private static java.util.Optional<ProcessHandle> sshChild() {
    return ProcessHandle.current()
        .children()
        .filter(p -> p.info().command().map(c -> c.endsWith("/ssh")).orElse(false))
        .findFirst();
  }

  @Test
  void aKeyNotInAuthorizedKeysFailsWithSshsStderr() {
    assertThatThrownBy(() -> Ssh.dial(settings("stranger"), DIAL, OPTIONS))
        .isInstanceOf(dev.zrepl4j.rpc.RefusedException.class)
        .hasMessageContaining("Permission denied")
        .hasMessageContaining("exit status 255");
  }

  @Test
  void aClosedPortFailsWithSshsStderr() throws IOException {
    int closed;
    try (var s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      closed = s.getLocalPort();
    }
    var s = settings("client1");
    var bad = new SshSettings(s.host(), s.user(), closed, s.identityFile(), s.options());
    assertThatThrownBy(() -> Ssh.dial(bad, DIAL, OPTIONS))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("Connection refused");
  }
}
