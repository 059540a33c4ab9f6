package dev.zrepl4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
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
}
