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

      // the cause gone, the next wakeup reports its own run, not the failed one before. (@mine is
      // no received snapshot: the receiver put no hold on it, so it can be destroyed as it is.)
      assertThat(FuseFixture.prop(received("client1", "a") + "@mine", "userrefs")).isEqualTo("0");
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

  static String userrefs(String snapshot) throws IOException {
    return FuseFixture.run("zfs", "get", "-H", "-o", "value", "userrefs", snapshot).strip();
  }

  /**
   * zfs-fuse has no {@code zfs holds} nor bookmarks: {@code zfs-abstraction list} says which
   * snapshots carry holds it cannot name and which tags of ours they may be; {@code release-all
   * --job} releases exactly our tags and leaves a user's hold; a replica that cannot be destroyed
   * ("dataset is busy") because of the receiver's last-received hold is freed that way.
   */
  @Test
  void zfsAbstractionOnZfsFuse() throws Exception {
    int port = freePort();
    String sent = src.path("data") + "@s1";
    String replica = received("client1", "") + "@s1";
    try (var d = DaemonProcess.start(dir, "both", config(port, port), sock("both"))) {
      FuseFixture.run("zfs", "snapshot", "-r", src.path("data") + "@s1");
      var r = cli(d, "signal", "wakeup", "push", "--wait");
      assertThat(r.exit()).as("%s\n%s", r, d.logText()).isZero();
    }
    assertThat(userrefs(sent)).as("the sender's cursor hold").isEqualTo("1");
    assertThat(userrefs(replica)).as("the receiver's last-received hold").isEqualTo("1");
    FuseFixture.run("zfs", "hold", "keepme", sent); // a user's hold

    var cfg = dir.resolve("both.yml").toString();
    var list = DaemonProcess.run("--config", cfg, "zfs-abstraction", "list");
    assertThat(list.exit()).as(list.toString()).isZero();
    assertThat(list.out()).as("nothing it could name").isEmpty();
    assertThat(list.err())
        .contains("cannot list hold tags: this zfs has no `zfs holds` (zfs-fuse)")
        .contains(sent + " (2 holds)")
        .contains(replica + " (1 holds)")
        .contains("job sink: zrepl_last_received_J_sink")
        .contains("job push: zrepl_last_received_J_push, zrepl_STEP_J_push, zrepl_CURSOR_J_push");

    // the user wants the replica gone: ZFS says busy, because of our hold
    var busy =
        DaemonProcess.run(
            "--config", cfg, "zfs-abstraction", "list", "--fs", received("client1", "").toString());
    assertThat(busy.err()).contains(replica + " (1 holds)").contains("zrepl_last_received_J_sink");
    var dry =
        DaemonProcess.run(
            "zfs-abstraction",
            "release-all",
            "--job",
            "sink",
            "--fs",
            received("client1", "").toString(),
            "--dry-run");
    assertThat(dry.exit()).as(dry.toString()).isZero();
    assertThat(dry.out())
        .contains("would try to release \"zrepl_last_received_J_sink\" on " + replica);
    assertThat(userrefs(replica)).as("a dry run releases nothing").isEqualTo("1");
    var rel =
        DaemonProcess.run(
            "zfs-abstraction",
            "release-all",
            "--job",
            "sink",
            "--type",
            "last-received-hold",
            "--fs",
            received("client1", "").toString());
    assertThat(rel.exit()).as(rel.toString()).isZero();
    assertThat(rel.out())
        .contains("try to release \"zrepl_last_received_J_sink\" on " + replica + " ... OK");
    assertThat(userrefs(replica)).isEqualTo("0");
    FuseFixture.run("zfs", "destroy", replica);

    // the sender: our cursor hold goes, the user's hold stays
    var all =
        DaemonProcess.run(
            "zfs-abstraction", "release-all", "--job", "push", "--fs", src.path("data").toString());
    assertThat(all.exit()).as(all.toString()).isZero();
    assertThat(all.out())
        .contains("try to release \"zrepl_CURSOR_J_push\" on " + sent + " ... OK")
        .contains("try to release \"zrepl_STEP_J_push\" on " + sent + " ... not there");
    assertThat(userrefs(sent)).as("keepme is not ours").isEqualTo("1");

    // staleness needs the tags' places: refused here, saying what to do
    var stale =
        DaemonProcess.run("zfs-abstraction", "release-stale", "--fs", src.path("data").toString());
    assertThat(stale.exit()).isEqualTo(1);
    assertThat(stale.err())
        .contains("cannot tell stale holds here")
        .contains("release-all --job JOB");
    var noJob =
        DaemonProcess.run("zfs-abstraction", "release-all", "--fs", src.path("data").toString());
    assertThat(noJob.exit()).isEqualTo(1);
    assertThat(noJob.err()).contains("give --job JOB");
    assertThat(userrefs(sent)).isEqualTo("1");
  }

  /**
   * {@code zrepl4j verify} through the daemon on zfs-fuse: after three runs the copies match (exit
   * 0, content compared on legacy send streams); a snapshot destroyed on the receiver that
   * keep_receiver keeps is reported (exit 3), in {@code status --json} too; a sample out of range
   * and a job that does not replicate are refused (exit 1).
   */
  @Test
  void verifyComparesTheCopiesAndReportsASnapshotDestroyedOnTheReceiver() throws Exception {
    int port = freePort();
    try (var d = DaemonProcess.start(dir, "both", config(port, port), sock("both"))) {
      for (var s : java.util.List.of("s1", "s2", "s3")) {
        FuseFixture.run("zfs", "snapshot", "-r", src.path("data") + "@" + s);
        var r = cli(d, "signal", "wakeup", "push", "--wait");
        assertThat(r.exit()).as("%s\n%s", r, d.logText()).isZero();
      }
      var ok = cli(d, "verify", "--job", "push", "--sample", "3");
      assertThat(ok.exit()).as("%s\n%s", ok, d.logText()).isZero();
      assertThat(ok.out())
          .contains("verify push: ")
          .containsPattern(" (\\d+) snapshots compared with the sender, \\1 of them by content")
          .doesNotContain(" 0 snapshots compared")
          .contains("ok: the copies match the sender")
          .contains("note: sizes not compared");

      var copy = received("client1", "");
      FuseFixture.run("zfs", "destroy", copy + "@s2");
      var bad = cli(d, "verify", "--job", "push", "--sample", "0");
      assertThat(bad.exit()).as("%s\n%s", bad, d.logText()).isEqualTo(3);
      assertThat(bad.out())
          .contains("problem: " + src.path("data") + ": missing: @s2")
          .contains("1 problem(s): the copies do not match the sender");
      var json = cli(d, "status", "--json", "--job", "push");
      assertThat(json.out()).contains("\"verify\"").contains("\"kind\" : \"missing\"");

      var range = cli(d, "verify", "--job", "push", "--sample", "65");
      assertThat(range.exit()).isEqualTo(1);
      assertThat(range.err()).contains("--sample 65");
      var sink = cli(d, "verify", "--job", "sink");
      assertThat(sink.exit()).isEqualTo(1);
      assertThat(sink.err()).contains("verify runs on the side that replicates");
    }
  }

  /** {@code zrepl4j_verify}: the daemon verifies on its own, and status shows the report. */
  @Test
  void aScheduledVerifyShowsInStatus() throws Exception {
    int port = freePort();
    var cfg = config(port, port);
    int at = cfg.indexOf("snapshotting: {type: manual}");
    var indent = cfg.substring(cfg.lastIndexOf('\n', at) + 1, at);
    cfg =
        cfg.substring(0, at)
            + "zrepl4j_verify: {interval: 2s, sample: 1}\n"
            + indent
            + cfg.substring(at);
    try (var d = DaemonProcess.start(dir, "both", cfg, sock("both"))) {
      FuseFixture.run("zfs", "snapshot", "-r", src.path("data") + "@s1");
      var r = cli(d, "signal", "wakeup", "push", "--wait");
      assertThat(r.exit()).as("%s\n%s", r, d.logText()).isZero();
      long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
      String json = "";
      while (System.nanoTime() < deadline) {
        json = cli(d, "status", "--json", "--job", "push").out();
        if (java.util.regex.Pattern.compile("\"content_checked\" : [1-9]").matcher(json).find()) {
          break;
        }
        Thread.sleep(200);
      }
      assertThat(json)
          .as(d.logText())
          .containsPattern("\"content_checked\" : [1-9]")
          .contains("\"problems\" : [ ]");
      assertThat(d.logText()).contains("verify push: ");
    }
  }

  /**
   * A push of a whole pool into a sink whose seed mapping takes only data/a and below: the push
   * asks the sink what it maps and sends only that; the rest is not pushed, logged once, and no run
   * fails because of it (it used to FAIL per filesystem on every run).
   */
  @Test
  void pushIntoAMappedSinkSendsOnlyWhatItMaps() throws Exception {
    var yaml =
        global("mapped")
            + "jobs:\n"
            + """
              - name: sink
                type: sink
                root_fs: %s
                serve: {type: local, listener_name: backup}
                mapping: {"%s<": "backup/a"}
              - name: push
                type: push
                connect: {type: local, listener_name: backup, client_identity: here}
                filesystems: {"%s<": true}
                snapshotting: {type: manual}
                pruning:
                  keep_sender: [{type: regex, regex: ".*"}]
                  keep_receiver: [{type: regex, regex: ".*"}]
            """
                .formatted(dst.path("sink"), src.path("data/a"), src.root());
    try (var d = DaemonProcess.start(dir, "mapped", yaml, sock("mapped"))) {
      for (var snap : java.util.List.of("s1", "s2")) {
        FuseFixture.run("zfs", "snapshot", "-r", src.root() + "@" + snap);
        var r = cli(d, "signal", "wakeup", "push", "--wait");
        assertThat(r.exit()).as("%s\n%s", r, d.logText()).isZero();
        assertThat(r.out())
            .containsPattern("(?m)^    " + src.path("data/a") + " +REPLICATED ")
            .containsPattern("(?m)^    " + src.path("data/a/b") + " +REPLICATED ")
            .doesNotContain(src.path("other").toString())
            .doesNotContain(src.path("data") + " ");
      }
      var target = dst.path("sink") + "/here/backup/a";
      assertThat(FuseFixture.run("zfs", "list", "-H", "-o", "name", "-t", "snapshot", "-r", target))
          .contains(target + "@s2")
          .contains(target + "/b@s2");
      var notPushed =
          d.logText().lines().filter(l -> l.contains("not pushed: the sink's mapping")).toList();
      assertThat(notPushed)
          .as("once each, not every run")
          .hasSize(3)
          .anyMatch(l -> l.contains(src.root() + ": not pushed"))
          .anyMatch(l -> l.contains(src.path("data") + ": not pushed"))
          .anyMatch(l -> l.contains(src.path("other") + ": not pushed"));
    }
  }
}
