package dev.zrepl4j.replication;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.replication.pruning.PruneRequest;
import dev.zrepl4j.replication.pruning.PruneRuleSpec;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.RealZfs;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A run's pruning plans from the listings its planning made while nothing this process ran changed
 * them (issue 17), on real zfs-fuse pools: a run that changed nothing lists each side once.
 */
class RecentListingsIT {
  static FuseFixture src;
  static FuseFixture dst;
  static RealZfs zfs;

  @BeforeAll
  static void pools() throws IOException {
    src = FuseFixture.create("rls", 128);
    dst = FuseFixture.create("rlr", 128);
    zfs = src.zfs;
  }

  @AfterAll
  static void destroy() throws IOException {
    try (var a = src;
        var b = dst) {
      // closes both
    }
  }

  private static final PruneRequest KEEP_ALL =
      new PruneRequest(List.of(PruneRuleSpec.regex(".*", false)), false);

  private static List<String> snapshots(DatasetPath fs) throws IOException {
    return zfs.listVersions(List.of(fs)).get(fs).stream()
        .filter(v -> v.isSnapshot())
        .map(v -> v.name())
        .toList();
  }

  @Test
  void theSendersPruningUsesThePlansListingUntilACommandOfThisProcessChangesTheFilesystem()
      throws IOException {
    var fs = src.path("a");
    zfs.create(fs, Map.of());
    for (var s : List.of("s1", "s2", "s3")) {
      zfs.snapshot(List.of(fs), s);
    }
    var sender = new Sender(zfs, p -> p.equals(fs), "rl", SenderOptions.PLAIN);
    sender.listVersionsOf(new FsListRequest(List.of(fs.toString())));

    long before = zfs.invocations();
    sender.prune(KEEP_ALL);
    assertThat(zfs.invocations() - before)
        .as("the filesystem list only: the plan's listing is used")
        .isEqualTo(1);

    // a snapshot made by this process is a change: the next pruning lists again
    zfs.snapshot(List.of(fs), "s4");
    before = zfs.invocations();
    sender.prune(KEEP_ALL);
    assertThat(zfs.invocations() - before).as("the filesystem list and a listing").isEqualTo(2);
  }

  @Test
  void aPlanFromAnEarlierListingDestroysOnlyWhatItSawAndWhatIsStillThere() throws IOException {
    var fs = src.path("b");
    zfs.create(fs, Map.of());
    for (var s : List.of("s1", "s2", "s3", "s4")) {
      zfs.snapshot(List.of(fs), s);
    }
    var sender = new Sender(zfs, p -> p.equals(fs), "rl2", SenderOptions.PLAIN);
    sender.listVersionsOf(new FsListRequest(List.of(fs.toString())));
    // changes by someone else are not seen: a new snapshot, and one of the listed destroyed
    FuseFixture.run("zfs", "snapshot", fs + "@s5");
    FuseFixture.run("zfs", "destroy", fs + "@s2");

    var result = sender.prune(new PruneRequest(List.of(PruneRuleSpec.lastN(1, "")), false));

    // planned from s1..s4: keep s4, destroy s1, s2, s3; s2 was gone when listed again before the
    // destroy. s5, unseen, stays for the next run's pruning
    assertThat(snapshots(fs)).containsExactly("s4", "s5");
    assertThat(result.destroyed()).isEqualTo(2);
    assertThat(result.failures()).isEmpty();

    // the destroys were this process's changes: the next pruning lists and sees s5
    sender.prune(new PruneRequest(List.of(PruneRuleSpec.lastN(1, "")), false));
    assertThat(snapshots(fs)).containsExactly("s5");
  }

  @Test
  void theReceiversPruningUsesThePlansListingUntilAReceive() throws IOException {
    var fs = src.path("c");
    zfs.create(fs, Map.of());
    var root = dst.path("c-root");
    zfs.create(root, Map.of("mountpoint", "none"));
    var sender = new Sender(zfs, p -> p.equals(fs), "rl3", SenderOptions.PLAIN);
    var receiver = Receiver.localRoot(zfs, root, "rl3", ReceiverOptions.DEFAULTS);
    zfs.snapshot(List.of(fs), "s1");
    SenderReceiverIT.step(sender, receiver, fs, null, SenderReceiverIT.version(sender, fs, "s1"));
    receiver.listVersionsOf(new FsListRequest(List.of(fs.toString())));

    long before = zfs.invocations();
    receiver.prune(KEEP_ALL);
    long unchanged = zfs.invocations() - before;

    zfs.snapshot(List.of(fs), "s2");
    SenderReceiverIT.step(
        sender,
        receiver,
        fs,
        SenderReceiverIT.version(sender, fs, "s1"),
        SenderReceiverIT.version(sender, fs, "s2"));
    before = zfs.invocations();
    receiver.prune(KEEP_ALL);
    long afterReceive = zfs.invocations() - before;

    assertThat(unchanged).as("the filesystem list and its placeholders only").isEqualTo(2);
    assertThat(afterReceive)
        .as("after a receive the pruning lists the target again")
        .isEqualTo(unchanged + 1);
  }

  @Test
  void anIncrementalReceiveIntoATargetThePlanReadCostsTheReceiveAloneUntilItChanges()
      throws IOException {
    var fs = src.path("d");
    zfs.create(fs, Map.of());
    var root = dst.path("d-root");
    zfs.create(root, Map.of("mountpoint", "none"));
    var sender = new Sender(zfs, p -> p.equals(fs), "rl4", SenderOptions.PLAIN);
    var verbs = java.util.Collections.synchronizedList(new java.util.ArrayList<String>());
    var receiverZfs = zfs.observedBy((binary, verb, runtime) -> verbs.add(verb));
    var receiver = Receiver.localRoot(receiverZfs, root, "rl4", ReceiverOptions.DEFAULTS);
    for (var s : List.of("s1", "s2", "s3")) {
      zfs.snapshot(List.of(fs), s);
    }
    var s1 = SenderReceiverIT.version(sender, fs, "s1");
    var s2 = SenderReceiverIT.version(sender, fs, "s2");
    var s3 = SenderReceiverIT.version(sender, fs, "s3");
    SenderReceiverIT.step(sender, receiver, fs, null, s1);

    receiver.listFilesystems(); // the plan's reading
    verbs.clear();
    try (var stream =
        sender.send(
            new SendSpec(fs.toString(), s1, s2, "", false, Protection.GUARANTEE_RESUMABILITY))) {
      receiver.receive(new ReceiveSpec(fs.toString(), s1, s2, false, true), stream);
    }
    assertThat(verbs).as("the receiver's commands").containsExactly("receive");

    // that receive changed the target: the next one reads its chain again
    verbs.clear();
    try (var stream =
        sender.send(
            new SendSpec(fs.toString(), s2, s3, "", false, Protection.GUARANTEE_RESUMABILITY))) {
      receiver.receive(new ReceiveSpec(fs.toString(), s2, s3, false, true), stream);
    }
    assertThat(verbs).as("the receiver's commands").containsExactly("get", "receive");
    assertThat(snapshots(DatasetPath.parse(root + "/" + fs))).containsExactly("s1", "s2", "s3");
  }

  @Test
  void completionsAfterStepHoldsPlacedAheadUseThePlansListingWithThoseHoldsIn() throws IOException {
    var parent = src.path("e");
    zfs.create(parent, Map.of());
    var root = dst.path("e-root");
    zfs.create(root, Map.of("mountpoint", "none"));
    var all = new java.util.ArrayList<DatasetPath>();
    for (int i = 0; i < 3; i++) {
      var fs = parent.child("f" + i);
      zfs.create(fs, Map.of());
      all.add(fs);
    }
    zfs.snapshot(all, "s1");
    var sender = new Sender(zfs, p -> p.hasPrefix(parent), "rl5", SenderOptions.PLAIN);
    var receiver = Receiver.localRoot(zfs, root, "rl5", ReceiverOptions.DEFAULTS);
    for (var fs : all) {
      SenderReceiverIT.step(sender, receiver, fs, null, SenderReceiverIT.version(sender, fs, "s1"));
    }
    zfs.snapshot(all, "s2");
    zfs.snapshot(all, "s3");
    zfs.snapshot(all, "s4");
    var names = all.stream().map(DatasetPath::toString).toList();

    // a run: the plan's listing, the step holds ahead (three steps each), the sends, one
    // completion per filesystem for its newest step
    var listed = sender.listVersionsOf(new FsListRequest(names));
    var specs = new java.util.ArrayList<SendSpec>();
    var done = new java.util.ArrayList<SendCompleted>();
    for (var l : listed) {
      FsVersion s1 = null;
      FsVersion s2 = null;
      FsVersion s3 = null;
      FsVersion s4 = null;
      for (var v : l.versions()) {
        switch (v.name()) {
          case "s1" -> s1 = v;
          case "s2" -> s2 = v;
          case "s3" -> s3 = v;
          case "s4" -> s4 = v;
          default -> {}
        }
      }
      var fs = l.filesystem();
      specs.add(new SendSpec(fs, s1, s2, "", false, Protection.GUARANTEE_RESUMABILITY));
      specs.add(new SendSpec(fs, s2, s3, "", false, Protection.GUARANTEE_RESUMABILITY));
      specs.add(new SendSpec(fs, s3, s4, "", false, Protection.GUARANTEE_RESUMABILITY));
      done.add(new SendCompleted(fs, s3, s4));
    }
    sender.protectAll(new SendSpecBatch(specs));
    for (var spec : specs) {
      try (var stream = sender.send(spec)) {
        receiver.receive(
            new ReceiveSpec(spec.filesystem(), spec.from(), spec.to(), false, true), stream);
      }
    }
    long before = zfs.invocations();
    sender.sendCompletedAll(new SendCompletedBatch(done));
    assertThat(zfs.invocations() - before)
        .as("the cursor hold, the step holds' release, the old cursors' release: no listing")
        .isEqualTo(3);
    for (var fs : all) {
      // s2's step hold (placed ahead, so not in the plan's listing, and named by no completion)
      // was released all the same
      assertThat(SenderReceiverIT.userrefs(fs + "@s1")).as("%s@s1", fs).isEqualTo("0");
      assertThat(SenderReceiverIT.userrefs(fs + "@s2")).as("%s@s2", fs).isEqualTo("0");
      assertThat(SenderReceiverIT.userrefs(fs + "@s3")).as("%s@s3", fs).isEqualTo("0");
      assertThat(SenderReceiverIT.userrefs(fs + "@s4"))
          .as("%s@s4: the cursor alone", fs)
          .isEqualTo("1");
    }
  }

  @Test
  void aSinksEndpointKeepsOneReceiverPerClientSoThatItsPruningUsesThePlansReadings()
      throws IOException {
    var fs = src.path("f");
    zfs.create(fs, Map.of());
    var sinkRoot = dst.path("f-sink");
    zfs.create(sinkRoot, Map.of("mountpoint", "none"));
    var sender = new Sender(zfs, p -> p.equals(fs), "rl6", SenderOptions.PLAIN);
    var endpoint =
        new ReceiverEndpoint(zfs, sinkRoot, Receiver.Mode.SINK, "rl6", ReceiverOptions.DEFAULTS);
    var alice = new dev.zrepl4j.rpc.Caller("alice", "test");
    zfs.snapshot(List.of(fs), "s1");
    var s1 = SenderReceiverIT.version(sender, fs, "s1");
    try (var stream =
        sender.send(
            new SendSpec(fs.toString(), null, s1, "", false, Protection.GUARANTEE_RESUMABILITY))) {
      endpoint.receive(new ReceiveSpec(fs.toString(), null, s1, false), stream, alice);
    }

    // a run's calls, each through the endpoint as the RPC server makes them
    endpoint.listFilesystems(alice);
    endpoint.listVersionsOf(new FsListRequest(List.of(fs.toString())), alice);
    long before = zfs.invocations();
    endpoint.prune(KEEP_ALL, alice);
    assertThat(zfs.invocations() - before)
        .as("no command: the plan's readings of filesystems and versions are used")
        .isZero();

    // a receive changes what is below the root: the next pruning reads both again
    zfs.snapshot(List.of(fs), "s2");
    var s2 = SenderReceiverIT.version(sender, fs, "s2");
    try (var stream =
        sender.send(
            new SendSpec(fs.toString(), s1, s2, "", false, Protection.GUARANTEE_RESUMABILITY))) {
      endpoint.receive(new ReceiveSpec(fs.toString(), s1, s2, false), stream, alice);
    }
    before = zfs.invocations();
    endpoint.prune(KEEP_ALL, alice);
    assertThat(zfs.invocations() - before)
        .as("the filesystem list, its placeholders and a listing")
        .isEqualTo(3);
  }
}
