package dev.zrepl4j.replication;

/** zrepl's {@code replication.protection} levels: what holds and bookmarks protect a step. */
public enum Protection {
  /**
   * Step holds on the sender's {@code from} and {@code to} during the step, so an interrupted step
   * can always be resumed; the replication cursor moves after the step (zrepl's default).
   */
  GUARANTEE_RESUMABILITY,
  /** A tentative cursor bookmark keeps the incremental base; no step holds. */
  GUARANTEE_INCREMENTAL,
  /** No holds or bookmarks (pruning may then break the next incremental). */
  GUARANTEE_NOTHING
}
