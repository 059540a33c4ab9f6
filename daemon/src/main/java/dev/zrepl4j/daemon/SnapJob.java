package dev.zrepl4j.daemon;

import dev.zrepl4j.config.Job;
import dev.zrepl4j.replication.filter.DatasetFilter;
import dev.zrepl4j.replication.pruning.PruneExecutor;
import dev.zrepl4j.zfs.Zfs;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * A snap job: takes the job's snapshots when due, then prunes them with {@code keep:}. Holds and
 * replication cursors of any job (found on the filesystems) protect snapshots from its pruning, so
 * the fan-out layout (one snap job, several push jobs with manual snapshotting) is safe. {@code
 * signal wakeup} prunes without snapshotting. An empty {@code keep:} prunes nothing.
 */
final class SnapJob extends JobRunner {
  private final Job.Snap config;
  private final Zfs zfs;
  private final Snapshots snapshots;
  private final Metrics.JobMetrics metrics;

  SnapJob(Job.Snap config, Zfs zfs, Clock clock, Metrics.JobMetrics metrics) {
    super(config.name(), config.type(), clock);
    this.config = config;
    this.metrics = metrics;
    this.zfs = zfs;
    this.snapshots = new Snapshots(config.snapshotting(), zfs, config.filesystems(), clock);
  }

  @Override
  protected Optional<Instant> nextRun(@Nullable Instant lastEnd) throws IOException {
    return snapshots.next();
  }

  @Override
  protected JobStatus.Run run(boolean woken) throws IOException, InterruptedException {
    var started = clock.instant();
    var problems = new ArrayList<String>();
    String snapshot = null;
    if (!woken) {
      setState("snapshotting");
      var r = snapshots.take();
      if (r.isPresent()) {
        snapshot = r.get().name();
        problems.addAll(r.get().hookFailures());
      }
    }
    setState("pruning");
    long t0 = System.nanoTime();
    var report = prune(false);
    metrics.pruned("local", Duration.ofNanos(System.nanoTime() - t0));
    report.failed().forEach((v, e) -> problems.add("pruning " + v + ": " + e));
    return new JobStatus.Run(
        started.toString(),
        secondsSince(started),
        snapshot,
        List.of(),
        report.destroyed().size(),
        problems);
  }

  PruneExecutor.Report prune(boolean dryRun) throws IOException {
    if (config.keep().isEmpty()) {
      return new PruneExecutor.Report(List.of(), List.of(), Map.of(), Map.of());
    }
    var fss = DatasetFilter.list(zfs, config.filesystems(), metrics::unmatched);
    return new PruneExecutor(zfs, PruneExecutor.maxBatchFromEnvironment())
        .prune(fss, config.keep(), PruneExecutor.Contexts.none(), dryRun);
  }
}
