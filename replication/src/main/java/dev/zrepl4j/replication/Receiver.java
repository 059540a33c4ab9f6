package dev.zrepl4j.replication;

import dev.zrepl4j.replication.filter.DatasetMapping;
import dev.zrepl4j.replication.pruning.PruneContext;
import dev.zrepl4j.replication.pruning.PruneRequest;
import dev.zrepl4j.replication.pruning.PruneResult;
import dev.zrepl4j.rpc.DirectSource;
import dev.zrepl4j.rpc.DirectStream;
import dev.zrepl4j.rpc.ErrorCode;
import dev.zrepl4j.rpc.RemoteException;
import dev.zrepl4j.rpc.transport.Identities;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.FilesystemVersion;
import dev.zrepl4j.zfs.FilesystemVersion.FullName;
import dev.zrepl4j.zfs.FilesystemVersion.VersionType;
import dev.zrepl4j.zfs.HeadedStream;
import dev.zrepl4j.zfs.Property;
import dev.zrepl4j.zfs.ReceiveOptions;
import dev.zrepl4j.zfs.StreamBegin;
import dev.zrepl4j.zfs.Zfs;
import dev.zrepl4j.zfs.ZfsException;
import dev.zrepl4j.zfs.ZfsFeature;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The receiving side for one client root: every filesystem name it is given (in the sender's
 * namespace) is confined below that root, and nothing already received is destroyed or rolled back
 * ({@code -F} is used only to replace a placeholder without snapshots). In-process, a pull job uses
 * {@link #localRoot}; a sink serves its clients through {@link ReceiverEndpoint}, which builds one
 * of these per caller ({@link #sink}). Thread-safe.
 *
 * <p>With a {@link DatasetMapping} (the seed's {@code mapping:}), a sender name goes to {@code
 * root/<its target>} instead of {@code root/<sender name>}; a name the mapping does not map is
 * refused, and {@link #listFilesystems()} maps the datasets below the root back through {@link
 * DatasetMapping#inverse()} (datasets that are no target, such as the placeholders of gaps, are not
 * listed). Targets are relative to the client's root for a sink, absolute (and strictly below
 * {@code root_fs}) for a pull job, as in the seed's pull mapping.
 *
 * <p>Implementation notes: a receive (1) maps the name below the root, refusing any name that is
 * not a path of valid components; (2) lists the datasets on the way from {@code root_fs} to the
 * target once, with their placeholder marker (and encryption on OpenZFS) in one {@code zfs get};
 * (3) creates missing parents as placeholders top-down, refusing below an encrypted parent unless
 * {@code placeholder.encryption} says what to do (zrepl#504); (4) decides {@code -F}: only for a
 * full stream (new or resumed) into a placeholder without snapshots; a full stream into a real
 * filesystem is refused; (5) runs {@code zfs recv -u [-s] [-F] [-o/-x]}, reading the stream to its
 * end; (6) checks that the snapshot arrived with the sender's guid, clears the placeholder marker
 * of a replaced placeholder, and moves the last-received hold.
 */
public final class Receiver implements ReceiverApi {
  private static final Logger log = LoggerFactory.getLogger(Receiver.class);
  private static final String RESUME_TOKEN = "receive_resume_token";

  /** Where a receiver puts what a client sends. */
  public enum Mode {
    /** {@code root_fs/<client identity>/<sender path>} (a sink serving push clients). */
    SINK,
    /** {@code root_fs/<sender path>} (a pull job's own receiver). */
    LOCAL_ROOT
  }

  private final Zfs zfs;
  // the listings of the clients' plans, for the pruning of the run while nothing changed them
  private final Recent<List<FilesystemVersion>> recent;
  // which datasets below the root exist and whether each is a placeholder, from the plan's reading
  // (listFilesystems), for incremental receives while nothing this process ran changed them
  private final Recent<Boolean> knownTargets;
  // the plan's reading of the filesystems below the root (listFilesystems), for the run's pruning
  // while no receive or rename of this receiver began or ended since (changesBelow)
  private volatile @Nullable FilesystemsRead filesystemsRead;
  private final AtomicLong changesBelow = new AtomicLong();

  private record FilesystemsRead(List<FsInfo> infos, long changes, long nanos) {}

  // per target, the snapshots a last-received hold of this job may be on: those the plan's listing
  // showed held (userrefs > 0) and those this receiver confirmed since. Only this receiver places
  // its job's tag, so a confirmation reads just these and the received snapshots (one zfs get)
  // instead of every version of every target (issue 17)
  private final Map<DatasetPath, HeldRead> held = new ConcurrentHashMap<>();

  private record HeldRead(Set<String> snapshots, long nanos) {}

  // per target, the snapshots this receiver received into it since the plan's listing (kept in
  // recent) was read, each proven the only one its receive made; a confirmation that reads them
  // adds them to that listing, so that the run's pruning need not list the target again
  private final Map<DatasetPath, List<String>> receivedSince = new ConcurrentHashMap<>();

  /** How long {@link #held} is trusted; a plan's listing renews it every run. */
  static final Duration HELD_MAX_AGE = Duration.ofMinutes(30);

  private final DatasetPath rootFs;
  private final DatasetPath root;
  private final String job;
  private final ReceiverOptions options;
  // sender name -> dataset relative to root, and back; both null without a mapping
  private final @Nullable DatasetMapping mapping;
  private final @Nullable DatasetMapping unmapping;
  private final BandwidthLimiter bandwidth;

  private Receiver(
      Zfs zfs,
      DatasetPath rootFs,
      DatasetPath root,
      String job,
      ReceiverOptions options,
      @Nullable DatasetMapping mapping) {
    this(zfs, rootFs, root, job, options, mapping, BandwidthLimiter.none());
  }

  private Receiver(
      Zfs zfs,
      DatasetPath rootFs,
      DatasetPath root,
      String job,
      ReceiverOptions options,
      @Nullable DatasetMapping mapping,
      BandwidthLimiter bandwidth) {
    if (rootFs.isEmpty()) {
      throw new IllegalArgumentException("root_fs must be a dataset");
    }
    for (var c : rootFs.components()) {
      if (!Identities.valid(c)) {
        throw new IllegalArgumentException("invalid root_fs " + rootFs);
      }
    }
    this.zfs = zfs;
    this.recent = new Recent<>(zfs);
    this.knownTargets = new Recent<>(zfs);
    this.rootFs = rootFs;
    this.root = root;
    this.job = ZreplNames.checkJob(job);
    this.options = options;
    this.mapping = mapping;
    this.unmapping = mapping == null ? null : mapping.inverse();
    this.bandwidth = bandwidth;
    if (!zfs.capabilities().has(ZfsFeature.RECEIVE_PROPERTY_OVERRIDE)
        && (!options.overrideProperties().isEmpty() || !options.inheritProperties().isEmpty())) {
      throw new IllegalArgumentException(
          "recv.properties need "
              + ZfsFeature.RECEIVE_PROPERTY_OVERRIDE.description()
              + ", which "
              + zfs.capabilities().version()
              + " lacks");
    }
  }

  /**
   * A receiver that puts a client's filesystems below {@code root_fs/<identity>}.
   *
   * @throws RemoteException INVALID_ARGUMENT if {@code identity} is not a single valid dataset name
   *     component
   */
  public static Receiver sink(
      Zfs zfs, DatasetPath rootFs, String identity, String job, ReceiverOptions options)
      throws RemoteException {
    return new Receiver(zfs, rootFs, clientRoot(rootFs, Mode.SINK, identity), job, options, null);
  }

  /**
   * A receiver that puts a client's filesystems below {@code root_fs/<identity>}, where {@code
   * mapping} says: a sender name {@code n} goes to {@code root_fs/<identity>/<mapping(n)>}.
   *
   * @throws RemoteException INVALID_ARGUMENT if {@code identity} is not a single valid dataset name
   *     component
   * @throws IllegalArgumentException if {@code mapping} is not invertible ({@link
   *     DatasetMapping#inverse()})
   */
  public static Receiver sink(
      Zfs zfs,
      DatasetPath rootFs,
      String identity,
      String job,
      ReceiverOptions options,
      DatasetMapping mapping)
      throws RemoteException {
    return new Receiver(
        zfs, rootFs, clientRoot(rootFs, Mode.SINK, identity), job, options, mapping);
  }

  /** A receiver that puts filesystems below {@code root_fs} (a pull job). */
  public static Receiver localRoot(
      Zfs zfs, DatasetPath rootFs, String job, ReceiverOptions options) {
    return new Receiver(zfs, rootFs, rootFs, job, options, null);
  }

  /**
   * A receiver that puts each filesystem where {@code mapping} says (a pull job with the seed's
   * {@code mapping:}); its targets are absolute dataset names, each strictly below {@code root_fs}.
   *
   * @throws IllegalArgumentException naming the rule whose target is not below {@code root_fs}, or
   *     if {@code mapping} is not invertible ({@link DatasetMapping#inverse()})
   */
  public static Receiver localRoot(
      Zfs zfs, DatasetPath rootFs, String job, ReceiverOptions options, DatasetMapping mapping) {
    return new Receiver(zfs, rootFs, rootFs, job, options, mapping.relativeTo(rootFs));
  }

  /**
   * This receiver, with the job's {@code recv.bandwidth_limit}: every stream it receives is fed
   * into {@code zfs recv} through {@code bandwidth} (shared by all receivers of the job). Not
   * public: every public method of a receiver registered on an {@code RpcServer} is an endpoint.
   */
  Receiver limited(BandwidthLimiter bandwidth) {
    return new Receiver(zfs, rootFs, root, job, options, mapping, bandwidth);
  }

  /**
   * A receiver that puts filesystems below {@code root_fs} (a pull job), feeding {@code zfs recv}
   * through the job's {@code recv.bandwidth_limit}.
   */
  public static Receiver localRoot(
      Zfs zfs,
      DatasetPath rootFs,
      String job,
      ReceiverOptions options,
      BandwidthLimiter bandwidth) {
    return localRoot(zfs, rootFs, job, options).limited(bandwidth);
  }

  /**
   * {@link #localRoot(Zfs, DatasetPath, String, ReceiverOptions, DatasetMapping)}, feeding {@code
   * zfs recv} through the job's {@code recv.bandwidth_limit}.
   */
  public static Receiver localRoot(
      Zfs zfs,
      DatasetPath rootFs,
      String job,
      ReceiverOptions options,
      DatasetMapping mapping,
      BandwidthLimiter bandwidth) {
    return localRoot(zfs, rootFs, job, options, mapping).limited(bandwidth);
  }

  /** The root a client's names are confined to. */
  static DatasetPath clientRoot(DatasetPath rootFs, Mode mode, String identity)
      throws RemoteException {
    return switch (mode) {
      case LOCAL_ROOT -> rootFs;
      case SINK -> {
        var problem = Identities.problem(identity);
        if (problem.isPresent()) {
          throw new RemoteException(
              ErrorCode.INVALID_ARGUMENT,
              "client identity '"
                  + identity
                  + "' is not a valid dataset name component: "
                  + problem.get());
        }
        yield rootFs.child(identity);
      }
    };
  }

  /**
   * Maps a name in the sender's namespace below {@code root}.
   *
   * @throws RemoteException INVALID_ARGUMENT for anything but a non-empty path of valid components
   */
  static DatasetPath confine(DatasetPath root, String senderName) throws RemoteException {
    var p = Access.filesystem(senderName);
    var target = root.extend(p);
    if (!target.hasPrefix(root) || target.length() <= root.length()) {
      throw new RemoteException(ErrorCode.INVALID_ARGUMENT, senderName + " escapes the root");
    }
    if (target.toString().length() > 255) {
      throw new RemoteException(
          ErrorCode.INVALID_ARGUMENT, "name too long below " + root + ": " + senderName);
    }
    return target;
  }

  /**
   * Where the sender's {@code senderName} goes: below the root, through the mapping if there is
   * one.
   *
   * @throws RemoteException INVALID_ARGUMENT for an invalid name or one the mapping does not map
   */
  private DatasetPath target(String senderName) throws RemoteException {
    var t = mappedTarget(senderName);
    if (t.isEmpty()) {
      throw new RemoteException(
          ErrorCode.INVALID_ARGUMENT,
          senderName + " is not mapped by " + job + "'s mapping " + mapping + ": not received");
    }
    return t.get();
  }

  /**
   * Where the sender's {@code senderName} goes, or empty if the mapping does not map it.
   *
   * @throws RemoteException INVALID_ARGUMENT for an invalid name
   */
  private Optional<DatasetPath> mappedTarget(String senderName) throws RemoteException {
    var m = mapping;
    if (m == null) {
      return Optional.of(confine(root, senderName));
    }
    var mapped = m.map(Access.filesystem(senderName));
    return mapped.isEmpty()
        ? Optional.empty()
        : Optional.of(confine(root, mapped.get().toString()));
  }

  /** The sender's name of {@code local} (below the root), if it has one. */
  private Optional<String> senderName(DatasetPath local) {
    var rel = local.trimPrefix(root);
    var back = unmapping;
    return back == null ? Optional.of(rel.toString()) : back.map(rel).map(DatasetPath::toString);
  }

  /** The dataset below which this receiver confines its client. */
  DatasetPath root() {
    return root;
  }

  // ---- listing -------------------------------------------------------------------------------

  @Override
  public FsListRequest mapped(FsListRequest request) throws RemoteException {
    var out = new ArrayList<String>();
    for (var name : request.filesystems()) {
      if (mappedTarget(name).isPresent()) {
        out.add(name);
      }
    }
    return new FsListRequest(out);
  }

  @Override
  public List<FsInfo> listFilesystems() throws IOException {
    long stamp = knownTargets.stamp();
    long changes = changesBelow.get();
    var below = below();
    if (below.isEmpty()) {
      return List.of();
    }
    var props = new ArrayList<>(List.of(Zfs.PLACEHOLDER_PROPERTY));
    boolean resumable = zfs.capabilities().has(ZfsFeature.RESUMABLE_SEND_RECEIVE);
    if (resumable) {
      props.add(RESUME_TOKEN);
    }
    var names = below.stream().map(DatasetPath::toString).toList();
    var got = zfs.getProperties(names, props);
    var out = new ArrayList<FsInfo>(below.size());
    for (var p : below) {
      var name = senderName(p);
      if (name.isEmpty()) {
        continue;
      }
      var m = got.getOrDefault(p.toString(), Map.of());
      var ph = m.get(Zfs.PLACEHOLDER_PROPERTY);
      boolean placeholder = ph != null && Zfs.isPlaceholder(p, ph);
      if (!m.isEmpty()) {
        knownTargets.put(p, placeholder, stamp);
      }
      var token = resumable ? m.get(RESUME_TOKEN) : null;
      out.add(
          new FsInfo(name.get(), placeholder, token != null && token.isSet() ? token.value() : ""));
    }
    filesystemsRead = new FilesystemsRead(List.copyOf(out), changes, System.nanoTime());
    return out;
  }

  /**
   * {@link #listFilesystems()}, or its last result if no receive or rename of this receiver began
   * or ended since it was begun and it is at most {@link Recent#MAX_AGE} old (for pruning, which
   * destroys only what it lists again; a filesystem someone else made since is pruned next run).
   */
  private List<FsInfo> recentFilesystems() throws IOException {
    var r = filesystemsRead;
    if (r != null
        && zfs.marksChanges()
        && r.changes() == changesBelow.get()
        && System.nanoTime() - r.nanos() <= Recent.MAX_AGE.toNanos()) {
      return r.infos();
    }
    return listFilesystems();
  }

  /** The filesystems strictly below the root; none if the root does not exist. */
  private List<DatasetPath> below() throws IOException {
    try {
      return zfs.listFilesystems(
          List.of(root), p -> p.hasPrefix(root) && p.length() > root.length());
    } catch (ZfsException e) {
      if (Access.doesNotExist(e)) {
        return List.of();
      }
      throw e;
    }
  }

  @Override
  public List<FsVersionList> listVersionsOf(FsListRequest request) throws IOException {
    var names = new LinkedHashSet<>(request.filesystems());
    var targets = new HashMap<String, DatasetPath>();
    for (var name : names) {
      // a name the mapping does not map is absent here
      mappedTarget(name).ifPresent(t -> targets.put(name, t));
    }
    // one listing of just the targets, those that do not exist left out (not a listing of
    // everything below the root first to find them)
    var below = targets.values().stream().filter(t -> t.length() > root.length()).toList();
    long stamp = recent.stamp();
    var versions = zfs.listVersionsOfExisting(below);
    // (a target that does not exist is kept as empty: a receive that creates it is a change, and
    // pruning never asks for one that does not exist)
    versions.forEach(
        (t, vs) -> {
          recent.put(t, List.copyOf(vs), stamp);
          receivedSince.put(t, List.of());
        });
    if (zfs.marksChanges()) {
      long now = System.nanoTime();
      versions.forEach(
          (t, vs) ->
              held.put(
                  t,
                  new HeldRead(
                      vs.stream()
                          .filter(v -> v.isSnapshot() && v.userRefs() != 0)
                          .map(FilesystemVersion::name)
                          .collect(Collectors.toUnmodifiableSet()),
                      now)));
    }
    var out = new ArrayList<FsVersionList>();
    for (var name : names) {
      var t = targets.get(name);
      var vs = t == null ? List.<FilesystemVersion>of() : versions.getOrDefault(t, List.of());
      out.add(new FsVersionList(name, vs.stream().map(FsVersion::of).toList()));
    }
    return out;
  }

  @Override
  public void confirmReceived(ReceivedBase base) throws IOException {
    confirmReceivedAll(new ReceivedBaseBatch(List.of(base)));
  }

  @Override
  public void confirmReceivedAll(ReceivedBaseBatch batch) throws IOException {
    var targets = checked(batch);
    if (targets.isEmpty()) {
      return;
    }
    // those holdReceivedAll held just before (for the same snapshot) need only their releases
    var ahead = new LinkedHashMap<DatasetPath, Moving>();
    var rest = new LinkedHashMap<DatasetPath, FsVersion>();
    long now = System.nanoTime();
    for (var e : targets.entrySet()) {
      var a = heldAhead.remove(e.getKey());
      if (a != null
          && a.snapshot().equals(e.getValue())
          && now - a.nanos() <= AHEAD_MAX_AGE.toNanos()) {
        ahead.put(e.getKey(), a.moving());
      } else {
        rest.put(e.getKey(), e.getValue());
      }
    }
    var located = locate(rest); // every base is checked before anything changes
    var tag = ZreplNames.lastReceivedHold(job);
    holdFound(tag, located);
    var older = new ArrayList<FullName>();
    ahead.values().forEach(m -> older.addAll(m.older()));
    located.values().forEach(m -> older.addAll(m.older()));
    Holds.release(zfs, tag, older);
  }

  @Override
  public void holdReceivedAll(ReceivedBaseBatch batch) throws IOException {
    var targets = checked(batch);
    var located = locate(targets); // every base is checked before anything changes
    holdFound(ZreplNames.lastReceivedHold(job), located);
    long now = System.nanoTime();
    targets.forEach(
        (t, snapshot) -> {
          var m = located.get(t);
          if (m != null) {
            heldAhead.put(t, new HeldAhead(snapshot, m, now));
          }
        });
  }

  /** The batch's targets and snapshots, each checked; a bad one refuses the whole batch. */
  private Map<DatasetPath, FsVersion> checked(ReceivedBaseBatch batch) throws IOException {
    var bases = batch.bases();
    if (bases.size() > ReceivedBaseBatch.MAX) {
      throw new RemoteException(
          ErrorCode.INVALID_ARGUMENT,
          "at most " + ReceivedBaseBatch.MAX + " bases in one call, not " + bases.size());
    }
    var targets = new LinkedHashMap<DatasetPath, FsVersion>();
    for (var base : bases) {
      var target = target(base.filesystem());
      checkVersionName(base.snapshot().name());
      if (targets.put(target, base.snapshot()) != null) {
        throw new RemoteException(
            ErrorCode.INVALID_ARGUMENT, base.filesystem() + " is confirmed twice in one call");
      }
    }
    return targets;
  }

  /**
   * Where the last-received hold of each target goes: the received snapshot (found by the base's
   * guid) and the older snapshots it comes off.
   */
  private record Moving(FullName found, List<FullName> older) {}

  /**
   * A hold {@link #holdReceivedAll} placed, whose releases the next {@link #confirmReceivedAll} of
   * the same snapshot makes.
   */
  private record HeldAhead(FsVersion snapshot, Moving moving, long nanos) {}

  private final Map<DatasetPath, HeldAhead> heldAhead = new ConcurrentHashMap<>();

  /** How long a {@link HeldAhead} is trusted: its confirmation follows within one call. */
  static final Duration AHEAD_MAX_AGE = Duration.ofMinutes(10);

  /**
   * Where the last-received holds of {@code targets} go, from one {@code zfs get} where {@link
   * #held} knows a target's held snapshots, else from a listing of it.
   *
   * @throws RemoteException FAILED_PRECONDITION if a target has no snapshot of its base's guid
   */
  private Map<DatasetPath, Moving> locate(Map<DatasetPath, FsVersion> targets) throws IOException {
    var located = new LinkedHashMap<DatasetPath, Moving>();
    if (targets.isEmpty()) {
      return located;
    }
    var rest = confirmFromHeld(targets, located);
    long stamp = recent.stamp();
    var listing = zfs.listVersionsOfExisting(rest.keySet());
    listing.forEach(
        (t, vs) -> {
          recent.put(t, List.copyOf(vs), stamp);
          receivedSince.put(t, List.of());
        });
    for (var e : rest.entrySet()) {
      var target = e.getKey();
      var snapshot = e.getValue();
      var versions = listing.getOrDefault(target, List.of());
      FilesystemVersion f = null;
      for (var v : versions) {
        // by guid: the sender's base may be a bookmark of the snapshot received here
        if (v.isSnapshot() && v.guid() == snapshot.guid()) {
          f = v;
        }
      }
      if (f == null) {
        throw new RemoteException(
            ErrorCode.FAILED_PRECONDITION,
            "no snapshot of guid " + snapshot.guid() + " (" + snapshot.fullName(target) + ") here");
      }
      if (f.userRefs() == 0) {
        log.debug("{}: moving the last-received hold of {} to {}", job, target, f.name());
      }
      var older = new ArrayList<FullName>();
      for (var v : versions) {
        if (v.isSnapshot() && v.guid() != f.guid() && v.userRefs() != 0) {
          older.add(full(v));
        }
      }
      located.put(target, new Moving(full(f), List.copyOf(older)));
    }
    return located;
  }

  /**
   * Holds {@code tag} on the found snapshots (a few zfs commands side by side), and notes them
   * held.
   */
  private void holdFound(String tag, Map<DatasetPath, Moving> located) throws IOException {
    var found = located.values().stream().map(Moving::found).toList();
    Holds.hold(zfs, tag, found);
    for (var f : found) {
      held.computeIfPresent(
          f.filesystem(),
          (t, h) -> {
            var names = new HashSet<>(h.snapshots());
            names.add(f.name());
            return new HeldRead(Set.copyOf(names), h.nanos());
          });
    }
  }

  /**
   * The confirmations of {@code targets} that {@link #held} knows the held snapshots of, from one
   * {@code zfs get guid,userrefs} of the received snapshots and those: adds to {@code located} as
   * the listing would; returns the targets that need the listing (not known, or the received
   * snapshot not found under its name with its guid).
   */
  private Map<DatasetPath, FsVersion> confirmFromHeld(
      Map<DatasetPath, FsVersion> targets, Map<DatasetPath, Moving> located) throws IOException {
    var known = new LinkedHashMap<DatasetPath, HeldRead>();
    var names = new ArrayList<String>();
    long now = System.nanoTime();
    for (var e : targets.entrySet()) {
      var t = e.getKey();
      var h = held.get(t);
      if (h != null
          && e.getValue().type().equals(FsVersion.SNAPSHOT)
          && now - h.nanos() <= HELD_MAX_AGE.toNanos()) {
        known.put(t, h);
        names.add(t + "@" + e.getValue().name());
        h.snapshots().forEach(n -> names.add(t + "@" + n));
      }
    }
    if (known.isEmpty()) {
      return targets;
    }
    long stamp = recent.stamp();
    var got =
        zfs.getPropertiesOfExisting(names, List.of("guid", "userrefs", "createtxg", "creation"));
    var rest = new LinkedHashMap<DatasetPath, FsVersion>();
    for (var e : targets.entrySet()) {
      var target = e.getKey();
      var h = known.get(target);
      var snapshot = e.getValue();
      var received = got.get(target + "@" + snapshot.name());
      if (h == null || received == null || !hasValue(received, "guid", snapshot.guid())) {
        rest.put(target, snapshot);
        continue;
      }
      amendListing(target, snapshot, received, stamp);
      var older = new ArrayList<FullName>();
      for (var n : h.snapshots()) {
        var p = got.get(target + "@" + n);
        if (!n.equals(snapshot.name())
            && p != null
            && !hasValue(p, "guid", snapshot.guid())
            && !hasValue(p, "userrefs", 0)) {
          older.add(new FullName(target, VersionType.SNAPSHOT, n));
        }
      }
      located.put(
          target,
          new Moving(
              new FullName(target, VersionType.SNAPSHOT, snapshot.name()), List.copyOf(older)));
    }
    return rest;
  }

  /**
   * Adds the received {@code snapshot} (its properties as just read, in a reading begun at {@code
   * stamp}) to the plan's listing of {@code target}, if it is the one receive into the target since
   * that listing; else the listing is left to go stale (the pruning lists the target again).
   */
  private void amendListing(
      DatasetPath target, FsVersion snapshot, Map<String, Property> props, long stamp) {
    var base = recent.fresh(target);
    var since = receivedSince.get(target);
    if (base == null || since == null || !since.equals(List.of(snapshot.name()))) {
      return;
    }
    FilesystemVersion v;
    try {
      v =
          new FilesystemVersion(
              target,
              VersionType.SNAPSHOT,
              snapshot.name(),
              snapshot.guid(),
              Long.parseUnsignedLong(value(props, "createtxg")),
              Instant.ofEpochSecond(Long.parseLong(value(props, "creation"))),
              Long.parseLong(value(props, "userrefs")));
    } catch (IllegalArgumentException e) {
      log.debug("{}: not amending the listing of {}: {}", job, target, e.toString());
      return;
    }
    var versions = new ArrayList<>(base.value());
    versions.add(v);
    versions.sort(Comparator.comparingLong(FilesystemVersion::createTxg));
    recent.amend(target, List.copyOf(versions), stamp, base.nanos());
    receivedSince.put(target, List.of());
  }

  private static String value(Map<String, Property> props, String name) {
    var p = props.get(name);
    if (p == null) {
      throw new IllegalArgumentException("no " + name);
    }
    return p.value();
  }

  /** Whether property {@code name} of {@code props} is the number {@code value}. */
  private static boolean hasValue(Map<String, Property> props, String name, long value) {
    var p = props.get(name);
    return p != null && p.value().equals(Long.toUnsignedString(value));
  }

  @Override
  public void renameReceived(ReceivedRename rename) throws IOException {
    changesBelow.incrementAndGet();
    try {
      renameCounted(rename);
    } finally {
      changesBelow.incrementAndGet();
    }
  }

  private void renameCounted(ReceivedRename rename) throws IOException {
    var from = target(rename.from());
    var to = target(rename.to());
    checkVersionName(rename.evidence().name());
    if (to.hasPrefix(from) || from.hasPrefix(to)) {
      throw new RemoteException(
          ErrorCode.INVALID_ARGUMENT,
          "cannot rename " + rename.from() + " to " + rename.to() + ": one is inside the other");
    }
    var parent = to.parent();
    if (!parent.hasPrefix(root)) {
      throw new RemoteException(ErrorCode.INVALID_ARGUMENT, to + " is not below " + root);
    }
    var got =
        zfs.getPropertiesOfExisting(
            List.of(from.toString(), to.toString(), parent.toString()),
            List.of(Zfs.PLACEHOLDER_PROPERTY));
    if (!got.containsKey(from.toString()) || isPlaceholder(got, from)) {
      throw new RemoteException(
          ErrorCode.FAILED_PRECONDITION, "no received filesystem " + from + " to rename");
    }
    if (got.containsKey(to.toString())) {
      throw new RemoteException(
          ErrorCode.FAILED_PRECONDITION, to + " already exists: not renaming " + from + " there");
    }
    var guid = rename.evidence().guid();
    boolean evidence =
        zfs.listVersions(List.of(from)).getOrDefault(from, List.of()).stream()
            .anyMatch(v -> v.isSnapshot() && v.guid() == guid);
    if (!evidence) {
      throw new RemoteException(
          ErrorCode.FAILED_PRECONDITION,
          from + " has no snapshot of guid " + guid + ": not the sender's " + rename.to());
    }
    if (!got.containsKey(parent.toString())) {
      // a move into a parent the receiver lacks (new on the sender, not received yet, or not
      // replicated at all): its missing parents become placeholders, as for a receive, and a
      // parent that arrives later replaces its placeholder
      boolean encryption = zfs.capabilities().has(ZfsFeature.SEND_RAW);
      var existing = chain(to, encryption);
      createPlaceholders(to, existing.chain(), existing.got(), encryption);
    }
    // what was read and received of either name is no longer true of it
    for (var p : List.of(from, to)) {
      held.remove(p);
      receivedSince.remove(p);
    }
    zfs.rename(from, to);
    log.info(
        "{}: renamed {} to {}: the sender renamed or moved it (snapshot {} on both sides)",
        job,
        from,
        to,
        rename.evidence());
  }

  @Override
  public VerifyFacts verify(VerifyRequest request) throws IOException {
    var target = target(request.filesystem());
    // set on the copy by hand: not by this receiver's configuration (zfs recv -o sets them local)
    var own = new HashSet<>(options.overrideProperties().keySet());
    own.add(Zfs.PLACEHOLDER_PROPERTY);
    return VerifySide.facts(
        zfs, target, request, request.raw(), p -> p.source().equals("local"), own);
  }

  // ---- pruning -------------------------------------------------------------------------------

  @Override
  public PruneResult prune(PruneRequest request) throws IOException {
    var rules = Access.pruneRules(request);
    var executor = Access.pruneExecutor(zfs);
    var filesystems = new ArrayList<DatasetPath>();
    for (var info : recentFilesystems()) {
      if (!info.placeholder()) {
        filesystems.add(target(info.path()));
      }
    }
    var result =
        PruneResult.of(
            executor.prune(
                filesystems,
                rules,
                Receiver::pruneContext,
                request.dryRun(),
                recent::snapshotsUnchanged));
    log.info(
        "{}: pruned receiver {}{}: {} filesystems, destroyed {}, failed {}",
        job,
        root,
        request.dryRun() ? " (dry run)" : "",
        filesystems.size(),
        result.destroyed(),
        result.failures().size());
    return result;
  }

  /**
   * The newest snapshot of a received filesystem is the base of its next incremental receive: it is
   * protected explicitly, besides the last-received hold (which a failed hold move, or another
   * job's receive, could leave elsewhere).
   */
  static PruneContext pruneContext(DatasetPath fs, List<FilesystemVersion> versions) {
    FilesystemVersion newest = null;
    for (var v : versions) {
      if (v.isSnapshot()
          && (newest == null || Long.compareUnsigned(v.createTxg(), newest.createTxg()) > 0)) {
        newest = v;
      }
    }
    if (newest == null) {
      return PruneContext.NONE;
    }
    return new PruneContext(Set.of(), PruneContext.NO_CURSOR, Set.of(newest.guid()));
  }

  // ---- receiving -----------------------------------------------------------------------------

  /**
   * A snapshot or bookmark name as ZFS allows it: letters, digits and {@code _-:. }, not {@code .}
   * or {@code ..}, at most 255 characters; anything else is refused before a stream is received.
   *
   * @throws RemoteException INVALID_ARGUMENT naming the name
   */
  static void checkVersionName(String name) throws RemoteException {
    boolean ok =
        !name.isEmpty()
            && name.length() <= 255
            && !name.equals(".")
            && !name.equals("..")
            && name.chars()
                .allMatch(
                    c ->
                        (c >= 'a' && c <= 'z')
                            || (c >= 'A' && c <= 'Z')
                            || (c >= '0' && c <= '9')
                            || c == '_'
                            || c == '-'
                            || c == ':'
                            || c == '.'
                            || c == ' ');
    if (!ok) {
      throw new RemoteException(
          ErrorCode.INVALID_ARGUMENT,
          "invalid snapshot name '"
              + (name.length() > 80 ? name.substring(0, 80) + "…" : name)
              + "' (ZFS allows letters, digits, _-:. and space)");
    }
  }

  @Override
  public ReceiveResult receive(ReceiveSpec spec, InputStream stream) throws IOException {
    // only a full or resumed receive may make a filesystem or replace a placeholder: an
    // incremental one needs its target there with the source snapshot, so it is no placeholder
    boolean mayCreate = spec.from() == null || spec.resuming();
    if (mayCreate) {
      changesBelow.incrementAndGet();
    }
    try {
      return receiveCounted(spec, stream);
    } finally {
      if (mayCreate) {
        changesBelow.incrementAndGet();
      }
    }
  }

  private ReceiveResult receiveCounted(ReceiveSpec spec, InputStream stream) throws IOException {
    var target = target(spec.filesystem());
    checkVersionName(spec.to().name());
    var fromName = spec.from();
    if (fromName != null) {
      checkVersionName(fromName.name());
    }
    if (!spec.to().isSnapshot()) {
      throw new RemoteException(ErrorCode.INVALID_ARGUMENT, "can only receive a snapshot");
    }
    boolean encryption = zfs.capabilities().has(ZfsFeature.SEND_RAW);
    // the datasets from root_fs down to the target that exist, with their markers: one zfs get
    // of just these names (a sink with thousands of datasets below root_fs lists none of them)
    if (!target.hasPrefix(rootFs)) {
      throw new RemoteException(
          ErrorCode.INTERNAL, "target " + target + " is not below root_fs " + rootFs);
    }
    var from = spec.from();
    boolean force;
    if (from != null && !spec.resuming() && Boolean.FALSE.equals(knownTargets.unchanged(target))) {
      // an incremental receive into a target the plan's reading showed existing and not a
      // placeholder, and no command of this process touched since: no zfs get of its chain. zfs
      // recv itself refuses the stream unless the target has its source snapshot
      force = false;
    } else {
      force = prepare(target, spec, encryption);
    }

    var recv =
        new ReceiveOptions(
            zfs.capabilities().has(ZfsFeature.RESUMABLE_SEND_RECEIVE),
            true,
            force,
            options.overrideProperties(),
            options.inheritProperties());
    // the stream's BEGIN record names the snapshot it carries: where it is the one asked for (its
    // guid and name, from the asked source), a receive that succeeded made exactly it
    // on the direct data path (docs/DIRECT-PATH.md) zfs recv reads the socket itself: the record
    // is looked at in the socket without being taken from it
    var found = DirectStream.of(stream);
    var direct = found != null && zfs.direct() && !bandwidth.limited() ? found : null;
    HeadedStream headed = null;
    StreamBegin begin;
    if (direct != null) {
      byte[] head = direct.peek(StreamBegin.SIZE);
      begin = StreamBegin.parse(head, head.length);
    } else {
      headed = HeadedStream.read(stream);
      begin = headed.begin();
    }
    boolean proven =
        begin != null
            && begin.toGuid() == spec.to().guid()
            && begin.snapshotName().equals(spec.to().name())
            && begin.fromGuid() == (from == null ? 0 : from.guid());
    if (direct != null && !proven && !spec.resuming()) {
      // the sender could not look at the stream on this path: a send of another snapshot than the
      // one asked for (its name destroyed and taken again since the sender's listing) stops here
      direct.abort();
      throw new RemoteException(
          ErrorCode.FAILED_PRECONDITION,
          "the stream for "
              + target
              + " does not carry "
              + spec.to().name()
              + " (guid "
              + Long.toUnsignedString(spec.to().guid())
              + ")"
              + (begin == null
                  ? ": no BEGIN record"
                  : ": it carries "
                      + begin.toName()
                      + " (guid "
                      + Long.toUnsignedString(begin.toGuid())
                      + ", from guid "
                      + Long.toUnsignedString(begin.fromGuid())
                      + ")"));
    }
    var counted = headed == null ? null : new CountingStream(bandwidth.limit(headed), total -> {});
    // the receives since the plan's listing of the target, for amending that listing at their
    // confirmation; a receive that may have made more than the one snapshot it names (a stream
    // of several, a resumed one) or that failed forgets it
    var before = receivedSince.remove(target);
    long bytes;
    try {
      if (direct != null) {
        // the bytes as they come, for the caller's progress (a pull's own counting stream)
        LongSupplier received =
            stream instanceof DirectSource told
                ? () -> {
                  long n = direct.bytesReceived();
                  if (n > 0) {
                    told.progress(n);
                  }
                  return n;
                }
                : direct::bytesReceived;
        receiveDirect(target, direct, recv, received);
        if (stream instanceof DirectSource told) {
          told.progress(Math.max(0, direct.bytesReceived()));
        }
        bytes = Math.max(0, direct.bytesReceived());
      } else {
        zfs.receive(target, Objects.requireNonNull(counted), recv);
        bytes = counted.count();
      }
    } catch (ZfsException e) {
      throw new RemoteException(
          ErrorCode.UNKNOWN,
          "receive into " + target + " failed: " + e.getMessage() + stderrTail(e),
          e);
    }
    if (before != null && proven && !spec.resuming()) {
      var names = new ArrayList<>(before);
      names.add(spec.to().name());
      receivedSince.put(target, List.copyOf(names));
    }
    if (proven && spec.holdLater()) {
      // nothing to check in a listing and no hold to place: the caller confirms it (with others)
      if (force) {
        zfs.inheritProperty(target.toString(), Zfs.PLACEHOLDER_PROPERTY);
        log.info("{}: replaced placeholder {} by a full receive", job, target);
      }
      log.debug("{}: received {} into {} ({} bytes)", job, spec.to(), target, bytes);
      return new ReceiveResult(target.toString(), bytes, force);
    }
    // the last-received hold goes on the new snapshot while its listing checks it: the snapshot
    // did not exist before this receive, so the tag on it can only be this hold. A caller that
    // moves it afterwards (holdLater, with other filesystems') leaves it where it is
    var tag = ZreplNames.lastReceivedHold(job);
    var name = new FullName(target, VersionType.SNAPSHOT, spec.to().name());
    var holding =
        spec.holdLater()
            ? Beside.none()
            : Beside.start("hold-" + job, () -> Holds.hold(zfs, tag, List.of(name)));
    List<FilesystemVersion> after;
    try {
      long stamp = recent.stamp();
      after = zfs.listVersions(List.of(target)).getOrDefault(target, List.of());
      // the target as it is now, but for the hold beside it: good for the run's pruning
      recent.put(target, List.copyOf(after), stamp);
      receivedSince.put(target, List.of());
    } catch (IOException | RuntimeException e) {
      holding.joinAfter(e);
      throw e;
    }
    FilesystemVersion received = null;
    for (var v : after) {
      if (v.isSnapshot() && v.name().equals(spec.to().name())) {
        received = v;
      }
    }
    if (received == null || received.guid() != spec.to().guid()) {
      if (!spec.holdLater() && holding.succeeded() && received != null) {
        Holds.release(zfs, tag, List.of(name));
      }
      throw new RemoteException(
          ErrorCode.INTERNAL,
          "after receiving into "
              + target
              + ": "
              + spec.to().fullName(target)
              + (received == null ? " is missing" : " has guid " + received.guidString()));
    }
    holding.join();
    if (force) {
      zfs.inheritProperty(target.toString(), Zfs.PLACEHOLDER_PROPERTY);
      log.info("{}: replaced placeholder {} by a full receive", job, target);
    }
    if (!spec.holdLater()) {
      releaseOlderLastReceivedHolds(after, received);
    }
    log.debug("{}: received {} into {} ({} bytes)", job, spec.to(), target, bytes);
    return new ReceiveResult(target.toString(), bytes, force);
  }

  /**
   * The direct data path's receive: {@code zfs recv} reads the data connection itself, while the
   * sender's verdict on the stream is awaited beside it. A sender that reports a failed {@code zfs
   * send} ends the data connection, so that {@code zfs recv} fails (or keeps its resume token)
   * rather than waiting; the receive succeeds only if {@code zfs recv} exited 0 <em>and</em> the
   * sender reported its send complete.
   */
  private void receiveDirect(
      DatasetPath target, DirectStream stream, ReceiveOptions recv, LongSupplier received)
      throws IOException {
    var verdict =
        Beside.start(
            "verdict-" + job,
            () -> {
              try {
                stream.awaitWriterEnd();
              } catch (IOException | RuntimeException e) {
                stream.abort();
                throw e;
              }
            });
    try {
      zfs.receiveFrom(target, stream.descriptor(), recv, received);
    } catch (IOException | RuntimeException e) {
      stream.abort(); // the sender's zfs send stops too
      verdict.joinAfter(e);
      throw e;
    }
    try {
      verdict.join();
    } catch (IOException e) {
      throw new RemoteException(
          ErrorCode.UNKNOWN,
          "receive into " + target + ": the sender did not complete the stream: " + e.getMessage(),
          e);
    }
  }

  /**
   * Checks the target of a receive against its chain from root_fs (one {@code zfs get}) and makes
   * the placeholders it lacks; returns whether the receive must replace a placeholder ({@code -F}).
   */
  private boolean prepare(DatasetPath target, ReceiveSpec spec, boolean encryption)
      throws IOException {
    var existing = chain(target, encryption);
    var got = existing.got();
    var chain = existing.chain();
    boolean targetExists = chain.contains(target);
    boolean targetIsPlaceholder = targetExists && isPlaceholder(got, target);
    var from = spec.from();
    boolean force = false;
    if (targetExists) {
      if (targetIsPlaceholder && from == null) {
        var snaps = zfs.listVersions(List.of(target)).getOrDefault(target, List.of());
        if (!snaps.isEmpty()) {
          throw new RemoteException(
              ErrorCode.FAILED_PRECONDITION,
              "placeholder " + target + " has snapshots: not replacing it");
        }
        // replace the placeholder; never anything else. Resuming an interrupted full receive into
        // it (kept in target/%recv) needs -F again: OpenZFS refuses "Resuming recv on existing
        // destination ... must specify -F to overwrite it".
        force = true;
      } else if (targetIsPlaceholder && !spec.resuming()) {
        throw new RemoteException(
            ErrorCode.FAILED_PRECONDITION,
            target + " is a placeholder: it needs a full stream, not an incremental one");
      } else if (from == null && !spec.resuming()) {
        throw new RemoteException(
            ErrorCode.FAILED_PRECONDITION,
            target
                + " already exists and is not a placeholder: a full receive would have to"
                + " overwrite it (zfs recv -F), which is never done; resolve the conflict by hand");
      }
    } else if (from != null && !spec.resuming()) {
      throw new RemoteException(
          ErrorCode.FAILED_PRECONDITION,
          "incremental stream for " + target + ", which does not exist on the receiver");
    }
    createPlaceholders(target, chain, got, encryption);
    return force;
  }

  /**
   * The datasets from root_fs down to {@code target} that exist, with their placeholder markers
   * (and encryption, where ZFS has it).
   */
  private record Chain(List<DatasetPath> chain, Map<String, Map<String, Property>> got) {}

  /**
   * {@link Chain} of {@code target}: one {@code zfs get} of just these names (a sink with thousands
   * of datasets below root_fs lists none of them).
   *
   * @throws RemoteException if root_fs does not exist
   */
  private Chain chain(DatasetPath target, boolean encryption) throws IOException {
    var wanted = new ArrayList<DatasetPath>();
    for (int len = rootFs.length(); len <= target.length(); len++) {
      wanted.add(new DatasetPath(target.components().subList(0, len)));
    }
    var props = new ArrayList<>(List.of(Zfs.PLACEHOLDER_PROPERTY));
    if (encryption) {
      props.add("encryption");
    }
    var got =
        zfs.getPropertiesOfExisting(wanted.stream().map(DatasetPath::toString).toList(), props);
    var chain = wanted.stream().filter(p -> got.containsKey(p.toString())).toList();
    if (!chain.contains(rootFs)) {
      throw new RemoteException(
          ErrorCode.FAILED_PRECONDITION, "root_fs " + rootFs + " does not exist");
    }
    return new Chain(chain, got);
  }

  private void createPlaceholders(
      DatasetPath target,
      List<DatasetPath> chain,
      Map<String, Map<String, Property>> got,
      boolean encryption)
      throws IOException {
    boolean parentEncrypted = false;
    for (int len = rootFs.length(); len < target.length(); len++) {
      var p = new DatasetPath(target.components().subList(0, len));
      if (chain.contains(p)) {
        parentEncrypted = encryption && isEncrypted(value(got, p, "encryption"));
        continue;
      }
      var props = new LinkedHashMap<String, String>();
      props.put(Zfs.PLACEHOLDER_PROPERTY, Zfs.placeholderHash(p));
      props.put("mountpoint", "none");
      if (parentEncrypted) {
        switch (options.placeholderEncryption()) {
          case UNSPECIFIED ->
              throw new RemoteException(
                  ErrorCode.FAILED_PRECONDITION,
                  "placeholder "
                      + p
                      + " would be created below an encrypted parent: set recv.placeholder"
                      + ".encryption to 'off' (unencrypted placeholder, for raw sends) or"
                      + " 'inherit' (encrypted like its parent); see zrepl#504");
          case OFF -> props.put("encryption", "off");
          case INHERIT -> {}
        }
      }
      try {
        zfs.create(p, props);
        log.info("{}: created placeholder {}", job, p);
      } catch (ZfsException e) {
        if (!e.stderr().contains("already exists")) {
          throw e;
        }
      }
      parentEncrypted =
          parentEncrypted
              && options.placeholderEncryption() != ReceiverOptions.PlaceholderEncryption.OFF;
    }
  }

  /** Releases this job's last-received hold from the snapshots before {@code received}. */
  private void releaseOlderLastReceivedHolds(
      List<FilesystemVersion> versions, FilesystemVersion received) throws IOException {
    var tag = ZreplNames.lastReceivedHold(job);
    var older = new ArrayList<FullName>();
    for (var v : versions) {
      if (v.isSnapshot() && v.guid() != received.guid() && v.userRefs() != 0) {
        older.add(full(v));
      }
    }
    Holds.release(zfs, tag, older);
  }

  private static boolean isEncrypted(String encryptionValue) {
    return !encryptionValue.equals("off") && !encryptionValue.equals("-");
  }

  private static boolean isPlaceholder(Map<String, Map<String, Property>> got, DatasetPath p) {
    var v = got.getOrDefault(p.toString(), Map.of()).get(Zfs.PLACEHOLDER_PROPERTY);
    return v != null && Zfs.isPlaceholder(p, v);
  }

  private static String value(Map<String, Map<String, Property>> got, DatasetPath p, String prop) {
    var v = got.getOrDefault(p.toString(), Map.of()).get(prop);
    return v == null ? "-" : v.value();
  }

  private static String stderrTail(ZfsException e) {
    var s = e.stderr().strip();
    if (s.isEmpty() || String.valueOf(e.getMessage()).endsWith(s)) {
      return "";
    }
    return " (stderr: " + (s.length() > 2000 ? s.substring(s.length() - 2000) : s) + ")";
  }

  private static FullName full(FilesystemVersion v) {
    return new FullName(v.filesystem(), v.type(), v.name());
  }
}
