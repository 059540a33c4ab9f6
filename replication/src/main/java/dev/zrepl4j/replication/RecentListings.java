package dev.zrepl4j.replication;

import dev.zrepl4j.zfs.ChangeClock;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.FilesystemVersion;
import dev.zrepl4j.zfs.Zfs;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * The listings a sender or receiver made for its clients' plans, kept so that the pruning at the
 * end of the same run can start from them instead of listing every filesystem again (issue 17: a
 * run that changed nothing listed each side twice; at a thousand filesystems on zfs-fuse each whole
 * listing took ~20 s). A listing is given out again only while
 *
 * <ul>
 *   <li>it is at most {@link #MAX_AGE} old, and
 *   <li>no command of this process that may change its filesystem ran since it was begun ({@link
 *       ChangeClock}: a send's hold, a receive, a completion, a destroy, a snapshot — any of them
 *       means a new listing), and
 *   <li>the ZFS marks its changes at all ({@link Zfs#marksChanges()}).
 * </ul>
 *
 * What others changed since is not seen; the pruner lists again what it is about to destroy and
 * destroys only what is still there, unchanged and unprotected ({@code PruneExecutor}).
 * Thread-safe.
 */
final class RecentListings {

  /**
   * How old a listing may be to be used again: a run's pruning follows its planning within seconds
   * to minutes; older, a new listing is cheaper than doubt.
   */
  static final Duration MAX_AGE = Duration.ofMinutes(2);

  private final Zfs zfs;
  private final Map<DatasetPath, Listing> listings = new ConcurrentHashMap<>();

  private record Listing(List<FilesystemVersion> versions, long stamp, long nanos) {}

  RecentListings(Zfs zfs) {
    this.zfs = zfs;
  }

  /** A stamp to take before a listing starts, for {@link #put}. */
  long stamp() {
    return ChangeClock.process().stamp();
  }

  /** Keeps the listing of {@code fs} that was begun at {@code stamp}. */
  void put(DatasetPath fs, List<FilesystemVersion> versions, long stamp) {
    if (zfs.marksChanges()) {
      listings.put(fs, new Listing(List.copyOf(versions), stamp, System.nanoTime()));
    }
  }

  /**
   * The kept listing of {@code fs} if it may be used as if made now (see the class comment); else
   * null, and it is forgotten.
   */
  @Nullable List<FilesystemVersion> unchanged(DatasetPath fs) {
    var l = listings.get(fs);
    if (l == null) {
      return null;
    }
    if (!zfs.marksChanges()
        || System.nanoTime() - l.nanos() > MAX_AGE.toNanos()
        || !ChangeClock.process().unchangedSince(fs, l.stamp())) {
      listings.remove(fs, l);
      return null;
    }
    return l.versions();
  }
}
