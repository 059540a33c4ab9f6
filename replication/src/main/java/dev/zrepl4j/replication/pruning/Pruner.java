package dev.zrepl4j.replication.pruning;

import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.FilesystemVersion;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;

/**
 * Decides which snapshots of one filesystem to destroy (a pure function of its inputs): a snapshot
 * is destroyed unless at least one rule keeps it and unless {@link PruneGuard} protects it. A
 * protected snapshot the rules would destroy is a {@link PrunePlan.Protected} decision, which the
 * {@link PruneExecutor} logs at WARN for the plan it acts on. Stateless, thread-safe.
 */
public final class Pruner {

  private Pruner() {}

  /**
   * Plans pruning of {@code filesystem}.
   *
   * @param versions its snapshots and bookmarks (any order)
   * @param rules the keep rules; with none, every unprotected snapshot is destroyed
   * @param context the replication state that protects or informs rules
   */
  public static PrunePlan plan(
      DatasetPath filesystem,
      List<FilesystemVersion> versions,
      List<PruneRule> rules,
      PruneContext context) {
    var snapshots = new ArrayList<FilesystemVersion>();
    for (var v : versions) {
      if (v.isSnapshot()) {
        snapshots.add(v);
      }
    }
    snapshots.sort(Comparator.comparing(FilesystemVersion::createTxg, Long::compareUnsigned));
    var keptBy = new HashMap<FilesystemVersion, List<String>>();
    for (var rule : rules) {
      for (var s : rule.keep(List.copyOf(snapshots), context)) {
        keptBy.computeIfAbsent(s, k -> new ArrayList<>()).add(rule.describe());
      }
    }
    var protectedGuids = PruneGuard.protectedGuids(versions, context);
    var decisions = new ArrayList<PrunePlan.Decision>();
    for (var s : snapshots) {
      var by = keptBy.get(s);
      PrunePlan.Outcome outcome;
      if (by != null) {
        outcome = new PrunePlan.KeptByRules(by);
      } else {
        var p = PruneGuard.protection(s, protectedGuids);
        if (p.isPresent()) {
          outcome = new PrunePlan.Protected(p.get());
        } else {
          outcome = new PrunePlan.Destroy();
        }
      }
      decisions.add(new PrunePlan.Decision(s, outcome));
    }
    return new PrunePlan(filesystem, decisions);
  }
}
