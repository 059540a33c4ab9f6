package dev.zrepl4j.replication;

import dev.zrepl4j.rpc.ErrorCode;
import dev.zrepl4j.rpc.RemoteException;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.FilesystemVersion;
import dev.zrepl4j.zfs.FilesystemVersion.FullName;
import dev.zrepl4j.zfs.FilesystemVersion.VersionType;
import dev.zrepl4j.zfs.Property;
import dev.zrepl4j.zfs.SendRequest;
import dev.zrepl4j.zfs.SendRequest.SendFlag;
import dev.zrepl4j.zfs.SendStreamDigest;
import dev.zrepl4j.zfs.Zfs;
import dev.zrepl4j.zfs.ZfsFeature;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * What one side ({@link Sender} or {@link Receiver}) answers to a {@link VerifyRequest}, for a
 * filesystem it has already checked the caller may see: guid and {@code logicalreferenced} of the
 * asked snapshots (one {@code zfs get}), the content digest of some ({@code zfs send} of each, read
 * through {@link SendStreamDigest}; only the digest leaves this host) and the filesystem's
 * properties of the sources the side cares about.
 */
final class VerifySide {
  private VerifySide() {}

  /** At most this many snapshots per request (a request is one filesystem). */
  static final int MAX_SNAPSHOTS = 100_000;

  /** At most this many content digests per request: each one reads the whole snapshot. */
  static final int MAX_DIGESTS = 64;

  /**
   * @param local the filesystem on this side (checked by the caller); may not exist
   * @param raw whether the digests are of raw sends
   * @param wanted which of the filesystem's properties to report (by source)
   * @param leftOut properties never reported (this side's own)
   */
  static VerifyFacts facts(
      Zfs zfs,
      DatasetPath local,
      VerifyRequest request,
      boolean raw,
      Predicate<Property> wanted,
      Set<String> leftOut)
      throws IOException {
    if (request.snapshots().size() > MAX_SNAPSHOTS || request.digests().size() > MAX_DIGESTS) {
      throw new RemoteException(
          ErrorCode.INVALID_ARGUMENT,
          "verify of "
              + request.filesystem()
              + ": at most "
              + MAX_SNAPSHOTS
              + " snapshots and "
              + MAX_DIGESTS
              + " digests per request (got "
              + request.snapshots().size()
              + " and "
              + request.digests().size()
              + ")");
    }
    for (var name : request.snapshots()) {
      Receiver.checkVersionName(name);
    }
    if (raw && !zfs.capabilities().has(ZfsFeature.SEND_RAW)) {
      throw new RemoteException(
          ErrorCode.FAILED_PRECONDITION,
          "verify of "
              + request.filesystem()
              + ": raw digests asked, but this ZFS has no raw send");
    }
    var versions = zfs.listVersionsOfExisting(List.of(local)).get(local);
    if (versions == null) {
      return new VerifyFacts(request.filesystem(), raw, List.of(), false, List.of(), false, "");
    }
    var asked = new HashSet<>(request.snapshots());
    var present = new ArrayList<FilesystemVersion>();
    for (var v : versions) {
      if (v.isSnapshot() && asked.contains(v.name())) {
        present.add(v);
      }
    }
    present.sort(Comparator.comparing(FilesystemVersion::createTxg, Long::compareUnsigned));
    Map<String, Map<String, Property>> sizes = Map.of();
    boolean logical = zfs.capabilities().openZfs();
    if (logical && !present.isEmpty()) {
      sizes =
          zfs.getPropertiesOfExisting(
              present.stream().map(v -> local + "@" + v.name()).toList(),
              List.of("logicalreferenced"));
    }
    var digests = new HashSet<>(request.digests());
    var out = new ArrayList<VerifyFacts.Snapshot>();
    for (var v : present) {
      var name = v.name();
      long size = -1;
      var p = sizes.getOrDefault(local + "@" + name, Map.of()).get("logicalreferenced");
      if (p != null && p.isSet()) {
        size = Long.parseLong(p.value());
      }
      String digest = null;
      long bytes = 0;
      if (digests.contains(name)) {
        var d = digest(zfs, new FullName(local, VersionType.SNAPSHOT, name), raw);
        digest = d.sha256();
        bytes = d.contentBytes();
      }
      out.add(new VerifyFacts.Snapshot(name, v.guid(), size, digest, bytes));
    }
    var properties = new ArrayList<VerifyFacts.Property>();
    boolean received = false;
    var origin = "";
    boolean compressed = false;
    var all = zfs.getPropertiesOfExisting(List.of(local.toString()), List.of("all"));
    for (var e : all.getOrDefault(local.toString(), Map.of()).entrySet()) {
      var p = e.getValue();
      if (p.source().equals("received")) {
        received = true;
      }
      if (e.getKey().equals("compression")) {
        compressed = !p.value().equals("off");
      }
      if (e.getKey().equals("origin") && p.isSet()) {
        origin = p.value();
      }
      if (wanted.test(p) && !leftOut.contains(e.getKey())) {
        properties.add(new VerifyFacts.Property(e.getKey(), p.value(), p.source()));
      }
    }
    return new VerifyFacts(
        request.filesystem(), raw, out, received, properties, compressed, origin);
  }

  private static SendStreamDigest.Digest digest(Zfs zfs, FullName snapshot, boolean raw)
      throws IOException {
    var flags = raw ? Set.of(SendFlag.RAW) : Set.<SendFlag>of();
    try (var stream = zfs.send(new SendRequest(null, snapshot, false, null, flags))) {
      return SendStreamDigest.of(stream);
    }
  }
}
