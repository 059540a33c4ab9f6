package dev.zrepl4j.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.replication.FuseFixture;
import dev.zrepl4j.replication.TcpProxy;
import dev.zrepl4j.replication.Trees;
import java.io.IOException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * zrepl's command line against a real daemon on zfs-fuse, started as zrepl's systemd unit writes it
 * ({@code zrepl4j --config F daemon}): {@code version} of client and daemon, {@code signal wakeup
 * --wait [--timeout]} reporting the run the wakeup started.
 */
@Timeout(300)
class CliIT extends TwoPoolsTest {
  CliIT() {
    super("cli");
  }

  /** One daemon: the sink over TCP on {@code port}, a manual push through {@code via}. */
  String config(int port, int via) {
    return global("both")
        + "jobs:\n"
        + sinkJob(
            "{type: tcp, listen: \"127.0.0.1:%d\", clients: {\"127.0.0.1\": client1}}"
                .formatted(port))
        + """
          - name: push
            type: push
            connect: {type: tcp, address: "127.0.0.1:%d"}
            filesystems: {"%s<": true}
            snapshotting: {type: manual}
            pruning:
              keep_sender: [{type: regex, regex: ".*"}]
              keep_receiver: [{type: regex, regex: ".*"}]
        """
            .formatted(via, src.path("data"));
  }

  DaemonProcess.Result cli(DaemonProcess d, String... args) throws IOException {
    var l = new java.util.ArrayList<>(java.util.List.of("--config", d.config.toString()));
    l.addAll(java.util.List.of(args));
    return DaemonProcess.run(l.toArray(String[]::new));
  }

  @Test
  void versionAndSignalWakeupWaitAgainstADaemonStartedAsZreplWritesIt() throws Exception {
    int port = freePort();
    try (var proxy = new TcpProxy(port);
        var d =
            DaemonProcess.startWithGlobalConfig(
                dir, "both", config(port, proxy.port()), sock("both"))) {
      // zfs-fuse lacks most features: one summary line at start, not one warning each
      var degraded =
          d.logText()
              .lines()
              .filter(l -> l.contains("zfs: ") && (l.contains("degraded") || l.contains("lacks")))
              .toList();
      assertThat(degraded)
          .singleElement()
          .asString()
          .contains("WARN")
          .containsPattern("lacks \\d+ features")
          .contains("bookmarks")
          .contains("holds-listing");

      var v = cli(d, "version");
      assertThat(v.exit()).as(v.err()).isZero();
      assertThat(v.out()).containsPattern("(?m)^client: zrepl4j version=\\S+ java=");
      assertThat(v.out()).containsPattern("(?m)^server: zrepl4j version=\\S+$");
      assertThat(v.err()).as("same jar: same version").doesNotContain("WARNING");

      FuseFixture.run("zfs", "snapshot", "-r", src.path("data") + "@s1");
      var r = cli(d, "signal", "wakeup", "push", "--wait");
      assertThat(r.exit()).as("%s\n%s", r, d.logText()).isZero();
      assertThat(r.err()).contains("waiting for its run 1");
      assertThat(r.out()).startsWith("job push run 1: ok");
      for (var fs : java.util.List.of("data", "data/a", "data/a/b")) {
        assertThat(r.out()).containsPattern("(?m)^    " + src.path(fs) + " +REPLICATED ");
      }
      assertReplicated("client1");

      // the receiver's copy of data/a diverged (a snapshot of its own): that run fails
      FuseFixture.run("zfs", "snapshot", received("client1", "a") + "@mine");
      FuseFixture.run("zfs", "snapshot", "-r", src.path("data") + "@s2");
      r = cli(d, "signal", "wakeup", "push", "--wait");
      assertThat(r.exit()).as("%s\n%s", r, d.logText()).isEqualTo(1);
      assertThat(r.out()).startsWith("job push run 2: FAILED");
      assertThat(r.out()).containsPattern("(?m)^    " + src.path("data") + " +REPLICATED ");
      assertThat(r.out())
          .containsPattern("(?m)^    " + src.path("data/a") + " +(CONFLICT|FAILED) ")
          .contains("problem: " + src.path("data/a"));

      // the cause gone, the next wakeup reports its own run, not the failed one before. (The
      // receiver moved its last-received hold onto @mine, the newest snapshot there, taking it for
      // an interrupted receive: release it by its tag to destroy @mine.)
      FuseFixture.run(
          "zfs", "release", "zrepl_last_received_J_sink", received("client1", "a") + "@mine");
      FuseFixture.run("zfs", "destroy", received("client1", "a") + "@mine");
      r = cli(d, "signal", "wakeup", "push", "--wait");
      assertThat(r.exit()).as("%s\n%s", r, d.logText()).isZero();
      assertThat(r.out()).startsWith("job push run 3: ok");
      assertThat(r.out()).containsPattern("(?m)^    " + src.path("data/a") + " +REPLICATED ");

      // a run that hangs: --timeout gives up (exit 3), the run goes on until reset
      proxy.stallAfter(0);
      Trees.write(src.mounted("data").resolve("more.bin"), 7, 2 << 20);
      FuseFixture.run("zfs", "snapshot", "-r", src.path("data") + "@s3");
      r = cli(d, "signal", "wakeup", "push", "--wait", "--timeout", "3s");
      assertThat(r.exit()).as("%s\n%s", r, d.logText()).isEqualTo(3);
      assertThat(r.err()).contains("timeout after PT3S: run 4 of job push is still running");
      assertThat(r.out()).isEmpty();
      assertThat(d.job("push").runs()).isEqualTo(3);
      d.signal("push", "reset");
      proxy.release();
      d.awaitRuns("push", 4);

      var bad = cli(d, "signal", "reset", "push", "--wait");
      assertThat(bad.exit()).isEqualTo(1);
      assertThat(bad.err()).contains("--wait only goes with wakeup");
      var badTimeout = cli(d, "signal", "wakeup", "push", "--wait", "--timeout", "soon");
      assertThat(badTimeout.exit()).isEqualTo(2);
      assertThat(badTimeout.err()).contains("'soon' is no duration");
      var noJob = cli(d, "signal", "wakeup", "nosuchjob", "--wait");
      assertThat(noJob.exit()).isEqualTo(1);
      assertThat(noJob.err()).contains("nosuchjob");
    }
  }
}
