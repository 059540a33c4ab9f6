package dev.zrepl4j.replication;

import dev.zrepl4j.replication.filter.DatasetFilter;
import dev.zrepl4j.replication.pruning.PruneContext;
import dev.zrepl4j.replication.pruning.PruneExecutor;
import dev.zrepl4j.replication.pruning.PruneRequest;
import dev.zrepl4j.replication.pruning.PruneResult;
import dev.zrepl4j.replication.pruning.PruneRule;
import dev.zrepl4j.rpc.DirectSource;
import dev.zrepl4j.rpc.ErrorCode;
import dev.zrepl4j.rpc.RemoteException;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.FilesystemVersion;
import dev.zrepl4j.zfs.FilesystemVersion.FullName;
import dev.zrepl4j.zfs.FilesystemVersion.VersionType;
import dev.zrepl4j.zfs.HeadedStream;
import dev.zrepl4j.zfs.MissingFeatureException;
import dev.zrepl4j.zfs.Property;
import dev.zrepl4j.zfs.ResumeToken;
import dev.zrepl4j.zfs.SendRequest;
import dev.zrepl4j.zfs.SendRequest.SendFlag;
import dev.zrepl4j.zfs.StreamBegin;
import dev.zrepl4j.zfs.Zfs;
import dev.zrepl4j.zfs.ZfsException;
import dev.zrepl4j.zfs.ZfsFeature;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntConsumer;
import java.util.function.LongPredicate;
import java.util.function.LongSupplier;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sending side of a job: lists and sends only what its filter allows, whatever names it is
 * sent, and keeps zrepl's abstractions (step holds, the replication cursor). Register it on an
 * {@code RpcServer} under the prefix {@code sender} (every public method is an endpoint), or call
 * it in-process. Thread-safe.
 *
 * <p>Implementation notes: every request is checked in this order: the name parses as a dataset
 * path of valid components, the filter allows it, the named versions exist on the filesystem with
 * the guids the client gave (so a stale plan cannot send something else under the same name). The
 * cursor is a bookmark {@code #zrepl_CURSOR_G_<guid>_J_<job>} where ZFS has bookmarks; on zfs-fuse
 * it is a hold {@code zrepl_CURSOR_J_<job>}, and since zfs-fuse cannot list hold tags, the previous
 * cursor hold is released by trying each held snapshot ("no such tag" is expected).
 */
public final class Sender implements SenderApi {
  private static final Logger log = LoggerFactory.getLogger(Sender.class);

  private final Zfs zfs;
  private final Predicate<DatasetPath> filter;
  private final String job;
  private final SenderOptions options;
  private final IntConsumer unmatched;
  private final BandwidthLimiter bandwidth;
  // called only by a push job in this process: sends may go direct (servesInProcess)
  private volatile boolean inProcess;
  private final EnumSet<SendFlag> flags = EnumSet.noneOf(SendFlag.class);
  private final AtomicBoolean cursorDegradationLogged = new AtomicBoolean();
  // a source job's client (forClient): the source job, whose own (pre-client) cursor and step
  // holds this client adopts; null for a job's sender
  private final @Nullable String family;
  // the filesystems on which this client's first completion has adopted the family's own
  // abstractions (where they cannot be listed, zfs-fuse, they are tried once per filesystem)
  private final Set<DatasetPath> adopted = ConcurrentHashMap.newKeySet();
  // the listings of the clients' plans (listVersionsOf), for their size estimates (sendDry)
  private final Map<DatasetPath, Listed> planned = new ConcurrentHashMap<>();
  // the same listings, for the pruning of the run while nothing changed them
  private final Recent<List<FilesystemVersion>> recent;
  // the snapshots protectAll held for this client's steps, until a completion releases them
  private final Set<HeldStep> protectedAhead = ConcurrentHashMap.newKeySet();
  // the cursors holdCursorsAll placed (when), for the completion that follows: it places them no
  // more. Trusted for CURSORS_AHEAD_MAX_AGE only
  private final Map<HeldStep, Long> cursorsAhead = new ConcurrentHashMap<>();
  private static final Duration PLANNED_LISTING_AGE = Duration.ofMinutes(5);

  /**
   * @param filter which filesystems this sender shows and sends
   * @param job the job name, part of the hold and bookmark names
   * @throws IllegalArgumentException for an invalid job name
   */
  public Sender(Zfs zfs, Predicate<DatasetPath> filter, String job, SenderOptions options) {
    this(zfs, filter, job, options, n -> {});
  }

  /**
   * @param unmatched told after each listing how many filter patterns found no dataset (see {@link
   *     DatasetFilter#list(Zfs, Predicate, java.util.function.IntConsumer)})
   */
  public Sender(
      Zfs zfs,
      Predicate<DatasetPath> filter,
      String job,
      SenderOptions options,
      IntConsumer unmatched) {
    this(zfs, filter, job, options, unmatched, BandwidthLimiter.none());
  }

  /**
   * @param bandwidth the job's {@code send.bandwidth_limit}: every stream {@link #send} hands out
   *     reads {@code zfs send} through it, whoever reads it (a push's local replication, a pulling
   *     client over RPC)
   */
  public Sender(
      Zfs zfs,
      Predicate<DatasetPath> filter,
      String job,
      SenderOptions options,
      IntConsumer unmatched,
      BandwidthLimiter bandwidth) {
    this(zfs, filter, job, null, options, unmatched, bandwidth);
  }

  /**
   * The sender of source job {@code job} for one pulling client: its cursor and step holds carry
   * the job's and the client's name ({@link ZreplNames#clientJob}), so that several clients pulling
   * from one source each keep their own incremental base and never release each other's holds
   * (zrepl#380). A cursor and step holds the job left before it kept them per client (zrepl's, or
   * an earlier zrepl4j's) are adopted by the first client that completes a step on the filesystem:
   * used as its cursor until then, released or destroyed once its own is in place. Pruning on its
   * behalf keeps what any client of the job has not received yet ({@link #pruneContexts}).
   *
   * @throws IllegalArgumentException for an invalid job name, or a client identity that cannot be
   *     part of hold tags and bookmark names
   */
  public static Sender forClient(
      Zfs zfs,
      Predicate<DatasetPath> filter,
      String job,
      String client,
      SenderOptions options,
      IntConsumer unmatched,
      BandwidthLimiter bandwidth) {
    return new Sender(
        zfs, filter, ZreplNames.clientJob(job, client), job, options, unmatched, bandwidth);
  }

  private Sender(
      Zfs zfs,
      Predicate<DatasetPath> filter,
      String job,
      @Nullable String family,
      SenderOptions options,
      IntConsumer unmatched,
      BandwidthLimiter bandwidth) {
    this.family = family;
    this.unmatched = unmatched;
    this.bandwidth = bandwidth;
    this.zfs = zfs;
    this.recent = new Recent<>(zfs);
    this.filter = filter;
    this.job = ZreplNames.checkJob(job);
    this.options = options;
    var caps = zfs.capabilities();
    if (options.raw() || options.encrypted()) {
      flags.add(SendFlag.RAW);
    }
    if (options.properties()) {
      flags.add(SendFlag.PROPERTIES);
    }
    addIfSupported(options.compressed(), SendFlag.COMPRESSED, ZfsFeature.SEND_COMPRESSED);
    addIfSupported(options.largeBlocks(), SendFlag.LARGE_BLOCKS, ZfsFeature.SEND_LARGE_BLOCKS);
    addIfSupported(options.embeddedData(), SendFlag.EMBEDDED, ZfsFeature.SEND_EMBEDDED);
    if (!caps.has(ZfsFeature.BOOKMARKS)) {
      log.debug("{}: no bookmarks: the replication cursor will be a hold", job);
    }
  }

  private void addIfSupported(boolean wanted, SendFlag flag, ZfsFeature feature) {
    if (!wanted) {
      return;
    }
    if (zfs.capabilities().has(feature)) {
      flags.add(flag);
    } else {
      log.warn(
          "{}: send {} not used: {} lacks {}",
          job,
          flag.option(),
          zfs.capabilities().version(),
          feature.description());
    }
  }

  // ---- listing -------------------------------------------------------------------------------

  @Override
  public List<FsInfo> listFilesystems() throws IOException {
    var out = new ArrayList<FsInfo>();
    for (var p : DatasetFilter.list(zfs, filter, unmatched)) {
      out.add(new FsInfo(p.toString(), false, ""));
    }
    return out;
  }

  @Override
  public List<FsVersion> listVersions(FsRequest request) throws IOException {
    var fs = allowed(request.filesystem());
    return wire(versions(fs));
  }

  @Override
  public List<FsVersionList> listVersionsOf(FsListRequest request) throws IOException {
    var wanted = new ArrayList<DatasetPath>();
    for (var name : request.filesystems()) {
      wanted.add(allowed(name));
    }
    Map<DatasetPath, List<FilesystemVersion>> all;
    long stamp = recent.stamp();
    try {
      all = zfs.listVersions(wanted);
    } catch (ZfsException e) {
      throw Access.orNotFound(e, "one of the filesystems " + request.filesystems());
    }
    var out = new ArrayList<FsVersionList>();
    long now = System.nanoTime();
    for (var fs : wanted) {
      var versions = all.getOrDefault(fs, List.of());
      planned.put(fs, new Listed(versions, now));
      recent.put(fs, List.copyOf(versions), stamp);
      out.add(new FsVersionList(fs.toString(), wire(versions)));
    }
    return out;
  }

  /** A listing made for a client's plan, and when. */
  private record Listed(List<FilesystemVersion> versions, long nanos) {}

  /**
   * The listing of {@code fs} a client's plan was made from, if it is at most {@link
   * #PLANNED_LISTING_AGE} old; else null.
   */
  private @Nullable List<FilesystemVersion> plan(DatasetPath fs) {
    var l = planned.get(fs);
    return l != null && System.nanoTime() - l.nanos() < PLANNED_LISTING_AGE.toNanos()
        ? l.versions()
        : null;
  }

  /**
   * {@link #plan}, else a new listing. For size estimates only: an estimate of a version that is
   * gone since fails in {@code zfs send -n}, and where zfs cannot estimate the names are still
   * checked against what the client planned from.
   */
  private List<FilesystemVersion> plannedVersions(DatasetPath fs) throws IOException {
    var p = plan(fs);
    return p != null ? p : versions(fs);
  }

  /**
   * The replication cursor of this job on one filesystem: the cursor bookmark (OpenZFS), or the
   * snapshot holding the cursor hold (zfs-fuse, found by trying the held snapshots); empty if there
   * is none. The cursor bookmark also appears in {@link #listVersions} (with its snapshot's guid).
   */
  public List<FsVersion> replicationCursor(FsRequest request) throws IOException {
    var fs = allowed(request.filesystem());
    return cursorIn(fs, versions(fs));
  }

  /** {@link #replicationCursor} among {@code versions}, a listing of {@code fs} just made. */
  private List<FsVersion> cursorIn(DatasetPath fs, List<FilesystemVersion> versions)
      throws IOException {
    if (zfs.capabilities().has(ZfsFeature.BOOKMARKS)) {
      var out = new ArrayList<FsVersion>();
      for (var v : versions) {
        if (isOwnCursor(v)) {
          out.add(FsVersion.of(v));
        }
      }
      if (out.isEmpty()) {
        // a client that has not completed a step yet: the job's own cursor, until it adopts it
        for (var v : versions) {
          if (isAdoptableCursor(v)) {
            out.add(FsVersion.of(v));
          }
        }
      }
      return out;
    }
    var own = heldByTrial(ZreplNames.cursorHold(job), versions);
    var f = family;
    if (own.isEmpty() && f != null && !adopted.contains(fs)) {
      return heldByTrial(ZreplNames.cursorHold(f), versions);
    }
    return own;
  }

  /** The newest snapshot that holds {@code tag}, tried one by one (zfs-fuse). */
  private List<FsVersion> heldByTrial(String tag, List<FilesystemVersion> versions)
      throws IOException {
    for (var v : versions.reversed()) {
      if (v.isSnapshot() && v.userRefs() > 0 && hasHoldByTrial(tag, full(v))) {
        return List.of(FsVersion.of(v));
      }
    }
    return List.of();
  }

  /** zfs-fuse cannot list hold tags: placing the tag fails if it is there already. */
  private boolean hasHoldByTrial(String tag, FullName snap) throws IOException {
    try {
      zfs.hold(tag, List.of(snap));
    } catch (ZfsException e) {
      if (Holds.tagExists(e)) {
        return true;
      }
      throw e;
    }
    zfs.release(tag, List.of(snap));
    return false;
  }

  // ---- sending -------------------------------------------------------------------------------

  @Override
  public InputStream send(SendSpec spec) throws IOException {
    if (deferred(spec)) {
      return new DeferredSend(spec, allowed(spec.filesystem()));
    }
    return sendNow(spec);
  }

  /** Starts the send: the step resolved, its protection placed, the stream's head checked. */
  private InputStream sendNow(SendSpec spec) throws IOException {
    var fs = allowed(spec.filesystem());
    // the versions are checked against the listing the client's plan was made from, and the
    // stream's own BEGIN record proves that zfs send sends those very snapshots (their guids): a
    // name that is another snapshot since (destroyed and made again) shows there, and then the
    // step is resolved again in a new listing, as it is where no plan's listing is at hand. A
    // compound stream (-I, -p) names no guids in its head: it is always resolved in a new listing
    boolean plain = !spec.intermediates() && !flags.contains(SendFlag.PROPERTIES);
    var listed = plain ? plan(fs) : null;
    if (listed != null) {
      var step = resolve(spec, fs, listed);
      var stream = start(spec, step);
      if (sends(stream.begin(), step)) {
        return bandwidth.limit(stream);
      }
      stream.close(); // kills zfs send
      log.debug("{}: {}: not the snapshots the plan listed, listing again", job, fs);
    }
    var versions = versions(fs);
    var step = resolve(spec, fs, versions);
    var stream = start(spec, step);
    if (stream.begin() != null && !sends(stream.begin(), step)) {
      stream.close();
      var b = Objects.requireNonNull(stream.begin());
      throw new RemoteException(
          ErrorCode.FAILED_PRECONDITION,
          "zfs send of "
              + fs
              + " sends "
              + b.toName()
              + " (guid "
              + Long.toUnsignedString(b.toGuid())
              + ", from guid "
              + Long.toUnsignedString(b.fromGuid())
              + "), not the step asked for");
    }
    return bandwidth.limit(stream);
  }

  /**
   * Whether a stream that begins with {@code begin} is {@code step}'s: the snapshot and incremental
   * source of the guids the listing showed. False if its head is no plain stream's BEGIN record.
   */
  private static boolean sends(@Nullable StreamBegin begin, Checked step) {
    if (begin == null) {
      return false;
    }
    var from = step.from();
    return begin.toGuid() == step.to().guid()
        && begin.fromGuid() == (from == null ? 0 : from.guid());
  }

  /** Starts {@code step}'s zfs send with its protection, and reads the stream's BEGIN record. */
  private HeadedStream start(SendSpec spec, Checked step) throws IOException {
    var request = request(spec, step);
    // the step's protection goes on while zfs send starts: ZFS itself keeps the snapshots of a
    // running send from being destroyed, the protection is for resuming after a failure, and the
    // stream is handed out only once it is in place
    var protecting = protecting(spec, step);
    log.debug("{}: send {}", job, request);
    InputStream stream;
    try {
      stream = zfs.send(request);
    } catch (IOException | RuntimeException e) {
      protecting.joinAfter(e);
      throw e;
    }
    HeadedStream headed;
    try {
      headed = HeadedStream.read(stream);
    } catch (IOException | RuntimeException e) {
      closeAfter(stream, e);
      protecting.joinAfter(e);
      throw e;
    }
    try {
      protecting.join();
    } catch (IOException | RuntimeException e) {
      closeAfter(stream, e);
      throw e;
    }
    return headed;
  }

  private Beside protecting(SendSpec spec, Checked step) {
    return spec.protection() == Protection.GUARANTEE_NOTHING || protectedAhead(spec, step)
        ? Beside.none()
        : Beside.start("protect-" + job, () -> protect(spec.protection(), step));
  }

  /**
   * Tells this sender that its only caller is in this process (a push job's own sender): from now
   * on, where the direct data path can take a step (a plain send: no {@code -I}, no {@code -p}, no
   * resume token; a bandwidth limit only where the kernel paces TCP; a zfs that can), {@link #send}
   * defers it. The stream's first read starts the send as before, through the JVM; its {@link
   * DirectSource#writeInto} instead starts {@code zfs send} with the socket as its stdout
   * (docs/DIRECT-PATH.md). There the sender cannot read the stream's BEGIN record: the receiver
   * checks it (the snapshot's guid, and the source's) before its {@code zfs recv} reads a byte, and
   * refuses another snapshot. A sender served to remote callers is not told: the failure to start a
   * send stays the call's.
   */
  void servesInProcess() {
    inProcess = true;
  }

  /**
   * {@link #send} for a call whose stream goes on a data connection of its own (a pull's, see
   * {@link dev.zrepl4j.rpc.Caller#directData()}): the send is deferred as for a caller in this
   * process ({@link #servesInProcess}), where the direct data path can take the step; the step is
   * resolved now, so that a step this sender refuses is the call's failure as before.
   */
  public InputStream sendDeferred(SendSpec spec) throws IOException {
    if (!deferrable(spec)) {
      return send(spec);
    }
    var fs = allowed(spec.filesystem());
    var listed = plan(fs);
    resolve(spec, fs, listed != null ? listed : versions(fs)); // refused now, as send would
    return new DeferredSend(spec, fs);
  }

  private boolean deferred(SendSpec spec) {
    return inProcess && deferrable(spec);
  }

  private boolean deferrable(SendSpec spec) {
    return !spec.intermediates()
        && !flags.contains(SendFlag.PROPERTIES)
        && spec.resumeToken().isEmpty()
        && (!bandwidth.limited() || BandwidthLimiter.canPace())
        && zfs.direct();
  }

  /** The direct data path's send: {@code zfs send} writes into the socket {@code fd} itself. */
  private void sendInto(SendSpec spec, DatasetPath fs, int fd, LongSupplier sent)
      throws IOException {
    var listed = plan(fs);
    var step = resolve(spec, fs, listed != null ? listed : versions(fs));
    var request = request(spec, step);
    var protecting = protecting(spec, step);
    log.debug("{}: send {} (direct)", job, request);
    // a bandwidth limit: the kernel paces the connection at the job's share of it
    try (var paced = bandwidth.limited() ? bandwidth.pace(fd, sent) : null) {
      zfs.sendInto(request, fd, paced == null ? sent : paced.counting());
    } catch (IOException | RuntimeException e) {
      protecting.joinAfter(e);
      throw e;
    }
    protecting.join();
  }

  /** A send started at its first read (through the JVM) or written into a socket (direct). */
  private final class DeferredSend extends OpenedAtFirstRead implements DirectSource {
    private final SendSpec spec;
    private final DatasetPath fs;
    private boolean used;

    DeferredSend(SendSpec spec, DatasetPath fs) {
      this.spec = spec;
      this.fs = fs;
    }

    @Override
    InputStream open() throws IOException {
      if (used) {
        throw new IOException("the send of " + fs + " was started already");
      }
      used = true;
      return sendNow(spec);
    }

    @Override
    public boolean direct() {
      return !used && !closed();
    }

    @Override
    public void writeInto(int fd, LongSupplier sent) throws IOException {
      if (used || closed()) {
        throw new IllegalStateException("the send of " + fs + " was started already");
      }
      used = true;
      sendInto(spec, fs, fd, sent);
    }
  }

  /** Whether {@link #protectAll} placed {@code step}'s protection already. */
  private boolean protectedAhead(SendSpec spec, Checked step) {
    if (spec.protection() != Protection.GUARANTEE_RESUMABILITY
        || !protectedAhead.contains(new HeldStep(step.fs(), step.to().guid()))) {
      return false;
    }
    var from = step.from();
    return from == null
        || !from.isSnapshot()
        || protectedAhead.contains(new HeldStep(step.fs(), from.guid()));
  }

  private static void closeAfter(InputStream stream, Throwable failure) {
    try {
      stream.close(); // kills zfs send
    } catch (IOException | RuntimeException c) {
      failure.addSuppressed(c);
    }
  }

  @Override
  public void protectAll(SendSpecBatch batch) throws IOException {
    var specs = batch.specs();
    if (specs.size() > SendSpecBatch.MAX) {
      throw new RemoteException(
          ErrorCode.INVALID_ARGUMENT,
          "at most " + SendSpecBatch.MAX + " steps in one call, not " + specs.size());
    }
    var filesystems = new LinkedHashMap<DatasetPath, List<FilesystemVersion>>();
    var unlisted = new LinkedHashSet<DatasetPath>();
    for (var spec : specs) {
      var fs = allowed(spec.filesystem());
      if (filesystems.containsKey(fs) || unlisted.contains(fs)) {
        continue;
      }
      var p = plan(fs);
      if (p != null) {
        filesystems.put(fs, p);
      } else {
        unlisted.add(fs);
      }
    }
    if (!unlisted.isEmpty()) {
      try {
        filesystems.putAll(zfs.listVersions(unlisted));
      } catch (ZfsException e) {
        throw Access.orNotFound(e, "one of the filesystems " + unlisted);
      }
    }
    // checked, all of them, before anything is placed
    var held = new LinkedHashSet<FullName>();
    var keys = new ArrayList<HeldStep>();
    for (var spec : specs) {
      // every step is checked as its send would be, also those that are not protected ahead
      var fs = allowed(spec.filesystem());
      var step = resolve(spec, fs, filesystems.getOrDefault(fs, List.of()));
      if (spec.protection() != Protection.GUARANTEE_RESUMABILITY) {
        continue;
      }
      var to = step.to();
      var from = step.from();
      held.add(full(to));
      keys.add(new HeldStep(fs, to.guid()));
      if (from != null && from.isSnapshot()) {
        held.add(full(from));
        keys.add(new HeldStep(fs, from.guid()));
      }
    }
    // the run's kept listings (for the completions and the pruning) as they are after this hold:
    // the same versions, each snapshot it held with at least one user reference
    var before = new LinkedHashMap<DatasetPath, List<FilesystemVersion>>();
    for (var fs : filesystems.keySet()) {
      var k = recent.unchanged(fs);
      if (k != null) {
        before.put(fs, k);
      }
    }
    Holds.hold(zfs, ZreplNames.stepHold(job), List.copyOf(held)); // a few commands side by side
    protectedAhead.addAll(keys);
    long stamp = recent.stamp();
    var heldGuids = new HashSet<HeldStep>(keys);
    before.forEach(
        (fs, versions) ->
            recent.put(
                fs, heldOnce(versions, guid -> heldGuids.contains(new HeldStep(fs, guid))), stamp));
  }

  /** A snapshot that {@link #protectAll} held for this client's steps. */
  private record HeldStep(DatasetPath fs, long guid) {}

  @Override
  public SizeEstimate sendDry(SendSpec spec) throws IOException {
    // the versions are resolved (and so checked: a name that is not there is refused) even where
    // zfs cannot estimate (zfs-fuse): a refusal must not depend on the pool's features
    var fs = allowed(spec.filesystem());
    var step = resolve(spec, fs, plannedVersions(fs));
    if (!zfs.capabilities().has(ZfsFeature.SEND_DRY_RUN)) {
      return new SizeEstimate(-1);
    }
    try {
      return new SizeEstimate(zfs.estimateSendSize(request(spec, step)));
    } catch (MissingFeatureException e) {
      return new SizeEstimate(-1);
    }
  }

  @Override
  public void sendCompleted(SendCompleted done) throws IOException {
    sendCompletedAll(new SendCompletedBatch(List.of(done)));
  }

  /**
   * The batch's completions, each checked against one listing of them all (the run's own where
   * nothing this process ran changed it since; the others listed in one command): a refused one
   * refuses the whole batch before anything is placed.
   */
  private List<Completion> checkedCompletions(SendCompletedBatch batch) throws IOException {
    var done = batch.completions();
    if (done.size() > SendCompletedBatch.MAX) {
      throw new RemoteException(
          ErrorCode.INVALID_ARGUMENT,
          "at most " + SendCompletedBatch.MAX + " completions in one call, not " + done.size());
    }
    var filesystems = new LinkedHashMap<DatasetPath, SendCompleted>();
    for (var d : done) {
      var fs = allowed(d.filesystem());
      if (!d.to().isSnapshot()) {
        throw new RemoteException(
            ErrorCode.INVALID_ARGUMENT, fs + ": can only complete at a snapshot");
      }
      if (filesystems.put(fs, d) != null) {
        throw new RemoteException(
            ErrorCode.INVALID_ARGUMENT, fs + " is completed twice in one call");
      }
    }
    if (filesystems.isEmpty()) {
      return List.of();
    }
    // Without bookmarks the cursor is a hold, placed by name on the snapshot the listing just
    // showed with the right guid (a protectAll's or holdCursorsAll's hold is in the kept listing)
    var listing = new LinkedHashMap<DatasetPath, List<FilesystemVersion>>();
    var unknown = new ArrayList<DatasetPath>();
    for (var fs : filesystems.keySet()) {
      var k = recent.unchanged(fs);
      if (k != null) {
        listing.put(fs, k);
      } else {
        unknown.add(fs);
      }
    }
    try {
      if (!unknown.isEmpty()) {
        listing.putAll(zfs.listVersions(unknown));
      }
    } catch (ZfsException e) {
      throw Access.orNotFound(
          e,
          filesystems.size() == 1
              ? "filesystem " + filesystems.firstEntry().getKey()
              : "one of filesystems " + filesystems.keySet());
    }
    var items = new ArrayList<Completion>();
    for (var e : filesystems.entrySet()) {
      var fs = e.getKey();
      var versions = listing.getOrDefault(fs, List.of());
      var to = find(fs, versions, e.getValue().to());
      var fromRef = e.getValue().from();
      var from = fromRef == null ? null : find(fs, versions, fromRef);
      items.add(new Completion(fs, versions, to, from, false));
    }
    return items;
  }

  @Override
  public void holdCursorsAll(SendCompletedBatch batch) throws IOException {
    var items = checkedCompletions(batch);
    if (items.isEmpty()) {
      return;
    }
    if (zfs.capabilities().has(ZfsFeature.BOOKMARKS)) {
      for (var c : items) {
        bookmarkTolerant(full(c.to()), ZreplNames.cursorBookmark(c.to().guid(), job));
        cursorsAhead.put(new HeldStep(c.fs(), c.to().guid()), System.nanoTime());
      }
    } else {
      var before = new LinkedHashMap<DatasetPath, List<FilesystemVersion>>();
      for (var c : items) {
        var k = recent.unchanged(c.fs());
        if (k != null) {
          before.put(c.fs(), k);
        }
      }
      Holds.hold(zfs, ZreplNames.cursorHold(job), items.stream().map(c -> full(c.to())).toList());
      long now = System.nanoTime();
      for (var c : items) {
        cursorsAhead.put(new HeldStep(c.fs(), c.to().guid()), now);
      }
      // the kept listings as they are after this hold (as protectAll keeps them): the completion
      // that follows needs no listing
      long stamp = recent.stamp();
      for (var c : items) {
        var versions = before.get(c.fs());
        if (versions != null) {
          long guid = c.to().guid();
          recent.put(c.fs(), heldOnce(versions, g -> g == guid), stamp);
        }
      }
    }
  }

  /** How long a cursor placed by {@link #holdCursorsAll} is trusted to be there. */
  static final Duration CURSORS_AHEAD_MAX_AGE = Duration.ofMinutes(10);

  /** Whether {@link #holdCursorsAll} placed {@code c}'s cursor just before; forgets it. */
  private boolean cursorPlacedAhead(Completion c) {
    var placed = cursorsAhead.remove(new HeldStep(c.fs(), c.to().guid()));
    return placed != null && System.nanoTime() - placed <= CURSORS_AHEAD_MAX_AGE.toNanos();
  }

  /**
   * {@code versions} as they are after a hold on the snapshots whose guid is {@code held}: each of
   * them with at least one user reference.
   */
  private static List<FilesystemVersion> heldOnce(
      List<FilesystemVersion> versions, LongPredicate held) {
    var after = new ArrayList<FilesystemVersion>(versions.size());
    for (var v : versions) {
      after.add(v.isSnapshot() && v.userRefs() == 0 && held.test(v.guid()) ? v.withUserRefs(1) : v);
    }
    return List.copyOf(after);
  }

  @Override
  public void sendCompletedAll(SendCompletedBatch batch) throws IOException {
    var items = checkedCompletions(batch);
    if (items.isEmpty()) {
      return;
    }
    var f = family;
    // a client's first completion on a filesystem (since the daemon started) adopts the job's own
    // abstractions from before it kept them per client
    var adopting = new ArrayList<DatasetPath>();
    if (f != null) {
      for (int i = 0; i < items.size(); i++) {
        var c = items.get(i);
        if (adopted.add(c.fs())) {
          adopting.add(c.fs());
          items.set(i, new Completion(c.fs(), c.versions(), c.to(), c.from(), true));
        }
      }
    }
    try {
      complete(items, f);
    } catch (IOException | RuntimeException e) {
      adopted.removeAll(adopting); // the next completion adopts them again
      throw e;
    }
    for (var c : items) {
      log.debug("{}: {} completed at {}", job, c.fs(), c.to());
    }
  }

  /** One filesystem's checked completion: its listing, the versions it names. */
  private record Completion(
      DatasetPath fs,
      List<FilesystemVersion> versions,
      FilesystemVersion to,
      @Nullable FilesystemVersion from,
      boolean adopting) {}

  /**
   * {@link #sendCompletedAll} once the requests are checked: moves the cursors, releases the steps'
   * holds (and, where {@code adopting}, the family's own abstractions), with one {@code zfs}
   * command per tag for all of them where the pool needs holds.
   */
  private void complete(List<Completion> items, @Nullable String f) throws IOException {
    boolean bookmarks = zfs.capabilities().has(ZfsFeature.BOOKMARKS);
    if (!bookmarks) {
      Holds.hold(
          zfs,
          ZreplNames.cursorHold(job),
          items.stream().filter(c -> !cursorPlacedAhead(c)).map(c -> full(c.to())).toList());
    }
    // the cursors first; then the older cursors go beside the steps' holds (neither needs the
    // other)
    var olderCursors = moveCursors(items, f);
    try {
      // the steps' holds, and any this job left on older snapshots: a step cut short between its
      // receive and its completion (a crash, a lost connection) left them, and nothing else
      // releases them
      var stepHeld = new ArrayList<FullName>();
      var familyHeld = new ArrayList<FullName>();
      var tentative = new ArrayList<FullName>();
      for (var c : items) {
        var to = c.to();
        var from = c.from();
        for (var v : c.versions()) {
          if (v.isSnapshot()
              && (v.guid() == to.guid()
                  || (from != null && v.guid() == from.guid())
                  || (v.userRefs() != 0
                      && Long.compareUnsigned(v.createTxg(), to.createTxg()) < 0))) {
            stepHeld.add(full(v));
          }
          // the job's own step holds (a step cut short before the job kept them per client)
          if (c.adopting() && v.isSnapshot() && v.userRefs() != 0) {
            familyHeld.add(full(v));
          }
        }
        if (bookmarks) {
          tentative.addAll(tentativeCursors(c.versions()));
        }
      }
      Holds.release(zfs, ZreplNames.stepHold(job), stepHeld); // a few commands side by side
      for (var c : items) {
        for (var v : c.versions()) {
          protectedAhead.remove(new HeldStep(c.fs(), v.guid()));
        }
      }
      if (f != null) {
        Holds.release(zfs, ZreplNames.stepHold(f), familyHeld);
      }
      if (!tentative.isEmpty()) {
        zfs.destroyVersions(tentative);
      }
    } catch (IOException | RuntimeException e) {
      olderCursors.joinAfter(e);
      throw e;
    }
    olderCursors.join();
  }

  /** The checked versions of one step. */
  private record Checked(
      DatasetPath fs, @Nullable FilesystemVersion from, FilesystemVersion to, String token) {}

  private Checked resolve(SendSpec spec) throws IOException {
    var fs = allowed(spec.filesystem());
    return resolve(spec, fs, versions(fs));
  }

  private Checked resolve(SendSpec spec, DatasetPath fs, List<FilesystemVersion> versions)
      throws IOException {
    var to = find(fs, versions, spec.to());
    if (!to.isSnapshot()) {
      throw new RemoteException(ErrorCode.INVALID_ARGUMENT, "can only send a snapshot: " + to);
    }
    var fromRef = spec.from();
    FilesystemVersion from = null;
    if (fromRef != null) {
      from = find(fs, versions, fromRef);
      if (Long.compareUnsigned(from.createTxg(), to.createTxg()) >= 0) {
        throw new RemoteException(
            ErrorCode.INVALID_ARGUMENT, "incremental source " + from + " is not older than " + to);
      }
      if (spec.intermediates() && from.isBookmark()) {
        throw new RemoteException(
            ErrorCode.INVALID_ARGUMENT, "-I cannot start at a bookmark: " + from);
      }
    } else if (spec.intermediates()) {
      throw new RemoteException(ErrorCode.INVALID_ARGUMENT, "-I needs a from snapshot");
    }
    if (options.encrypted()) {
      checkEncrypted(fs);
    }
    var token = spec.resumeToken();
    if (!token.isEmpty()) {
      checkToken(fs, from, to, token);
    }
    return new Checked(fs, from, to, token);
  }

  private void checkEncrypted(DatasetPath fs) throws IOException {
    if (!zfs.capabilities().has(ZfsFeature.SEND_RAW)) {
      throw new RemoteException(
          ErrorCode.FAILED_PRECONDITION,
          "send.encrypted is set but "
              + zfs.capabilities().version()
              + " has no encryption: refusing to send "
              + fs);
    }
    var p = zfs.getProperties(List.of(fs.toString()), List.of("encryption"));
    var enc = p.getOrDefault(fs.toString(), Map.of()).get("encryption");
    if (enc == null || !enc.isSet() || enc.value().equals("off")) {
      throw new RemoteException(
          ErrorCode.FAILED_PRECONDITION,
          "send.encrypted is set and " + fs + " is not encrypted: refusing to send it");
    }
  }

  private void checkToken(
      DatasetPath fs, @Nullable FilesystemVersion from, FilesystemVersion to, String token)
      throws RemoteException {
    ResumeToken t;
    try {
      t = ResumeToken.decode(token);
    } catch (IllegalArgumentException e) {
      throw new RemoteException(ErrorCode.INVALID_ARGUMENT, "bad resume token: " + e.getMessage());
    }
    FullName name;
    try {
      name = FilesystemVersion.parseFullName(t.toName());
    } catch (IllegalArgumentException e) {
      throw new RemoteException(
          ErrorCode.INVALID_ARGUMENT, "resume token names no snapshot: " + t.toName());
    }
    if (!name.filesystem().equals(fs) || !filter.test(name.filesystem())) {
      throw new RemoteException(
          ErrorCode.INVALID_ARGUMENT,
          "resume token is for " + t.toName() + ", not for filesystem " + fs);
    }
    if (t.toGuid() != to.guid() || !name.name().equals(to.name())) {
      throw new RemoteException(
          ErrorCode.INVALID_ARGUMENT,
          "resume token is for "
              + t.toName()
              + " (guid "
              + Long.toUnsignedString(t.toGuid())
              + "), not for "
              + to);
    }
    long fromGuid = from == null ? 0 : from.guid();
    if (t.fromGuid() != fromGuid) {
      throw new RemoteException(
          ErrorCode.INVALID_ARGUMENT,
          "resume token's incremental source (guid "
              + Long.toUnsignedString(t.fromGuid())
              + ") is not "
              + (from == null ? "a full send" : from.toString()));
    }
    // SECURITY: `zfs send -t` takes its flags from the token, which the client chose: a forged
    // token must not get a stream this job would not send (zrepl's
    // validateEncryptionFlagsCorrespondToResumeToken). ZFS records a flag in the token only when
    // the send had it (rawok only for an encrypted dataset; raw implies compressok, embedok and
    // largeblockok), so a flag the job's sends never carry is refused; and where the job sends raw,
    // a token of an encrypted dataset without rawok (a plaintext stream) is refused. A flag the
    // job asked for may be missing from a genuine token (embedok where the pool lacks the feature):
    // that is not refused, except rawok.
    boolean raw = flags.contains(SendFlag.RAW);
    refuseUnless(!t.rawOk() || raw, t, "rawok", "raw sends (-w)");
    refuseUnless(
        !t.compressOk() || raw || flags.contains(SendFlag.COMPRESSED),
        t,
        "compressok",
        "compressed sends (-c)");
    refuseUnless(
        !t.embedOk() || raw || flags.contains(SendFlag.EMBEDDED),
        t,
        "embedok",
        "embedded-data sends (-e)");
    refuseUnless(
        !t.largeBlockOk() || raw || flags.contains(SendFlag.LARGE_BLOCKS),
        t,
        "largeblockok",
        "large-block sends (-L)");
    if (raw && !t.rawOk() && (options.encrypted() || encrypted(fs))) {
      throw new RemoteException(
          ErrorCode.INVALID_ARGUMENT,
          "resume token for "
              + t.toName()
              + " has no rawok: it would resume an unencrypted stream of an encrypted dataset,"
              + " but this job sends raw"
              + (options.encrypted() ? " (send.encrypted)" : " (send.raw)"));
    }
  }

  private void refuseUnless(boolean ok, ResumeToken t, String flag, String what)
      throws RemoteException {
    if (!ok) {
      throw new RemoteException(
          ErrorCode.INVALID_ARGUMENT,
          "resume token for "
              + t.toName()
              + " has "
              + flag
              + ", but this job makes no "
              + what
              + ": refusing to resume it");
    }
  }

  @Override
  public VerifyFacts verify(VerifyRequest request) throws IOException {
    var fs = allowed(request.filesystem());
    // the properties a -p stream carries: set here, or received here (a cascade)
    return VerifySide.facts(
        zfs,
        fs,
        request,
        flags.contains(SendFlag.RAW),
        p -> p.source().equals("local") || p.source().equals("received"),
        Set.of());
  }

  /** Whether {@code fs} is encrypted (false where ZFS has no encryption). */
  private boolean encrypted(DatasetPath fs) throws RemoteException {
    if (!zfs.capabilities().has(ZfsFeature.SEND_RAW)) {
      return false;
    }
    Property enc;
    try {
      enc =
          zfs.getProperties(List.of(fs.toString()), List.of("encryption"))
              .getOrDefault(fs.toString(), Map.of())
              .get("encryption");
    } catch (IOException e) {
      throw new RemoteException(
          ErrorCode.UNAVAILABLE,
          "cannot check whether " + fs + " is encrypted to check the resume token: " + e);
    }
    return enc != null && enc.isSet() && !enc.value().equals("off");
  }

  private SendRequest request(SendSpec spec, Checked step) {
    if (!step.token().isEmpty()) {
      return SendRequest.resume(step.token());
    }
    var from = step.from();
    var to = full(step.to());
    SendRequest r;
    if (from == null) {
      r = SendRequest.full(to);
    } else if (spec.intermediates()) {
      r = SendRequest.withIntermediates(full(from), to);
    } else {
      r = SendRequest.incremental(full(from), to);
    }
    return flags.isEmpty() ? r : r.with(flags.toArray(SendFlag[]::new));
  }

  // ---- pruning -------------------------------------------------------------------------------

  /**
   * What pruning on this side must know of this job's replication: its cursor ({@link
   * #replicationCursor}) as the context of each filesystem.
   */
  PruneExecutor.Contexts pruneContexts() {
    return pruneContexts(true);
  }

  /**
   * {@link #pruneContexts()}; without {@code notReplicated} (no rule asks where the cursor is) and
   * where the cursor is a hold (zfs-fuse), none: the cursor's snapshot is held, and {@link
   * dev.zrepl4j.replication.pruning.PruneGuard} keeps every held snapshot whatever the context, so
   * the trial holds that find the cursor there (one command per filesystem) would change nothing.
   */
  PruneExecutor.Contexts pruneContexts(boolean notReplicated) {
    if (!notReplicated && !zfs.capabilities().has(ZfsFeature.BOOKMARKS)) {
      return PruneExecutor.Contexts.none();
    }
    var f = family;
    if (f != null && zfs.capabilities().has(ZfsFeature.BOOKMARKS)) {
      return (fs, vs) -> familyContext(f, vs);
    }
    // the executor's own listing of the filesystem (no second listing per filesystem)
    return (fs, vs) -> {
      var cursor = cursorIn(fs, vs);
      if (cursor.isEmpty()) {
        return PruneContext.NONE;
      }
      var guids = new HashSet<Long>();
      long txg = PruneContext.NO_CURSOR;
      for (var c : cursor) {
        guids.add(c.guid());
        txg = c.createTxg();
      }
      return new PruneContext(guids, txg, Set.of());
    };
  }

  /**
   * A client's pruning context where cursors are bookmarks: every client of source job {@code f}
   * (and the job's own cursor, not adopted yet) has a cursor; what the client with the oldest has
   * not received is not replicated yet ({@code not_replicated} keeps it), and every cursor's guid
   * is a replication base. A client that never completed a step has none and holds nothing back (it
   * starts with a full send). Where cursors are holds (zfs-fuse) they cannot be listed: the context
   * is this client's own, and the other clients' bases are kept by their holds.
   */
  private static PruneContext familyContext(String f, List<FilesystemVersion> versions) {
    var newest = new HashMap<String, FilesystemVersion>();
    var guids = new HashSet<Long>();
    for (var v : versions) {
      var c = cursorOf(v, j -> ZreplNames.ofFamily(j, f));
      if (c == null || c.tentative()) {
        continue;
      }
      guids.add(v.guid());
      newest.merge(
          c.job(), v, (a, b) -> Long.compareUnsigned(a.createTxg(), b.createTxg()) >= 0 ? a : b);
    }
    // the cursor is the oldest client's (not_replicated takes the newest of the context's cursor
    // guids); every client's cursor guid is protected
    FilesystemVersion oldest = null;
    for (var v : newest.values()) {
      if (oldest == null || Long.compareUnsigned(v.createTxg(), oldest.createTxg()) < 0) {
        oldest = v;
      }
    }
    if (oldest == null) {
      return PruneContext.NONE;
    }
    return new PruneContext(Set.of(oldest.guid()), oldest.createTxg(), guids);
  }

  @Override
  public PruneResult prune(PruneRequest request) throws IOException {
    var rules = Access.pruneRules(request);
    var executor = Access.pruneExecutor(zfs);
    var filesystems = DatasetFilter.list(zfs, filter, unmatched);
    var result =
        PruneResult.of(
            executor.prune(
                filesystems,
                rules,
                pruneContexts(rules.stream().anyMatch(r -> r instanceof PruneRule.NotReplicated)),
                request.dryRun(),
                recent::snapshotsUnchanged));
    log.info(
        "{}: pruned sender{}: {} filesystems, destroyed {}, failed {}",
        job,
        request.dryRun() ? " (dry run)" : "",
        filesystems.size(),
        result.destroyed(),
        result.failures().size());
    return result;
  }

  // ---- abstractions --------------------------------------------------------------------------

  private void protect(Protection protection, Checked step) throws IOException {
    var from = step.from();
    switch (protection) {
      case GUARANTEE_RESUMABILITY -> {
        var held = new ArrayList<>(List.of(full(step.to())));
        if (from != null && from.isSnapshot()) {
          held.add(full(from));
        }
        Holds.hold(zfs, ZreplNames.stepHold(job), held); // one zfs command for both
      }
      case GUARANTEE_INCREMENTAL -> {
        if (from == null) {
          return;
        }
        if (zfs.capabilities().has(ZfsFeature.BOOKMARKS) && from.isSnapshot()) {
          var name = ZreplNames.tentativeCursorBookmark(from.guid(), job);
          bookmarkTolerant(full(from), name);
        } else if (from.isSnapshot()) {
          Holds.hold(zfs, ZreplNames.stepHold(job), List.of(full(from)));
        }
      }
      case GUARANTEE_NOTHING -> {}
    }
  }

  /**
   * Places the cursor bookmark on each completion's {@code to} (where ZFS has bookmarks; without
   * them the cursor is a hold that {@link #complete} has already placed), then starts removing this
   * job's older cursors.
   *
   * @return the removal, running
   */
  private Beside<Boolean> moveCursors(List<Completion> items, @Nullable String f)
      throws IOException {
    if (zfs.capabilities().has(ZfsFeature.BOOKMARKS)) {
      var stale = new ArrayList<FullName>();
      for (var c : items) {
        if (!cursorPlacedAhead(c)) {
          bookmarkTolerant(full(c.to()), ZreplNames.cursorBookmark(c.to().guid(), job));
        }
        for (var v : c.versions()) {
          if (!v.isBookmark()) {
            continue;
          }
          // the job's own cursor is adopted: this client's is in place now
          if ((isOwnCursor(v) && v.guid() != c.to().guid()) || isAdoptableCursor(v)) {
            stale.add(full(v));
          }
        }
      }
      return Beside.start(
          "cursor-" + job,
          () -> {
            if (!stale.isEmpty()) {
              zfs.destroyVersions(stale);
            }
          });
    }
    if (cursorDegradationLogged.compareAndSet(false, true)) {
      log.warn(
          "{}: {} has no bookmarks: the replication cursor is the hold {} on the last sent"
              + " snapshot (it keeps that snapshot from being destroyed)",
          job,
          zfs.capabilities().version(),
          ZreplNames.cursorHold(job));
    }
    var tag = ZreplNames.cursorHold(job);
    var older = new ArrayList<FullName>();
    var held = new ArrayList<FullName>();
    for (var c : items) {
      for (var v : c.versions()) {
        if (v.isSnapshot() && v.userRefs() != 0) {
          if (c.adopting()) {
            held.add(full(v));
          }
          if (v.guid() != c.to().guid()) {
            older.add(full(v));
          }
        }
      }
      log.debug("{}: cursor hold on {}", job, c.fs());
    }
    return Beside.start(
        "cursor-" + job,
        () -> {
          Holds.release(zfs, tag, older);
          if (f != null) {
            // the job's own cursor hold, wherever it is (zfs-fuse cannot say where)
            Holds.release(zfs, ZreplNames.cursorHold(f), held);
          }
        });
  }

  /** This job's tentative cursors (and the family's) among {@code versions}. */
  private List<FullName> tentativeCursors(List<FilesystemVersion> versions) {
    var stale = new ArrayList<FullName>();
    for (var v : versions) {
      var c = abstraction(v);
      var adoptable = adoptable(v);
      if ((c != null && c.tentative()) || (adoptable != null && adoptable.tentative())) {
        stale.add(full(v));
      }
    }
    return stale;
  }

  private void bookmarkTolerant(FullName snap, String name) throws IOException {
    try {
      zfs.bookmark(snap, name);
    } catch (ZfsException e) {
      if (!e.stderr().contains("exists")) {
        throw e;
      }
    }
  }

  // ---- helpers -------------------------------------------------------------------------------

  private DatasetPath allowed(String name) throws RemoteException {
    return Access.allowed(filter, Access.filesystem(name));
  }

  private List<FilesystemVersion> versions(DatasetPath fs) throws IOException {
    try {
      return zfs.listVersions(List.of(fs)).getOrDefault(fs, List.of());
    } catch (ZfsException e) {
      throw Access.orNotFound(e, "filesystem " + fs);
    }
  }

  /** The listed version the client means: same type, name and guid. */
  private static FilesystemVersion find(
      DatasetPath fs, List<FilesystemVersion> versions, FsVersion wanted) throws RemoteException {
    var type = wanted.isSnapshot() ? VersionType.SNAPSHOT : VersionType.BOOKMARK;
    for (var v : versions) {
      if (v.type() == type && v.name().equals(wanted.name())) {
        if (v.guid() != wanted.guid()) {
          throw new RemoteException(
              ErrorCode.FAILED_PRECONDITION,
              v.fullName()
                  + " has guid "
                  + v.guidString()
                  + ", not "
                  + Long.toUnsignedString(wanted.guid())
                  + " (re-created since it was listed?)");
        }
        return v;
      }
    }
    throw new RemoteException(ErrorCode.NOT_FOUND, wanted.fullName(fs) + " does not exist");
  }

  private static FullName full(FilesystemVersion v) {
    return new FullName(v.filesystem(), v.type(), v.name());
  }

  private static List<FsVersion> wire(List<FilesystemVersion> versions) {
    var out = new ArrayList<FsVersion>(versions.size());
    for (var v : versions) {
      out.add(FsVersion.of(v));
    }
    return out;
  }

  private boolean isOwnCursor(FilesystemVersion v) {
    var c = abstraction(v);
    return c != null && !c.tentative();
  }

  private boolean isAdoptableCursor(FilesystemVersion v) {
    var c = adoptable(v);
    return c != null && !c.tentative();
  }

  /**
   * The (tentative) cursor of the job itself that {@code v} is, if this is a client's sender and it
   * is one (see {@link #forClient}).
   */
  private ZreplNames.@Nullable CursorName adoptable(FilesystemVersion v) {
    var f = family;
    return f == null ? null : cursorOf(v, f::equals);
  }

  /**
   * This job's (tentative) cursor that {@code v} is, if it is one: as in zrepl's cursor extractors,
   * a bookmark whose name's guid is not its own guid is none (made or renamed by hand): neither
   * used as the cursor nor destroyed as a stale one.
   */
  private ZreplNames.@Nullable CursorName abstraction(FilesystemVersion v) {
    return cursorOf(v, job::equals);
  }

  /**
   * The (tentative) cursor of a job {@code jobs} accepts that {@code v} is, if it is one; a
   * bookmark whose name's guid is not its own is none.
   */
  private static ZreplNames.@Nullable CursorName cursorOf(
      FilesystemVersion v, Predicate<String> jobs) {
    if (!v.isBookmark()) {
      return null;
    }
    var c = ZreplNames.parseCursorBookmark(v.name());
    if (c.isEmpty() || !jobs.test(c.get().job()) || c.get().guid() != v.guid()) {
      return null;
    }
    return c.get();
  }
}
