package dev.zrepl4j.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/**
 * The metrics as Prometheus reads them: scraped over HTTP from a real {@link MetricsServer} on
 * 127.0.0.1, in the text exposition format, with zrepl's exact names, types and label sets.
 */
class MetricsTest {
  private static final Instant T0 = Instant.parse("2026-12-06T10:00:00Z");

  /** A job that reports a fixed lag and objective, as an active job does after a run. */
  static final class LaggingJob extends JobRunner {
    private final List<JobStatus.FsLag> lag;
    private final @Nullable Duration objective;
    int tasks;

    LaggingJob(String name, Clock clock, List<JobStatus.FsLag> lag, @Nullable Duration objective) {
      super(name, "push", clock);
      this.lag = lag;
      this.objective = objective;
    }

    @Override
    protected Optional<Instant> nextRun(@Nullable Instant lastEnd) {
      return Optional.empty();
    }

    @Override
    protected JobStatus.Run run(boolean woken) {
      throw new UnsupportedOperationException();
    }

    @Override
    int activeTasks() {
      return tasks;
    }

    @Override
    int settledCursors() {
      return 3;
    }

    @Override
    Optional<Duration> lagObjective() {
      return Optional.ofNullable(objective);
    }

    @Override
    List<JobStatus.FsLag> lag(Instant now) {
      return lag;
    }
  }

  static String scrape(int port) throws IOException, InterruptedException {
    try (var http = HttpClient.newHttpClient()) {
      var r =
          http.send(
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.headers().firstValue("content-type").orElse("")).startsWith("text/plain");
      return r.body();
    }
  }

  @Test
  void servesZreplsNamesTypesAndLabelsInTheTextFormat() throws Exception {
    var clock = Clock.fixed(T0, ZoneOffset.UTC);
    var stats = new LogStats();
    var logs = new LogEntryCounter(stats);
    var job =
        new LaggingJob(
            "push",
            clock,
            List.of(
                new JobStatus.FsLag("p/data", "zrepl_1", T0.minusSeconds(90).toString(), 90.0),
                new JobStatus.FsLag("p/data/a", null, null, null)),
            Duration.ofMinutes(1));
    job.tasks = 2;
    var metrics = new Metrics(clock, "0.1.0-test", logs, () -> List.of(job));
    var m = metrics.job("push");
    m.replicated("p/data", 1000);
    m.replicated("p/data", 234);
    m.replicated("p/data/a", 0);
    m.replicationEnded(0);
    m.stateTime("replicating", Duration.ofMillis(1500));
    m.pruned("sender", Duration.ofMillis(20));
    m.unmatched(2);
    m.zfsCommands().exited("zfs", "send", Duration.ofMillis(300));
    stats.count("push", "repl", LogEntry.Level.WARN);
    stats.count("push", "", LogEntry.Level.WARN);
    stats.count(LogStats.NO_JOB, "", LogEntry.Level.INFO);
    var failing = metrics.job("pull");
    failing.replicationFailed();
    try (var server = MetricsServer.start("127.0.0.1:0", metrics)) {
      var text = scrape(server.port());
      assertThat(text)
          .contains("# TYPE zrepl_start_time gauge")
          .containsPattern(
              "zrepl_start_time\\{raw=\"0.1.0-test\",version_info=\"zrepl4j version=0.1.0-test"
                  + " java=[^\"]+\"} 1.7965512E9")
          .contains("# TYPE zrepl_replication_bytes_replicated untyped")
          .contains(
              "zrepl_replication_bytes_replicated{filesystem=\"p/data\",zrepl_job=\"push\"} 1234.0")
          .contains(
              "zrepl_replication_bytes_replicated{filesystem=\"p/data/a\",zrepl_job=\"push\"} 0.0")
          .doesNotContain("zrepl_replication_bytes_replicated_total")
          .contains("# TYPE zrepl_replication_filesystem_errors gauge")
          .contains("zrepl_replication_filesystem_errors{zrepl_job=\"push\"} 0.0")
          .contains("zrepl_replication_filesystem_errors{zrepl_job=\"pull\"} -1.0")
          .contains("zrepl_replication_last_successful{zrepl_job=\"push\"} 1.7965512E9")
          .doesNotContain("zrepl_replication_last_successful{zrepl_job=\"pull\"}")
          .contains("# TYPE zrepl_replication_state_time histogram")
          .contains(
              "zrepl_replication_state_time_count{state=\"replicating\",zrepl_job=\"push\"} 1")
          .contains(
              "zrepl_replication_state_time_sum{state=\"replicating\",zrepl_job=\"push\"} 1.5")
          .contains("# TYPE zrepl_pruning_time histogram")
          .contains("zrepl_pruning_time_count{prune_side=\"sender\",zrepl_job=\"push\"} 1")
          .contains("# TYPE zrepl_zfscmd_runtime histogram")
          .contains(
              "zrepl_zfscmd_runtime_bucket{jobid=\"push\",zfsbinary=\"zfs\",zfsverb=\"send\",le=\"0.2\"} 0")
          .contains(
              "zrepl_zfscmd_runtime_bucket{jobid=\"push\",zfsbinary=\"zfs\",zfsverb=\"send\",le=\"0.5\"} 1")
          .contains(
              "zrepl_zfscmd_runtime_bucket{jobid=\"push\",zfsbinary=\"zfs\",zfsverb=\"send\",le=\"60.0\"} 1")
          .contains("# TYPE zrepl_daemon_log_entries untyped")
          .contains("zrepl_daemon_log_entries{level=\"warn\",zrepl_job=\"push\"} 2.0")
          .contains("zrepl_daemon_log_entries{level=\"info\",zrepl_job=\"_nojobid\"} 1.0")
          .contains("# TYPE zrepl_trace_active_tasks gauge")
          .contains("zrepl_trace_active_tasks 2.0")
          .contains("zrepl_endpoint_abstractions_cache_entry_count 3.0")
          .contains("zrepl_zfs_list_unmatched_user_specified_dataset_count{jobid=\"push\"} 2.0")
          .contains(
              "zrepl4j_replication_lag_seconds{filesystem=\"p/data\",zrepl_job=\"push\"} 90.0")
          .doesNotContain("zrepl4j_replication_lag_seconds{filesystem=\"p/data/a\"")
          .contains("zrepl4j_replication_lag_objective_seconds{zrepl_job=\"push\"} 60.0")
          .contains("zrepl4j_replication_lag_objective_breached{zrepl_job=\"push\"} 1.0")
          .contains("jvm_memory_used_bytes")
          .contains("jvm_threads_current");
    }
  }

  @Test
  void aVerifyReportsItsProblemsByKindAndWhatItChecked() throws Exception {
    var clock = Clock.fixed(T0, ZoneOffset.UTC);
    var metrics = new Metrics(clock, "0.1.0-test", new LogEntryCounter(new LogStats()), List::of);
    var report =
        new dev.zrepl4j.replication.VerifyReport(
            "push",
            T0.toString(),
            T0.toString(),
            2,
            7,
            1,
            3,
            4096,
            List.of(
                new dev.zrepl4j.replication.VerifyReport.Problem("p/a", "missing", "@s2 gone"),
                new dev.zrepl4j.replication.VerifyReport.Problem("p/b", "missing", "@s3 gone"),
                new dev.zrepl4j.replication.VerifyReport.Problem("p/b", "guid", "@s4 forged")),
            List.of());
    metrics.job("push").verified(report);
    try (var server = MetricsServer.start("127.0.0.1:0", metrics)) {
      assertThat(scrape(server.port()))
          .contains("zrepl4j_verify_problems{kind=\"missing\",zrepl_job=\"push\"} 2.0")
          .contains("zrepl4j_verify_problems{kind=\"guid\",zrepl_job=\"push\"} 1.0")
          .contains("zrepl4j_verify_problems{kind=\"content\",zrepl_job=\"push\"} 0.0")
          .contains("zrepl4j_verify_last_run{zrepl_job=\"push\"} 1.7965512E9")
          .contains("zrepl4j_verify_checked_snapshots{what=\"identity\",zrepl_job=\"push\"} 7.0")
          .contains("zrepl4j_verify_checked_snapshots{what=\"content\",zrepl_job=\"push\"} 3.0");
    }
  }

  @Test
  void lagWithinTheObjectiveIsNotABreach() throws Exception {
    var clock = Clock.fixed(T0, ZoneOffset.UTC);
    var job =
        new LaggingJob(
            "push",
            clock,
            List.of(new JobStatus.FsLag("p/data", "zrepl_1", T0.toString(), 30.0)),
            Duration.ofMinutes(1));
    var metrics = new Metrics(clock, "v", new LogEntryCounter(), () -> List.of(job));
    try (var server = MetricsServer.start("127.0.0.1:0", metrics)) {
      assertThat(scrape(server.port()))
          .contains("zrepl4j_replication_lag_objective_breached{zrepl_job=\"push\"} 0.0");
    }
    assertThat(job.status().lag()).isNotNull();
    assertThat(job.status().lag().breached()).isFalse();
    assertThat(job.status().lag().objective()).isEqualTo("PT1M");
  }

  @Test
  void aListenAddressInUseFailsNamingIt() throws Exception {
    try (var taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      var listen = "127.0.0.1:" + taken.getLocalPort();
      var metrics = new Metrics(Clock.systemUTC(), "v", new LogEntryCounter(), List::of);
      assertThatThrownBy(() -> MetricsServer.start(listen, metrics))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("cannot listen on " + listen);
    }
  }

  @Test
  void anUnknownHostFailsNamingIt() {
    assertThatThrownBy(() -> MetricsServer.address("no-such-host.invalid:9811"))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("no-such-host.invalid:9811");
  }

  @Test
  void parsesZreplsListenForms() throws IOException {
    assertThat(MetricsServer.address(":9811").getAddress().isAnyLocalAddress()).isTrue();
    assertThat(MetricsServer.address(":9811").getPort()).isEqualTo(9811);
    assertThat(MetricsServer.address("127.0.0.1:9811").getAddress().getHostAddress())
        .isEqualTo("127.0.0.1");
    assertThat(MetricsServer.address("[::1]:9811").getAddress().getHostAddress())
        .isEqualTo("0:0:0:0:0:0:0:1");
  }
}
