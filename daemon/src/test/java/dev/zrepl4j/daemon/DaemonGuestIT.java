package dev.zrepl4j.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.replication.GuestFixture;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two real daemons whose {@code zfs} is OpenZFS 2.x in the test guest ({@code ZREPL4J_ZFS} points
 * at the guest wrapper): the push daemon gets SIGTERM while a full send is in flight; the sink
 * keeps the partial receive as a resume token (nothing half-received is mounted or listed as a
 * snapshot); after the restart the transfer resumes from the token ({@code zfs send -t}) and
 * completes, the data is equal, and only the cursor and last-received markers remain.
 */
@Timeout(400)
class DaemonGuestIT {
  static final String SRC = "dgsrc";
  static final String DST = "dgdst";

  @TempDir Path dir;
  GuestFixture guest;

  @BeforeEach
  void pools() {
    guest = GuestFixture.fromEnvironment();
    guest.createPool(SRC);
    guest.createPool(DST);
    guest.zfs("create", SRC + "/data").ok();
    guest.zfs("create", DST + "/sink").ok();
    guest.writeRandom("/" + SRC + "/data/big.bin", 24);
    guest.sh("echo hello > /" + SRC + "/data/small.txt");
  }

  @AfterEach
  void destroy() {
    if (guest != null) {
      guest.destroyPoolIfExists(SRC);
      guest.destroyPoolIfExists(DST);
    }
  }

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

  @Test
  void sigtermDuringAFullSendThenRestartResumesFromTheToken() throws IOException {
    int port = TwoPoolsTest.freePort();
    var sinkYaml =
        global("sink")
            + """
            jobs:
              - name: sink
                type: sink
                root_fs: %s/sink
                serve: {type: tcp, listen: "127.0.0.1:%d", clients: {"127.0.0.1": c1}}
            """
                .formatted(DST, port);
    var pushYaml =
        global("push")
            + """
            jobs:
              - name: push
                type: push
                connect: {type: tcp, address: "127.0.0.1:%d"}
                filesystems: {"%s/data": true}
                snapshotting: {type: periodic, prefix: zrepl_, interval: 1h}
                pruning:
                  keep_sender: [{type: not_replicated}, {type: last_n, count: 3}]
                  keep_receiver: [{type: last_n, count: 3}]
            """
                .formatted(port, SRC);
    var target = DST + "/sink/c1/" + SRC + "/data";
    try (var sink =
            DaemonProcess.start(
                dir, "sink", sinkYaml, dir.resolve("sink-run/control"), guestZfs());
        var push =
            DaemonProcess.start(
                dir, "push", pushYaml, dir.resolve("push-run/control"), guestZfs())) {
      push.await(
          "push",
          Duration.ofSeconds(120),
          s -> s.current().stream().anyMatch(f -> f.bytes() > 2_000_000));
      assertThat(push.terminate()).isIn(0, 143);
      assertThat(push.logText()).contains("shutting down");

      // the sink kept a resumable partial receive: a token, no snapshot
      var token = awaitToken(target, sink.logText() + "\n--- push:\n" + push.logText());
      assertThat(token).startsWith("1-");
      assertThat(guest.versions(target)).isEmpty();
      var snap = guest.versions(SRC + "/data").getFirst();

      push.restart();
      var s = push.await("push", Duration.ofSeconds(240), j -> j.runs() >= 1);
      assertThat(s.lastRun().problems()).as(push.logText()).isEmpty();
      assertThat(push.logText())
          .as("the restart resumed from the token")
          .contains("sending resume full");
      assertThat(guest.prop(target, "receive_resume_token")).isEqualTo("-");
      assertThat(guest.snapshotChecksums(target + snap))
          .isEqualTo(guest.snapshotChecksums(SRC + "/data" + snap));
      assertThat(guest.holds(target + snap)).containsExactly("zrepl_last_received_J_sink");
      assertThat(guest.holds(SRC + "/data" + snap)).isEmpty();
      assertThat(guest.versions(SRC + "/data")).anyMatch(v -> v.startsWith("#zrepl_CURSOR_G_"));
      assertThat(sink.alive()).isTrue();
    }
  }

  private String awaitToken(String fs, String logs) {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (true) {
      var r = guest.zfs("get", "-H", "-p", "-o", "value", "receive_resume_token", fs);
      if (r.status() == 0 && !r.out().strip().equals("-")) {
        return r.out().strip();
      }
      // (described lazily: before the partial receive is saved the dataset does not exist yet)
      assertThat(System.nanoTime())
          .as(
              () ->
                  "resume token on %s: %s; listing %s; logs:%n%s"
                      .formatted(fs, r, guest.zfs("list", "-r", "-t", "all", fs), logs))
          .isLessThan(deadline);
      try {
        Thread.sleep(500);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
  }
}
