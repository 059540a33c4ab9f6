package dev.zrepl4j.replication.pruning;

import dev.zrepl4j.replication.ZreplNames;
import dev.zrepl4j.zfs.FilesystemVersion;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * THE pruning invariant, in one place: whatever the rules say, a version is never destroyed if it
 * is a bookmark, if it is held (userrefs &gt; 0, e.g. a step, cursor or last-received hold, or the
 * hold count is unknown), or if it is the newest common base of a configured replication (its guid
 * is this job's cursor, a protected guid of the context, or the guid of any zrepl cursor bookmark —
 * of any job, tentative or not — on the same filesystem). {@link Pruner} applies it to every plan
 * and {@link PruneExecutor} again to freshly listed versions right before destroying. Stateless.
 */
public final class PruneGuard {
  private PruneGuard() {}

  /** Guids protected on one filesystem: the context's plus those of cursor bookmarks. */
  static Set<Long> protectedGuids(List<FilesystemVersion> versions, PruneContext context) {
    var out = new HashSet<Long>(context.protectedGuids());
    out.addAll(context.cursorGuids());
    for (var v : versions) {
      if (v.isBookmark() && ZreplNames.isCursorBookmark(v.name())) {
        out.add(v.guid());
      }
    }
    return out;
  }

  /**
   * Why {@code v} must not be destroyed, or empty if it may be.
   *
   * @param protectedGuids from {@link #protectedGuids}
   */
  public static Optional<String> protection(FilesystemVersion v, Set<Long> protectedGuids) {
    if (v.isBookmark()) {
      return Optional.of("bookmark");
    }
    if (v.userRefs() == FilesystemVersion.UNKNOWN_USERREFS) {
      return Optional.of("hold count unknown");
    }
    if (v.userRefs() > 0) {
      return Optional.of("held (userrefs=" + v.userRefs() + ")");
    }
    if (protectedGuids.contains(v.guid())) {
      return Optional.of("replication base (cursor or last received)");
    }
    return Optional.empty();
  }
}
