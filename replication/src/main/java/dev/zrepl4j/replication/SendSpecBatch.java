package dev.zrepl4j.replication;

import java.util.List;

/**
 * Several steps' {@link SendSpec} in one call ({@link SenderApi#protectAll}). At most {@link #MAX}.
 */
public record SendSpecBatch(List<SendSpec> specs) {
  /** The most steps one call may carry. */
  public static final int MAX = 4096;

  public SendSpecBatch {
    specs = List.copyOf(specs);
  }
}
