package dev.zrepl4j.replication.pruning;

import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.FilesystemVersion;
import java.util.List;

/**
 * What pruning does to one filesystem's snapshots, with the reason for each (the {@code prune
 * --dry-run} report). Bookmarks are not listed: they are never pruned.
 *
 * @param filesystem the filesystem
 * @param decisions one per snapshot, ordered by createtxg
 */
public record PrunePlan(DatasetPath filesystem, List<Decision> decisions) {
  public PrunePlan {
    decisions = List.copyOf(decisions);
  }

  /** What happens to one snapshot. */
  public sealed interface Outcome {}

  /** Kept because these rules keep it. */
  public record KeptByRules(List<String> rules) implements Outcome {
    public KeptByRules {
      rules = List.copyOf(rules);
    }
  }

  /** No rule keeps it, but the invariant protects it ({@link PruneGuard}). */
  public record Protected(String reason) implements Outcome {}

  /** No rule keeps it: destroyed. */
  public record Destroy() implements Outcome {}

  /** A snapshot and its outcome. */
  public record Decision(FilesystemVersion snapshot, Outcome outcome) {
    public boolean destroy() {
      return switch (outcome) {
        case Destroy d -> true;
        case KeptByRules k -> false;
        case Protected p -> false;
      };
    }
  }

  /** The snapshots to destroy. */
  public List<FilesystemVersion> toDestroy() {
    return decisions.stream().filter(Decision::destroy).map(Decision::snapshot).toList();
  }

  /** The snapshots kept (by rules or by the invariant). */
  public List<FilesystemVersion> kept() {
    return decisions.stream().filter(d -> !d.destroy()).map(Decision::snapshot).toList();
  }

  /** One line per snapshot: {@code destroy fs@a}, {@code keep fs@b: last_n(count=3)}. */
  public List<String> report() {
    return decisions.stream()
        .map(
            d ->
                switch (d.outcome()) {
                  case Destroy x -> "destroy " + d.snapshot().fullName() + ": no rule keeps it";
                  case KeptByRules k ->
                      "keep " + d.snapshot().fullName() + ": " + String.join(", ", k.rules());
                  case Protected p ->
                      "keep " + d.snapshot().fullName() + ": protected, " + p.reason();
                })
        .toList();
  }
}
