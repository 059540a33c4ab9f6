package dev.zrepl4j.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * zrepl4j against the other tools on the same pools in one run (issue 17): the floor (a raw {@code
 * zfs send | zfs recv} loop that knows what each target has), syncoid (Debian's {@code sanoid}
 * package, local), and zrepl4j (one daemon, a push job and a sink over the in-process transport,
 * manual snapshotting, {@code -I} batching on). One source, one target root per tool; every
 * scenario changes the source once and then runs the tools one after another, the order rotating
 * from scenario to scenario (zfs-fuse's speed drifts within minutes). Every result is verified: the
 * target's snapshots have the source's guids and referenced sizes.
 *
 * <p>zfs-autobackup is left out: it is neither a Debian package nor on Maven Central, and PyPI
 * cannot be reached here.
 *
 * <p>Scenarios: {@code init} (every filesystem with all its snapshots, the first time), {@code
 * noop} (nothing changed), {@code incr} (one new snapshot on every filesystem), {@code incr10x20}
 * (twenty new snapshots on ten filesystems), {@code full} (one new filesystem of {@code bigMiB}).
 * zrepl4j's time runs from {@code signal wakeup} (over the control socket, no JVM start) to the end
 * of the run the status shows; the run's own duration and the number of zfs commands it ran (from
 * the daemon's {@code zrepl_zfscmd_runtime} histogram) are printed too.
 *
 * <p>System properties: {@code zrepl4j.peers.fs} (100), {@code .snaps} (10), {@code .bigMiB}
 * (1024), {@code .slowest} (the daemon logs at debug and each run's ten slowest zfs commands are
 * printed on stderr), {@code .steps} (zrepl4j's {@code replication.concurrency.steps}, 2), {@code
 * .rotate} (the first scenario's first tool, 0: raw), {@code zrepl4j.repo} (the repository, for its
 * {@code zrepl4j} launcher); {@code zrepl4j.bench.smoke} shrinks everything to a few seconds.
 */
public final class PeersBench {

  private static final long MIB = 1L << 20;

  private final boolean smoke = Boolean.getBoolean("zrepl4j.bench.smoke");
  private final int fsCount = Integer.getInteger("zrepl4j.peers.fs", smoke ? 3 : 100);
  private final int snaps = Integer.getInteger("zrepl4j.peers.snaps", smoke ? 2 : 10);
  private final int bigMiB = Integer.getInteger("zrepl4j.peers.bigMiB", smoke ? 8 : 1024);
  private final Path repo = Path.of(System.getProperty("zrepl4j.repo", ".")).toAbsolutePath();
  private final Path dir = Path.of("/var/tmp/zrepl4j-bench-peers");
  private final String src = "zbpeers_src";
  private final String dst = "zbpeers_dst";
  private final Map<String, Map<String, Double>> seconds = new LinkedHashMap<>();
  private int snapshotCounter;

  private PeersBench() {}

  public static void main(String[] args) throws Exception {
    new PeersBench().run();
  }

  private void run() throws Exception {
    if (Shell.which("syncoid") == null) {
      throw new IllegalStateException("syncoid is missing: apt-get install sanoid");
    }
    Shell.cleanPools(src, dst);
    long srcMiB = 256 + 2L * bigMiB + fsCount * 4L;
    try (var s = new BenchPool(src, dir, srcMiB);
        var d = new BenchPool(dst, dir, 3 * srcMiB)) {
      Shell.run("zfs", "create", src + "/peers");
      for (int i = 0; i < fsCount; i++) {
        Shell.run("zfs", "create", fs(i));
      }
      for (var t : List.of("raw", "syncoid", "z")) {
        Shell.run("zfs", "create", dst + "/" + t);
      }
      for (int k = 0; k < snaps; k++) {
        changeAndSnapshot(allFs());
      }
      try (var z = Zrepl4j.start(repo, dir, src, dst)) {
        var tools = new ArrayList<Tool>();
        tools.add(new Raw());
        tools.add(new Syncoid());
        tools.add(z);
        int rotation = Integer.getInteger("zrepl4j.peers.rotate", 0);
        scenario("init", tools, rotation++);
        scenario("noop", tools, rotation++);
        changeAndSnapshot(allFs());
        scenario("incr", tools, rotation++);
        var ten = allFs().subList(0, Math.min(10, fsCount));
        for (int k = 0; k < (smoke ? 3 : 20); k++) {
          changeAndSnapshot(ten);
        }
        scenario("incr10x20", tools, rotation++);
        var big = src + "/peers/big";
        Shell.run("zfs", "create", big);
        Shell.writeRandom(mounted(big).resolve("big.bin"), bigMiB * MIB, 7);
        Shell.run("zfs", "snapshot", "-r", src + "/peers@" + nextSnapshot());
        scenario("full", tools, rotation);
        print(tools);
      }
    }
  }

  private void scenario(String name, List<Tool> tools, int rotation) throws Exception {
    var expected = snapshotsBelow(src + "/peers");
    for (int i = 0; i < tools.size(); i++) {
      var tool = tools.get((i + rotation) % tools.size());
      long t0 = System.nanoTime();
      tool.sync();
      double s = (System.nanoTime() - t0) / 1e9;
      if (tool instanceof Zrepl4j z) {
        s = z.lastWallSeconds; // without the bench's own reading of its metrics and log
      }
      seconds.computeIfAbsent(name, k -> new LinkedHashMap<>()).put(tool.name(), s);
      var got = snapshotsBelow(tool.target());
      if (!got.equals(expected)) {
        throw new IllegalStateException(
            name + ": " + tool.name() + "'s copy differs from the source: " + diff(expected, got));
      }
      if (tool instanceof Zrepl4j z) {
        seconds.get(name).put("zrepl4j.run", z.lastRunSeconds);
        seconds.get(name).put("zrepl4j.zfs.commands", (double) z.lastCommands);
      }
      System.err.printf(Locale.ROOT, "peers: %s %s %.2f s (verified)%n", name, tool.name(), s);
    }
  }

  private void print(List<Tool> tools) {
    for (var e : seconds.entrySet()) {
      var sc = e.getKey();
      var m = e.getValue();
      for (var t : m.entrySet()) {
        var unit = t.getKey().endsWith("commands") ? "commands" : "s";
        System.out.printf(Locale.ROOT, "peers.%s.%s %.2f %s%n", sc, t.getKey(), t.getValue(), unit);
      }
      Double z = m.get("zrepl4j");
      for (var base : List.of("raw", "syncoid")) {
        Double b = m.get(base);
        if (z != null && b != null && b > 0 && !(sc.equals("noop") && base.equals("raw"))) {
          System.out.printf(Locale.ROOT, "peers.%s.ratio.%s %.3f%n", sc, base, z / b);
        }
      }
    }
    System.out.println("peers.filesystems " + fsCount + " count");
    System.out.println("peers.snapshots.per.filesystem " + snaps + " count");
  }

  private List<String> allFs() {
    var l = new ArrayList<String>();
    for (int i = 0; i < fsCount; i++) {
      l.add(fs(i));
    }
    return l;
  }

  private String fs(int i) {
    return String.format(Locale.ROOT, "%s/peers/fs%03d", src, i);
  }

  private Path mounted(String dataset) {
    return dir.resolve("mnt").resolve(src).resolve(dataset.substring(src.length() + 1));
  }

  private String nextSnapshot() {
    return String.format(Locale.ROOT, "p%04d", ++snapshotCounter);
  }

  /** A small change on each of {@code filesystems}, then one snapshot of them (each on its own). */
  private void changeAndSnapshot(List<String> filesystems) throws IOException {
    var name = nextSnapshot();
    for (var f : filesystems) {
      Shell.writeRandom(mounted(f).resolve(name + ".bin"), 16 * 1024, snapshotCounter);
    }
    if (filesystems.size() == fsCount) {
      Shell.run("zfs", "snapshot", "-r", src + "/peers@" + name);
    } else {
      for (var f : filesystems) {
        Shell.run("zfs", "snapshot", f + "@" + name);
      }
    }
  }

  /**
   * The guid and referenced size of every snapshot below {@code root}, keyed by relative name and
   * property ({@code /fs000@p0001<TAB>guid}).
   */
  static Map<String, String> snapshotsBelow(String root) throws IOException {
    var out = new TreeMap<String, String>();
    // zfs-fuse's get has no -t: the snapshots are the names with an @
    var text =
        Shell.run("zfs", "get", "-Hp", "-r", "-o", "name,property,value", "guid,referenced", root);
    for (var line : text.split("\n")) {
      var f = line.split("\t");
      if (f.length != 3 || !f[0].contains("@")) {
        continue;
      }
      // "name@snap\tguid" and "name@snap\treferenced" as keys of one map: sorted, each snapshot's
      // guid line comes before its referenced line
      out.put(f[0].substring(root.length()) + "\t" + f[1], f[2]);
    }
    return out;
  }

  private static String diff(Map<String, String> expected, Map<String, String> got) {
    var missing = new ArrayList<String>();
    var wrong = new ArrayList<String>();
    for (var e : expected.entrySet()) {
      var g = got.get(e.getKey());
      if (g == null) {
        missing.add(e.getKey());
      } else if (!g.equals(e.getValue())) {
        wrong.add(e.getKey() + " " + g + " (source " + e.getValue() + ")");
      }
    }
    return "missing " + head(missing) + ", different " + head(wrong);
  }

  private static String head(List<String> l) {
    return l.size() <= 5 ? l.toString() : l.subList(0, 5) + " and " + (l.size() - 5) + " more";
  }

  /** A replication tool under test. */
  private interface Tool {
    String name();

    /** Where its copy of {@code src/peers} is. */
    String target();

    /** Brings the target up to date with the source, as its users would run it. */
    void sync() throws Exception;
  }

  /** The floor: {@code zfs send [-I] | zfs recv} per filesystem, knowing what the target has. */
  private final class Raw implements Tool {
    private final Map<String, String> newest = new TreeMap<>();

    @Override
    public String name() {
      return "raw";
    }

    @Override
    public String target() {
      return dst + "/raw/peers";
    }

    @Override
    public void sync() throws IOException {
      var byFs = new TreeMap<String, List<String>>();
      for (var key : snapshotsBelow(src + "/peers").keySet()) {
        if (!key.endsWith("\tguid")) {
          continue; // one key per snapshot
        }
        var rel = key.substring(0, key.length() - "\tguid".length());
        int at = rel.indexOf('@');
        byFs.computeIfAbsent(rel.substring(0, at), k -> new ArrayList<>())
            .add(rel.substring(at + 1));
      }
      // parents sort before their children
      for (var e : byFs.entrySet()) {
        var fs = src + "/peers" + e.getKey();
        var target = target() + e.getKey();
        var list = e.getValue(); // by name = by creation here
        var last = list.getLast();
        var have = newest.get(fs);
        if (last.equals(have)) {
          continue;
        }
        if (have == null) {
          Shell.sendRecv(List.of(fs + "@" + list.getFirst()), target);
          have = list.getFirst();
        }
        if (!have.equals(last)) {
          Shell.sendRecv(List.of("-I", fs + "@" + have, fs + "@" + last), target);
        }
        newest.put(fs, last);
      }
    }
  }

  /** syncoid, recursive, from the snapshots that exist (no sync snapshot of its own). */
  private final class Syncoid implements Tool {
    @Override
    public String name() {
      return "syncoid";
    }

    @Override
    public String target() {
      return dst + "/syncoid/peers";
    }

    @Override
    public void sync() throws IOException {
      Shell.run(
          "syncoid",
          "-r",
          "--no-sync-snap",
          "--compress=none",
          "--recvoptions=u",
          "--quiet",
          src + "/peers",
          target());
    }
  }

  /** One zrepl4j daemon: a push job and a sink over the in-process transport. */
  private static final class Zrepl4j implements Tool, AutoCloseable {
    private final BenchDaemon daemon;
    private final String target;
    double lastRunSeconds;
    // from the signal to the end of the run as the daemon recorded it: without the metrics and the
    // log this bench reads before and after (up to ~1.7 s with .slowest, which reads the whole
    // debug log), and without waiting for a status poll to see the end
    double lastWallSeconds;
    long lastCommands;

    private Zrepl4j(BenchDaemon daemon, String target) {
      this.daemon = daemon;
      this.target = target;
    }

    static Zrepl4j start(Path repo, Path dir, String src, String dst) throws IOException {
      var jobs =
          """
            - name: sink
              type: sink
              root_fs: %s/z
              serve: {type: local, listener_name: peers}
            - name: push
              type: push
              connect: {type: local, listener_name: peers, client_identity: bench}
              filesystems: {"%s/peers<": true}
              snapshotting: {type: manual}
              conflict_resolution: {initial_replication: all}
              replication:
                zrepl4j_send_intermediates: true
                concurrency: {steps: %d}
              pruning:
                keep_sender: [{type: regex, regex: ".*"}]
                keep_receiver: [{type: regex, regex: ".*"}]
          """
              .formatted(dst, src, Integer.getInteger("zrepl4j.peers.steps", 2));
      var daemon =
          BenchDaemon.start(
              repo,
              dir,
              "zrepl4j",
              Boolean.getBoolean("zrepl4j.peers.slowest") ? "debug" : "warn",
              jobs);
      return new Zrepl4j(daemon, dst + "/z/bench/" + src + "/peers");
    }

    @Override
    public String name() {
      return "zrepl4j";
    }

    @Override
    public String target() {
      return target;
    }

    @Override
    public void sync() throws IOException {
      var before = daemon.commandsSnapshot();
      var ran = daemon.wakeUpAndWait("push");
      lastRunSeconds = ran.runSeconds();
      lastWallSeconds = ran.wallSeconds();
      lastCommands = daemon.commands() - before.count().values().stream().mapToLong(l -> l).sum();
      daemon.since(before, "peers: zrepl4j", Boolean.getBoolean("zrepl4j.peers.slowest"));
    }

    @Override
    public void close() throws IOException {
      daemon.close();
    }

    @Override
    public String toString() {
      return "zrepl4j (" + daemon + ")";
    }
  }
}
