package dev.zrepl4j.config;

import dev.zrepl4j.replication.snapshotting.CronSchedule;
import dev.zrepl4j.replication.snapshotting.SnapshotNameFormat;
import dev.zrepl4j.replication.snapshotting.Snapshotter;
import java.time.Duration;
import java.util.List;

/** {@code snapshotting:} of a push, source or snap job. */
public sealed interface Snapshotting {
  /** {@code type: periodic}: one rhythm for all filesystems, from the newest existing snapshot. */
  record Periodic(SnapshotNameFormat names, Duration interval, List<Snapshotter.Hook> hooks)
      implements Snapshotting {
    public Periodic {
      hooks = List.copyOf(hooks);
    }
  }

  /** {@code type: cron}. */
  record Cron(SnapshotNameFormat names, CronSchedule cron, List<Snapshotter.Hook> hooks)
      implements Snapshotting {
    public Cron {
      hooks = List.copyOf(hooks);
    }
  }

  /** {@code type: manual}: snapshots are taken by someone else. */
  record Manual() implements Snapshotting {}
}
