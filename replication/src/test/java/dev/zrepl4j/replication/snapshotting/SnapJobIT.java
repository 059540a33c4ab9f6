package dev.zrepl4j.replication.snapshotting;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.replication.FuseFixture;
import dev.zrepl4j.replication.filter.DatasetFilter;
import dev.zrepl4j.replication.pruning.PruneExecutor;
import dev.zrepl4j.replication.pruning.PruneRule;
import dev.zrepl4j.zfs.FilesystemVersion;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * A snap job over a simulated day on zfs-fuse: an injected clock advanced in 2-hour ticks names the
 * snapshots; each tick snapshots a tree (with a hook) and prunes with last_n. (Grid pruning of a
 * simulated day is not tested here: ZFS stamps creation with the real time.)
 */
class SnapJobIT {
  @Test
  void snapshotsAppearAndArePrunedAsConfiguredOverADay() throws Exception {
    try (var fx = FuseFixture.create("snapjob", 64)) {
      var a = fx.path("a");
      var ab = fx.path("a/b");
      var c = fx.path("c");
      fx.zfs.create(a, Map.of());
      fx.zfs.create(ab, Map.of());
      fx.zfs.create(c, Map.of());
      var filter = DatasetFilter.of(Map.of(fx.name + "/a<", true));
      var dir = Files.createTempDirectory("snapjob");
      var logFile = dir.resolve("hook.log");
      var hook = dir.resolve("hook.sh");
      Files.writeString(
          hook,
          "#!/bin/sh\necho \"$ZREPL_HOOKTYPE $ZREPL_FS $ZREPL_SNAPNAME $ZREPL_DRYRUN\" >> "
              + logFile
              + "\n");
      Files.setPosixFilePermissions(hook, PosixFilePermissions.fromString("rwx------"));
      var now = new Instant[] {Instant.parse("2026-01-01T00:00:00Z")};
      InstantSource clock = () -> now[0];
      var snapper =
          new Snapshotter(
              fx.zfs,
              List.of(fx.root()),
              filter,
              SnapshotNameFormat.dense("zrepl_"),
              List.of(new Snapshotter.CommandHook(hook, Duration.ofSeconds(10), true, filter)),
              clock);
      var pruner = new PruneExecutor(fx.zfs, 2);
      var rules = List.<PruneRule>of(new PruneRule.LastN(3, Pattern.compile("^zrepl_")));
      var names = new ArrayList<String>();
      for (int tick = 0; tick < 12; tick++) {
        var r = snapper.snapshot(false);
        names.add(r.name());
        assertThat(r.snapshotted()).containsExactly(a, ab);
        pruner.prune(snapper.filesystems(), rules, PruneExecutor.Contexts.none(), false);
        now[0] = now[0].plus(Duration.ofHours(2));
      }
      var vs = fx.zfs.listVersions(List.of(a, ab, c));
      for (var fs : List.of(a, ab)) {
        assertThat(vs.get(fs).stream().map(FilesystemVersion::name))
            .containsExactlyElementsOf(names.subList(9, 12));
      }
      assertThat(vs.get(c)).isEmpty();
      assertThat(names.getFirst()).isEqualTo("zrepl_20260101_000000_000");
      var lines = Files.readAllLines(logFile);
      assertThat(lines).hasSize(12 * 2 * 2);
      assertThat(lines).contains("pre_snapshot " + ab + " zrepl_20260101_220000_000 false");
    }
  }
}
