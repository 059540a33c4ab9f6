package dev.zrepl4j.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.zrepl4j.replication.TcpProxy;
import dev.zrepl4j.replication.Trees;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.DoublePredicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A real Prometheus server (the Debian package's {@code prometheus}, started by the test with its
 * own config and storage in a temporary directory, scraping every second) scrapes a real {@code
 * zrepl4j daemon} during and after a push to a sink over TCP on zfs-fuse pools, with the example
 * alert rules loaded; the test reads the series through Prometheus's HTTP API. Also: {@code
 * promtool check rules} on the example rules, and a monitoring address that cannot be bound.
 */
@Timeout(300)
class PrometheusIT extends TwoPoolsTest {
  private static final Path ALERTS = Path.of("../examples/prometheus-alerts.yml").toAbsolutePath();
  private static final ObjectMapper JSON = new ObjectMapper();

  private Process prometheus;
  private int prometheusPort;
  private final HttpClient http = HttpClient.newHttpClient();

  PrometheusIT() {
    super("prom");
  }

  @AfterEach
  void stopPrometheus() throws InterruptedException {
    if (prometheus != null) {
      prometheus.destroy();
      if (!prometheus.waitFor(30, TimeUnit.SECONDS)) {
        prometheus.destroyForcibly();
      }
    }
    http.close();
  }

  /**
   * Starts Prometheus scraping {@code 127.0.0.1:target} as job {@code zrepl}; waits until ready.
   */
  void startPrometheus(int target) throws IOException, InterruptedException {
    var config = dir.resolve("prometheus.yml");
    Files.writeString(
        config,
        """
        global: {scrape_interval: 1s, evaluation_interval: 1s, scrape_timeout: 1s}
        rule_files: ["%s"]
        scrape_configs:
          - job_name: zrepl
            static_configs: [{targets: ["127.0.0.1:%d"]}]
        """
            .formatted(ALERTS, target));
    prometheusPort = freePort();
    var log = dir.resolve("prometheus.log");
    prometheus =
        new ProcessBuilder(
                binary("prometheus"),
                "--config.file=" + config,
                "--storage.tsdb.path=" + dir.resolve("tsdb"),
                "--web.listen-address=127.0.0.1:" + prometheusPort)
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline) {
      if (!prometheus.isAlive()) {
        fail("prometheus exited with " + prometheus.exitValue() + ":\n" + Files.readString(log));
      }
      try {
        var r = get("/-/ready");
        if (r.statusCode() == 200) {
          return;
        }
      } catch (IOException notYet) {
        // not listening yet
      }
      Thread.sleep(200);
    }
    fail("prometheus not ready within 60 s:\n" + Files.readString(log));
  }

  static String binary(String name) {
    for (var d : List.of("/usr/bin", "/usr/local/bin", "/bin")) {
      var p = Path.of(d, name);
      if (Files.isExecutable(p)) {
        return p.toString();
      }
    }
    return fail(
        name + " is not installed (scripts/test.sh installs the Debian package prometheus)");
  }

  HttpResponse<String> get(String path) throws IOException, InterruptedException {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + prometheusPort + path))
            .timeout(Duration.ofSeconds(10))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** The result vector of an instant query. */
  JsonNode query(String promql) throws IOException, InterruptedException {
    var r = get("/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8));
    assertThat(r.statusCode()).as("%s: %s", promql, r.body()).isEqualTo(200);
    var json = JSON.readTree(r.body());
    assertThat(json.path("status").asText()).as(r.body()).isEqualTo("success");
    return json.path("data").path("result");
  }

  /**
   * Polls {@code promql} until its first sample satisfies {@code ok} (Prometheus scrapes every
   * second); returns that sample.
   */
  JsonNode await(String promql, DoublePredicate ok, DaemonProcess d)
      throws IOException, InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    JsonNode last = null;
    while (System.nanoTime() < deadline) {
      last = query(promql);
      if (!last.isEmpty() && ok.test(last.get(0).path("value").get(1).asDouble())) {
        return last.get(0);
      }
      Thread.sleep(500);
    }
    return fail("Prometheus: " + promql + " -> " + last + "\ndaemon log:\n" + d.logText());
  }

  static double value(JsonNode sample) {
    return sample.path("value").get(1).asDouble();
  }

  @Test
  void prometheusScrapesTheDaemonDuringAndAfterAReplication() throws Exception {
    var testStart = Instant.now();
    int big = 20 << 20;
    Trees.write(src.mounted("data/a/b").resolve("big.bin"), 9, big);
    int metricsPort = freePort();
    startPrometheus(metricsPort);
    int sinkPort = freePort();
    try (var sink =
            DaemonProcess.start(
                dir,
                "sink",
                sinkConfig(
                    "{type: tcp, listen: \"127.0.0.1:%d\", clients: {\"127.0.0.1\": client1}}"
                        .formatted(sinkPort)),
                sock("sink"));
        var proxy = new TcpProxy(sinkPort)) {
      // the transfer stalls after 3 MB until released: Prometheus scrapes it in the middle
      proxy.stallAfter(3 << 20);
      var data = src.path("data").toString();
      var yaml =
          global("push")
              + "  monitoring:\n"
              + "    - {type: prometheus, listen: \"127.0.0.1:%d\"}\n".formatted(metricsPort)
              + "jobs:\n"
              + """
                  - name: push
                    type: push
                    connect: {type: tcp, address: "127.0.0.1:%d"}
                    filesystems: {"%s<": true, "%s/no-such-dataset": true}
                    snapshotting: {type: periodic, prefix: zrepl_, interval: 1h}
                    pruning:
                      keep_sender:
                        - {type: not_replicated}
                        - {type: last_n, count: 2}
                      keep_receiver:
                        - {type: last_n, count: 3}
                    zrepl4j_lag_objective: 1s
                """
                  .formatted(proxy.port(), data, src.name);
      try (var push = DaemonProcess.start(dir, "push", yaml, sock("push"))) {
        // during the transfer
        await("up{job=\"zrepl\"}", v -> v == 1, push);
        await("zrepl_trace_active_tasks", v -> v >= 2, push); // the run and a step
        await(
            "zrepl_zfscmd_runtime_count{jobid=\"push\",zfsbinary=\"zfs\",zfsverb=\"list\"}",
            v -> v >= 1,
            push);
        push.await("push", Duration.ofSeconds(60), s -> !s.current().isEmpty());
        var bab = data + "/a/b";
        // the bytes count while they stream (the stall holds the step; nothing has completed)
        await(
            "zrepl_replication_bytes_replicated{zrepl_job=\"push\",filesystem=\"%s\"}"
                .formatted(bab),
            v -> v >= 1 << 20,
            push);
        assertThat(push.job("push").runs()).as("still in the first run").isZero();
        proxy.release();
        var s = push.awaitRuns("push", 1);
        assertRunOk(push, s);
        assertReplicated("client1");

        // after it
        await(
            "zrepl_replication_bytes_replicated{zrepl_job=\"push\",filesystem=\"%s\"}"
                .formatted(bab),
            v -> v >= big,
            push);
        await(
            "sum(zrepl_replication_bytes_replicated{zrepl_job=\"push\"})",
            v -> v >= big + 600_000,
            push);
        assertThat(query("count(zrepl_replication_bytes_replicated{zrepl_job=\"push\"})"))
            .as("one series per filesystem")
            .first()
            .extracting(PrometheusIT::value)
            .isEqualTo(3.0);
        await(
            "zrepl_replication_last_successful{zrepl_job=\"push\"}",
            v -> v >= testStart.getEpochSecond(),
            push);
        await("zrepl_replication_filesystem_errors{zrepl_job=\"push\"}", v -> v == 0, push);
        for (var state : List.of("snapshotting", "replicating", "pruning")) {
          await(
              "zrepl_replication_state_time_count{zrepl_job=\"push\",state=\"%s\"}"
                  .formatted(state),
              v -> v >= 1,
              push);
        }
        for (var side : List.of("sender", "receiver")) {
          await(
              "zrepl_pruning_time_count{zrepl_job=\"push\",prune_side=\"%s\"}".formatted(side),
              v -> v >= 1,
              push);
        }
        await(
            "zrepl_zfscmd_runtime_count{jobid=\"push\",zfsbinary=\"zfs\",zfsverb=\"send\"}",
            v -> v >= 3,
            push);
        await(
            "zrepl_zfs_list_unmatched_user_specified_dataset_count{jobid=\"push\"}",
            v -> v >= 1,
            push);
        await("zrepl_endpoint_abstractions_cache_entry_count", v -> v >= 3, push);
        await("zrepl_start_time{raw=~\".+\",version_info=~\"zrepl4j .*\"}", v -> v > 0, push);
        await("jvm_memory_used_bytes{area=\"heap\"}", v -> v > 0, push);
        // lag: the newest common snapshot was taken at the start of this run
        var lag =
            await(
                "zrepl4j_replication_lag_seconds{zrepl_job=\"push\",filesystem=\"%s\"}"
                    .formatted(data),
                v -> v >= 0,
                push);
        assertThat(value(lag))
            .isLessThanOrEqualTo(Duration.between(testStart, Instant.now()).toSeconds() + 2);
        assertThat(query("count(zrepl4j_replication_lag_seconds{zrepl_job=\"push\"})"))
            .first()
            .extracting(PrometheusIT::value)
            .isEqualTo(3.0);
        await("zrepl4j_replication_lag_objective_seconds{zrepl_job=\"push\"}", v -> v == 1, push);
        // 1 s is soon exceeded: the objective is breached in the metric, the alert, status, log
        await("zrepl4j_replication_lag_objective_breached{zrepl_job=\"push\"}", v -> v == 1, push);
        var alert =
            await(
                "ALERTS{alertname=\"Zrepl4jLagObjectiveBreached\",zrepl_job=\"push\"}",
                v -> v == 1,
                push);
        assertThat(alert.path("metric").path("alertstate").asText()).isIn("pending", "firing");
        var text = push.cli("status");
        assertThat(text).contains("lag objective: PT1S, BREACHED").contains(data + " ");
        assertThat(push.cli("status", "--json"))
            .contains("\"objective\" : \"PT1S\"")
            .contains("\"breached\" : true");
        assertThat(push.logText()).contains("job push: lag objective PT1S breached");
      }
      // the daemon is gone: Prometheus sees it down
      await("up{job=\"zrepl\"}", v -> v == 0, sink);
    }
  }

  @Test
  void aMonitoringListenThatCannotBeBoundFailsTheStartNamingIt() throws IOException {
    try (var taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      var listen = "127.0.0.1:" + taken.getLocalPort();
      var config = dir.resolve("bad-listen.yml");
      Files.writeString(
          config,
          global("bad")
              + "  monitoring:\n"
              + "    - {type: prometheus, listen: \"%s\"}\n".formatted(listen)
              + "jobs:\n"
              + sinkJob(
                  "{type: tcp, listen: \"127.0.0.1:%d\", clients: {\"127.0.0.1\": c}}"
                      .formatted(freePort())));
      var r = DaemonProcess.run("daemon", "--config", config.toString());
      assertThat(r.exit()).as(r.out() + r.err()).isEqualTo(1);
      assertThat(r.err()).contains("cannot listen on " + listen);
      assertThat(sock("bad")).as("nothing left running").doesNotExist();
    }
  }

  @Test
  void exampleAlertRulesPassPromtool() throws Exception {
    var p =
        new ProcessBuilder(binary("promtool"), "check", "rules", ALERTS.toString())
            .redirectErrorStream(true)
            .start();
    var out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(out).isZero();
    assertThat(out).contains("SUCCESS: 4 rules found");
  }
}
