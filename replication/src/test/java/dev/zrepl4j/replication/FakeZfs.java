package dev.zrepl4j.replication;

import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.FilesystemVersion;
import dev.zrepl4j.zfs.FilesystemVersion.FullName;
import dev.zrepl4j.zfs.Hold;
import dev.zrepl4j.zfs.Property;
import dev.zrepl4j.zfs.ReceiveOptions;
import dev.zrepl4j.zfs.SendRequest;
import dev.zrepl4j.zfs.SendStream;
import dev.zrepl4j.zfs.Zfs;
import dev.zrepl4j.zfs.ZfsCapabilities;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * A listing-only stand-in for {@link Zfs} (JSON shape tests): fixed filesystems and versions; every
 * other operation fails. Behaviour that touches ZFS is tested on real pools (the ITs).
 */
final class FakeZfs implements Zfs {
  final Map<DatasetPath, List<FilesystemVersion>> versions = new LinkedHashMap<>();
  // synchronized: holds and releases run in parts side by side
  final List<String> calls = java.util.Collections.synchronizedList(new ArrayList<>());
  // what capabilities() answers
  ZfsCapabilities capabilities = ZfsCapabilities.legacy("fake");
  // what getProperties answers, per dataset; a dataset not in it is not in the fake
  final Map<String, Map<String, Property>> properties = new LinkedHashMap<>();

  @Override
  public ZfsCapabilities capabilities() {
    return capabilities;
  }

  @Override
  public List<DatasetPath> listFilesystems(
      Collection<DatasetPath> roots, Predicate<DatasetPath> filter) {
    calls.add("listFilesystems");
    return versions.keySet().stream().filter(filter).toList();
  }

  @Override
  public List<DatasetPath> listFilesystemsBelow(
      Collection<DatasetPath> roots, Predicate<DatasetPath> filter) {
    calls.add("listFilesystemsBelow " + roots);
    return versions.keySet().stream()
        .filter(p -> roots.stream().anyMatch(p::hasPrefix))
        .filter(filter)
        .toList();
  }

  @Override
  public Map<DatasetPath, List<FilesystemVersion>> listVersionsOfExisting(
      Collection<DatasetPath> filesystems) {
    return listVersions(filesystems);
  }

  @Override
  public Map<DatasetPath, List<FilesystemVersion>> listVersions(
      Collection<DatasetPath> filesystems) {
    calls.add("listVersions " + filesystems);
    var out = new LinkedHashMap<DatasetPath, List<FilesystemVersion>>();
    for (var fs : filesystems) {
      out.put(fs, versions.getOrDefault(fs, List.of()));
    }
    return out;
  }

  private static UnsupportedOperationException no() {
    return new UnsupportedOperationException("not in the fake");
  }

  @Override
  public Map<String, Map<String, Property>> getProperties(
      Collection<String> datasets, Collection<String> properties) {
    calls.add("getProperties " + datasets + " " + properties);
    var out = new LinkedHashMap<String, Map<String, Property>>();
    for (var d : datasets) {
      var p = this.properties.get(d);
      if (p == null) {
        throw no();
      }
      out.put(d, p);
    }
    return out;
  }

  @Override
  public Map<String, Map<String, Property>> getPropertiesOfExisting(
      Collection<String> datasets, Collection<String> properties) {
    throw no();
  }

  @Override
  public void setProperty(String dataset, String property, String value) {
    throw no();
  }

  @Override
  public void inheritProperty(String dataset, String property) {
    throw no();
  }

  @Override
  public void rename(DatasetPath from, DatasetPath to) {
    throw no();
  }

  @Override
  public void create(DatasetPath filesystem, Map<String, String> properties) {
    throw no();
  }

  @Override
  public void snapshot(Collection<DatasetPath> filesystems, String name) {
    throw no();
  }

  @Override
  public void destroyFilesystem(DatasetPath filesystem, boolean recursive) {
    throw no();
  }

  @Override
  public void destroyVersions(Collection<FullName> v) {
    throw no();
  }

  @Override
  public void hold(String tag, Collection<FullName> snapshots) {
    calls.add("hold " + tag + " " + snapshots.size());
  }

  @Override
  public void release(String tag, Collection<FullName> snapshots) {
    calls.add("release " + tag + " " + snapshots.size());
  }

  @Override
  public List<Hold> listHolds(Collection<FullName> snapshots) {
    throw no();
  }

  @Override
  public void bookmark(FullName snapshot, String bookmarkName) {
    throw no();
  }

  @Override
  public SendStream send(SendRequest request) {
    calls.add("send " + request);
    throw no();
  }

  @Override
  public long estimateSendSize(SendRequest request) {
    throw no();
  }

  @Override
  public void receive(DatasetPath target, InputStream stream, ReceiveOptions options) {
    throw no();
  }

  @Override
  public void abortReceive(DatasetPath target) {
    throw no();
  }

  @Override
  public Optional<String> receiveResumeToken(DatasetPath filesystem) {
    throw no();
  }
}
