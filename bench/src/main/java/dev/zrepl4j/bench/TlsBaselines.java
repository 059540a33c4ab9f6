package dev.zrepl4j.bench;

import dev.zrepl4j.rpc.transport.Tls;
import dev.zrepl4j.rpc.transport.TlsClientSettings;
import dev.zrepl4j.rpc.transport.TlsServerSettings;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import org.jspecify.annotations.Nullable;

/**
 * What replication over TLS is measured against (issue 15): certificates made by the real openssl
 * CLI (a CA, a server "server" and a client "bench", P-256 keys), a plain JSSE copy of a {@code zfs
 * send} stream over mutual TLS 1.3 into {@code zfs recv} (one JVM, the two sockets' ends, 256 KiB
 * arrays: the least a Java program that moves the stream through TLS does), and {@code zfs send |
 * ssh 127.0.0.1 zfs recv} (what syncoid does) through a real sshd started here on a free port of
 * 127.0.0.1 with its own host key and a key for root. Closing stops sshd.
 */
final class TlsBaselines implements AutoCloseable {
  static final String CLIENT_CN = "bench";
  private static final String SERVER_CN = "server";
  private static final String[] PROTOCOLS = {"TLSv1.3"};

  private final Path dir;
  private final @Nullable Process sshd;
  private final int sshPort;

  private TlsBaselines(Path dir, @Nullable Process sshd, int sshPort) {
    this.dir = dir;
    this.sshd = sshd;
    this.sshPort = sshPort;
  }

  /** Makes the certificates and keys in {@code dir} and starts sshd. */
  static TlsBaselines start(Path dir) throws IOException {
    Files.createDirectories(dir);
    var script =
        String.join(
            "\n",
            "set -e",
            "cd \"$1\"",
            "ec='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'",
            "openssl req -x509 $ec -keyout ca.key -out ca.crt -subj /CN=bench-ca -days 2 2>/dev/null",
            "for n in " + SERVER_CN + " " + CLIENT_CN + "; do",
            "  openssl req $ec -keyout $n.key -out $n.csr -subj /CN=$n 2>/dev/null",
            "  openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $n.crt"
                + " -days 2 2>/dev/null",
            "done",
            "rm -f ssh_host ssh_host.pub ssh_client ssh_client.pub",
            "ssh-keygen -q -t ed25519 -N '' -f ssh_host",
            "ssh-keygen -q -t ed25519 -N '' -f ssh_client",
            "cp ssh_client.pub authorized_keys");
    Shell.run("sh", "-c", script, "sh", dir.toString());
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
            "HostKey " + dir.resolve("ssh_host"),
            "PidFile " + dir.resolve("sshd.pid"),
            "AuthorizedKeysFile " + dir.resolve("authorized_keys"),
            "PermitRootLogin prohibit-password",
            "StrictModes no",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            ""));
    Files.createDirectories(Path.of("/run/sshd"));
    var sshd =
        new ProcessBuilder(
                "/usr/sbin/sshd", "-D", "-e", "-f", dir.resolve("sshd_config").toString())
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("sshd.log").toFile()))
            .start();
    var b = new TlsBaselines(dir, sshd, port);
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (true) {
      try (var s = new Socket("127.0.0.1", port)) {
        return b;
      } catch (IOException e) {
        if (!sshd.isAlive() || System.nanoTime() > deadline) {
          b.close();
          throw new IOException("sshd did not start: " + Files.readString(dir.resolve("sshd.log")));
        }
        Shell.sleep(50);
      }
    }
  }

  TlsServerSettings serverSettings() {
    return new TlsServerSettings(
        dir.resolve("ca.crt"),
        dir.resolve(SERVER_CN + ".crt"),
        dir.resolve(SERVER_CN + ".key"),
        List.of(CLIENT_CN),
        Duration.ofSeconds(10));
  }

  TlsClientSettings clientSettings() {
    return new TlsClientSettings(
        dir.resolve("ca.crt"),
        dir.resolve(CLIENT_CN + ".crt"),
        dir.resolve(CLIENT_CN + ".key"),
        SERVER_CN);
  }

  /**
   * {@code zfs send snapshot} through a mutual-TLS connection on 127.0.0.1 into {@code zfs recv -u
   * target}, both ends in this JVM (a thread each), waiting for both commands.
   */
  void jsseCopy(String snapshot, String target) throws IOException {
    var s = serverSettings();
    var c = clientSettings();
    var serverCtx = Tls.context(s.ca(), s.cert(), s.key());
    var clientCtx = Tls.context(c.ca(), c.cert(), c.key());
    var failure = new AtomicReference<@Nullable Exception>();
    try (var ss =
        (SSLServerSocket)
            serverCtx
                .getServerSocketFactory()
                .createServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      ss.setEnabledProtocols(PROTOCOLS);
      ss.setNeedClientAuth(true);
      var receiving =
          Thread.ofPlatform()
              .name("jsse-recv")
              .start(
                  () -> {
                    try (var in = (SSLSocket) ss.accept()) {
                      var recv =
                          new ProcessBuilder("zfs", "recv", "-u", target)
                              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                              .redirectError(ProcessBuilder.Redirect.INHERIT)
                              .start();
                      try (var stdin = recv.getOutputStream()) {
                        copy(in.getInputStream(), stdin);
                      }
                      if (recv.waitFor() != 0) {
                        throw new IOException("zfs recv -u " + target + " failed");
                      }
                    } catch (IOException | InterruptedException e) {
                      failure.compareAndSet(null, e);
                    }
                  });
      var send =
          new ProcessBuilder("zfs", "send", snapshot)
              .redirectError(ProcessBuilder.Redirect.INHERIT)
              .start();
      try (var out = (SSLSocket) clientCtx.getSocketFactory().createSocket()) {
        out.setEnabledProtocols(PROTOCOLS);
        out.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), ss.getLocalPort()));
        try (var stdout = send.getInputStream()) {
          copy(stdout, out.getOutputStream());
        }
        out.getOutputStream().flush();
      }
      if (send.waitFor() != 0) {
        throw new IOException("zfs send " + snapshot + " failed");
      }
      receiving.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted");
    }
    var f = failure.get();
    if (f != null) {
      throw new IOException("the JSSE copy failed: " + f, f);
    }
  }

  /** {@code zfs send snapshot | ssh root@127.0.0.1 zfs recv -u target}, as syncoid pipes it. */
  void sshPipe(String snapshot, String target) throws IOException {
    var ssh = new ArrayList<String>();
    for (var a :
        List.of(
            "ssh",
            "-i",
            dir.resolve("ssh_client").toString(),
            "-p",
            Integer.toString(sshPort),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "LogLevel=ERROR",
            "root@127.0.0.1",
            "zfs recv -u " + target)) {
      ssh.add(a);
    }
    var send =
        new ProcessBuilder("zfs", "send", snapshot).redirectError(ProcessBuilder.Redirect.INHERIT);
    var recv =
        new ProcessBuilder(ssh)
            .redirectOutput(ProcessBuilder.Redirect.INHERIT)
            .redirectError(ProcessBuilder.Redirect.INHERIT);
    Shell.pipeline(List.of(send, recv), "zfs send " + snapshot + " | ssh … zfs recv -u " + target);
  }

  private static void copy(InputStream in, OutputStream out) throws IOException {
    var buf = new byte[256 * 1024];
    int n;
    while ((n = in.read(buf)) != -1) {
      out.write(buf, 0, n);
    }
  }

  @Override
  public void close() {
    var p = sshd;
    if (p != null) {
      p.descendants().forEach(ProcessHandle::destroy);
      p.destroy();
      try {
        p.waitFor();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
