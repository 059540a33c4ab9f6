package dev.zrepl4j.replication;

import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.FilesystemVersion;
import java.time.Instant;

/**
 * A snapshot or bookmark as it crosses the wire between the active and the passive side.
 *
 * @param type {@code snapshot} or {@code bookmark}
 * @param name the name after {@code @} or {@code #}
 * @param guid the ZFS guid (unsigned 64-bit, carried in a long); identifies a snapshot across pools
 * @param createTxg the creation txg (unsigned 64-bit); orders versions of one filesystem
 * @param creation creation time, seconds resolution
 */
public record FsVersion(String type, String name, long guid, long createTxg, Instant creation) {
  public static final String SNAPSHOT = "snapshot";
  public static final String BOOKMARK = "bookmark";

  public FsVersion {
    if (!type.equals(SNAPSHOT) && !type.equals(BOOKMARK)) {
      throw new IllegalArgumentException("version type must be snapshot or bookmark: " + type);
    }
    if (name.isEmpty() || name.contains("@") || name.contains("#") || name.contains("/")) {
      throw new IllegalArgumentException("invalid version name: " + name);
    }
  }

  /** The wire form of a version listed by the ZFS layer. */
  public static FsVersion of(FilesystemVersion v) {
    return new FsVersion(
        v.isSnapshot() ? SNAPSHOT : BOOKMARK, v.name(), v.guid(), v.createTxg(), v.creation());
  }

  public boolean isSnapshot() {
    return type.equals(SNAPSHOT);
  }

  /** {@code fs@name} or {@code fs#name}. */
  public String fullName(DatasetPath fs) {
    return fs + (isSnapshot() ? "@" : "#") + name;
  }

  @Override
  public String toString() {
    return (isSnapshot() ? "@" : "#") + name + "(guid " + Long.toUnsignedString(guid) + ")";
  }
}
