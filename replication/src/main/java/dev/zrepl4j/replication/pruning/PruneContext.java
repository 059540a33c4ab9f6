package dev.zrepl4j.replication.pruning;

import java.util.Set;

/**
 * What pruning of one filesystem must know about replication besides its versions.
 *
 * @param cursorGuids guids of this job's replication cursor (the snapshot the cursor bookmark or
 *     cursor hold points at); empty if nothing was replicated yet. Used by {@code not_replicated}
 *     and always protected.
 * @param cursorTxg the cursor's createtxg if known (lets {@code not_replicated} work when the
 *     cursor snapshot itself is gone and only its bookmark remains), else {@link #NO_CURSOR}
 * @param protectedGuids guids that are the newest common base of some configured replication (e.g.
 *     another job's cursor, a receiver's last-received snapshot): never destroyed
 */
public record PruneContext(Set<Long> cursorGuids, long cursorTxg, Set<Long> protectedGuids) {
  public static final long NO_CURSOR = -1;

  /** No replication is known: only holds and cursor bookmarks found in the versions protect. */
  public static final PruneContext NONE = new PruneContext(Set.of(), NO_CURSOR, Set.of());

  public PruneContext {
    cursorGuids = Set.copyOf(cursorGuids);
    protectedGuids = Set.copyOf(protectedGuids);
  }

  /** A context with this job's cursor at {@code guid}. */
  public static PruneContext cursor(long guid) {
    return new PruneContext(Set.of(guid), NO_CURSOR, Set.of());
  }
}
