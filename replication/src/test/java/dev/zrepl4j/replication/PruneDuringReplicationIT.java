package dev.zrepl4j.replication;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.replication.filter.DatasetFilter;
import dev.zrepl4j.replication.pruning.PruneExecutor;
import dev.zrepl4j.replication.pruning.PrunePlan;
import dev.zrepl4j.replication.pruning.PruneRule;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.RpcServer;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.RealZfs;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Sender-side pruning (keep_sender: {@code not_replicated} + {@code last_n(1)}) running on real
 * zfs-fuse pools WHILE a push step is in flight (the TCP proxy stalls mid-stream): the rules alone
 * would destroy the step's incremental base, the invariant keeps the step-held {@code from}/{@code
 * to} and the cursor snapshot, unprotected old snapshots are destroyed; after releasing the stall
 * the run completes and the next incremental works, byte for byte.
 */
@Timeout(180)
class PruneDuringReplicationIT {
  private static final String CLIENT = "client1";
  private static final String JOB = "push";
  private FuseFixture src;
  private FuseFixture dst;
  private RealZfs zfs;
  private DatasetPath sinkRoot;
  private final List<AutoCloseable> closeLater = new ArrayList<>();

  @BeforeEach
  void pools() throws IOException {
    src = FuseFixture.create("psrc", 256);
    dst = FuseFixture.create("pdst", 256);
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

  private static Replication.Config config() {
    return Replication.Config.defaults(JOB).withRetries(3, Duration.ofMillis(500));
  }

  @Test
  void senderPruningDuringAStalledTransferKeepsTheStepAndCursorAndTheNextIncrementalWorks()
      throws Exception {
    var data = src.path("data");
    zfs.create(data, Map.of());
    Trees.write(src.mounted("data/a.bin"), 1, 300_000);
    zfs.snapshot(List.of(data), "old1");
    Trees.write(src.mounted("data/b.bin"), 2, 200_000);
    zfs.snapshot(List.of(data), "old2");
    Trees.write(src.mounted("data/c.bin"), 3, 200_000);
    zfs.snapshot(List.of(data), "s1");

    var server = new RpcServer(RpcOptions.defaults());
    server.register(
        "receiver",
        new ReceiverEndpoint(zfs, sinkRoot, Receiver.Mode.SINK, JOB, ReceiverOptions.DEFAULTS));
    var l = server.listenTcp(new InetSocketAddress("127.0.0.1", 0), peer -> Optional.of(CLIENT));
    closeLater.add(server);
    closeLater.add(l);
    var proxy = new TcpProxy(l.port());
    closeLater.add(proxy);
    var filter = DatasetFilter.of(Map.of(src.name + "/data", true));
    var sender = new Sender(zfs, filter, JOB, SenderOptions.PLAIN);
    var target = sinkRoot.child(CLIENT).extend(data);
    // keep_sender: not_replicated (without the cursor snapshot) + last_n(1): on their own they
    // keep only the newest/unreplicated snapshot, never the incremental base
    var keepSender =
        List.<PruneRule>of(
            new PruneRule.NotReplicated(false), new PruneRule.LastN(1, Pattern.compile(".*")));
    var pruner = new PruneExecutor(zfs, 0);
    var contexts = sender.pruneContexts();

    try (var push =
        new Push(
            sender,
            JOB,
            Dialer.tcp("127.0.0.1", proxy.port(), Duration.ofSeconds(5), RpcOptions.defaults()))) {
      var r = push.run(config(), Replication.Progress.none());
      assertThat(r.ok()).as(r.toString()).isTrue();
      assertThat(sender.replicationCursor(new FsRequest(data.toString())))
          .extracting(FsVersion::name)
          .containsExactly("s1");

      // the step s1 -> s2 is big enough to stall in the middle (the link slowed, so that the
      // progress of the direct data path, the kernel's count four times a second, sees it: 32
      // MiB at 8 MiB/s take some 4 s)
      proxy.throttle(8 << 20);
      Trees.write(src.mounted("data/big.bin"), 4, 32 << 20);
      Trees.write(src.mounted("data/a.bin"), 5, 100_000);
      zfs.snapshot(List.of(data), "s2");

      var stalledAt = new CountDownLatch(1);
      var once = new AtomicBoolean();
      Replication.Progress staller =
          (fs, step, bytes) -> {
            if (fs.equals(data.toString())
                && bytes > (2 << 20)
                && once.compareAndSet(false, true)) {
              proxy.stall();
              stalledAt.countDown();
            }
          };
      var run =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return push.run(config(), staller);
                } catch (Exception e) {
                  throw new RuntimeException(e);
                }
              });
      assertThat(stalledAt.await(60, TimeUnit.SECONDS)).as("the transfer reached 2 MiB").isTrue();
      // let the pumps run into the stall, so data is really held back
      for (int i = 0; i < 50 && proxy.heldChunks() == 0; i++) {
        Thread.sleep(100);
      }
      assertThat(proxy.heldChunks()).isPositive();
      assertThat(run).isNotDone();
      assertThat(dst.versions(target)).extracting(v -> v.name()).containsExactly("s1");

      // --- prune the sender while the step s1 -> s2 is in flight -------------------------------
      var report = pruner.prune(List.of(data), keepSender, contexts, false);
      assertThat(report.failed()).isEmpty();
      assertThat(report.destroyed())
          .extracting(n -> n.name())
          .containsExactlyInAnyOrder("old1", "old2");
      var plan = report.plans().getFirst();
      var s1 = plan.decisions().stream().filter(d -> d.snapshot().name().equals("s1")).findFirst();
      assertThat(s1)
          .get()
          .extracting(PrunePlan.Decision::outcome)
          .as("the rules alone would destroy the base s1; only the invariant keeps it")
          .isInstanceOf(PrunePlan.Protected.class);
      assertThat(src.snapshotNames(data)).containsExactly("s1", "s2");
      assertThat(src.userRefs(data, "s1"))
          .as("step + cursor holds on s1")
          .isGreaterThanOrEqualTo(2);
      assertThat(src.userRefs(data, "s2")).as("step hold on s2").isGreaterThanOrEqualTo(1);
      assertThat(sender.replicationCursor(new FsRequest(data.toString())))
          .extracting(FsVersion::name)
          .containsExactly("s1");

      // a newer snapshot appears while the step is in flight; a bare last_n(1) would now destroy
      // the step's `to` s2 as well: only its step hold keeps it
      zfs.snapshot(List.of(data), "s2b");
      report =
          pruner.prune(
              List.of(data),
              List.<PruneRule>of(new PruneRule.LastN(1, Pattern.compile(".*"))),
              contexts,
              false);
      assertThat(report.failed()).isEmpty();
      assertThat(report.keptAtDestroy()).isEmpty();
      assertThat(report.destroyed()).isEmpty();
      assertThat(report.plans().getFirst().report())
          .containsExactly(
              "keep " + data + "@s1: protected, held (userrefs=2)",
              "keep " + data + "@s2: protected, held (userrefs=1)",
              "keep " + data + "@s2b: last_n(count=1,regex=.*)");
      assertThat(src.snapshotNames(data)).containsExactly("s1", "s2", "s2b");
      assertThat(run).isNotDone();

      // --- release: the step completes ---------------------------------------------------------
      proxy.release();
      r = run.get(120, TimeUnit.SECONDS);
      assertThat(r.ok()).as(r.toString()).isTrue();
      assertThat(r.of(data.toString()).stepsDone()).isEqualTo(1);
      assertThat(dst.versions(target))
          .filteredOn(v -> v.isSnapshot())
          .extracting(v -> v.name())
          .containsExactly("s1", "s2");
      assertThat(sender.replicationCursor(new FsRequest(data.toString())))
          .extracting(FsVersion::name)
          .containsExactly("s2");

      // now s1 is neither step-held nor the cursor: pruning destroys it, keeps the cursor s2
      report = pruner.prune(List.of(data), keepSender, contexts, false);
      assertThat(report.failed()).isEmpty();
      assertThat(report.destroyed()).extracting(n -> n.name()).containsExactly("s1");
      assertThat(src.snapshotNames(data)).containsExactly("s2", "s2b");

      // --- the next incremental from the surviving base ----------------------------------------
      Trees.write(src.mounted("data/b.bin"), 6, 150_000);
      java.nio.file.Files.delete(src.mounted("data/c.bin"));
      zfs.snapshot(List.of(data), "s3");
      r = push.run(config(), Replication.Progress.none());
      assertThat(r.ok()).as(r.toString()).isTrue();
      assertThat(r.of(data.toString()).stepsDone()).isEqualTo(2);
      assertThat(dst.versions(target))
          .filteredOn(v -> v.isSnapshot())
          .extracting(v -> v.name())
          .containsExactly("s1", "s2", "s2b", "s3");
      var mnt = dst.mountReadOnly(target);
      try {
        Trees.assertSameFiles(src.mounted("data"), mnt);
      } finally {
        FuseFixture.unmount(target);
      }
    }
  }
}
