package dev.zrepl4j.daemon;

import dev.zrepl4j.config.DaemonConfig;
import dev.zrepl4j.config.Job;
import dev.zrepl4j.replication.Verifier;
import dev.zrepl4j.replication.VerifyReport;
import dev.zrepl4j.rpc.Caller;
import dev.zrepl4j.rpc.ErrorCode;
import dev.zrepl4j.rpc.RemoteException;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.RpcServer;
import dev.zrepl4j.zfs.Zfs;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running daemon: every job of a config, their transports, the control socket. Passive jobs
 * start first, so an active job's {@code local} connect finds its sink in the same daemon. {@link
 * #close()} is the graceful shutdown (SIGTERM/SIGINT): stops accepting, aborts runs in flight
 * (their {@code zfs} children are killed; a resumable receive stays resumable, a non-resumable one
 * is discarded by ZFS), and the next start resumes. Thread-safe.
 */
public final class Daemon implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Daemon.class);

  private final DaemonConfig config;
  private final String version;
  private final Instant started;
  private final Map<String, JobRunner> jobs = new LinkedHashMap<>();
  private final RpcServer control = new RpcServer(RpcOptions.defaults());
  private final Metrics metrics;
  private @Nullable MetricsServer metricsServer;
  private @Nullable Thread lagWatch;
  private boolean closed;

  private Daemon(DaemonConfig config, String version, Clock clock, LogEntryCounter logEntries) {
    this.config = config;
    this.version = version;
    this.started = clock.instant();
    this.metrics = new Metrics(clock, version, logEntries, this::runners);
  }

  private synchronized List<JobRunner> runners() {
    return List.copyOf(jobs.values());
  }

  /**
   * Starts every job and the control socket.
   *
   * @throws IOException if a listener or the control socket cannot be set up (nothing is left
   *     running then)
   */
  public static Daemon start(DaemonConfig config, Zfs zfs, Clock clock, String version)
      throws Exception {
    return start(config, zfs, clock, version, new LogEntryCounter());
  }

  /**
   * Starts every job, the control socket and, with {@code global.monitoring}, the Prometheus
   * endpoint.
   *
   * @param logEntries what the logging backend counts entries in ({@code zrepl_daemon_log_entries})
   * @throws IOException if a listener (the monitoring one included: its address is named) or the
   *     control socket cannot be set up (nothing is left running then)
   */
  public static Daemon start(
      DaemonConfig config, Zfs zfs, Clock clock, String version, LogEntryCounter logEntries)
      throws Exception {
    var d = new Daemon(config, version, clock, logEntries);
    try {
      d.startAll(zfs, clock);
    } catch (Exception e) {
      d.close();
      throw e;
    }
    return d;
  }

  private void startAll(Zfs zfs, Clock clock) throws Exception {
    // before any job starts: two daemons on one config would run every job twice
    refuseIfRunning(config.global().controlSockpath());
    // before any job: a monitoring address that cannot be bound fails the start, naming it
    var monitoring = config.global().monitoring();
    if (monitoring != null) {
      var listen = monitoring.listen();
      var server = MetricsServer.start(listen, metrics);
      synchronized (this) {
        metricsServer = server;
      }
      log.info("prometheus metrics on http://{}/metrics", listen);
    }
    // the jobs' connections, dialed and served, offer the direct data path unless the config says
    // no
    var transports =
        new Transports(
            config.global().stdinserverSockdir(),
            RpcOptions.defaults().withDirectData(config.global().directData()));
    var ordered = new ArrayList<Job>();
    config.jobs().stream().filter(j -> j instanceof Job.Passive).forEach(ordered::add);
    config.jobs().stream().filter(j -> !(j instanceof Job.Passive)).forEach(ordered::add);
    for (var job : ordered) {
      var m = metrics.job(job.name());
      // each job's zfs commands are timed under its name (zrepl_zfscmd_runtime{jobid})
      var jobZfs = zfs.observedBy(m.zfsCommands());
      JobRunner r =
          switch (job) {
            case Job.Passive p -> new PassiveJob(p, jobZfs, transports, clock, m);
            case Job.Active a -> new ActiveJob(a, jobZfs, transports.dialer(a.connect()), clock, m);
            case Job.Snap s -> new SnapJob(s, jobZfs, clock, m);
          };
      synchronized (this) {
        jobs.put(job.name(), r);
      }
      // the job's thread and every thread it starts log with job=NAME
      try (var _ = LogContext.job(job.name())) {
        r.start();
        log.info("job {} ({}) started", job.name(), job.type());
      }
    }
    control.register(Control.PREFIX, new Endpoints());
    var sock = config.global().controlSockpath();
    var runDir = sock.toAbsolutePath().getParent();
    if (runDir != null) {
      secureRuntimeDir(runDir);
    }
    control.listenUnix(sock, "control"); // mode 0600 from the start
    log.info("control socket {}", sock);
    var watch = Thread.ofVirtual().name("lag-objectives").unstarted(this::watchLag);
    synchronized (this) {
      lagWatch = watch;
    }
    watch.start();
  }

  /**
   * Checks the jobs' lag objectives every {@link #LAG_CHECK} (a breach also begins between runs, as
   * the newest received snapshot ages), until closed.
   */
  private void watchLag() {
    while (true) {
      synchronized (this) {
        if (closed) {
          return;
        }
      }
      for (var r : runners()) {
        r.checkLag(false);
      }
      try {
        Thread.sleep(LAG_CHECK);
      } catch (InterruptedException e) {
        return; // closed
      }
    }
  }

  static final Duration LAG_CHECK = Duration.ofSeconds(10);

  /**
   * Fails if a daemon answers on {@code sock}; a socket file nobody listens on is stale (a daemon
   * that was killed) and is replaced later.
   */
  static void refuseIfRunning(Path sock) throws IOException {
    if (!Files.exists(sock)) {
      return;
    }
    try (var ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(sock));
    } catch (IOException stale) {
      log.info("control socket {} is stale (nobody listens): replacing it", sock);
      return;
    }
    throw new IOException(
        "another zrepl4j daemon is running: its control socket "
            + sock
            + " answers (stop it first; two daemons would run every job twice)");
  }

  /**
   * Creates {@code dir} (mode 0700) or checks that an existing one is not accessible to group or
   * others: the socket's only protection is the file system's permissions.
   */
  static void secureRuntimeDir(Path dir) throws IOException {
    if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
      Files.createDirectories(
          dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
      return;
    }
    var perms = Files.getPosixFilePermissions(dir);
    if (!PosixFilePermissions.fromString("rwx------").containsAll(perms)) {
      throw new IOException(
          "runtime directory "
              + dir
              + " is accessible to group or others ("
              + PosixFilePermissions.toString(perms)
              + "): refusing to put the control socket there; chmod 0700 it");
    }
  }

  /** The status of every job (or of one). */
  public synchronized Control.StatusResponse status(String job) {
    var l = new ArrayList<JobStatus>();
    for (var r : jobs.values()) {
      if (job.isEmpty() || r.name().equals(job)) {
        l.add(r.status());
      }
    }
    return new Control.StatusResponse(version, started.toString(), l);
  }

  private synchronized JobRunner job(String name) throws RemoteException {
    var r = jobs.get(name);
    if (r == null) {
      throw new RemoteException(
          ErrorCode.NOT_FOUND,
          "no job '" + name + "' (jobs: " + String.join(", ", jobs.keySet()) + ")");
    }
    return r;
  }

  /** The control socket's server (tests enumerate its endpoints). */
  RpcServer controlServer() {
    return control;
  }

  /** The servers of the passive (sink and source) jobs, by job name (tests enumerate them). */
  synchronized Map<String, RpcServer> jobServers() {
    var out = new LinkedHashMap<String, RpcServer>();
    for (var r : jobs.values()) {
      if (r instanceof PassiveJob p) {
        out.put(r.name(), p.server());
      }
    }
    return out;
  }

  /** Waits until {@link #close()} was called. */
  public synchronized void awaitClosed() throws InterruptedException {
    while (!closed) {
      wait();
    }
  }

  /** Graceful shutdown: active jobs first (their runs aborted), then passive jobs, then control. */
  @Override
  public void close() {
    List<JobRunner> rs;
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      notifyAll();
      rs = new ArrayList<>(jobs.values());
    }
    log.info("shutting down");
    Thread watch;
    MetricsServer server;
    synchronized (this) {
      watch = lagWatch;
      server = metricsServer;
    }
    if (watch != null) {
      watch.interrupt();
    }
    var grace = Duration.ofSeconds(20);
    rs.stream().filter(r -> !(r instanceof PassiveJob)).forEach(r -> stopQuietly(r, grace));
    // children still running (a zfs send/recv whose thread did not notice): stop them, so nothing
    // keeps writing after we are gone
    stopChildren(Duration.ofSeconds(5));
    rs.stream().filter(r -> r instanceof PassiveJob).forEach(r -> stopQuietly(r, grace));
    control.close();
    if (server != null) {
      server.close();
    }
    try {
      Files.deleteIfExists(config.global().controlSockpath());
    } catch (IOException e) {
      log.debug("removing control socket: {}", e.toString());
    }
    log.info("stopped");
  }

  /**
   * SIGTERM to every child still running, then waits up to {@code grace} for them to exit (a {@code
   * zfs receive} must be gone before we say we stopped), then SIGKILL to the rest.
   */
  private static void stopChildren(Duration grace) {
    var children = ProcessHandle.current().descendants().toList();
    for (var p : children) {
      log.info("stopping child {} {}", p.pid(), p.info().commandLine().orElse(""));
      p.destroy();
    }
    long deadline = System.nanoTime() + grace.toNanos();
    for (var p : children) {
      try {
        long left = Math.max(0, deadline - System.nanoTime());
        p.onExit().get(left, TimeUnit.NANOSECONDS);
      } catch (TimeoutException | ExecutionException e) {
        log.warn("child {} did not exit within {}: killing it", p.pid(), grace);
        p.destroyForcibly();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        p.destroyForcibly();
      }
    }
  }

  private static void stopQuietly(JobRunner r, Duration grace) {
    try {
      r.stop(grace);
    } catch (RuntimeException e) {
      log.warn("job {}: stopping: {}", r.name(), e.toString());
    }
  }

  /** The control socket's endpoints ({@code control.*}). */
  public final class Endpoints {
    /** Every job's status for an empty job name; NOT_FOUND for a name that is no job. */
    public Control.StatusResponse status(Control.StatusRequest r, Caller caller)
        throws RemoteException {
      if (!r.job().isEmpty()) {
        job(r.job());
      }
      return Daemon.this.status(r.job());
    }

    public Control.Lines signal(Control.SignalRequest r, Caller caller) throws RemoteException {
      var job = job(r.job());
      switch (r.signal()) {
        case "wakeup" -> job.wakeup();
        case "reset" -> job.reset();
        default ->
            throw new RemoteException(
                ErrorCode.INVALID_ARGUMENT, "unknown signal '" + r.signal() + "' (wakeup, reset)");
      }
      return new Control.Lines(List.of("sent " + r.signal() + " to job " + r.job()));
    }

    /**
     * {@code signal wakeup} answering the number of the run that serves it (for {@code signal
     * wakeup --wait}).
     */
    public Control.WakeupResponse wakeup(Control.StatusRequest r, Caller caller)
        throws RemoteException {
      var job = job(r.job());
      return new Control.WakeupResponse(r.job(), job.wakeup());
    }

    /** Where run number {@code r.run()} of the job is; a number below 1 is refused. */
    public Control.RunResponse run(Control.RunRequest r, Caller caller) throws RemoteException {
      var job = job(r.job());
      if (r.run() < 1) {
        throw new RemoteException(
            ErrorCode.INVALID_ARGUMENT, "run number " + r.run() + ": runs count from 1");
      }
      return job.result(r.run());
    }

    public Control.Lines prune(Control.PruneRequest r, Caller caller) throws IOException {
      var job = job(r.job());
      if (!r.dryRun()) {
        throw new RemoteException(
            ErrorCode.INVALID_ARGUMENT,
            "only --dry-run: real pruning runs with the job (signal wakeup)");
      }
      return switch (job) {
        case ActiveJob a -> new Control.Lines(a.pruneDryRun());
        case SnapJob s -> new Control.Lines(s.prune(true).lines());
        default -> throw wrongType(r.job(), job, "only push, pull and snap jobs prune");
      };
    }

    /**
     * Verifies a push or pull job's copies ({@link ActiveJob#verify}); the report says what does
     * not match. A sample below 0 or above 64 is refused.
     */
    public VerifyReport verify(Control.VerifyRequest r, Caller caller) throws IOException {
      var job = job(r.job());
      if (r.sample() < 0 || r.sample() > Verifier.MAX_SAMPLE) {
        throw new RemoteException(
            ErrorCode.INVALID_ARGUMENT,
            "--sample "
                + r.sample()
                + ": 0 (no content check) to "
                + Verifier.MAX_SAMPLE
                + " snapshots per filesystem");
      }
      if (!(job instanceof ActiveJob a)) {
        throw wrongType(
            r.job(), job, "verify runs on the side that replicates (a push or pull job)");
      }
      return a.verify(r.sample());
    }

    /** INVALID_ARGUMENT: {@code name} is a job of a type this request is not for. */
    private static RemoteException wrongType(String name, JobRunner job, String why) {
      return new RemoteException(
          ErrorCode.INVALID_ARGUMENT, "job " + name + " is a " + job.type + " job: " + why);
    }

    /** The daemon's version; the request's job must be empty (there is no per-job version). */
    public Control.Lines version(Control.StatusRequest r, Caller caller) throws RemoteException {
      if (!r.job().isEmpty()) {
        throw new RemoteException(
            ErrorCode.INVALID_ARGUMENT,
            "version takes no job (got '" + r.job() + "'): the daemon has one version");
      }
      return new Control.Lines(List.of(version));
    }
  }
}
