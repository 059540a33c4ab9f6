package dev.zrepl4j.replication;

import dev.zrepl4j.replication.filter.DatasetFilter;
import dev.zrepl4j.rpc.ErrorCode;
import dev.zrepl4j.rpc.RemoteException;
import dev.zrepl4j.rpc.RpcName;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.FilesystemVersion;
import dev.zrepl4j.zfs.FilesystemVersion.FullName;
import dev.zrepl4j.zfs.FilesystemVersion.VersionType;
import dev.zrepl4j.zfs.SendRequest;
import dev.zrepl4j.zfs.Zfs;
import dev.zrepl4j.zfs.ZfsException;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * The seed's four source endpoints ({@code FilesystemRequest}, {@code FilesystemVersionsRequest},
 * {@code InitialTransferRequest}, {@code IncrementalTransferRequest}) with the seed's JSON shapes
 * (SEED-SPEC.md §1.9, §2.10), so that a seed-era client can pull from a zrepl4j source. Register it
 * without a prefix: {@code server.register(new SeedSource(zfs, acl))}. Unlike the seed, the ACL is
 * enforced on all four endpoints (the seed ignored it for {@code FilesystemVersionsRequest}).
 * Thread-safe.
 */
public final class SeedSource {
  private static final DateTimeFormatter RFC3339 =
      DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ssXXX");

  private final Zfs zfs;
  private final Predicate<DatasetPath> acl;
  private final ZoneId zone;
  private final BandwidthLimiter bandwidth;

  /** Times are written in this host's time zone, as the seed did. */
  public SeedSource(Zfs zfs, Predicate<DatasetPath> acl) {
    this(zfs, acl, ZoneId.systemDefault(), BandwidthLimiter.none());
  }

  /**
   * @param bandwidth the job's {@code send.bandwidth_limit}, shared with its {@link Sender}: the
   *     transfers served to seed-era clients read {@code zfs send} through it too
   */
  public SeedSource(Zfs zfs, Predicate<DatasetPath> acl, BandwidthLimiter bandwidth) {
    this(zfs, acl, ZoneId.systemDefault(), bandwidth);
  }

  SeedSource(Zfs zfs, Predicate<DatasetPath> acl, ZoneId zone) {
    this(zfs, acl, zone, BandwidthLimiter.none());
  }

  private SeedSource(Zfs zfs, Predicate<DatasetPath> acl, ZoneId zone, BandwidthLimiter bandwidth) {
    this.zfs = zfs;
    this.acl = acl;
    this.zone = zone;
    this.bandwidth = bandwidth;
  }

  /**
   * {@code {"Roots":null}} or {@code {"Roots":["tank/usr"]}}: the seed declares {@code Roots
   * []string} ("may be nil = all"); Roots is ignored, as in the seed: the answer is what the ACL
   * allows, whatever the roots name.
   */
  public record FilesystemRequest(@Nullable List<String> roots) {}

  /** {@code {"Filesystem":["tank","usr"]}}. */
  public record FilesystemVersionsRequest(List<String> filesystem) {}

  /** {@code {"Filesystem":[...],"FilesystemVersion":{...}}}. */
  public record InitialTransferRequest(List<String> filesystem, Version filesystemVersion) {}

  /** {@code {"Filesystem":[...],"From":{...},"To":{...}}}. */
  public record IncrementalTransferRequest(List<String> filesystem, Version from, Version to) {}

  /**
   * The seed's {@code FilesystemVersion}: {@code
   * {"Type":"snapshot","Name":"x","Guid":<u64>,"CreateTXG":<u64>,"Creation":"<RFC3339>"}}.
   *
   * @param guid unsigned 64-bit, as a JSON number
   * @param createTXG unsigned 64-bit, as a JSON number
   * @param creation RFC 3339 with the sender's UTC offset
   */
  @SuppressWarnings("MemberName") // the seed's key is CreateTXG
  public record Version(
      String type, String name, BigInteger guid, BigInteger createTXG, String creation) {}

  @RpcName("FilesystemRequest")
  public List<List<String>> filesystems(FilesystemRequest request) throws IOException {
    var out = new ArrayList<List<String>>();
    for (var p : DatasetFilter.list(zfs, acl)) {
      out.add(p.components());
    }
    return out;
  }

  @RpcName("FilesystemVersionsRequest")
  public List<Version> versions(FilesystemVersionsRequest request) throws IOException {
    var fs = checkAcl(request.filesystem());
    var out = new ArrayList<Version>();
    for (var v : list(fs)) {
      out.add(version(v));
    }
    return out;
  }

  @RpcName("InitialTransferRequest")
  public InputStream initial(InitialTransferRequest request) throws IOException {
    var fs = checkAcl(request.filesystem());
    var to = find(fs, request.filesystemVersion());
    if (!to.isSnapshot()) {
      throw new RemoteException(ErrorCode.INVALID_ARGUMENT, "can only send a snapshot: " + to);
    }
    return bandwidth.limit(zfs.send(SendRequest.full(full(to))));
  }

  @RpcName("IncrementalTransferRequest")
  public InputStream incremental(IncrementalTransferRequest request) throws IOException {
    var fs = checkAcl(request.filesystem());
    var from = find(fs, request.from());
    var to = find(fs, request.to());
    if (!to.isSnapshot() || Long.compareUnsigned(from.createTxg(), to.createTxg()) >= 0) {
      throw new RemoteException(
          ErrorCode.INVALID_ARGUMENT, "not an incremental step: " + from + " -> " + to);
    }
    return bandwidth.limit(zfs.send(SendRequest.incremental(full(from), full(to))));
  }

  Version version(FilesystemVersion v) {
    return new Version(
        v.isSnapshot() ? "snapshot" : "bookmark",
        v.name(),
        new BigInteger(Long.toUnsignedString(v.guid())),
        new BigInteger(Long.toUnsignedString(v.createTxg())),
        RFC3339.format(v.creation().atZone(zone)));
  }

  private DatasetPath checkAcl(List<String> components) throws RemoteException {
    DatasetPath p;
    try {
      p = new DatasetPath(components);
    } catch (IllegalArgumentException e) {
      throw new RemoteException(ErrorCode.INVALID_ARGUMENT, String.valueOf(e.getMessage()));
    }
    if (p.isEmpty() || !acl.test(p)) {
      throw new RemoteException(ErrorCode.INVALID_ARGUMENT, "ACL prohibits access to " + p);
    }
    return Access.checked(p, p.toString());
  }

  private List<FilesystemVersion> list(DatasetPath fs) throws IOException {
    try {
      return zfs.listVersions(List.of(fs)).getOrDefault(fs, List.of());
    } catch (ZfsException e) {
      throw Access.orNotFound(e, "filesystem " + fs);
    }
  }

  /**
   * The listed version the request names; its guid must match unless the client sent 0, and its
   * creation must be an RFC 3339 time (it is not compared: the guid identifies the version).
   */
  private FilesystemVersion find(DatasetPath fs, Version wanted) throws IOException {
    try {
      // the seed's Go decoder refuses a Creation that is no RFC 3339 time; so do we
      OffsetDateTime.parse(wanted.creation());
    } catch (DateTimeParseException e) {
      throw new RemoteException(
          ErrorCode.INVALID_ARGUMENT,
          "creation '" + wanted.creation() + "' of " + wanted.name() + " is not an RFC 3339 time");
    }
    var type =
        switch (wanted.type()) {
          case "snapshot" -> VersionType.SNAPSHOT;
          case "bookmark" -> VersionType.BOOKMARK;
          default ->
              throw new RemoteException(
                  ErrorCode.INVALID_ARGUMENT, "unknown version type '" + wanted.type() + "'");
        };
    for (var v : list(fs)) {
      if (v.type() == type && v.name().equals(wanted.name())) {
        if (wanted.guid().signum() != 0
            && !wanted.guid().equals(new BigInteger(Long.toUnsignedString(v.guid())))) {
          throw new RemoteException(
              ErrorCode.FAILED_PRECONDITION,
              v.fullName() + " has guid " + v.guidString() + ", not " + wanted.guid());
        }
        return v;
      }
    }
    throw new RemoteException(
        ErrorCode.NOT_FOUND, fs + String.valueOf(type.delimiter()) + wanted.name() + " not found");
  }

  private static FullName full(FilesystemVersion v) {
    return new FullName(v.filesystem(), v.type(), v.name());
  }
}
