package dev.zrepl4j.replication;

import org.jspecify.annotations.Nullable;

/**
 * What the active side asks the receiver to receive: the stream of one step follows the request.
 *
 * @param filesystem in the sender's namespace; the receiver maps it below its root for the caller
 * @param from the incremental source the stream is based on, or null for a full stream
 * @param to the snapshot the stream carries
 * @param resuming the stream continues an interrupted receive (it came from {@code send -t})
 * @param holdLater the caller moves the last-received hold itself afterwards ({@link
 *     ReceiverApi#confirmReceivedAll}, with other filesystems'): the receive leaves it where it is
 *     (our extension; an older receiver ignores the field and moves it, as before)
 */
public record ReceiveSpec(
    String filesystem,
    @Nullable FsVersion from,
    FsVersion to,
    boolean resuming,
    boolean holdLater) {
  /** A receive that moves the last-received hold itself. */
  public ReceiveSpec(String filesystem, @Nullable FsVersion from, FsVersion to, boolean resuming) {
    this(filesystem, from, to, resuming, false);
  }
}
