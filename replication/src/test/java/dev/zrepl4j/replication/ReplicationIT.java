package dev.zrepl4j.replication;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.replication.Replication.FsReport.State;
import dev.zrepl4j.replication.filter.DatasetFilter;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.RpcServer;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.RealZfs;
import dev.zrepl4j.zfs.Zfs;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The replication scenarios end to end on real zfs-fuse pools: push and pull over TCP on 127.0.0.1,
 * local in-process; a diverged receiver; one failing filesystem among others; a connection cut
 * midway. Each test gets a fresh source and sink pool.
 */
@Timeout(120)
class ReplicationIT {
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
      // both pools destroyed (FuseFixture retries while zfs-fuse reports them busy)
    }
  }

  private static Replication.Config config(String job) {
    return Replication.Config.defaults(job).withRetries(3, Duration.ofMillis(500));
  }

  /**
   * tree, tree/a, tree/a/b (not replicated: a gap), tree/a/b/c, tree/d; files in each; snapshot s1.
   */
  private DatasetFilter tree() throws IOException {
    for (var fs : List.of("tree", "tree/a", "tree/a/b", "tree/a/b/c", "tree/d")) {
      zfs.create(src.path(fs), Map.of());
      Trees.write(src.mounted(fs + "/file.bin"), fs.hashCode(), 200_000);
    }
    Trees.write(src.mounted("tree/a/b/c/big.bin"), 7, 2 << 20);
    snapshotAll("s1");
    return DatasetFilter.of(Map.of(src.name + "/tree<", true, src.name + "/tree/a/b", false));
  }

  private void snapshotAll(String name) throws IOException {
    var all = new ArrayList<DatasetPath>();
    for (var fs : List.of("tree", "tree/a", "tree/a/b", "tree/a/b/c", "tree/d")) {
      if (zfs.listFilesystems(List.of(src.root()), p -> true).contains(src.path(fs))) {
        all.add(src.path(fs));
      }
    }
    zfs.snapshot(all, name);
  }

  private void change() throws IOException {
    Trees.write(src.mounted("tree/a/file.bin"), 99, 300_000);
    Trees.write(src.mounted("tree/a/b/c/new.bin"), 98, 100_000);
    java.nio.file.Files.delete(src.mounted("tree/d/file.bin"));
    Trees.write(src.mounted("tree/d/other.bin"), 97, 50_000);
    snapshotAll("s2");
  }

  /** {@code zfs rename} on the sender (unmounted first: zfs-fuse calls a mounted one busy). */
  private static void renameOnTheSender(DatasetPath from, DatasetPath to) throws IOException {
    FuseFixture.run("zfs", "umount", from.toString());
    FuseFixture.run("zfs", "rename", from.toString(), to.toString());
    FuseFixture.run("zfs", "mount", to.toString());
  }

  /** Asserts that the replicated filesystems hold the source's files, byte for byte. */
  private void assertReplicated(DatasetPath targetRoot, String... snapshots) throws IOException {
    for (var fs : List.of("tree", "tree/a", "tree/a/b/c", "tree/d")) {
      var target = targetRoot.extend(src.path(fs));
      assertThat(dst.versions(target))
          .filteredOn(v -> v.isSnapshot())
          .extracting(v -> v.name())
          .containsExactly(snapshots);
      var mnt = dst.mountReadOnly(target);
      try {
        assertSameTopLevelFiles(src.mounted(fs), mnt);
      } finally {
        FuseFixture.unmount(target);
      }
    }
    // the gap is a placeholder
    var gap = targetRoot.extend(src.path("tree/a/b"));
    assertThat(FuseFixture.prop(gap.toString(), Zfs.PLACEHOLDER_PROPERTY))
        .isEqualTo(Zfs.placeholderHash(gap));
  }

  private RpcServer.RpcListener listen(RpcServer server) throws IOException {
    var l = server.listenTcp(new InetSocketAddress("127.0.0.1", 0), peer -> Optional.of(CLIENT));
    closeLater.add(server);
    closeLater.add(l);
    return l;
  }

  private static Dialer dial(int port) {
    return Dialer.tcp("127.0.0.1", port, Duration.ofSeconds(5), RpcOptions.defaults());
  }

  @Test
  void pushOverTcpInitialThenIncremental() throws Exception {
    var filter = tree();
    var server = new RpcServer(RpcOptions.defaults());
    server.register(
        "receiver",
        new ReceiverEndpoint(zfs, sinkRoot, Receiver.Mode.SINK, "push", ReceiverOptions.DEFAULTS));
    var l = listen(server);
    try (var push =
        new Push(new Sender(zfs, filter, "push", SenderOptions.PLAIN), "push", dial(l.port()))) {
      var r = push.run(config("push"), Replication.Progress.none());
      assertThat(r.filesystems())
          .extracting(Replication.FsReport::state)
          .containsOnly(State.REPLICATED)
          .hasSize(4);
      var target = sinkRoot.child(CLIENT);
      assertReplicated(target, "s1");

      change();
      r = push.run(config("push"), Replication.Progress.none());
      assertThat(r.ok()).isTrue();
      assertThat(r.of(src.path("tree/a").toString()).stepsDone()).isEqualTo(1);
      assertReplicated(target, "s1", "s2");

      r = push.run(config("push"), Replication.Progress.none());
      assertThat(r.filesystems())
          .extracting(Replication.FsReport::state)
          .containsOnly(State.UP_TO_DATE);
    }
  }

  @Test
  void pullOverTcpInitialThenIncremental() throws Exception {
    var filter = tree();
    var server = new RpcServer(RpcOptions.defaults());
    server.register("sender", new Sender(zfs, filter, "pull", SenderOptions.PLAIN));
    var l = listen(server);
    try (var pull =
        new Pull(
            dial(l.port()),
            Receiver.localRoot(zfs, sinkRoot, "pull", ReceiverOptions.DEFAULTS),
            "pull")) {
      var r = pull.run(config("pull"), Replication.Progress.none());
      assertThat(r.ok()).isTrue();
      assertReplicated(sinkRoot, "s1");
      change();
      assertThat(
              pull.run(config("pull").withBatchIntermediates(true), Replication.Progress.none())
                  .ok())
          .isTrue();
      assertReplicated(sinkRoot, "s1", "s2");
    }
  }

  @Test
  void localInitialThenBatchedIncremental() throws Exception {
    var filter = tree();
    try (var local =
        new Local(
            new Sender(zfs, filter, "local", SenderOptions.PLAIN),
            Receiver.localRoot(zfs, sinkRoot, "local", ReceiverOptions.DEFAULTS),
            "local")) {
      assertThat(local.run(config("local"), Replication.Progress.none()).ok()).isTrue();
      assertReplicated(sinkRoot, "s1");
      change();
      Trees.write(src.mounted("tree/a/third.bin"), 5, 10_000);
      snapshotAll("s3");
      var r = local.run(config("local").withBatchIntermediates(true), Replication.Progress.none());
      assertThat(r.ok()).isTrue();
      // s1 -> s3 with -I in one step, s2 arrives too
      assertThat(r.of(src.path("tree/a").toString()).stepsTotal()).isEqualTo(1);
      assertReplicated(sinkRoot, "s1", "s2", "s3");
    }
  }

  /**
   * A filesystem renamed on the sender (zrepl#408) is recognised by its snapshots' guids on the
   * receiver under the old name: reported, not sent in full a second time; once the receiver's copy
   * carries the new name, the next run goes on incrementally.
   */
  @Test
  void aFilesystemRenamedOnTheSenderIsFoundByGuidAndNotSentAgain() throws Exception {
    var filter = tree();
    try (var local =
        new Local(
            new Sender(zfs, filter, "local", SenderOptions.PLAIN),
            Receiver.localRoot(zfs, sinkRoot, "local", ReceiverOptions.DEFAULTS),
            "local")) {
      assertThat(local.run(config("local"), Replication.Progress.none()).ok()).isTrue();
      var d = src.path("tree/d");
      var e = src.path("tree/e");
      renameOnTheSender(d, e);
      Trees.write(src.mounted("tree/e/other.bin"), 97, 50_000);
      Trees.write(src.mounted("tree/a/file.bin"), 99, 300_000);
      snapshotAll("s2"); // (of the names it knows: tree/d is gone)
      zfs.snapshot(List.of(e), "s2");
      var r = local.run(config("local"), Replication.Progress.none());
      var fr = r.of(e.toString());
      assertThat(fr.state()).as("%s", r).isEqualTo(State.CONFLICT);
      assertThat(fr.message())
          .contains(e + " is not on the receiver, but its snapshot @s1")
          .contains("as " + d + "@s1")
          .contains("renamed or moved on the sender")
          .contains("zfs rename");
      assertThat(fr.stepsDone()).isZero();
      assertThat(dst.exists(sinkRoot.extend(e))).isFalse();
      // the others went on
      assertThat(r.of(src.path("tree/a").toString()).state()).isEqualTo(State.REPLICATED);

      // the administrator renames the copy on the receiver: incremental from s1
      FuseFixture.run(
          "zfs", "rename", sinkRoot.extend(d).toString(), sinkRoot.extend(e).toString());
      r = local.run(config("local"), Replication.Progress.none());
      fr = r.of(e.toString());
      assertThat(fr.state()).as("%s", r).isEqualTo(State.REPLICATED);
      assertThat(fr.stepsTotal()).isEqualTo(1);
      assertThat(dst.versions(sinkRoot.extend(e)))
          .extracting(v -> v.name())
          .containsExactly("s1", "s2");
    }
  }

  /**
   * With {@code zrepl4j_follow_renames} the receiver renames its copy itself and the run goes on
   * incrementally. A move into a new parent: in the first run the parent is not on the receiver
   * yet, so the rename is refused (a conflict, nothing moved) while the parent is replicated; the
   * next run renames and sends incrementally.
   */
  @Test
  void withFollowRenamesTheReceiversCopyIsRenamedAndTheRunGoesOnIncrementally() throws Exception {
    var filter = tree();
    try (var local =
        new Local(
            new Sender(zfs, filter, "local", SenderOptions.PLAIN),
            Receiver.localRoot(zfs, sinkRoot, "local", ReceiverOptions.DEFAULTS),
            "local")) {
      var follow = config("local").withFollowRenames(true);
      assertThat(local.run(follow, Replication.Progress.none()).ok()).isTrue();
      var d = src.path("tree/d");
      var x = src.path("tree/x");
      var e = src.path("tree/x/e");
      zfs.create(x, Map.of());
      zfs.snapshot(List.of(x), "s1");
      renameOnTheSender(d, e);
      Trees.write(src.mounted("tree/x/e/other.bin"), 97, 50_000);
      zfs.snapshot(List.of(e), "s2");

      // moved into a new parent (x, not received yet): the receiver renames its copy into a
      // placeholder x, which x's own full receive then replaces, in the same run
      var r = local.run(follow, Replication.Progress.none());
      assertThat(r.ok()).as("%s", r).isTrue();
      assertThat(r.of(x.toString()).state()).as("%s", r).isEqualTo(State.REPLICATED);
      var fr = r.of(e.toString());
      assertThat(fr.state()).as("%s", r).isEqualTo(State.REPLICATED);
      assertThat(fr.stepsTotal()).as("incremental, not a full resend").isEqualTo(1);
      assertThat(dst.exists(sinkRoot.extend(d))).isFalse();
      assertThat(dst.versions(sinkRoot.extend(x)))
          .extracting(v -> v.name() + " " + v.guid())
          .containsExactlyElementsOf(
              src.versions(x).stream()
                  .filter(v -> v.isSnapshot())
                  .map(v -> v.name() + " " + v.guid())
                  .toList());
      assertThat(FuseFixture.prop(sinkRoot.extend(x).toString(), Zfs.PLACEHOLDER_PROPERTY))
          .as("x's placeholder replaced by x")
          .isNotEqualTo(Zfs.placeholderHash(sinkRoot.extend(x)));
      var sent = src.versions(e).stream().filter(v -> v.isSnapshot()).toList();
      assertThat(dst.versions(sinkRoot.extend(e)))
          .extracting(v -> v.name() + " " + v.guid())
          .containsExactlyElementsOf(sent.stream().map(v -> v.name() + " " + v.guid()).toList());
      assertThat(local.run(follow, Replication.Progress.none()).of(e.toString()).state())
          .isEqualTo(State.UP_TO_DATE);
    }
  }

  @Test
  void divergedReceiverIsReportedAndNothingIsDestroyed() throws Exception {
    var filter = tree();
    try (var local =
        new Local(
            new Sender(zfs, filter, "local", SenderOptions.PLAIN),
            Receiver.localRoot(zfs, sinkRoot, "local", ReceiverOptions.DEFAULTS),
            "local")) {
      assertThat(local.run(config("local"), Replication.Progress.none()).ok()).isTrue();
      var a = src.path("tree/a");
      var target = sinkRoot.extend(a);
      zfs.snapshot(List.of(target), "mine");
      change();
      var sinkBefore = versionsBelow(dst, sinkRoot);
      var r = local.run(config("local"), Replication.Progress.none());
      var fr = r.of(a.toString());
      assertThat(fr.state()).isEqualTo(State.CONFLICT);
      assertThat(fr.message())
          .contains("diverged after the common snapshot @s1")
          .contains("receiver has [@mine")
          .contains("sender has [@s2")
          .contains("Nothing was destroyed");
      // the others went on
      assertThat(r.of(src.path("tree/d").toString()).state()).isEqualTo(State.REPLICATED);
      // nothing on the receiver was destroyed: every version it had is still there
      var sinkAfter = versionsBelow(dst, sinkRoot);
      assertThat(sinkAfter).containsAll(sinkBefore);
      assertThat(dst.versions(target)).extracting(v -> v.name()).containsExactly("s1", "mine");
    }
  }

  @Test
  void oneFailingFilesystemDoesNotStopTheOthers() throws Exception {
    var filter = tree();
    // the receiver has a placeholder with a snapshot where tree/a belongs: its full receive is
    // refused (a placeholder with data is not replaced), tree/a/b/c's initial waits for it.
    var blocked = sinkRoot.extend(src.path("tree/a"));
    for (var p : List.of(src.root(), src.path("tree"), src.path("tree/a"))) {
      zfs.createPlaceholder(sinkRoot.extend(p));
    }
    zfs.snapshot(List.of(blocked), "junk");
    try (var local =
        new Local(
            new Sender(zfs, filter, "local", SenderOptions.PLAIN),
            Receiver.localRoot(zfs, sinkRoot, "local", ReceiverOptions.DEFAULTS),
            "local")) {
      var r = local.run(config("local"), Replication.Progress.none());
      assertThat(r.of(src.path("tree/a").toString()).state()).isEqualTo(State.FAILED);
      assertThat(r.of(src.path("tree/a").toString()).message()).isNotEmpty();
      assertThat(r.of(src.path("tree/a/b/c").toString()).state()).isEqualTo(State.SKIPPED);
      assertThat(r.of(src.path("tree").toString()).state()).isEqualTo(State.REPLICATED);
      assertThat(r.of(src.path("tree/d").toString()).state()).isEqualTo(State.REPLICATED);
      assertThat(dst.versions(blocked)).extracting(v -> v.name()).containsExactly("junk");
      assertThat(dst.exists(sinkRoot.extend(src.path("tree/d")))).isTrue();
    }
  }

  @Test
  void aConnectionCutMidwayIsRetriedAndCompletes() throws Exception {
    var filter = tree();
    var server = new RpcServer(RpcOptions.defaults());
    server.register(
        "receiver",
        new ReceiverEndpoint(zfs, sinkRoot, Receiver.Mode.SINK, "push", ReceiverOptions.DEFAULTS));
    var l = listen(server);
    var proxy = new TcpProxy(l.port());
    closeLater.add(proxy);
    try (var push =
        new Push(
            new Sender(zfs, filter, "push", SenderOptions.PLAIN), "push", dial(proxy.port()))) {
      assertThat(push.run(config("push"), Replication.Progress.none()).ok()).isTrue();
      Trees.write(src.mounted("tree/a/b/c/huge.bin"), 11, 12 << 20);
      change();
      var cut = new AtomicBoolean();
      var maxSeen = new AtomicLong();
      Replication.Progress cutter =
          (fs, step, bytes) -> {
            maxSeen.accumulateAndGet(bytes, Math::max);
            if (fs.endsWith("tree/a/b/c") && bytes > (4 << 20) && cut.compareAndSet(false, true)) {
              proxy.cutAll();
            }
          };
      var r = push.run(config("push"), cutter);
      assertThat(cut).isTrue();
      assertThat(r.ok()).as(r.toString()).isTrue();
      assertThat(r.of(src.path("tree/a/b/c").toString()).stepsDone()).isEqualTo(1);
      assertReplicated(sinkRoot.child(CLIENT), "s1", "s2");
    }
  }

  /** Short timeouts on both sides: a silent peer is noticed within seconds. */
  private static final RpcOptions SHORT_TIMEOUTS =
      RpcOptions.defaults()
          .withTimeouts(Duration.ofSeconds(2), Duration.ofSeconds(30), Duration.ofMillis(500));

  /**
   * A push whose link goes silent in the middle of a step's stream (the proxy forwards nothing
   * more, both sockets stay open): the silence is a temporary error, the step is retried on a new
   * connection and the snapshot arrives, within a bound set by the short timeouts.
   */
  @Test
  void aLinkStalledMidStreamIsRetriedOnANewConnectionAndTheSnapshotArrives() throws Exception {
    var filter = tree();
    var server = new RpcServer(SHORT_TIMEOUTS);
    server.register(
        "receiver",
        new ReceiverEndpoint(zfs, sinkRoot, Receiver.Mode.SINK, "push", ReceiverOptions.DEFAULTS));
    var l = listen(server);
    var proxy = new TcpProxy(l.port());
    closeLater.add(proxy);
    var dialer = Dialer.tcp("127.0.0.1", proxy.port(), Duration.ofSeconds(5), SHORT_TIMEOUTS);
    try (var push =
        new Push(new Sender(zfs, filter, "push", SenderOptions.PLAIN), "push", dialer)) {
      assertThat(push.run(config("push"), Replication.Progress.none()).ok()).isTrue();
      Trees.write(src.mounted("tree/a/b/c/huge.bin"), 13, 12 << 20);
      change();
      var stalled = new AtomicBoolean();
      var connectionsAtStall = new AtomicLong();
      Replication.Progress staller =
          (fs, step, bytes) -> {
            if (fs.endsWith("tree/a/b/c")
                && bytes > (4 << 20)
                && stalled.compareAndSet(false, true)) {
              connectionsAtStall.set(proxy.connections());
              proxy.stallOpenConnectionsAfter(1);
            }
          };
      long t0 = System.nanoTime();
      var r = push.run(config("push"), staller);
      var took = Duration.ofNanos(System.nanoTime() - t0);
      assertThat(stalled).isTrue();
      assertThat(proxy.heldChunks()).as("the stall held data back").isPositive();
      assertThat(r.ok()).as(r.toString()).isTrue();
      var c = src.path("tree/a/b/c").toString();
      assertThat(r.of(c).stepsDone()).isEqualTo(1);
      assertThat(proxy.connections())
          .as("the step was retried on a new connection")
          .isGreaterThan(connectionsAtStall.get());
      assertThat(took).as("run time with 2 s timeouts").isLessThan(Duration.ofSeconds(60));
      proxy.release();
      assertReplicated(sinkRoot.child(CLIENT), "s1", "s2");
    }
  }

  /**
   * A run cancelled (its thread interrupted, as a reset or a daemon stop does) while its link is
   * stalled ends promptly with InterruptedException and opens no new connection to retry.
   */
  @Test
  void aRunCancelledWhileItsLinkIsStalledEndsAndIsNotRetried() throws Exception {
    var filter = tree();
    var server = new RpcServer(SHORT_TIMEOUTS);
    server.register(
        "receiver",
        new ReceiverEndpoint(zfs, sinkRoot, Receiver.Mode.SINK, "push", ReceiverOptions.DEFAULTS));
    var l = listen(server);
    var proxy = new TcpProxy(l.port());
    closeLater.add(proxy);
    // long timeouts: nothing but the cancellation ends the stalled step
    var dialer =
        Dialer.tcp("127.0.0.1", proxy.port(), Duration.ofSeconds(5), RpcOptions.defaults());
    try (var push =
        new Push(new Sender(zfs, filter, "push", SenderOptions.PLAIN), "push", dialer)) {
      Trees.write(src.mounted("tree/a/b/c/huge.bin"), 14, 12 << 20);
      snapshotAll("s2");
      var stalled = new java.util.concurrent.CountDownLatch(1);
      Replication.Progress staller =
          (fs, step, bytes) -> {
            if (fs.endsWith("tree/a/b/c") && bytes > (4 << 20) && stalled.getCount() > 0) {
              proxy.stallOpenConnectionsAfter(1);
              stalled.countDown();
            }
          };
      var outcome = new java.util.concurrent.CompletableFuture<Object>();
      var runner =
          Thread.ofPlatform()
              .start(
                  () -> {
                    try {
                      outcome.complete(
                          push.run(config("push").withRetries(5, Duration.ZERO), staller));
                    } catch (Throwable e) {
                      outcome.complete(e);
                    }
                  });
      assertThat(stalled.await(60, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (proxy.heldChunks() == 0 && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertThat(proxy.heldChunks()).as("the stall held data back").isPositive();
      long connections = proxy.connections();
      runner.interrupt();
      var result = outcome.get(20, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(result).isInstanceOf(InterruptedException.class);
      runner.join(Duration.ofSeconds(5));
      assertThat(proxy.connections()).as("no retry after the cancellation").isEqualTo(connections);
    }
  }

  @Test
  void aTransferKilledMidwayFailsThatFilesystemAndTheNextRunCompletesIt() throws Exception {
    var filter = tree();
    var server = new RpcServer(RpcOptions.defaults());
    server.register(
        "receiver",
        new ReceiverEndpoint(zfs, sinkRoot, Receiver.Mode.SINK, "push", ReceiverOptions.DEFAULTS));
    var l = listen(server);
    var proxy = new TcpProxy(l.port());
    closeLater.add(proxy);
    var once = config("push").withRetries(1, Duration.ZERO);
    try (var push =
        new Push(
            new Sender(zfs, filter, "push", SenderOptions.PLAIN), "push", dial(proxy.port()))) {
      assertThat(push.run(once, Replication.Progress.none()).ok()).isTrue();
      // slow enough that the cut lands in the stream on the direct data path too (its progress is
      // the kernel's count, told four times a second: 32 MiB at 8 MiB/s take some 4 s)
      proxy.throttle(8 << 20);
      Trees.write(src.mounted("tree/a/b/c/huge.bin"), 12, 32 << 20);
      change();
      var cut = new AtomicBoolean();
      Replication.Progress cutter =
          (fs, step, bytes) -> {
            if (fs.endsWith("tree/a/b/c") && bytes > (4 << 20) && cut.compareAndSet(false, true)) {
              proxy.cutAll();
            }
          };
      var r = push.run(once, cutter);
      assertThat(cut).isTrue();
      var c = src.path("tree/a/b/c").toString();
      assertThat(r.of(c).state()).isEqualTo(State.FAILED);
      assertThat(r.of(c).message()).startsWith("after 1 attempts:");
      assertThat(r.filesystems()).filteredOn(f -> !f.filesystem().equals(c)).allMatch(f -> f.ok());
      // no half-received snapshot is visible
      var target = sinkRoot.child(CLIENT).extend(src.path("tree/a/b/c"));
      assertThat(dst.versions(target)).extracting(v -> v.name()).containsExactly("s1");

      proxy.throttle(0);
      r = push.run(once, Replication.Progress.none());
      assertThat(r.ok()).as(r.toString()).isTrue();
      assertThat(r.of(c).stepsDone()).isEqualTo(1);
      assertReplicated(sinkRoot.child(CLIENT), "s1", "s2");
    }
  }

  /**
   * A stop between a step's receive and the sender's completion (a crash, power loss, a lost
   * connection) leaves the sender's cursor on the older snapshot and the step holds on both (and,
   * if the receiver stopped too, its last-received hold on the older one). The next run finds the
   * filesystems up to date: it has the sender move the cursor and release the step holds, and the
   * receiver move its hold, even as a new driver that remembers nothing (a restarted daemon).
   */
  @Test
  void aStopBetweenReceiveAndCompletionIsRepairedByTheNextRunThatFindsBothSidesInSync()
      throws Exception {
    var filter = tree();
    var sender = new Sender(zfs, filter, "local", SenderOptions.PLAIN);
    var receiver = Receiver.localRoot(zfs, sinkRoot, "local", ReceiverOptions.DEFAULTS);
    var once = config("local").withRetries(1, Duration.ZERO);
    var fss = List.of("tree", "tree/a", "tree/a/b/c", "tree/d");
    try (var local = new Local(sender, receiver, "local")) {
      assertThat(local.run(once, Replication.Progress.none()).ok()).isTrue();
      change();
      // the sender's completion never arrives: this run "crashes" right after each receive
      Replication.Connector crashing = CompletionLost.around(local);
      var r = crashing.run(once, Replication.Progress.none());
      for (var fs : fss) {
        assertThat(r.of(src.path(fs).toString()).state()).isEqualTo(State.FAILED);
        assertThat(dst.versions(sinkRoot.extend(src.path(fs))))
            .extracting(v -> v.name())
            .containsExactly("s1", "s2");
        // cursor and step hold on s1, the step hold on s2
        assertThat(src.userRefs(src.path(fs), "s1")).isEqualTo(2);
        assertThat(src.userRefs(src.path(fs), "s2")).isEqualTo(1);
        // and the receiver's last-received hold is still on s1: the run releases it only once
        // the sender's cursor is on s2, which it never got to. It held s2 ahead, beside the
        // sender's cursors (holdReceivedAll): an extra hold, which the next confirmation moves
        var target = sinkRoot.extend(src.path(fs));
        assertThat(dst.userRefs(target, "s1")).as("%s@s1 on the receiver", fs).isEqualTo(1);
        assertThat(dst.userRefs(target, "s2")).as("%s@s2 on the receiver", fs).isEqualTo(1);
      }
      // a new driver (a restarted daemon): every filesystem is up to date, the sender repaired
      r = local.run(once, Replication.Progress.none());
      assertThat(r.ok()).as(r.toString()).isTrue();
      for (var fs : fss) {
        var path = src.path(fs);
        assertThat(r.of(path.toString()).state()).isEqualTo(State.UP_TO_DATE);
        assertThat(src.userRefs(path, "s1")).as("%s@s1", fs).isZero();
        assertThat(src.userRefs(path, "s2")).as("%s@s2", fs).isEqualTo(1);
        // that one hold is the cursor: releasing it by its tag succeeds (zfs-fuse lists no tags)
        FuseFixture.run("zfs", "release", "zrepl_CURSOR_J_local", path + "@s2");
        assertThat(src.userRefs(path, "s2")).isZero();
        // the receiver's last-received hold moved to s2, confirmed as the base
        var target = sinkRoot.extend(path);
        assertThat(dst.userRefs(target, "s1")).as("%s@s1 on the receiver", fs).isZero();
        assertThat(dst.userRefs(target, "s2")).as("%s@s2 on the receiver", fs).isEqualTo(1);
      }
      assertReplicated(sinkRoot, "s1", "s2");
    }
  }

  /**
   * What a step stopped between receive and completion leaves on zfs-fuse at each protection level
   * of incremental steps (zrepl's {@code replication.protection.incremental}), and that the next
   * run repairs it alike: guarantee_resumability holds from and to, guarantee_incremental only
   * from, guarantee_nothing neither; the cursor stays on s1 until the repair moves it to s2.
   */
  @ParameterizedTest
  @EnumSource(Protection.class)
  void eachProtectionLevelHoldsWhatItPromisesDuringAStepAndTheNextRunReleasesIt(Protection level)
      throws Exception {
    zfs.create(src.path("p"), Map.of());
    Trees.write(src.mounted("p/file.bin"), 5, 100_000);
    zfs.snapshot(List.of(src.path("p")), "s1");
    var fs = src.path("p");
    var sender = new Sender(zfs, p -> p.equals(fs), "prot", SenderOptions.PLAIN);
    var receiver = Receiver.localRoot(zfs, sinkRoot, "prot", ReceiverOptions.DEFAULTS);
    var once =
        config("prot")
            .withRetries(1, Duration.ZERO)
            .withProtection(Protection.GUARANTEE_RESUMABILITY, level);
    try (var local = new Local(sender, receiver, "prot")) {
      assertThat(local.run(once, Replication.Progress.none()).ok()).isTrue();
      assertThat(src.userRefs(fs, "s1")).isEqualTo(1); // the cursor
      Trees.write(src.mounted("p/file.bin"), 6, 100_000);
      zfs.snapshot(List.of(fs), "s2");
      Replication.Connector stopping = CompletionLost.around(local);
      var r = stopping.run(once, Replication.Progress.none());
      assertThat(r.of(fs.toString()).state()).isEqualTo(State.FAILED);
      assertThat(dst.versions(sinkRoot.extend(fs)))
          .extracting(v -> v.name())
          .containsExactly("s1", "s2");
      int fromHeld = level == Protection.GUARANTEE_NOTHING ? 0 : 1;
      int toHeld = level == Protection.GUARANTEE_RESUMABILITY ? 1 : 0;
      assertThat(src.userRefs(fs, "s1")).as("s1: cursor + step hold").isEqualTo(1 + fromHeld);
      assertThat(src.userRefs(fs, "s2")).as("s2: step hold").isEqualTo(toHeld);

      r = local.run(once, Replication.Progress.none());
      assertThat(r.of(fs.toString()).state()).isEqualTo(State.UP_TO_DATE);
      assertThat(src.userRefs(fs, "s1")).isZero();
      assertThat(src.userRefs(fs, "s2")).isEqualTo(1);
      FuseFixture.run("zfs", "release", "zrepl_CURSOR_J_prot", fs + "@s2");
    }
  }

  /**
   * Compares the regular files directly in both directories (the source's directory also holds its
   * children's mountpoints, the received one is mounted alone).
   */
  private static void assertSameTopLevelFiles(
      java.nio.file.Path expected, java.nio.file.Path actual) throws IOException {
    var a = topLevelFiles(expected);
    assertThat(a).isNotEmpty();
    assertThat(topLevelFiles(actual)).containsExactlyElementsOf(a);
    for (var name : a) {
      assertThat(java.nio.file.Files.mismatch(expected.resolve(name), actual.resolve(name)))
          .as("first differing byte of %s", name)
          .isEqualTo(-1L);
    }
  }

  private static List<String> topLevelFiles(java.nio.file.Path dir) throws IOException {
    try (var s = java.nio.file.Files.list(dir)) {
      return s.filter(java.nio.file.Files::isRegularFile)
          .map(p -> p.getFileName().toString())
          .sorted()
          .toList();
    }
  }

  private static List<String> versionsBelow(FuseFixture f, DatasetPath root) throws IOException {
    var out = new ArrayList<String>();
    var fss = f.zfs.listFilesystems(List.of(root), p -> true);
    for (var e : f.zfs.listVersions(fss).entrySet()) {
      for (var v : e.getValue()) {
        out.add(v.fullName() + " " + v.guidString());
      }
    }
    return out;
  }
}
