package dev.zrepl4j.replication;

import java.util.List;

/**
 * Several filesystems' {@link ReceivedBase} in one call ({@link ReceiverApi#confirmReceivedAll}):
 * the receiver lists them once and moves their last-received holds with one {@code zfs hold} and
 * one {@code zfs release}. At most {@link #MAX}, each filesystem once.
 */
public record ReceivedBaseBatch(List<ReceivedBase> bases) {
  /** The most bases one call may carry. */
  public static final int MAX = 1024;

  public ReceivedBaseBatch {
    bases = List.copyOf(bases);
  }
}
