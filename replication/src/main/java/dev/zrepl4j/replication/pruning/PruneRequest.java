package dev.zrepl4j.replication.pruning;

import java.util.ArrayList;
import java.util.List;

/**
 * What the active side asks a sender or receiver to prune with (the endpoints' {@code prune} call):
 * a side's keep rules ({@code keep_sender} or {@code keep_receiver}).
 *
 * @param rules the keep rules; a snapshot no rule keeps is destroyed unless {@link PruneGuard}
 *     protects it (with no rules, every unprotected snapshot)
 * @param dryRun only plan and report; nothing is destroyed
 */
public record PruneRequest(List<PruneRuleSpec> rules, boolean dryRun) {
  public PruneRequest {
    rules = List.copyOf(rules);
  }

  /** A request for {@code rules}, e.g. a job's {@code keep_receiver}. */
  public static PruneRequest of(List<PruneRule> rules, boolean dryRun) {
    var specs = new ArrayList<PruneRuleSpec>(rules.size());
    for (var r : rules) {
      specs.add(r.spec());
    }
    return new PruneRequest(specs, dryRun);
  }

  /**
   * The rules, validated.
   *
   * @throws IllegalArgumentException naming the rule's index and type if one is invalid
   */
  public List<PruneRule> toRules() {
    var out = new ArrayList<PruneRule>(rules.size());
    for (int i = 0; i < rules.size(); i++) {
      try {
        out.add(rules.get(i).toRule());
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("rules[" + i + "]: " + e.getMessage(), e);
      }
    }
    return out;
  }
}
