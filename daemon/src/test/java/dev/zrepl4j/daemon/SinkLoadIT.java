package dev.zrepl4j.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.replication.FuseFixture;
import dev.zrepl4j.replication.Push;
import dev.zrepl4j.replication.Replication;
import dev.zrepl4j.replication.Sender;
import dev.zrepl4j.replication.SenderOptions;
import dev.zrepl4j.replication.TcpProxy;
import dev.zrepl4j.replication.Trees;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.zfs.DatasetPath;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Load on one real sink daemon process: {@code load.clients} (32) pushing clients with distinct
 * identities (TCP from 127.0.0.10, .11, …, each named by the sink's {@code clients:} map), each
 * with {@code load.fs} (2) small filesystems, pushed concurrently by the replication's own {@link
 * Push} drivers in this JVM, over {@code load.runs} (3) runs, a new snapshot of everything before
 * each. The sink's memory is sampled from {@code /proc/PID/status} (VmRSS every 200 ms, VmHWM at
 * the end) and printed with the figures ({@code load.clients}, {@code load.runs}, {@code
 * load.sink.rss.max.mib}, …); it must stay below {@link #RSS_LIMIT_MIB} with the package's daemon
 * JVM options.
 *
 * <p>Faults at the same time: the last client reaches the sink through a TCP proxy that, from the
 * second run on, cuts its connections as soon as they open (in the hello, a listing or a stream),
 * so that client fails while all others complete every run. During the second run a client connects
 * and never speaks (slowloris), and another opens more connections than the sink has slots ({@link
 * RpcOptions#maxConnections()}) and sends nothing on any: the sink keeps at most {@link
 * RpcOptions#maxConnectionsPerClient()} of them and closes the rest at once, the good clients
 * replicate meanwhile, and the silent connections are closed within the read timeout.
 *
 * <p>A bigger run by hand (64 clients of 4 filesystems, 10 runs):
 *
 * <pre>
 * mvn -B -pl daemon -am verify -Dit.test=SinkLoadIT -Dtest=NoSuch \
 *   -Dsurefire.failIfNoSpecifiedTests=false -Dfailsafe.failIfNoSpecifiedTests=false \
 *   -Dload.clients=64 -Dload.fs=4 -Dload.runs=10
 * </pre>
 */
@Timeout(900)
class SinkLoadIT {
  /**
   * The sink's resident memory must stay below this: issue 17's bound for a daemon, which its JVM
   * runs with the package's options ({@link #packageDaemonOptions()}). Before the frame buffers
   * were allocated lazily, this flood needed a heap of 192 MiB (RSS 322 MiB at its peak), and with
   * the 128 MiB the package now gives the daemon it ran out of memory.
   */
  static final long RSS_LIMIT_MIB = 256;

  /**
   * The JVM options the package's launcher gives {@code zrepl4j daemon}: the {@code -X…} and {@code
   * -D…} words of its {@code daemon)} branch.
   */
  static String packageDaemonOptions() throws IOException {
    var launcher = Path.of("..").toAbsolutePath().normalize().resolve("packaging/zrepl4j.launcher");
    var opts = new ArrayList<String>();
    boolean in = false;
    for (var line : Files.readAllLines(launcher)) {
      if (line.strip().equals("daemon)")) {
        in = true;
        continue;
      }
      if (in) {
        for (var word : line.strip().split("\\s+")) {
          if (word.startsWith("-X") || word.startsWith("-D")) {
            opts.add(word);
          }
        }
        if (line.contains(";;")) {
          break;
        }
      }
    }
    if (!opts.contains("-XX:+ExitOnOutOfMemoryError")
        || opts.stream().noneMatch(o -> o.startsWith("-Xmx"))) {
      throw new IOException(
          "no daemon options with a heap bound found in " + launcher + ": " + opts);
    }
    return String.join(" ", opts);
  }

  static final int CLIENTS = Integer.getInteger("load.clients", 32);
  static final int FILESYSTEMS = Integer.getInteger("load.fs", 2);
  static final int RUNS = Integer.getInteger("load.runs", 3);

  @TempDir Path dir;

  static String name(int i) {
    return "c%03d".formatted(i);
  }

  static String address(int i) {
    return "127.0.%d.%d".formatted(i / 200, 10 + i % 200);
  }

  @Test
  void thirtyTwoClientsPushIntoOneSink() throws Exception {
    assertThat(CLIENTS).isGreaterThanOrEqualTo(2);
    try (var src = FuseFixture.create("ldsrc", 768);
        var dst = FuseFixture.create("lddst", 768)) {
      int failing = CLIENTS - 1; // its connections go through a proxy that cuts them
      for (int i = 0; i < CLIENTS; i++) {
        var top = src.path(name(i));
        FuseFixture.run("zfs", "create", top.toString());
        Trees.write(src.mounted(name(i)).resolve("f.bin"), i, 20_000);
        for (int k = 1; k < FILESYSTEMS; k++) {
          FuseFixture.run("zfs", "create", top + "/f" + k);
          Trees.write(src.mounted(name(i) + "/f" + k).resolve("f.bin"), i * 100 + k, 10_000);
        }
      }
      FuseFixture.run("zfs", "create", dst.path("sink").toString());

      int port = TwoPoolsTest.freePort();
      var clients = new StringBuilder();
      for (int i = 0; i < CLIENTS; i++) {
        // the proxy connects from 127.0.0.1
        clients.append("\"%s\": %s, ".formatted(i == failing ? "127.0.0.1" : address(i), name(i)));
      }
      clients.append("\"127.0.1.200\": slow, \"127.0.1.201\": flood");
      var sock = dir.resolve("sink-run").resolve("control");
      var yaml =
          """
          global:
            logging:
              - {type: stdout, level: info, format: human}
            control:
              sockpath: %s
            serve:
              stdinserver:
                sockdir: %s
          jobs:
            - name: sink
              type: sink
              root_fs: %s
              serve: {type: tcp, listen: "127.0.0.1:%d", clients: {%s}}
          """
              .formatted(sock, dir.resolve("stdin"), dst.path("sink"), port, clients);
      var rpc = RpcOptions.defaults();
      long started = System.nanoTime();
      // the sink runs with the package's daemon JVM options (its heap bound above all), read
      // from packaging/zrepl4j.launcher, through JAVA_TOOL_OPTIONS; -Dload.sink.javaopts="..."
      // runs it with others instead (empty: the JVM's defaults)
      var javaOpts = System.getProperty("load.sink.javaopts");
      if (javaOpts == null) {
        javaOpts = packageDaemonOptions();
      }
      System.out.println("load.sink.javaopts " + javaOpts);
      var env =
          javaOpts.isBlank()
              ? Map.<String, String>of()
              : Map.of("JAVA_TOOL_OPTIONS", javaOpts, "MALLOC_ARENA_MAX", "2");
      try (var sink = DaemonProcess.start(dir, "sink", yaml, sock, env);
          var proxy = new TcpProxy(port);
          var workers = Executors.newFixedThreadPool(CLIENTS)) {
        var rss = new RssSampler(sink.pid());
        rss.start();
        var pushes = new ArrayList<Push>();
        var zfs = FuseFixture.zfs();
        for (int i = 0; i < CLIENTS; i++) {
          var top = src.path(name(i));
          Predicate<DatasetPath> filter = p -> p.hasPrefix(top);
          pushes.add(
              new Push(
                  new Sender(zfs, filter, name(i), SenderOptions.PLAIN),
                  name(i),
                  i == failing
                      ? Loopback.dialer("127.0.0.1", proxy.port(), rpc)
                      : Loopback.dialer(address(i), port, rpc)));
        }
        var silent = new ArrayList<SocketChannel>();
        SocketChannel slow = null;
        Thread cutter = null;
        long slowOpened = 0;
        int completedRuns = 0;
        try {
          for (int run = 1; run <= RUNS; run++) {
            FuseFixture.run("zfs", "snapshot", "-r", src.name + "@r" + run);
            if (run == 2) {
              // from now on the last client's connections are cut as soon as they open
              cutter =
                  Thread.ofPlatform()
                      .daemon()
                      .start(
                          () -> {
                            while (!Thread.currentThread().isInterrupted()) {
                              proxy.cutAll();
                              try {
                                Thread.sleep(20);
                              } catch (InterruptedException e) {
                                return;
                              }
                            }
                          });
              slow = Loopback.connect("127.0.1.200", port);
              slowOpened = System.nanoTime();
              int flood = rpc.maxConnections() + 44;
              for (int f = 0; f < flood; f++) {
                silent.add(Loopback.connect("127.0.1.201", port));
              }
              // the sink closes what exceeds the per-client limit at once, the rest stay
              awaitClosed(silent, flood - rpc.maxConnectionsPerClient(), Duration.ofSeconds(30));
              assertThat(openCount(silent))
                  .as("flood connections the sink keeps")
                  .isLessThanOrEqualTo(rpc.maxConnectionsPerClient());
            }
            long t0 = System.nanoTime();
            var futures = new ArrayList<Future<Replication.Report>>();
            for (int i = 0; i < CLIENTS; i++) {
              var p = pushes.get(i);
              var job = name(i);
              futures.add(
                  workers.submit(
                      () ->
                          p.run(
                              Replication.Config.defaults(job)
                                  .withRetries(2, Duration.ofSeconds(1)),
                              Replication.Progress.none())));
            }
            var failed = new ArrayList<String>();
            for (int i = 0; i < CLIENTS; i++) {
              String outcome;
              try {
                var r = futures.get(i).get(240, TimeUnit.SECONDS);
                outcome = r.ok() ? "ok" : "failed: " + r;
              } catch (ExecutionException e) {
                outcome = "failed: " + e.getCause();
              } catch (TimeoutException e) {
                outcome = "did not finish within 240 s";
              }
              boolean shouldFail = i == failing && run >= 2;
              if (shouldFail != !outcome.equals("ok")) {
                failed.add(name(i) + " run " + run + ": " + outcome);
              }
            }
            assertThat(failed).as("clients whose outcome is not the expected one").isEmpty();
            completedRuns = run;
            System.out.printf(
                "load.run %d seconds %.1f sink.rss.mib %d%n",
                run, (System.nanoTime() - t0) / 1e9, rss.currentMib());
          }
          // the silent connections are closed within the read timeout (+ the monitor's tick)
          var deadline =
              slowOpened + rpc.readTimeout().plusSeconds(15).toNanos() - System.nanoTime();
          assertThat(slow).isNotNull();
          awaitClosed(List.of(slow), 1, Duration.ofNanos(Math.max(0, deadline)));
          awaitClosed(
              silent, silent.size(), Duration.ofNanos(Math.max(0, deadline)).plusSeconds(5));
        } finally {
          for (var s : silent) {
            s.close();
          }
          if (slow != null) {
            slow.close();
          }
          rss.stop();
          if (cutter != null) {
            cutter.interrupt();
          }
        }

        // the cut client's receives left no zfs child behind in the sink
        var sinkProcess = ProcessHandle.of(sink.pid()).orElseThrow();
        long childDeadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (sinkProcess.descendants().findAny().isPresent()
            && System.nanoTime() < childDeadline) {
          Thread.sleep(200);
        }
        assertThat(sinkProcess.descendants().map(p -> p.info().commandLine().orElse("?")))
            .as("children of the sink after the runs")
            .isEmpty();

        // every good client has every run's snapshot of every filesystem; the failing one r1
        var snaps =
            Set.of(
                FuseFixture.run(
                        "zfs",
                        "list",
                        "-H",
                        "-t",
                        "snapshot",
                        "-r",
                        "-o",
                        "name",
                        dst.path("sink").toString())
                    .split("\n"));
        var missing = new ArrayList<String>();
        for (int i = 0; i < CLIENTS; i++) {
          var base = dst.path("sink") + "/" + name(i) + "/" + src.path(name(i));
          int last = i == failing ? 1 : RUNS;
          var fss = new ArrayList<>(List.of(base));
          for (int k = 1; k < FILESYSTEMS; k++) {
            fss.add(base + "/f" + k);
          }
          for (var fs : fss) {
            if (!snaps.contains(fs + "@r" + last)) {
              missing.add(fs + "@r" + last);
            }
          }
        }
        assertThat(missing).as("snapshots that did not arrive").isEmpty();
        var hwm = rss.hwmMib();
        System.out.println("load.clients " + CLIENTS);
        System.out.println("load.filesystems.per.client " + FILESYSTEMS);
        System.out.println("load.runs " + completedRuns);
        System.out.println("load.sink.rss.max.mib " + rss.maxMib());
        System.out.println("load.sink.hwm.mib " + hwm);
        System.out.printf("load.seconds %.1f%n", (System.nanoTime() - started) / 1e9);
        assertThat(rss.maxMib()).as("sink RSS max (MiB)").isPositive().isLessThan(RSS_LIMIT_MIB);
        assertThat(hwm).as("sink VmHWM (MiB)").isLessThan(RSS_LIMIT_MIB);
        assertThat(sink.alive()).isTrue();
      }
    }
  }

  /** How many of {@code chans} the peer has not closed. */
  static int openCount(List<SocketChannel> chans) throws IOException {
    int open = 0;
    var buf = ByteBuffer.allocate(1);
    for (var c : chans) {
      if (isOpenByPeer(c, buf)) {
        open++;
      }
    }
    return open;
  }

  private static boolean isOpenByPeer(SocketChannel c, ByteBuffer buf) throws IOException {
    c.configureBlocking(false);
    try {
      buf.clear();
      return c.read(buf) == 0;
    } catch (IOException reset) {
      return false;
    }
  }

  /** Waits until at least {@code n} of {@code chans} are closed by the peer. */
  static void awaitClosed(List<SocketChannel> chans, int n, Duration timeout)
      throws IOException, InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    Set<SocketChannel> closed = new HashSet<>();
    var buf = ByteBuffer.allocate(1);
    while (true) {
      for (var c : chans) {
        if (!closed.contains(c) && !isOpenByPeer(c, buf)) {
          closed.add(c);
        }
      }
      if (closed.size() >= n) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError(
            "the sink closed "
                + closed.size()
                + " of "
                + chans.size()
                + " silent connections within "
                + timeout
                + ", expected at least "
                + n);
      }
      Thread.sleep(200);
    }
  }

  /** Samples a process's VmRSS from /proc every 200 ms; reads VmHWM. */
  static final class RssSampler {
    private final Path status;
    private final AtomicLong maxKib = new AtomicLong();
    private volatile boolean stopped;
    private Thread thread = Thread.currentThread();

    RssSampler(long pid) {
      this.status = Path.of("/proc", Long.toString(pid), "status");
    }

    void start() {
      thread =
          Thread.ofPlatform()
              .daemon()
              .name("rss-sampler")
              .start(
                  () -> {
                    while (!stopped) {
                      try {
                        long kib = field("VmRSS:");
                        maxKib.accumulateAndGet(kib, Math::max);
                        Thread.sleep(200);
                      } catch (IOException | InterruptedException e) {
                        return;
                      }
                    }
                  });
    }

    void stop() throws InterruptedException {
      stopped = true;
      thread.join(2000);
    }

    long field(String key) throws IOException {
      for (var l : Files.readAllLines(status)) {
        if (l.startsWith(key)) {
          return Long.parseLong(l.substring(key.length()).trim().split("\\s+")[0]);
        }
      }
      throw new IOException(key + " not in " + status);
    }

    long currentMib() throws IOException {
      long kib = field("VmRSS:");
      maxKib.accumulateAndGet(kib, Math::max);
      return kib / 1024;
    }

    long maxMib() {
      return maxKib.get() / 1024;
    }

    long hwmMib() throws IOException {
      return field("VmHWM:") / 1024;
    }
  }
}
