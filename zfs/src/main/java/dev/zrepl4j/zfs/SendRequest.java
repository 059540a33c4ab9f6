package dev.zrepl4j.zfs;

import dev.zrepl4j.zfs.FilesystemVersion.FullName;
import dev.zrepl4j.zfs.FilesystemVersion.VersionType;
import java.util.EnumSet;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * What to send: a full stream of {@code to}, an incremental stream {@code from -> to} ({@code -i},
 * or {@code -I} with intermediates), or the rest of an interrupted stream ({@code -t token}).
 *
 * @param from incremental source (snapshot or bookmark); null for a full or resumed send
 * @param to the snapshot to send; null only when resuming
 * @param intermediates {@code -I} instead of {@code -i}
 * @param resumeToken the receiver's receive_resume_token; null unless resuming
 * @param flags stream flags; must be empty when resuming (the token carries them)
 */
public record SendRequest(
    @Nullable FullName from,
    @Nullable FullName to,
    boolean intermediates,
    @Nullable String resumeToken,
    Set<SendFlag> flags) {

  /** Flags of {@code zfs send}. */
  public enum SendFlag {
    /** {@code -w}: raw (encrypted blocks as they are on disk). */
    RAW("-w", ZfsFeature.SEND_RAW),
    /** {@code -c}: compressed blocks as on disk. */
    COMPRESSED("-c", ZfsFeature.SEND_COMPRESSED),
    /** {@code -L}: blocks larger than 128 KiB. */
    LARGE_BLOCKS("-L", ZfsFeature.SEND_LARGE_BLOCKS),
    /** {@code -e}: embedded-data blocks. */
    EMBEDDED("-e", ZfsFeature.SEND_EMBEDDED),
    /** {@code -p}: include the dataset's properties (both dialects). */
    PROPERTIES("-p", null);

    private final String option;
    private final @Nullable ZfsFeature feature;

    SendFlag(String option, @Nullable ZfsFeature feature) {
      this.option = option;
      this.feature = feature;
    }

    /** The command-line option. */
    public String option() {
      return option;
    }

    /** The feature it needs, if it is not available everywhere. */
    @Nullable ZfsFeature feature() {
      return feature;
    }
  }

  public SendRequest {
    flags = flags.isEmpty() ? Set.of() : Set.copyOf(EnumSet.copyOf(flags));
    if (resumeToken != null) {
      if (to != null || from != null || intermediates || !flags.isEmpty()) {
        throw new IllegalArgumentException(
            "a resumed send takes only the token (it carries the snapshots and flags)");
      }
      if (resumeToken.isEmpty() || resumeToken.startsWith("-")) {
        throw new IllegalArgumentException("bad resume token '" + resumeToken + "'");
      }
    } else {
      if (to == null) {
        throw new IllegalArgumentException("send needs a snapshot to send");
      }
      if (to.type() != VersionType.SNAPSHOT) {
        throw new IllegalArgumentException("can only send a snapshot, not " + to);
      }
      if (from == null && intermediates) {
        throw new IllegalArgumentException("-I needs a from snapshot");
      }
      if (from != null && intermediates && from.type() == VersionType.BOOKMARK) {
        throw new IllegalArgumentException("-I cannot start at a bookmark: " + from);
      }
    }
  }

  /** {@code zfs send to}. */
  public static SendRequest full(FullName to) {
    return new SendRequest(null, to, false, null, Set.of());
  }

  /** {@code zfs send -i from to}; {@code from} may be a bookmark. */
  public static SendRequest incremental(FullName from, FullName to) {
    return new SendRequest(from, to, false, null, Set.of());
  }

  /** {@code zfs send -I from to}: with all snapshots in between. */
  public static SendRequest withIntermediates(FullName from, FullName to) {
    return new SendRequest(from, to, true, null, Set.of());
  }

  /** {@code zfs send -t token}. */
  public static SendRequest resume(String token) {
    return new SendRequest(null, null, false, token, Set.of());
  }

  /** This request with these flags added. */
  public SendRequest with(SendFlag... more) {
    var all = EnumSet.noneOf(SendFlag.class);
    all.addAll(flags);
    all.addAll(Set.of(more));
    return new SendRequest(from, to, intermediates, resumeToken, all);
  }
}
