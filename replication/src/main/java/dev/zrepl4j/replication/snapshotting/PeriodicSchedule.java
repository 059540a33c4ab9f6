package dev.zrepl4j.replication.snapshotting;

import java.time.Duration;
import java.time.Instant;
import java.util.Collection;

/**
 * zrepl's {@code periodic} snapshotting rhythm: one for all filesystems of a job, derived from the
 * newest existing snapshot with the job's prefix on any of them. The next snapshot is due one
 * interval after it, or now if there is none or that is already past (no catch-up bursts).
 * Immutable, thread-safe.
 *
 * @param interval positive
 */
public record PeriodicSchedule(Duration interval) {
  public PeriodicSchedule {
    if (interval.isZero() || interval.isNegative()) {
      throw new IllegalArgumentException("snapshotting interval must be positive: " + interval);
    }
  }

  /**
   * When the next snapshot is due.
   *
   * @param existing creation times of the prefix's snapshots on all matched filesystems
   */
  public Instant next(Instant now, Collection<Instant> existing) {
    var newest = existing.stream().max(Instant::compareTo);
    if (newest.isEmpty()) {
      return now;
    }
    var due = newest.get().plus(interval);
    return due.isBefore(now) ? now : due;
  }
}
