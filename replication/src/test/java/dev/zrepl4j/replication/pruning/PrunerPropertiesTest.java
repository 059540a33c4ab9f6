package dev.zrepl4j.replication.pruning;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.FilesystemVersion;
import dev.zrepl4j.zfs.FilesystemVersion.VersionType;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import net.jqwik.api.AfterFailureMode;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** Invariants of {@link Pruner} over random snapshot sets, grids and rules. */
class PrunerPropertiesTest {
  static final DatasetPath FS = DatasetPath.parse("pool/fs");

  record Input(List<FilesystemVersion> versions, List<PruneRule> rules, PruneContext context) {}

  record Raw(int time, String prefix, boolean held) {}

  record Term(int n, int length, int keep) {}

  @Provide
  Arbitrary<List<FilesystemVersion>> snapshots() {
    var one =
        Combinators.combine(
                Arbitraries.integers().between(0, 7 * 24 * 3600),
                Arbitraries.of("zrepl_", "manual_", "hourly_"),
                Arbitraries.integers().between(0, 4).map(x -> x == 0))
            .as(Raw::new);
    return one.list()
        .ofMaxSize(60)
        .map(
            raw -> {
              var sorted = new ArrayList<>(raw);
              sorted.sort(java.util.Comparator.comparingInt(Raw::time));
              var out = new ArrayList<FilesystemVersion>();
              long txg = 1;
              for (var r : sorted) {
                out.add(
                    new FilesystemVersion(
                        FS,
                        VersionType.SNAPSHOT,
                        r.prefix() + txg,
                        txg * 7919,
                        txg,
                        Instant.ofEpochSecond(r.time()),
                        r.held() ? 1 : 0));
                txg++;
              }
              return List.copyOf(out);
            });
  }

  @Provide
  Arbitrary<RetentionGrid> grids() {
    // one int decoded into a term (combining further arbitraries here clashed with snapshots())
    var interval =
        Arbitraries.integers()
            .between(0, Integer.MAX_VALUE)
            .map(
                x -> new Term(1 + x % 5, 1 + (x / 5) % (48 * 3600), (x / 5 / (48 * 3600)) % 5 - 1));
    return interval
        .list()
        .ofMinSize(1)
        .ofMaxSize(5)
        .map(
            terms -> {
              var lens = terms.stream().mapToInt(Term::length).sorted().toArray();
              var out = new ArrayList<RetentionGrid.Interval>();
              for (int i = 0; i < terms.size(); i++) {
                for (int j = 0; j < terms.get(i).n(); j++) {
                  out.add(
                      new RetentionGrid.Interval(
                          java.time.Duration.ofSeconds(lens[i]), terms.get(i).keep()));
                }
              }
              return new RetentionGrid(out);
            });
  }

  @Provide
  Arbitrary<List<PruneRule>> ruleLists() {
    return rules().list().ofMaxSize(4);
  }

  @Provide
  Arbitrary<PruneRule> rules() {
    var regex = Arbitraries.of("", "^zrepl_", "manual", "^nomatch$").map(Pattern::compile);
    return Arbitraries.oneOf(
        Arbitraries.of(true, false).map(PruneRule.NotReplicated::new),
        Combinators.combine(Arbitraries.integers().between(0, 10), regex).as(PruneRule.LastN::new),
        Combinators.combine(grids(), regex).as(PruneRule.Grid::new),
        Combinators.combine(regex, Arbitraries.of(true, false)).as(PruneRule.Regex::new));
  }

  static PruneContext contextFor(List<FilesystemVersion> vs, int pick) {
    if (vs.isEmpty() || pick < 0) {
      return PruneContext.NONE;
    }
    var cursor = vs.get(pick % vs.size());
    return new PruneContext(
        Set.of(cursor.guid()), PruneContext.NO_CURSOR, Set.of(vs.getFirst().guid()));
  }

  @Property(afterFailure = AfterFailureMode.RANDOM_SEED)
  void keptAndDestroyedPartitionTheSnapshots(
      @ForAll("snapshots") List<FilesystemVersion> vs,
      @ForAll("ruleLists") List<PruneRule> rules,
      @ForAll int pick) {
    var plan = Pruner.plan(FS, vs, rules, contextFor(vs, pick));
    var kept = new HashSet<>(plan.kept());
    var destroyed = new HashSet<>(plan.toDestroy());
    assertThat(java.util.Collections.disjoint(kept, destroyed)).isTrue();
    var union = new HashSet<>(kept);
    union.addAll(destroyed);
    assertThat(union).isEqualTo(new HashSet<>(vs));
  }

  @Property(afterFailure = AfterFailureMode.RANDOM_SEED)
  void protectedBasesAndHeldSnapshotsAlwaysSurvive(
      @ForAll("snapshots") List<FilesystemVersion> vs,
      @ForAll("ruleLists") List<PruneRule> rules,
      @ForAll int pick) {
    var ctx = contextFor(vs, pick);
    var plan = Pruner.plan(FS, vs, rules, ctx);
    for (var d : plan.toDestroy()) {
      assertThat(d.userRefs()).isZero();
      assertThat(ctx.cursorGuids()).doesNotContain(d.guid());
      assertThat(ctx.protectedGuids()).doesNotContain(d.guid());
    }
  }

  @Property(afterFailure = AfterFailureMode.RANDOM_SEED)
  void theNewestMatchingSnapshotSurvivesAnyGridOrLastNRule(
      @ForAll("snapshots") List<FilesystemVersion> vs,
      @ForAll("grids") RetentionGrid grid,
      @ForAll boolean useGrid) {
    PruneRule rule =
        useGrid
            ? new PruneRule.Grid(grid, Pattern.compile(""))
            : new PruneRule.LastN(1, Pattern.compile(""));
    var plan = Pruner.plan(FS, vs, List.of(rule), PruneContext.NONE);
    if (!vs.isEmpty()) {
      var newest = vs.getLast();
      assertThat(plan.toDestroy()).doesNotContain(newest);
      // a grid keeps everything created at or after its alignment point (the newest's creation)
      if (useGrid) {
        for (var d : plan.toDestroy()) {
          assertThat(d.creation()).isBefore(newest.creation());
        }
      }
    }
  }

  @Property(afterFailure = AfterFailureMode.RANDOM_SEED)
  void addingAKeepRuleNeverDestroysMore(
      @ForAll("snapshots") List<FilesystemVersion> vs,
      @ForAll("ruleLists") List<PruneRule> rules,
      @ForAll("rules") PruneRule extra,
      @ForAll int pick) {
    var ctx = contextFor(vs, pick);
    var before = new HashSet<>(Pruner.plan(FS, vs, rules, ctx).toDestroy());
    var more = new ArrayList<>(rules);
    more.add(extra);
    var after = new HashSet<>(Pruner.plan(FS, vs, more, ctx).toDestroy());
    assertThat(before).containsAll(after);
  }
}
