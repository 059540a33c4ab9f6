package dev.zrepl4j.rpc.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.rpc.RpcClient;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.RpcServer;
import dev.zrepl4j.rpc.Transport;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StdinserverTest {
  @TempDir Path dir;

  @Test
  void createsAMissingSockdirWithMode0700() throws Exception {
    Path sockdir = dir.resolve("run/zrepl/stdinserver");
    try (var server = new RpcServer(RpcOptions.defaults());
        var l = Stdinserver.listen(server, sockdir, List.of("a", "b"))) {
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(sockdir)))
          .isEqualTo("rwx------");
      assertThat(sockdir.resolve("a")).exists();
      assertThat(sockdir.resolve("b")).exists();
    }
    assertThat(sockdir.resolve("a")).doesNotExist();
  }

  @Test
  void refusesASockdirThatGroupOrOthersCanAccess() throws Exception {
    Path sockdir = Files.createDirectory(dir.resolve("open"));
    try (var server = new RpcServer(RpcOptions.defaults())) {
      for (String mode : new String[] {"rwxr-xr-x", "rwxr-x---", "rwx-----x", "rwx---r--"}) {
        Files.setPosixFilePermissions(sockdir, PosixFilePermissions.fromString(mode));
        assertThatThrownBy(() -> Stdinserver.listen(server, sockdir, List.of("a")))
            .as(mode)
            .isInstanceOf(IOException.class)
            .hasMessageContaining(sockdir.toString())
            .hasMessageContaining("accessible to group or others")
            .hasMessageContaining(mode);
        assertThat(sockdir).isEmptyDirectory();
      }
      Files.setPosixFilePermissions(sockdir, PosixFilePermissions.fromString("rwx------"));
      try (var l = Stdinserver.listen(server, sockdir, List.of("a"))) {
        assertThat(
                PosixFilePermissions.toString(Files.getPosixFilePermissions(sockdir.resolve("a"))))
            .isEqualTo("rw-------");
      }
    }
  }

  @Test
  void rejectsInvalidAndDuplicateIdentities() throws Exception {
    try (var server = new RpcServer(RpcOptions.defaults())) {
      assertThatThrownBy(() -> Stdinserver.listen(server, dir.resolve("s"), List.of("../x")))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("'../x'");
      assertThatThrownBy(() -> Stdinserver.listen(server, dir.resolve("s"), List.of("a", "a")))
          .hasMessageContaining("twice");
    }
  }

  @Test
  void relayExitsNonZeroWhenTheSocketIsMissing() throws Exception {
    var err = new ByteArrayOutputStream();
    int status =
        Stdinserver.relay(
            dir,
            "client9",
            new ByteArrayInputStream(new byte[0]),
            new ByteArrayOutputStream(),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    assertThat(status).isNotZero();
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains(dir.resolve("client9").toString())
        .contains("is the daemon running, is client9 in client_identities?");
  }

  @Test
  void relayRefusesPathTricks() {
    for (String bad : new String[] {"..", "../etc", "a/b", "", "."}) {
      var err = new ByteArrayOutputStream();
      int status =
          Stdinserver.relay(
              dir,
              bad,
              new ByteArrayInputStream(new byte[0]),
              new ByteArrayOutputStream(),
              new PrintStream(err, true, StandardCharsets.UTF_8));
      assertThat(status).as(bad).isNotZero();
      assertThat(err.toString(StandardCharsets.UTF_8)).contains("invalid client identity");
    }
  }

  /** The relay, in-process over pipes: what sshd's forced command does. */
  @Test
  void relayCarriesRpcAndTheSocketNameIsTheIdentity() throws Exception {
    Path sockdir = dir.resolve("s");
    var options = RpcOptions.defaults();
    try (var server = new RpcServer(options).register("t", new Api());
        var l = Stdinserver.listen(server, sockdir, List.of("client1", "client2"))) {
      var toRelay = new PipedOutputStream();
      var relayIn = new PipedInputStream(toRelay, 65536);
      var fromRelay = new PipedInputStream(65536);
      var relayOut = new PipedOutputStream(fromRelay);
      var status = new AtomicInteger(-1);
      Thread relay =
          Thread.ofVirtual()
              .start(
                  () -> {
                    status.set(Stdinserver.relay(sockdir, "client2", relayIn, relayOut));
                    try {
                      relayOut.close();
                    } catch (IOException e) {
                      throw new java.io.UncheckedIOException(e);
                    }
                  });
      try (RpcClient c =
          RpcClient.connect(
              Transport.of(
                  fromRelay,
                  toRelay,
                  "relay",
                  () -> {
                    toRelay.close();
                    fromRelay.close();
                  }),
              options)) {
        assertThat(c.call("t.who", new Api.Req("x", 1), Api.Resp.class).identity())
            .isEqualTo("client2");
        long n = 3L * 1024 * 1024;
        try (var in = c.callStream("t.bytes", new Api.Req("d", n))) {
          assertThat(Api.check(in)).isEqualTo(n);
        }
      }
      relay.join(java.time.Duration.ofSeconds(10));
      assertThat(relay.isAlive()).isFalse();
      assertThat(status.get()).isZero();
    }
  }
}
