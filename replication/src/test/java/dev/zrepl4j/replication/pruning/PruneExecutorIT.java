package dev.zrepl4j.replication.pruning;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.replication.FuseFixture;
import dev.zrepl4j.zfs.FilesystemVersion.FullName;
import dev.zrepl4j.zfs.FilesystemVersion.VersionType;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** {@link PruneExecutor} on a real zfs-fuse pool. */
class PruneExecutorIT {

  @Test
  void destroysInBatchesKeepsHeldAndDryRunDestroysNothing() throws Exception {
    try (var fx = FuseFixture.create("prune", 64)) {
      var a = fx.path("a");
      var b = fx.path("b");
      fx.zfs.create(a, Map.of());
      fx.zfs.create(b, Map.of());
      for (int i = 1; i <= 7; i++) {
        fx.zfs.snapshot(List.of(a, b), "zrepl_" + i);
      }
      fx.zfs.snapshot(List.of(a), "manual_keep");
      fx.zfs.hold("zrepl_STEP_J_test", List.of(new FullName(a, VersionType.SNAPSHOT, "zrepl_2")));
      var rules =
          List.<PruneRule>of(
              new PruneRule.LastN(2, Pattern.compile("^zrepl_")),
              new PruneRule.Regex(Pattern.compile("^zrepl_"), true));
      var exec = new PruneExecutor(fx.zfs, 2);

      var dry = exec.prune(List.of(a, b), rules, PruneExecutor.Contexts.none(), true);
      assertThat(dry.destroyed()).isEmpty();
      assertThat(dry.lines())
          .contains(
              "keep " + a + "@zrepl_2: protected, held (userrefs=1)",
              "keep " + a + "@manual_keep: regex(not ^zrepl_)",
              "destroy " + b + "@zrepl_1: no rule keeps it");
      assertThat(fx.snapshotNames(a)).hasSize(8);

      var report = exec.prune(List.of(a, b), rules, PruneExecutor.Contexts.none(), false);
      assertThat(report.failed()).isEmpty();
      assertThat(report.destroyed()).hasSize(4 + 5);
      assertThat(fx.snapshotNames(a))
          .containsExactly("zrepl_2", "zrepl_6", "zrepl_7", "manual_keep");
      assertThat(fx.snapshotNames(b)).containsExactly("zrepl_6", "zrepl_7");
    }
  }
}
