package dev.zrepl4j.replication;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * One side's answer to a {@link VerifyRequest}.
 *
 * @param filesystem as asked (the sender's namespace)
 * @param raw the sender: whether this job sends the filesystem raw ({@code -w}), so that the
 *     digests on both sides must be of raw sends; the receiver: as asked
 * @param snapshots the asked snapshots this side has
 * @param receivedProperties whether the filesystem has properties that came with a stream ({@code
 *     zfs send -p}: source {@code received}); always false on the sender unless it is itself a copy
 * @param properties the sender: the properties a {@code -p} stream carries (source {@code local} or
 *     {@code received}); the receiver: those set on the copy by hand (source {@code local}), except
 *     the ones its own configuration sets ({@code recv.properties.override}) and zrepl4j's own
 * @param compressed whether the filesystem's {@code compression} is on (then a block of zeros is
 *     stored as a hole: where the sender does not compress and the receiver does, the copy's
 *     logical size is smaller by its zero blocks)
 * @param origin the filesystem's {@code origin} ({@code ""} if it is no clone): a received copy is
 *     none, unless a clone of it was promoted (its older snapshots moved to the clone)
 */
public record VerifyFacts(
    String filesystem,
    boolean raw,
    List<Snapshot> snapshots,
    boolean receivedProperties,
    List<Property> properties,
    boolean compressed,
    String origin) {
  public VerifyFacts {
    snapshots = List.copyOf(snapshots);
    properties = List.copyOf(properties);
  }

  /**
   * One snapshot.
   *
   * @param logicalReferenced its {@code logicalreferenced} (-1 where ZFS has no such property:
   *     zfs-fuse)
   * @param digest the content digest (hex SHA-256) if it was asked for, else null
   * @param digestBytes the bytes the digest covers (0 if none)
   */
  public record Snapshot(
      String name, long guid, long logicalReferenced, @Nullable String digest, long digestBytes) {}

  /** A property of the filesystem: name, value (as {@code zfs get -p} prints it) and source. */
  public record Property(String name, String value, String source) {}
}
