package dev.zrepl4j.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * zrepl4j at the scale people run (issue 17): one push daemon and one sink daemon, as a user runs
 * them (two processes started by the {@code zrepl4j} launcher with the package's daemon JVM
 * options, plain TCP between them), replicating {@code fs} filesystems of {@code snaps} snapshots
 * each on zfs-fuse. Scenarios, each verified (the sink's snapshots have the source's guids and
 * referenced sizes):
 *
 * <ul>
 *   <li>{@code init}: every filesystem with all its snapshots ({@code -I} batching on);
 *   <li>{@code noop}: nothing changed;
 *   <li>{@code incr}: one new snapshot on every filesystem.
 * </ul>
 *
 * Prints per scenario the wall time from {@code signal wakeup} to the run's end ({@code
 * scale.SCENARIO.1000fs}), the run's own duration and the zfs commands of both daemons; then the
 * daemons' resident set sizes after the runs ({@code scale.rss.sender}, {@code scale.rss.sink}) and
 * at their peaks, and how long {@code zrepl4j status --json} (a new JVM, as an administrator runs
 * it) and the status call alone take against each daemon.
 *
 * <p>System properties: {@code zrepl4j.scale.fs} (1000), {@code .snaps} (10), {@code .steps} (the
 * push job's {@code replication.concurrency.steps}, 2), {@code .slowest} (daemons at debug, each
 * run's ten slowest commands on stderr); {@code zrepl4j.bench.smoke} shrinks it to seconds.
 */
public final class ScaleBench {

  private final boolean smoke = Boolean.getBoolean("zrepl4j.bench.smoke");
  private final int fsCount = Integer.getInteger("zrepl4j.scale.fs", smoke ? 5 : 1000);
  private final int snaps = Integer.getInteger("zrepl4j.scale.snaps", smoke ? 2 : 10);
  private final boolean slowest = Boolean.getBoolean("zrepl4j.scale.slowest");
  private final Path repo = Path.of(System.getProperty("zrepl4j.repo", ".")).toAbsolutePath();
  private final Path dir = Path.of("/var/tmp/zrepl4j-bench-scale");
  private final String src = "zbscale_src";
  private final String dst = "zbscale_dst";
  private final String suffix = fsCount + "fs";
  private int snapshotCounter;

  private ScaleBench() {}

  public static void main(String[] args) throws Exception {
    new ScaleBench().run();
  }

  private void run() throws Exception {
    Shell.cleanPools(src, dst);
    long t0 = System.nanoTime();
    try (var s = new BenchPool(src, dir, 512 + fsCount * 8L);
        var d = new BenchPool(dst, dir, 512 + fsCount * 8L)) {
      Shell.run("zfs", "create", src + "/scale");
      for (int i = 0; i < fsCount; i++) {
        Shell.run("zfs", "create", fs(i));
      }
      Shell.run("zfs", "create", dst + "/z");
      for (int k = 0; k < snaps; k++) {
        changeAndSnapshot();
      }
      System.err.printf(
          Locale.ROOT,
          "scale: %d filesystems x %d snapshots made in %.1f s%n",
          fsCount,
          snaps,
          (System.nanoTime() - t0) / 1e9);
      int sinkPort = BenchDaemon.freePort();
      try (var sink = startSink(sinkPort);
          var push = startPush(sinkPort)) {
        scenario("init", push, sink);
        scenario("noop", push, sink);
        changeAndSnapshot();
        scenario("incr", push, sink);
        var hold = System.getProperty("zrepl4j.scale.holdSeconds");
        if (hold != null) {
          // time to look at the daemons by hand (jcmd PID VM.native_memory summary, ...)
          System.err.printf(
              Locale.ROOT, "scale: daemons: push pid %d, sink pid %d%n", push.pid(), sink.pid());
          Shell.sleep(Long.parseLong(hold) * 1000);
        }
        var sender = push.rssMiB();
        var receiver = sink.rssMiB();
        System.out.printf(Locale.ROOT, "scale.rss.sender %.0f MiB%n", sender[0]);
        System.out.printf(Locale.ROOT, "scale.rss.sink %.0f MiB%n", receiver[0]);
        System.out.printf(Locale.ROOT, "scale.rss.sender.peak %.0f MiB%n", sender[1]);
        System.out.printf(Locale.ROOT, "scale.rss.sink.peak %.0f MiB%n", receiver[1]);
        statusTimes("sender", push, dir.resolve("push.yml"));
        statusTimes("sink", sink, dir.resolve("sink.yml"));
      }
    }
    System.out.println("scale.filesystems " + fsCount + " count");
    System.out.println("scale.snapshots.per.filesystem " + snaps + " count");
  }

  private void scenario(String name, BenchDaemon push, BenchDaemon sink) throws IOException {
    var expected = PeersBench.snapshotsBelow(src + "/scale");
    var pushBefore = push.commandsSnapshot();
    var sinkBefore = sink.commandsSnapshot();
    var ran = push.wakeUpAndWait("push");
    double run = ran.runSeconds();
    double wall = ran.wallSeconds();
    var got = PeersBench.snapshotsBelow(dst + "/z/bench/" + src + "/scale");
    if (!got.equals(expected)) {
      throw new IllegalStateException(
          name
              + ": the sink's copy differs from the source ("
              + got.size()
              + " of "
              + expected.size()
              + " properties as expected or not)");
    }
    long commands = push.commands() - sum(pushBefore) + sink.commands() - sum(sinkBefore);
    push.since(pushBefore, "scale: " + name + " sender", slowest);
    sink.since(sinkBefore, "scale: " + name + " sink", slowest);
    System.err.printf(
        Locale.ROOT,
        "scale: %s %.2f s (verified), rss sender %.0f MiB, sink %.0f MiB%n",
        name,
        wall,
        push.rssMiB()[0],
        sink.rssMiB()[0]);
    System.out.printf(Locale.ROOT, "scale.%s.%s %.2f s%n", name, suffix, wall);
    System.out.printf(Locale.ROOT, "scale.%s.%s.run %.2f s%n", name, suffix, run);
    System.out.printf(
        Locale.ROOT, "scale.%s.%s.zfs.commands %d commands%n", name, suffix, commands);
  }

  private static long sum(BenchDaemon.CommandsSnapshot s) {
    return s.count().values().stream().mapToLong(Long::longValue).sum();
  }

  /**
   * The median wall time of {@code zrepl4j status --json} (a new JVM each time, with the launcher's
   * options for short commands) and of the status call alone, against one daemon.
   */
  private void statusTimes(String who, BenchDaemon daemon, Path config) throws IOException {
    int n = smoke ? 1 : 5;
    var cli = new ArrayList<Double>();
    var call = new ArrayList<Double>();
    int bytes = 0;
    for (int i = 0; i < n; i++) {
      long t0 = System.nanoTime();
      var out =
          Shell.run(
              repo.resolve("zrepl4j").toString(), "status", "--json", "--config", "" + config);
      cli.add((System.nanoTime() - t0) / 1e6);
      if (!out.contains("\"jobs\"")) {
        throw new IOException("zrepl4j status printed no status: " + out);
      }
      bytes = out.length();
      t0 = System.nanoTime();
      daemon.status();
      call.add((System.nanoTime() - t0) / 1e6);
    }
    System.out.printf(Locale.ROOT, "scale.status.%s %.0f ms%n", who, median(cli));
    System.out.printf(Locale.ROOT, "scale.status.%s.call %.0f ms%n", who, median(call));
    System.out.printf(Locale.ROOT, "scale.status.%s.bytes %d bytes%n", who, bytes);
  }

  private static double median(List<Double> l) {
    var s = l.stream().sorted().toList();
    return s.size() % 2 == 1
        ? s.get(s.size() / 2)
        : (s.get(s.size() / 2 - 1) + s.get(s.size() / 2)) / 2;
  }

  private BenchDaemon startSink(int port) throws IOException {
    return startDaemon("sink", BenchDaemon.tcpSinkJob(dst + "/z", port, "bench"));
  }

  private BenchDaemon startPush(int sinkPort) throws IOException {
    var more =
        """
            conflict_resolution: {initial_replication: all}
            replication:
              zrepl4j_send_intermediates: true
              concurrency: {steps: %d}
        """
            .formatted(Integer.getInteger("zrepl4j.scale.steps", 2));
    return startDaemon("push", BenchDaemon.tcpPushJob(sinkPort, src + "/scale<", more));
  }

  /** A daemon named {@code name} ({@code name.yml}, {@code name.log}, ...) running {@code jobs}. */
  private BenchDaemon startDaemon(String name, String jobs) throws IOException {
    return BenchDaemon.start(repo, dir, name, level(), jobs);
  }

  private String level() {
    return slowest ? "debug" : "warn";
  }

  private String fs(int i) {
    return String.format(Locale.ROOT, "%s/scale/fs%04d", src, i);
  }

  /** A small change on every filesystem, then one recursive snapshot. */
  private void changeAndSnapshot() throws IOException {
    var name = String.format(Locale.ROOT, "s%04d", ++snapshotCounter);
    var mnt = dir.resolve("mnt").resolve(src).resolve("scale");
    for (int i = 0; i < fsCount; i++) {
      Files.write(
          mnt.resolve(String.format(Locale.ROOT, "fs%04d", i)).resolve(name + ".txt"),
          (name + " of fs" + i + "\n")
              .repeat(64)
              .getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
    Shell.run("zfs", "snapshot", "-r", src + "/scale@" + name);
  }
}
