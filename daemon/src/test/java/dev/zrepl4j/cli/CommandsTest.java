package dev.zrepl4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Commands that need no daemon and no ZFS, run in-process; and errors when the daemon is down. */
class CommandsTest {
  // OpenZFS 2.3.2: zfs send -c tok/a@s2 | head -c 1500000 | zfs recv -s -u tok/b
  static final String TOKEN =
      "1-b83d660b3-d8-789c636064000310a500c4ec50360710e72765a52697303030419460caa7a515a796806444"
          + "e0f26c48f2499525a9c5403a435c0cabfe92fcf4d2cc140686c6af57971767061fd24092e704cbe725e6"
          + "a682e86cfd44876223062477703320dc9d9c9f5b50945a5c9c9fcd000700f81e19f3";

  record Run(int exit, String out, String err) {}

  static Run run(String... args) {
    var out = new StringWriter();
    var err = new StringWriter();
    var cl = Main.commandLine();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    var oldOut = System.out;
    var oldErr = System.err;
    var sysOut = new java.io.ByteArrayOutputStream();
    var sysErr = new java.io.ByteArrayOutputStream();
    System.setOut(new java.io.PrintStream(sysOut, true, java.nio.charset.StandardCharsets.UTF_8));
    System.setErr(new java.io.PrintStream(sysErr, true, java.nio.charset.StandardCharsets.UTF_8));
    try {
      int exit = cl.execute(args);
      return new Run(exit, out + sysOut.toString(), err + sysErr.toString());
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }

  @Test
  void decodesAResumeToken() {
    var r = run("test", "decoderesumetoken", "--token", TOKEN);
    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(r.out()).contains("toname = tok/a@s2").contains("offset = 1310720");
  }

  @Test
  void aBadTokenIsAClearError() {
    var r = run("test", "decoderesumetoken", "--token", "1-zz-10-789c");
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.err()).contains("not a valid resume token");
  }

  @Test
  void statusWithoutADaemonSaysSo(@TempDir Path dir) throws Exception {
    var cfg = dir.resolve("z.yml");
    Files.writeString(
        cfg,
        """
        global:
          control: {sockpath: %s}
        jobs:
          - {name: s, type: snap, filesystems: {"tank<": true}, snapshotting: {type: manual}, pruning: {keep: []}}
        """
            .formatted(dir.resolve("run/control")));
    for (var mode : new String[] {"interactive", "dump", "raw"}) {
      var r = run("status", "--mode", mode, "--config", cfg.toString());
      assertThat(r.exit()).isEqualTo(1);
      assertThat(r.err())
          .as(r.toString())
          .contains("no control socket at")
          .contains("is the daemon running");
      assertThat(r.err().strip().lines()).as("one line").hasSize(1);
      assertThat(r.out()).isEmpty();
    }
    var s = run("signal", "nudge", "s", "--config", cfg.toString());
    assertThat(s.exit()).isEqualTo(2);
    assertThat(s.err()).contains("unknown signal 'nudge'");
  }

  @Test
  void statusOnASocketLeftByADaemonThatIsGoneSaysSoInOneLine(@TempDir Path dir) throws Exception {
    var run = Files.createDirectory(dir.resolve("run"));
    var sock = run.resolve("control");
    // a real Unix socket file with no one listening any more (a killed daemon's)
    try (var server =
        java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
      server.bind(java.net.UnixDomainSocketAddress.of(sock));
    }
    assertThat(sock).exists();
    var cfg = dir.resolve("z.yml");
    Files.writeString(
        cfg,
        """
        global:
          control: {sockpath: %s}
        jobs:
          - {name: s, type: snap, filesystems: {"tank<": true}, snapshotting: {type: manual}, pruning: {keep: []}}
        """
            .formatted(sock));
    var r = run("status", "--mode", "dump", "--config", cfg.toString());
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.err())
        .as(r.toString())
        .contains("no daemon answers on the control socket " + sock);
    assertThat(r.err().strip().lines()).as("one line").hasSize(1);
    var bad = run("status", "--mode", "fancy", "--config", cfg.toString());
    assertThat(bad.exit()).isEqualTo(2);
    assertThat(bad.err()).contains("fancy");
  }

  @Test
  void filterOfAJobOnGivenInput(@TempDir Path dir) throws Exception {
    var cfg = dir.resolve("z.yml");
    Files.writeString(
        cfg,
        """
        jobs:
          - name: s
            type: snap
            filesystems: {"tank<": true, "tank/tmp<": false, "tank/tmp/keep": true}
            snapshotting: {type: manual}
            pruning: {keep: []}
        """);
    for (var c :
        new String[][] {
          {"tank/home", "+"}, {"tank/tmp/x", "-"}, {"tank/tmp/keep", "+"}, {"other/x", "-"}
        }) {
      var r = run("test", "filesystems", "--job", "s", "--input", c[0], "--config", cfg.toString());
      assertThat(r.exit()).as(r.err()).isZero();
      assertThat(r.out()).startsWith(c[1] + "\t" + c[0]);
    }
    var r =
        run("test", "filesystems", "--job", "nope", "--input", "tank", "--config", cfg.toString());
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.err()).contains("no job 'nope'");
  }

  /** A push job with hooks, pruning grids and durations: what --format must render. */
  static Path pushConfig(Path dir) throws java.io.IOException {
    var cfg = dir.resolve("push.yml");
    Files.writeString(
        cfg,
        """
        global:
          control: {sockpath: %s}
        jobs:
          - name: p1
            type: push
            connect: {type: tcp, address: "127.0.0.1:8888"}
            filesystems: {"tank/home<": true, "tank/home/tmp": false}
            snapshotting: {type: periodic, prefix: zrepl_, interval: 10m}
            pruning:
              keep_sender: [{type: not_replicated}, {type: last_n, count: 10}]
              keep_receiver: [{type: grid, grid: "1x1h(keep=all) | 24x1h", regex: "^zrepl_"}]
        """
            .formatted(dir.resolve("run/control")));
    return cfg;
  }

  @Test
  void theGlobalConfigOptionReachesEverySubcommand(@TempDir Path dir) throws Exception {
    var cfg = pushConfig(dir);
    var t =
        run(
            "--config",
            cfg.toString(),
            "test",
            "filesystems",
            "--job",
            "p1",
            "--input",
            "tank/home");
    assertThat(t.exit()).as(t.err()).isZero();
    assertThat(t.out()).startsWith("+\ttank/home");
    var s = run("--config", cfg.toString(), "status", "--mode", "dump");
    assertThat(s.exit()).isEqualTo(1);
    assertThat(s.err())
        .as("read the global config's socket")
        .contains("no control socket at " + dir.resolve("run/control"));
    var other = dir.resolve("other.yml");
    Files.copy(cfg, other);
    for (var cmd : List.of("status", "daemon", "signal", "version")) {
      var args = new java.util.ArrayList<>(List.of("--config", cfg.toString(), cmd));
      if (cmd.equals("signal")) {
        args.addAll(List.of("wakeup", "p1"));
      }
      args.addAll(List.of("--config", other.toString()));
      var both = run(args.toArray(String[]::new));
      assertThat(both.exit()).as(both.toString()).isEqualTo(1);
      assertThat(both.err())
          .as(cmd)
          .contains("--config given twice with different files")
          .contains(cfg.toString())
          .contains(other.toString());
    }
  }

  @Test
  void versionWithoutADaemonPrintsTheClientAndSaysSo(@TempDir Path dir) throws Exception {
    var cfg = pushConfig(dir);
    var r = run("--config", cfg.toString(), "version");
    assertThat(r.exit()).as(r.toString()).isEqualTo(1);
    assertThat(r.out()).startsWith("client: zrepl4j version=").doesNotContain("server:");
    assertThat(r.err())
        .contains("server: not reachable: no control socket at " + dir.resolve("run/control"));
    var client = run("version", "--show", "client", "--config", cfg.toString());
    assertThat(client.exit()).isZero();
    assertThat(client.out()).startsWith("client: zrepl4j version=");
    var bad = run("version", "--show", "both");
    assertThat(bad.exit()).isEqualTo(1);
    assertThat(bad.err()).contains("--show both");
  }
}
