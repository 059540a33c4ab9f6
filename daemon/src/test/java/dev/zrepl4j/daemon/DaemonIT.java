package dev.zrepl4j.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.replication.FuseFixture;
import dev.zrepl4j.replication.TcpProxy;
import dev.zrepl4j.replication.Trees;
import dev.zrepl4j.zfs.DatasetPath;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Real {@code zrepl4j daemon} processes with zrepl-format configs replicating a dataset tree
 * between zfs-fuse pools over 127.0.0.1: push/sink over TCP in two daemons, push/sink over {@code
 * local} in one daemon, pull/source; SIGTERM during a transfer, restart, completion.
 */
@Timeout(300)
class DaemonIT extends TwoPoolsTest {
  DaemonIT() {
    super("d");
  }

  String pushJob(String connect) {
    return """
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
        .formatted(connect, src.path("data"));
  }

  /** A sink daemon serving client1 from 127.0.0.1 over TCP on {@code port}. */
  DaemonProcess startTcpSink(int port) throws IOException {
    return DaemonProcess.start(
        dir,
        "sink",
        sinkConfig(
            "{type: tcp, listen: \"127.0.0.1:%d\", clients: {\"127.0.0.1\": client1}}"
                .formatted(port)),
        sock("sink"));
  }

  /** A push daemon whose job connects over TCP to {@code port}. */
  DaemonProcess startTcpPush(int port) throws IOException {
    return DaemonProcess.start(
        dir,
        "push",
        global("push")
            + "jobs:\n"
            + pushJob("{type: tcp, address: \"127.0.0.1:%d\"}".formatted(port)),
        sock("push"));
  }

  @Test
  void signalResetAbortsTheRunAndWakeupCompletesIt() throws IOException {
    Trees.write(src.mounted("data/a/b").resolve("big.bin"), 9, 20 << 20);
    int port = freePort();
    try (var sink = startTcpSink(port);
        var proxy = new TcpProxy(port)) {
      // the transfer hangs after 3 MB, so the reset surely comes in the middle of it
      proxy.stallAfter(3 << 20);
      try (var push = startTcpPush(proxy.port())) {
        push.await(
            "push", Duration.ofSeconds(60), s -> s.current().stream().anyMatch(f -> f.bytes() > 0));
        assertThat(push.cli("signal", "reset", "push")).contains("reset");
        var s = push.await("push", Duration.ofSeconds(60), j -> j.runs() >= 1);
        assertThat(s.lastError()).as(push.logText()).contains("reset");
        assertThat(zfsChildren("zfs send", src.name)).as("zfs send left after reset").isEmpty();
        proxy.release();
        push.cli("signal", "wakeup", "push");
        s = push.await("push", Duration.ofSeconds(120), j -> j.runs() >= 2);
        assertThat(s.lastRun().problems()).as(push.logText()).isEmpty();
        assertReplicated("client1");
      }
    }
  }

  @Test
  void pushToSinkOverTcpInTwoDaemons() throws IOException {
    int port = freePort();
    try (var sink = startTcpSink(port);
        var push = startTcpPush(port)) {
      var s = push.awaitRuns("push", 1);
      assertThat(s.lastRun()).isNotNull();
      assertThat(s.lastRun().problems()).as(push.logText()).isEmpty();
      assertThat(s.lastRun().snapshot()).startsWith("zrepl_");
      assertThat(s.lastRun().filesystems())
          .extracting(JobStatus.Fs::state)
          .containsOnly("REPLICATED");
      assertReplicated("client1");

      // an incremental: new data, a snapshot with the job's prefix, signal wakeup
      Trees.write(src.mounted("data/a").resolve("a2.bin"), 4, 150_000);
      FuseFixture.run("zfs", "snapshot", "-r", src.path("data") + "@zrepl_manual2");
      assertThat(push.cli("signal", "wakeup", "push")).contains("wakeup");
      s = push.awaitRuns("push", 2);
      assertThat(s.lastRun().problems()).as(push.logText()).isEmpty();
      assertReplicated("client1");

      var text = push.cli("status");
      assertThat(text).contains("push (push)").contains("REPLICATED");
      var json = push.cli("status", "--json");
      assertThat(json).contains("\"name\" : \"push\"").contains("\"runs\" : 2");
      assertThat(sink.job("sink").state()).isIn("waiting", "idle");
    }
  }

  @Test
  void pushToSinkOverLocalInOneDaemon() throws IOException {
    try (var d =
        DaemonProcess.start(
            dir,
            "both",
            global("both")
                + "jobs:\n"
                + sinkJob("{type: local, listener_name: backup}")
                + pushJob("{type: local, listener_name: backup, client_identity: here}"),
            sock("both"))) {
      var s = d.awaitRuns("push", 1);
      assertThat(s.lastRun().problems()).as(d.logText()).isEmpty();
      assertReplicated("here");
    }
  }

  @Test
  void sendIntermediatesBringsNewSnapshotsInOneStepEach() throws IOException {
    // our extension replication.zrepl4j_send_intermediates: five new snapshots per filesystem go
    // as one zfs send -I step (zrepl takes five), and all five arrive with the sender's guids
    var push =
        """
          - name: push
            type: push
            connect: {type: local, listener_name: backup, client_identity: here}
            filesystems: {"%s<": true}
            snapshotting: {type: manual}
            replication: {zrepl4j_send_intermediates: true}
            pruning:
              keep_sender: [{type: regex, regex: ".*"}]
              keep_receiver: [{type: regex, regex: ".*"}]
        """
            .formatted(src.path("data"));
    FuseFixture.run("zfs", "snapshot", "-r", src.path("data") + "@i0");
    try (var d =
        DaemonProcess.start(
            dir,
            "batch",
            global("batch") + "jobs:\n" + sinkJob("{type: local, listener_name: backup}") + push,
            sock("batch"))) {
      d.cli("signal", "wakeup", "push");
      var s = d.awaitRuns("push", 1);
      assertThat(s.lastRun().problems()).as(d.logText()).isEmpty();
      for (int i = 1; i <= 5; i++) {
        Trees.write(src.mounted("data/a").resolve("i" + i + ".bin"), i, 50_000);
        FuseFixture.run("zfs", "snapshot", "-r", src.path("data") + "@i" + i);
      }
      d.cli("signal", "wakeup", "push");
      s = d.awaitRuns("push", 2);
      assertThat(s.lastRun().problems()).as(d.logText()).isEmpty();
      assertThat(s.lastRun().filesystems())
          .as(d.logText())
          .hasSize(3)
          .allSatisfy(
              f -> {
                assertThat(f.state()).isEqualTo("REPLICATED");
                assertThat(f.stepsTotal()).as("%s", f).isEqualTo(1);
              });
      for (var rel : List.of("", "a", "a/b")) {
        var from = rel.isEmpty() ? src.path("data") : src.path("data/" + rel);
        assertThat(dst.versions(received("here", rel)))
            .extracting(v -> v.name() + " " + Long.toUnsignedString(v.guid()))
            .containsExactlyElementsOf(
                src.versions(from).stream()
                    .filter(v -> v.isSnapshot())
                    .map(v -> v.name() + " " + Long.toUnsignedString(v.guid()))
                    .toList());
      }
      assertReplicated("here");
    }
  }

  @Test
  void sinkWithAMappingOverLocalInOneDaemon() throws IOException {
    var sink =
        """
          - name: sink
            type: sink
            root_fs: %s
            serve: {type: local, listener_name: backup}
            mapping: {"%s<": "backup/d"}
        """
            .formatted(dst.path("sink"), src.path("data"));
    try (var d =
        DaemonProcess.start(
            dir,
            "mapped",
            global("mapped")
                + "jobs:\n"
                + sink
                + pushJob("{type: local, listener_name: backup, client_identity: here}"),
            sock("mapped"))) {
      var s = d.awaitRuns("push", 1);
      assertThat(s.lastRun().problems()).as(d.logText()).isEmpty();
      assertMapped(dst.path("sink") + "/here/backup/d");
      assertThat(dst.exists(DatasetPath.parse(dst.path("sink") + "/here/" + src.root())))
          .as("nothing below the sender's own names")
          .isFalse();
      // an incremental: the sink maps its datasets back into the sender's names
      Trees.write(src.mounted("data/a").resolve("a2.bin"), 4, 150_000);
      FuseFixture.run("zfs", "snapshot", "-r", src.path("data") + "@zrepl_manual2");
      d.cli("signal", "wakeup", "push");
      s = d.awaitRuns("push", 2);
      assertThat(s.lastRun().problems()).as(d.logText()).isEmpty();
      assertThat(s.lastRun().filesystems())
          .extracting(JobStatus.Fs::state)
          .containsOnly("REPLICATED");
      assertMapped(dst.path("sink") + "/here/backup/d");
    }
  }

  /** The source's data, a and a/b arrived below {@code target}. */
  void assertMapped(String target) throws IOException {
    for (var rel : List.of("", "a", "a/b")) {
      var fs = DatasetPath.parse(target + (rel.isEmpty() ? "" : "/" + rel));
      var mnt = dst.mountReadOnly(fs);
      try {
        assertSameTopFiles(src.mounted(rel.isEmpty() ? "data" : "data/" + rel), mnt);
      } finally {
        FuseFixture.unmount(fs);
      }
    }
  }

  /** A source daemon serving {@code root} and below over TCP to the client "puller". */
  private String sourceConfig(int port, Object root) {
    return global("source")
        + """
        jobs:
          - name: source
            type: source
            serve: {type: tcp, listen: "127.0.0.1:%d", clients: {"127.0.0.1": puller}}
            filesystems: {"%s<": true}
            snapshotting: {type: periodic, prefix: zrepl_, interval: 1h}
        """
            .formatted(port, root);
  }

  @Test
  void pullWithAMappingSkipsWhatItDoesNotMap() throws IOException {
    int port = freePort();
    var sourceYaml = sourceConfig(port, src.root());
    var pullYaml =
        global("pull")
            + """
            jobs:
              - name: pull
                type: pull
                connect: {type: tcp, address: "127.0.0.1:%d"}
                root_fs: %s
                interval: manual
                mapping: {"%s<": "%s/mapped"}
                pruning:
                  keep_sender: [{type: last_n, count: 5}]
                  keep_receiver: [{type: last_n, count: 5}]
            """
                .formatted(port, dst.path("sink"), src.path("data"), dst.path("sink"));
    try (var source = DaemonProcess.start(dir, "source", sourceYaml, sock("source"));
        var pull = DaemonProcess.start(dir, "pull", pullYaml, sock("pull"))) {
      source.awaitRuns("source", 1);
      pull.cli("signal", "wakeup", "pull");
      var s = pull.awaitRuns("pull", 1);
      assertThat(s.lastRun().problems()).as(pull.logText()).isEmpty();
      assertMapped(dst.path("sink") + "/mapped");
      assertThat(dst.zfs.listFilesystems(List.of(dst.root()), p -> true))
          .as("the pool and 'other' are not mapped: skipped")
          .noneMatch(p -> p.toString().contains("other") || p.toString().contains(src.name));
    }
  }

  @Test
  void pullFromSourceOverTcp() throws IOException {
    int port = freePort();
    var sourceYaml = sourceConfig(port, src.path("data"));
    var pullYaml =
        global("pull")
            + """
            jobs:
              - name: pull
                type: pull
                connect: {type: tcp, address: "127.0.0.1:%d"}
                root_fs: %s
                interval: manual
                pruning:
                  keep_sender: [{type: last_n, count: 5}]
                  keep_receiver: [{type: last_n, count: 5}]
            """
                .formatted(port, dst.path("sink"));
    try (var source = DaemonProcess.start(dir, "source", sourceYaml, sock("source"));
        var pull = DaemonProcess.start(dir, "pull", pullYaml, sock("pull"))) {
      // the source snapshots at start (no snapshot yet); the manual pull runs on wakeup
      source.awaitRuns("source", 1);
      assertThat(pull.job("pull").runs()).isZero();
      pull.cli("signal", "wakeup", "pull");
      var s = pull.awaitRuns("pull", 1);
      assertThat(s.lastRun().problems()).as(pull.logText()).isEmpty();
      assertThat(source.job("source").warnings()).isEmpty(); // one client
      for (var rel : List.of("", "a", "a/b")) {
        var fs =
            DatasetPath.parse(
                dst.path("sink") + "/" + src.path("data") + (rel.isEmpty() ? "" : "/" + rel));
        var mnt = dst.mountReadOnly(fs);
        try {
          assertSameTopFiles(src.mounted(rel.isEmpty() ? "data" : "data/" + rel), mnt);
        } finally {
          FuseFixture.unmount(fs);
        }
      }
    }
  }

  /**
   * zrepl#380: three clients pull from one source job, each on its own schedule, and each prunes
   * the source hard ({@code last_n 2} besides {@code not_replicated}). Each client keeps its own
   * cursor and step holds ({@code <job>_C_<client>}), so none moves another's cursor or releases
   * its holds, and every run after the first is incremental. (With the job's name alone, as before,
   * the first client's completions released the cursor hold of the others' base, its pruning
   * destroyed it, and the others lost their incremental base.)
   */
  @Test
  void threePullersOfOneSourceOnTheirOwnSchedulesWithSourcePruningAllStayIncremental()
      throws IOException {
    var keepSender = "[{type: not_replicated}, {type: last_n, count: 2}]";
    var pullers = List.of("one", "two", "three");
    var yaml =
        global("fan")
            + """
            jobs:
              - name: source
                type: source
                serve: {type: local, listener_name: src}
                filesystems: {"%s<": true}
                snapshotting: {type: manual}
            """
                .formatted(src.path("data"));
    for (var p : pullers) {
      yaml += pullJob(p, dst.path(p), keepSender);
      FuseFixture.run("zfs", "create", "-o", "mountpoint=none", dst.path(p).toString());
    }
    int rounds = 7;
    int pruned = 0;
    try (var d = DaemonProcess.start(dir, "fan", yaml, sock("fan"))) {
      var runs = new java.util.HashMap<String, Long>();
      for (int round = 0; round < rounds; round++) {
        var snap = "zrepl_fan" + round;
        Trees.write(src.mounted("data").resolve(snap + ".bin"), round, 64 << 10);
        FuseFixture.run("zfs", "snapshot", "-r", src.path("data") + "@" + snap);
        for (int i = 0; i < pullers.size(); i++) {
          if (round % (i + 1) != 0) {
            continue; // one pulls every round, two every second, three every third
          }
          var p = pullers.get(i);
          int mark = d.logText().length();
          d.cli("signal", "wakeup", p);
          long n = runs.merge(p, 1L, Long::sum);
          var run = d.awaitRuns(p, n).lastRun();
          var log = d.logText().substring(mark);
          assertThat(run.problems()).as("round %d, %s: %s", round, p, log).isEmpty();
          pruned += run.pruned();
          var sends =
              log.lines().filter(l -> l.contains("job " + p + ": ") && l.contains(": sending "));
          if (round == 0) {
            assertThat(log).as("%s's first run", p).contains("job " + p + ": ");
          } else {
            assertThat(sends.toList())
                .as("round %d: %s's sends (every one incremental)", round, p)
                .isNotEmpty()
                .noneMatch(l -> l.contains("sending full"));
          }
          // its receiver has the newest snapshot, for every filesystem
          for (var fs : List.of("data", "data/a", "data/a/b")) {
            var target = dst.path(p).extend(src.path(fs));
            assertThat(dst.versions(target))
                .as("%s's %s after round %d", p, fs, round)
                .extracting(v -> v.name())
                .contains(snap);
          }
        }
      }
      assertThat(d.logText())
          .contains("job source: pulled by client one")
          .contains("job source: pulled by client three")
          .doesNotContain("zrepl#380");
      assertThat(d.job("source").warnings()).isEmpty();
    }
    assertThat(pruned).as("snapshots the pullers pruned on the source").isPositive();
    assertThat(src.versions(src.path("data")))
        .as("the source keeps the last 2 and every puller's base, not all %d", rounds)
        .filteredOn(v -> v.isSnapshot())
        .hasSizeLessThan(rounds);
  }

  /**
   * A manual pull job named {@code name} from the local listener "src" as client {@code name},
   * pruning the source with {@code keepSender} and its receiver to the last 20.
   */
  private static String pullJob(String name, Object rootFs, String keepSender) {
    return """
          - name: %s
            type: pull
            connect: {type: local, listener_name: src, client_identity: %s}
            root_fs: %s
            interval: manual
            pruning:
              keep_sender: %s
              keep_receiver: [{type: last_n, count: 20}]
        """
        .formatted(name, name, rootFs, keepSender);
  }

  @ParameterizedTest(name = "SIGTERM to the {0} daemon")
  @ValueSource(strings = {"push", "sink"})
  void sigtermDuringTransferThenRestartCompletes(String victim) throws IOException {
    // enough data that the transfer is still running when SIGTERM comes
    Trees.write(src.mounted("data/a/b").resolve("big.bin"), 9, 200 << 20);
    int port = freePort();
    try (var sink = startTcpSink(port);
        var push = startTcpPush(port)) {
      push.await(
          "push", Duration.ofSeconds(60), s -> s.current().stream().anyMatch(f -> f.bytes() > 0));
      var killed = victim.equals("push") ? push : sink;
      assertThat(killed.terminate()).as("exit status after SIGTERM").isIn(0, 143);
      assertThat(killed.logText()).contains("shutting down");
      if (victim.equals("push")) {
        assertThat(zfsChildren("zfs send", src.name)).as("zfs send left after SIGTERM").isEmpty();
      } else {
        assertThat(zfsChildren("zfs receive", dst.name))
            .as("zfs receive left after SIGTERM")
            .isEmpty();
      }
      killed.restart();
      JobStatus s;
      if (victim.equals("push")) {
        s = push.await("push", Duration.ofSeconds(120), j -> j.runs() >= 1 && j.lastRun().ok());
      } else {
        // the push's run retries while the sink is away; if it gave up, the next run completes
        s = push.await("push", Duration.ofSeconds(120), j -> j.runs() >= 1);
        if (!s.lastRun().ok()) {
          push.cli("signal", "wakeup", "push");
          s = push.await("push", Duration.ofSeconds(120), j -> j.runs() >= 2);
        }
        assertThat(s.lastRun().problems()).as(push.logText()).isEmpty();
      }
      assertThat(s.lastRun().filesystems())
          .extracting(JobStatus.Fs::state)
          .doesNotContain("FAILED");
      assertReplicated("client1");
      assertNoStrayHolds();
      // what was received is real data, not a placeholder left from the interrupted attempt
      for (var rel : List.of("", "a", "a/b")) {
        var r =
            DaemonProcess.run(
                "test", "placeholder", "--dataset", received("client1", rel).toString());
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).contains("no\t" + received("client1", rel));
      }
    }
  }

  static List<String> zfsChildren(String verb, String pool) {
    return ProcessHandle.allProcesses()
        .map(p -> p.info().commandLine().orElse(""))
        .filter(c -> c.contains(verb) && c.contains(pool))
        .toList();
  }

  /** Only the cursor hold on the sender's newest snapshot, the last-received hold on the sink's. */
  void assertNoStrayHolds() throws IOException {
    for (var rel : List.of("", "a", "a/b")) {
      var sfs = rel.isEmpty() ? src.path("data") : src.path("data/" + rel);
      var vs = src.versions(sfs).stream().filter(v -> v.isSnapshot()).toList();
      for (int i = 0; i < vs.size(); i++) {
        assertThat(vs.get(i).userRefs())
            .as("holds on %s@%s", sfs, vs.get(i).name())
            .isEqualTo(i == vs.size() - 1 ? 1 : 0);
      }
      var rfs = received("client1", rel);
      var rv = dst.versions(rfs).stream().filter(v -> v.isSnapshot()).toList();
      for (int i = 0; i < rv.size(); i++) {
        assertThat(rv.get(i).userRefs())
            .as("holds on %s@%s", rfs, rv.get(i).name())
            .isEqualTo(i == rv.size() - 1 ? 1 : 0);
      }
    }
  }
}
