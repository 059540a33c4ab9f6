package dev.zrepl4j.replication;

/**
 * zrepl's {@code conflict_resolution.initial_replication}: what to send when the receiver does not
 * have the filesystem yet.
 */
public enum InitialPolicy {
  /** A full send of the sender's newest snapshot (the default). */
  MOST_RECENT,
  /** A full send of the oldest snapshot, then every later one incrementally. */
  ALL,
  /** Refuse: report a conflict instead. */
  FAIL
}
