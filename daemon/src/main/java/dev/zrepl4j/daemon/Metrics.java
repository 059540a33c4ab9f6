package dev.zrepl4j.daemon;

import dev.zrepl4j.replication.VerifyReport;
import dev.zrepl4j.zfs.CommandListener;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;

/**
 * The daemon's Prometheus metrics: zrepl's names, types and label sets (so zrepl's Grafana
 * dashboard and alert rules keep working), zrepl4j's lag metrics, and the JVM's runtime metrics in
 * place of Go's. One per daemon, fed by its jobs through {@link JobMetrics} handles; {@code
 * /metrics} serves {@link #registry()}. Thread-safe.
 *
 * <p>Why the official Prometheus Java client ({@code io.prometheus:prometheus-metrics-*} 1.x) and
 * not Micrometer: the metrics must keep zrepl's exact names, label names and histogram buckets; the
 * client's model is Prometheus's own, while Micrometer's dimensional layer renames meters to its
 * conventions (base units, suffixes) and its Prometheus registry is built on this same client
 * anyway, one layer further away. The client also brings the HTTP exporter (on the JDK's HTTP
 * server, no further dependencies) and the JVM metrics.
 *
 * <p>Implementation notes. zrepl's two counters ({@code zrepl_replication_bytes_replicated}, {@code
 * zrepl_daemon_log_entries}) are exposed under their exact zrepl names by {@link Monotonic}, as
 * {@code untyped}: the Prometheus Java client (like every OpenMetrics-era client) always exposes a
 * counter as {@code NAME_total}, and zrepl's dashboard queries the bare name; PromQL's {@code
 * rate()} and {@code increase()} treat both alike. Where zrepl4j has no thing of zrepl's name, the
 * closest honest meaning is exposed and documented at the metric ({@code zrepl_trace_active_tasks},
 * {@code zrepl_endpoint_abstractions_cache_entry_count}). zrepl's {@code zrepl_zfscmd_systemtime}
 * and {@code _usertime} are not exposed: the JDK reaps a child before its CPU times can be read
 * apart.
 */
public final class Metrics {
  private static final double[] ZFSCMD_BUCKETS = {0.01, 0.1, 0.2, 0.5, 0.75, 1, 2, 5, 10, 60};

  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final Clock clock;
  private final Monotonic bytesReplicated;
  private final Gauge filesystemErrors;
  private final Gauge lastSuccessful;
  private final Histogram stateTime;
  private final Histogram pruningTime;
  private final Histogram zfscmdRuntime;
  private final Counter zfscmdTimeouts;
  private final Gauge verifyProblems;
  private final Gauge verifyLast;
  private final Gauge verifyChecked;
  private final Gauge unmatched;

  /**
   * What the callback metrics read at each scrape: the daemon's jobs as they are then.
   *
   * @param logEntries where the logging backend counts entries ({@code zrepl_daemon_log_entries})
   * @param jobs the daemon's jobs
   */
  Metrics(Clock clock, String version, LogEntryCounter logEntries, Supplier<List<JobRunner>> jobs) {
    this.clock = clock;
    Gauge.builder()
        .name("zrepl_start_time")
        .help("zrepl daemon start time and version")
        .labelNames("raw", "version_info")
        .register(registry)
        .labelValues(version, versionInfo(version))
        .set(clock.millis() / 1000.0);
    bytesReplicated =
        register(
            new Monotonic(
                "zrepl_replication_bytes_replicated",
                "number of bytes replicated from sender to receiver per filesystem (send stream"
                    + " bytes as they flow, attempts that failed and were retried included)",
                "zrepl_job",
                "filesystem"));
    registry.register(logEntries.entries());
    registry.register(logEntries.dropped());
    filesystemErrors =
        Gauge.builder()
            .name("zrepl_replication_filesystem_errors")
            .help(
                "number of filesystems that failed replication in the latest replication attempt,"
                    + " or -1 if the job failed before enumerating the filesystems")
            .labelNames("zrepl_job")
            .register(registry);
    lastSuccessful =
        Gauge.builder()
            .name("zrepl_replication_last_successful")
            .help("timestamp of last successful replication")
            .labelNames("zrepl_job")
            .register(registry);
    stateTime =
        Histogram.builder()
            .name("zrepl_replication_state_time")
            .help(
                "seconds spent during replication, per phase of an active job's run"
                    + " (snapshotting, replicating, pruning)")
            .labelNames("zrepl_job", "state")
            .classicOnly()
            .register(registry);
    pruningTime =
        Histogram.builder()
            .name("zrepl_pruning_time")
            .help("seconds spent in pruner")
            .labelNames("zrepl_job", "prune_side")
            .classicOnly()
            .register(registry);
    zfscmdRuntime =
        Histogram.builder()
            .name("zrepl_zfscmd_runtime")
            .help("number of seconds that the command took from start until wait returned")
            .labelNames("jobid", "zfsbinary", "zfsverb")
            .classicUpperBounds(ZFSCMD_BUCKETS)
            .classicOnly()
            .register(registry);
    zfscmdTimeouts =
        Counter.builder()
            .name("zrepl4j_zfscmd_timeouts")
            .help(
                "zfs commands killed because they ran past global.zrepl4j_zfs_command_timeout (a"
                    + " hung pool or a stuck zfs)")
            .labelNames("jobid", "zfsbinary", "zfsverb")
            .register(registry);
    verifyProblems =
        Gauge.builder()
            .name("zrepl4j_verify_problems")
            .help(
                "what the job's latest verify found not to match the sender (by kind: guid, size,"
                    + " content, property, missing, clone, error); 0 when the copies match")
            .labelNames("zrepl_job", "kind")
            .register(registry);
    verifyLast =
        Gauge.builder()
            .name("zrepl4j_verify_last_run")
            .help("timestamp of the end of the job's latest verify")
            .labelNames("zrepl_job")
            .register(registry);
    verifyChecked =
        Gauge.builder()
            .name("zrepl4j_verify_checked_snapshots")
            .help(
                "snapshots the job's latest verify compared: by guid and size (what=identity) and"
                    + " by content (what=content)")
            .labelNames("zrepl_job", "what")
            .register(registry);
    unmatched =
        Gauge.builder()
            .name("zrepl_zfs_list_unmatched_user_specified_dataset_count")
            .help(
                "When evaluating a DatsetFilter against zfs list output, this counter is"
                    + " incremented for every DatasetFilter rule that did not match any filesystem"
                    + " name in the zfs list output. Monitor for increases to detect filesystem"
                    + " filter rules that have no effect because they don't match any local"
                    + " filesystem.")
            .labelNames("jobid")
            .register(registry);
    GaugeWithCallback.builder()
        .name("zrepl_trace_active_tasks")
        .help(
            "number of active tasks in the daemon: job runs in progress plus filesystems with a"
                + " replication step in progress (zrepl4j has no tracing tasks; these are the"
                + " activities zrepl traces)")
        .callback(cb -> cb.call(jobs.get().stream().mapToInt(JobRunner::activeTasks).sum()))
        .register(registry);
    GaugeWithCallback.builder()
        .name("zrepl_endpoint_abstractions_cache_entry_count")
        .help(
            "number of abstractions tracked in the abstractions cache: in zrepl4j, the"
                + " filesystems whose replication cursor and step holds the active jobs have"
                + " confirmed since the daemon started (re-checked after a failure)")
        .callback(cb -> cb.call(jobs.get().stream().mapToInt(JobRunner::settledCursors).sum()))
        .register(registry);
    GaugeWithCallback.builder()
        .name("zrepl4j_replication_lag_seconds")
        .help(
            "age of the newest snapshot that both sender and receiver have, as of the job's last"
                + " replication: how much recent history would be lost if the sender died now")
        .labelNames("zrepl_job", "filesystem")
        .callback(
            cb -> {
              var now = clock.instant();
              for (var j : jobs.get()) {
                for (var l : j.lag(now)) {
                  if (l.seconds() != null) {
                    cb.call(l.seconds(), j.name(), l.filesystem());
                  }
                }
              }
            })
        .register(registry);
    GaugeWithCallback.builder()
        .name("zrepl4j_replication_lag_objective_seconds")
        .help("the job's zrepl4j_lag_objective: the largest acceptable replication lag")
        .labelNames("zrepl_job")
        .callback(
            cb -> {
              for (var j : jobs.get()) {
                j.lagObjective().ifPresent(o -> cb.call(o.toMillis() / 1000.0, j.name()));
              }
            })
        .register(registry);
    GaugeWithCallback.builder()
        .name("zrepl4j_replication_lag_objective_breached")
        .help(
            "1 if a filesystem of the job lags more than its zrepl4j_lag_objective (or has no"
                + " snapshot on the receiver yet), else 0")
        .labelNames("zrepl_job")
        .callback(
            cb -> {
              var now = clock.instant();
              for (var j : jobs.get()) {
                if (j.lagObjective().isPresent()) {
                  cb.call(j.lagBreaches(now).isEmpty() ? 0 : 1, j.name());
                }
              }
            })
        .register(registry);
    JvmMetrics.builder().register(registry);
  }

  private static String versionInfo(String version) {
    return "zrepl4j version="
        + version
        + " java="
        + Runtime.version()
        + " os="
        + System.getProperty("os.name")
        + " arch="
        + System.getProperty("os.arch");
  }

  private Monotonic register(Monotonic m) {
    registry.register(m);
    return m;
  }

  /** What {@code /metrics} serves. */
  PrometheusRegistry registry() {
    return registry;
  }

  /** The handle through which job {@code name} feeds its metrics. */
  JobMetrics job(String name) {
    return new JobMetrics(name);
  }

  /** One job's metrics. Thread-safe. */
  final class JobMetrics {
    private final String name;

    private JobMetrics(String name) {
      this.name = name;
    }

    /** Adds {@code bytes} replicated of {@code filesystem} (0 still creates the series). */
    void replicated(String filesystem, long bytes) {
      bytesReplicated.add(bytes, name, filesystem);
    }

    /** A replication attempt enumerated the filesystems and {@code failed} of them failed. */
    void replicationEnded(int failed) {
      filesystemErrors.labelValues(name).set(failed);
      if (failed == 0) {
        lastSuccessful.labelValues(name).set(clock.millis() / 1000.0);
      }
    }

    /** A replication attempt failed before it enumerated the filesystems. */
    void replicationFailed() {
      filesystemErrors.labelValues(name).set(-1);
    }

    /** Time spent in a phase of a run. */
    void stateTime(String state, Duration took) {
      stateTime.labelValues(name, state).observe(took.toNanos() / 1e9);
    }

    /** Time spent pruning one side: {@code sender}, {@code receiver} or {@code local}. */
    void pruned(String side, Duration took) {
      pruningTime.labelValues(name, side).observe(took.toNanos() / 1e9);
    }

    /** A verify ended with this report. */
    void verified(VerifyReport report) {
      for (var kind : List.of("guid", "size", "content", "property", "missing", "clone", "error")) {
        verifyProblems
            .labelValues(name, kind)
            .set(report.problems().stream().filter(p -> p.kind().equals(kind)).count());
      }
      verifyLast.labelValues(name).set(clock.millis() / 1000.0);
      verifyChecked.labelValues(name, "identity").set(report.snapshots());
      verifyChecked.labelValues(name, "content").set(report.contentChecked());
    }

    /** A listing found no dataset for {@code n} of the job's filter patterns. */
    void unmatched(int n) {
      unmatched.labelValues(name).inc(n);
    }

    /** Observes the runtime of each zfs command of this job. */
    CommandListener zfsCommands() {
      return new CommandListener() {
        @Override
        public void exited(String binary, String verb, Duration runtime) {
          zfscmdRuntime.labelValues(name, binary, verb).observe(runtime.toNanos() / 1e9);
        }

        @Override
        public void timedOut(String binary, String verb, Duration deadline) {
          zfscmdTimeouts.labelValues(name, binary, verb).inc();
        }
      };
    }
  }
}
