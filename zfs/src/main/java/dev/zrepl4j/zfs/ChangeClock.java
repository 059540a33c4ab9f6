package dev.zrepl4j.zfs;

import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Which filesystems this process's own {@code zfs} commands may have changed, and when: lets a
 * listing made through {@link RealZfs} be used again as long as nothing this process ran since
 * touched its filesystem (issue 17: at a thousand filesystems a whole listing costs seconds to
 * minutes, and a run that changed nothing need not list twice).
 *
 * <p>A reader takes a {@link #stamp()} before it starts a listing and keeps it with the listing;
 * the listing of a filesystem still holds what this process did to it while {@link #unchangedSince}
 * that stamp. Every command that is not known to only read ({@code list}, {@code get}, {@code
 * send}, {@code version}, {@code zpool ...}) marks every dataset its arguments name (the part
 * before an {@code @} or {@code #}, each element of a comma list) as changed, once when it starts
 * and again when it exits, so a listing that overlapped the command in any way is not taken as
 * unchanged. An argument that is not a dataset (a hold's tag, {@code prop=value}) is marked too:
 * that only costs a listing.
 *
 * <p>Changes made by other processes (an administrator's {@code zfs destroy}, another daemon) are
 * not seen here: whoever reuses a listing bounds its age and re-checks what it acts on (the pruner
 * lists the filesystems it destroys in again, see {@code PruneExecutor}).
 *
 * <p>One clock per process: every {@link RealZfs} marks it, so a job's snapshotter, sender and
 * receiver see each other's commands. Thread-safe.
 */
public final class ChangeClock {

  /** Verbs that only read. */
  private static final Set<String> READ_ONLY = Set.of("list", "get", "send", "version", "help");

  private static final ChangeClock PROCESS = new ChangeClock();

  /**
   * Verbs that change only holds and bookmarks: not which snapshots there are, nor their guids,
   * txgs and creation times (what a pruning plans from, checking holds again before it destroys).
   */
  private static final Set<String> HOLDS_AND_BOOKMARKS = Set.of("hold", "release", "bookmark");

  private final AtomicLong clock = new AtomicLong();
  private final ConcurrentHashMap<String, Long> changed = new ConcurrentHashMap<>();
  // the same, without the commands that change only holds and bookmarks
  private final ConcurrentHashMap<String, Long> snapshotsChanged = new ConcurrentHashMap<>();

  ChangeClock() {}

  /** The clock every {@link RealZfs} of this process marks. */
  public static ChangeClock process() {
    return PROCESS;
  }

  /** A stamp to take before a listing starts. */
  public long stamp() {
    return clock.incrementAndGet();
  }

  /**
   * Whether no command of this process that may change {@code dataset} started or ended after
   * {@code stamp} was taken.
   */
  public boolean unchangedSince(DatasetPath dataset, long stamp) {
    var c = changed.get(dataset.toString());
    return c == null || c < stamp;
  }

  /**
   * Whether no command of this process that may change the snapshots of {@code dataset} (which
   * there are and what they are, not their holds, nor its bookmarks) started or ended after {@code
   * stamp} was taken.
   */
  public boolean snapshotsUnchangedSince(DatasetPath dataset, long stamp) {
    var c = snapshotsChanged.get(dataset.toString());
    return c == null || c < stamp;
  }

  /** Whether {@code args} (the arguments after the zfs binary) may change a dataset. */
  static boolean changes(List<String> args) {
    return !args.isEmpty() && !READ_ONLY.contains(args.getFirst());
  }

  /** Marks what {@code args} of a zfs command may change (nothing for a read-only command). */
  void mark(List<String> args) {
    if (!changes(args)) {
      return;
    }
    var verb = args.getFirst();
    boolean holdsOnly = HOLDS_AND_BOOKMARKS.contains(verb);
    for (int i = 1; i < args.size(); i++) {
      var a = args.get(i);
      if (a.startsWith("-") || a.contains("=")) {
        continue; // an option or a property assignment
      }
      // fs@a,b,c (a destroy's list: the names after the first are of the same filesystem),
      // fs@snap, fs#bookmark, fs
      int cut = a.length();
      for (char c : new char[] {'@', '#', ','}) {
        int at = a.indexOf(c);
        if (at >= 0 && at < cut) {
          cut = at;
        }
      }
      if (cut > 0) {
        var dataset = a.substring(0, cut);
        long t = clock.incrementAndGet();
        changed.put(dataset, t);
        // a destroy of a bookmark (fs#name) leaves the snapshots as they are
        boolean bookmarkDestroy =
            verb.equals("destroy") && cut < a.length() && a.charAt(cut) == '#';
        if (!holdsOnly && !bookmarkDestroy) {
          snapshotsChanged.put(dataset, t);
        }
      }
    }
  }
}
