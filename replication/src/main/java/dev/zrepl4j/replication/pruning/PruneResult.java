package dev.zrepl4j.replication.pruning;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * What one side's {@code prune} did.
 *
 * @param lines {@link PruneExecutor.Report#lines()}: one line per snapshot saying which rules or
 *     which protection kept it or that it is destroyed, then what changed at destroy time; full
 *     dataset names as they are on that side
 * @param destroyed how many snapshots were destroyed (0 on a dry run)
 * @param failures one line per snapshot whose destroy failed
 */
public record PruneResult(List<String> lines, int destroyed, List<String> failures) {
  public PruneResult {
    lines = List.copyOf(lines);
    failures = List.copyOf(failures);
    if (destroyed < 0) {
      throw new IllegalArgumentException("destroyed must be >= 0, got " + destroyed);
    }
  }

  /** The wire form of an executor's report. */
  public static PruneResult of(PruneExecutor.Report report) {
    var failures = new ArrayList<String>();
    report.failed().forEach((k, v) -> failures.add(k + ": " + v));
    failures.sort(Comparator.naturalOrder());
    return new PruneResult(report.lines(), report.destroyed().size(), failures);
  }
}
