package dev.zrepl4j.replication;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.replication.pruning.PruneRequest;
import dev.zrepl4j.replication.pruning.PruneRuleSpec;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.FilesystemVersion;
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

  /**
   * A filesystem {@code name} with snapshots s1, s2, s3, its root_fs {@code name-root}, job {@code
   * job}'s sender and a receiver whose zfs commands are recorded by verb in {@code verbs}, after a
   * first step to s1.
   */
  record Observed(
      DatasetPath fs,
      DatasetPath root,
      Sender sender,
      Receiver receiver,
      List<String> verbs,
      FsVersion s1,
      FsVersion s2,
      FsVersion s3) {
    static Observed make(String name, String job) throws IOException {
      var fs = src.path(name);
      zfs.create(fs, Map.of());
      var root = dst.path(name + "-root");
      zfs.create(root, Map.of("mountpoint", "none"));
      var sender = new Sender(zfs, p -> p.equals(fs), job, SenderOptions.PLAIN);
      var verbs = java.util.Collections.synchronizedList(new java.util.ArrayList<String>());
      var receiverZfs = zfs.observedBy((binary, verb, runtime) -> verbs.add(verb));
      var receiver = Receiver.localRoot(receiverZfs, root, job, ReceiverOptions.DEFAULTS);
      for (var s : List.of("s1", "s2", "s3")) {
        zfs.snapshot(List.of(fs), s);
      }
      var s1 = SenderReceiverIT.version(sender, fs, "s1");
      SenderReceiverIT.step(sender, receiver, fs, null, s1);
      return new Observed(
          fs,
          root,
          sender,
          receiver,
          verbs,
          s1,
          SenderReceiverIT.version(sender, fs, "s2"),
          SenderReceiverIT.version(sender, fs, "s3"));
    }
  }

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
  void theReceiversPruningUsesThePlansListingAndAfterAReceiveTheReceivesOwn() throws IOException {
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
        .as("after an incremental receive the pruning plans from the receive's own listing")
        .isZero();
    // and that listing has the received snapshot in: last_n 1 destroys s1
    var result = receiver.prune(new PruneRequest(List.of(PruneRuleSpec.lastN(1, "")), false));
    assertThat(result.destroyed()).isEqualTo(1);
    assertThat(snapshots(DatasetPath.parse(root + "/" + fs))).containsExactly("s2");
  }

  @Test
  void anIncrementalReceiveIntoATargetThePlanReadCostsTheReceiveAloneUntilItChanges()
      throws IOException {
    var o = Observed.make("d", "rl4");
    var fs = o.fs();
    var root = o.root();
    var sender = o.sender();
    var receiver = o.receiver();
    var verbs = o.verbs();
    var s1 = o.s1();
    var s2 = o.s2();
    var s3 = o.s3();

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

  /**
   * The confirmation of received snapshots reads only those and the snapshots that may carry this
   * job's last-received hold (from the plan's listing and this receiver's own confirmations), in
   * one {@code zfs get}: not every version of every target. A confirmation later in the same run
   * still moves the hold off the snapshot the earlier one held, and a hold of another tag stays.
   */
  @Test
  void aConfirmationReadsTheReceivedAndTheHeldSnapshotsOnlyAndMovesTheHold() throws IOException {
    var o = Observed.make("g", "rl7");
    var fs = o.fs();
    var root = o.root();
    var sender = o.sender();
    var receiver = o.receiver();
    var verbs = o.verbs();
    var s1 = o.s1();
    var s2 = o.s2();
    var s3 = o.s3();
    var target = DatasetPath.parse(root + "/" + fs);
    FuseFixture.run("zfs", "hold", "keep", target + "@s1");

    receiver.listVersionsOf(new FsListRequest(List.of(fs.toString()))); // the plan's listing
    for (var step : List.of(List.of(s1, s2), List.of(s2, s3))) {
      var from = step.get(0);
      var to = step.get(1);
      try (var stream =
          sender.send(
              new SendSpec(
                  fs.toString(), from, to, "", false, Protection.GUARANTEE_RESUMABILITY))) {
        receiver.receive(new ReceiveSpec(fs.toString(), from, to, false, true), stream);
      }
      verbs.clear();
      receiver.confirmReceivedAll(
          new ReceivedBaseBatch(List.of(new ReceivedBase(fs.toString(), to))));
      assertThat(verbs)
          .as("the confirmation of %s: a get of the snapshots, the hold, the release", to.name())
          .containsExactly("get", "hold", "release");
    }
    var refs = new java.util.HashMap<String, Long>();
    zfs.listVersions(List.of(target)).get(target).forEach(v -> refs.put(v.name(), v.userRefs()));
    assertThat(refs)
        .as("userrefs: s3 held by the job, s2 released, s1 keeps only the other tag")
        .containsExactlyInAnyOrderEntriesOf(Map.of("s1", 1L, "s2", 0L, "s3", 1L));
    FuseFixture.run("zfs", "release", "keep", target + "@s1");
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

    // an incremental receive leaves the filesystems below the root as they were, and lists its
    // target after itself: the next pruning still reads nothing
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
        .as("no command after an incremental receive: the receive's own listing is used")
        .isZero();

    // a full receive may make a filesystem: the next pruning reads the filesystems again
    var other = src.path("f2");
    zfs.create(other, Map.of());
    zfs.snapshot(List.of(other), "t1");
    var sender2 = new Sender(zfs, p -> p.equals(other), "rl6", SenderOptions.PLAIN);
    var t1 = SenderReceiverIT.version(sender2, other, "t1");
    try (var stream =
        sender2.send(
            new SendSpec(
                other.toString(), null, t1, "", false, Protection.GUARANTEE_RESUMABILITY))) {
      endpoint.receive(new ReceiveSpec(other.toString(), null, t1, false), stream, alice);
    }
    before = zfs.invocations();
    endpoint.prune(KEEP_ALL, alice);
    assertThat(zfs.invocations() - before)
        .as("the filesystem list and its placeholders; both targets' listings are the receives'")
        .isEqualTo(2);
  }

  /**
   * The sender's pruning plans from the plan's listing although the run's holds, releases and
   * cursor changed the filesystem since; what it destroys it checks in a new listing, so a snapshot
   * held since the listing is kept.
   */
  @Test
  void theSendersPruningIgnoresTheRunsOwnHoldsButNotTheirProtection() throws IOException {
    var fs = src.path("h");
    zfs.create(fs, Map.of());
    for (var s : List.of("s1", "s2", "s3")) {
      zfs.snapshot(List.of(fs), s);
    }
    var sender = new Sender(zfs, p -> p.equals(fs), "rl8", SenderOptions.PLAIN);
    sender.listVersionsOf(new FsListRequest(List.of(fs.toString())));
    // this process holds s1 after the listing (as a step hold or a cursor would be)
    zfs.hold(
        "keep",
        List.of(new FilesystemVersion.FullName(fs, FilesystemVersion.VersionType.SNAPSHOT, "s1")));

    long before = zfs.invocations();
    var result = sender.prune(new PruneRequest(List.of(PruneRuleSpec.lastN(1, "")), false));
    long commands = zfs.invocations() - before;

    assertThat(commands)
        .as("the filesystem list, the listing before the destroy, the destroy: no planning listing")
        .isEqualTo(3);
    assertThat(snapshots(fs)).as("s1 held since the listing stays").containsExactly("s1", "s3");
    assertThat(result.destroyed()).isEqualTo(1);
    FuseFixture.run("zfs", "release", "keep", fs + "@s1");
  }

  /**
   * A confirmed receive adds its snapshot to the plan's listing of the target, so the receiver's
   * pruning after a run of incremental receives lists nothing to plan, and plans with the new
   * snapshot in: last_n 2 after receiving s3 destroys s1.
   */
  @Test
  void theReceiversPruningAfterConfirmedReceivesPlansFromTheAmendedListing() throws IOException {
    var o = Observed.make("i", "rl9");
    var fs = o.fs();
    var root = o.root();
    var sender = o.sender();
    var receiver = o.receiver();
    var s1 = o.s1();
    var s2 = o.s2();
    var s3 = o.s3();
    SenderReceiverIT.step(sender, receiver, fs, s1, s2);
    var target = DatasetPath.parse(root + "/" + fs);

    // a run: the plan's readings, one incremental receive confirmed afterwards, the pruning
    receiver.listFilesystems();
    receiver.listVersionsOf(new FsListRequest(List.of(fs.toString())));
    try (var stream =
        sender.send(
            new SendSpec(fs.toString(), s2, s3, "", false, Protection.GUARANTEE_RESUMABILITY))) {
      receiver.receive(new ReceiveSpec(fs.toString(), s2, s3, false, true), stream);
    }
    receiver.confirmReceivedAll(
        new ReceivedBaseBatch(List.of(new ReceivedBase(fs.toString(), s3))));
    long before = zfs.invocations();
    var result = receiver.prune(new PruneRequest(List.of(PruneRuleSpec.lastN(2, "")), false));
    assertThat(zfs.invocations() - before)
        .as("the listing before the destroy and the destroy: nothing listed to plan")
        .isEqualTo(2);
    assertThat(result.destroyed()).isEqualTo(1);
    assertThat(snapshots(target)).containsExactly("s2", "s3");
  }
}
