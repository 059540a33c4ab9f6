package dev.zrepl4j.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.config.ConfigParser;
import dev.zrepl4j.replication.FuseFixture;
import dev.zrepl4j.replication.snapshotting.CronSchedule;
import dev.zrepl4j.rpc.Caller;
import dev.zrepl4j.zfs.DatasetPath;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A snap job in a daemon (in-process, cron every 2 hours, with an injected clock advanced to each
 * 2-hour mark over a simulated day) on a zfs-fuse tree: one snapshot per tick on every selected
 * filesystem at once, the excluded one untouched, pruned to {@code keep: last_n 3} after each run;
 * {@code prune --dry-run} through the control endpoints lists the survivors with their rule.
 */
@Timeout(240)
class SnapJobDaemonIT {
  /**
   * Real time plus an offset the test moves forward (ZFS stamps snapshots with the real time, from
   * which periodic snapshotting derives its rhythm).
   */
  static final class TestClock extends Clock {
    volatile Duration offset = Duration.ZERO;

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return Instant.now().plus(offset);
    }
  }

  @TempDir Path dir;

  @Test
  void snapshotsAppearAndArePrunedOverASimulatedDay() throws Exception {
    try (var fx = FuseFixture.create("dsnap", 128)) {
      for (var d : List.of("a", "a/b", "c")) {
        FuseFixture.run("zfs", "create", fx.path(d).toString());
      }
      var yaml =
          """
          global:
            control: {sockpath: %s}
          jobs:
            - name: snaps
              type: snap
              filesystems: {"%s/a<": true}
              snapshotting: {type: cron, cron: "0 */2 * * *", prefix: zrepl_, timestamp_format: iso-8601}
              pruning:
                keep:
                  - {type: last_n, count: 3, regex: "^zrepl_"}
          """
              .formatted(dir.resolve("run/control"), fx.name);
      var config = ConfigParser.parse(yaml, dir.resolve("zrepl.yml"));
      var clock = new TestClock();
      try (var daemon = Daemon.start(config, fx.zfs, clock, "test")) {
        for (int tick = 1; tick <= 12; tick++) {
          long runs = tick;
          // to the next 2-hour mark of the simulated clock
          var now = clock.instant();
          var next = CronSchedule.parse("0 */2 * * *", ZoneId.systemDefault()).next(now);
          clock.offset = clock.offset.plus(Duration.between(now, next)).plusSeconds(1);
          awaitRuns(daemon, runs);
          var s = daemon.status("snaps").jobs().getFirst();
          assertThat(s.lastRun().problems()).isEmpty();
          assertThat(s.lastRun().snapshot()).startsWith("zrepl_");
          for (var fs : List.of(fx.path("a"), fx.path("a/b"))) {
            var snaps = snapshots(fx, fs);
            assertThat(snaps).as("%s after tick %d", fs, tick).hasSize(Math.min(tick, 3));
            assertThat(snaps.getLast()).isEqualTo(s.lastRun().snapshot());
          }
          assertThat(snapshots(fx, fx.path("c"))).isEmpty();
        }
        var lines =
            daemon.new Endpoints()
                .prune(new Control.PruneRequest("snaps", true), new Caller("test", "local"))
                .lines();
        assertThat(lines).hasSize(6).allMatch(l -> l.contains("last_n(count=3"));
        // the two filesystems got each snapshot at the same instant: same names on both
        assertThat(snapshots(fx, fx.path("a"))).isEqualTo(snapshots(fx, fx.path("a/b")));
      }
    }
  }

  static List<String> snapshots(FuseFixture fx, DatasetPath fs) throws java.io.IOException {
    return fx.versions(fs).stream().filter(v -> v.isSnapshot()).map(v -> v.name()).toList();
  }

  static void awaitRuns(Daemon d, long n) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (d.status("snaps").jobs().getFirst().runs() < n) {
      assertThat(System.nanoTime()).as("run %d: %s", n, d.status("snaps")).isLessThan(deadline);
      Thread.sleep(50);
    }
  }
}
