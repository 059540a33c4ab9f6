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

  @Test
  void aSourcePulledByTwoClientsIsWarnedAboutInTheLogAndTheStatus() throws IOException {
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
                .formatted(src.path("data"))
            + pullJob("one", dst.path("one"))
            + pullJob("two", dst.path("two"));
    FuseFixture.run("zfs", "snapshot", "-r", src.path("data") + "@zrepl_fan1");
    for (var root : List.of("one", "two")) {
      FuseFixture.run("zfs", "create", "-o", "mountpoint=none", dst.path(root).toString());
    }
    try (var d = DaemonProcess.start(dir, "fan", yaml, sock("fan"))) {
      d.cli("signal", "wakeup", "one");
      assertThat(d.awaitRuns("one", 1).lastRun().problems()).as(d.logText()).isEmpty();
      assertThat(d.job("source").warnings()).isEmpty();
      d.cli("signal", "wakeup", "two");
      assertThat(d.awaitRuns("two", 1).lastRun().problems()).as(d.logText()).isEmpty();
      assertThat(d.job("source").warnings())
          .singleElement(org.assertj.core.api.InstanceOfAssertFactories.STRING)
          .contains("pulled by 2 clients [one, two]")
          .contains("zrepl#380");
      assertThat(d.cli("status")).contains("warning: pulled by 2 clients [one, two]");
      assertThat(d.logText()).contains("job source: pulled by 2 clients [one, two]");
    }
  }

  /** A manual pull job named {@code name} from the local listener "src" as client {@code name}. */
  private static String pullJob(String name, Object rootFs) {
    return """
          - name: %s
            type: pull
            connect: {type: local, listener_name: src, client_identity: %s}
            root_fs: %s
            interval: manual
            pruning:
              keep_sender: [{type: last_n, count: 5}]
              keep_receiver: [{type: last_n, count: 5}]
        """
        .formatted(name, name, rootFs);
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
