package dev.zrepl4j.daemon;

import dev.zrepl4j.config.Job;
import dev.zrepl4j.replication.BandwidthLimiter;
import dev.zrepl4j.replication.VerifyReport;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One job's thread: waits for its next run (its own schedule or {@code signal wakeup}), runs it,
 * records the outcome for {@code status}. Subclasses say when the next run is and what a run does.
 * {@code signal reset} aborts the run in progress. Thread-safe.
 */
abstract class JobRunner implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(JobRunner.class);

  protected final String name;
  protected final String type;
  protected final Clock clock;
  private final Object lock = new Object();
  private boolean wakeup;
  private boolean closed;
  // runs started since the daemon started: the number of the run in progress or last run (lock)
  private long started;
  // the outcomes of the last RESULTS runs by number, for signal wakeup --wait (lock)
  private final java.util.LinkedHashMap<Long, JobStatus.Run> results =
      new java.util.LinkedHashMap<>();
  private static final int RESULTS = 64;
  private @Nullable Thread thread;
  private volatile String state = "idle";
  private volatile @Nullable Instant nextRun;
  private volatile long runs;
  private volatile JobStatus.@Nullable Run lastRun;
  private volatile @Nullable String lastError;
  private volatile boolean aborting;
  private volatile boolean running;
  // whether the lag objective was breached at the last check (see checkLag)
  private volatile boolean lagBreached;

  JobRunner(String name, String type, Clock clock) {
    this.name = name;
    this.type = type;
    this.clock = clock;
  }

  /**
   * A new limiter (a new token bucket) for one of the job's {@code bandwidth_limit}s: made once per
   * job, so that all its transfers share it.
   */
  static BandwidthLimiter limiter(Job.BandwidthLimit limit) {
    return limit.unlimited()
        ? BandwidthLimiter.none()
        : BandwidthLimiter.of(limit.maxBytesPerSecond(), limit.bucketCapacity());
  }

  /** Starts the job's thread (passive jobs may start serving here too). */
  void start() throws Exception {
    var t = Thread.ofPlatform().name("job-" + name).unstarted(this::loop);
    synchronized (lock) {
      thread = t;
    }
    t.start();
  }

  /**
   * When this job next runs by itself, given that the last run (if any) ended at {@code lastEnd};
   * empty = only on wakeup.
   */
  protected abstract Optional<Instant> nextRun(@Nullable Instant lastEnd) throws Exception;

  /**
   * One run.
   *
   * @param woken true if started by {@code signal wakeup} rather than by the schedule
   */
  protected abstract JobStatus.Run run(boolean woken) throws Exception;

  /** Aborts the run in progress: closes its connections, kills its children. */
  protected void abortRun() {}

  /** Per-filesystem progress of the run in progress. */
  protected List<JobStatus.Fs> current() {
    return List.of();
  }

  /**
   * What runs now ({@code zrepl_trace_active_tasks}): the run in progress, if any, plus the
   * filesystems whose replication step is in progress.
   */
  int activeTasks() {
    return (running ? 1 : 0) + current().size();
  }

  /** Filesystems whose sender bookkeeping this job has confirmed (active jobs; else 0). */
  int settledCursors() {
    return 0;
  }

  /** The job's lag objective ({@code zrepl4j_lag_objective}), if it has one. */
  Optional<Duration> lagObjective() {
    return Optional.empty();
  }

  /** Per filesystem, the replication lag as of {@code now} (active jobs after a run; else none). */
  List<JobStatus.FsLag> lag(Instant now) {
    return List.of();
  }

  /**
   * The filesystems whose lag exceeds the objective at {@code now}, or that have nothing on the
   * receiver yet, as messages; empty if there is no objective or it is met.
   */
  final List<String> lagBreaches(Instant now) {
    var objective = lagObjective();
    if (objective.isEmpty()) {
      return List.of();
    }
    var out = new ArrayList<String>();
    double limit = objective.get().toMillis() / 1000.0;
    for (var l : lag(now)) {
      var seconds = l.seconds();
      if (seconds == null) {
        out.add(l.filesystem() + ": nothing received yet");
      } else if (seconds > limit) {
        out.add(
            l.filesystem()
                + ": lag "
                + Duration.ofSeconds((long) seconds.doubleValue())
                + " exceeds the objective "
                + objective.get());
      }
    }
    return out;
  }

  final void setState(String s) {
    state = s;
  }

  private void loop() {
    Instant lastEnd = null;
    while (true) {
      boolean woken;
      try {
        var next = nextRun(lastEnd);
        nextRun = next.orElse(null);
        state = "waiting";
        woken = await(next.orElse(null));
      } catch (InterruptedException e) {
        if (isClosed()) {
          break;
        }
        continue; // a reset that came between runs: nothing to abort
      } catch (Exception e) {
        if (isClosed()) {
          break;
        }
        log.error("job {}: cannot plan the next run: {}", name, e.toString());
        lastError = e.toString();
        woken = awaitQuietly(clock.instant().plus(Duration.ofMinutes(1)));
      }
      if (isClosed()) {
        break;
      }
      nextRun = null;
      aborting = false;
      var started = clock.instant();
      long number;
      synchronized (lock) {
        number = ++this.started;
        running = true; // with the number: result() never sees this run neither pending nor running
      }
      try {
        var r = run(woken);
        record(number, r);
        lastRun = r;
        lastError = r.ok() ? null : String.join("; ", r.problems());
        runs++;
        if (!r.ok()) {
          log.warn("job {}: run finished with problems: {}", name, r.problems());
        } else {
          log.info("job {}: run finished in {} s", name, r.seconds());
        }
      } catch (InterruptedException e) {
        if (isClosed()) {
          break;
        }
        Thread.interrupted();
        var msg = aborting ? "run aborted by signal reset" : "run aborted";
        log.warn("job {}: {}", name, msg);
        recordFailedRun(number, started, msg);
      } catch (Exception e) {
        if (isClosed()) {
          break;
        }
        var msg = aborting ? "run aborted by signal reset: " + e : e.toString();
        log.error("job {}: run failed: {}", name, msg);
        recordFailedRun(number, started, msg);
      } finally {
        running = false;
      }
      checkLag(true);
      lastEnd = clock.instant();
      state = "idle";
    }
    state = "stopped";
  }

  /** A run that ended without a report: aborted or failed with {@code msg}. */
  private void recordFailedRun(long number, Instant started, String msg) {
    lastError = msg;
    var r =
        new JobStatus.Run(
            started.toString(), secondsSince(started), null, List.of(), 0, List.of(msg));
    record(number, r);
    lastRun = r;
    runs++;
  }

  private void record(long number, JobStatus.Run r) {
    synchronized (lock) {
      results.put(number, r);
      while (results.size() > RESULTS) {
        results.remove(results.firstEntry().getKey());
      }
      lock.notifyAll();
    }
  }

  /**
   * Where run {@code number} (as returned by {@link #wakeup()}) is: not started yet, running, done
   * (with its outcome), or unknown (too old to be remembered, or the job stopped before it ran).
   */
  Control.RunResponse result(long number) {
    synchronized (lock) {
      var r = results.get(number);
      if (r != null) {
        return new Control.RunResponse(name, number, "done", r);
      }
      if (number > started) {
        return new Control.RunResponse(name, number, closed ? "unknown" : "pending", null);
      }
      if (number == started && running) {
        return new Control.RunResponse(name, number, "running", null);
      }
      return new Control.RunResponse(name, number, "unknown", null);
    }
  }

  final double secondsSince(Instant started) {
    return Duration.between(started, clock.instant()).toMillis() / 1000.0;
  }

  /** Waits until {@code until} (null: forever) or a wakeup; true if woken. */
  private boolean await(@Nullable Instant until) throws InterruptedException {
    synchronized (lock) {
      while (!wakeup && !closed) {
        if (until == null) {
          lock.wait();
        } else {
          long ms = Duration.between(clock.instant(), until).toMillis();
          if (ms <= 0) {
            return false;
          }
          lock.wait(Math.min(ms, 1000));
        }
      }
      boolean w = wakeup;
      wakeup = false;
      return w;
    }
  }

  private boolean awaitQuietly(Instant until) {
    try {
      return await(until);
    } catch (InterruptedException e) {
      return false;
    }
  }

  private boolean isClosed() {
    synchronized (lock) {
      return closed;
    }
  }

  /**
   * {@code signal wakeup}: run now (a run in progress is not restarted: the run after it serves the
   * wakeup).
   *
   * @return the number of the run that serves this wakeup: the next one to start (see {@link
   *     #result})
   */
  long wakeup() {
    synchronized (lock) {
      wakeup = true;
      lock.notifyAll();
      return started + 1;
    }
  }

  /** {@code signal reset}: aborts the run in progress, if any. */
  void reset() {
    log.info("job {}: reset: aborting the current run", name);
    aborting = true;
    abortRun();
    // closing the run's connections may wait for a write stuck on a peer that reads nothing; the
    // interrupt ends the run's workers (blocked socket I/O of a virtual thread is interruptible)
    Thread t;
    synchronized (lock) {
      t = thread;
    }
    if (t != null && "replicating".equals(state)) {
      t.interrupt();
    }
  }

  JobStatus status() {
    var n = nextRun;
    var now = clock.instant();
    var objective = lagObjective();
    var lag = lag(now);
    var lagStatus =
        objective.isEmpty() && lag.isEmpty()
            ? null
            : JobStatus.Lag.of(
                objective.map(Duration::toString).orElse(null), lag, lagBreaches(now));
    return new JobStatus(
        name,
        type,
        state,
        n == null ? null : n.toString(),
        runs,
        lastRun,
        current(),
        lastError,
        warnings(),
        lagStatus,
        lastVerify());
  }

  /** The job's latest verify since the daemon started, if any (active jobs). */
  protected @Nullable VerifyReport lastVerify() {
    return null;
  }

  /**
   * Logs a breach of the lag objective at WARN when it begins and, with {@code runEnded}, after
   * every run while it lasts; its end at INFO. Called after each run and by the daemon's watch.
   */
  final synchronized void checkLag(boolean runEnded) {
    var objective = lagObjective();
    if (objective.isEmpty()) {
      return;
    }
    var breaches = lagBreaches(clock.instant());
    if (!breaches.isEmpty() && (runEnded || !lagBreached)) {
      log.warn(
          "job {}: lag objective {} breached: {}",
          name,
          objective.get(),
          String.join("; ", breaches));
    } else if (breaches.isEmpty() && lagBreached) {
      log.info("job {}: lag objective {} met again", name, objective.get());
    }
    lagBreached = !breaches.isEmpty();
  }

  /** Standing warnings about how the job is used (none by default). */
  protected List<String> warnings() {
    return List.of();
  }

  String name() {
    return name;
  }

  /** Stops the thread, aborting a run in progress; waits for it up to {@code grace}. */
  void stop(Duration grace) {
    Thread t;
    synchronized (lock) {
      closed = true;
      lock.notifyAll();
      t = thread;
    }
    if (t != null) {
      t.interrupt();
    }
    abortRun();
    if (t != null) {
      try {
        t.join(grace.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      if (t.isAlive()) {
        log.warn("job {}: still running after {}", name, grace);
      }
    }
  }

  @Override
  public void close() {
    stop(Duration.ofSeconds(10));
  }

  static List<String> problems() {
    return new ArrayList<>();
  }
}
