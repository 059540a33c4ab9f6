package dev.zrepl4j.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.replication.filter.DatasetFilter;
import dev.zrepl4j.replication.pruning.PruneRequest;
import dev.zrepl4j.replication.pruning.PruneRule;
import dev.zrepl4j.replication.pruning.PruneRuleSpec;
import dev.zrepl4j.rpc.ErrorCode;
import dev.zrepl4j.rpc.RemoteException;
import dev.zrepl4j.rpc.RpcOptions;
import dev.zrepl4j.rpc.RpcServer;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.FilesystemVersion.FullName;
import dev.zrepl4j.zfs.FilesystemVersion.VersionType;
import dev.zrepl4j.zfs.RealZfs;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The active side prunes both sides through the contract it replicates with ({@link
 * SenderApi#prune}, {@link ReceiverApi#prune}), on real zfs-fuse pools: push over TCP to a sink
 * with two client identities, pull from a source over TCP, and local in-process. Whatever the
 * rules, the newest common snapshot survives on both sides and the next incremental works; a dry
 * run destroys nothing; a client prunes only its own subtree of the sink.
 */
@Timeout(240)
class PruneOverContractIT {
  private static final String JOB = "push";
  private FuseFixture src;
  private FuseFixture dst;
  private RealZfs zfs;
  private DatasetPath sinkRoot;
  private DatasetPath data;
  private final List<AutoCloseable> closeLater = new ArrayList<>();

  @BeforeEach
  void pools() throws IOException {
    src = FuseFixture.create("prsrc", 192);
    dst = FuseFixture.create("prdst", 192);
    zfs = src.zfs;
    sinkRoot = dst.path("sink");
    zfs.create(sinkRoot, Map.of("mountpoint", "none"));
    data = src.path("data");
    zfs.create(data, Map.of());
    for (int i = 1; i <= 6; i++) {
      snapshot("s" + i);
    }
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

  private void snapshot(String name) throws IOException {
    Trees.write(src.mounted("data/" + name + ".bin"), name.hashCode(), 50_000);
    zfs.snapshot(List.of(data), name);
  }

  private static Replication.Config config(String job) {
    return Replication.Config.defaults(job)
        .withInitialPolicy(InitialPolicy.ALL)
        .withRetries(3, Duration.ofMillis(500));
  }

  private static void replicate(Replication.Connector c, String job) throws Exception {
    var r = c.run(config(job), Replication.Progress.none());
    assertThat(r.ok()).as(r.toString()).isTrue();
  }

  private int listen(RpcServer server, String identity) throws IOException {
    var l = server.listenTcp(new InetSocketAddress("127.0.0.1", 0), a -> Optional.of(identity));
    closeLater.add(l);
    return l.port();
  }

  private static Dialer dial(int port) {
    return Dialer.tcp("127.0.0.1", port, Duration.ofSeconds(5), RpcOptions.defaults());
  }

  private static List<String> names(FuseFixture fx, DatasetPath fs) throws Exception {
    return fx.snapshotNames(fs);
  }

  private static PruneRequest request(boolean dryRun, PruneRule... rules) {
    return PruneRequest.of(List.of(rules), dryRun);
  }

  private static PruneRule lastN(int n) {
    return new PruneRule.LastN(n, Pattern.compile(""));
  }

  /** A rule set that on its own would destroy every snapshot. */
  private static final PruneRule NOTHING = new PruneRule.Regex(Pattern.compile("^nomatch$"), false);

  @Test
  void pushPrunesTheSinkOverTcpAndItsOwnSenderAndTheNextIncrementalWorks() throws Exception {
    var sink = new RpcServer(RpcOptions.defaults());
    closeLater.add(sink);
    sink.register(
        "receiver",
        new ReceiverEndpoint(zfs, sinkRoot, Receiver.Mode.SINK, JOB, ReceiverOptions.DEFAULTS));
    int port1 = listen(sink, "client1");
    int port2 = listen(sink, "client2");
    var filter = DatasetFilter.of(Map.of(data.toString(), true));
    var sender = new Sender(zfs, filter, JOB, SenderOptions.PLAIN);
    var push = new Push(sender, JOB, dial(port1));
    closeLater.add(push);
    // the other client: its own job on the same source, its own subtree on the sink
    var push2 =
        new Push(new Sender(zfs, filter, "other", SenderOptions.PLAIN), "other", dial(port2));
    closeLater.add(push2);
    replicate(push2, "other");
    replicate(push, JOB);
    var target = sinkRoot.child("client1").extend(data);
    var other = sinkRoot.child("client2").extend(data);
    var all = List.of("s1", "s2", "s3", "s4", "s5", "s6");
    assertThat(names(dst, target)).isEqualTo(all);
    assertThat(names(dst, other)).isEqualTo(all);
    // a snapshot on a placeholder of client1's subtree: prune never looks at placeholders
    var placeholder = sinkRoot.child("client1").extend(src.root());
    zfs.snapshot(List.of(placeholder), "manual");
    zfs.snapshot(List.of(data), "s7"); // not replicated yet

    try (var c = push.connect()) {
      // --- dry run: lines for every snapshot, nothing destroyed ---------------------------------
      var dry = c.receiver().prune(request(true, lastN(2)));
      assertThat(dry.destroyed()).isZero();
      assertThat(dry.failures()).isEmpty();
      assertThat(dry.lines())
          .containsExactly(
              "destroy " + target + "@s1: no rule keeps it",
              "destroy " + target + "@s2: no rule keeps it",
              "destroy " + target + "@s3: no rule keeps it",
              "destroy " + target + "@s4: no rule keeps it",
              "keep " + target + "@s5: last_n(count=2)",
              "keep " + target + "@s6: last_n(count=2)");
      var senderDry = c.sender().prune(request(true, lastN(1), new PruneRule.NotReplicated(true)));
      assertThat(senderDry.destroyed()).isZero();
      assertThat(senderDry.lines()).hasSize(7);
      assertThat(names(dst, target)).isEqualTo(all);
      assertThat(names(src, data)).hasSize(7);

      // --- an invalid rule is refused before anything is listed or destroyed -------------------
      var bad =
          new PruneRequest(List.of(PruneRuleSpec.lastN(2, ""), PruneRuleSpec.lastN(-1, "")), false);
      assertThatThrownBy(() -> c.receiver().prune(bad))
          .isInstanceOfSatisfying(
              RemoteException.class,
              e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT))
          .hasMessageContaining("rules[1]: prune rule last_n: count must be >= 0, got -1");
      assertThat(names(dst, target)).isEqualTo(all);

      // --- keep_receiver last_n(2), keep_sender last_n(1) + not_replicated ----------------------
      var rr = c.receiver().prune(request(false, lastN(2)));
      assertThat(rr.failures()).isEmpty();
      assertThat(rr.destroyed()).isEqualTo(4);
      assertThat(names(dst, target)).containsExactly("s5", "s6");
      assertThat(names(dst, other)).as("client2's tree is not client1's to prune").isEqualTo(all);
      assertThat(names(dst, placeholder)).containsExactly("manual");

      var sr = c.sender().prune(request(false, lastN(1), new PruneRule.NotReplicated(true)));
      assertThat(sr.failures()).isEmpty();
      assertThat(sr.destroyed()).isEqualTo(5);
      assertThat(sr.lines())
          .contains(
              "keep " + data + "@s6: not_replicated(keep_snapshot_at_cursor=true)",
              "keep "
                  + data
                  + "@s7: last_n(count=1), not_replicated(keep_snapshot_at_cursor=true)");
      assertThat(names(src, data)).containsExactly("s6", "s7");

      // --- rules that keep nothing: the newest common snapshot s6 survives on both sides -------
      rr = c.receiver().prune(request(false, NOTHING));
      assertThat(rr.lines())
          .containsExactly(
              "destroy " + target + "@s5: no rule keeps it",
              "keep " + target + "@s6: protected, held (userrefs=1)");
      assertThat(names(dst, target)).containsExactly("s6");
      // without the last-received hold the receiver still protects its newest snapshot
      zfs.release(
          ZreplNames.lastReceivedHold(JOB),
          List.of(new FullName(target, VersionType.SNAPSHOT, "s6")));
      rr = c.receiver().prune(request(false, NOTHING));
      assertThat(rr.destroyed()).isZero();
      assertThat(rr.lines())
          .containsExactly(
              "keep " + target + "@s6: protected, replication base (cursor or last received)");
      sr = c.sender().prune(request(false, NOTHING));
      assertThat(sr.failures()).isEmpty();
      assertThat(sr.lines()).contains("destroy " + data + "@s7: no rule keeps it");
      assertThat(sr.lines()).anyMatch(l -> l.startsWith("keep " + data + "@s6: protected, held"));
      assertThat(names(src, data)).containsExactly("s6");
      assertThat(names(dst, other)).isEqualTo(all);
      assertThat(names(dst, placeholder)).containsExactly("manual");
    }

    // --- the next incremental from the surviving base ------------------------------------------
    snapshot("s8");
    var r = push.run(config(JOB), Replication.Progress.none());
    assertThat(r.ok()).as(r.toString()).isTrue();
    assertThat(r.of(data.toString()).stepsDone()).isEqualTo(1);
    assertThat(names(dst, target)).containsExactly("s6", "s8");
    var mnt = dst.mountReadOnly(target);
    try {
      Trees.assertSameFiles(src.mounted("data"), mnt);
    } finally {
      FuseFixture.unmount(target);
    }

    // --- client2 prunes its own tree, and only it -----------------------------------------------
    try (var c2 = push2.connect()) {
      var r2 = c2.receiver().prune(request(false, NOTHING));
      assertThat(r2.failures()).isEmpty();
      assertThat(r2.lines()).allMatch(l -> l.contains(" " + sinkRoot.child("client2") + "/"));
      assertThat(names(dst, other)).containsExactly("s6");
    }
    assertThat(names(dst, target)).containsExactly("s6", "s8");

    // --- an identity that is no dataset name component is refused, nothing is pruned -----------
    try (var evil = new Push(sender, JOB, dial(listen(sink, "..")));
        var c3 = evil.connect()) {
      assertThatThrownBy(() -> c3.receiver().prune(request(false, NOTHING)))
          .isInstanceOfSatisfying(
              RemoteException.class,
              e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT))
          .hasMessageContaining("is not a valid dataset name component");
    }
    assertThat(names(dst, target)).containsExactly("s6", "s8");
    assertThat(names(dst, other)).containsExactly("s6");
  }

  @Test
  void pullPrunesTheSourceOverTcpAndItsOwnReceiver() throws Exception {
    var source = new RpcServer(RpcOptions.defaults());
    closeLater.add(source);
    var filter = DatasetFilter.of(Map.of(data.toString(), true));
    source.register("sender", new Sender(zfs, filter, "pull", SenderOptions.PLAIN));
    int port = listen(source, "puller");
    var pull =
        new Pull(
            dial(port),
            Receiver.localRoot(zfs, sinkRoot, "pull", ReceiverOptions.DEFAULTS),
            "pull");
    closeLater.add(pull);
    replicate(pull, "pull");
    var target = sinkRoot.extend(data);
    try (var c = pull.connect()) {
      var sr = c.sender().prune(request(false, new PruneRule.NotReplicated(false), NOTHING));
      assertThat(sr.failures()).isEmpty();
      assertThat(sr.destroyed()).isEqualTo(5);
      assertThat(names(src, data)).containsExactly("s6");
      var rr = c.receiver().prune(request(false, lastN(3)));
      assertThat(rr.destroyed()).isEqualTo(3);
      assertThat(names(dst, target)).containsExactly("s4", "s5", "s6");
    }
    snapshot("s7");
    replicate(pull, "pull");
    assertThat(names(dst, target)).containsExactly("s4", "s5", "s6", "s7");
  }

  @Test
  void localPrunesBothSidesInProcess() throws Exception {
    var filter = DatasetFilter.of(Map.of(data.toString(), true));
    var local =
        new Local(
            new Sender(zfs, filter, "local", SenderOptions.PLAIN),
            Receiver.localRoot(zfs, sinkRoot, "local", ReceiverOptions.DEFAULTS),
            "local");
    closeLater.add(local);
    replicate(local, "local");
    var target = sinkRoot.extend(data);
    try (var c = local.connect()) {
      var dry = c.receiver().prune(request(true, NOTHING));
      assertThat(dry.destroyed()).isZero();
      assertThat(dry.lines()).hasSize(6);
      assertThat(names(dst, target)).hasSize(6);
      var rr = c.receiver().prune(request(false, NOTHING));
      assertThat(rr.destroyed()).isEqualTo(5);
      var sr = c.sender().prune(request(false, NOTHING));
      assertThat(sr.destroyed()).isEqualTo(5);
    }
    assertThat(names(src, data)).containsExactly("s6");
    assertThat(names(dst, target)).containsExactly("s6");
    snapshot("s7");
    replicate(local, "local");
    assertThat(names(dst, target)).containsExactly("s6", "s7");
  }

  /**
   * Pruning the sender costs the same few zfs commands for one filesystem or five when no rule asks
   * where the replication cursor is: the executor's one listing serves every filesystem, and on
   * zfs-fuse the cursor (a hold) is kept as a held snapshot without the trial hold per filesystem
   * that finds it (before: a listing and a trial hold per filesystem).
   */
  @Test
  void pruningTheSenderWithoutNotReplicatedCostsNoCommandPerFilesystem() throws Exception {
    var filter = DatasetFilter.of(Map.of(data + "<", true));
    for (int i = 0; i < 4; i++) {
      var fs = data.child("c" + i);
      zfs.create(fs, Map.of());
      zfs.snapshot(List.of(fs), "s1");
    }
    var sender = new Sender(zfs, filter, "local", SenderOptions.PLAIN);
    var local =
        new Local(
            sender, Receiver.localRoot(zfs, sinkRoot, "local", ReceiverOptions.DEFAULTS), "local");
    closeLater.add(local);
    replicate(local, "local");
    assertThat(userrefs(data + "@s6")).as("the cursor hold").isEqualTo("1");
    long before = zfs.invocations();
    var dry = sender.prune(request(true, NOTHING));
    long commands = zfs.invocations() - before;
    // 5 filesystems; everything but the held cursor snapshots of each would go
    assertThat(dry.lines()).hasSize(6 + 4);
    assertThat(commands)
        .as("zfs commands of one sender prune of 5 filesystems")
        .isLessThanOrEqualTo(3);
    // with not_replicated the cursor is looked for, and the snapshots after it are kept
    var nr = sender.prune(request(true, new PruneRule.NotReplicated(true)));
    assertThat(nr.destroyed()).isZero();
    assertThat(names(src, data)).hasSize(6);
  }

  private static String userrefs(String snapshot) throws IOException {
    return FuseFixture.run("zfs", "get", "-H", "-o", "value", "userrefs", snapshot).strip();
  }
}
