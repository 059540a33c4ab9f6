package dev.zrepl4j.bench;

import dev.zrepl4j.rpc.RpcClient;
import dev.zrepl4j.rpc.RpcOptions;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * A zrepl4j daemon started by a benchmark through the repository's {@code zrepl4j} launcher (so
 * with the package's daemon JVM options): its control socket (status, signals), its Prometheus
 * endpoint (zfs command counts and times) and its process (RSS).
 */
final class BenchDaemon implements AutoCloseable {

  private final Process process;
  private final Path control;
  private final int metricsPort;
  private final Path log;
  private final HttpClient metricsClient = HttpClient.newHttpClient();

  private BenchDaemon(Process process, Path control, int metricsPort, Path log) {
    this.process = process;
    this.control = control;
    this.metricsPort = metricsPort;
    this.log = log;
  }

  /** The job of a sink daemon: {@code rootFs}, serving client {@code client} from 127.0.0.1. */
  static String tcpSinkJob(String rootFs, int port, String client) {
    return """
          - name: sink
            type: sink
            root_fs: %s
            serve: {type: tcp, listen: "127.0.0.1:%d", clients: {"127.0.0.1": "%s"}}
        """
        .formatted(rootFs, port, client);
  }

  /**
   * The job of a push daemon: {@code filesystems} (a filter key) to the sink on 127.0.0.1:{@code
   * sinkPort}, manual snapshotting, pruning that keeps everything, and {@code more} (further keys
   * of the job, YAML lines indented by 4 spaces; empty for none).
   */
  static String tcpPushJob(int sinkPort, String filesystems, String more) {
    return """
          - name: push
            type: push
            connect: {type: tcp, address: "127.0.0.1:%d"}
            filesystems: {"%s": true}
            snapshotting: {type: manual}
            pruning:
              keep_sender: [{type: regex, regex: ".*"}]
              keep_receiver: [{type: regex, regex: ".*"}]
        """
            .formatted(sinkPort, filesystems)
        + more;
  }

  /** A TCP port that was free a moment ago. */
  static int freePort() throws IOException {
    try (var s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  /**
   * Writes {@code dir/name.yml} — a global section (stdout logging at {@code level}, the control
   * socket {@code dir/name-run/control}, the stdinserver directory {@code dir/name-stdin},
   * Prometheus on a free port of 127.0.0.1) followed by {@code jobs} (YAML list items under {@code
   * jobs:}) — and starts the daemon with it ({@code dir/name.log}).
   */
  static BenchDaemon start(Path repo, Path dir, String name, String level, String jobs)
      throws IOException {
    int metrics = freePort();
    var control = dir.resolve(name + "-run").resolve("control");
    var yaml =
        """
        global:
          logging: [{type: stdout, level: %s, format: %s}]
          control: {sockpath: %s}
          serve: {stdinserver: {sockdir: %s}}
          monitoring: [{type: prometheus, listen: "127.0.0.1:%d"}]
        jobs:
        """
                .formatted(
                    level,
                    // at debug, logfmt: its times have nanoseconds, enough for a timeline
                    level.equals("debug") ? "logfmt" : "human",
                    control,
                    dir.resolve(name + "-stdin"),
                    metrics)
            + jobs;
    var config = dir.resolve(name + ".yml");
    Files.writeString(config, yaml);
    return start(repo, config, control, metrics, dir.resolve(name + ".log"));
  }

  /**
   * Starts {@code zrepl4j daemon --config config} and waits until its control socket answers.
   * {@code config} must name {@code control} as its control socket and serve Prometheus on {@code
   * 127.0.0.1:metricsPort}; the daemon's output goes to {@code log}.
   */
  static BenchDaemon start(Path repo, Path config, Path control, int metricsPort, Path log)
      throws IOException {
    var pb =
        new ProcessBuilder(repo.resolve("zrepl4j").toString(), "daemon", "--config", "" + config)
            .redirectErrorStream(true)
            .redirectOutput(log.toFile());
    // extra JVM options of the daemons (e.g. -XX:NativeMemoryTracking=summary), appended by the
    // launcher to the package's own
    var extra = System.getProperty("zrepl4j.bench.daemonJavaOpts", "");
    if (!extra.isBlank()) {
      pb.environment().put("ZREPL4J_JAVA_OPTS", extra);
    }
    var process = pb.start();
    var d = new BenchDaemon(process, control, metricsPort, log);
    long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
    while (true) {
      try {
        d.status();
        return d;
      } catch (IOException e) {
        if (!process.isAlive() || System.nanoTime() > deadline) {
          process.destroyForcibly();
          throw new IOException("zrepl4j did not start: " + Files.readString(log), e);
        }
        Shell.sleep(200);
      }
    }
  }

  /** The daemon's process id (the launcher execs the JVM). */
  long pid() {
    return process.pid();
  }

  /** The daemon's log file. */
  Path log() {
    return log;
  }

  /**
   * A run's times: its own duration, and the wall time from the signal to its end as the daemon
   * recorded it (its start plus its duration), in seconds.
   */
  record Ran(double runSeconds, double wallSeconds) {}

  /** How often {@link #wakeUpAndWait} asks for the status: the end's time comes from the run. */
  static final long POLL_MILLIS = 200;

  /**
   * Wakes {@code jobName} up and waits for the run that follows to end. Fails if the run reported
   * problems. The wall time ends where the daemon says the run ended, not when a status poll saw
   * it: the polls can be rare, so that they do not load the 2-core machine the run is measured on
   * (a status every 20 ms, as until 2026-12-07, cost the daemon a part of a core).
   */
  Ran wakeUpAndWait(String jobName) throws IOException {
    long before = (long) number(job(jobName), "Runs");
    var signalled = Instant.now();
    try (var c = RpcClient.unix(control, RpcOptions.defaults())) {
      c.call("control.signal", Map.of("Job", jobName, "Signal", "wakeup"), Object.class);
    }
    while (true) {
      Shell.sleep(POLL_MILLIS);
      var job = job(jobName);
      if (number(job, "Runs") > before) {
        @SuppressWarnings("unchecked")
        var last = (Map<String, Object>) job.get("LastRun");
        if (last == null) {
          throw new IOException("no last run in " + job);
        }
        var problems = (List<?>) last.get("Problems");
        if (problems != null && !problems.isEmpty()) {
          throw new IOException("zrepl4j's run had problems: " + problems);
        }
        double seconds = number(last, "Seconds");
        if (!(last.get("Started") instanceof String started)) {
          throw new IOException("no start time in " + last);
        }
        double wall = Duration.between(signalled, Instant.parse(started)).toNanos() / 1e9 + seconds;
        return new Ran(seconds, wall);
      }
    }
  }

  static double number(Map<String, Object> m, String key) throws IOException {
    if (m.get(key) instanceof Number n) {
      return n.doubleValue();
    }
    throw new IOException("no number " + key + " in " + m);
  }

  /** The status of the job {@code name}, as the control socket gives it. */
  @SuppressWarnings("unchecked")
  Map<String, Object> job(String name) throws IOException {
    var st = status();
    var jobs = (List<Map<String, Object>>) st.get("Jobs");
    if (jobs == null) {
      throw new IOException("no jobs in " + st);
    }
    for (var j : jobs) {
      if (name.equals(j.get("Name"))) {
        return j;
      }
    }
    throw new IOException("no job " + name + " in " + st);
  }

  @SuppressWarnings("unchecked")
  Map<String, Object> status() throws IOException {
    try (var c = RpcClient.unix(control, RpcOptions.defaults())) {
      return (Map<String, Object>) c.call("control.status", Map.of("Job", ""), Object.class);
    }
  }

  /** The daemon's zfs commands so far: the sum of zrepl_zfscmd_runtime_count. */
  long commands() throws IOException {
    return commandsByVerb().values().stream().mapToLong(Long::longValue).sum();
  }

  /** zrepl_zfscmd_runtime_count by its labels (job, binary, verb). */
  Map<String, Long> commandsByVerb() throws IOException {
    var out = new LinkedHashMap<String, Long>();
    metric("zrepl_zfscmd_runtime_count").forEach((k, v) -> out.put(k, (long) (double) v));
    return out;
  }

  /** One metric of the daemon by its labels. */
  Map<String, Double> metric(String name) throws IOException {
    String text;
    try {
      text =
          metricsClient
              .send(
                  HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metricsPort + "/metrics"))
                      .build(),
                  HttpResponse.BodyHandlers.ofString())
              .body();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted");
    }
    var out = new LinkedHashMap<String, Double>();
    for (var line : text.split("\n")) {
      if (line.startsWith(name + "{")) {
        int sp = line.lastIndexOf(' ');
        out.merge(
            line.substring(name.length(), sp),
            Double.parseDouble(line.substring(sp + 1)),
            Double::sum);
      }
    }
    return out;
  }

  /** What the daemon's zfs commands were and took; {@link #since} prints the difference. */
  CommandsSnapshot commandsSnapshot() throws IOException {
    return new CommandsSnapshot(
        commandsByVerb(),
        metric("zrepl_zfscmd_runtime_sum"),
        metric("zrepl_zfscmd_runtime_bucket"),
        Files.size(log));
  }

  /**
   * Prints on stderr (for reading, not figures) the commands run since {@code before} by job,
   * binary and verb and their time; with {@code slowest}, also their duration histogram and the ten
   * slowest commands from the daemon's debug log.
   */
  void since(CommandsSnapshot before, String label, boolean slowest) throws IOException {
    var diff = new TreeMap<String, Long>();
    commandsByVerb()
        .forEach(
            (k, v) -> {
              long d = v - before.count().getOrDefault(k, 0L);
              if (d != 0) {
                diff.put(k, d);
              }
            });
    System.err.println(label + ": commands of the run: " + diff);
    var spent = new TreeMap<String, String>();
    metric("zrepl_zfscmd_runtime_sum")
        .forEach(
            (k, v) -> {
              double d = v - before.seconds().getOrDefault(k, 0.0);
              if (d > 0) {
                spent.put(k, String.format(Locale.ROOT, "%.3f s", d));
              }
            });
    System.err.println(label + ": command time of the run: " + spent);
    if (!slowest) {
      return;
    }
    var buckets = new TreeMap<String, Long>();
    metric("zrepl_zfscmd_runtime_bucket")
        .forEach(
            (k, v) -> {
              long d = (long) (v - before.buckets().getOrDefault(k, 0.0));
              if (d > 0) {
                buckets.put(k, d);
              }
            });
    System.err.println(label + ": command durations of the run (cumulative): " + buckets);
    printSlowest(before.logOffset(), label);
  }

  /** A daemon's command metrics and log size at one moment. */
  record CommandsSnapshot(
      Map<String, Long> count,
      Map<String, Double> seconds,
      Map<String, Double> buckets,
      long logOffset) {}

  /**
   * The ten slowest zfs commands since {@code from}, from the debug log ("exited S after N ms").
   */
  private void printSlowest(long from, String label) throws IOException {
    byte[] all = Files.readAllBytes(log);
    var text =
        new String(
            all,
            (int) Math.min(from, all.length),
            (int) Math.max(0, all.length - from),
            StandardCharsets.UTF_8);
    var p = Pattern.compile("(\\S+) .*exited -?\\d+ after (\\d+) ms: (.*)");
    var found = new ArrayList<String[]>();
    for (var line : text.split("\n")) {
      var m = p.matcher(line);
      if (m.find()) {
        found.add(new String[] {m.group(2), m.group(1), m.group(3)});
      }
    }
    found.sort((a, b) -> Long.compare(Long.parseLong(b[0]), Long.parseLong(a[0])));
    for (var f : found.subList(0, Math.min(10, found.size()))) {
      var cmd = f[2].length() > 140 ? f[2].substring(0, 140) + "…" : f[2];
      System.err.println(label + ": slow zfs command: " + f[0] + " ms at " + f[1] + ": " + cmd);
    }
  }

  /** The daemon's resident set size now and at its peak (VmRSS, VmHWM), in MiB. */
  double[] rssMiB() throws IOException {
    double rss = -1;
    double hwm = -1;
    for (var line : Files.readAllLines(Path.of("/proc/" + process.pid() + "/status"))) {
      if (line.startsWith("VmRSS:")) {
        rss = kib(line) / 1024.0;
      } else if (line.startsWith("VmHWM:")) {
        hwm = kib(line) / 1024.0;
      }
    }
    if (rss < 0 || hwm < 0) {
      throw new IOException("no VmRSS/VmHWM for pid " + process.pid());
    }
    return new double[] {rss, hwm};
  }

  private static long kib(String line) {
    return Long.parseLong(line.replaceAll("[^0-9]", ""));
  }

  @Override
  public void close() throws IOException {
    process.destroy();
    try {
      process.waitFor();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
    }
  }

  @Override
  public String toString() {
    return "zrepl4j daemon (log " + log + ")";
  }
}
