package dev.zrepl4j.zfs;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.jspecify.annotations.Nullable;

/**
 * The identity in the BEGIN record that opens every {@code zfs send} stream (OpenZFS's {@code
 * dmu_replay_record.drr_u.drr_begin}, written in the sender's byte order, which {@code drr_magic}
 * tells): the guid of the snapshot the stream carries, the guid of its incremental source (0 for a
 * full stream) and the snapshot's name on the sender. Only a plain stream has one: a compound
 * stream ({@code -R}, {@code -I}, {@code -p}) begins with a record of its own, without them.
 *
 * @param toGuid {@code drr_toguid}
 * @param fromGuid {@code drr_fromguid}, 0 for a full stream
 * @param toName {@code drr_toname}, {@code fs@snapshot}
 */
public record StreamBegin(long toGuid, long fromGuid, String toName) {
  /** The size of the record: {@code sizeof (dmu_replay_record_t)}. */
  public static final int SIZE = 312;

  private static final long MAGIC = 0x2F5BACBACL;
  private static final int TO_NAME_OFFSET = 56;
  private static final int TO_NAME_MAX = 256;

  /**
   * The BEGIN record at the start of {@code head}, or null if it is not one of a plain stream (too
   * short, not a stream's magic, not a BEGIN record, a compound stream): the caller then learns
   * nothing from it, and {@code zfs recv} judges the stream.
   */
  public static @Nullable StreamBegin parse(byte[] head, int length) {
    if (length < SIZE) {
      return null;
    }
    var b = ByteBuffer.wrap(head, 0, SIZE).order(ByteOrder.LITTLE_ENDIAN);
    long magic = b.getLong(8);
    if (magic == Long.reverseBytes(MAGIC)) {
      b.order(ByteOrder.BIG_ENDIAN);
    } else if (magic != MAGIC) {
      return null;
    }
    if (b.getInt(0) != 0) { // DRR_BEGIN
      return null;
    }
    if ((b.getLong(16) & 3) != 1) {
      // not DMU_SUBSTREAM: a compound stream (-R, -I, -p) begins with a record of its own whose
      // guids are 0; its substreams follow
      return null;
    }
    int end = TO_NAME_OFFSET;
    while (end < TO_NAME_OFFSET + TO_NAME_MAX && head[end] != 0) {
      end++;
    }
    if (end == TO_NAME_OFFSET + TO_NAME_MAX) {
      return null; // not NUL-terminated
    }
    var name = new String(head, TO_NAME_OFFSET, end - TO_NAME_OFFSET, StandardCharsets.UTF_8);
    return new StreamBegin(b.getLong(40), b.getLong(48), name);
  }

  /** The snapshot's own name (after the {@code @}), or "" if the name has none. */
  public String snapshotName() {
    int at = toName.indexOf('@');
    return at < 0 ? "" : toName.substring(at + 1);
  }
}
