package dev.zrepl4j.zfs;

import dev.zrepl4j.zfs.FilesystemVersion.FullName;
import dev.zrepl4j.zfs.FilesystemVersion.VersionType;
import dev.zrepl4j.zfs.SendRequest.SendFlag;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link Zfs} over the {@code zfs} command line, for both dialects (OpenZFS 2.x and zfs-fuse).
 * Thread-safe. The binaries are argv prefixes, e.g. {@code List.of("zfs")} or a wrapper script that
 * forwards to a VM.
 *
 * <p>Implementation notes: each operation is one child process ({@link ZfsProcess}), run without a
 * shell; stdout is parsed while it streams ({@link ZfsOutput}), and a non-zero exit wins over a
 * parse error (the garbled output is usually a consequence). {@link #invocations()} counts the
 * processes started, so tests and the benchmark can check batching.
 */
public final class RealZfs implements Zfs {
  private static final Logger log = LoggerFactory.getLogger(RealZfs.class);

  /** Bound on one comma-joined destroy argument. */
  private static final int MAX_BATCH_ARG_CHARS = 64 * 1024;

  private final List<String> zfs;
  private final List<String> zpool;
  private final ZfsCapabilities capabilities;
  private final LargePipes pipes;
  private final AtomicLong invocations;
  private final CommandListener listener;

  private final @Nullable Duration commandTimeout;

  private RealZfs(
      List<String> zfs, List<String> zpool, ZfsCapabilities capabilities, LargePipes pipes) {
    this(zfs, zpool, capabilities, pipes, new AtomicLong(), CommandListener.none(), null);
  }

  private RealZfs(
      List<String> zfs,
      List<String> zpool,
      ZfsCapabilities capabilities,
      LargePipes pipes,
      AtomicLong invocations,
      CommandListener listener,
      @Nullable Duration commandTimeout) {
    this.zfs = List.copyOf(zfs);
    this.zpool = List.copyOf(zpool);
    this.capabilities = capabilities;
    this.pipes = pipes;
    this.invocations = invocations;
    this.listener = listener;
    this.commandTimeout = commandTimeout;
  }

  /**
   * The same, with deadlines: a command that does not stream (every one but {@code send} and {@code
   * receive}) and is still running after {@code timeout}, or a stream whose {@code zfs} neither
   * gives nor takes a byte for that long (a read from {@code zfs send}, a write into {@code zfs
   * receive} blocked; the other side's slowness does not count), is killed and its operation fails
   * saying so (zrepl#791: a hung pool stalled a job for good). Without it, commands have no
   * deadline.
   */
  public RealZfs withCommandTimeout(Duration timeout) {
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("zfs command timeout must be positive: " + timeout);
    }
    return new RealZfs(zfs, zpool, capabilities, pipes, invocations, listener, timeout);
  }

  /**
   * The same binaries, capabilities and pipes, telling {@code listener} of every command run
   * through the returned instance (the daemon gives each job its own, labelled with the job's
   * name). The invocation count is shared with this instance.
   */
  @Override
  public boolean marksChanges() {
    return true;
  }

  @Override
  public RealZfs observedBy(CommandListener listener) {
    return new RealZfs(zfs, zpool, capabilities, pipes, invocations, listener, commandTimeout);
  }

  /**
   * Detects the capabilities of {@code zfs} (logging one line naming the missing features) and
   * returns a ready instance. Whether its bulk streams use 1 MiB pipes is decided here ({@code
   * -Dzrepl4j.zfs.smallPipes=true} says no) and, if reopening a pipe through {@code /proc/self/fd}
   * turns out to be refused, once for the life of the instance (see {@link LargePipes}).
   *
   * @param zfs argv prefix of the zfs binary, e.g. {@code List.of("zfs")}
   * @param zpool argv prefix of the zpool binary
   * @throws IOException if {@code zfs} cannot be run at all
   */
  public static RealZfs start(List<String> zfs, List<String> zpool) throws IOException {
    if (zfs.isEmpty() || zpool.isEmpty()) {
      throw new IllegalArgumentException("empty zfs or zpool argv");
    }
    var pipes = LargePipes.standard();
    var probe = new RealZfs(zfs, zpool, ZfsCapabilities.legacy("probing"), pipes);
    var caps = probe.detect();
    log.info("zfs: {} ({})", caps.version(), caps.openZfs() ? "OpenZFS" : "legacy dialect");
    var missing = missingFeatures(caps);
    if (!missing.isEmpty()) {
      log.warn(
          "zfs: {} lacks {} features (what each costs: debug log): {}",
          caps.version(),
          missing.split(", ").length,
          missing);
      for (var f : ZfsFeature.values()) {
        if (!caps.has(f)) {
          log.debug("zfs: degraded: no {}: {}", f.description(), degradation(f));
        }
      }
    }
    return new RealZfs(zfs, zpool, caps, pipes);
  }

  /** The features {@code caps} lacks, by short name, comma-separated; empty if none. */
  static String missingFeatures(ZfsCapabilities caps) {
    var names = new ArrayList<String>();
    for (var f : ZfsFeature.values()) {
      if (!caps.has(f)) {
        names.add(f.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'));
      }
    }
    return String.join(", ", names);
  }

  /** An instance with given capabilities, skipping detection (tests). */
  static RealZfs withCapabilities(List<String> zfs, List<String> zpool, ZfsCapabilities caps) {
    return new RealZfs(zfs, zpool, caps, LargePipes.standard());
  }

  private static String degradation(ZfsFeature f) {
    return switch (f) {
      case LIST_PARSABLE -> "numbers are read with one `zfs get -Hp` per listing";
      case MULTI_SNAPSHOT -> "snapshots of several datasets are taken one by one (not atomic)";
      case COMMA_DESTROY -> "snapshots are destroyed one command each";
      case HOLDS_LISTING -> "hold counts come from the userrefs property; tags cannot be listed";
      default -> "operations that need it fail with MissingFeatureException";
    };
  }

  private ZfsCapabilities detect() throws IOException {
    try {
      var out = runToString(zfs, List.of("version"));
      var first = out.lines().findFirst().orElse("").strip();
      if (first.startsWith("zfs-")) {
        return ZfsCapabilities.openZfs(first);
      }
      throw new ZfsParseException("unexpected output of `zfs version`: '" + out + "'");
    } catch (ZfsParseException e) {
      throw e;
    } catch (ZfsException e) {
      if (e.exitStatus() == ZfsException.NO_STATUS) {
        throw e; // the binary does not run at all
      }
      log.debug("zfs: `zfs version` failed, probing the legacy dialect: {}", e.getMessage());
    }
    var features = EnumSet.noneOf(ZfsFeature.class);
    try {
      runToString(zfs, List.of("list", "-H", "-p", "-o", "name", "-d", "0"));
      features.add(ZfsFeature.LIST_PARSABLE);
    } catch (ZfsParseException e) {
      throw e;
    } catch (ZfsException e) {
      log.debug("zfs: no `zfs list -p`: {}", e.getMessage());
    }
    return new ZfsCapabilities(
        false, "legacy ZFS without `zfs version` (zfs-fuse / pool v23 generation)", features);
  }

  @Override
  public ZfsCapabilities capabilities() {
    return capabilities;
  }

  /** Number of {@code zfs}/{@code zpool} processes started by this instance. */
  public long invocations() {
    return invocations.get();
  }

  // ---- plumbing ------------------------------------------------------------------------------

  /** Parses the stdout of one process. */
  interface Parser<T> {
    T parse(InputStream stdout) throws IOException;
  }

  ZfsProcess startZfs(List<String> args, ZfsProcess.Stdin stdin, ZfsProcess.Stdout stdout)
      throws ZfsException {
    invocations.incrementAndGet();
    return ZfsProcess.start(zfs, args, stdin, stdout, pipes, marking(zfs, args));
  }

  /**
   * The listener for one command: for a zfs command that may change datasets, {@link
   * ChangeClock#process()} is marked now (before it starts) and again when it exited.
   */
  private CommandListener marking(List<String> binary, List<String> args) {
    if (!binary.equals(zfs) || !ChangeClock.changes(args)) {
      return listener;
    }
    var clock = ChangeClock.process();
    clock.mark(args);
    var outer = listener;
    return new CommandListener() {
      @Override
      public void exited(String b, String verb, Duration runtime) {
        clock.mark(args);
        outer.exited(b, verb, runtime);
      }

      @Override
      public void timedOut(String b, String verb, Duration deadline) {
        outer.timedOut(b, verb, deadline);
      }
    };
  }

  <T> T run(List<String> binary, List<String> args, Parser<T> parser) throws IOException {
    return run(binary, args, parser, tolerated(false));
  }

  /**
   * Runs a command and parses its stdout; a failure whose stderr {@code tolerated} accepts still
   * returns what was parsed (a listing of several datasets, some of them missing).
   */
  private <T> T run(
      List<String> binary, List<String> args, Parser<T> parser, Predicate<String> tolerated)
      throws IOException {
    invocations.incrementAndGet();
    try (var p =
            ZfsProcess.start(
                binary,
                args,
                ZfsProcess.Stdin.NULL,
                ZfsProcess.Stdout.PIPE,
                pipes,
                marking(binary, args));
        var deadline = deadline(p, binary, args)) {
      T result;
      try {
        result = runStarted(p, parser, tolerated);
      } catch (IOException | RuntimeException e) {
        if (deadline != null && !deadline.finish()) {
          // (what it failed with is the kill's consequence: a closed pipe, a signal)
          var f = deadline.failure(p.argv(), p.failure(ZfsException.NO_STATUS).stderr());
          f.addSuppressed(e);
          throw f;
        }
        throw e;
      }
      if (deadline != null && !deadline.finish()) {
        // killed, yet what it printed passed (a tolerated failure): not to be trusted
        throw deadline.failure(p.argv(), p.failure(ZfsException.NO_STATUS).stderr());
      }
      return result;
    }
  }

  private @Nullable CommandDeadline deadline(ZfsProcess p, List<String> binary, List<String> args) {
    var t = commandTimeout;
    return t == null ? null : CommandDeadline.watch(p, t, timedOut(binary, args, t));
  }

  /** Tells the listener that a zfs command ({@code args}) was killed at its limit. */
  private Runnable timedOut(List<String> args) {
    var t = commandTimeout;
    return t == null ? () -> {} : timedOut(zfs, args, t);
  }

  private Runnable timedOut(List<String> binary, List<String> args, Duration limit) {
    return () ->
        listener.timedOut(String.join(" ", binary), args.isEmpty() ? "" : args.getFirst(), limit);
  }

  private <T> T runStarted(ZfsProcess p, Parser<T> parser, Predicate<String> tolerated)
      throws IOException {
    T result;
    try {
      result = parser.parse(p.stdout());
    } catch (ZfsParseException e) {
      p.stdout().transferTo(OutputStream.nullOutputStream());
      int status = p.waitFor();
      if (status != 0) {
        var f = p.failure(status);
        f.addSuppressed(e);
        throw f;
      }
      throw e.withArgv(p.argv());
    }
    int status = p.waitFor();
    if (status != 0) {
      var f = p.failure(status);
      if (!tolerated.test(f.stderr())) {
        throw f;
      }
    }
    return result;
  }

  /**
   * Whether a failed command's stderr says only that some of the datasets it was given do not
   * exist: one {@code cannot open 'NAME': dataset does not exist} line each (libzfs, all versions),
   * or for a missing bookmark of an existing filesystem {@code cannot open 'FS#BM': no such pool or
   * dataset} (OpenZFS 2.x).
   */
  static boolean onlyMissingDatasets(String stderr) {
    return ZfsException.everyLine(stderr, l -> MISSING_DATASET.matcher(l).matches());
  }

  /** What a listing of datasets that may not exist tolerates: exactly their absence. */
  private static Predicate<String> tolerated(boolean existing) {
    return existing ? RealZfs::onlyMissingDatasets : stderr -> false;
  }

  private static final Pattern MISSING_DATASET =
      Pattern.compile(
          "cannot open '[^']+': dataset does not exist"
              + "|cannot open '[^'#]+#[^'#]+': no such pool or dataset");

  String runToString(List<String> binary, List<String> args) throws IOException {
    return run(binary, args, in -> new String(in.readAllBytes(), StandardCharsets.UTF_8));
  }

  private void exec(List<String> args) throws IOException {
    runToString(zfs, args);
  }

  /** Runs {@code zpool args} (test support and capability checks). */
  String zpool(List<String> args) throws IOException {
    return runToString(zpool, args);
  }

  /** Runs {@code zfs args} and returns stdout (test support). */
  String zfs(List<String> args) throws IOException {
    return runToString(zfs, args);
  }

  // ---- listing -------------------------------------------------------------------------------

  @Override
  public List<DatasetPath> listFilesystems(
      Collection<DatasetPath> roots, Predicate<DatasetPath> filter) throws IOException {
    var args = new ArrayList<>(List.of("list", "-H", "-o", "name", "-t", "filesystem,volume"));
    if (!roots.isEmpty()) {
      args.add("-r");
      roots.forEach(r -> args.add(dataset(r)));
    }
    return filtered(run(zfs, args, ZfsOutput::parseNames), filter);
  }

  @Override
  public List<DatasetPath> listFilesystemsBelow(
      Collection<DatasetPath> roots, Predicate<DatasetPath> filter) throws IOException {
    if (roots.isEmpty()) {
      return List.of();
    }
    var args =
        new ArrayList<>(List.of("list", "-H", "-o", "name", "-t", "filesystem,volume", "-r"));
    new LinkedHashSet<>(roots).forEach(r -> args.add(dataset(r)));
    var found = run(zfs, args, ZfsOutput::parseNames, tolerated(true));
    // nested roots would list a dataset twice
    return filtered(List.copyOf(new LinkedHashSet<>(found)), filter);
  }

  private static List<DatasetPath> filtered(List<DatasetPath> all, Predicate<DatasetPath> filter) {
    var out = new ArrayList<DatasetPath>();
    for (var p : all) {
      if (filter.test(p)) {
        out.add(p);
      }
    }
    return out;
  }

  @Override
  public Map<DatasetPath, List<FilesystemVersion>> listVersions(Collection<DatasetPath> filesystems)
      throws IOException {
    return listVersions(filesystems, false);
  }

  @Override
  public Map<DatasetPath, List<FilesystemVersion>> listVersionsOfExisting(
      Collection<DatasetPath> filesystems) throws IOException {
    return listVersions(filesystems, true);
  }

  private Map<DatasetPath, List<FilesystemVersion>> listVersions(
      Collection<DatasetPath> filesystems, boolean existing) throws IOException {
    var tolerated = tolerated(existing);
    var wanted = new LinkedHashSet<>(filesystems);
    var result = new LinkedHashMap<DatasetPath, List<FilesystemVersion>>();
    if (wanted.isEmpty()) {
      return result;
    }
    var found = new HashMap<DatasetPath, List<FilesystemVersion>>();
    for (var part :
        SideBySide.run(
            SideBySide.parts(List.copyOf(wanted), MIN_LISTED_PER_COMMAND, Integer.MAX_VALUE),
            part -> listVersionsOnce(part, tolerated))) {
      found.putAll(part);
    }
    for (var fs : wanted) {
      result.put(fs, List.copyOf(found.getOrDefault(fs, List.of())));
    }
    return result;
  }

  /** {@code zfs get} with tab-separated, exact values and the columns its parser reads. */
  private static final List<String> GET_PARSABLE =
      List.of("get", "-H", "-p", "-o", "name,property,value,source");

  /**
   * The fewest filesystems or datasets one listing command of several side by side names ({@link
   * SideBySide}): below that, a command's start costs more than its share of the listing.
   */
  static final int MIN_LISTED_PER_COMMAND = 16;

  /** One {@code zfs} command listing the versions of {@code wanted}; only of those. */
  private Map<DatasetPath, List<FilesystemVersion>> listVersionsOnce(
      List<DatasetPath> wanted, Predicate<String> tolerated) throws IOException {
    var args = new ArrayList<String>();
    Map<DatasetPath, List<FilesystemVersion>> found;
    if (capabilities.has(ZfsFeature.LIST_PARSABLE)) {
      var types = capabilities.has(ZfsFeature.BOOKMARKS) ? "snapshot,bookmark" : "snapshot";
      args.addAll(
          List.of(
              "list",
              "-H",
              "-p",
              "-o",
              "name,guid,createtxg,creation,userrefs",
              "-t",
              types,
              "-d",
              "1",
              "-s",
              "createtxg"));
      wanted.forEach(fs -> args.add(dataset(fs)));
      found = run(zfs, args, ZfsOutput::parseVersionList, tolerated);
    } else {
      args.addAll(GET_PARSABLE);
      args.addAll(List.of("-d", "1", String.join(",", ZfsOutput.VERSION_PROPERTIES)));
      wanted.forEach(fs -> args.add(dataset(fs)));
      found =
          ZfsOutput.versionsFromProperties(run(zfs, args, ZfsOutput::parseProperties, tolerated));
    }
    var asked = new HashSet<>(wanted);
    for (var fs : found.keySet()) {
      if (!asked.contains(fs)) {
        throw new ZfsParseException("versions of unrequested filesystem " + fs, args);
      }
    }
    return found;
  }

  @Override
  public Map<String, Map<String, Property>> getProperties(
      Collection<String> datasets, Collection<String> properties) throws IOException {
    return getProperties(datasets, properties, false);
  }

  @Override
  public Map<String, Map<String, Property>> getPropertiesOfExisting(
      Collection<String> datasets, Collection<String> properties) throws IOException {
    return getProperties(datasets, properties, true);
  }

  private Map<String, Map<String, Property>> getProperties(
      Collection<String> datasets, Collection<String> properties, boolean existing)
      throws IOException {
    var out = new LinkedHashMap<String, Map<String, Property>>();
    if (datasets.isEmpty() || properties.isEmpty()) {
      return out;
    }
    properties.forEach(Zfs::checkPropertyName);
    var names = new ArrayList<String>(datasets.size());
    for (var d : datasets) {
      names.add(checkDatasetArg(d));
    }
    var tolerated = tolerated(existing);
    var parts =
        SideBySide.run(
            SideBySide.parts(names, MIN_LISTED_PER_COMMAND, Integer.MAX_VALUE),
            part -> {
              var args = new ArrayList<>(GET_PARSABLE);
              args.add(String.join(",", properties));
              args.addAll(part);
              return run(zfs, args, ZfsOutput::parseProperties, tolerated);
            });
    for (var rows : parts) {
      for (var row : rows) {
        out.computeIfAbsent(row.name(), k -> new LinkedHashMap<>())
            .put(row.property(), new Property(row.value(), row.source()));
      }
    }
    return out;
  }

  @Override
  public void setProperty(String dataset, String property, String value) throws IOException {
    Zfs.checkPropertyName(property);
    exec(List.of("set", property + "=" + value, checkDatasetArg(dataset)));
  }

  @Override
  public void inheritProperty(String dataset, String property) throws IOException {
    Zfs.checkPropertyName(property);
    exec(List.of("inherit", property, checkDatasetArg(dataset)));
  }

  @Override
  public void rename(DatasetPath from, DatasetPath to) throws IOException {
    exec(List.of("rename", dataset(from), dataset(to)));
  }

  // ---- create, snapshot, destroy -------------------------------------------------------------

  @Override
  public void create(DatasetPath filesystem, Map<String, String> properties) throws IOException {
    var args = new ArrayList<>(List.of("create"));
    for (var e : properties.entrySet()) {
      Zfs.checkPropertyName(e.getKey());
      args.add("-o");
      args.add(e.getKey() + "=" + e.getValue());
    }
    args.add(dataset(filesystem));
    exec(args);
  }

  @Override
  public void snapshot(Collection<DatasetPath> filesystems, String name) throws IOException {
    var id = new ArrayList<FullName>();
    for (var fs : new LinkedHashSet<>(filesystems)) {
      id.add(new FullName(fs, VersionType.SNAPSHOT, checkVersionName(name)));
    }
    if (id.isEmpty()) {
      return;
    }
    if (id.size() == 1 || capabilities.has(ZfsFeature.MULTI_SNAPSHOT)) {
      var args = new ArrayList<>(List.of("snapshot"));
      id.forEach(s -> args.add(s.toString()));
      exec(args);
      return;
    }
    log.warn(
        "zfs: snapshot @{} of {} datasets taken one by one, not atomically ({} lacks {})",
        name,
        id.size(),
        capabilities.version(),
        ZfsFeature.MULTI_SNAPSHOT.description());
    for (var s : id) {
      exec(List.of("snapshot", s.toString()));
    }
  }

  @Override
  public void destroyFilesystem(DatasetPath filesystem, boolean recursive) throws IOException {
    if (filesystem.length() < 2) {
      throw new IllegalArgumentException(
          "refusing to destroy a pool's root dataset: " + filesystem);
    }
    exec(
        recursive
            ? List.of("destroy", "-r", dataset(filesystem))
            : List.of("destroy", dataset(filesystem)));
  }

  @Override
  public void destroyVersions(Collection<FullName> versions) throws IOException {
    var snapshotsByFs = new LinkedHashMap<DatasetPath, List<String>>();
    var bookmarks = new ArrayList<FullName>();
    for (var v : new LinkedHashSet<>(versions)) {
      checkVersionName(v.name());
      if (v.type() == VersionType.SNAPSHOT) {
        snapshotsByFs.computeIfAbsent(v.filesystem(), k -> new ArrayList<>()).add(v.name());
      } else {
        bookmarks.add(v);
      }
    }
    boolean comma = capabilities.has(ZfsFeature.COMMA_DESTROY);
    for (var e : snapshotsByFs.entrySet()) {
      var fs = dataset(e.getKey());
      if (!comma) {
        for (var n : e.getValue()) {
          exec(List.of("destroy", fs + "@" + n));
        }
        continue;
      }
      var arg = new StringBuilder();
      for (var n : e.getValue()) {
        if (!arg.isEmpty() && arg.length() + n.length() + 1 > MAX_BATCH_ARG_CHARS) {
          exec(List.of("destroy", fs + "@" + arg));
          arg.setLength(0);
        }
        arg.append(arg.isEmpty() ? "" : ",").append(n);
      }
      exec(List.of("destroy", fs + "@" + arg));
    }
    for (var b : bookmarks) {
      capabilities.require(ZfsFeature.BOOKMARKS, "destroying bookmark " + b);
      exec(List.of("destroy", b.toString()));
    }
  }

  // ---- holds, bookmarks ----------------------------------------------------------------------

  @Override
  public void hold(String tag, Collection<FullName> snapshots) throws IOException {
    holdCommand("hold", tag, snapshots);
  }

  @Override
  public void release(String tag, Collection<FullName> snapshots) throws IOException {
    holdCommand("release", tag, snapshots);
  }

  private void holdCommand(String verb, String tag, Collection<FullName> snapshots)
      throws IOException {
    if (tag.isEmpty() || tag.startsWith("-")) {
      throw new IllegalArgumentException("invalid hold tag '" + tag + "'");
    }
    if (snapshots.isEmpty()) {
      return;
    }
    var args = new ArrayList<>(List.of(verb, tag));
    for (var s : snapshots) {
      args.add(snapshotArg(s));
    }
    exec(args);
  }

  @Override
  public List<Hold> listHolds(Collection<FullName> snapshots) throws IOException {
    capabilities.require(
        ZfsFeature.HOLDS_LISTING, "listing holds (use FilesystemVersion.userRefs)");
    if (snapshots.isEmpty()) {
      return List.of();
    }
    var args = new ArrayList<>(List.of("holds", "-H", "-p"));
    for (var s : snapshots) {
      args.add(snapshotArg(s));
    }
    return run(zfs, args, ZfsOutput::parseHolds);
  }

  @Override
  public void bookmark(FullName snapshot, String bookmarkName) throws IOException {
    capabilities.require(ZfsFeature.BOOKMARKS, "creating bookmark #" + bookmarkName);
    var bm =
        new FullName(snapshot.filesystem(), VersionType.BOOKMARK, checkVersionName(bookmarkName));
    exec(List.of("bookmark", snapshotArg(snapshot), bm.toString()));
  }

  // ---- send and receive ----------------------------------------------------------------------

  private List<String> sendArgs(SendRequest r, boolean dryRun) throws MissingFeatureException {
    var args = new ArrayList<>(List.of("send"));
    if (dryRun) {
      capabilities.require(ZfsFeature.SEND_DRY_RUN, "estimating a send");
      args.addAll(List.of("-n", "-v", "-P"));
    }
    var token = r.resumeToken();
    if (token != null) {
      capabilities.require(ZfsFeature.RESUMABLE_SEND_RECEIVE, "resuming a send");
      args.addAll(List.of("-t", token));
      return args;
    }
    for (var f : SendFlag.values()) { // declaration order: a stable command line
      if (!r.flags().contains(f)) {
        continue;
      }
      var feature = f.feature();
      if (feature != null) {
        capabilities.require(feature, "send " + f.option());
      }
      args.add(f.option());
    }
    var from = r.from();
    if (from != null) {
      if (from.type() == VersionType.BOOKMARK) {
        capabilities.require(ZfsFeature.BOOKMARKS, "sending incrementally from bookmark " + from);
      }
      args.add(r.intermediates() ? "-I" : "-i");
      args.add(from.toString());
    }
    var to = r.to();
    if (to == null) {
      throw new IllegalArgumentException("send without a snapshot");
    }
    args.add(snapshotArg(to));
    if (r.flags().contains(SendFlag.PROPERTIES) && !capabilities.openZfs()) {
      log.debug("zfs: send -p on legacy ZFS for {}", to);
    }
    return args;
  }

  @Override
  public SendStream send(SendRequest request) throws IOException {
    var args = sendArgs(request, false);
    return new SendStream(
        startZfs(args, ZfsProcess.Stdin.NULL, ZfsProcess.Stdout.BULK),
        commandTimeout,
        timedOut(args));
  }

  @Override
  public long estimateSendSize(SendRequest request) throws IOException {
    var args = sendArgs(request, true);
    try (var p = startZfs(args, ZfsProcess.Stdin.NULL, ZfsProcess.Stdout.PIPE)) {
      var out = new String(p.stdout().readAllBytes(), StandardCharsets.UTF_8);
      p.checkSuccess();
      // OpenZFS 2.x prints the estimate to stdout; older versions to stderr
      try {
        return ZfsOutput.parseSendSize(out);
      } catch (ZfsParseException e) {
        return ZfsOutput.parseSendSize(p.stderrTail());
      }
    }
  }

  private List<String> receiveArgs(DatasetPath target, ReceiveOptions o) throws IOException {
    var args = new ArrayList<>(List.of("receive"));
    if (o.resumable()) {
      capabilities.require(ZfsFeature.RESUMABLE_SEND_RECEIVE, "resumable receive (-s)");
      args.add("-s");
    }
    if (o.noMount()) {
      args.add("-u");
    }
    if (o.force()) {
      args.add("-F");
    }
    if (!o.setProperties().isEmpty() || !o.excludeProperties().isEmpty()) {
      capabilities.require(ZfsFeature.RECEIVE_PROPERTY_OVERRIDE, "receive -o/-x");
    }
    for (var e : o.setProperties().entrySet()) {
      args.add("-o");
      args.add(e.getKey() + "=" + e.getValue());
    }
    for (var x : o.excludeProperties()) {
      args.add("-x");
      args.add(x);
    }
    args.add(dataset(target));
    return args;
  }

  /**
   * Only where {@code zfs} is the program itself: a one-word command that resolves (on {@code
   * PATH}) to an executable that is not a script. A wrapper (e.g. the test guest's, over ssh) would
   * relay the stream in a process of its own, and its failures are not {@code zfs}'s (found on the
   * guest: a receive cut mid-stream through the ssh wrapper left no resume token), so it keeps the
   * relay.
   */
  @Override
  public boolean direct() {
    return SPAWN != null && DIRECT_BINARIES.computeIfAbsent(zfs, RealZfs::isProgram);
  }

  private static final java.util.concurrent.ConcurrentMap<List<String>, Boolean> DIRECT_BINARIES =
      new java.util.concurrent.ConcurrentHashMap<>();

  /** Whether {@code argv} is one executable that is not a script ({@code #!}). */
  static boolean isProgram(List<String> argv) {
    if (argv.size() != 1) {
      return false;
    }
    String name = argv.getFirst();
    List<java.nio.file.Path> candidates = new ArrayList<>();
    if (name.contains("/")) {
      candidates.add(java.nio.file.Path.of(name));
    } else {
      for (var dir : System.getenv().getOrDefault("PATH", "").split(":")) {
        if (!dir.isEmpty()) {
          candidates.add(java.nio.file.Path.of(dir, name));
        }
      }
    }
    for (var c : candidates) {
      if (java.nio.file.Files.isRegularFile(c) && java.nio.file.Files.isExecutable(c)) {
        try (var in = java.nio.file.Files.newInputStream(c)) {
          byte[] head = in.readNBytes(2);
          return !(head.length == 2 && head[0] == '#' && head[1] == '!');
        } catch (IOException e) {
          return false;
        }
      }
    }
    return false;
  }

  @Override
  public void sendInto(SendRequest request, int fd, LongSupplier sent) throws IOException {
    runDirect(sendArgs(request, false), -1, fd, sent, "sent nothing");
  }

  @Override
  public void receiveFrom(DatasetPath target, int fd, ReceiveOptions o, LongSupplier received)
      throws IOException {
    runDirect(receiveArgs(target, o), fd, -1, received, "took no bytes");
  }

  /** How often a direct child's byte count is read while it runs (progress, stalls). */
  private static final Duration DIRECT_TICK = Duration.ofMillis(250);

  // the spawner of the direct data path's children; null where it cannot be used
  private static final @Nullable DescriptorSpawn SPAWN = DescriptorSpawn.load();

  /**
   * Runs a zfs command with a socket as its stdin or stdout and waits for it, polling the socket's
   * byte count: with a command timeout, one that moves no byte for that long is killed.
   */
  private void runDirect(
      List<String> args, int stdin, int stdout, LongSupplier bytes, String stalled)
      throws IOException {
    var spawn = SPAWN;
    if (spawn == null) {
      throw new UnsupportedOperationException("no direct data path");
    }
    invocations.incrementAndGet();
    var exited = new ZfsProcess.Exited(String.join(" ", zfs), args.getFirst(), marking(zfs, args));
    var argv = new ArrayList<String>(zfs);
    argv.addAll(args);
    var limit = commandTimeout;
    long last = bytes.getAsLong();
    long lastMoved = System.nanoTime();
    boolean killed = false;
    // the bytes are read four times a second for the progress (the kernel's count: no copy to
    // watch; the daemon's status and the tests that act mid-stream see it move: once a second was
    // too slow for a 200 MiB step, done in under one), and four times within a shorter command
    // timeout, to find a stall in time
    var tick =
        limit == null
            ? DIRECT_TICK
            : Duration.ofMillis(Math.clamp(limit.toMillis() / 4, 50, DIRECT_TICK.toMillis()));
    try (var child = spawn.start(argv, stdin, stdout)) {
      while (true) {
        Integer status;
        try {
          status = child.waitFor(tick);
        } catch (InterruptedException e) {
          child.kill();
          Thread.currentThread().interrupt();
          throw new java.io.InterruptedIOException("interrupted: " + String.join(" ", argv));
        }
        if (status != null) {
          exited.report();
          if (killed && limit != null) {
            timedOut(args).run();
            throw ZfsException.killedAtLimit(argv, stalled + " for", limit, child.stderrTail());
          }
          if (status != 0) {
            throw new ZfsException(argv, status, child.stderrTail());
          }
          return;
        }
        long now = System.nanoTime();
        long n = bytes.getAsLong();
        if (n != last) {
          last = n;
          lastMoved = now;
        } else if (limit != null && !killed && now - lastMoved > limit.toNanos()) {
          killed = true;
          child.kill();
        }
      }
    }
  }

  @Override
  public void receive(DatasetPath target, InputStream stream, ReceiveOptions o) throws IOException {
    var args = receiveArgs(target, o);
    // stdout to /dev/null, not closed: ZoL 0.6.5.9 fails with "invalid backup stream" otherwise
    try (var p = startZfs(args, ZfsProcess.Stdin.BULK, ZfsProcess.Stdout.DISCARD);
        var watch = StallWatch.of(p, commandTimeout, "took no bytes", timedOut(args))) {
      IOException writeFailure;
      if (stream instanceof ReadableByteChannel in && p.stdin() instanceof FileOutputStream out) {
        // a channel source (a socket) into the pipe through one direct buffer: no heap copy
        var pipe = out.getChannel();
        try (var arena = Arena.ofConfined()) {
          var buf = arena.allocate(LargePipe.CAPACITY).asByteBuffer();
          writeFailure =
              pump(p, () -> in.read(buf.clear()), watched(watch, () -> writeAll(pipe, buf.flip())));
        }
      } else {
        // as large as the pipe: one write fills it, and zfs receive wakes up once per pipeful
        var buf = new byte[LargePipe.CAPACITY];
        int[] n = new int[1];
        writeFailure =
            pump(
                p,
                () -> n[0] = stream.read(buf),
                watched(watch, () -> p.stdin().write(buf, 0, n[0])));
      }
      if (watch != null && watch.fired()) {
        var f = watch.failure(p.argv(), p.failure(ZfsException.NO_STATUS).stderr());
        if (writeFailure != null) {
          f.addSuppressed(writeFailure);
        }
        throw f;
      }
      try {
        p.stdin().close();
      } catch (IOException e) {
        if (writeFailure == null) {
          writeFailure = e;
        }
      }
      int status = p.waitFor();
      if (status != 0) {
        var f = p.failure(status);
        if (writeFailure != null) {
          f.addSuppressed(writeFailure);
        }
        throw f;
      }
      if (writeFailure != null) {
        throw writeFailure;
      }
    }
  }

  /** {@code w} with the stall watch told of each write (as is without one). */
  private static ChunkWriter watched(@Nullable StallWatch watch, ChunkWriter w) {
    if (watch == null) {
      return w;
    }
    return () -> {
      watch.enter();
      try {
        w.write();
      } finally {
        watch.exit();
      }
    };
  }

  /** Reads a chunk: its length, -1 at the end. */
  @FunctionalInterface
  private interface ChunkReader {
    int read() throws IOException;
  }

  /** Writes the chunk just read. */
  @FunctionalInterface
  private interface ChunkWriter {
    void write() throws IOException;
  }

  /**
   * Copies chunks into {@code zfs receive}'s stdin until the source ends.
   *
   * @return the write failure (receive exited early; its status says why), or null
   * @throws IOException the source's failure, after killing the receive (its input is bad)
   */
  private static @Nullable IOException pump(ZfsProcess p, ChunkReader in, ChunkWriter out)
      throws IOException {
    while (true) {
      int n;
      try {
        n = in.read();
      } catch (IOException e) {
        p.close();
        throw e;
      }
      if (n == -1) {
        return null;
      }
      try {
        out.write();
      } catch (IOException e) {
        return e;
      }
    }
  }

  private static void writeAll(FileChannel out, ByteBuffer buf) throws IOException {
    while (buf.hasRemaining()) {
      out.write(buf);
    }
  }

  @Override
  public void abortReceive(DatasetPath target) throws IOException {
    capabilities.require(ZfsFeature.RECEIVE_ABORT, "aborting a partial receive");
    exec(List.of("receive", "-A", dataset(target)));
  }

  @Override
  public Optional<String> receiveResumeToken(DatasetPath filesystem) throws IOException {
    if (!capabilities.has(ZfsFeature.RESUMABLE_SEND_RECEIVE)) {
      return Optional.empty();
    }
    var props = getProperties(List.of(dataset(filesystem)), List.of("receive_resume_token"));
    var p = props.getOrDefault(dataset(filesystem), Map.of()).get("receive_resume_token");
    if (p == null) {
      throw new ZfsParseException("no receive_resume_token row for " + filesystem);
    }
    return p.isSet() ? Optional.of(p.value()) : Optional.empty();
  }

  // ---- argument checks -----------------------------------------------------------------------

  private static String dataset(DatasetPath p) {
    if (p.isEmpty()) {
      throw new IllegalArgumentException("the root path is not a dataset");
    }
    var s = p.toString();
    if (s.startsWith("-")) {
      throw new IllegalArgumentException("dataset name starts with '-': " + s);
    }
    return s;
  }

  private static String checkDatasetArg(String d) {
    if (d.isEmpty() || d.startsWith("-") || d.indexOf('\t') >= 0 || d.indexOf('\n') >= 0) {
      throw new IllegalArgumentException("invalid dataset name '" + d + "'");
    }
    return d;
  }

  private static String snapshotArg(FullName s) {
    if (s.type() != VersionType.SNAPSHOT) {
      throw new IllegalArgumentException("not a snapshot: " + s);
    }
    dataset(s.filesystem());
    return s.toString();
  }

  private static String checkVersionName(String name) {
    if (name.isEmpty()
        || name.indexOf('@') >= 0
        || name.indexOf('#') >= 0
        || name.indexOf('/') >= 0
        || name.indexOf(',') >= 0
        || name.indexOf('\t') >= 0
        || name.indexOf('\n') >= 0) {
      throw new IllegalArgumentException("invalid snapshot/bookmark name '" + name + "'");
    }
    return name;
  }
}
