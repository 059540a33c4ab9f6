/**
 * Snapshotting: taking a job's snapshots with their hooks ({@link Snapshotter}), naming them
 * ({@link SnapshotNameFormat}) and when ({@link PeriodicSchedule}, {@link CronSchedule}).
 *
 * <p>Uses {@code zfs} and {@code .filter} (which datasets to snapshot); nothing of the engine,
 * {@code .pruning} or {@code rpc}. {@code PackageRulesTest} pins that.
 */
@NullMarked
package dev.zrepl4j.replication.snapshotting;

import org.jspecify.annotations.NullMarked;
