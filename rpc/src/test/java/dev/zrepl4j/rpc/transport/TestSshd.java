package dev.zrepl4j.rpc.transport;

import static dev.zrepl4j.rpc.transport.Api.run;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A real {@code /usr/sbin/sshd} on 127.0.0.1 with its own config, host key and authorized_keys, all
 * in one directory, for ssh+stdinserver tests here and in the daemon's integration tests (rpc's
 * test-jar). Root may log in with forced commands only. Fails, never skips, when sshd is missing.
 * Not thread-safe.
 */
public final class TestSshd implements AutoCloseable {
  public static final Path SSHD = Path.of("/usr/sbin/sshd");

  /** The {@code ssh -o} options a test client needs: no host key checks, only the given key. */
  public static final List<String> CLIENT_OPTIONS =
      List.of(
          "StrictHostKeyChecking=no",
          "UserKnownHostsFile=/dev/null",
          "IdentitiesOnly=yes",
          "LogLevel=ERROR");

  private final Path dir;
  private final int port;
  private final Process sshd;

  private TestSshd(Path dir, int port, Process sshd) {
    this.dir = dir;
    this.port = port;
    this.sshd = sshd;
  }

  /** Makes an ed25519 key pair {@code dir/NAME} and {@code dir/NAME.pub}; returns the private. */
  public static Path keygen(Path dir, String name) throws IOException {
    Files.createDirectories(dir);
    exec(dir, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", name);
    return dir.resolve(name);
  }

  /**
   * An authorized_keys line that forces {@code command} (restrict) for the public key of {@code
   * privateKey} ({@code privateKey.pub}).
   */
  public static String forcedCommand(String command, Path privateKey) throws IOException {
    if (command.contains("\"")) {
      throw new IllegalArgumentException("a forced command must not contain '\"': " + command);
    }
    var pub = Files.readString(privateKey.resolveSibling(privateKey.getFileName() + ".pub"));
    return "command=\"" + command + "\",restrict " + pub.strip();
  }

  /**
   * Starts sshd on a free port of 127.0.0.1 with {@code authorizedKeys} (one line each) and waits
   * until it accepts connections. Its files are {@code dir/sshd*}; its log is {@link #log()}.
   */
  public static TestSshd start(Path dir, String... authorizedKeys) throws IOException {
    if (!Files.isExecutable(SSHD)) {
      throw new AssertionError(SSHD + ": openssh-server is not installed (scripts/test.sh does)");
    }
    Files.createDirectories(dir);
    Files.createDirectories(Path.of("/run/sshd")); // privilege separation directory
    Files.deleteIfExists(dir.resolve("sshd_host_key"));
    Files.deleteIfExists(dir.resolve("sshd_host_key.pub"));
    exec(dir, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", "sshd_host_key");
    Files.writeString(
        dir.resolve("sshd_authorized_keys"), String.join("\n", authorizedKeys) + "\n");
    int port;
    try (var s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Files.writeString(
        dir.resolve("sshd_config"),
        String.join(
            "\n",
            "Port " + port,
            "ListenAddress 127.0.0.1",
            "HostKey " + dir.resolve("sshd_host_key"),
            "PidFile " + dir.resolve("sshd.pid"),
            "AuthorizedKeysFile " + dir.resolve("sshd_authorized_keys"),
            "PermitRootLogin forced-commands-only",
            "StrictModes no",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "LogLevel VERBOSE",
            ""));
    var log = dir.resolve("sshd.log");
    var p =
        new ProcessBuilder(SSHD.toString(), "-D", "-e", "-f", dir.resolve("sshd_config").toString())
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .start();
    var d = new TestSshd(dir, port, p);
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (true) {
      try (var s = new Socket("127.0.0.1", port)) {
        return d;
      } catch (IOException e) {
        if (!p.isAlive() || System.nanoTime() > deadline) {
          d.close();
          throw new AssertionError("sshd did not start: " + d.logText(), e);
        }
        try {
          Thread.sleep(50);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          d.close();
          throw new InterruptedIOException("waiting for sshd");
        }
      }
    }
  }

  public int port() {
    return port;
  }

  public Path log() {
    return dir.resolve("sshd.log");
  }

  public String logText() {
    try {
      return Files.readString(log());
    } catch (IOException e) {
      return "(no sshd log: " + e + ")";
    }
  }

  /** Client settings for this sshd as the current user with {@code identityFile}. */
  public SshSettings settings(Path identityFile) {
    return new SshSettings(
        "127.0.0.1", System.getProperty("user.name"), port, identityFile, CLIENT_OPTIONS);
  }

  /** Stops sshd and the sessions it started (its descendants); waits for sshd to exit. */
  @Override
  public void close() {
    sshd.descendants().forEach(ProcessHandle::destroy);
    sshd.destroy();
    try {
      if (!sshd.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
        sshd.destroyForcibly();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      sshd.destroyForcibly();
    }
  }

  private static void exec(Path dir, String... cmd) throws IOException {
    try {
      run(dir, cmd);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException(cmd[0] + " interrupted");
    }
  }
}
