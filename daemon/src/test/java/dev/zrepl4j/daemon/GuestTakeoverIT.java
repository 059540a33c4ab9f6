package dev.zrepl4j.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.replication.GuestFixture;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Taking over a zrepl installation (issue 16): the state zrepl 0.6/0.7 leaves on both hosts is laid
 * down with plain {@code zfs} commands, exactly by zrepl's on-disk conventions (its {@code
 * internal/endpoint} and {@code internal/zfs/placeholder.go}), then zrepl4j daemons run the same
 * zrepl config with the same job names. zrepl's state here:
 *
 * <ul>
 *   <li>sender: the replication cursor {@code #zrepl_CURSOR_G_<guid %016x>_J_<push job>} on the
 *       last replicated snapshot; the step holds {@code zrepl_STEP_J_<push job>} on from and to of
 *       a step that did not complete; a stale tentative cursor {@code
 *       #zrepl_CURSORTENTATIVE__G_<guid>_J_<job>} (zrepl's prefix ends in {@code _}, so the name
 *       has two); the v1 cursor {@code #zrepl_replication_cursor} of zrepl 0.0.x;
 *   <li>receiver: replicas received by {@code zfs send | zfs recv -s}, the hold {@code
 *       zrepl_last_received_J_<sink job>} on the newest received snapshot, placeholders created as
 *       zrepl does ({@code zfs create -o zrepl:placeholder=on -o mountpoint=none}: the client
 *       identity's dataset and every gap), and a partial resumable receive.
 * </ul>
 *
 * <p>The filesystems, one situation each: {@code data} (clean: cursor, v1 cursor, stale tentative
 * cursor), {@code data/pruned} (the common snapshot pruned on the sender, only zrepl's cursor
 * bookmark left), {@code data/gap/kid} (below a gap placeholder, so its own {@code
 * zrepl:placeholder=on} is inherited: real data), {@code data/resume} (a step interrupted mid-way:
 * step holds and a resume token), {@code data/unconfirmed} (received, but zrepl stopped before
 * {@code SendCompleted}: step holds, cursor one behind). A source job keeps its cursors per client
 * ({@code _J_<source job>_C_<client>}): its client adopts zrepl's cursor and step holds.
 */
@Timeout(400)
class GuestTakeoverIT {
  static final String SRC = "tkosrc";
  static final String DST = "tkodst";
  static final String PUSH = "prod_to_backup";
  static final String SINK = "sink";
  static final String IDENTITY = "prod";
  static final String RECV_ROOT = DST + "/sink/" + IDENTITY;
  static final String SOURCE = "backup_source";
  static final String PULL = "backup_pull";
  static final String PULL_ROOT = DST + "/pull";
  static final String T1 = "@zrepl_20261206_100000_000";
  static final String T2 = "@zrepl_20261206_110000_000";
  static final String T3 = "@zrepl_20261206_120000_000";

  /** A bookmark named like a cursor of the sending job whose guid is not its own. */
  static final String TINKERED = "#zrepl_CURSOR_G_0000000000000001_J_";

  static final List<String> INCREMENTAL = List.of("data", "data/pruned", "data/gap/kid");

  @TempDir Path dir;
  GuestFixture guest;

  // zrepl names its abstractions after the job of the side that makes them: the sending job's
  // cursor and step holds, the receiving job's last-received hold
  String sendJob = PUSH;
  // the name zrepl4j's sending side gives them after the takeover: a push job's own, a source
  // job's per client (<job>_C_<client>: each puller keeps its own cursor, zrepl#380; zrepl's is
  // adopted by the first client)
  String takenJob = PUSH;
  String recvJob = SINK;
  String recvRoot = RECV_ROOT;

  String stepHold() {
    return "zrepl_STEP_J_" + sendJob;
  }

  String lastReceivedHold() {
    return "zrepl_last_received_J_" + recvJob;
  }

  @BeforeEach
  void pools() {
    guest = GuestFixture.fromEnvironment();
    guest.createPool(SRC);
    guest.createPool(DST);
  }

  @AfterEach
  void destroy() {
    if (guest != null) {
      guest.destroyPoolIfExists(SRC);
      guest.destroyPoolIfExists(DST);
    }
  }

  // ---------------------------------------------------------------- zrepl's state, by hand

  static String src(String fs) {
    return SRC + "/" + fs;
  }

  String dst(String fs) {
    return recvRoot + "/" + SRC + "/" + fs;
  }

  String guid(String version) {
    return guest.prop(version, "guid");
  }

  /** zrepl's cursor name: {@code fmt.Sprintf("zrepl_CURSOR_G_%016x_J_%s", guid, job)}. */
  String cursor(String snapshot) {
    return "#zrepl_CURSOR_G_"
        + HexFormat.of().toHexDigits(Long.parseUnsignedLong(guid(snapshot)))
        + "_J_"
        + sendJob;
  }

  /** The cursor zrepl4j's sending side keeps after the takeover ({@link #takenJob}). */
  String cursorAfter(String snapshot) {
    return cursor(snapshot).replaceFirst("_J_" + sendJob + "$", "_J_" + takenJob);
  }

  /** zrepl's tentative cursor: its prefix {@code zrepl_CURSORTENTATIVE_} + {@code _G_...}. */
  String tentativeCursor(String snapshot) {
    return "#zrepl_CURSORTENTATIVE__G_"
        + HexFormat.of().toHexDigits(Long.parseUnsignedLong(guid(snapshot)))
        + "_J_"
        + sendJob;
  }

  void bookmark(String fs, String snap, String bookmark) {
    guest.zfs("bookmark", src(fs) + snap, src(fs) + bookmark).ok();
  }

  /** What zrepl's placeholder creation runs ({@code ZFSCreatePlaceholderFilesystem}). */
  void zreplPlaceholder(String dataset) {
    guest.zfs("create", "-o", "zrepl:placeholder=on", "-o", "mountpoint=none", dataset).ok();
  }

  /** A step as zrepl's sender and receiver run it: {@code zfs send [-i from] to | zfs recv -s}. */
  void sendRecv(String fs, String from, String to) {
    var send = from.isEmpty() ? "" : "-i " + from + " ";
    guest.sh("zfs send " + send + src(fs) + to + " | zfs recv -s " + dst(fs) + to);
  }

  /** zrepl's receiver after a step: the last-received hold onto {@code to}, off the older one. */
  void lastReceived(String fs, String to, String older) {
    guest.zfs("hold", lastReceivedHold(), dst(fs) + to).ok();
    if (!older.isEmpty()) {
      guest.zfs("release", lastReceivedHold(), dst(fs) + older).ok();
    }
  }

  /** zrepl's sender after {@code SendCompleted}: the cursor moved from {@code older} to to. */
  void cursorMoved(String fs, String to, String older) {
    bookmark(fs, to, cursor(src(fs) + to));
    if (!older.isEmpty()) {
      guest.zfs("destroy", src(fs) + cursor(src(fs) + older)).ok();
    }
  }

  void write(String fs, String file, int megabytes) {
    guest.writeRandom("/" + src(fs) + "/" + file, megabytes);
  }

  /**
   * zrepl's state after its runs of the situations in the class comment.
   *
   * @param sink a sink's receiver ({@code root_fs/<identity>} is a placeholder) or a pull's
   */
  void layDownZreplState(boolean sink) {
    for (var fs : List.of("data", "data/pruned", "data/gap", "data/gap/kid")) {
      guest.zfs("create", src(fs)).ok();
    }
    guest.zfs("create", src("data/resume")).ok();
    guest.zfs("create", src("data/unconfirmed")).ok();
    var replicated =
        List.of("data", "data/pruned", "data/gap/kid", "data/resume", "data/unconfirmed");
    for (var fs : replicated) {
      write(fs, "base.bin", 6);
      guest.zfs("snapshot", src(fs) + T1).ok();
    }
    // the receiver: root_fs made by the admin; the client's dataset (sink) and the gaps are
    // zrepl's placeholders; then the initial replication of T1 with its last-received hold and
    // cursor
    if (sink) {
      guest.zfs("create", DST + "/sink").ok();
      zreplPlaceholder(recvRoot);
    } else {
      guest.zfs("create", recvRoot).ok();
    }
    zreplPlaceholder(recvRoot + "/" + SRC);
    sendRecv("data", "", T1);
    zreplPlaceholder(dst("data/gap"));
    for (var fs : replicated) {
      if (!fs.equals("data")) {
        sendRecv(fs, "", T1);
      }
      lastReceived(fs, T1, "");
      cursorMoved(fs, T1, "");
    }
    // zrepl 0.0.x's cursor, never migrated (zrepl 0.7 only warns about it)
    bookmark("data", T1, "#zrepl_replication_cursor");
    // a tentative cursor of an earlier guarantee_incremental config whose step was cut short
    bookmark("data", T1, tentativeCursor(src("data") + T1));
    // made by hand, named like a cursor: not one to zrepl (its guid is not the name's)
    bookmark("data", T1, TINKERED + sendJob);

    // the second step, T1 -> T2, in each situation
    for (var fs : replicated) {
      write(fs, "second.bin", fs.equals("data/resume") ? 3 : 1);
      guest.zfs("snapshot", src(fs) + T2).ok();
    }
    for (var fs : List.of("data", "data/pruned", "data/gap/kid")) {
      sendRecv(fs, T1, T2);
      lastReceived(fs, T2, T1);
      cursorMoved(fs, T2, T1);
    }
    // pruned on the sender by a grid rule: only the cursor bookmark keeps T2's guid
    guest.zfs("destroy", src("data/pruned") + T2).ok();
    guest.zfs("destroy", src("data/pruned") + T1).ok();
    // cut short mid-stream: step holds on from and to, a resumable partial receive
    guest.zfs("hold", stepHold(), src("data/resume") + T1, src("data/resume") + T2).ok();
    var cut =
        guest.exec(
            "sh",
            "-c",
            "zfs send -i "
                + T1
                + " "
                + src("data/resume")
                + T2
                + " | head -c 1200000 | zfs recv -s "
                + dst("data/resume")
                + T2);
    assertThat(cut.status()).as("the truncated receive fails").isNotZero();
    assertThat(guest.prop(dst("data/resume"), "receive_resume_token")).startsWith("1-");
    // received, but stopped before SendCompleted: step holds, the cursor one step behind
    guest.zfs("hold", stepHold(), src("data/unconfirmed") + T1, src("data/unconfirmed") + T2).ok();
    sendRecv("data/unconfirmed", T1, T2);
    lastReceived("data/unconfirmed", T2, T1);

    // zrepl is stopped; a new snapshot appears (the admin's or a snap job's) before zrepl4j runs
    for (var fs : List.of("data", "data/pruned", "data/gap/kid", "data/resume")) {
      write(fs, "third.bin", 1);
      guest.zfs("snapshot", src(fs) + T3).ok();
    }
  }

  /** Every snapshot of every received filesystem, name → guid. */
  Map<String, String> receiverSnapshots() {
    var out = new LinkedHashMap<String, String>();
    for (var line :
        guest
            .zfs("list", "-H", "-p", "-o", "name,guid", "-t", "snapshot", "-r", DST)
            .ok()
            .lines()
            .toList()) {
      var f = line.split("\t");
      out.put(f[0], f[1]);
    }
    return out;
  }

  // ---------------------------------------------------------------- zrepl4j with zrepl's config

  Map<String, String> guestZfs() {
    return Map.of(
        "ZREPL4J_ZFS", System.getenv("ZREPL4J_GUEST_ZFS"),
        "ZREPL4J_ZPOOL", System.getenv("ZREPL4J_GUEST_ZPOOL"));
  }

  String global(String name) {
    return """
        global:
          logging: [{type: stdout, level: info, format: human}]
          control: {sockpath: %s}
        """
        .formatted(dir.resolve(name + "-run/control"));
  }

  String sinkYaml(int port) {
    return global("sink")
        + """
        jobs:
          - name: %s
            type: sink
            root_fs: %s/sink
            serve: {type: tcp, listen: "127.0.0.1:%d", clients: {"127.0.0.1": %s}}
        """
            .formatted(SINK, DST, port, IDENTITY);
  }

  String pushYaml(int port, String filesystems) {
    return global("push")
        + """
        jobs:
          - name: %s
            type: push
            connect: {type: tcp, address: "127.0.0.1:%d"}
            filesystems: {%s}
            snapshotting: {type: manual}
            pruning:
              keep_sender: [{type: not_replicated}, {type: last_n, count: 10}]
              keep_receiver: [{type: last_n, count: 10}]
        """
            .formatted(PUSH, port, filesystems);
  }

  JobStatus.Fs fs(JobStatus s, String fs) {
    return s.lastRun().filesystems().stream()
        .filter(f -> f.filesystem().equals(src(fs)))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no " + fs + " in " + s.lastRun()));
  }

  @Test
  void pushAndSinkTakeOverZreplsStateAndTheNextRunIsIncremental() throws IOException {
    layDownZreplState(true);
    var before = receiverSnapshots();
    var resumeToken = guest.prop(dst("data/resume"), "receive_resume_token");
    var prunedCursor = cursors("data/pruned").getFirst();
    int port = TwoPoolsTest.freePort();
    try (var sink =
            DaemonProcess.start(
                dir, "sink", sinkYaml(port), dir.resolve("sink-run/control"), guestZfs());
        var push =
            DaemonProcess.start(
                dir,
                "push",
                pushYaml(port, "\"" + SRC + "/data<\": true, \"" + SRC + "/data/gap\": false"),
                dir.resolve("push-run/control"),
                guestZfs())) {
      push.signal(PUSH, "wakeup");
      var s = push.awaitRuns(PUSH, 1);
      var logs = push.logText() + "\n--- sink:\n" + sink.logText();
      var after = assertTakenOver(s, push.logText(), logs, before, resumeToken, prunedCursor);
      for (var ph : List.of(RECV_ROOT, RECV_ROOT + "/" + SRC, dst("data/gap"))) {
        assertThat(placeholderMarker(ph)).as(ph).isEqualTo("on\tlocal");
      }

      // the admin now includes the gap: zrepl4j replaces zrepl's placeholder by a full receive,
      // as zrepl would, and leaves the replica below it as it was
      push.terminate();
      Files.writeString(push.config, pushYaml(port, "\"" + SRC + "/data<\": true"));
      guest.zfs("snapshot", src("data/gap") + T3).ok();
      push.restart();
      push.signal(PUSH, "wakeup");
      var s2 = push.awaitRuns(PUSH, 1);
      var logs2 = push.logText() + "\n--- sink:\n" + sink.logText();
      assertThat(s2.lastRun().problems()).as(logs2).isEmpty();
      assertThat(fs(s2, "data/gap").state()).as(logs2).isEqualTo("REPLICATED");
      assertThat(guest.prop(dst("data/gap") + T3, "guid")).isEqualTo(guid(src("data/gap") + T3));
      // no longer marked (inherited from the placeholder above: zrepl's rule wants it local)
      assertThat(placeholderMarker(dst("data/gap"))).doesNotEndWith("\tlocal");
      var after2 = receiverSnapshots();
      for (var e : after.entrySet()) {
        assertThat(after2).as(logs2).containsEntry(e.getKey(), e.getValue());
      }
    }
  }

  @Test
  void pullAndSourceTakeOverZreplsStateAndTheNextRunIsIncremental() throws IOException {
    sendJob = SOURCE;
    takenJob = SOURCE + "_C_backup";
    recvJob = PULL;
    recvRoot = PULL_ROOT;
    layDownZreplState(false);
    var before = receiverSnapshots();
    var resumeToken = guest.prop(dst("data/resume"), "receive_resume_token");
    var prunedCursor = cursors("data/pruned").getFirst();
    int port = TwoPoolsTest.freePort();
    var sourceYaml =
        global("source")
            + """
            jobs:
              - name: %s
                type: source
                serve: {type: tcp, listen: "127.0.0.1:%d", clients: {"127.0.0.1": backup}}
                filesystems: {"%s/data<": true, "%s/data/gap": false}
                snapshotting: {type: manual}
            """
                .formatted(SOURCE, port, SRC, SRC);
    var pullYaml =
        global("pull")
            + """
            jobs:
              - name: %s
                type: pull
                connect: {type: tcp, address: "127.0.0.1:%d"}
                root_fs: %s
                interval: manual
                pruning:
                  keep_sender: [{type: not_replicated}, {type: last_n, count: 10}]
                  keep_receiver: [{type: last_n, count: 10}]
            """
                .formatted(PULL, port, PULL_ROOT);
    try (var source =
            DaemonProcess.start(
                dir, "source", sourceYaml, dir.resolve("source-run/control"), guestZfs());
        var pull =
            DaemonProcess.start(
                dir, "pull", pullYaml, dir.resolve("pull-run/control"), guestZfs())) {
      pull.signal(PULL, "wakeup");
      var s = pull.awaitRuns(PULL, 1);
      var logs = pull.logText() + "\n--- source:\n" + source.logText();
      assertTakenOver(s, pull.logText(), logs, before, resumeToken, prunedCursor);
      for (var ph : List.of(PULL_ROOT + "/" + SRC, dst("data/gap"))) {
        assertThat(placeholderMarker(ph)).as(ph).isEqualTo("on\tlocal");
      }
    }
  }

  /**
   * What every takeover must show after zrepl4j's first run on zrepl's state; returns the
   * receiver's snapshots (name → guid) after it.
   */
  Map<String, String> assertTakenOver(
      JobStatus s,
      String activeLog,
      String logs,
      Map<String, String> before,
      String resumeToken,
      String prunedCursor) {
    assertThat(s.lastRun().problems()).as(logs).isEmpty();
    // zrepl's cursor is the base where zrepl pruned the snapshot
    assertThat(activeLog)
        .as("incremental from zrepl's cursor")
        .contains(src("data/pruned") + ": sending -i " + prunedCursor + " -> " + T3);

    // incremental: each stream is about the 1 MiB written since, not the 7-8 MiB filesystem
    for (var fs : INCREMENTAL) {
      var f = fs(s, fs);
      assertThat(f.state()).as(fs + ": " + logs).isEqualTo("REPLICATED");
      assertThat(f.bytes()).as(fs + " sent " + logs).isBetween(900_000L, 1_600_000L);
    }
    // the interrupted step resumed from zrepl's token: the rest of T2 and then T3
    var r = fs(s, "data/resume");
    assertThat(r.state()).as(logs).isEqualTo("REPLICATED");
    assertThat(r.bytes()).as("data/resume sent " + logs).isBetween(2_000_000L, 3_600_000L);
    assertThat(activeLog)
        .as("resumed zrepl's token")
        .contains(src("data/resume") + ": sending resume " + T1 + " -> " + T2);
    assertThat(resumeToken).startsWith("1-");
    assertThat(guest.prop(dst("data/resume"), "receive_resume_token")).isEqualTo("-");
    // received by zrepl, never confirmed: nothing to send, zrepl4j completes the step
    assertThat(fs(s, "data/unconfirmed").state()).as(logs).isEqualTo("UP_TO_DATE");
    assertThat(fs(s, "data/unconfirmed").bytes()).isZero();

    // nothing the receiver had was destroyed, rolled back or re-received
    var after = receiverSnapshots();
    for (var e : before.entrySet()) {
      assertThat(after)
          .as("receiver after the run; logs " + logs)
          .containsEntry(e.getKey(), e.getValue());
    }
    for (var fs : List.of("data", "data/pruned", "data/gap/kid", "data/resume")) {
      assertThat(after.get(dst(fs) + T3)).isEqualTo(guid(src(fs) + T3));
    }
    assertThat(guest.snapshotChecksums(dst("data/gap/kid") + T3))
        .isEqualTo(guest.snapshotChecksums(src("data/gap/kid") + T3));
    assertThat(guest.snapshotChecksums(dst("data/resume") + T3))
        .isEqualTo(guest.snapshotChecksums(src("data/resume") + T3));

    // the last-received hold moved to the newest snapshot: zrepl's tag, the receiving job's name
    for (var fs : List.of("data", "data/pruned", "data/gap/kid", "data/resume")) {
      assertThat(guest.holds(dst(fs) + T3)).as(fs).containsExactly(lastReceivedHold());
      assertThat(guest.holds(dst(fs) + T2)).as(fs).isEmpty();
      assertThat(guest.holds(dst(fs) + T1)).as(fs).isEmpty();
    }
    assertThat(guest.holds(dst("data/unconfirmed") + T2)).containsExactly(lastReceivedHold());

    // the sender: one cursor per filesystem, zrepl's name (a source's: per client, zrepl's
    // adopted), on the newest replicated snapshot; no step hold, no tentative cursor; zrepl
    // 0.0.x's cursor and a bookmark only named like a cursor left alone (as zrepl 0.7 does)
    for (var fs : List.of("data/pruned", "data/gap/kid", "data/resume")) {
      assertThat(allCursors(fs)).as(fs).containsExactly(cursorAfter(src(fs) + T3));
    }
    assertThat(allCursors("data"))
        .containsExactlyInAnyOrder(cursorAfter(src("data") + T3), TINKERED + sendJob);
    assertThat(allCursors("data/unconfirmed"))
        .containsExactly(cursorAfter(src("data/unconfirmed") + T2));
    assertThat(senderHolds()).as("holds on the sender").noneMatch(h -> h.contains(stepHold()));
    assertThat(guest.versions(src("data")))
        .contains("#zrepl_replication_cursor")
        .noneMatch(v -> v.startsWith("#zrepl_CURSORTENTATIVE"));
    return after;
  }

  /** {@code zrepl:placeholder}'s value and source, tab-separated. */
  String placeholderMarker(String dataset) {
    return guest.zfs("get", "-H", "-o", "value,source", "zrepl:placeholder", dataset).ok().strip();
  }

  /** Every (v2) cursor bookmark on a sender filesystem, of any job. */
  List<String> allCursors(String fs) {
    return guest.versions(src(fs)).stream().filter(v -> v.startsWith("#zrepl_CURSOR_")).toList();
  }

  /** The job's cursor bookmarks on a sender filesystem. */
  List<String> cursors(String fs) {
    return guest.versions(src(fs)).stream()
        .filter(v -> v.startsWith("#zrepl_CURSOR_") && v.endsWith("_J_" + sendJob))
        .toList();
  }

  /** Every {@code snapshot tag} hold on the sender pool. */
  List<String> senderHolds() {
    var snaps =
        guest.zfs("list", "-H", "-o", "name", "-t", "snapshot", "-r", SRC).ok().lines().toList();
    var out = new ArrayList<String>();
    for (var s : snaps) {
      for (var h : guest.holds(s)) {
        out.add(s + " " + h);
      }
    }
    return out;
  }
}
