package dev.zrepl4j.rpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.rpc.SeedEndpoints.EchoMsg;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Unix sockets (the control socket, stdinserver sockets) are created owner-only from the start and
 * refused in a directory that group or others can access (issue 13).
 */
class UnixSocketTest {
  @TempDir Path dir;

  private Path privateDir(String name) throws IOException {
    Path d = Files.createDirectory(dir.resolve(name));
    Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwx------"));
    return d;
  }

  @Test
  void theSocketHasMode0600AsSoonAsItExistsAndServes() throws Exception {
    Path d = privateDir("run");
    Path sock = d.resolve("control");
    // a watcher records the mode of every socket file it sees at the final path during the bind
    var seen = new ArrayList<String>();
    var stop = new AtomicBoolean();
    Thread watcher =
        Thread.ofPlatform()
            .start(
                () -> {
                  while (!stop.get()) {
                    try {
                      String m = PosixFilePermissions.toString(Files.getPosixFilePermissions(sock));
                      synchronized (seen) {
                        seen.add(m);
                      }
                    } catch (IOException e) {
                      // not there yet
                    }
                  }
                });
    try (var server = new RpcServer(RpcOptions.defaults()).register(new SeedEndpoints())) {
      for (int i = 0; i < 20; i++) {
        try (var l = server.listenUnix(sock, "c")) {
          assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(sock)))
              .isEqualTo("rw-------");
          assertThat(Files.getOwner(sock)).isEqualTo(Files.getOwner(d));
          if (i == 0) {
            try (var client = RpcClient.unix(sock, RpcOptions.defaults())) {
              assertThat(client.call("Echo", new EchoMsg(1, "unix"), EchoMsg.class))
                  .isEqualTo(new EchoMsg(1, "unix"));
            }
          }
        }
      }
    } finally {
      stop.set(true);
      watcher.join();
    }
    synchronized (seen) {
      assertThat(seen).isNotEmpty().containsOnly("rw-------");
    }
    try (var files = Files.list(d)) {
      assertThat(files.toList()).as("no staging directory left behind").isEmpty();
    }
  }

  @Test
  void aSocketPathNearTheLengthLimitCanBeBound() throws Exception {
    // Unix socket paths are limited to 107 bytes: the staged path must not be much longer
    Path d = privateDir("run");
    int pad = 100 - (d.toString().length() + "/".length() + "/control".length());
    Path deep = privateDir("run/" + "d".repeat(pad));
    Path sock = deep.resolve("control");
    assertThat(sock.toString()).hasSize(100);
    try (var server = new RpcServer(RpcOptions.defaults()).register(new SeedEndpoints());
        var l = server.listenUnix(sock, "c");
        var client = RpcClient.unix(sock, RpcOptions.defaults())) {
      assertThat(client.call("Echo", new EchoMsg(3, "long"), EchoMsg.class))
          .isEqualTo(new EchoMsg(3, "long"));
    }
  }

  @Test
  void aStaleSocketFileIsReplaced() throws Exception {
    Path d = privateDir("run");
    Path sock = d.resolve("control");
    Files.writeString(sock, "stale");
    try (var server = new RpcServer(RpcOptions.defaults()).register(new SeedEndpoints());
        var l = server.listenUnix(sock, "c");
        var client = RpcClient.unix(sock, RpcOptions.defaults())) {
      assertThat(client.call("Echo", new EchoMsg(2, "x"), EchoMsg.class))
          .isEqualTo(new EchoMsg(2, "x"));
    }
  }

  @Test
  void aDirectoryGroupOrOthersCanAccessIsRefused() throws Exception {
    Path d = privateDir("open");
    Path sock = d.resolve("control");
    try (var server = new RpcServer(RpcOptions.defaults())) {
      for (String mode :
          List.of("rwxr-xr-x", "rwxr-x---", "rwx--x---", "rwx-w----", "rwx-----x", "rwx---rw-")) {
        Files.setPosixFilePermissions(d, PosixFilePermissions.fromString(mode));
        assertThatThrownBy(() -> server.listenUnix(sock, "c"))
            .as(mode)
            .isInstanceOf(IOException.class)
            .hasMessageContaining(d.toString())
            .hasMessageContaining("accessible to group or others")
            .hasMessageContaining(mode);
        assertThat(d).as(mode).isEmptyDirectory();
      }
    }
  }

  @Test
  void aMissingDirectoryIsRefused() throws Exception {
    try (var server = new RpcServer(RpcOptions.defaults())) {
      assertThatThrownBy(() -> server.listenUnix(dir.resolve("none/control"), "c"))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("missing or not a directory");
    }
  }
}
