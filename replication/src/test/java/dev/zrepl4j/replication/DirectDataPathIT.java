package dev.zrepl4j.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import dev.zrepl4j.replication.Replication.FsReport.State;
import dev.zrepl4j.replication.filter.DatasetFilter;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.RpcServer;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.RealZfs;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The direct data path end to end on real zfs-fuse pools (docs/DIRECT-PATH.md): a push over plain
 * TCP on 127.0.0.1 whose {@code zfs send} writes into the data connection and whose {@code zfs
 * recv} reads from it; the path off on either side; a {@code zfs send} killed mid-stream.
 */
@Timeout(180)
class DirectDataPathIT {
  private static final String CLIENT = "client1";
  private FuseFixture src;
  private FuseFixture dst;
  private RealZfs zfs;
  private DatasetPath sinkRoot;
  private final List<AutoCloseable> closeLater = new ArrayList<>();

  @BeforeEach
  void pools() throws IOException {
    src = FuseFixture.create("src", 256);
    dst = FuseFixture.create("dst", 256);
    zfs = src.zfs;
    sinkRoot = dst.path("sink");
    zfs.create(sinkRoot, Map.of("mountpoint", "none"));
  }

  @AfterEach
  void destroy() throws Exception {
    for (var c : closeLater.reversed()) {
      c.close();
    }
    try (var s = src;
        var d = dst) {
      // both pools destroyed
    }
  }

  /** tree, tree/a, tree/b with files; snapshot s1. */
  private DatasetFilter tree() throws IOException {
    for (var fs : List.of("tree", "tree/a", "tree/b")) {
      zfs.create(src.path(fs), Map.of());
      Trees.write(src.mounted(fs + "/file.bin"), fs.hashCode(), 300_000);
    }
    Trees.write(src.mounted("tree/b/big.bin"), 7, 3 << 20);
    zfs.snapshot(List.of(src.path("tree"), src.path("tree/a"), src.path("tree/b")), "s1");
    return DatasetFilter.of(Map.of(src.name + "/tree<", true));
  }

  private RpcServer sink(RpcOptions options) throws IOException {
    var server = new RpcServer(options);
    server.register(
        "receiver",
        new ReceiverEndpoint(zfs, sinkRoot, Receiver.Mode.SINK, "push", ReceiverOptions.DEFAULTS));
    closeLater.add(server);
    return server;
  }

  private int listen(RpcServer server) throws IOException {
    var l = server.listenTcp(new InetSocketAddress("127.0.0.1", 0), peer -> Optional.of(CLIENT));
    closeLater.add(l);
    return l.port();
  }

  private Push push(DatasetFilter filter, int port, RpcOptions options) {
    var p =
        new Push(
            new Sender(zfs, filter, "push", SenderOptions.PLAIN),
            "push",
            Dialer.tcp("127.0.0.1", port, Duration.ofSeconds(5), options));
    closeLater.add(p);
    return p;
  }

  private static Replication.Config config() {
    return Replication.Config.defaults("push").withRetries(1, Duration.ZERO);
  }

  /** The target's snapshot names and each snapshot's guid equal to the source's. */
  private void assertSameSnapshots(String fs, String... names) throws IOException {
    var target = sinkRoot.child(CLIENT).extend(src.path(fs));
    var got = dst.versions(target).stream().filter(v -> v.isSnapshot()).toList();
    assertThat(got).extracting(v -> v.name()).containsExactly(names);
    var source = zfs.listVersions(List.of(src.path(fs))).get(src.path(fs));
    for (var v : got) {
      assertThat(source)
          .as("%s@%s has the source's guid", fs, v.name())
          .anyMatch(s -> s.name().equals(v.name()) && s.guid() == v.guid());
    }
  }

  @Test
  void aPushOverPlainTcpSendsEachStepDirectAndCountsItsBytes() throws Exception {
    var filter = tree();
    var server = sink(RpcOptions.defaults());
    int port = listen(server);
    var seen = new ConcurrentHashMap<String, Long>();
    Replication.Progress progress = (fs, step, bytes) -> seen.merge(fs, bytes, Math::max);

    var r = push(filter, port, RpcOptions.defaults()).run(config(), progress);

    assertThat(r.ok()).as(r.toString()).isTrue();
    assertThat(server.directCalls()).as("every step went direct").isEqualTo(3);
    for (var fs : List.of("tree", "tree/a", "tree/b")) {
      assertSameSnapshots(fs, "s1");
    }
    var b = src.path("tree/b").toString();
    // the stream's bytes as the kernel counted them, in the report and the progress
    assertThat(r.of(b).bytes()).isGreaterThan(3 << 20).isLessThan(5 << 20);
    assertThat(seen.get(b)).isEqualTo(r.of(b).bytes());

    // an incremental step goes direct too
    Trees.write(src.mounted("tree/a/new.bin"), 5, 500_000);
    zfs.snapshot(List.of(src.path("tree"), src.path("tree/a"), src.path("tree/b")), "s2");
    r = push(filter, port, RpcOptions.defaults()).run(config(), progress);
    assertThat(r.ok()).as(r.toString()).isTrue();
    assertThat(server.directCalls()).isEqualTo(6);
    assertSameSnapshots("tree/a", "s1", "s2");
    var mnt = dst.mountReadOnly(sinkRoot.child(CLIENT).extend(src.path("tree/a")));
    try {
      assertThat(java.nio.file.Files.readAllBytes(mnt.resolve("new.bin")))
          .isEqualTo(java.nio.file.Files.readAllBytes(src.mounted("tree/a/new.bin")));
    } finally {
      FuseFixture.unmount(sinkRoot.child(CLIENT).extend(src.path("tree/a")));
    }
  }

  /**
   * A pull over plain TCP from a source served as the daemon serves it ({@link SenderEndpoint}):
   * its {@code zfs send} writes into the response's data connection, the local {@code zfs recv}
   * reads from it; the progress and the report count the bytes.
   */
  @Test
  void aPullOverPlainTcpTakesEachStepDirect() throws Exception {
    var filter = tree();
    var server = new RpcServer(RpcOptions.defaults());
    closeLater.add(server);
    server.register(
        "sender",
        new SenderEndpoint(
            zfs, filter, "pull", SenderOptions.PLAIN, n -> {}, BandwidthLimiter.none()));
    int port = listen(server);
    var seen = new ConcurrentHashMap<String, Long>();
    try (var pull =
        new Pull(
            Dialer.tcp("127.0.0.1", port, Duration.ofSeconds(5), RpcOptions.defaults()),
            Receiver.localRoot(zfs, sinkRoot, "pull", ReceiverOptions.DEFAULTS),
            CLIENT)) {
      var r = pull.run(config(), (fs, step, bytes) -> seen.merge(fs, bytes, Math::max));
      assertThat(r.ok()).as(r.toString()).isTrue();
      assertThat(server.directCalls()).as("every step's stream on a data connection").isEqualTo(3);
      var b = src.path("tree/b");
      assertThat(r.of(b.toString()).bytes()).isGreaterThan(3 << 20).isLessThan(5 << 20);
      assertThat(seen.get(b.toString())).isEqualTo(r.of(b.toString()).bytes());
      var target = sinkRoot.extend(b);
      var got = dst.versions(target).stream().filter(v -> v.isSnapshot()).toList();
      assertThat(got).extracting(v -> v.name()).containsExactly("s1");
      assertThat(got.getFirst().guid())
          .isEqualTo(
              zfs.listVersions(List.of(b)).get(b).stream()
                  .filter(v -> v.name().equals("s1"))
                  .findFirst()
                  .orElseThrow()
                  .guid());
    }
  }

  /**
   * A local job: each step's {@code zfs send} writes into a loopback connection whose other end is
   * {@code zfs recv}'s stdin; the kernel counts the bytes for the progress and the report.
   */
  @Test
  void aLocalJobJoinsSendAndReceiveByALoopbackConnection() throws Exception {
    var filter = tree();
    long before = dev.zrepl4j.rpc.DirectStream.localPairs();
    var seen = new ConcurrentHashMap<String, Long>();
    try (var local =
        new Local(
            new Sender(zfs, filter, "local", SenderOptions.PLAIN),
            Receiver.localRoot(zfs, sinkRoot, "local", ReceiverOptions.DEFAULTS),
            "local")) {
      var r = local.run(config(), (fs, step, bytes) -> seen.merge(fs, bytes, Math::max));
      assertThat(r.ok()).as(r.toString()).isTrue();
      assertThat(dev.zrepl4j.rpc.DirectStream.localPairs() - before)
          .as("every step on a loopback connection")
          .isEqualTo(3);
      var b = src.path("tree/b");
      assertThat(r.of(b.toString()).bytes()).isGreaterThan(3 << 20).isLessThan(5 << 20);
      assertThat(seen.get(b.toString())).isEqualTo(r.of(b.toString()).bytes());
      var got = dst.versions(sinkRoot.extend(b)).stream().filter(v -> v.isSnapshot()).toList();
      assertThat(got).extracting(v -> v.name()).containsExactly("s1");

      // an incremental step goes the same way
      Trees.write(src.mounted("tree/a/new.bin"), 5, 500_000);
      zfs.snapshot(List.of(src.path("tree"), src.path("tree/a"), src.path("tree/b")), "s2");
      r = local.run(config(), (fs, step, bytes) -> {});
      assertThat(r.ok()).as(r.toString()).isTrue();
      assertThat(dev.zrepl4j.rpc.DirectStream.localPairs() - before).isEqualTo(6);
      var a = src.path("tree/a");
      assertThat(dst.versions(sinkRoot.extend(a)).stream().filter(v -> v.isSnapshot()))
          .extracting(v -> v.name())
          .containsExactly("s1", "s2");
    }
  }

  @Test
  void withThePathOffOnEitherSideTheStreamsAreFramedAsBefore() throws Exception {
    var filter = tree();
    var off = RpcOptions.defaults().withDirectData(false);
    var server = sink(off);
    var r = push(filter, listen(server), RpcOptions.defaults()).run(config(), (f, s, b) -> {});
    assertThat(r.ok()).as(r.toString()).isTrue();
    assertThat(server.directCalls()).isZero();
    assertSameSnapshots("tree/b", "s1");

    zfs.snapshot(List.of(src.path("tree"), src.path("tree/a"), src.path("tree/b")), "s2");
    var other = sink(RpcOptions.defaults());
    r = push(filter, listen(other), off).run(config(), (f, s, b) -> {});
    assertThat(r.ok()).as(r.toString()).isTrue();
    assertThat(other.directCalls()).isZero();
    assertSameSnapshots("tree/b", "s1", "s2");
  }

  /**
   * {@code zfs send} killed while its stream is on the way (the link held still by a proxy, so that
   * the kill lands mid-stream): the step fails, the receiver keeps only what it had, and the next
   * run sends the step again.
   */
  @Test
  void aZfsSendKilledMidStreamFailsTheStepAndLeavesTheReceiverAsItWas() throws Exception {
    var filter = tree();
    var server = sink(RpcOptions.defaults());
    var proxy = new TcpProxy(listen(server));
    closeLater.add(proxy);
    var push = push(filter, proxy.port(), RpcOptions.defaults());
    assertThat(push.run(config(), (f, s, b) -> {}).ok()).isTrue();
    // 40 MiB at 8 MiB/s: the stream takes some 5 s, the kill lands in it
    proxy.throttle(8 << 20);

    Trees.write(src.mounted("tree/b/huge.bin"), 12, 40 << 20);
    zfs.snapshot(List.of(src.path("tree"), src.path("tree/a"), src.path("tree/b")), "s2");
    var b = src.path("tree/b").toString();
    var killed = new AtomicReference<String>();
    var armed = new AtomicBoolean();
    Replication.Progress killer =
        new Replication.Progress() {
          @Override
          public void transferred(String fs, Step step, long bytes) {}

          @Override
          public void step(Replication.StepProgress p) {
            if (p.filesystem().equals(b) && armed.compareAndSet(false, true)) {
              // zfs-fuse's zfs rewrites its argv in place: "pool/fs@snap" shows as "pool/fs snap"
              Thread.ofVirtual().start(() -> killMidStream(b + ".s2", killed));
            }
          }
        };
    var r = push.run(config(), killer);

    assertThat(killed.get()).as("a zfs send was killed mid-stream").isNotNull();
    assertThat(server.directCalls()).isPositive();
    assertThat(r.of(b).state()).as(r.toString()).isEqualTo(State.FAILED);
    assertSameSnapshots("tree/b", "s1");
    assertSameSnapshots("tree/a", "s1", "s2");

    proxy.throttle(0);
    r = push.run(config(), (f, s, x) -> {});
    assertThat(r.ok()).as(r.toString()).isTrue();
    assertSameSnapshots("tree/b", "s1", "s2");
  }

  /** Kills {@code zfs send} of {@code snapshot} once it has run for a second. */
  private static void killMidStream(String snapshot, AtomicReference<String> out) {
    try {
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      String pid = "";
      while (pid.isEmpty() && System.nanoTime() < deadline) {
        pid = pgrep("zfs send.*" + snapshot);
        if (pid.isEmpty()) {
          Thread.sleep(5);
        }
      }
      if (pid.isEmpty()) {
        return;
      }
      Thread.sleep(1000);
      if (new ProcessBuilder("kill", "-9", pid).inheritIO().start().waitFor() == 0) {
        out.set(pid);
      }
    } catch (IOException e) {
      throw new IllegalStateException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static String pgrep(String pattern) throws IOException, InterruptedException {
    var p = new ProcessBuilder("pgrep", "-f", pattern).redirectErrorStream(true).start();
    var out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    p.waitFor();
    return out.lines().findFirst().orElse("");
  }

  /**
   * A sender's {@code bandwidth_limit} on the direct data path: the kernel paces the data
   * connections (SO_MAX_PACING_RATE), each step still goes direct, and the limit holds for the job
   * as a whole, two steps at once sharing it: the run takes at least the time its bytes take at the
   * rate, less the bucket.
   */
  @Test
  void aSendersBandwidthLimitIsPacedByTheKernelAndSharedByConcurrentSteps() throws Exception {
    assumeThat(BandwidthLimiter.canPace()).as("the kernel paces TCP").isTrue();
    var filter = tree();
    Trees.write(src.mounted("tree/a/big.bin"), 8, 3 << 20);
    zfs.snapshot(List.of(src.path("tree"), src.path("tree/a"), src.path("tree/b")), "s2");
    var server = sink(RpcOptions.defaults());
    int port = listen(server);
    long rate = 2 << 20;
    long bucket = 128 << 10;
    var push =
        new Push(
            new Sender(
                zfs,
                filter,
                "push",
                SenderOptions.PLAIN,
                n -> {},
                BandwidthLimiter.of(rate, bucket)),
            "push",
            Dialer.tcp("127.0.0.1", port, Duration.ofSeconds(5), RpcOptions.defaults()));
    closeLater.add(push);

    long t0 = System.nanoTime();
    var r = push.run(config().withStepConcurrency(2), (f, s, b) -> {});
    double seconds = (System.nanoTime() - t0) / 1e9;

    assertThat(r.ok()).as(r.toString()).isTrue();
    long bytes = 0;
    long steps = 0;
    for (var fs : List.of("tree", "tree/a", "tree/b")) {
      assertSameSnapshots(fs, "s2"); // the newest only, as a first replication sends
      bytes += r.of(src.path(fs).toString()).bytes();
      steps += r.of(src.path(fs).toString()).stepsDone();
    }
    assertThat(server.directCalls()).as("every step went direct").isEqualTo(steps);
    assertThat(bytes).as("the run's streams").isGreaterThan(6 << 20);
    assertThat(seconds)
        .as("%d bytes at %d B/s with a %d B bucket, two steps at once", bytes, rate, bucket)
        .isGreaterThanOrEqualTo((double) (bytes - bucket) / rate);
  }
}
