package dev.zrepl4j.replication.pruning;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.FilesystemVersion;
import dev.zrepl4j.zfs.FilesystemVersion.VersionType;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class PrunerTest {
  static final DatasetPath FS = DatasetPath.parse("pool/data");
  static final Pattern ANY = Pattern.compile("");

  /** Snapshot {@code name} with guid = txg = id, created id minutes after the epoch. */
  static FilesystemVersion snap(String name, long id) {
    return snap(name, id, 0);
  }

  static FilesystemVersion snap(String name, long id, long userRefs) {
    return new FilesystemVersion(
        FS,
        VersionType.SNAPSHOT,
        name,
        id,
        id,
        Instant.EPOCH.plus(Duration.ofMinutes(id)),
        userRefs);
  }

  static FilesystemVersion bookmark(String name, long id) {
    return new FilesystemVersion(
        FS, VersionType.BOOKMARK, name, id, id, Instant.EPOCH.plus(Duration.ofMinutes(id)), -1);
  }

  static List<String> destroyed(PrunePlan p) {
    return p.toDestroy().stream().map(FilesystemVersion::name).toList();
  }

  static List<FilesystemVersion> hourly(int n) {
    var out = new ArrayList<FilesystemVersion>();
    for (int i = 1; i <= n; i++) {
      out.add(snap("zrepl_" + i, i * 60L));
    }
    return out;
  }

  @Test
  void lastNKeepsTheYoungestMatching() {
    var vs = new ArrayList<>(hourly(5));
    vs.add(snap("manual_x", 400));
    var plan =
        Pruner.plan(
            FS, vs, List.of(new PruneRule.LastN(2, Pattern.compile("^zrepl_"))), PruneContext.NONE);
    assertThat(destroyed(plan)).containsExactly("zrepl_1", "zrepl_2", "zrepl_3", "manual_x");
  }

  @Test
  void gridAlignsAtTheYoungestMatchingAndKeepsTheOldestPerBucket() {
    // snapshots every 30 min over 4 h; grid keeps all in the last hour, then one per 1h bucket
    var vs = new ArrayList<FilesystemVersion>();
    for (int i = 0; i <= 8; i++) {
      vs.add(snap("zrepl_" + i, 30L * i + 1));
    }
    vs.add(snap("other", 300)); // younger but not matching: ignored for alignment, not kept
    var rule =
        new PruneRule.Grid(
            RetentionGrid.parse("1x1h(keep=all) | 2x1h"), Pattern.compile("^zrepl_"));
    var plan = Pruner.plan(FS, vs, List.of(rule), PruneContext.NONE);
    // now = 241; [181,241) all: 6(181),7(211) + 8 itself (>= now); [121,181): 4(121) kept, 5 not;
    // [61,121): 2(61) kept, 3 not; older: 0, 1 removed
    assertThat(destroyed(plan))
        .containsExactly("zrepl_0", "zrepl_1", "zrepl_3", "zrepl_5", "other");
  }

  @Test
  void regexKeepsMatchingOrWithNegateTheOthers() {
    var vs = List.of(snap("keep_a", 1), snap("zrepl_b", 2));
    assertThat(
            destroyed(
                Pruner.plan(
                    FS,
                    vs,
                    List.of(new PruneRule.Regex(Pattern.compile("^keep_"), false)),
                    PruneContext.NONE)))
        .containsExactly("zrepl_b");
    assertThat(
            destroyed(
                Pruner.plan(
                    FS,
                    vs,
                    List.of(new PruneRule.Regex(Pattern.compile("^keep_"), true)),
                    PruneContext.NONE)))
        .containsExactly("keep_a");
  }

  @Test
  void notReplicatedKeepsEverythingAfterTheCursorAndOptionallyTheCursor() {
    var vs = hourly(5);
    var ctx = PruneContext.cursor(180); // zrepl_3
    assertThat(destroyed(Pruner.plan(FS, vs, List.of(new PruneRule.NotReplicated(true)), ctx)))
        .containsExactly("zrepl_1", "zrepl_2");
    var plan = Pruner.plan(FS, vs, List.of(new PruneRule.NotReplicated(false)), ctx);
    // the rule does not keep zrepl_3, but the invariant does
    assertThat(destroyed(plan)).containsExactly("zrepl_1", "zrepl_2");
    assertThat(plan.decisions().get(2).outcome()).isInstanceOf(PrunePlan.Protected.class);
  }

  @Test
  void notReplicatedWithoutCursorKeepsAll() {
    assertThat(
            destroyed(
                Pruner.plan(
                    FS, hourly(3), List.of(new PruneRule.NotReplicated(true)), PruneContext.NONE)))
        .isEmpty();
  }

  @Test
  void notReplicatedUsesTheCursorTxgWhenTheSnapshotIsGone() {
    var ctx = new PruneContext(Set.of(999L), 150, Set.of());
    assertThat(
            destroyed(Pruner.plan(FS, hourly(4), List.of(new PruneRule.NotReplicated(true)), ctx)))
        .containsExactly("zrepl_1", "zrepl_2");
  }

  @Test
  void heldSnapshotsCursorBookmarkTargetsAndProtectedGuidsSurviveAnyRules() {
    var vs = new ArrayList<>(hourly(6));
    vs.set(0, snap("zrepl_1", 60, 1)); // step hold
    vs.add(bookmark("zrepl_CURSOR_G_0000000000000078_J_other-job", 120)); // zrepl_2
    var ctx = new PruneContext(Set.of(), PruneContext.NO_CURSOR, Set.of(180L)); // zrepl_3
    var plan = Pruner.plan(FS, vs, List.of(new PruneRule.LastN(1, ANY)), ctx);
    assertThat(destroyed(plan)).containsExactly("zrepl_4", "zrepl_5");
    assertThat(plan.report())
        .contains(
            "keep pool/data@zrepl_1: protected, held (userrefs=1)",
            "keep pool/data@zrepl_6: last_n(count=1)",
            "destroy pool/data@zrepl_4: no rule keeps it");
  }

  @Test
  void survivorsNameEveryRuleThatKeepsThem() {
    var plan =
        Pruner.plan(
            FS,
            hourly(2),
            List.of(new PruneRule.LastN(1, ANY), new PruneRule.Regex(Pattern.compile("_2"), false)),
            PruneContext.NONE);
    assertThat(plan.decisions().get(1).outcome())
        .isEqualTo(new PrunePlan.KeptByRules(List.of("last_n(count=1)", "regex(_2)")));
  }

  @Test
  void bookmarksAreNeverInThePlan() {
    var plan = Pruner.plan(FS, List.of(bookmark("b", 1)), List.of(), PruneContext.NONE);
    assertThat(plan.decisions()).isEmpty();
  }
}
