package dev.zrepl4j.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The control socket's directory: created private, refused when others can get in. */
class RuntimeDirTest {
  @TempDir Path dir;

  @Test
  void aMissingDirectoryIsCreatedPrivate() throws IOException {
    var run = dir.resolve("a/run");
    Daemon.secureRuntimeDir(run);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(run)))
        .isEqualTo("rwx------");
  }

  @Test
  void aDirectoryGroupOrOthersCanEnterIsRefused() throws IOException {
    var run = Files.createDirectory(dir.resolve("run"));
    for (String mode : new String[] {"rwxr-xr-x", "rwxr-x---", "rwx--x---", "rwx-----x"}) {
      Files.setPosixFilePermissions(run, PosixFilePermissions.fromString(mode));
      assertThatThrownBy(() -> Daemon.secureRuntimeDir(run))
          .as(mode)
          .isInstanceOf(IOException.class)
          .hasMessageContaining("accessible to group or others")
          .hasMessageContaining(run.toString());
    }
    Files.setPosixFilePermissions(run, PosixFilePermissions.fromString("rwx------"));
    Daemon.secureRuntimeDir(run);
  }

  @Test
  void aSecondDaemonOnALiveControlSocketIsRefusedAStaleOneReplaced() throws Exception {
    var sock = dir.resolve("control");
    Daemon.refuseIfRunning(sock); // none: fine
    try (var server = new dev.zrepl4j.rpc.RpcServer(dev.zrepl4j.rpc.RpcOptions.defaults());
        var l = server.listenUnix(sock, "control")) {
      assertThatThrownBy(() -> Daemon.refuseIfRunning(sock))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("another zrepl4j daemon is running")
          .hasMessageContaining(sock.toString());
    }
    // the listener is gone; a leftover file is stale
    if (!Files.exists(sock)) {
      Files.createFile(sock);
    }
    Daemon.refuseIfRunning(sock);
  }
}
