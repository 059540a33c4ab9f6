package dev.zrepl4j.daemon;

import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.FilesystemVersion;
import dev.zrepl4j.zfs.ResumeToken;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * The fault-injection campaign of issue 13: a push daemon and a sink daemon (real {@code zrepl4j
 * daemon} processes from the shaded jar) replicating a tree of three filesystems between two
 * zfs-fuse pools over TCP through a {@link FaultProxy}. Each iteration writes new data, takes a
 * snapshot, wakes the push job and injects one fault at a moment chosen by the iteration's seed (a
 * count of bytes forwarded by the proxy since the iteration began): {@code kill -9} of either
 * daemon or of its {@code zfs send}/{@code zfs receive}, the connection cut, stalled or slowed, the
 * receiving pool full, {@code signal reset}, the clock of a daemon jumping (libfaketime). Then it
 * lets the daemons recover (restarts what was killed, releases the proxy, frees the pool), wakes
 * the job until the receiver has the sender's newest snapshot (at most {@code maxRuns} runs) and
 * checks the invariants on the real pools (see {@link #check}). A failed iteration is reported with
 * its seed; the harness then restores a working pair of daemons and goes on.
 *
 * <p>Not thread-safe: one campaign per instance, driven by one thread.
 */
final class FaultHarness implements AutoCloseable {
  /** What is done to the replication. */
  enum Kind {
    KILL_SENDER_DAEMON,
    KILL_RECEIVER_DAEMON,
    KILL_ZFS_SEND,
    KILL_ZFS_RECV,
    CUT,
    STALL,
    SLOW,
    POOL_FULL,
    RESET,
    CLOCK_JUMP
  }

  /**
   * How a campaign runs.
   *
   * @param seed the campaign's seed (every iteration's seed derives from it)
   * @param iterations faults to inject
   * @param longStalls whether a third of the stalls outlast the RPC read timeout (60 s)
   * @param maxRuns runs (wakeups) after the fault's own run within which it must converge
   * @param runTimeout how long one run may take before it counts as hung
   * @param only if not empty, only these kinds
   * @param budget no fault is started once the campaign has run this long (the figures count what
   *     ran)
   */
  record Settings(
      long seed,
      int iterations,
      boolean longStalls,
      int maxRuns,
      Duration runTimeout,
      Set<Kind> only,
      Duration budget) {
    Settings {
      only = Set.copyOf(only);
    }

    List<Kind> kinds() {
      var l = new ArrayList<Kind>();
      for (var k : Kind.values()) {
        if (only.isEmpty() || only.contains(k)) {
          l.add(k);
        }
      }
      return l;
    }
  }

  /**
   * One injected fault.
   *
   * @param iteration its number in the campaign, from 1
   * @param seed the iteration's seed ({@code --replay SEED --kind KIND} runs it alone)
   * @param kind what was done
   * @param moment when, in words
   * @param midRun whether it hit a run in progress (not the quiet time after it)
   * @param failure the broken invariant, or null if survived
   * @param runs wakeups needed after the fault's own run to converge
   * @param seconds how long the iteration took
   * @param tokenLeft whether the fault left a resume token on the receiver (resumable pools)
   * @param resumed whether a run after the fault resumed an interrupted receive ({@code zfs send
   *     -t})
   */
  record Outcome(
      int iteration,
      long seed,
      Kind kind,
      String moment,
      boolean midRun,
      @Nullable String failure,
      int runs,
      double seconds,
      boolean tokenLeft,
      boolean resumed) {
    boolean survived() {
      return failure == null;
    }
  }

  /** An invariant that does not hold (or a step of the harness that could not be done). */
  static final class Broken extends Exception {
    private static final long serialVersionUID = 1L;

    Broken(String message) {
      super(message);
    }
  }

  static final List<String> FILESYSTEMS = List.of("data", "data/a", "data/a/b");
  static final Set<Kind> KILLS =
      Set.of(
          Kind.KILL_SENDER_DAEMON,
          Kind.KILL_RECEIVER_DAEMON,
          Kind.KILL_ZFS_SEND,
          Kind.KILL_ZFS_RECV);
  static final Path FAKETIME_LIB = Path.of("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1");
  private static final int KEEP_RECEIVER = 5;
  private static final int KEEP_SENDER = 3;
  private static final String CURSOR_TAG = "zrepl_CURSOR_J_push";
  private static final String LAST_RECEIVED_TAG = "zrepl_last_received_J_sink";
  private static final String RESUMING = "sending resume";
  // bytes on the wire beyond the rest of a resumed stream (listings, retries, frames)
  private static final long RESUME_SLACK = 512 << 10;

  private final Path dir;
  private final PrintStream out;
  private final Settings settings;
  private final FaultPools pools;
  private final int sinkPort;
  private final FaultProxy proxy;
  private final Path pushClock;
  private final Path sinkClock;
  private final DaemonProcess sink;
  private final DaemonProcess push;
  private long pushOffset;
  private long sinkOffset;
  // what the harness knows: every snapshot name the sender ever had with its guid
  private final Map<String, Map<String, Long>> senderSeen = new HashMap<>();
  // the receiver's snapshots at the last check
  private final Map<String, List<FilesystemVersion>> receiverBefore = new HashMap<>();
  // the files the harness wrote per filesystem, oldest first
  private final Map<String, ArrayDeque<String>> written = new HashMap<>();
  // the iteration in progress, on resumable pools: the push log's length when it began; the
  // resume token the fault left (null: none seen), the bytes forwarded and the push log's length
  // when it was seen
  private int logMark;
  private @Nullable String token;
  private long tokenWire;
  private int tokenLog;

  private FaultHarness(Path dir, PrintStream out, Settings settings, FaultPools pools)
      throws IOException {
    this.dir = dir;
    this.out = out;
    this.settings = settings;
    this.pools = pools;
    pools.setUp(FILESYSTEMS);
    for (var fs : FILESYSTEMS) {
      written.put(fs, new ArrayDeque<>());
    }
    try (var s = new ServerSocket(0)) {
      sinkPort = s.getLocalPort();
    }
    proxy = new FaultProxy(sinkPort);
    pushClock = dir.resolve("push.faketime");
    sinkClock = dir.resolve("sink.faketime");
    Files.writeString(pushClock, "+0\n");
    Files.writeString(sinkClock, "+0\n");
    for (var fs : FILESYSTEMS) {
      write(fs, "f0000.bin", 64 << 10, new Random(fs.hashCode()));
    }
    pools.snapshot(pools.src("data"), "zrepl_f0000", true);
    sink = DaemonProcess.start(dir, "sink", sinkConfig(), sock("sink"), env(sinkClock));
    try {
      push = DaemonProcess.start(dir, "push", pushConfig(), sock("push"), env(pushClock));
    } catch (IOException | RuntimeException | AssertionError e) {
      // (the pools are closed by start(); the sink must not outlive them)
      sink.kill9();
      throw e;
    }
  }

  /**
   * Pools, daemons and the first replication (which must converge and pass the checks).
   *
   * @param dir a fresh directory for configs, logs and sockets
   * @param pools where the pools are made ({@link FaultPools#fuse} or {@link FaultPools#guest});
   *     closed with the harness (or at once if it cannot start)
   */
  static FaultHarness start(Path dir, PrintStream out, Settings settings, FaultPools pools)
      throws IOException, Broken {
    if (!Files.exists(FAKETIME_LIB)) {
      throw new IOException(
          FAKETIME_LIB
              + " is missing: the clock jumps need libfaketime (apt-get install libfaketime;"
              + " scripts/test.sh installs it)");
    }
    FaultHarness h;
    try {
      h = new FaultHarness(dir, out, settings, pools);
    } catch (IOException | RuntimeException | AssertionError e) {
      try (pools) {
        throw e;
      }
    }
    try {
      long t0 = System.nanoTime();
      h.converge();
      h.check();
      out.printf(
          Locale.ROOT,
          "faults: the first replication converged in %.1f s%n",
          (System.nanoTime() - t0) / 1e9);
    } catch (InterruptedException e) {
      h.close();
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted while starting");
    } catch (Broken e) {
      // the start-up's own failure, with what the daemons were doing (CI shows no more than this)
      var b = new Broken(e.getMessage() + h.diagnosis());
      out.println("faults: the start failed: " + b.getMessage());
      out.flush();
      h.close();
      throw b;
    } catch (IOException | RuntimeException | AssertionError e) {
      h.close();
      throw e;
    }
    return h;
  }

  private Map<String, String> env(Path clock) {
    var env = new HashMap<>(pools.daemonEnv());
    env.putAll(
        Map.of(
            "LD_PRELOAD",
            FAKETIME_LIB.toString(),
            "FAKETIME_TIMESTAMP_FILE",
            clock.toString(),
            "FAKETIME_CACHE_DURATION",
            "1",
            "FAKETIME_DONT_FAKE_MONOTONIC",
            "1"));
    return env;
  }

  private Path sock(String name) {
    return dir.resolve(name + "-run").resolve("control");
  }

  private String global(String name) {
    return """
        global:
          logging:
            - {type: stdout, level: info, format: human}
          control:
            sockpath: %s
          serve:
            stdinserver:
              sockdir: %s
        """
        .formatted(sock(name), dir.resolve(name + "-stdin"));
  }

  private String sinkConfig() {
    return global("sink")
        + """
        jobs:
          - name: sink
            type: sink
            root_fs: %s
            serve: {type: tcp, listen: "127.0.0.1:%d", clients: {"127.0.0.1": client1}}
        """
            .formatted(pools.dst("sink"), sinkPort);
  }

  private String pushConfig() {
    return global("push")
        + """
        jobs:
          - name: push
            type: push
            connect: {type: tcp, address: "127.0.0.1:%d"}
            filesystems: {"%s<": true}
            snapshotting: {type: periodic, prefix: zrepl_, interval: 1h}
            pruning:
              keep_sender:
                - {type: not_replicated}
                - {type: last_n, count: %d}
              keep_receiver:
                - {type: last_n, count: %d}
        """
            .formatted(proxy.port(), pools.src("data"), KEEP_SENDER, KEEP_RECEIVER)
        + pools.pushOptions();
  }

  // ------------------------------------------------------------------ the campaign

  /** Runs the campaign; prints one line per fault and the figures; returns the outcomes. */
  List<Outcome> run() throws IOException {
    var master = new Random(settings.seed());
    var kinds = settings.kinds();
    var order = new ArrayList<Kind>();
    var outcomes = new ArrayList<Outcome>();
    long end = System.nanoTime() + settings.budget().toNanos();
    for (int i = 1; i <= settings.iterations(); i++) {
      if (System.nanoTime() > end) {
        out.println("faults: time budget " + settings.budget() + " used up after " + (i - 1));
        break;
      }
      if (order.isEmpty()) {
        // every kind once per round, in a seeded order: even coverage
        order.addAll(kinds);
        Collections.shuffle(order, master);
      }
      var kind = order.removeFirst();
      long seed = master.nextLong();
      var o = iteration(i, seed, kind);
      outcomes.add(o);
      long ok = outcomes.stream().filter(Outcome::survived).count();
      out.printf(
          Locale.ROOT,
          "fault %d %s seed=%d at %s: %s (%d runs, %.1f s) [so far %d injected, %d survived]%n",
          i,
          kind,
          seed,
          o.moment(),
          o.survived() ? "survived" : "FAILED: " + o.failure(),
          o.runs(),
          o.seconds(),
          outcomes.size(),
          ok);
      out.flush();
      if (!o.survived() && !recover()) {
        out.println("faults: the daemons could not be brought back; campaign stopped");
        break;
      }
    }
    figures(outcomes);
    return outcomes;
  }

  /** The iteration alone (seed and kind as printed by a campaign), on this harness's pools. */
  Outcome replay(long seed, Kind kind) throws IOException {
    var o = iteration(1, seed, kind);
    out.printf(
        Locale.ROOT,
        "fault replay %s seed=%d at %s: %s%n",
        kind,
        seed,
        o.moment(),
        o.survived() ? "survived" : "FAILED: " + o.failure());
    figures(List.of(o));
    return o;
  }

  /** Prints the figures. */
  void figures(List<Outcome> outcomes) {
    var per = new EnumMap<Kind, int[]>(Kind.class);
    double seconds = 0;
    for (var o : outcomes) {
      var c = per.computeIfAbsent(o.kind(), k -> new int[5]);
      c[0]++;
      c[o.survived() ? 1 : 2]++;
      c[3] += o.tokenLeft() ? 1 : 0;
      c[4] += o.resumed() ? 1 : 0;
      seconds += o.seconds();
    }
    long survived = outcomes.stream().filter(Outcome::survived).count();
    out.println("faults.pools " + pools.label());
    out.println("faults.seed " + settings.seed());
    out.println("faults.injected " + outcomes.size());
    out.println("faults.survived " + survived);
    out.println("faults.failed " + (outcomes.size() - survived));
    out.println(
        "faults.midrun " + outcomes.stream().filter(Outcome::midRun).count() + " (hit a run)");
    if (pools.resumable()) {
      out.println(
          "faults.tokens "
              + outcomes.stream().filter(Outcome::tokenLeft).count()
              + " (a fault left a resume token on the receiver)");
      out.println(
          "faults.resumes "
              + outcomes.stream().filter(Outcome::resumed).count()
              + " (a run after the fault resumed an interrupted receive)");
    }
    for (var e : per.entrySet()) {
      var c = e.getValue();
      out.printf(
          Locale.ROOT,
          "faults.kind.%s injected=%d survived=%d failed=%d%s%n",
          e.getKey(),
          c[0],
          c[1],
          c[2],
          pools.resumable() ? " tokens=%d resumed=%d".formatted(c[3], c[4]) : "");
    }
    if (!outcomes.isEmpty()) {
      out.printf(Locale.ROOT, "faults.seconds.per.fault %.1f%n", seconds / outcomes.size());
    }
    var flag = pools instanceof FaultPools.Guest ? " --guest" : "";
    for (var o : outcomes) {
      if (!o.survived()) {
        out.printf(
            Locale.ROOT,
            "faults.failure iteration=%d kind=%s seed=%d: %s%n"
                + "  replay alone: scripts/faults.sh%s --replay %d --kind %s;"
                + " the campaign up to it: scripts/faults.sh%s --seed %d --iterations %d%n",
            o.iteration(),
            o.kind(),
            o.seed(),
            o.failure(),
            flag,
            o.seed(),
            o.kind(),
            flag,
            settings.seed(),
            o.iteration());
      }
    }
    out.flush();
  }

  private Outcome iteration(int i, long seed, Kind kind) throws IOException {
    long t0 = System.nanoTime();
    var r = new Random(seed);
    var moment = new StringBuilder();
    boolean[] midRun = {false};
    int[] runs = {0};
    String failure = null;
    boolean resumed = false;
    token = null;
    logMark = push.logText().length();
    try {
      var fs = FILESYSTEMS.get(r.nextInt(FILESYSTEMS.size()));
      int size =
          kind == Kind.POOL_FULL
              ? (12 << 20) + r.nextInt(8 << 20)
              : (256 << 10) + r.nextInt(6 << 20);
      write(fs, "f%04d.bin".formatted(i), size, r);
      // only the filesystem written to: one step per run (a run of three steps takes a minute
      // on a loaded machine); the others are checked all the same
      snapshot(fs, i);
      inject(kind, r, fs, i, size, moment, midRun);
      runs[0] = converge();
      check();
      if (pools.resumable()) {
        resumed = push.logText().indexOf(RESUMING, logMark) >= 0;
        if (token != null) {
          moment.append(", ").append(verifyResume(fs));
        } else if (resumed) {
          moment.append(", resumed (its token not seen)");
        }
      }
    } catch (Broken e) {
      failure = e.getMessage() + diagnosis();
    } catch (AssertionError e) {
      // a daemon that died or cannot be read (DaemonProcess fails with its log)
      failure = firstLines(String.valueOf(e.getMessage()), 40);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted in iteration " + i);
    }
    return new Outcome(
        i,
        seed,
        kind,
        moment.toString(),
        midRun[0],
        failure,
        runs[0],
        (System.nanoTime() - t0) / 1e9,
        token != null,
        resumed);
  }

  // ------------------------------------------------------------------ data

  /** Writes a new file into {@code fs}; the oldest of the harness's files there goes beyond 3. */
  private void write(String fs, String name, int size, Random r) throws IOException {
    pools.write(fs, name, size, r.nextLong());
    var q = written.get(fs);
    q.addLast(name);
    while (q.size() > 3) {
      pools.delete(fs, q.removeFirst());
    }
  }

  private void snapshot(String fs, int i) throws IOException {
    pools.snapshot(pools.src(fs), "zrepl_f%04d".formatted(i), false);
  }

  // ------------------------------------------------------------------ faults

  private void inject(
      Kind kind, Random r, String fs, int i, int size, StringBuilder moment, boolean[] midRun)
      throws IOException, InterruptedException, Broken {
    long runsBefore = push.job("push").runs();
    if (kind == Kind.POOL_FULL) {
      long avail = pools.available();
      long leave = size / 4 + r.nextInt(size / 2);
      long reserve = Math.max(0, avail - leave) >> 20;
      pools.reserve(reserve);
      moment.append("the whole run (").append(leave >> 10).append(" KiB free)");
      push.signal("push", "wakeup");
      awaitRunEnd(runsBefore);
      midRun[0] = true;
      pools.reserve(0);
      return;
    }
    long base = proxy.forwarded();
    // mostly inside the stream (about size bytes), sometimes just after the run; a kill where
    // receives are resumable: inside the stream, where it leaves a partial receive to resume
    long at =
        pools.resumable() && KILLS.contains(kind)
            ? size / 8 + r.nextLong(size * 3L / 4)
            : r.nextLong((long) size + (128 << 10));
    proxy.pauseAt(base + at);
    push.signal("push", "wakeup");
    // the moment: the proxy has forwarded AT bytes of this run (it holds the next ones back), or
    // the run ended before that many
    midRun[0] = awaitPause(runsBefore);
    moment.append(midRun[0] ? at + " bytes" : "after the run (" + at + " bytes not reached)");
    switch (kind) {
      case KILL_SENDER_DAEMON -> {
        push.kill9();
        if (pools.resumable() && r.nextBoolean()) {
          // what the killed daemon had written is in socket buffers and would still arrive (up
          // to several MiB: often the whole rest of the stream); half the time it is lost, as
          // when the sending host dies, so that the receive is cut short and must be resumed
          moment.append(", its bytes in flight dropped (").append(proxy.cutAll());
          moment.append(" sockets cut)");
        }
        proxy.release();
        pause(r, 2000);
        watchToken(fs, midRun[0], Duration.ofSeconds(10));
        push.restart();
      }
      case KILL_RECEIVER_DAEMON -> {
        sink.kill9();
        proxy.release();
        pause(r, 4000);
        watchToken(fs, midRun[0], Duration.ofSeconds(10));
        sink.restart();
      }
      case KILL_ZFS_SEND -> {
        killZfs(push, "send", fs, i, base, runsBefore, moment, midRun);
        watchToken(fs, true, Duration.ofSeconds(8));
      }
      case KILL_ZFS_RECV -> {
        killZfs(sink, "recv", fs, i, base, runsBefore, moment, midRun);
        watchToken(fs, true, Duration.ofSeconds(8));
      }
      case CUT -> {
        moment.append(", ").append(proxy.cutAll()).append(" sockets cut");
        proxy.release();
      }
      case STALL -> {
        boolean longOne = settings.longStalls() && r.nextInt(3) == 0;
        long ms = longOne ? 61_000 + r.nextInt(20_000) : 500 + r.nextInt(10_000);
        proxy.stall();
        moment.append(", stalled ").append(ms).append(" ms");
        Thread.sleep(ms);
        proxy.release();
      }
      case SLOW -> {
        long rate = (32 << 10) + r.nextInt(1 << 20);
        long ms = 1000 + r.nextInt(8000);
        moment.append(", slowed to ").append(rate >> 10).append(" KiB/s for ").append(ms);
        moment.append(" ms");
        proxy.slow(rate);
        proxy.resume();
        Thread.sleep(ms);
        proxy.release();
      }
      case RESET -> {
        push.signal("push", "reset");
        proxy.release();
      }
      case CLOCK_JUMP -> {
        jumpClock(r, moment);
        proxy.release();
      }
      case POOL_FULL -> throw new IllegalStateException("handled above");
    }
  }

  /**
   * Where receives are resumable: waits up to {@code max} for the interrupted receive of {@code fs}
   * to leave its resume token on the receiver (the receive ends once it sees its stream end), and
   * notes it with the bytes forwarded so far; stops early once the push log says a resume began
   * (the token was seen by the daemon first).
   */
  private void watchToken(String fs, boolean midRun, Duration max)
      throws IOException, InterruptedException {
    if (!pools.resumable() || !midRun) {
      return;
    }
    long deadline = System.nanoTime() + max.toNanos();
    var p = received(fs);
    while (System.nanoTime() < deadline) {
      var t = pools.resumeToken(p);
      if (!t.isEmpty()) {
        token = t;
        tokenWire = proxy.forwarded();
        tokenLog = push.logText().length();
        return;
      }
      if (push.logText().indexOf(RESUMING, logMark) >= 0) {
        return;
      }
      Thread.sleep(200);
    }
  }

  /**
   * After convergence, for a fault that left a resume token: a run resumed it ({@code zfs send -t},
   * "sending resume" in the push log), the token is gone, the snapshot it was receiving arrived
   * (its guid and files were checked with the others), and the bytes forwarded since the token was
   * seen are fewer than the whole step's stream: the transfer went on where it stopped, it did not
   * start again. Returns the figures in words.
   */
  private String verifyResume(String fs) throws IOException, Broken {
    var t = ResumeToken.decode(Objects.requireNonNull(token));
    var p = received(fs);
    var log = push.logText();
    if (log.indexOf(RESUMING, logMark) < 0) {
      throw new Broken(
          "the interrupted receive of "
              + p
              + " left a resume token ("
              + t.bytes()
              + " bytes received of "
              + t.toName()
              + ") but no run resumed it (no '"
              + RESUMING
              + "' in the push log)");
    }
    if (!pools.resumeToken(p).isEmpty()) {
      throw new Broken("a resume token is still on " + p + " after the replication converged");
    }
    var state = state();
    if (state.receiverSnapshots(fs).stream().noneMatch(v -> v.guid() == t.toGuid())) {
      throw new Broken("the resumed " + t.toName() + " is not on the receiver");
    }
    long wire = proxy.forwarded() - tokenWire;
    String full;
    if (t.incremental()) {
      var from =
          state.senderVersions(fs).stream()
              .filter(v -> v.guid() == t.fromGuid())
              .min(Comparator.comparing(v -> !v.isSnapshot()));
      if (from.isEmpty()) {
        return "resumed " + t.toName() + " (its base is gone: the stream is not measured)";
      }
      var v = from.get();
      full = v.filesystem() + (v.isSnapshot() ? "@" : "#") + v.name();
    } else {
      full = "";
    }
    long whole =
        full.isEmpty()
            ? pools.streamBytes("-w", t.toName())
            : pools.streamBytes("-w", "-i", full, t.toName());
    long rest = pools.streamBytes("-t", Objects.requireNonNull(token));
    boolean measured = log.indexOf(RESUMING, tokenLog) >= 0;
    var words =
        ("resumed %s at %d KiB: %d KiB on the wire after the token, the rest of the stream"
                + " %d KiB, the whole %d KiB%s")
            .formatted(
                t.toName(),
                t.bytes() >> 10,
                wire >> 10,
                rest >> 10,
                whole >> 10,
                measured ? "" : " (resumed before the token was seen: not compared)");
    if (measured && whole - rest > RESUME_SLACK && wire >= whole) {
      throw new Broken("the transfer started again instead of resuming: " + words);
    }
    return words;
  }

  /** Sleeps up to {@code maxMs} (a daemon that is away for a while). */
  private static void pause(Random r, int maxMs) throws InterruptedException {
    Thread.sleep(r.nextInt(maxMs));
  }

  /**
   * Waits until the proxy pauses (true) or the run that was woken ends first (false, the pause is
   * cancelled).
   */
  private boolean awaitPause(long runsBefore) throws IOException, InterruptedException, Broken {
    long deadline = System.nanoTime() + settings.runTimeout().toNanos();
    while (System.nanoTime() < deadline) {
      if (proxy.awaitStalled(Duration.ofMillis(200))) {
        return true;
      }
      var s = push.job("push");
      if (s.runs() > runsBefore && quiet(s)) {
        if (proxy.stalled()) {
          return true;
        }
        proxy.release();
        return false;
      }
    }
    proxy.release();
    throw new Broken(
        "the woken run neither forwarded the bytes nor ended within "
            + settings.runTimeout()
            + ": "
            + push.job("push"));
  }

  /**
   * Kills ({@code kill -9}) the {@code verb} ({@code send} or {@code recv}/{@code receive}) child
   * of {@code d}: at the pause if there is one then, else at the next 64 KiB forwarded while one
   * runs.
   */
  private void killZfs(
      DaemonProcess d,
      String verb,
      String fs,
      int iteration,
      long base,
      long runsBefore,
      StringBuilder moment,
      boolean[] midRun)
      throws IOException, InterruptedException, Broken {
    long deadline = System.nanoTime() + settings.runTimeout().toNanos();
    int extra = 0;
    while (System.nanoTime() < deadline) {
      var victims = pools.killZfs(d, verb);
      if (!victims.isEmpty()) {
        moment.append(", killed zfs ").append(verb).append(" at ");
        moment.append(proxy.forwarded() - base).append(" bytes");
        midRun[0] = true;
        proxy.release();
        return;
      }
      var s = push.job("push");
      if (s.runs() > runsBefore && quiet(s)) {
        proxy.release();
        if (++extra > 3) {
          throw new Broken("no zfs " + verb + " seen in 4 runs, each with new data to send");
        }
        // the run ended (its step done) before a child was seen (a small send fits in the large
        // pipe and exits early): 8 MiB of new data, so that the next run
        // has a step, and the fault is that run's
        moment.append(", no zfs ").append(verb).append(" seen; again with new data");
        write(fs, "f%04d_%d.bin".formatted(iteration, extra), 8 << 20, new Random(base + extra));
        pools.snapshot(pools.src(fs), "zrepl_f%04d_%d".formatted(iteration, extra), false);
        runsBefore = s.runs();
        push.signal("push", "wakeup");
        deadline = System.nanoTime() + settings.runTimeout().toNanos();
        continue;
      }
      proxy.resume();
      proxy.pauseAt(proxy.forwarded() + (64 << 10));
      proxy.awaitStalled(Duration.ofMillis(100));
    }
    proxy.release();
    throw new Broken("no zfs " + verb + " to kill within " + settings.runTimeout());
  }

  /** The {@code zfs VERB} processes below {@code parent}. */
  static List<ProcessHandle> zfsChildren(ProcessHandle parent, String verb) {
    return parent
        .descendants()
        .filter(
            p -> {
              var args = p.info().arguments().orElse(new String[0]);
              var cmd = p.info().command().orElse("");
              return cmd.endsWith("/zfs")
                  && args.length > 0
                  && (args[0].equals(verb) || (verb.equals("recv") && args[0].equals("receive")));
            })
        .toList();
  }

  /** Jumps the clock of the push daemon, the sink daemon or both. */
  private void jumpClock(Random r, StringBuilder moment) throws IOException, InterruptedException {
    int who = r.nextInt(5); // 0-2 push, 3 sink, 4 both
    boolean forward = r.nextBoolean();
    long hours = 1 + r.nextInt(forward ? 30 : 12);
    long delta = (forward ? 1 : -1) * hours * 3600;
    moment.append(", clock of ").append(who < 3 ? "push" : who == 3 ? "sink" : "both");
    moment.append(forward ? " +" : " -").append(hours).append(" h");
    long pushTo = who == 3 ? pushOffset : pushOffset + delta;
    long sinkTo = who >= 3 ? sinkOffset + delta : sinkOffset;
    if (forward) {
      // ZFS stamps snapshots with the real time (zfs-fuse's own clock, which we cannot move):
      // a daemon ahead of it for good would find a snapshot due at every run. A forward jump is
      // therefore corrected after a few seconds, like a clock that an NTP daemon steps back.
      setClocks(pushTo, sinkTo);
      long ms = 1000 + r.nextInt(6000);
      moment.append(" for ").append(ms).append(" ms");
      Thread.sleep(ms);
      setClocks(pushOffset, sinkOffset);
    } else {
      // behind: for good (bounded to a day, beyond which the next jump goes back to real time)
      if (pushTo < -86_400 || sinkTo < -86_400) {
        pushTo = 0;
        sinkTo = 0;
        moment.append(" (to real time)");
      }
      setClocks(pushTo, sinkTo);
      pushOffset = pushTo;
      sinkOffset = sinkTo;
    }
  }

  private void setClocks(long push, long sink) throws IOException {
    Files.writeString(pushClock, (push >= 0 ? "+" : "") + push + "\n");
    Files.writeString(sinkClock, (sink >= 0 ? "+" : "") + sink + "\n");
  }

  // ------------------------------------------------------------------ recovery and convergence

  private static boolean quiet(JobStatus s) {
    return s.state().equals("idle") || s.state().equals("waiting");
  }

  /** Waits until a run after {@code runsBefore} has ended and the job is quiet. */
  private JobStatus awaitRunEnd(long runsBefore) throws IOException, InterruptedException, Broken {
    long deadline = System.nanoTime() + settings.runTimeout().toNanos();
    var s = push.job("push");
    while (!(s.runs() > runsBefore && quiet(s))) {
      if (System.nanoTime() > deadline) {
        throw new Broken(
            "the run did not end within " + settings.runTimeout() + " (hung): " + summary(s));
      }
      Thread.sleep(100);
      s = push.job("push");
    }
    return s;
  }

  /** Waits until the push job is quiet (no run in progress). */
  private JobStatus awaitQuiet() throws IOException, InterruptedException, Broken {
    long deadline = System.nanoTime() + settings.runTimeout().toNanos();
    var s = push.job("push");
    while (!quiet(s) || (s.runs() == 0 && s.lastError() == null)) {
      // (a daemon just started runs at once: its first run is awaited too)
      if (System.nanoTime() > deadline) {
        throw new Broken(
            "the run did not end within " + settings.runTimeout() + " (hung): " + summary(s));
      }
      Thread.sleep(100);
      s = push.job("push");
    }
    return s;
  }

  private static String summary(JobStatus s) {
    return "state "
        + s.state()
        + ", runs "
        + s.runs()
        + ", current "
        + s.current()
        + ", last error "
        + s.lastError();
  }

  /**
   * Lets the run in progress end, then wakes the job until the receiver has the sender's newest
   * snapshot of every filesystem and a run ended without a problem; returns the wakeups needed.
   * After every run: the base of the next incremental is still on the sender.
   */
  private int converge() throws IOException, InterruptedException, Broken {
    var s = awaitQuiet();
    for (int n = 0; ; n++) {
      var state = state();
      checkBase(state);
      var last = s.lastRun();
      if (last != null && last.ok() && sameNewest(state)) {
        return n;
      }
      if (n == settings.maxRuns()) {
        throw new Broken(
            "not replicated after "
                + n
                + " runs after the fault: "
                + summary(s)
                + (last == null ? "" : ", last run problems " + last.problems()));
      }
      long before = s.runs();
      push.signal("push", "wakeup");
      awaitRunEnd(before);
      s = awaitQuiet();
    }
  }

  /** After a failed iteration: releases everything and restarts what does not answer. */
  private boolean recover() {
    try {
      proxy.release();
      pools.reserve(0);
      pushOffset = 0;
      sinkOffset = 0;
      setClocks(0, 0);
      try {
        converge();
      } catch (Broken | AssertionError e) {
        out.println(
            "faults: recovering by restarting both daemons ("
                + firstLines(e.getMessage(), 3)
                + ")");
        push.kill9();
        sink.kill9();
        sink.restart();
        push.restart();
        converge();
      }
      // what is there now is the baseline of the next check
      check();
      return true;
    } catch (Broken | AssertionError e) {
      out.println("faults: recovery failed: " + firstLines(String.valueOf(e.getMessage()), 20));
      try {
        forgetReceiver();
        return true;
      } catch (IOException io) {
        return false;
      }
    } catch (IOException e) {
      out.println("faults: recovery failed: " + e);
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private void forgetReceiver() throws IOException {
    var state = state();
    for (var fs : FILESYSTEMS) {
      receiverBefore.put(fs, state.receiverSnapshots(fs));
    }
  }

  // ------------------------------------------------------------------ invariants

  private DatasetPath received(String fs) {
    return DatasetPath.parse(pools.dst("sink") + "/client1/" + pools.src(fs));
  }

  /**
   * Both sides' versions of every filesystem at one moment, oldest first (one listing: on the guest
   * every {@code zfs} command is an ssh round trip into a slow machine).
   */
  private record State(
      Map<String, List<FilesystemVersion>> sender, Map<String, List<FilesystemVersion>> receiver) {
    /** The sender's snapshots and bookmarks. */
    List<FilesystemVersion> senderVersions(String fs) {
      return sender.getOrDefault(fs, List.of());
    }

    List<FilesystemVersion> senderSnapshots(String fs) {
      return senderVersions(fs).stream().filter(FilesystemVersion::isSnapshot).toList();
    }

    List<FilesystemVersion> receiverSnapshots(String fs) {
      return receiver.getOrDefault(fs, List.of()).stream()
          .filter(FilesystemVersion::isSnapshot)
          .toList();
    }
  }

  private State state() throws IOException {
    var paths = new ArrayList<DatasetPath>();
    for (var fs : FILESYSTEMS) {
      paths.add(pools.src(fs));
      paths.add(received(fs));
    }
    var all = pools.versions(paths);
    var sender = new HashMap<String, List<FilesystemVersion>>();
    var receiver = new HashMap<String, List<FilesystemVersion>>();
    for (var fs : FILESYSTEMS) {
      sender.put(fs, sorted(all.getOrDefault(pools.src(fs), List.of())));
      receiver.put(fs, sorted(all.getOrDefault(received(fs), List.of())));
    }
    return new State(sender, receiver);
  }

  private static List<FilesystemVersion> sorted(List<FilesystemVersion> versions) {
    var l = new ArrayList<>(versions);
    l.sort(Comparator.comparingLong(FilesystemVersion::createTxg));
    return List.copyOf(l);
  }

  /** Whether every filesystem's newest snapshot on the receiver is the sender's newest. */
  private static boolean sameNewest(State state) {
    for (var fs : FILESYSTEMS) {
      var s = state.senderSnapshots(fs);
      var d = state.receiverSnapshots(fs);
      if (s.isEmpty() || d.isEmpty() || s.getLast().guid() != d.getLast().guid()) {
        return false;
      }
    }
    return true;
  }

  /**
   * The base of the next incremental (the receiver's newest snapshot) is still on the sender: as a
   * snapshot, or where ZFS has bookmarks, as a bookmark (zrepl sends from the cursor).
   */
  private static void checkBase(State state) throws Broken {
    for (var fs : FILESYSTEMS) {
      var d = state.receiverSnapshots(fs);
      if (d.isEmpty()) {
        continue;
      }
      long guid = d.getLast().guid();
      if (state.senderVersions(fs).stream().noneMatch(v -> v.guid() == guid)) {
        throw new Broken(
            "the base of the next incremental of "
                + fs
                + " ("
                + d.getLast().name()
                + ") is gone from the sender");
      }
    }
  }

  /**
   * The invariants, once converged and quiet: every received snapshot is the sender's (same guid
   * under the same name) and has the sender's files byte for byte (on zfs-fuse, which cannot mount
   * a snapshot: the newest, against the sender's live files); the receiver lost nothing but what
   * {@code last_n} prunes and nothing was received anew; pruning is done on both sides; no {@code
   * zfs send}/{@code receive} is left; the only holds are the cursor on the sender's newest
   * (replicated) snapshot (a bookmark instead where ZFS has them, and then the only bookmark) and
   * the last-received hold on the receiver's newest. Repeated if a run started meanwhile.
   */
  private void check() throws IOException, InterruptedException, Broken {
    for (int attempt = 0; ; attempt++) {
      var before = awaitQuiet();
      var state = state();
      checkOnce(state);
      var after = push.job("push");
      if (after.runs() == before.runs() && quiet(after)) {
        for (var fs : FILESYSTEMS) {
          receiverBefore.put(fs, state.receiverSnapshots(fs));
        }
        return;
      }
      if (attempt == 3) {
        throw new Broken("the push job kept running while the invariants were checked");
      }
    }
  }

  private void checkOnce(State state) throws IOException, InterruptedException, Broken {
    noZfsLeft();
    var compare = new ArrayList<FaultPools.Compare>();
    var sendersNewest = new ArrayList<FilesystemVersion>();
    var receiversNewest = new ArrayList<FilesystemVersion>();
    for (var fs : FILESYSTEMS) {
      var all = state.senderVersions(fs);
      var s = state.senderSnapshots(fs);
      var seen = senderSeen.computeIfAbsent(fs, k -> new HashMap<>());
      for (var v : s) {
        var was = seen.putIfAbsent(v.name(), v.guid());
        if (was != null && was != v.guid()) {
          throw new Broken(fs + "@" + v.name() + " changed its guid on the sender");
        }
      }
      var d = state.receiverSnapshots(fs);
      for (var v : d) {
        var g = seen.get(v.name());
        if (g == null || g != v.guid()) {
          throw new Broken(
              "received "
                  + v.filesystem()
                  + "@"
                  + v.name()
                  + " (guid "
                  + Long.toUnsignedString(v.guid(), 16)
                  + ") is not the sender's ("
                  + (g == null ? "never there" : Long.toUnsignedString(g, 16))
                  + ")");
        }
      }
      // nothing destroyed or rolled back but by last_n
      var before = receiverBefore.getOrDefault(fs, List.of());
      for (var v : before) {
        var now = d.stream().filter(x -> x.name().equals(v.name())).findFirst();
        if (now.isPresent()) {
          if (now.get().guid() != v.guid() || now.get().createTxg() != v.createTxg()) {
            throw new Broken(
                "received " + v.filesystem() + "@" + v.name() + " was destroyed and received anew");
          }
        } else {
          long newer = d.stream().filter(x -> x.createTxg() > v.createTxg()).count();
          if (newer < KEEP_RECEIVER) {
            throw new Broken(
                "received "
                    + v.filesystem()
                    + "@"
                    + v.name()
                    + " is gone although only "
                    + newer
                    + " newer snapshots are there (keep_receiver last_n "
                    + KEEP_RECEIVER
                    + "): destroyed or rolled back");
          }
        }
      }
      if (d.size() > KEEP_RECEIVER) {
        throw new Broken(fs + ": " + d.size() + " snapshots on the receiver after pruning");
      }
      if (s.size() > KEEP_SENDER) {
        throw new Broken(fs + ": " + s.size() + " snapshots on the sender after pruning");
      }
      // the files of every snapshot that arrived since the last check (and of the newest)
      var arrived = new ArrayList<String>();
      for (var v : d) {
        if (v == d.getLast() || before.stream().noneMatch(x -> x.guid() == v.guid())) {
          arrived.add(v.name());
        }
      }
      compare.add(new FaultPools.Compare(fs, received(fs), arrived));
      holds(fs, all, d);
      if (!pools.resumable()) {
        long cursor = d.getLast().guid();
        s.stream().filter(v -> v.guid() == cursor).forEach(sendersNewest::add);
      }
      receiversNewest.add(d.getLast());
    }
    var differs = pools.compareFiles(compare);
    if (!differs.isEmpty()) {
      throw new Broken(differs);
    }
    // (the tags of the holds counted above: one command on the guest)
    var lacking = pools.lackingHold(sendersNewest, CURSOR_TAG);
    if (!lacking.isEmpty()) {
      throw new Broken("sender " + lacking + " lacks " + CURSOR_TAG);
    }
    lacking = pools.lackingHold(receiversNewest, LAST_RECEIVED_TAG);
    if (!lacking.isEmpty()) {
      throw new Broken("receiver " + lacking + " lacks " + LAST_RECEIVED_TAG);
    }
  }

  /**
   * The holds (and bookmarks) are where zrepl's rules put them once a replication converged: on the
   * receiver only the last-received hold, on its newest snapshot; on the sender no step hold, and
   * the replication cursor at the receiver's newest snapshot: a hold on zfs-fuse (no bookmarks),
   * else the one bookmark {@code #zrepl_CURSOR_G_<guid>_J_push} (no hold at all).
   */
  private void holds(String fs, List<FilesystemVersion> senderAll, List<FilesystemVersion> d)
      throws IOException, Broken {
    long cursor = d.getLast().guid();
    boolean cursorHold = !pools.resumable();
    for (var v : senderAll) {
      if (!v.isSnapshot()) {
        var want = "zrepl_CURSOR_G_" + HexFormat.of().toHexDigits(cursor) + "_J_push";
        if (!v.name().equals(want) || v.guid() != cursor) {
          throw new Broken(
              "sender bookmark "
                  + v.filesystem()
                  + "#"
                  + v.name()
                  + " (guid "
                  + Long.toUnsignedString(v.guid(), 16)
                  + ") is not the replication cursor "
                  + want);
        }
        continue;
      }
      long want = cursorHold && v.guid() == cursor ? 1 : 0;
      if (v.userRefs() != want) {
        throw new Broken(
            "sender "
                + v.filesystem()
                + "@"
                + v.name()
                + " has "
                + v.userRefs()
                + " holds, expected "
                + want
                + (want == 1 ? " (the cursor)" : " (a step or an old cursor hold left)"));
      }
    }
    if (!cursorHold && senderAll.stream().noneMatch(v -> !v.isSnapshot())) {
      throw new Broken(
          "sender "
              + pools.src(fs)
              + " has no cursor bookmark (expected one at guid "
              + Long.toUnsignedString(cursor, 16)
              + ")");
    }
    for (int i = 0; i < d.size(); i++) {
      var v = d.get(i);
      long want = i == d.size() - 1 ? 1 : 0;
      if (v.userRefs() != want) {
        throw new Broken(
            "receiver "
                + v.filesystem()
                + "@"
                + v.name()
                + " has "
                + v.userRefs()
                + " holds, expected "
                + want);
      }
    }
  }

  /** No {@code zfs send}/{@code recv} of the two pools runs (polls briefly: a killed one exits). */
  private void noZfsLeft() throws IOException, InterruptedException, Broken {
    long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
    List<String> left = pools.zfsLeft();
    while (!left.isEmpty()) {
      if (System.nanoTime() > deadline) {
        throw new Broken("zfs children left behind: " + left);
      }
      Thread.sleep(200);
      left = pools.zfsLeft();
    }
  }

  // ------------------------------------------------------------------ helpers

  /** zfs-fuse has no {@code -p}: "412M", "1.5G", "980K", "512" to bytes (rounded down). */
  static long bytes(String human) {
    var s = human.strip();
    var units = "BKMGTP";
    char last = s.charAt(s.length() - 1);
    int exp = units.indexOf(Character.toUpperCase(last));
    if (exp < 0) {
      return Long.parseLong(s);
    }
    double v = Double.parseDouble(s.substring(0, s.length() - 1));
    return (long) (v * Math.pow(1024, exp));
  }

  private static String firstLines(@Nullable String s, int n) {
    if (s == null) {
      return "(no message)";
    }
    var lines = s.lines().limit(n).toList();
    return String.join("\n", lines);
  }

  @Override
  public void close() throws IOException {
    var errors = new LinkedHashMap<String, Exception>();
    for (var d : List.of(push, sink)) {
      try {
        d.close();
      } catch (RuntimeException | AssertionError e) {
        d.kill9();
      }
    }
    try {
      proxy.close();
    } catch (IOException e) {
      errors.put("proxy", e);
    }
    try {
      pools.close();
    } catch (IOException | RuntimeException | AssertionError e) {
      errors.put("pools", e instanceof Exception x ? x : new IOException(e));
    }
    if (!errors.isEmpty()) {
      throw new IOException("closing: " + errors);
    }
  }

  /**
   * What a failure's report shows: the end of both daemons' logs, the processes each daemon runs
   * (its {@code zfs} commands, the guest's ssh wrappers) and the daemons' threads that are in our
   * code (a hang's where).
   */
  private String diagnosis() {
    var b = new StringBuilder(logTails(30));
    for (var d : List.of(Map.entry("push", push), Map.entry("sink", sink))) {
      b.append("\n  ").append(d.getKey()).append(" daemon's children:");
      ProcessHandle.of(d.getValue().pid())
          .ifPresent(
              p ->
                  p.descendants()
                      .forEach(
                          c ->
                              b.append("\n    ")
                                  .append(c.pid())
                                  .append(' ')
                                  .append(c.info().commandLine().orElse("?"))));
      b.append("\n  ").append(d.getKey()).append(" daemon's busy threads:");
      b.append(busyThreads(d.getValue().pid()));
    }
    return b.toString();
  }

  /**
   * The threads of a JVM ({@code jcmd PID Thread.print}) whose stack is in zrepl4j's code, each
   * with its first frames (not the main thread's and the log outlets' waits); a note instead when
   * the dump cannot be had.
   */
  private static String busyThreads(long pid) {
    var jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
    try {
      var p =
          new ProcessBuilder(jcmd.toString(), Long.toString(pid), "Thread.print")
              .redirectErrorStream(true)
              .start();
      p.getOutputStream().close();
      var text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
      }
      var b = new StringBuilder();
      for (var thread : text.split("\n\n")) {
        if (thread.startsWith("\"")
            && thread.contains("dev.zrepl4j")
            && !thread.contains("Daemon.awaitClosed")
            && !thread.contains("OutletAppender.loop")) {
          var lines = thread.lines().limit(30).toList();
          b.append("\n    ").append(String.join("\n      ", lines));
        }
      }
      return b.isEmpty() ? "\n    (none in zrepl4j's code)" : b.toString();
    } catch (IOException e) {
      return "\n    (no thread dump: " + e.getMessage() + ")";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "\n    (no thread dump: interrupted)";
    }
  }

  /** The last {@code n} lines of both daemons' logs (for a failure's report). */
  private String logTails(int n) {
    return "\n  push log (end):\n"
        + lastLines(push.logText(), n)
        + "\n  sink log (end):\n"
        + lastLines(sink.logText(), n);
  }

  private static String lastLines(String s, int n) {
    var l = s.lines().toList();
    return String.join("\n    ", l.subList(Math.max(0, l.size() - n), l.size()));
  }
}
