package dev.zrepl4j.replication;

import java.time.Instant;
import java.util.Arrays;
import java.util.List;

/**
 * The seed's test notation: {@code @name:id} is a snapshot, {@code #name:id} a bookmark, with guid
 * = createtxg = id and creation = id seconds after the epoch.
 */
final class Versions {
  private Versions() {}

  static FsVersion v(String s) {
    int colon = s.lastIndexOf(':');
    long id = Long.parseLong(s.substring(colon + 1));
    var name = s.substring(1, colon);
    var type =
        switch (s.charAt(0)) {
          case '@' -> FsVersion.SNAPSHOT;
          case '#' -> FsVersion.BOOKMARK;
          default -> throw new IllegalArgumentException(s);
        };
    return new FsVersion(type, name, id, id, Instant.ofEpochSecond(id));
  }

  static List<FsVersion> vs(String... s) {
    return Arrays.stream(s).map(Versions::v).toList();
  }
}
