package dev.zrepl4j.zfs;

import java.time.Instant;
import java.util.Objects;
import java.util.OptionalLong;

/**
 * A snapshot or bookmark of a filesystem (seed §2.6). {@code guid} and {@code createTxg} are
 * unsigned 64-bit values stored in a {@code long} (compare with {@link Long#compareUnsigned}, print
 * with {@link Long#toUnsignedString}). A bookmark carries the guid and txg of the snapshot it was
 * made from.
 *
 * @param filesystem the dataset the version belongs to
 * @param type snapshot or bookmark
 * @param name the short name after {@code @} or {@code #}
 * @param guid ZFS guid, unsigned
 * @param createTxg creation transaction group, unsigned
 * @param creation creation time (seconds resolution)
 * @param userRefs number of user holds ({@code userrefs}); -1 when unknown (bookmarks, or not
 *     listed)
 */
public record FilesystemVersion(
    DatasetPath filesystem,
    VersionType type,
    String name,
    long guid,
    long createTxg,
    Instant creation,
    long userRefs) {

  /** Sentinel value of {@link #userRefs()} when the count is not known. */
  public static final long UNKNOWN_USERREFS = -1;

  /** Snapshot ({@code @}) or bookmark ({@code #}). */
  public enum VersionType {
    SNAPSHOT('@'),
    BOOKMARK('#');

    private final char delimiter;

    VersionType(char delimiter) {
      this.delimiter = delimiter;
    }

    /** {@code @} or {@code #}. */
    public char delimiter() {
      return delimiter;
    }
  }

  public FilesystemVersion {
    Objects.requireNonNull(filesystem, "filesystem");
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(creation, "creation");
    if (filesystem.isEmpty()) {
      throw new IllegalArgumentException("version of the root path");
    }
    if (name.isEmpty()
        || name.indexOf('@') >= 0
        || name.indexOf('#') >= 0
        || name.indexOf('/') >= 0) {
      throw new IllegalArgumentException(
          "invalid " + type.name().toLowerCase() + " name: '" + name + "'");
    }
    if (userRefs < UNKNOWN_USERREFS) {
      throw new IllegalArgumentException("negative userrefs " + userRefs);
    }
  }

  /** Parses {@code fs@name} or {@code fs#name} into its filesystem, type and short name. */
  public static FullName parseFullName(String full) {
    int at = full.indexOf('@');
    int hash = full.indexOf('#');
    if ((at < 0) == (hash < 0)) {
      throw new IllegalArgumentException(
          "version name must contain exactly one of '@' or '#': '" + full + "'");
    }
    int i = at >= 0 ? at : hash;
    var type = at >= 0 ? VersionType.SNAPSHOT : VersionType.BOOKMARK;
    var name = full.substring(i + 1);
    if (i == 0 || name.isEmpty() || name.indexOf('@') >= 0 || name.indexOf('#') >= 0) {
      throw new IllegalArgumentException("invalid version name: '" + full + "'");
    }
    return new FullName(DatasetPath.parse(full.substring(0, i)), type, name);
  }

  /** A parsed {@code fs@name} / {@code fs#name}. */
  public record FullName(DatasetPath filesystem, VersionType type, String name) {
    @Override
    public String toString() {
      return filesystem + String.valueOf(type.delimiter()) + name;
    }
  }

  /** This version with {@code userRefs} user holds (as a new reading of them says). */
  public FilesystemVersion withUserRefs(long userRefs) {
    return new FilesystemVersion(filesystem, type, name, guid, createTxg, creation, userRefs);
  }

  /** The user-hold count, if known. */
  public OptionalLong userRefsIfKnown() {
    return userRefs == UNKNOWN_USERREFS ? OptionalLong.empty() : OptionalLong.of(userRefs);
  }

  /** {@code @name} or {@code #name}. */
  public String relativeName() {
    return type.delimiter() + name;
  }

  /** {@code fs@name} or {@code fs#name}, as the {@code zfs} command expects. */
  public String fullName() {
    return filesystem + relativeName();
  }

  /** The guid as unsigned decimal. */
  public String guidString() {
    return Long.toUnsignedString(guid);
  }

  public boolean isSnapshot() {
    return type == VersionType.SNAPSHOT;
  }

  public boolean isBookmark() {
    return type == VersionType.BOOKMARK;
  }

  @Override
  public String toString() {
    return fullName() + "(guid=" + guidString() + ",txg=" + Long.toUnsignedString(createTxg) + ")";
  }
}
