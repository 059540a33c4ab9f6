package dev.zrepl4j.bench;

import dev.zrepl4j.replication.BandwidthLimiter;
import dev.zrepl4j.replication.Dialer;
import dev.zrepl4j.replication.InitialPolicy;
import dev.zrepl4j.replication.Local;
import dev.zrepl4j.replication.Pull;
import dev.zrepl4j.replication.Push;
import dev.zrepl4j.replication.Receiver;
import dev.zrepl4j.replication.ReceiverEndpoint;
import dev.zrepl4j.replication.ReceiverOptions;
import dev.zrepl4j.replication.Replication;
import dev.zrepl4j.replication.Sender;
import dev.zrepl4j.replication.SenderEndpoint;
import dev.zrepl4j.replication.SenderOptions;
import dev.zrepl4j.replication.filter.DatasetFilter;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.RpcServer;
import dev.zrepl4j.rpc.transport.Tls;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.RealZfs;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * Throughput of a full replication through zrepl4j over TCP on 127.0.0.1 against a direct {@code
 * zfs send | zfs recv} of the same snapshot in the same run, and the wall time of a replication
 * cycle with nothing to send, on zfs-fuse pools that the benchmark creates (and destroys).
 *
 * <p>Run: {@code bench/run replication} (needs zfs-fuse running: {@code scripts/zfs-fuse.sh up}).
 * With {@code -Dzrepl4j.bench.smoke=true} ({@code bench/run --smoke replication}) it moves 64 MiB
 * once and times a no-op cycle of 10 filesystems x 2 snapshots (figures not meaningful). Prints one
 * figure per line as {@code name value unit}:
 *
 * <ul>
 *   <li>{@code raw.sendrecv.full} MiB/s: {@code zfs send src/data@s | zfs recv -u dst/rawN} (a
 *       pipeline of the two processes started by the benchmark) of a dataset holding one file of 1
 *       GiB of random (incompressible) data, compression off; timed from the start of the pipeline
 *       until both processes exited. MiB are of the snapshot's {@code referenced}.
 *   <li>{@code replication.full.tcp} MiB/s: the same snapshot replicated by a {@link Push} (the
 *       local {@link Sender}, called in-process) to an {@link RpcServer} serving a sink {@link
 *       ReceiverEndpoint} over TCP on 127.0.0.1, into a fresh root_fs; defaults ({@link
 *       Replication.Config#defaults}). Timed over the whole {@code Push.run}: connecting, listing
 *       both sides, planning, the step and its holds. On the direct data path (docs/DIRECT-PATH.md,
 *       on by default): {@code zfs send} writes into the data connection, {@code zfs recv} reads
 *       from it. {@code replication.full.jvm.cpu} seconds/GiB: this JVM's CPU time (both sides of
 *       the push, the whole run: connecting, listings, holds and the step) per GiB, the median
 *       round, less what the same JVM used doing nothing for as long right after (its GC, compiler
 *       and timer threads: 0.02-0.03 s/s here); {@code .gross} without leaving that out.
 *   <li>{@code replication.full.relay.tcp} MiB/s, {@code replication.full.relay.ratio} and {@code
 *       replication.full.relay.jvm.cpu}: the same push with the direct data path off on both sides
 *       (the stream framed through the JVM, as before it and as with a peer without it), in the
 *       same rounds. {@code -Dzrepl4j.bench.relay=false} leaves them out.
 *   <li>{@code replication.full.local} MiB/s, {@code replication.full.local.ratio} and {@code
 *       replication.full.local.jvm.cpu}: a {@link Local} run (sender and receiver in this JVM), on
 *       the direct path a loopback TCP connection from {@code zfs send} to {@code zfs recv}; {@code
 *       replication.full.pull.jvm.cpu}: the pull's.
 *   <li>{@code replication.full.ratio}: zrepl4j / raw, the best round of each (the figure);
 *       {@code replication.full.ratio.median}: the same of the median rounds (the raw pipe's rounds
 *       spread far more than ours on zfs-fuse: 540-860 vs 600-730 MiB/s); {@code
 *       replication.full.ratio.paired}: the median of the per-round ratios (each zrepl4j round
 *       right after its raw round).
 *   <li>{@code replication.full.pull.tcp} MiB/s and {@code replication.full.pull.ratio}: the same
 *       the other way round, a {@link Pull} (local receiver) from an {@link RpcServer} serving a
 *       source {@link Sender} over TCP (the stream is the RPC's response, not a request body).
 *   <li>{@code raw.tls.jsse}, {@code raw.ssh.pipe} and {@code replication.full.tls} MiB/s, {@code
 *       replication.full.tls.ratio} (zrepl4j over mutual TLS / the JSSE copy) and {@code
 *       replication.full.tls.ssh.ratio} (/ the ssh pipe), best rounds, in the same rounds as the
 *       others (issue 15): the same snapshot copied by a plain JSSE program over mutual TLS 1.3
 *       into {@code zfs recv}, by {@code zfs send | ssh root@127.0.0.1 zfs recv} through a real
 *       sshd started for the run (what syncoid does), and pushed by zrepl4j over its TLS transport
 *       ({@link TlsBaselines}; certificates by openssl). {@code -Dzrepl4j.bench.tls=false} leaves
 *       them out.
 *   <li>{@code replication.full.daemon} MiB/s and {@code replication.full.daemon.ratio} (/ raw,
 *       best rounds; issue 15: what users run): the same snapshot pushed by two real daemons
 *       started through the repository's launcher (the package's JVM options), a push job (manual
 *       snapshotting) and a sink over TCP on 127.0.0.1, timed by the run's own duration as the
 *       daemon reports it (listing both sides, planning, holds, the step, the completions, the
 *       pruning); each round's copy is destroyed, so each run sends in full. {@code
 *       -Dzrepl4j.bench.daemon=false} leaves them out.
 *   <li>{@code replication.noop.100fs} seconds: a {@code Push.run} with nothing new to send, for
 *       100 filesystems x 10 snapshots that an earlier run (initial policy {@code all}, {@code -I}
 *       batches) has replicated.
 *   <li>{@code replication.incremental.100fs} seconds: a {@code Push.run} of one small incremental
 *       step for each of the 100 filesystems (a new recursive snapshot, no data changed): the
 *       per-step cost of zfs commands, RPC calls and holds; stderr also gives it per step. {@code
 *       replication.incremental.100fs.steps4}: the same with 4 steps at once ({@code
 *       replication.concurrency.steps: 4}).
 * </ul>
 *
 * <p>Each received snapshot is checked to have the source's guid and {@code referenced}, so that a
 * broken replication cannot look fast. Raw and zrepl4j runs alternate, best of 3 each (2 shared
 * cores: noise only ever slows a run down; {@code -Dzrepl4j.bench.rounds=N}), after one uncounted
 * warm-up round of each ({@code -Dzrepl4j.bench.warmup=N}: the JIT compiles the data path, zfs-fuse
 * fills its caches), each after a {@code sync} (zfs-fuse writes its pool files through the page
 * cache: a run must not pay for the previous run's dirty pages). Each copy is destroyed once
 * checked (its last-received hold released first): with several GiB of received data kept,
 * zfs-fuse's own CPU per GiB more than doubled for raw and zrepl4j alike, from the third round on.
 * The no-op cycle is the best of 3. Every run's figure, its CPU split and the ratio of the medians
 * go to stderr. {@code -Dzrepl4j.bench.full=false} leaves out the full replication, {@code
 * -Dzrepl4j.bench.noop=false} the no-op and incremental cycles.
 */
public final class ReplicationBench {
  private static final long MIB = 1L << 20;
  private static final String CLIENT = "bench";

  private ReplicationBench() {}

  public static void main(String[] args) throws Exception {
    if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
      System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    }
    boolean smoke = Boolean.getBoolean("zrepl4j.bench.smoke");
    long dataMib = smoke ? 64 : 1024;
    int filesystems = smoke ? 10 : 100;
    int snapshots = smoke ? 2 : 10;
    int rounds = Integer.getInteger("zrepl4j.bench.rounds", smoke ? 1 : 3);
    // uncounted rounds first: the JIT compiles the data path, zfs-fuse warms its caches (the first
    // round of each is 10-30 % slower); a daemon pays that once
    int warmup = Integer.getInteger("zrepl4j.bench.warmup", smoke ? 0 : 1);
    boolean noopSuite = !"false".equals(System.getProperty("zrepl4j.bench.noop"));
    boolean fullSuite = !"false".equals(System.getProperty("zrepl4j.bench.full"));
    boolean tlsSuite = fullSuite && !"false".equals(System.getProperty("zrepl4j.bench.tls"));
    boolean daemonSuite = fullSuite && !"false".equals(System.getProperty("zrepl4j.bench.daemon"));
    boolean relaySuite = fullSuite && !"false".equals(System.getProperty("zrepl4j.bench.relay"));
    var dir = Path.of("/var/tmp/zrepl4j-bench");
    var id = UUID.randomUUID().toString().substring(0, 8);
    var src = new BenchPool("zb-src-" + id, dir, dataMib + 1024);
    BenchPool dst = null;
    TlsBaselines tls = null;
    BenchDaemon sinkDaemon = null;
    BenchDaemon pushDaemon = null;
    try {
      if (tlsSuite) {
        tls = TlsBaselines.start(dir.resolve("tls-" + id));
      }
      dst =
          new BenchPool("zb-dst-" + id, dir, 3 * dataMib + 1024); // each round's copy is destroyed
      var zfs = RealZfs.start(List.of("zfs"), List.of("zpool"));
      var data = DatasetPath.parse(src.name).child("data");
      Shell.run("zfs", "create", "-o", "compression=off", data.toString());
      Shell.writeRandom(
          src.mountpoint.resolve("data").resolve("random.bin"), fullSuite ? dataMib * MIB : 0, 42);
      Shell.run("zfs", "snapshot", data + "@s");
      var expected = props(data + "@s");
      double mib = Long.parseLong(expected.get(1)) / (double) MIB;

      var raw = new Series("raw");
      var push = new Series("zrepl4j");
      var relay = new Series("zrepl4j relay");
      var local = new Series("zrepl4j local");
      var pull = new Series("zrepl4j pull");
      var jsse = new Series("jsse tls copy");
      var sshPipe = new Series("ssh pipe");
      var tlsPush = new Series("zrepl4j tls");
      var daemons = new Series("zrepl4j daemons");
      var dataOnly = DatasetFilter.of(Map.of(data.toString(), true));
      if (daemonSuite) {
        var daemonDir = dir.resolve("daemons-" + id);
        Files.createDirectories(daemonDir);
        int port = BenchDaemon.freePort();
        Shell.run("zfs", "create", "-o", "mountpoint=none", dst.name + "/daemon");
        sinkDaemon = startSink(daemonDir, port, dst.name + "/daemon");
        pushDaemon = startPush(daemonDir, port, data);
      }
      for (int r = -warmup; fullSuite && r < rounds; r++) {
        var target = dst.name + "/raw" + (r + warmup);
        Shell.run("sync");
        var cpu0 = Cpu.now();
        long t0 = System.nanoTime();
        Shell.sendRecv(List.of(data + "@s"), target);
        double s = (System.nanoTime() - t0) / 1e9;
        var rawCpu = Cpu.now().minus(cpu0);
        check(expected, target + "@s");
        // each round's copy is destroyed once checked: zfs-fuse slows down (its CPU per GiB more
        // than doubles, raw and zrepl4j alike) once several GiB of received data accumulate
        Shell.run("zfs", "destroy", "-r", target);
        raw.record(r, mib, s, rawCpu);

        var sinkRoot = DatasetPath.parse(dst.name).child("sink" + (r + warmup));
        zrepl4jRound(
            push,
            r,
            mib,
            expected,
            sinkRoot,
            sinkRoot.child(CLIENT).extend(data),
            () -> push(zfs, dataOnly, sinkRoot, 1, new Replication.Settled(), 1));
        if (relaySuite) {
          // the same push with the direct data path off on both sides: the stream through the JVM
          var relayRoot = DatasetPath.parse(dst.name).child("relay" + (r + warmup));
          zrepl4jRound(
              relay,
              r,
              mib,
              expected,
              relayRoot,
              relayRoot.child(CLIENT).extend(data),
              () ->
                  push(
                      zfs,
                      dataOnly,
                      relayRoot,
                      1,
                      new Replication.Settled(),
                      1,
                      RpcOptions.defaults().withDirectData(false)));
        }
        var localRoot = DatasetPath.parse(dst.name).child("local" + (r + warmup));
        zrepl4jRound(
            local,
            r,
            mib,
            expected,
            localRoot,
            localRoot.extend(data),
            () -> local(zfs, dataOnly, localRoot));
        var pullRoot = DatasetPath.parse(dst.name).child("pull" + (r + warmup));
        zrepl4jRound(
            pull,
            r,
            mib,
            expected,
            pullRoot,
            pullRoot.extend(data),
            () -> pull(zfs, dataOnly, pullRoot));
        if (pushDaemon != null) {
          daemonRound(
              daemons,
              r,
              mib,
              expected,
              DatasetPath.parse(dst.name).child("daemon").child(CLIENT).extend(data),
              pushDaemon,
              Objects.requireNonNull(sinkDaemon));
        }
        if (tls != null) {
          var t = tls;
          baselineRound(
              jsse,
              r,
              mib,
              expected,
              dst.name + "/jsse" + (r + warmup),
              x -> t.jsseCopy(data + "@s", x));
          baselineRound(
              sshPipe,
              r,
              mib,
              expected,
              dst.name + "/ssh" + (r + warmup),
              x -> t.sshPipe(data + "@s", x));
          var tlsRoot = DatasetPath.parse(dst.name).child("tls" + (r + warmup));
          zrepl4jRound(
              tlsPush,
              r,
              mib,
              expected,
              tlsRoot,
              tlsRoot.child(CLIENT).extend(data),
              () -> pushTls(zfs, dataOnly, tlsRoot, t));
        }
      }
      if (fullSuite) {
        printFull(raw, push, pull);
        System.out.printf(
            Locale.ROOT, "replication.full.jvm.cpu %.3f seconds/GiB%n", push.jvmCpuPerGib());
        System.out.printf(
            Locale.ROOT,
            "replication.full.jvm.cpu.gross %.3f seconds/GiB%n",
            push.grossJvmCpuPerGib());
        System.out.printf(
            Locale.ROOT, "replication.full.pull.jvm.cpu %.3f seconds/GiB%n", pull.jvmCpuPerGib());
        System.out.printf(Locale.ROOT, "replication.full.local %.1f MiB/s%n", local.best());
        System.out.printf(
            Locale.ROOT, "replication.full.local.ratio %.3f ratio%n", local.best() / raw.best());
        System.out.printf(
            Locale.ROOT, "replication.full.local.jvm.cpu %.3f seconds/GiB%n", local.jvmCpuPerGib());
      }
      if (relaySuite) {
        System.out.printf(Locale.ROOT, "replication.full.relay.tcp %.1f MiB/s%n", relay.best());
        System.out.printf(
            Locale.ROOT, "replication.full.relay.ratio %.3f ratio%n", relay.best() / raw.best());
        System.out.printf(
            Locale.ROOT, "replication.full.relay.jvm.cpu %.3f seconds/GiB%n", relay.jvmCpuPerGib());
      }
      if (pushDaemon != null) {
        System.out.printf(Locale.ROOT, "replication.full.daemon %.1f MiB/s%n", daemons.best());
        System.out.printf(
            Locale.ROOT, "replication.full.daemon.ratio %.3f ratio%n", daemons.best() / raw.best());
      }
      if (tls != null) {
        System.out.printf(Locale.ROOT, "raw.tls.jsse %.1f MiB/s%n", jsse.best());
        System.out.printf(Locale.ROOT, "raw.ssh.pipe %.1f MiB/s%n", sshPipe.best());
        System.out.printf(Locale.ROOT, "replication.full.tls %.1f MiB/s%n", tlsPush.best());
        System.out.printf(
            Locale.ROOT, "replication.full.tls.ratio %.3f ratio%n", tlsPush.best() / jsse.best());
        System.out.printf(
            Locale.ROOT,
            "replication.full.tls.ssh.ratio %.3f ratio%n",
            tlsPush.best() / sshPipe.best());
      }
      if (!noopSuite) {
        return;
      }

      var many = DatasetPath.parse(src.name).child("many");
      Shell.run("zfs", "create", "-o", "mountpoint=none", many.toString());
      var sh = new ArrayList<>(List.of("sh", "-c", "for d; do zfs create \"$d\" || exit 1; done"));
      sh.add("sh");
      for (int i = 0; i < filesystems; i++) {
        sh.add(many.child("fs" + i).toString());
      }
      Shell.run(sh.toArray(String[]::new));
      for (int i = 0; i < snapshots; i++) {
        Shell.run("zfs", "snapshot", "-r", many + "@s" + i);
      }
      var filter = DatasetFilter.of(Map.of(many + "<", true, many.toString(), false));
      var noopRoot = DatasetPath.parse(dst.name).child("noop");
      Shell.run("zfs", "create", "-o", "mountpoint=none", noopRoot.toString());
      // one driver's memory over its runs, as a daemon's job keeps it: the first run confirmed
      // every sender cursor, the no-op runs need not again
      var settled = new Replication.Settled();
      push(zfs, filter, noopRoot, filesystems, settled, 1);
      double noop = Double.MAX_VALUE;
      for (int r = 0; r < rounds; r++) {
        double s = push(zfs, filter, noopRoot, 0, settled, 1);
        noop = Math.min(noop, s);
        System.err.printf(Locale.ROOT, "noop run %d: %.3f s%n", r, s);
      }
      System.out.printf(Locale.ROOT, "replication.noop.100fs %.3f seconds%n", noop);
      // one small incremental step per filesystem (a new snapshot of each, nothing changed): what
      // a daemon's cycle after each snapshotting mostly is; its time is the per-step cost
      // the same with 4 steps at once (replication.concurrency.steps: 4; zrepl's default is 1)
      int snapshot = 0;
      for (int steps : new int[] {1, 4}) {
        double incremental = Double.MAX_VALUE;
        for (int r = 0; r < rounds; r++) {
          Shell.run("zfs", "snapshot", "-r", many + "@i" + snapshot++);
          double s = push(zfs, filter, noopRoot, filesystems, settled, steps);
          incremental = Math.min(incremental, s);
          System.err.printf(
              Locale.ROOT,
              "incremental run %d, %d steps at once: %.3f s, %.1f ms per step%n",
              r,
              steps,
              s,
              s * 1000 / filesystems);
        }
        System.out.printf(
            Locale.ROOT,
            "replication.incremental.100fs%s %.3f seconds%n",
            steps == 1 ? "" : ".steps" + steps,
            incremental);
      }
    } finally {
      try {
        closeAll(pushDaemon, sinkDaemon);
        if (tls != null) {
          tls.close();
        }
        if (dst != null) {
          dst.close();
        }
      } finally {
        src.close();
      }
    }
  }

  /** A copy made by a baseline into {@code target}. */
  @FunctionalInterface
  private interface Copy {
    void into(String target) throws IOException;
  }

  /** One round of a baseline: times the copy, checks and destroys it. */
  private static void baselineRound(
      Series series, int r, double mib, List<String> expected, String target, Copy copy)
      throws IOException {
    Shell.run("sync");
    var cpu0 = Cpu.now();
    long t0 = System.nanoTime();
    copy.into(target);
    double s = (System.nanoTime() - t0) / 1e9;
    var cpu = Cpu.now().minus(cpu0);
    check(expected, target + "@s");
    Shell.run("zfs", "destroy", "-r", target);
    series.record(r, mib, s, cpu);
  }

  /** {@link #push} over mutual TLS (the client certificate's CN is the client identity). */
  private static double pushTls(
      RealZfs zfs, DatasetFilter filter, DatasetPath sinkRoot, TlsBaselines tls) throws Exception {
    try (var server = new RpcServer(RpcOptions.defaults())) {
      server.register(
          "receiver",
          new ReceiverEndpoint(
              zfs, sinkRoot, Receiver.Mode.SINK, CLIENT, ReceiverOptions.DEFAULTS));
      try (var l = Tls.listen(server, new InetSocketAddress("127.0.0.1", 0), tls.serverSettings());
          var push =
              new Push(
                  new Sender(zfs, filter, CLIENT, SenderOptions.PLAIN),
                  CLIENT,
                  () ->
                      Tls.dial(
                          "127.0.0.1",
                          l.port(),
                          tls.clientSettings(),
                          Duration.ofSeconds(5),
                          RpcOptions.defaults()))) {
        return timedRun(push, 1, new Replication.Settled(), 1);
      }
    }
  }

  private static void printFull(Series raw, Series push, Series pull) {
    System.out.printf(Locale.ROOT, "raw.sendrecv.full %.1f MiB/s%n", raw.best());
    System.out.printf(Locale.ROOT, "replication.full.tcp %.1f MiB/s%n", push.best());
    System.out.printf(Locale.ROOT, "replication.full.ratio %.3f ratio%n", push.best() / raw.best());
    System.out.printf(Locale.ROOT, "replication.full.pull.tcp %.1f MiB/s%n", pull.best());
    System.out.printf(
        Locale.ROOT, "replication.full.pull.ratio %.3f ratio%n", pull.best() / raw.best());
    System.out.printf(
        Locale.ROOT, "replication.full.ratio.median %.3f ratio%n", push.median() / raw.median());
    System.out.printf(
        Locale.ROOT, "replication.full.ratio.paired %.3f ratio%n", push.pairedRatio(raw));
    System.err.printf(
        Locale.ROOT, "median raw %.1f MiB/s, zrepl4j %.1f MiB/s%n", raw.median(), push.median());
  }

  /**
   * One {@code Push.run} over TCP on 127.0.0.1 into {@code sinkRoot} (initial policy all, -I
   * batches, {@code steps} steps at once), checked to have replicated exactly {@code replicated}
   * filesystems and left the others up to date.
   *
   * @return the seconds {@code Push.run} took
   */
  private static double push(
      RealZfs zfs,
      DatasetFilter filter,
      DatasetPath sinkRoot,
      int replicated,
      Replication.Settled settled,
      int steps)
      throws Exception {
    return push(zfs, filter, sinkRoot, replicated, settled, steps, RpcOptions.defaults());
  }

  /** {@link #push} with these RPC options on both sides (the direct data path on or off). */
  private static double push(
      RealZfs zfs,
      DatasetFilter filter,
      DatasetPath sinkRoot,
      int replicated,
      Replication.Settled settled,
      int steps,
      RpcOptions options)
      throws Exception {
    try (var server = new RpcServer(options)) {
      server.register(
          "receiver",
          new ReceiverEndpoint(
              zfs, sinkRoot, Receiver.Mode.SINK, CLIENT, ReceiverOptions.DEFAULTS));
      try (var l =
              server.listenTcp(new InetSocketAddress("127.0.0.1", 0), peer -> Optional.of(CLIENT));
          var push =
              new Push(
                  new Sender(zfs, filter, CLIENT, SenderOptions.PLAIN),
                  CLIENT,
                  Dialer.tcp("127.0.0.1", l.port(), Duration.ofSeconds(5), options))) {
        return timedRun(push, replicated, settled, steps);
      }
    }
  }

  /**
   * One {@code Pull.run} over TCP on 127.0.0.1 from an {@link RpcServer} serving a source {@link
   * Sender} into {@code root} (a local receiver), checked to have replicated one filesystem.
   *
   * @return the seconds {@code Pull.run} took
   */
  private static double pull(RealZfs zfs, DatasetFilter filter, DatasetPath root) throws Exception {
    try (var server = new RpcServer(RpcOptions.defaults())) {
      // as the daemon serves a source: the send deferred for a stream that goes direct
      server.register(
          "sender",
          new SenderEndpoint(
              zfs, filter, CLIENT, SenderOptions.PLAIN, n -> {}, BandwidthLimiter.none()));
      try (var l =
              server.listenTcp(new InetSocketAddress("127.0.0.1", 0), peer -> Optional.of(CLIENT));
          var pull =
              new Pull(
                  Dialer.tcp("127.0.0.1", l.port(), Duration.ofSeconds(5), RpcOptions.defaults()),
                  Receiver.localRoot(zfs, root, CLIENT, ReceiverOptions.DEFAULTS),
                  CLIENT)) {
        return timedRun(pull, 1, new Replication.Settled(), 1);
      }
    }
  }

  /**
   * One {@code Local.run} (sender and receiver in this JVM) into {@code root}, checked to have
   * replicated one filesystem.
   *
   * @return the seconds the run took
   */
  private static double local(RealZfs zfs, DatasetFilter filter, DatasetPath root)
      throws Exception {
    try (var local =
        new Local(
            new Sender(zfs, filter, CLIENT, SenderOptions.PLAIN),
            Receiver.localRoot(zfs, root, CLIENT, ReceiverOptions.DEFAULTS),
            CLIENT)) {
      return timedRun(local, 1, new Replication.Settled(), 1);
    }
  }

  /**
   * One run of {@code connector} (initial policy all, -I batches, {@code steps} steps at once),
   * checked to have replicated exactly {@code replicated} filesystems and left the others up to
   * date.
   *
   * @return the seconds the run took
   */
  private static double timedRun(
      Replication.Connector connector, int replicated, Replication.Settled settled, int steps)
      throws Exception {
    var config =
        Replication.Config.defaults(CLIENT)
            .withInitialPolicy(InitialPolicy.ALL)
            .withBatchIntermediates(true)
            .withStepConcurrency(steps);
    long t0 = System.nanoTime();
    var report = connector.run(config, Replication.Progress.none(), settled);
    double s = (System.nanoTime() - t0) / 1e9;
    long done =
        report.filesystems().stream()
            .filter(f -> f.state() == Replication.FsReport.State.REPLICATED)
            .count();
    if (!report.ok() || done != replicated) {
      throw new IllegalStateException("replication did not do what was expected: " + report);
    }
    return s;
  }

  /** A timed run: its seconds. */
  @FunctionalInterface
  private interface Timed {
    double seconds() throws Exception;
  }

  /**
   * A zrepl4j round into a fresh {@code root}: times {@code run}, checks the received snapshot,
   * releases its last-received hold and destroys the copy.
   */
  private static void zrepl4jRound(
      Series series,
      int r,
      double mib,
      List<String> expected,
      DatasetPath root,
      DatasetPath received,
      Timed run)
      throws Exception {
    Shell.run("zfs", "create", "-o", "mountpoint=none", root.toString());
    Shell.run("sync");
    var cpu0 = Cpu.now();
    double s = run.seconds();
    var cpu = Cpu.now().minus(cpu0);
    // the same JVM doing nothing for as long (its GC, compiler and timer threads): the run's own
    // CPU is what it used beyond that
    var idle0 = Cpu.now();
    Thread.sleep(Math.round(s * 1000));
    var idle = Cpu.now().minus(idle0);
    var snapshot = received + "@s";
    check(expected, snapshot);
    Shell.run("zfs", "release", "zrepl_last_received_J_" + CLIENT, snapshot);
    Shell.run("zfs", "destroy", "-r", root.toString());
    series.record(r, mib, s, cpu, idle.jvm());
  }

  /** Closes the daemons that were started (the first failure thrown after all are closed). */
  private static void closeAll(@Nullable BenchDaemon... daemons) throws IOException {
    IOException failure = null;
    for (var d : daemons) {
      if (d == null) {
        continue;
      }
      try {
        d.close();
      } catch (IOException e) {
        if (failure == null) {
          failure = e;
        } else {
          failure.addSuppressed(e);
        }
      }
    }
    if (failure != null) {
      throw failure;
    }
  }

  /** A sink daemon serving client {@link #CLIENT} over TCP on 127.0.0.1:{@code port}. */
  private static BenchDaemon startSink(Path dir, int port, String rootFs) throws IOException {
    return BenchDaemon.start(
        repo(), dir, "sink", daemonLogLevel(), BenchDaemon.tcpSinkJob(rootFs, port, CLIENT));
  }

  /** A push daemon of {@code data} alone (manual snapshotting) to the sink on {@code port}. */
  private static BenchDaemon startPush(Path dir, int sinkPort, DatasetPath data)
      throws IOException {
    return BenchDaemon.start(
        repo(),
        dir,
        "push",
        daemonLogLevel(),
        BenchDaemon.tcpPushJob(sinkPort, data.toString(), ""));
  }

  /** The daemons' log level: {@code zrepl4j.bench.daemonLog} (warn; debug shows each command). */
  private static String daemonLogLevel() {
    return System.getProperty("zrepl4j.bench.daemonLog", "warn");
  }

  private static Path repo() {
    return Path.of(System.getProperty("zrepl4j.repo", ".")).toAbsolutePath();
  }

  /**
   * A round of the two daemons (issue 15: what users run): wakes the push job up and takes the
   * run's own duration, as the daemon reports it; checks the received snapshot, releases its
   * last-received hold and destroys the copy (the sink's root stays; the next run sends in full
   * again).
   */
  private static void daemonRound(
      Series series,
      int r,
      double mib,
      List<String> expected,
      DatasetPath received,
      BenchDaemon push,
      BenchDaemon sink)
      throws Exception {
    Shell.run("sync");
    var pushBefore = push.commandsSnapshot();
    var sinkBefore = sink.commandsSnapshot();
    var cpu0 = Cpu.now();
    var ran = push.wakeUpAndWait("push");
    var cpu = Cpu.now().minus(cpu0);
    // where the run's time went, on stderr (outside the timing: the run's own duration)
    push.since(pushBefore, "daemons round " + r + ": push", false);
    sink.since(sinkBefore, "daemons round " + r + ": sink", false);
    var snapshot = received + "@s";
    check(expected, snapshot);
    Shell.run("zfs", "release", "zrepl_last_received_J_sink", snapshot);
    Shell.run("zfs", "destroy", "-r", received.toString());
    series.record(r, mib, ran.runSeconds(), cpu);
  }

  /** The counted rounds of one kind (raw, push, pull). */
  private static final class Series {
    private final String label;
    private final List<Double> mibPerSecond = new ArrayList<>();
    private final List<Double> jvmCpuPerGib = new ArrayList<>();
    private final List<Double> grossJvmCpuPerGib = new ArrayList<>();

    Series(String label) {
      this.label = label;
    }

    /** Records round {@code r} (a warm-up round, r < 0, is only printed). */
    void record(int r, double mib, double seconds, Cpu cpu) {
      record(r, mib, seconds, cpu, 0);
    }

    /**
     * Records round {@code r}; {@code idleJvm}: the CPU seconds this JVM used doing nothing for as
     * long, left out of the run's JVM CPU per GiB.
     */
    void record(int r, double mib, double seconds, Cpu cpu, double idleJvm) {
      if (r >= 0) {
        mibPerSecond.add(mib / seconds);
        jvmCpuPerGib.add(Math.max(0, cpu.jvm() - idleJvm) / (mib / 1024));
        grossJvmCpuPerGib.add(cpu.jvm() / (mib / 1024));
      }
      if (idleJvm > 0) {
        System.err.printf(
            Locale.ROOT, "%s %d: the JVM idle for as long: %.2f s%n", label, r, idleJvm);
      }
      System.err.printf(
          Locale.ROOT,
          "%s %s %d: %.1f MiB/s (%.2f s) cpu %s%n",
          label,
          r < 0 ? "warm-up" : "run",
          r,
          mib / seconds,
          seconds,
          cpu);
    }

    double best() {
      return mibPerSecond.stream().mapToDouble(Double::doubleValue).max().orElse(0);
    }

    double median() {
      return medianOf(mibPerSecond);
    }

    /**
     * The median of the rounds' CPU seconds of this JVM per GiB: the sender and the receiver (both
     * in this JVM), the whole run (connecting, listings, holds and the step).
     */
    double jvmCpuPerGib() {
      return medianOf(jvmCpuPerGib);
    }

    /** {@link #jvmCpuPerGib} without leaving out the idle JVM's. */
    double grossJvmCpuPerGib() {
      return medianOf(grossJvmCpuPerGib);
    }

    /**
     * The median of this series' round-by-round ratios to {@code base}'s: each round of one ran
     * right after the same round of the other, so a slow spell of the machine hits both.
     */
    double pairedRatio(Series base) {
      var ratios = new ArrayList<Double>();
      for (int i = 0; i < Math.min(mibPerSecond.size(), base.mibPerSecond.size()); i++) {
        ratios.add(mibPerSecond.get(i) / base.mibPerSecond.get(i));
      }
      return medianOf(ratios);
    }

    private static double medianOf(List<Double> values) {
      var s = values.stream().sorted().toList();
      int n = s.size();
      return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
    }
  }

  /** Fails unless {@code snapshot} has the expected guid and referenced. */
  private static void check(List<String> expected, String snapshot) throws IOException {
    var got = props(snapshot);
    if (!got.equals(expected)) {
      throw new IllegalStateException(
          snapshot + " has guid, referenced " + got + ", the source " + expected);
    }
  }

  /** guid and referenced of a snapshot. */
  private static List<String> props(String snapshot) throws IOException {
    return Shell.run("zfs", "get", "-Hp", "-o", "value", "guid,referenced", snapshot)
        .strip()
        .lines()
        .toList();
  }

  /**
   * CPU seconds (user + system, from /proc, clock ticks of 1/100 s) of this JVM, of its reaped
   * children (the zfs commands) and of the zfs-fuse daemon (-1 if its pid file is not readable).
   */
  private record Cpu(double jvm, double children, double daemon) {
    static Cpu now() {
      double[] self = ticks("self");
      double daemon = -1;
      try {
        var pid = Files.readString(Path.of("/var/run/zfs-fuse.pid")).strip();
        daemon = ticks(pid)[0];
      } catch (IOException | RuntimeException e) {
        // no daemon figure
      }
      return new Cpu(self[0], self[1], daemon);
    }

    Cpu minus(Cpu o) {
      return new Cpu(jvm - o.jvm, children - o.children, daemon - o.daemon);
    }

    /** utime+stime and cutime+cstime of /proc/{pid}/stat, in seconds. */
    private static double[] ticks(String pid) {
      try {
        var stat = Files.readString(Path.of("/proc", pid, "stat"));
        var f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        // fields after the command: state(3) ... utime(14) stime(15) cutime(16) cstime(17)
        double own = Long.parseLong(f[11]) + Long.parseLong(f[12]);
        double kids = Long.parseLong(f[13]) + Long.parseLong(f[14]);
        return new double[] {own / 100, kids / 100};
      } catch (IOException e) {
        return new double[] {-1, -1};
      }
    }

    @Override
    public String toString() {
      return String.format(
          Locale.ROOT, "jvm %.2f s, zfs cmds %.2f s, zfs-fuse %.2f s", jvm, children, daemon);
    }
  }
}
