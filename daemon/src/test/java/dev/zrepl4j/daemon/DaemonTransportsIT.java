package dev.zrepl4j.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.replication.FuseFixture;
import dev.zrepl4j.replication.Trees;
import dev.zrepl4j.rpc.transport.TestCerts;
import dev.zrepl4j.rpc.transport.TestSshd;
import dev.zrepl4j.zfs.DatasetPath;
import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Real {@code zrepl4j daemon} processes replicating a dataset tree between zfs-fuse pools over the
 * authenticated transports: mutual TLS with certificates made here by openssl (and the refusals of
 * a sink that keeps serving its good client), and ssh+stdinserver through a real sshd on 127.0.0.1
 * whose authorized_keys forces {@code zrepl4j stdinserver} of the shaded jar.
 */
@Timeout(300)
class DaemonTransportsIT extends TwoPoolsTest {
  DaemonTransportsIT() {
    super("dt");
  }

  String pushConfig(String name, String filesystem, String connect) {
    return global(name)
        + """
        jobs:
          - name: push
            type: push
            connect: %s
            filesystems: {"%s<": true}
            snapshotting: {type: periodic, prefix: zrepl_, interval: 1h}
            pruning:
              keep_sender:
                - {type: not_replicated}
                - {type: last_n, count: 2}
              keep_receiver:
                - {type: last_n, count: 3}
        """
            .formatted(connect, src.path(filesystem));
  }

  // -- TLS

  /** {@code {type: tls, ...}} of a push with client certificate {@code name}. */
  static String tlsConnect(TestCerts c, int port, String name) {
    return "{type: tls, address: \"127.0.0.1:%d\", ca: %s, cert: %s, key: %s, server_cn: backup}"
        .formatted(port, c.crt("ca"), c.crt(name), c.key(name));
  }

  /**
   * A push daemon {@code name} of {@code fs} to the TLS sink on {@code port} as client {@code cn}.
   */
  private DaemonProcess tlsPush(TestCerts certs, int port, String name, String fs, String cn)
      throws IOException {
    return DaemonProcess.start(
        dir, name, pushConfig(name, fs, tlsConnect(certs, port, cn)), sock(name));
  }

  static String tlsServe(TestCerts c, int port) {
    return ("{type: tls, listen: \"127.0.0.1:%d\", ca: %s, cert: %s, key: %s,"
            + " client_cns: [prod], handshake_timeout: 5s}")
        .formatted(port, c.crt("ca"), c.crt("server"), c.key("server"));
  }

  @Test
  void pushToSinkOverMutualTls() throws IOException {
    var certs = TestCerts.usual(dir.resolve("certs"));
    int port = freePort();
    try (var sink =
            DaemonProcess.start(dir, "sink", sinkConfig(tlsServe(certs, port)), sock("sink"));
        var push = tlsPush(certs, port, "push", "data", "prod")) {
      var s = push.awaitRuns("push", 1);
      assertRunOk(push, s);
      assertThat(s.lastRun().snapshot()).startsWith("zrepl_");
      // the client certificate's CN is the client identity below root_fs
      assertReplicated("prod");

      var text = push.cli("status");
      assertThat(text).contains("push (push)").contains("REPLICATED").contains("ok");
      assertThat(push.cli("status", "--json")).contains("\"runs\" : 1");
      assertThat(sink.job("sink").state()).isIn("waiting", "idle", "serving");
    }
  }

  @Test
  void tlsSinkRefusesBadClientsAndKeepsServingTheGoodOne() throws Exception {
    var certs = TestCerts.usual(dir.resolve("certs"));
    int port = freePort();
    try (var sink =
            DaemonProcess.start(dir, "sink", sinkConfig(tlsServe(certs, port)), sock("sink"));
        var good = tlsPush(certs, port, "good", "data", "prod")) {
      assertRunOk(good, good.awaitRuns("push", 1));

      // CN=prod, but signed by another CA; and a CN not in client_cns: both push 'other'
      try (var rogue = tlsPush(certs, port, "rogue", "other", "rogue");
          var stranger = tlsPush(certs, port, "stranger", "other", "other")) {
        // plain TCP on the TLS port: some bytes that are no TLS handshake
        try (var plain = new Socket("127.0.0.1", port)) {
          plain.setSoTimeout(10_000);
          plain
              .getOutputStream()
              .write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
          // the sink closes it (at most a TLS alert comes back); a timeout here would throw
          assertThat(plain.getInputStream().readAllBytes().length).isLessThan(100);
        } catch (java.net.SocketException reset) {
          // a reset is a refusal too
        }

        for (var bad : List.of(rogue, stranger)) {
          var s = bad.await("push", Duration.ofSeconds(90), j -> j.runs() >= 1);
          assertThat(s.lastRun()).isNotNull();
          assertThat(s.lastRun().ok()).as(bad.logText()).isFalse();
          // names the sink; the rogue's refusal may come during the handshake or just after it
          assertThat(s.lastError()).contains("tls: ").contains("127.0.0.1:" + port);
          assertThat(bad.cli("status")).contains("PROBLEMS").contains("problem: ");
        }
        assertThat(stranger.job("push").lastError())
            .contains("127.0.0.1:" + port + " refused this client");
      }
      var sinkLog = sink.logText();
      assertThat(sinkLog).contains("handshake failed"); // rogue and plain TCP
      assertThat(sinkLog).contains("CN 'other' is not in client_cns");
      assertThat(sink.alive()).isTrue();

      // nothing of 'other' was received, under any identity
      assertThat(dst.exists(DatasetPath.parse(dst.path("sink") + "/other"))).isFalse();
      assertThat(dst.exists(DatasetPath.parse(dst.path("sink") + "/prod/" + src.path("other"))))
          .isFalse();

      // the good client still replicates: new data, a new snapshot, wakeup
      Trees.write(src.mounted("data/a").resolve("a2.bin"), 5, 150_000);
      FuseFixture.run("zfs", "snapshot", "-r", src.path("data") + "@zrepl_after_refusals");
      assertThat(good.cli("signal", "wakeup", "push")).contains("wakeup");
      assertRunOk(good, good.awaitRuns("push", 2));
      assertReplicated("prod");
      assertThat(dst.versions(received("prod", "a")))
          .anyMatch(v -> v.name().equals("zrepl_after_refusals"));
    }
  }

  // -- ssh+stdinserver

  /** {@code {type: ssh+stdinserver, ...}} to {@code sshd} with {@code key}. */
  static String sshConnect(TestSshd sshd, Path key) {
    return ("{type: ssh+stdinserver, host: 127.0.0.1, user: %s, port: %d, identity_file: %s,"
            + " options: [%s], dial_timeout: 30s}")
        .formatted(
            System.getProperty("user.name"),
            sshd.port(),
            key,
            String.join(", ", TestSshd.CLIENT_OPTIONS.stream().map(o -> "\"" + o + "\"").toList()));
  }

  /** The forced command of an authorized key: the shaded jar's stdinserver for {@code id}. */
  static String stdinserver(Path sinkConfig, String id) {
    return String.join(
        " ", DaemonProcess.command("stdinserver", "--config", sinkConfig.toString(), id));
  }

  /** The {@code zrepl4j stdinserver} processes of this test's sink (one per open connection). */
  static List<ProcessHandle> relays(Path sinkConfig) {
    return ProcessHandle.allProcesses()
        .filter(
            p -> {
              var c = p.info().commandLine().orElse("");
              return c.contains(" stdinserver ") && c.contains(sinkConfig.toString());
            })
        .toList();
  }

  static void awaitNoRelays(Path sinkConfig) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
    while (!relays(sinkConfig).isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
    assertThat(relays(sinkConfig))
        .as("zrepl4j stdinserver processes left after the connections closed")
        .isEmpty();
  }

  @Test
  void pushToSinkOverSshStdinserver() throws Exception {
    var ssh = dir.resolve("ssh");
    var key = TestSshd.keygen(ssh, "client1");
    var sinkYaml = dir.resolve("sink.yml"); // DaemonProcess.start writes it
    try (var sshd =
            TestSshd.start(ssh, TestSshd.forcedCommand(stdinserver(sinkYaml, "client1"), key));
        var sink =
            DaemonProcess.start(
                dir,
                "sink",
                sinkConfig("{type: stdinserver, client_identities: [client1]}"),
                sock("sink"));
        var push =
            DaemonProcess.start(
                dir, "push", pushConfig("push", "data", sshConnect(sshd, key)), sock("push"))) {
      var s = push.awaitRuns("push", 1);
      assertThat(s.lastRun().problems())
          .as(push.logText() + "\nsshd:\n" + sshd.logText())
          .isEmpty();
      assertRunOk(push, s);
      // the forced command's identity names the client below root_fs
      assertReplicated("client1");
      assertThat(sshd.logText())
          .contains("Accepted publickey for " + System.getProperty("user.name"));
      awaitNoRelays(sinkYaml);

      // an incremental over a new ssh connection
      Trees.write(src.mounted("data/a/b").resolve("b2.bin"), 6, 120_000);
      FuseFixture.run("zfs", "snapshot", "-r", src.path("data") + "@zrepl_over_ssh2");
      push.cli("signal", "wakeup", "push");
      assertRunOk(push, push.awaitRuns("push", 2));
      assertReplicated("client1");
      assertThat(dst.versions(received("client1", "a/b")))
          .anyMatch(v -> v.name().equals("zrepl_over_ssh2"));
      assertThat(push.cli("status")).contains("push (push)").contains("REPLICATED");
      awaitNoRelays(sinkYaml);
      assertThat(sink.alive()).isTrue();
    }
  }

  @Test
  void sshStdinserverRefusesAKeyNotAuthorizedAndAnIdentityNotServed() throws Exception {
    var ssh = dir.resolve("ssh");
    var client1 = TestSshd.keygen(ssh, "client1");
    var client2 = TestSshd.keygen(ssh, "client2"); // forced to an identity the sink does not serve
    var stranger = TestSshd.keygen(ssh, "stranger"); // not in authorized_keys
    var sinkYaml = dir.resolve("sink.yml");
    try (var sshd =
            TestSshd.start(
                ssh,
                TestSshd.forcedCommand(stdinserver(sinkYaml, "client1"), client1),
                TestSshd.forcedCommand(stdinserver(sinkYaml, "client2"), client2));
        var sink =
            DaemonProcess.start(
                dir,
                "sink",
                sinkConfig("{type: stdinserver, client_identities: [client1]}"),
                sock("sink"));
        var unserved =
            DaemonProcess.start(
                dir,
                "unserved",
                pushConfig("unserved", "other", sshConnect(sshd, client2)),
                sock("unserved"));
        var unknown =
            DaemonProcess.start(
                dir,
                "unknown",
                pushConfig("unknown", "other", sshConnect(sshd, stranger)),
                sock("unknown"))) {
      var s = unknown.await("push", Duration.ofSeconds(90), j -> j.runs() >= 1);
      assertThat(s.lastRun().ok()).as(unknown.logText()).isFalse();
      assertThat(s.lastError())
          .as("%s\nsshd:\n%s", unknown.logText(), sshd.logText())
          .contains("ssh failed (exit status 255)")
          .contains("Permission denied");

      s = unserved.await("push", Duration.ofSeconds(90), j -> j.runs() >= 1);
      assertThat(s.lastRun().ok()).as(unserved.logText()).isFalse();
      // the relay's complaint comes back through ssh's stderr
      // the forced relay found no socket for client2 and exited 1; its complaint comes back
      // through ssh's stderr
      assertThat(s.lastError())
          .as("%s\nsshd:\n%s", unserved.logText(), sshd.logText())
          .contains("ssh failed (exit status 1)")
          .contains("zrepl4j stdinserver: cannot connect to")
          .contains("client2 in client_identities?");
      assertThat(unserved.cli("status")).contains("PROBLEMS");

      assertThat(dst.exists(DatasetPath.parse(dst.path("sink") + "/client2"))).isFalse();
      assertThat(dst.exists(DatasetPath.parse(dst.path("sink") + "/client1"))).isFalse();
      assertThat(sink.alive()).isTrue();
      awaitNoRelays(sinkYaml);

      // the authorized client1 is served afterwards
      try (var push =
          DaemonProcess.start(
              dir, "push", pushConfig("push", "data", sshConnect(sshd, client1)), sock("push"))) {
        assertRunOk(push, push.awaitRuns("push", 1));
        assertReplicated("client1");
      }
    }
  }
}
