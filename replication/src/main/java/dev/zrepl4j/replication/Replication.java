package dev.zrepl4j.replication;

import dev.zrepl4j.rpc.DirectSource;
import dev.zrepl4j.rpc.DirectStream;
import dev.zrepl4j.rpc.ErrorCode;
import dev.zrepl4j.rpc.RefusedException;
import dev.zrepl4j.rpc.RemoteException;
import dev.zrepl4j.zfs.DatasetPath;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.SocketTimeoutException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.function.Consumer;
import java.util.function.LongConsumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One replication run: lists both sides (one batched version listing per side), plans every
 * filesystem with the {@link Planner}, runs the steps and reports per filesystem. Drivers ({@link
 * Push}, {@link Pull}, {@link Local}) supply the two sides through a {@link Connector}.
 *
 * <p>Implementation notes: the steps of one filesystem run one after the other; among the
 * filesystems whose next step may start, the step whose {@code to} snapshot is the oldest (creation
 * time, then name) goes first, and a filesystem's initial (full) step waits until the initial steps
 * of its ancestors in this run succeeded. Up to {@link Config#stepConcurrency()} steps run at once,
 * each worker on its own connection. A {@link RemoteException} is permanent (except {@link
 * ErrorCode#UNAVAILABLE}): it stops that filesystem, and the initial replication of its
 * descendants, while the others go on. Any other {@link IOException} is temporary: the worker drops
 * its connection, waits, reconnects, lists that filesystem again on both sides and plans it anew,
 * so that a receive that did complete is not repeated and a partial one is resumed where the
 * receiver offers a resume token. Each filesystem has {@link Config#maxAttempts()} attempts per
 * step.
 *
 * <p>A run is not reentrant: call {@link #run()} once per instance.
 */
public final class Replication {
  private static final Logger log = LoggerFactory.getLogger(Replication.class);

  /**
   * The settings of a replication run.
   *
   * @param job the job name (logs, holds and cursors)
   * @param initialPolicy what to do for filesystems the receiver lacks
   * @param initialProtection protection of initial (full) steps
   * @param incrementalProtection protection of incremental steps
   * @param batchIntermediates send consecutive incremental snapshots as one {@code -I} step
   * @param stepConcurrency steps running at once (at least 1)
   * @param maxAttempts attempts per step for temporary errors (at least 1)
   * @param retryBackoff wait before the first retry; doubles with each further one, up to one
   *     minute ({@link #retryWait})
   * @param clock the clock for the report's timings
   * @param sizeEstimates size estimates ({@code zfs send -n -v -P} on the sender) running at once
   *     (zrepl's {@code replication.concurrency.size_estimates}, at least 1): before a filesystem's
   *     first step, every step planned for it is estimated, for progress and ETA
   * @param followRenames rename the receiver's copy of a filesystem the sender renamed or moved
   *     ({@code zrepl4j_follow_renames}) instead of only reporting it
   */
  public record Config(
      String job,
      InitialPolicy initialPolicy,
      Protection initialProtection,
      Protection incrementalProtection,
      boolean batchIntermediates,
      int stepConcurrency,
      int maxAttempts,
      Duration retryBackoff,
      Clock clock,
      int sizeEstimates,
      boolean followRenames) {
    private static final Duration MAX_RETRY_WAIT = Duration.ofMinutes(1);

    public Config {
      if (sizeEstimates < 1) {
        throw new IllegalArgumentException("sizeEstimates " + sizeEstimates + " < 1");
      }
      if (job.isEmpty()) {
        throw new IllegalArgumentException("empty job name");
      }
      if (stepConcurrency < 1) {
        throw new IllegalArgumentException("stepConcurrency " + stepConcurrency + " < 1");
      }
      if (maxAttempts < 1) {
        throw new IllegalArgumentException("maxAttempts " + maxAttempts + " < 1");
      }
      if (retryBackoff.isNegative()) {
        throw new IllegalArgumentException("negative retryBackoff " + retryBackoff);
      }
    }

    /** The settings with zrepl's default of 4 size estimates at once, renames only reported. */
    public Config(
        String job,
        InitialPolicy initialPolicy,
        Protection initialProtection,
        Protection incrementalProtection,
        boolean batchIntermediates,
        int stepConcurrency,
        int maxAttempts,
        Duration retryBackoff,
        Clock clock) {
      this(
          job,
          initialPolicy,
          initialProtection,
          incrementalProtection,
          batchIntermediates,
          stepConcurrency,
          maxAttempts,
          retryBackoff,
          clock,
          4,
          false);
    }

    /**
     * zrepl's defaults: most_recent, guarantee_resumability, no batching, 1 step, 3 attempts, 4
     * size estimates.
     */
    public static Config defaults(String job) {
      return new Config(
          job,
          InitialPolicy.MOST_RECENT,
          Protection.GUARANTEE_RESUMABILITY,
          Protection.GUARANTEE_RESUMABILITY,
          false,
          1,
          3,
          Duration.ofSeconds(5),
          Clock.systemUTC());
    }

    /** zrepl's {@code replication.concurrency.size_estimates}. */
    public Config withSizeEstimates(int estimates) {
      return with(c -> c.sizeEstimates = estimates);
    }

    /** Sends consecutive incremental snapshots as one {@code -I} step, or not. */
    public Config withBatchIntermediates(boolean batch) {
      return with(c -> c.batchIntermediates = batch);
    }

    /** {@code zrepl4j_follow_renames}: see {@link #followRenames}. */
    public Config withFollowRenames(boolean follow) {
      return with(c -> c.followRenames = follow);
    }

    /** zrepl's {@code replication.protection}: {@code initial} and {@code incremental}. */
    public Config withProtection(Protection initial, Protection incremental) {
      return with(
          c -> {
            c.initialProtection = initial;
            c.incrementalProtection = incremental;
          });
    }

    /** What to do for filesystems the receiver lacks. */
    public Config withInitialPolicy(InitialPolicy policy) {
      return with(c -> c.initialPolicy = policy);
    }

    /** Attempts per step and the wait before the first retry (see {@link #retryWait}). */
    public Config withRetries(int attempts, Duration backoff) {
      return with(
          c -> {
            c.maxAttempts = attempts;
            c.retryBackoff = backoff;
          });
    }

    /** Steps running at once. */
    public Config withStepConcurrency(int steps) {
      return with(c -> c.stepConcurrency = steps);
    }

    /**
     * How long to wait after {@code failedAttempts} failed attempts before the next one, the one
     * rule for steps and for connecting: {@link #retryBackoff} after the first, doubling after each
     * further one, but never more than one minute (or {@link #retryBackoff} if that is longer).
     *
     * @throws IllegalArgumentException if {@code failedAttempts < 1}
     */
    public Duration retryWait(int failedAttempts) {
      if (failedAttempts < 1) {
        throw new IllegalArgumentException("failedAttempts " + failedAttempts + " < 1");
      }
      var cap = retryBackoff.compareTo(MAX_RETRY_WAIT) > 0 ? retryBackoff : MAX_RETRY_WAIT;
      var wait = retryBackoff;
      for (int i = 1; i < failedAttempts && wait.compareTo(cap) < 0; i++) {
        wait = wait.multipliedBy(2);
      }
      return wait.compareTo(cap) > 0 ? cap : wait;
    }

    /** The one copy path of the {@code with} methods: this config with {@code change} applied. */
    private Config with(Consumer<Components> change) {
      var c = new Components(this);
      change.accept(c);
      return c.config();
    }

    /** The components of a config being copied; only {@link #with} uses it. */
    private static final class Components {
      String job;
      InitialPolicy initialPolicy;
      Protection initialProtection;
      Protection incrementalProtection;
      boolean batchIntermediates;
      int stepConcurrency;
      int maxAttempts;
      Duration retryBackoff;
      Clock clock;
      int sizeEstimates;
      boolean followRenames;

      Components(Config c) {
        job = c.job;
        initialPolicy = c.initialPolicy;
        initialProtection = c.initialProtection;
        incrementalProtection = c.incrementalProtection;
        batchIntermediates = c.batchIntermediates;
        stepConcurrency = c.stepConcurrency;
        maxAttempts = c.maxAttempts;
        retryBackoff = c.retryBackoff;
        clock = c.clock;
        sizeEstimates = c.sizeEstimates;
        followRenames = c.followRenames;
      }

      Config config() {
        return new Config(
            job,
            initialPolicy,
            initialProtection,
            incrementalProtection,
            batchIntermediates,
            stepConcurrency,
            maxAttempts,
            retryBackoff,
            clock,
            sizeEstimates,
            followRenames);
      }
    }
  }

  /**
   * The two sides of a run, open until closed.
   *
   * @param sender the sending side
   * @param receiver the receiving side
   * @param resources closed (once) by {@link #close()}: the connections behind the two sides
   */
  public record Connection(
      SenderApi sender, ReceiverApi receiver, Closeable resources, boolean inProcess)
      implements Closeable {
    /**
     * @param inProcess both sides are in this process (a local job): a step's stream may go on a
     *     loopback connection from {@code zfs send} to {@code zfs recv} ({@link
     *     DirectStream#local})
     */
    public Connection {}

    public Connection(SenderApi sender, ReceiverApi receiver, Closeable resources) {
      this(sender, receiver, resources, false);
    }

    @Override
    public void close() throws IOException {
      resources.close();
    }
  }

  /** Opens the two sides; called again after a temporary error to reconnect. Thread-safe. */
  @FunctionalInterface
  public interface Connector {
    /**
     * @throws IOException if a side cannot be reached
     */
    Connection connect() throws IOException;

    /**
     * One replication run over this connector.
     *
     * @throws IOException if a side could not be listed
     */
    default Report run(Config config, Progress progress) throws IOException, InterruptedException {
      return run(config, progress, new Settled());
    }

    /**
     * One replication run over this connector that remembers, in {@code settled}, what it confirmed
     * (a driver keeps one for all its runs).
     *
     * @throws IOException if a side could not be listed
     */
    default Report run(Config config, Progress progress, Settled settled)
        throws IOException, InterruptedException {
      return new Replication(config, this, progress, settled).run();
    }
  }

  /**
   * What a driver remembers between its runs: the filesystems whose sender-side bookkeeping is
   * known to be right, that is the replication cursor at the newest snapshot both sides have and no
   * step hold of the job left behind. A filesystem leaves the set when a step starts and returns
   * when the sender has confirmed the step.
   *
   * <p>A run confirms every up-to-date filesystem that is not in the set (zrepl's
   * HintMostRecentCommonAncestor): after a crash or a lost connection between a step's receive and
   * the sender's completion, the next run finds that filesystem up to date, and its cursor would
   * otherwise stay on the older snapshot and its step holds would stay for good. A daemon keeps one
   * per job, so the confirmation costs its few zfs commands once after a start and after a failure,
   * not on every run. Thread-safe.
   */
  public static final class Settled {
    private final Set<String> filesystems = ConcurrentHashMap.newKeySet();

    /** Whether {@code filesystem} (in the sender's namespace) needs no confirmation. */
    public boolean contains(String filesystem) {
      return filesystems.contains(filesystem);
    }

    /** How many filesystems are settled (the daemon's {@code zrepl_endpoint_abstractions_...}). */
    public int size() {
      return filesystems.size();
    }

    void add(String filesystem) {
      filesystems.add(filesystem);
    }

    void remove(String filesystem) {
      filesystems.remove(filesystem);
    }
  }

  /** Receives the progress of running steps; called from the worker threads. */
  @FunctionalInterface
  public interface Progress {
    /**
     * @param bytes bytes of the step's stream so far
     */
    void transferred(String filesystem, Step step, long bytes);

    /**
     * Where a running step is: called as it starts (0 bytes) and as its stream flows. By default
     * tells {@link #transferred}.
     */
    default void step(StepProgress progress) {
      transferred(progress.filesystem(), progress.step(), progress.bytes());
    }

    /**
     * A step is done: the receiver has it and the sender has confirmed it. {@code last} holds its
     * final byte count. By default nothing.
     */
    default void stepDone(StepProgress last) {}

    /** Ignores progress. */
    static Progress none() {
      return (fs, step, bytes) -> {};
    }
  }

  /**
   * Where a running step is.
   *
   * @param filesystem in the sender's namespace
   * @param step the step
   * @param stepNumber the step's number among the filesystem's steps of this run, from 1
   * @param steps the filesystem's steps in this run (done, running and to come)
   * @param bytes stream bytes so far
   * @param expectedBytes the sender's estimate of the step's stream size; -1 when it has none
   *     (zfs-fuse, an estimate that failed)
   * @param started when the step started
   */
  public record StepProgress(
      String filesystem,
      Step step,
      int stepNumber,
      int steps,
      long bytes,
      long expectedBytes,
      Instant started) {}

  /**
   * The outcome of one filesystem.
   *
   * @param filesystem in the sender's namespace
   * @param state how it ended
   * @param stepsDone steps completed in this run
   * @param stepsTotal steps planned (done plus those not run)
   * @param bytes stream bytes transferred
   * @param message the reason for anything but {@link State#REPLICATED} (conflict report, error)
   * @param newestCommon the newest version both sides had when the run ended (the last step's
   *     target, or the version the plan found them in sync at), null if none is known (nothing
   *     received yet, or a conflict before any step)
   */
  public record FsReport(
      String filesystem,
      State state,
      int stepsDone,
      int stepsTotal,
      long bytes,
      String message,
      @Nullable FsVersion newestCommon) {
    /** A report that knows no common version. */
    public FsReport(
        String filesystem, State state, int stepsDone, int stepsTotal, long bytes, String message) {
      this(filesystem, state, stepsDone, stepsTotal, bytes, message, null);
    }

    /** How a filesystem ended. */
    public enum State {
      /** Nothing to send. */
      UP_TO_DATE,
      /** Every planned step succeeded. */
      REPLICATED,
      /** A conflict needs the operator; nothing was destroyed. */
      CONFLICT,
      /** A step failed permanently, or temporarily on every attempt. */
      FAILED,
      /** Not tried: its parent's initial replication failed. */
      SKIPPED
    }

    /** Whether nothing is wrong with it. */
    public boolean ok() {
      return state == State.UP_TO_DATE || state == State.REPLICATED;
    }
  }

  /**
   * The outcome of a run.
   *
   * @param job the job name
   * @param started when the run started
   * @param took how long it took
   * @param filesystems one report per sender filesystem, in the sender's order
   */
  public record Report(String job, Instant started, Duration took, List<FsReport> filesystems) {
    public Report {
      filesystems = List.copyOf(filesystems);
    }

    /** Whether every filesystem is up to date or replicated. */
    public boolean ok() {
      return filesystems.stream().allMatch(FsReport::ok);
    }

    /** The report of {@code filesystem}. */
    public FsReport of(String filesystem) {
      return filesystems.stream()
          .filter(f -> f.filesystem().equals(filesystem))
          .findFirst()
          .orElseThrow(() -> new IllegalArgumentException("no report for " + filesystem));
    }
  }

  private final Config config;
  private final Connector connector;
  private final Progress progress;
  private final Planner planner;
  private final Settled settled;
  private final Semaphore estimateSlots;

  /** A run that confirms every up-to-date filesystem's sender bookkeeping (nothing remembered). */
  public Replication(Config config, Connector connector, Progress progress) {
    this(config, connector, progress, new Settled());
  }

  /**
   * @param settled what earlier runs of the same driver confirmed; updated by this run
   */
  public Replication(Config config, Connector connector, Progress progress, Settled settled) {
    this.config = config;
    this.connector = connector;
    this.progress = progress;
    this.planner = new Planner(config.initialPolicy(), config.batchIntermediates());
    this.settled = settled;
    this.estimateSlots = new Semaphore(config.sizeEstimates());
  }

  /**
   * Runs once: lists, plans and replicates.
   *
   * @return one report per filesystem the sender offers
   * @throws IOException if listing either side failed (on every attempt, or permanently)
   * @throws InterruptedException if interrupted; running steps are abandoned
   */
  public Report run() throws IOException, InterruptedException {
    var started = config.clock().instant();
    var first = connectWithRetries();
    Map<String, FsRun> runs;
    try {
      runs = listAndPlan(first);
    } catch (IOException | RuntimeException e) {
      closeQuietly(first);
      throw e;
    }
    var scheduler = new Scheduler(runs);
    var unconfirmed =
        runs.values().stream()
            .filter(r -> r.common != null && r.open() && !settled.contains(r.fs))
            .toList();
    var protecting = protectAhead(first, runs);
    var completions = new Completions(scheduler, protecting);
    boolean stopped = true;
    try {
      runWorkers(scheduler, completions, unconfirmed, first);
      stopped = false;
    } finally {
      // once every worker has ended (the executor's close waits for them): the completions not
      // sent yet. A stopped run sends none (its peer may be what stalled it): the step holds keep
      // those snapshots, and the next run, finding both sides in sync, completes them
      completions.finish(stopped);
    }
    var reports = new ArrayList<FsReport>();
    for (var r : runs.values()) {
      var rep = r.report();
      reports.add(rep);
      if (rep.ok()) {
        log.info(
            "{}: {}: {} ({}/{} steps, {} bytes){}",
            config.job(),
            rep.filesystem(),
            rep.state(),
            rep.stepsDone(),
            rep.stepsTotal(),
            rep.bytes(),
            rep.message().isEmpty() ? "" : ": " + rep.message());
      } else {
        log.warn(
            "{}: {}: {} ({}/{} steps, {} bytes): {}",
            config.job(),
            rep.filesystem(),
            rep.state(),
            rep.stepsDone(),
            rep.stepsTotal(),
            rep.bytes(),
            rep.message());
      }
    }
    return new Report(
        config.job(), started, Duration.between(started, config.clock().instant()), reports);
  }

  /**
   * The most steps whose holds are placed before the first step goes: the rest are placed beside
   * the first steps, which take longer than that on zfs-fuse (a hold of ~200 snapshots took 0.4–0.6
   * s there, 16 steps of a small incremental cycle ~0.6 s with two at a time).
   */
  static final int PROTECTED_FIRST = 16;

  /**
   * Has the sender place the step holds of every planned step ({@link SenderApi#protectAll}),
   * instead of one {@code zfs hold} per step: those of the {@link #PROTECTED_FIRST} steps that go
   * first (the oldest, as the scheduler hands them out) now, the others beside the first steps. A
   * step that goes before its hold is placed places its own, as with a sender without the call or
   * refusing it (a lost connection shows at the first step).
   *
   * @return the placing of the others, running on a connection of its own (joined before any
   *     completion is sent: a hold placed after a completion released its snapshot would stay)
   */
  private Beside<Boolean> protectAhead(Connection c, Map<String, FsRun> runs) {
    record Planned(SendSpec spec, Instant created, String name, String fs) {}
    var planned = new ArrayList<Planned>();
    for (var r : runs.values()) {
      for (var step : r.queue) {
        var spec = step.sendSpec(r.fs, config.initialProtection(), config.incrementalProtection());
        if (spec.protection() == Protection.GUARANTEE_RESUMABILITY) {
          planned.add(new Planned(spec, step.to().creation(), step.to().name(), r.fs));
        }
      }
    }
    // the order the scheduler hands steps out in (Scheduler.OLDEST_STEP_FIRST), near enough
    planned.sort(
        Comparator.comparing(Planned::created)
            .thenComparing(Planned::name)
            .thenComparing(Planned::fs));
    var specs = planned.stream().map(Planned::spec).toList();
    int now = Math.min(specs.size(), PROTECTED_FIRST);
    if (!protectAll(c, specs.subList(0, now)) || now == specs.size()) {
      return Beside.none();
    }
    var rest = List.copyOf(specs.subList(now, specs.size()));
    // on a connection of its own: a worker may close the run's first connection when it is done
    // (and a call cut short on the client's side may still place its holds on the sender's)
    return Beside.start(
        thread("protect"),
        () -> {
          Connection own;
          try {
            own = connector.connect();
          } catch (IOException e) {
            log.debug(
                "{}: no connection to place the other step holds ahead ({}): each step places"
                    + " its own",
                config.job(),
                describe(e));
            return;
          }
          try {
            protectAll(own, rest);
          } finally {
            closeQuietly(own);
          }
        });
  }

  /** {@link SenderApi#protectAll} of {@code specs} in batches; whether the sender took them. */
  private boolean protectAll(Connection c, List<SendSpec> specs) {
    for (int i = 0; i < specs.size(); i += SendSpecBatch.MAX) {
      var chunk = specs.subList(i, Math.min(specs.size(), i + SendSpecBatch.MAX));
      try {
        c.sender().protectAll(new SendSpecBatch(chunk));
      } catch (IOException e) {
        log.debug(
            "{}: the sender placed no step holds ahead ({}): each step places its own",
            config.job(),
            describe(e));
        return false;
      }
    }
    return true;
  }

  /** The run's workers: the steps, and the confirmations beside them; returns when all ended. */
  private void runWorkers(
      Scheduler scheduler, Completions completions, List<FsRun> unconfirmed, Connection first)
      throws InterruptedException {
    var workers = new ArrayList<Future<?>>();
    try (var ex =
        Executors.newThreadPerTaskExecutor(
            Thread.ofPlatform().daemon().name("replication-" + config.job() + "-", 0).factory())) {
      if (!unconfirmed.isEmpty()) {
        // next to the steps, on a connection of its own: after a daemon start every in-sync
        // filesystem is confirmed once, and the steps of the others need not wait for that
        workers.add(
            ex.submit(
                () -> {
                  confirmAll(scheduler, unconfirmed);
                  return null;
                }));
      }
      for (int w = 0; w < config.stepConcurrency(); w++) {
        var conn = w == 0 ? first : null;
        workers.add(
            ex.submit(
                () -> {
                  work(scheduler, completions, conn);
                  return null;
                }));
      }
      try {
        for (var f : workers) {
          try {
            f.get();
          } catch (ExecutionException e) {
            throw new IllegalStateException("replication worker failed", e.getCause());
          }
        }
      } finally {
        // inside the try-with-resources: the executor's close() waits for the workers, and it
        // runs before an outer finally would, so an interrupted run must stop them here (a worker
        // sleeping before a retry would otherwise hold the run, and a shutdown, for its backoff)
        for (var f : workers) {
          f.cancel(true);
        }
      }
    }
  }

  // ----------------------------------------------------------------------------- listing, plans

  private Map<String, FsRun> listAndPlan(Connection c) throws IOException {
    // both sides list at once: first their filesystems, then the versions of the sender's
    // filesystems on both sides; each listing is a zfs round trip of its own. Neither side's
    // versions wait for the receiver's listing of its filesystems (with their placeholder marks a
    // listing and a zfs get, slow on a busy zfs-fuse): the receiver lists the versions of every
    // filesystem the sender has, those it lacks coming back empty, and only those it has and are
    // no placeholder are planned from
    var receiverListing = Beside.call(thread("list"), () -> c.receiver().listFilesystems());
    List<String> senderFs;
    try {
      senderFs = c.sender().listFilesystems().stream().map(FsInfo::path).toList();
    } catch (IOException | RuntimeException e) {
      receiverListing.cancel();
      throw e;
    }
    var senderVersionsTask =
        Beside.call(
            thread("versions"),
            () -> byName(c.sender().listVersionsOf(new FsListRequest(senderFs))));
    var receiverVersionsTask =
        senderFs.isEmpty()
            ? null
            : Beside.call(
                thread("received"),
                () -> byName(c.receiver().listVersionsOf(new FsListRequest(senderFs))));
    var receiverFs = new HashMap<String, FsInfo>();
    var receiverVersions = new HashMap<String, List<FsVersion>>();
    try {
      for (var f : receiverListing.join()) {
        receiverFs.put(f.path(), f);
      }
      if (receiverVersionsTask != null) {
        receiverVersionsTask
            .join()
            .forEach(
                (fs, versions) -> {
                  var info = receiverFs.get(fs);
                  if (info != null && !info.placeholder()) {
                    receiverVersions.put(fs, versions);
                  }
                });
      }
    } catch (IOException | RuntimeException e) {
      senderVersionsTask.cancel();
      if (receiverVersionsTask != null) {
        receiverVersionsTask.cancel();
      }
      throw e;
    }
    var senderVersions = senderVersionsTask.join();
    var renamed = renamedOnTheSender(c, senderFs, receiverFs, senderVersions);
    var runs = new LinkedHashMap<String, FsRun>();
    for (var fs : senderFs) {
      var run = new FsRun(fs);
      var moved = renamed.get(fs);
      run.apply(
          moved != null
              ? moved
              : plan(
                  fs,
                  senderVersions.getOrDefault(fs, List.of()),
                  receiverFs.get(fs),
                  receiverVersions.getOrDefault(fs, List.of())));
      runs.put(fs, run);
    }
    return runs;
  }

  /**
   * The sender's filesystems that the receiver lacks but has under another name: a receiver
   * filesystem the sender no longer lists holds one of their snapshots (the same guid), so the
   * filesystem was renamed or moved on the sender (zrepl#408). Sending it in full would make a
   * second copy and leave the first to no one; it is reported instead, with what to do. Costs one
   * more listing of the receiver, only in a run where the sender has new filesystems and the
   * receiver ones the sender lacks.
   */
  private Map<String, FsPlan> renamedOnTheSender(
      Connection c,
      List<String> senderFs,
      Map<String, FsInfo> receiverFs,
      Map<String, List<FsVersion>> senderVersions)
      throws IOException {
    var listed = new java.util.HashSet<>(senderFs);
    var fresh = senderFs.stream().filter(fs -> !receiverFs.containsKey(fs)).toList();
    var gone =
        receiverFs.values().stream()
            .filter(f -> !f.placeholder() && !listed.contains(f.path()))
            .map(FsInfo::path)
            .sorted()
            .toList();
    if (fresh.isEmpty() || gone.isEmpty()) {
      return Map.of();
    }
    var goneVersions = byName(c.receiver().listVersionsOf(new FsListRequest(gone)));
    var holder = new HashMap<Long, String>();
    for (var g : gone) {
      for (var v : goneVersions.getOrDefault(g, List.of())) {
        if (v.isSnapshot()) {
          holder.putIfAbsent(v.guid(), g);
        }
      }
    }
    var out = new HashMap<String, FsPlan>();
    for (var fs : fresh) {
      for (var v : senderVersions.getOrDefault(fs, List.of()).reversed()) {
        var old = v.isSnapshot() ? holder.get(v.guid()) : null;
        if (old != null && config.followRenames()) {
          out.put(
              fs,
              followRename(
                  c,
                  fs,
                  Objects.requireNonNull(receiverFs.get(old)),
                  v,
                  senderVersions,
                  goneVersions));
          break;
        }
        if (old != null) {
          out.put(
              fs,
              new FsPlan.Conflict(
                  FsPlan.Conflict.Kind.RENAMED,
                  fs
                      + " is not on the receiver, but its snapshot "
                      + v
                      + " is, as "
                      + old
                      + "@"
                      + v.name()
                      + ": it was renamed or moved on the sender. Not sent in full (a second"
                      + " copy): on the receiver, rename the copy of "
                      + old
                      + " to the name of "
                      + fs
                      + " (zfs rename), and the next run goes on incrementally"));
          log.warn(
              "{}: {}: looks renamed from {} on the sender (snapshot {})",
              config.job(),
              fs,
              old,
              v);
          break;
        }
      }
    }
    return out;
  }

  private FsPlan plan(
      String fs, List<FsVersion> sender, @Nullable FsInfo receiver, List<FsVersion> received) {
    try {
      return planner.plan(fs, sender, receiver, received);
    } catch (IllegalArgumentException e) {
      return new FsPlan.Conflict(
          FsPlan.Conflict.Kind.NO_COMMON_ANCESTOR, "cannot plan " + fs + ": " + e.getMessage());
    }
  }

  /**
   * Has the receiver rename its copy {@code old} to {@code fs} and plans {@code fs} on the renamed
   * copy (incremental); a refused rename is the filesystem's conflict, with the receiver's reason.
   */
  private FsPlan followRename(
      Connection c,
      String fs,
      FsInfo oldInfo,
      FsVersion evidence,
      Map<String, List<FsVersion>> senderVersions,
      Map<String, List<FsVersion>> receiverVersions)
      throws IOException {
    var old = oldInfo.path();
    try {
      c.receiver().renameReceived(new ReceivedRename(old, fs, evidence));
    } catch (RemoteException e) {
      return new FsPlan.Conflict(
          FsPlan.Conflict.Kind.RENAMED,
          fs
              + " was renamed or moved on the sender from "
              + old
              + " (snapshot "
              + evidence
              + " on both), but the receiver did not rename its copy: "
              + e.getMessage());
    }
    log.info("{}: {}: the receiver renamed its copy of {} to it", config.job(), fs, old);
    return plan(
        fs,
        senderVersions.getOrDefault(fs, List.of()),
        new FsInfo(fs, false, oldInfo.resumeToken()),
        receiverVersions.getOrDefault(old, List.of()));
  }

  /** Lists one filesystem on both sides again and plans it (after a temporary error). */
  private FsPlan replan(Connection c, String fs) throws IOException {
    var sender = byName(c.sender().listVersionsOf(new FsListRequest(List.of(fs))));
    FsInfo info = null;
    for (var f : c.receiver().listFilesystems()) {
      if (f.path().equals(fs)) {
        info = f;
      }
    }
    List<FsVersion> received = List.of();
    if (info != null && !info.placeholder()) {
      received =
          byName(c.receiver().listVersionsOf(new FsListRequest(List.of(fs))))
              .getOrDefault(fs, List.of());
    }
    return plan(fs, sender.getOrDefault(fs, List.of()), info, received);
  }

  private static Map<String, List<FsVersion>> byName(List<FsVersionList> lists) {
    var m = new HashMap<String, List<FsVersion>>();
    for (var l : lists) {
      m.put(l.filesystem(), l.versions());
    }
    return m;
  }

  // ----------------------------------------------------------------------------------- execution

  private void work(Scheduler scheduler, Completions completions, @Nullable Connection initial)
      throws InterruptedException {
    Connection conn = initial;
    try {
      FsRun run;
      while ((run = scheduler.next()) != null) {
        conn = runNextStep(scheduler, run, conn);
        scheduler.finished(run);
        completions.offer(run);
      }
      conn = completions.keep(conn); // the completions at the run's end go over it
    } finally {
      closeQuietly(conn);
    }
  }

  /**
   * Runs {@code run}'s next step, retrying temporary errors; updates {@code run}. Returns the
   * connection to go on with (null if it was dropped).
   */
  private @Nullable Connection runNextStep(
      Scheduler scheduler, FsRun run, @Nullable Connection conn) throws InterruptedException {
    for (int attempt = 1; ; attempt++) {
      try {
        if (conn == null) {
          conn = connector.connect();
        }
        if (attempt > 1) {
          var plan = replan(conn, run.fs);
          synchronized (scheduler) {
            run.apply(plan);
          }
          if (run.finished()) {
            // the failed attempt may have been the sender's completion
            confirm(conn, run, scheduler);
            return conn;
          }
        }
        var step = Objects.requireNonNull(run.queue.peekFirst());
        estimate(conn, run, scheduler);
        int stepNumber;
        int steps;
        long expected;
        synchronized (scheduler) {
          stepNumber = run.done + 1;
          steps = run.done + run.queue.size();
          expected = run.estimates.getOrDefault(step, -1L);
        }
        var started = config.clock().instant();
        long bytes =
            transfer(
                conn,
                run.fs,
                Objects.requireNonNull(step),
                total ->
                    progress.step(
                        new StepProgress(
                            run.fs, step, stepNumber, steps, total, expected, started)),
                n -> {
                  synchronized (scheduler) {
                    run.received = n;
                  }
                });
        synchronized (scheduler) {
          run.queue.removeFirst();
          // the sender hears of it once the filesystem's steps of this run are done (Completions)
          run.completion = new SendCompleted(run.fs, step.from(), step.to());
          run.newestCommon = step.to();
          run.done++;
          run.bytes += bytes;
          run.received = -1;
        }
        progress.stepDone(
            new StepProgress(run.fs, step, stepNumber, steps, bytes, expected, started));
        return conn;
      } catch (RemoteException e) {
        closeQuietly(conn);
        conn = null;
        if (Thread.currentThread().isInterrupted()) {
          throw stopped(e);
        }
        if (e.code() != ErrorCode.UNAVAILABLE || attempt >= config.maxAttempts()) {
          synchronized (scheduler) {
            run.fail(FsReport.State.FAILED, e.getMessage());
          }
          return null;
        }
        log.warn(
            "{}: {}: {} (attempt {}), retrying", config.job(), run.fs, e.getMessage(), attempt);
      } catch (RefusedException e) {
        // the peer refused this client (certificate, CN, key): retrying will not help
        closeQuietly(conn);
        synchronized (scheduler) {
          run.fail(FsReport.State.FAILED, describe(e));
        }
        return null;
      } catch (IOException e) {
        closeQuietly(conn);
        conn = null;
        if (stopping(e)) {
          throw stopped(e);
        }
        // a timeout (a silent peer, a stalled link) is temporary like any other I/O error
        if (attempt >= config.maxAttempts()) {
          synchronized (scheduler) {
            run.fail(FsReport.State.FAILED, "after " + attempt + " attempts: " + describe(e));
          }
          return null;
        }
        log.warn(
            "{}: {}: {} (attempt {} of {}), retrying in {}",
            config.job(),
            run.fs,
            describe(e),
            attempt,
            config.maxAttempts(),
            config.retryWait(attempt));
      } catch (RuntimeException e) {
        // The worker's top-level catch: a bug must not stop the other filesystems.
        closeQuietly(conn);
        log.warn("{}: {}: unexpected failure", config.job(), run.fs, e);
        synchronized (scheduler) {
          run.fail(FsReport.State.FAILED, "unexpected: " + e);
        }
        return null;
      }
      Thread.sleep(config.retryWait(attempt));
    }
  }

  /**
   * Asks the sender for the size of each of {@code run}'s planned steps that has no estimate yet
   * (zrepl estimates a filesystem's steps as it plans it, before its first step), at most {@link
   * Config#sizeEstimates()} at once across the run's workers. An estimate that fails is logged and
   * left unknown: it only feeds progress and ETA, and the step itself will show what is wrong.
   */
  private void estimate(Connection conn, FsRun run, Scheduler scheduler)
      throws InterruptedException, InterruptedIOException {
    List<Step> missing;
    synchronized (scheduler) {
      missing = run.queue.stream().filter(s -> !run.estimates.containsKey(s)).toList();
    }
    for (var step : missing) {
      long bytes;
      estimateSlots.acquire();
      try {
        bytes =
            conn.sender()
                .sendDry(
                    step.sendSpec(
                        run.fs, config.initialProtection(), config.incrementalProtection()))
                .bytes();
      } catch (InterruptedIOException e) {
        throw e;
      } catch (IOException e) {
        log.debug("{}: {}: no size estimate for {}: {}", config.job(), run.fs, step, describe(e));
        bytes = -1;
      } finally {
        estimateSlots.release();
      }
      synchronized (scheduler) {
        run.estimates.put(step, bytes);
      }
    }
  }

  /** Confirms {@code pending} (see {@link #confirm}) over a connection of their own. */
  private void confirmAll(Scheduler scheduler, List<FsRun> pending) throws InterruptedException {
    Connection c = null;
    try {
      c = connector.connect();
      for (var r : pending) {
        confirm(c, r, scheduler);
      }
    } catch (IOException e) {
      if (stopping(e)) {
        throw stopped(e);
      }
      log.warn(
          "{}: cannot connect to confirm the sender's cursor of {} filesystems (next run"
              + " retries): {}",
          config.job(),
          pending.size(),
          describe(e));
    } finally {
      closeQuietly(c);
    }
  }

  /**
   * Confirms an up-to-date filesystem's sender bookkeeping unless an earlier run did: the sender
   * moves its cursor to the newest snapshot both sides have and releases step holds left behind
   * (see {@link Settled}). A failure is reported in the filesystem's message and retried next run.
   */
  private void confirm(Connection c, FsRun run, Scheduler scheduler) throws InterruptedException {
    FsVersion common;
    synchronized (scheduler) {
      // in sync (planned so, or found so by a retry after steps of this run) and not failed
      if (run.common == null || !run.open()) {
        return;
      }
      common = run.common;
    }
    if (settled.contains(run.fs)) {
      return;
    }
    var which = "the sender's cursor";
    try {
      if (common.isSnapshot()) {
        // (only a bookmark left of it on the sender: no hold to release, no cursor to move there)
        c.sender().sendCompleted(new SendCompleted(run.fs, null, common));
      }
      synchronized (scheduler) {
        run.completion = null; // an older step's, if any: the cursor is at the newer common now
      }
      which = "the receiver's last-received hold";
      confirmReceived(c, run.fs, common);
      settled.add(run.fs);
      log.debug("{}: {}: both sides confirmed at {}", config.job(), run.fs, common);
    } catch (IOException | RuntimeException e) {
      if (e instanceof IOException io && stopping(io)) {
        throw stopped(io);
      }
      var why = e instanceof IOException io ? describe(io) : e.toString();
      log.warn(
          "{}: {}: up to date, but {} could not be confirmed at {}: {}",
          config.job(),
          run.fs,
          which,
          common,
          why);
      synchronized (scheduler) {
        run.message += "; " + which + " is not confirmed (next run retries): " + why;
      }
    }
  }

  /**
   * The receiver's half of a confirmation: its last-received hold on the base. A receiver that does
   * not know the call (zrepl, or zrepl4j before it) keeps its hold where its last receive put it,
   * as zrepl does.
   */
  private static void confirmReceived(Connection c, String fs, FsVersion base) throws IOException {
    try {
      c.receiver().confirmReceived(new ReceivedBase(fs, base));
    } catch (RemoteException e) {
      if (!String.valueOf(e.getMessage()).startsWith("unregistered endpoint")) {
        throw e;
      }
    }
  }

  /** One step: the sender's stream into the receiver. */
  private long transfer(
      Connection c, String fs, Step step, LongConsumer flowing, LongConsumer received)
      throws IOException {
    settled.remove(fs); // until the sender has confirmed this step
    var spec = step.sendSpec(fs, config.initialProtection(), config.incrementalProtection());
    log.debug("{}: {}: {}", config.job(), fs, step);
    long n;
    ReceiveResult result;
    // The send starts (step hold, zfs send) at the receiver's first read, so a remote receiver
    // prepares (lists, creates placeholders, starts zfs receive) while the sender does: on zfs-fuse
    // that overlap is ~50 ms of every step. A failure to start the send is thrown as it was raised
    // (not as the receive's failure), so that it is retried or not as before.
    var send = new LazySend(() -> c.sender().send(spec));
    flowing.accept(0);
    try (var counting = new CountingStream(send, flowing)) {
      // a local job: zfs send into a loopback connection, zfs recv from its other end
      var local = c.inProcess() ? DirectStream.local(counting, Duration.ofMinutes(1)) : null;
      try {
        result = c.receiver().receive(step.receiveSpec(fs), local != null ? local : counting);
        if (local != null) {
          counting.progress(Math.max(0, local.bytesReceived())); // all of it, as zfs recv read it
        }
      } finally {
        if (local != null) {
          local.close();
        }
      }
      n = counting.count();
      received.accept(n); // the step is on the receiver, whatever happens to its completion
    } catch (IOException | RuntimeException e) {
      var f = send.startFailure();
      if (f != null && f != e) {
        f.addSuppressed(e);
        throw f;
      }
      throw e;
    }
    // The receiver has the step. The sender's bookkeeping (cursor to the new snapshot, step holds
    // released) follows once the filesystem's steps of this run are done, batched with other
    // filesystems' (Completions); until then the step holds keep the snapshots.
    log.debug("{}: {}: {} done into {} ({} bytes)", config.job(), fs, step, result.target(), n);
    return n;
  }

  /** The name of a thread of this run's. */
  private String thread(String what) {
    return "replication-" + config.job() + "-" + what;
  }

  /**
   * Whether {@code e} means that this run is being stopped (its thread interrupted: a reset, a
   * cancelled run, a daemon stopping; or an {@link InterruptedIOException} that says so, such as a
   * connector refusing to reconnect an aborted run) rather than a temporary failure. A timeout
   * ({@link SocketTimeoutException}: a silent peer, a stalled link) is an {@code
   * InterruptedIOException} too, but temporary: it is retried like any other I/O error.
   */
  private static boolean stopping(IOException e) {
    return Thread.currentThread().isInterrupted()
        || (e instanceof InterruptedIOException && !(e instanceof SocketTimeoutException));
  }

  /** The InterruptedException that ends a stopped run's worker, the interrupt flag set. */
  private static InterruptedException stopped(IOException e) {
    Thread.currentThread().interrupt();
    var ie = new InterruptedException(e.getMessage());
    ie.initCause(e);
    return ie;
  }

  private static String describe(IOException e) {
    return e.getMessage() == null
        ? e.toString()
        : e.getClass().getSimpleName() + ": " + e.getMessage();
  }

  private Connection connectWithRetries() throws IOException, InterruptedException {
    for (int attempt = 1; ; attempt++) {
      try {
        return connector.connect();
      } catch (RemoteException | RefusedException e) {
        throw e; // the peer said no: dialing again will not change its mind
      } catch (IOException e) {
        if (stopping(e)) {
          throw stopped(e);
        }
        if (attempt >= config.maxAttempts()) {
          throw e;
        }
        log.warn(
            "{}: connect: {} (attempt {}), retrying in {}",
            config.job(),
            describe(e),
            attempt,
            config.retryWait(attempt));
      }
      Thread.sleep(config.retryWait(attempt));
    }
  }

  private static void closeQuietly(@Nullable Closeable c) {
    if (c == null) {
      return;
    }
    try {
      c.close();
    } catch (IOException e) {
      log.debug("closing a connection: {}", e.toString());
    }
  }

  // ----------------------------------------------------------------------------- completions

  /** The most completions sent in one {@link SenderApi#sendCompletedAll} during a run. */
  static final int COMPLETION_BATCH = 256;

  /**
   * The senders' bookkeeping after the steps ({@link SenderApi#sendCompleted}: cursor to the newest
   * received snapshot, step holds released), batched: a filesystem's completion goes once its steps
   * of this run are done (never while one of its steps runs), for its newest step (the sender also
   * releases the step holds of the older ones), with other filesystems' in one call of {@link
   * COMPLETION_BATCH} or at the run's end. Where a run ends early (stopped, a crash), the step
   * holds keep the snapshots and the next run completes them (see {@link #confirm}).
   */
  private final class Completions {
    private final Scheduler scheduler;
    private final List<FsRun> ready = new ArrayList<>(); // guarded by this
    // a connection a worker left when it ran out of steps, for the completions at the end
    private @Nullable Connection spare; // guarded by this
    // whether the receiver holds received snapshots ahead (holdReceivedAll), and the sender moves
    // its cursors ahead (holdCursorsAll); each false once that side said it does not know the call
    private volatile boolean holdAhead = true;
    private volatile boolean cursorsAhead = true;

    // the step holds placed beside the first steps: no completion is sent before they are
    private final Beside<Boolean> protecting;

    Completions(Scheduler scheduler, Beside<Boolean> protecting) {
      this.scheduler = scheduler;
      this.protecting = protecting;
    }

    /** Waits until the step holds placed beside the first steps are (or failed to be) placed. */
    private void protectionPlaced() {
      try {
        protecting.joinUninterruptibly();
      } catch (IOException | RuntimeException e) {
        log.debug("{}: placing step holds beside the steps: {}", config.job(), e.toString());
      }
    }

    /** Queues {@code run}'s completion if its steps of this run are done; sends a full batch. */
    void offer(FsRun run) {
      List<FsRun> full = null;
      synchronized (scheduler) {
        if (run.completion == null || !run.finished() || run.active) {
          return;
        }
      }
      synchronized (this) {
        ready.add(run);
        if (ready.size() >= COMPLETION_BATCH) {
          full = List.copyOf(ready);
          ready.clear();
        }
      }
      if (full != null) {
        var batch = full;
        protectionPlaced();
        try {
          Beside.start(thread("completed"), () -> send(batch, null)).joinUninterruptibly();
        } catch (IOException e) {
          throw new IllegalStateException("completions failed unexpectedly", e); // send() reports
        }
      }
    }

    /** Takes {@code conn} as the spare connection if there is none yet; returns what is left. */
    synchronized @Nullable Connection keep(@Nullable Connection conn) {
      if (spare == null && conn != null) {
        spare = conn;
        return null;
      }
      return conn;
    }

    /**
     * At the run's end: sends every queued completion (and those of filesystems whose steps ended
     * early), unless the run was {@code stopped}; closes the spare connection.
     */
    void finish(boolean stopped) {
      // also in a stopped run: the holds are placed, or failed, before the run ends
      protectionPlaced();
      List<FsRun> rest;
      Connection c;
      synchronized (this) {
        rest = new ArrayList<>(ready);
        ready.clear();
        c = spare;
        spare = null;
      }
      try {
        if (stopped) {
          long left;
          synchronized (scheduler) {
            left = scheduler.runs.stream().filter(r -> r.completion != null).count();
          }
          if (left > 0) {
            log.info(
                "{}: run stopped: {} filesystems' completed steps are left for the next run to"
                    + " confirm to the sender (their step holds keep the snapshots until then)",
                config.job(),
                left);
          }
          return;
        }
        flush(rest, c);
        c = null; // flush closed it
      } finally {
        closeQuietly(c);
      }
    }

    private void flush(List<FsRun> rest, @Nullable Connection c) {
      synchronized (scheduler) {
        // a filesystem no worker offered (none expected: each offers its runs as they finish)
        for (var r : scheduler.runs) {
          if (r.completion != null && !rest.contains(r)) {
            rest.add(r);
          }
        }
      }
      if (rest.isEmpty()) {
        closeQuietly(c);
        return;
      }
      try {
        Beside.start(thread("completed"), () -> send(rest, c)).joinUninterruptibly();
      } catch (IOException e) {
        throw new IllegalStateException("completions failed unexpectedly", e); // send() reports
      }
    }

    /**
     * Tells the sender of {@code runs}' steps in one call, retrying temporary errors; a sender that
     * does not know the call, or refuses it (one of them is refused), is told one by one. A
     * filesystem whose completion fails is reported failed: its data arrived, but the sender's
     * cursor and step holds stay behind until a later run confirms them.
     */
    private void send(List<FsRun> runs, @Nullable Connection conn) {
      var pending = new LinkedHashMap<FsRun, SendCompleted>();
      synchronized (scheduler) {
        for (var r : runs) {
          if (r.completion != null) {
            pending.put(r, r.completion);
          }
        }
      }
      Connection c = conn;
      try {
        for (int attempt = 1; !pending.isEmpty(); attempt++) {
          try {
            if (c == null) {
              c = connector.connect();
            }
            sendTo(c, pending);
            return;
          } catch (IOException e) {
            closeQuietly(c);
            c = null;
            boolean temporary =
                !(e instanceof RefusedException)
                    && (!(e instanceof RemoteException r) || r.code() == ErrorCode.UNAVAILABLE);
            if (!temporary || attempt >= config.maxAttempts()) {
              for (var r : List.copyOf(pending.keySet())) {
                failed(r, pending.remove(r), e);
              }
              return;
            }
            log.warn(
                "{}: telling the sender of {} completed steps: {} (attempt {} of {}), retrying",
                config.job(),
                pending.size(),
                describe(e),
                attempt,
                config.maxAttempts());
            try {
              Thread.sleep(config.retryWait(attempt));
            } catch (InterruptedException ie) {
              Thread.currentThread().interrupt();
              for (var r : List.copyOf(pending.keySet())) {
                failed(r, pending.remove(r), e);
              }
              return;
            }
          }
        }
      } finally {
        closeQuietly(c);
      }
    }

    /**
     * One attempt at {@code pending}: the senders' part, then the receivers' (whose last-received
     * holds the receives left where they were: {@link ReceiveSpec#holdLater}). Between zrepl4j
     * peers in two rounds of two calls side by side: the sender's cursors and the receiver's new
     * holds, then the sender's releases and the receiver's (never a receiver's release before the
     * sender's cursor is at the new snapshot). One by one, each entry the sender took or refused
     * leaves {@code pending}; a temporary error is thrown with the rest still in it.
     */
    private void sendTo(Connection c, Map<FsRun, SendCompleted> pending) throws IOException {
      var batch = new SendCompletedBatch(List.copyOf(pending.values()));
      var bases = new ArrayList<ReceivedBase>();
      pending.forEach((r, d) -> bases.add(new ReceivedBase(r.fs, d.to())));
      // first the cursors on the sender and the new holds on the receiver, side by side
      var ahead = holdAhead(c, bases);
      boolean cursors;
      try {
        cursors = holdCursors(c, batch);
      } finally {
        ahead.joinUninterruptibly();
      }
      // then the releases: once the cursors are at the steps' snapshots the receiver's go beside
      // the sender's (its confirmation is only tried there; its outcome counts once the sender took
      // the batch, and a failed one is made again below as without the cursors ahead)
      var confirming =
          cursors ? Beside.call(thread("confirmed"), () -> confirmBeside(c, bases)) : null;
      boolean batched = false;
      boolean confirmed = false;
      try {
        c.sender().sendCompletedAll(batch);
        batched = true;
      } catch (RemoteException e) {
        if (e.code() == ErrorCode.UNAVAILABLE) {
          throw e;
        }
        log.debug(
            "{}: the sender took no batch of {} completions ({}): one by one",
            config.job(),
            pending.size(),
            e.getMessage());
      } finally {
        if (confirming != null) {
          confirmed = confirming.joinUninterruptibly();
        }
      }
      if (batched) {
        if (confirmed) {
          pending.forEach(this::done);
        } else {
          confirmReceivers(c, pending);
        }
        return;
      }
      for (var e : List.copyOf(pending.entrySet())) {
        var r = e.getKey();
        var d = e.getValue();
        try {
          c.sender().sendCompleted(d);
        } catch (RemoteException x) {
          if (x.code() == ErrorCode.UNAVAILABLE) {
            throw x;
          }
          failed(r, pending.remove(r), x);
          continue;
        }
        confirmReceivers(c, Map.of(r, d));
        pending.remove(r);
      }
    }

    /**
     * The receiver's holds of {@code bases}' snapshots, placed beside the sender's cursors ({@link
     * ReceiverApi#holdReceivedAll}): on zfs-fuse a hold waits for a transaction group, so the
     * receiver's waits beside the sender's instead of after it. Only the releases of the older
     * holds wait until the sender's cursors are at the new snapshots (a step the sender refuses
     * keeps its base held on both sides). A failure is only logged: the confirmation after it moves
     * the holds itself; a receiver without the call is not asked again.
     */
    private Beside<Boolean> holdAhead(Connection c, List<ReceivedBase> bases) {
      if (!holdAhead) {
        return Beside.none();
      }
      return Beside.start(
          thread("held"),
          () -> {
            try {
              c.receiver().holdReceivedAll(new ReceivedBaseBatch(bases));
            } catch (IOException e) {
              if (unregistered(e)) {
                holdAhead = false; // an older receiver: it moves them in the confirmation
              }
              log.debug(
                  "{}: the receiver did not hold {} received snapshots ahead: {}",
                  config.job(),
                  bases.size(),
                  describe(e));
            }
          });
    }

    /**
     * Moves the sender's cursors to {@code batch}'s snapshots ahead of its completion ({@link
     * SenderApi#holdCursorsAll}); whether they are there. A sender without the call is not asked
     * again; one that refuses it (or any other failure but a lost connection) completes as before.
     */
    private boolean holdCursors(Connection c, SendCompletedBatch batch) throws IOException {
      if (!cursorsAhead) {
        return false;
      }
      try {
        c.sender().holdCursorsAll(batch);
        return true;
      } catch (RemoteException e) {
        if (e.code() == ErrorCode.UNAVAILABLE) {
          throw e;
        }
        if (unregistered(e)) {
          cursorsAhead = false;
        }
        log.debug(
            "{}: the sender did not move {} cursors ahead: {}",
            config.job(),
            batch.completions().size(),
            describe(e));
        return false;
      }
    }

    /**
     * The receiver's confirmation of {@code bases} beside the sender's completion, the cursors
     * being in place: whether it succeeded (a failure is only logged: it is made again after).
     */
    private boolean confirmBeside(Connection c, List<ReceivedBase> bases) {
      try {
        c.receiver().confirmReceivedAll(new ReceivedBaseBatch(bases));
        return true;
      } catch (IOException e) {
        log.debug(
            "{}: the receiver's confirmation beside the sender's failed: {}",
            config.job(),
            describe(e));
        return false;
      }
    }

    private static boolean unregistered(IOException e) {
      return e instanceof RemoteException r
          && String.valueOf(r.getMessage()).startsWith("unregistered endpoint");
    }

    /**
     * The receiver's half of {@code taken} (the sender took them): its last-received holds, in one
     * call; a receiver that refuses it is asked one by one, and one without the call moved its
     * holds in the receives. Each that is confirmed is done; each that is not is failed.
     */
    private void confirmReceivers(Connection c, Map<FsRun, SendCompleted> taken)
        throws IOException {
      var bases = new ArrayList<ReceivedBase>();
      taken.forEach((r, d) -> bases.add(new ReceivedBase(r.fs, d.to())));
      try {
        c.receiver().confirmReceivedAll(new ReceivedBaseBatch(bases));
        taken.forEach(this::done);
        return;
      } catch (RemoteException e) {
        if (e.code() == ErrorCode.UNAVAILABLE) {
          throw e;
        }
        if (String.valueOf(e.getMessage()).startsWith("unregistered endpoint")) {
          taken.forEach(this::done); // an older receiver: it moved them in the receives
          return;
        }
      }
      taken.forEach(
          (r, d) -> {
            try {
              confirmReceived(c, r.fs, d.to());
              done(r, d);
            } catch (IOException e) {
              failedReceiver(r, d, e);
            }
          });
    }

    private void done(FsRun r, @Nullable SendCompleted d) {
      synchronized (scheduler) {
        if (r.completion == d) {
          r.completion = null;
        }
      }
      settled.add(r.fs);
    }

    private void failedReceiver(FsRun r, SendCompleted d, IOException e) {
      var why = describe(e);
      log.warn(
          "{}: {}: the receiver could not move its last-received hold to {}: {}",
          config.job(),
          r.fs,
          d.to(),
          why);
      synchronized (scheduler) {
        r.fail(
            FsReport.State.FAILED,
            "the step to "
                + d.to()
                + " arrived, but the receiver could not move its last-received hold there (next"
                + " run retries): "
                + why);
      }
    }

    private void failed(FsRun r, @Nullable SendCompleted d, IOException e) {
      var why = describe(e);
      log.warn(
          "{}: {}: the step to {} arrived, but the sender could not complete it: {}",
          config.job(),
          r.fs,
          d == null ? "?" : d.to(),
          why);
      synchronized (scheduler) {
        r.fail(
            FsReport.State.FAILED,
            "the step to "
                + (d == null ? "?" : d.to())
                + " arrived, but the sender could not move its cursor and release its step holds"
                + " (next run retries): "
                + why);
      }
    }
  }

  // ----------------------------------------------------------------------------------- state

  /** The state of one filesystem in a run; guarded by the scheduler's lock once running. */
  private static final class FsRun {
    final String fs;
    final DatasetPath path;
    final ArrayDeque<Step> queue = new ArrayDeque<>();
    FsReport.State state = FsReport.State.UP_TO_DATE;
    String message = "";
    int done;
    long bytes;
    boolean active;
    // the newest version both sides have, when the plan found them in sync
    @Nullable FsVersion common;
    // the newest version both sides are known to have: from the plan, then each step's target
    @Nullable FsVersion newestCommon;
    // bytes of the running step once the receiver has it, until the step is done; -1 otherwise
    long received = -1;
    // the sender's size estimate of each planned step (-1: none)
    final Map<Step, Long> estimates = new HashMap<>();
    // the newest step of this run that the sender has not been told of (Completions)
    @Nullable SendCompleted completion;

    FsRun(String fs) {
      this.fs = fs;
      this.path = DatasetPath.parse(fs);
    }

    void apply(FsPlan plan) {
      queue.clear();
      common = plan instanceof FsPlan.UpToDate u ? u.common() : null;
      if (received >= 0 && plan instanceof FsPlan.UpToDate) {
        // a retry after a step whose receive succeeded and whose completion was lost finds both
        // sides in sync: that step is done (its completion is confirmed next)
        done++;
        bytes += received;
      }
      received = -1;
      switch (plan) {
        case FsPlan.UpToDate u -> {
          if (u.common() != null) {
            newestCommon = u.common();
          }
          if (done == 0) {
            state = FsReport.State.UP_TO_DATE;
            message = u.reason();
          }
        }
        case FsPlan.Steps s -> {
          state = FsReport.State.REPLICATED;
          message = "";
          queue.addAll(s.steps());
          var from = s.steps().isEmpty() ? null : s.steps().getFirst().from();
          if (from != null) {
            newestCommon = from; // the incremental source: the receiver has it
          }
        }
        case FsPlan.Conflict c -> fail(FsReport.State.CONFLICT, c.report());
      }
      if (state == FsReport.State.UP_TO_DATE && done > 0) {
        state = FsReport.State.REPLICATED;
      }
    }

    void fail(FsReport.State s, String why) {
      state = s;
      message = why;
    }

    boolean finished() {
      return queue.isEmpty() || !open();
    }

    boolean open() {
      return state == FsReport.State.REPLICATED || state == FsReport.State.UP_TO_DATE;
    }

    boolean pendingInitial() {
      return !queue.isEmpty() && queue.peekFirst().initial() && open();
    }

    FsReport report() {
      return new FsReport(fs, state, done, done + queue.size(), bytes, message, newestCommon);
    }
  }

  /** Hands out the next step; thread-safe. */
  private static final class Scheduler {
    private static final Comparator<FsRun> OLDEST_STEP_FIRST =
        Comparator.<FsRun, Instant>comparing(r -> r.queue.getFirst().to().creation())
            .thenComparing(r -> r.queue.getFirst().to().name())
            .thenComparing(r -> r.fs);

    final List<FsRun> runs;

    Scheduler(Map<String, FsRun> runs) {
      this.runs = List.copyOf(runs.values());
    }

    /** The run whose next step should go now, marked active; null when nothing is left. */
    synchronized @Nullable FsRun next() throws InterruptedException {
      while (true) {
        FsRun best = null;
        boolean anyLeft = false;
        for (var r : runs) {
          if (r.active) {
            anyLeft = true;
            continue;
          }
          if (r.finished()) {
            continue;
          }
          var blocker = initialBlocker(r);
          if (blocker != null) {
            if (blocker.open()) {
              anyLeft = true;
              continue;
            }
            r.fail(
                FsReport.State.SKIPPED,
                "the initial replication of its parent " + blocker.fs + " failed");
            continue;
          }
          anyLeft = true;
          if (best == null || OLDEST_STEP_FIRST.compare(r, best) < 0) {
            best = r;
          }
        }
        if (best != null) {
          best.active = true;
          return best;
        }
        if (!anyLeft) {
          return null;
        }
        wait();
      }
    }

    /**
     * For a run whose next step is initial: an ancestor in this run whose own initial step has not
     * succeeded yet (pending, running, or failed), else null.
     */
    private @Nullable FsRun initialBlocker(FsRun r) {
      if (!r.pendingInitial()) {
        return null;
      }
      for (var a : runs) {
        if (a != r
            && r.path.hasPrefix(a.path)
            && !a.queue.isEmpty()
            && a.queue.getFirst().initial()) {
          return a;
        }
      }
      return null;
    }

    synchronized void finished(FsRun r) {
      r.active = false;
      notifyAll();
    }
  }

  /** A sender's stream, opened at the first read. */
  private static final class LazySend extends OpenedAtFirstRead
      implements DirectSource.Wrapping, DirectStream.Carrier {
    /** Opens the stream. */
    @FunctionalInterface
    interface Opener {
      InputStream open() throws IOException;
    }

    private final Opener opener;
    private @Nullable IOException startFailure;

    LazySend(Opener opener) {
      this.opener = opener;
    }

    /** What opening the stream threw, or null. */
    @Nullable IOException startFailure() {
      return startFailure;
    }

    @Override
    InputStream open() throws IOException {
      if (startFailure != null) {
        throw startFailure;
      }
      try {
        return opener.open();
      } catch (IOException e) {
        startFailure = e;
        throw e;
      }
    }

    /** The direct stream of a pull's send (the response's bytes on their own connection). */
    @Override
    public @Nullable DirectStream directStream() {
      try {
        return DirectStream.of(in());
      } catch (IOException e) {
        return null; // the first read throws it again, as it was raised
      }
    }

    /** The send, opened now (as a first read would). */
    @Override
    public InputStream wrapped() throws IOException {
      return in();
    }

    /** Tells the send, if it was opened (nothing went direct otherwise). */
    @Override
    public void progress(long bytes) {
      if (opened() != null) {
        DirectSource.Wrapping.super.progress(bytes);
      }
    }
  }
}
