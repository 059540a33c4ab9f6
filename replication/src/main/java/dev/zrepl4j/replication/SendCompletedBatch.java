package dev.zrepl4j.replication;

import java.util.List;

/**
 * Several filesystems' {@link SendCompleted} in one call ({@link SenderApi#sendCompletedAll}): the
 * sender lists them once and moves their cursors and releases their step holds with one {@code zfs}
 * command per hold tag. At most {@link #MAX} completions, each filesystem once.
 */
public record SendCompletedBatch(List<SendCompleted> completions) {
  /** The most completions one call may carry. */
  public static final int MAX = 1024;

  public SendCompletedBatch {
    completions = List.copyOf(completions);
  }
}
