package dev.zrepl4j.daemon;

import dev.zrepl4j.config.Snapshotting;
import dev.zrepl4j.replication.snapshotting.PeriodicSchedule;
import dev.zrepl4j.replication.snapshotting.Snapshotter;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.Zfs;
import java.io.IOException;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * A job's {@code snapshotting:} at run time: when the next snapshot is due and taking it. {@code
 * periodic} derives its rhythm from the newest existing snapshot of the job's prefix (as zrepl
 * does, so a restart does not shift it); {@code cron} follows the cron spec; {@code manual} never
 * snapshots.
 */
final class Snapshots {
  private final Snapshotting config;
  private final Clock clock;
  // null for manual
  private final @Nullable Snapshotter snapshotter;

  Snapshots(Snapshotting config, Zfs zfs, Predicate<DatasetPath> filter, Clock clock) {
    this.config = config;
    this.clock = clock;
    this.snapshotter =
        switch (config) {
          case Snapshotting.Periodic p ->
              new Snapshotter(zfs, List.of(), filter, p.names(), p.hooks(), clock);
          case Snapshotting.Cron c ->
              new Snapshotter(zfs, List.of(), filter, c.names(), c.hooks(), clock);
          case Snapshotting.Manual m -> null;
        };
  }

  boolean manual() {
    return snapshotter == null;
  }

  /** When the next snapshot is due (possibly now or in the past); empty for manual. */
  Optional<Instant> next() throws IOException {
    return switch (config) {
      case Snapshotting.Periodic p ->
          Optional.of(
              new PeriodicSchedule(p.interval())
                  .next(
                      clock.instant(), Objects.requireNonNull(snapshotter, "periodic").existing()));
      case Snapshotting.Cron c -> Optional.of(c.cron().next(clock.instant()));
      case Snapshotting.Manual m -> Optional.empty();
    };
  }

  /** Takes the snapshots (with hooks); empty for manual. */
  Optional<Snapshotter.Result> take() throws IOException, InterruptedException {
    var s = snapshotter;
    return s == null ? Optional.empty() : Optional.of(s.snapshot(false));
  }
}
