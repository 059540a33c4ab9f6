package dev.zrepl4j.daemon;

import dev.zrepl4j.config.Job;
import dev.zrepl4j.replication.Dialer;
import dev.zrepl4j.replication.FsVersion;
import dev.zrepl4j.replication.Pull;
import dev.zrepl4j.replication.Push;
import dev.zrepl4j.replication.Receiver;
import dev.zrepl4j.replication.Replication;
import dev.zrepl4j.replication.Sender;
import dev.zrepl4j.replication.Step;
import dev.zrepl4j.replication.Verifier;
import dev.zrepl4j.replication.VerifyReport;
import dev.zrepl4j.zfs.Zfs;
import java.io.Closeable;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A push or pull job: (push) takes the job's snapshots when due, then replicates, then prunes both
 * sides, each run over fresh connections from its {@link Dialer}. A push job with {@code manual}
 * snapshotting and a pull job with {@code interval: manual} run only on {@code signal wakeup}.
 * {@code signal reset} closes the run's connections, which aborts its transfers.
 */
final class ActiveJob extends JobRunner {
  private static final Logger log = LoggerFactory.getLogger(ActiveJob.class);

  /** How often the log tells the progress of a step in progress (at info). */
  static final Duration PROGRESS_LOG_EVERY = Duration.ofSeconds(10);

  private final Job.Active config;
  private final Replication.Connector connector;
  // a push job's snapshots; null for a pull job
  private final @Nullable Snapshots snapshots;
  private final Set<Closeable> open = ConcurrentHashMap.newKeySet();
  private final Map<String, JobStatus.Fs> progress = new ConcurrentHashMap<>();
  // per filesystem, when its step in progress was last told in the log
  private final Map<String, Instant> progressLogged = new ConcurrentHashMap<>();
  // the filesystems whose sender cursor this job's runs have confirmed since the daemon started
  private final Replication.Settled settled = new Replication.Settled();
  private final Closeable resources;
  private volatile boolean aborted;
  private final ReentrantLock verifying = new ReentrantLock();
  private volatile @Nullable VerifyReport lastVerify;
  private volatile @Nullable Thread verifier;
  // set when the next run is planned: whether that run takes the job's snapshots
  private volatile boolean snapshotDue;
  private final Metrics.JobMetrics metrics;
  // per filesystem of the last replication that listed them: the newest version both sides had
  private volatile List<Received> received = List.of();

  /** The newest version both sides had of {@code filesystem} after a replication (null: none). */
  private record Received(String filesystem, @Nullable FsVersion common) {}

  ActiveJob(Job.Active config, Zfs zfs, Dialer dialer, Clock clock, Metrics.JobMetrics metrics) {
    super(config.name(), config.type(), clock);
    this.config = config;
    this.metrics = metrics;
    Replication.Connector base;
    switch (config) {
      case Job.Push p -> {
        var sender =
            new Sender(
                zfs,
                p.filesystems(),
                p.name(),
                p.send().options(),
                metrics::unmatched,
                limiter(p.send().bandwidth()));
        var push = new Push(sender, "local", dialer);
        base = push;
        resources = push::close;
        snapshots = new Snapshots(p.snapshotting(), zfs, p.filesystems(), clock);
      }
      case Job.Pull p -> {
        var pull =
            switch (p.targets()) {
              case Job.Targets.Mapped t ->
                  new Pull(
                      dialer,
                      Receiver.localRoot(
                          zfs,
                          p.rootFs(),
                          p.name(),
                          p.recv().options(),
                          t.mapping(),
                          limiter(p.recv().bandwidth())),
                      p.name(),
                      t.mapping());
              case Job.Targets.SenderNames t ->
                  new Pull(
                      dialer,
                      Receiver.localRoot(
                          zfs,
                          p.rootFs(),
                          p.name(),
                          p.recv().options(),
                          limiter(p.recv().bandwidth())),
                      p.name());
            };
        base = pull;
        resources = pull::close;
        snapshots = null;
      }
    }
    this.connector =
        () -> {
          if (aborted) {
            // a run being aborted (reset, shutdown) must not reconnect in a retry
            throw new InterruptedIOException("job " + name + ": run aborted");
          }
          var c = base.connect();
          open.add(c);
          return new Replication.Connection(
              c.sender(),
              c.receiver(),
              () -> {
                open.remove(c);
                c.close();
              });
        };
  }

  @Override
  protected Optional<Instant> nextRun(@Nullable Instant lastEnd) throws IOException {
    return switch (config) {
      // at start a push job replicates what is there (a restart resumes at once) unless its
      // snapshotting is manual; later it runs when the next snapshot is due
      case Job.Push p -> {
        var s = Objects.requireNonNull(snapshots, "a push job has snapshotting");
        var due = s.next();
        var now = clock.instant();
        // a scheduled run snapshots; the run at start snapshots only if one is due by now
        snapshotDue = lastEnd != null || (due.isPresent() && !due.get().isAfter(now));
        yield lastEnd == null && !s.manual() ? Optional.of(now) : due;
      }
      case Job.Pull p ->
          switch (p.interval()) {
            case Job.Interval.Every e ->
                Optional.of(lastEnd == null ? clock.instant() : lastEnd.plus(e.period()));
            case Job.Interval.Manual m -> Optional.empty();
          };
    };
  }

  @Override
  protected JobStatus.Run run(boolean woken) throws IOException, InterruptedException {
    aborted = false;
    var started = clock.instant();
    var problems = new ArrayList<String>();
    String snapshot = null;
    var snaps = snapshots;
    if (!woken && snaps != null && snapshotDue) {
      setState("snapshotting");
      var t0 = clock.instant();
      var r = snaps.take();
      metrics.stateTime("snapshotting", Duration.between(t0, clock.instant()));
      if (r.isPresent()) {
        snapshot = r.get().name();
        problems.addAll(r.get().hookFailures());
        log.info(
            "job {}: snapshot {} of {} filesystems", name, snapshot, r.get().snapshotted().size());
      }
    }
    setState("replicating");
    progress.clear();
    progressLogged.clear();
    Replication.Report report;
    var t0 = clock.instant();
    try {
      report =
          new Replication(
                  replicationConfig(),
                  connector,
                  new Replication.Progress() {
                    @Override
                    public void transferred(String filesystem, Step step, long bytes) {
                      // the engine calls step(), which carries more
                    }

                    @Override
                    public void step(Replication.StepProgress p) {
                      progress(p);
                    }

                    @Override
                    public void stepDone(Replication.StepProgress last) {
                      done(last);
                    }
                  },
                  settled)
              .run();
    } catch (IOException | RuntimeException e) {
      metrics.replicationFailed(); // before the filesystems were enumerated (zrepl: -1)
      throw e;
    } finally {
      progress.clear();
      progressLogged.clear();
      metrics.stateTime("replicating", Duration.between(t0, clock.instant()));
    }
    var got = new ArrayList<Received>();
    int failed = 0;
    for (var f : report.filesystems()) {
      // the bytes were counted as they streamed (progress); 0 makes every filesystem's series
      metrics.replicated(f.filesystem(), 0);
      got.add(new Received(f.filesystem(), f.newestCommon()));
      if (!f.ok()) {
        failed++;
      }
    }
    received = List.copyOf(got);
    metrics.replicationEnded(failed);
    var fss = new ArrayList<JobStatus.Fs>();
    for (var f : report.filesystems()) {
      fss.add(
          new JobStatus.Fs(
              f.filesystem(),
              f.state().name(),
              f.stepsDone(),
              f.stepsTotal(),
              f.bytes(),
              f.message()));
      if (!f.ok()) {
        problems.add(f.filesystem() + ": " + f.state() + ": " + f.message());
      }
    }
    setState("pruning");
    var t1 = clock.instant();
    int pruned;
    try {
      pruned = prune(problems);
    } finally {
      metrics.stateTime("pruning", Duration.between(t1, clock.instant()));
    }
    return new JobStatus.Run(
        started.toString(), secondsSince(started), snapshot, fss, pruned, problems);
  }

  /** What pruning both sides would do now ({@code zrepl4j prune --dry-run}): one line each. */
  List<String> pruneDryRun() throws IOException {
    var lines = new ArrayList<String>();
    var problems = new ArrayList<String>();
    Pruning.both(name, connector, config.pruning(), true, problems, lines, metrics);
    problems.forEach(p -> lines.add("problem: " + p));
    return lines;
  }

  /**
   * {@code zrepl4j verify}: compares the receiver's copies with the sender ({@link Verifier}), the
   * content of {@code sample} snapshots per filesystem. One verify of a job at a time (a second
   * waits); a replication may run beside it (both only read what the other writes).
   */
  VerifyReport verify(int sample) throws IOException {
    verifying.lock();
    try (var c = connector.connect()) {
      var report =
          Verifier.run(
              name,
              c,
              new Verifier.Options(sample, clock.millis(), config.pruning().keepReceiver()),
              clock);
      lastVerify = report;
      metrics.verified(report);
      return report;
    } finally {
      verifying.unlock();
    }
  }

  @Override
  void start() throws Exception {
    super.start();
    var v = config.verify();
    if (v != null) {
      verifier = Thread.ofVirtual().name("verify-" + name).start(() -> verifyEvery(v));
    }
  }

  /** {@code zrepl4j_verify}: a verify every interval; a failed one is reported like a problem. */
  private void verifyEvery(Job.Verify v) {
    while (true) {
      try {
        Thread.sleep(v.interval());
      } catch (InterruptedException e) {
        return;
      }
      var started = clock.instant().toString();
      try {
        verify(v.sample());
      } catch (IOException | RuntimeException e) {
        if (Thread.currentThread().isInterrupted()) {
          return;
        }
        log.warn("job {}: scheduled verify failed: {}", name, e.toString());
        var failed =
            VerifyReport.failed(
                name, started, clock.instant().toString(), String.valueOf(e.getMessage()));
        lastVerify = failed;
        metrics.verified(failed);
      }
    }
  }

  @Override
  protected @Nullable VerifyReport lastVerify() {
    return lastVerify;
  }

  /** Prunes both sides with the job's rules; returns how many snapshots went. */
  private int prune(List<String> problems) throws IOException {
    return Pruning.both(
        name, connector, config.pruning(), false, problems, new ArrayList<>(), metrics);
  }

  private Replication.Config replicationConfig() {
    var r = config.replication();
    return new Replication.Config(
        name,
        config.initialReplication(),
        r.initial(),
        r.incremental(),
        r.sendIntermediates(),
        r.steps(),
        Replication.Config.defaults(name).maxAttempts(),
        Duration.ofSeconds(5),
        clock,
        r.sizeEstimates(),
        r.followRenames());
  }

  private void progress(Replication.StepProgress p) {
    var fs = p.filesystem();
    var step = describe(p.step());
    var started = p.started().toString();
    var was =
        progress.put(
            fs,
            new JobStatus.Fs(
                fs,
                "STEPPING",
                p.stepNumber() - 1,
                p.steps(),
                p.bytes(),
                step,
                p.expectedBytes(),
                started));
    // zrepl_replication_bytes_replicated grows while the stream flows (a retried attempt of the
    // same step starts again from 0 and counts again: those bytes crossed the wire too)
    boolean sameAttempt =
        was != null
            && was.message().equals(step)
            && started.equals(was.stepStarted())
            && p.bytes() >= was.bytes();
    metrics.replicated(fs, sameAttempt ? p.bytes() - was.bytes() : p.bytes());
    var now = clock.instant();
    if (!sameAttempt) {
      log.info(
          "job {}: {}: sending {} (step {}/{}{})",
          name,
          fs,
          step,
          p.stepNumber(),
          p.steps(),
          p.expectedBytes() < 0 ? "" : ", about " + Transfer.bytes(p.expectedBytes()));
      progressLogged.put(fs, now);
      return;
    }
    // a long transfer tells how it goes every PROGRESS_LOG_EVERY; a short one stays one line
    var last = progressLogged.get(fs);
    if (last != null && !now.isBefore(last.plus(PROGRESS_LOG_EVERY))) {
      progressLogged.put(fs, now);
      var t = new Transfer(p.bytes(), p.expectedBytes(), Duration.between(p.started(), now));
      log.info("job {}: {}: {}: {}", name, fs, step, t.describe());
    }
  }

  /** A step as the status and the log show it: {@code -i @a -> @b}, without the guids. */
  static String describe(Step step) {
    return GUID.matcher(step.toString()).replaceAll("");
  }

  private static final Pattern GUID = Pattern.compile("\\(guid [0-9]+\\)");

  /** A step is done: it leaves the status; a long one (its progress was logged) says so. */
  private void done(Replication.StepProgress last) {
    var fs = last.filesystem();
    progress.remove(fs);
    var logged = progressLogged.remove(fs);
    var now = clock.instant();
    if (logged != null && !logged.isBefore(last.started().plus(PROGRESS_LOG_EVERY))) {
      var t = new Transfer(last.bytes(), -1, Duration.between(last.started(), now));
      log.info(
          "job {}: {}: {}: done, {} in {}",
          name,
          fs,
          describe(last.step()),
          t.describe(),
          Transfer.duration(t.elapsed().toSeconds()));
    }
  }

  @Override
  protected List<JobStatus.Fs> current() {
    var l = new ArrayList<>(progress.values());
    l.sort(Comparator.comparing(JobStatus.Fs::filesystem));
    return l;
  }

  @Override
  int settledCursors() {
    return settled.size();
  }

  @Override
  Optional<Duration> lagObjective() {
    return Optional.ofNullable(config.lagObjective());
  }

  @Override
  List<JobStatus.FsLag> lag(Instant now) {
    var out = new ArrayList<JobStatus.FsLag>();
    for (var r : received) {
      var c = r.common();
      out.add(
          c == null
              ? new JobStatus.FsLag(r.filesystem(), null, null, null)
              : new JobStatus.FsLag(
                  r.filesystem(),
                  c.name(),
                  c.creation().toString(),
                  Math.max(0, Duration.between(c.creation(), now).toMillis() / 1000.0)));
    }
    return out;
  }

  @Override
  protected void abortRun() {
    aborted = true;
    // closed on their own threads: a close that waits for a call in flight must not hold up the
    // abort (or a shutdown) of the whole job
    for (var c : List.copyOf(open)) {
      Thread.ofVirtual()
          .name("abort-" + name)
          .start(
              () -> {
                try {
                  c.close();
                } catch (IOException | RuntimeException e) {
                  log.debug("job {}: closing a connection on abort: {}", name, e.toString());
                }
              });
    }
  }

  @Override
  void stop(Duration grace) {
    var v = verifier;
    if (v != null) {
      v.interrupt();
    }
    super.stop(grace);
    try {
      resources.close();
    } catch (IOException e) {
      log.debug("job {}: close: {}", name, e.toString());
    }
  }
}
