package dev.zrepl4j.replication;

import dev.zrepl4j.zfs.ChangeClock;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.Zfs;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * What a sender or receiver read of its filesystems for its clients' plans, kept so that the rest
 * of the same run need not read it again (issue 17: at a thousand filesystems on zfs-fuse a whole
 * listing takes ~20 s, and a run that changed nothing listed each side twice):
 *
 * <ul>
 *   <li>the listings of versions, for the pruning at the end of the run;
 *   <li>on a receiver, which targets exist and are not placeholders, for its incremental receives.
 * </ul>
 *
 * A value is given out again only while
 *
 * <ul>
 *   <li>it is at most {@link #MAX_AGE} old, and
 *   <li>no command of this process that may change its filesystem ran since its reading was begun
 *       ({@link ChangeClock}: a send's hold, a receive, a completion, a destroy, a snapshot — any
 *       of them means a new reading), and
 *   <li>the ZFS marks its changes at all ({@link Zfs#marksChanges()}).
 * </ul>
 *
 * What others changed since is not seen, so nothing that cannot be undone is decided from it alone:
 * the pruner lists again what it is about to destroy and destroys only what is still there,
 * unchanged and unprotected ({@code PruneExecutor}); a receiver uses it only for incremental
 * receives, which {@code zfs recv} itself refuses unless the target has the stream's source
 * snapshot, and never to decide on a forced receive. Thread-safe.
 *
 * @param <V> what was read of one filesystem
 */
final class Recent<V> {

  /**
   * How old a reading may be to be used again: a run's receives and pruning follow its planning
   * within seconds to minutes; older, a new reading is cheaper than doubt.
   */
  static final Duration MAX_AGE = Duration.ofMinutes(2);

  private final Zfs zfs;
  private final Map<DatasetPath, Read<V>> values = new ConcurrentHashMap<>();

  /** A reading: its value, the stamp taken before it began, and when it was made. */
  record Read<V>(V value, long stamp, long nanos) {}

  Recent(Zfs zfs) {
    this.zfs = zfs;
  }

  /** A stamp to take before a listing starts, for {@link #put}. */
  long stamp() {
    return ChangeClock.process().stamp();
  }

  /** Keeps what was read of {@code fs} in a reading begun at {@code stamp}. */
  void put(DatasetPath fs, V value, long stamp) {
    if (zfs.marksChanges()) {
      values.put(fs, new Read<>(value, stamp, System.nanoTime()));
    }
  }

  /**
   * What was kept of {@code fs} if it may be used as if read now (see the class comment); else
   * null.
   */
  @Nullable V unchanged(DatasetPath fs) {
    var r = fresh(fs);
    return r != null && ChangeClock.process().unchangedSince(fs, r.stamp()) ? r.value() : null;
  }

  /**
   * What was kept of {@code fs} if its snapshots may be taken as read now: as {@link #unchanged},
   * except that holds, releases and bookmarks this process made since are not in it. For planning a
   * pruning only, which checks holds and the cursor again in a new listing before it destroys.
   */
  @Nullable V snapshotsUnchanged(DatasetPath fs) {
    var r = fresh(fs);
    return r != null && ChangeClock.process().snapshotsUnchangedSince(fs, r.stamp())
        ? r.value()
        : null;
  }

  /**
   * Like {@link #put}, for a value that is {@code fs}'s listing after this process's own changes
   * since a reading begun at {@code stamp}, added to it by whoever made them; it is as old as that
   * reading ({@code readNanos}) but checked for changes from {@code changedStamp} on.
   */
  void amend(DatasetPath fs, V value, long changedStamp, long readNanos) {
    if (zfs.marksChanges()) {
      values.put(fs, new Read<>(value, changedStamp, readNanos));
    }
  }

  /** The reading of {@code fs} with its stamps, if one is kept and not too old; else null. */
  @Nullable Read<V> fresh(DatasetPath fs) {
    var r = values.get(fs);
    if (r == null) {
      return null;
    }
    if (!zfs.marksChanges() || System.nanoTime() - r.nanos() > MAX_AGE.toNanos()) {
      values.remove(fs, r);
      return null;
    }
    return r;
  }
}
