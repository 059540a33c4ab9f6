package dev.zrepl4j.daemon;

import dev.zrepl4j.config.Job;
import dev.zrepl4j.replication.Replication;
import dev.zrepl4j.replication.pruning.PruneRequest;
import dev.zrepl4j.replication.pruning.PruneResult;
import dev.zrepl4j.replication.pruning.PruneRule;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An active job's pruning of both sides, through the same sender and receiver it replicates with
 * (zrepl: the active side prunes both). An empty rule list prunes nothing on that side (zrepl would
 * destroy every unprotected snapshot; a missing rule is far more often a mistake than a wish).
 */
final class Pruning {
  private static final Logger log = LoggerFactory.getLogger(Pruning.class);

  private Pruning() {}

  /**
   * Prunes sender and receiver.
   *
   * @param problems destroy failures are added here
   * @param metrics told how long each side's pruning took ({@code zrepl_pruning_time}), unless
   *     {@code dryRun}
   * @return snapshots destroyed on both sides
   */
  static int both(
      String job,
      Replication.Connector connector,
      Job.Pruning rules,
      boolean dryRun,
      List<String> problems,
      List<String> lines,
      Metrics.JobMetrics metrics)
      throws IOException {
    if (rules.keepSender().isEmpty() && rules.keepReceiver().isEmpty()) {
      return 0;
    }
    int n = 0;
    try (var c = connector.connect()) {
      if (!rules.keepSender().isEmpty()) {
        long t0 = System.nanoTime();
        var r = c.sender().prune(request(rules.keepSender(), dryRun));
        if (!dryRun) {
          metrics.pruned("sender", Duration.ofNanos(System.nanoTime() - t0));
        }
        n += account(job, "sender", r, problems, lines);
      } else {
        log.debug("job {}: no keep_sender rules: the sender is not pruned", job);
      }
      if (!rules.keepReceiver().isEmpty()) {
        long t0 = System.nanoTime();
        var r = c.receiver().prune(request(rules.keepReceiver(), dryRun));
        if (!dryRun) {
          metrics.pruned("receiver", Duration.ofNanos(System.nanoTime() - t0));
        }
        n += account(job, "receiver", r, problems, lines);
      } else {
        log.debug("job {}: no keep_receiver rules: the receiver is not pruned", job);
      }
    }
    return n;
  }

  static PruneRequest request(List<PruneRule> rules, boolean dryRun) {
    return PruneRequest.of(rules, dryRun);
  }

  private static int account(
      String job, String side, PruneResult r, List<String> problems, List<String> lines) {
    for (var f : r.failures()) {
      problems.add("pruning " + side + ": " + f);
    }
    for (var l : r.lines()) {
      lines.add(side + ": " + l);
    }
    if (r.destroyed() > 0) {
      log.info("job {}: pruned {} snapshots on the {}", job, r.destroyed(), side);
    }
    return r.destroyed();
  }
}
