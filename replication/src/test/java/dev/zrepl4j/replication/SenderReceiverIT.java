package dev.zrepl4j.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.RealZfs;
import dev.zrepl4j.zfs.Zfs;
import dev.zrepl4j.zfs.ZfsException;
import java.io.IOException;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Sender and Receiver driven directly, in-process, on real zfs-fuse pools. */
class SenderReceiverIT {
  static FuseFixture src;
  static FuseFixture dst;
  static RealZfs zfs;

  @BeforeAll
  static void pools() throws IOException {
    src = FuseFixture.create("snd", 256);
    dst = FuseFixture.create("rcv", 256);
    zfs = src.zfs;
  }

  @AfterAll
  static void destroy() throws IOException {
    try (var a = src;
        var b = dst) {
      // closes both
    }
  }

  static FsVersion version(Sender sender, DatasetPath fs, String name) throws IOException {
    for (var v : sender.listVersions(new FsRequest(fs.toString()))) {
      if (v.name().equals(name)) {
        return v;
      }
    }
    throw new AssertionError(fs + "@" + name + " not listed");
  }

  /** One step: send, receive, completed. */
  static ReceiveResult step(
      Sender sender, ReceiverApi receiver, DatasetPath fs, @Nullable FsVersion from, FsVersion to)
      throws IOException {
    var spec = new SendSpec(fs.toString(), from, to, "", false, Protection.GUARANTEE_RESUMABILITY);
    ReceiveResult r;
    try (var stream = sender.send(spec)) {
      r = receiver.receive(new ReceiveSpec(fs.toString(), from, to, false), stream);
    }
    sender.sendCompleted(new SendCompleted(fs.toString(), from, to));
    return r;
  }

  /** A filesystem {@code name}, its root_fs {@code name-root}, and job {@code job}'s endpoints. */
  record Ends(DatasetPath fs, DatasetPath root, Sender sender, Receiver receiver) {}

  static Ends ends(String name, String job) throws IOException {
    var fs = src.path(name);
    zfs.create(fs, Map.of());
    var root = dst.path(name + "-root");
    zfs.create(root, Map.of("mountpoint", "none"));
    return new Ends(
        fs,
        root,
        new Sender(zfs, p -> p.equals(fs), job, SenderOptions.PLAIN),
        Receiver.localRoot(zfs, root, job, ReceiverOptions.DEFAULTS));
  }

  /**
   * Five filesystems (a parent and four children) sent at s1 and then s1 -> s2, with step holds.
   */
  private record TwoSteps(Sender sender, List<DatasetPath> all, List<SendCompleted> second) {}

  private TwoSteps twoStepsEach(String name, String job) throws IOException {
    var parent = src.path(name);
    zfs.create(parent, Map.of());
    var recvRoot = dst.path(name + "-root");
    zfs.create(recvRoot, Map.of("mountpoint", "none"));
    var sender = new Sender(zfs, p -> p.hasPrefix(parent), job, SenderOptions.PLAIN);
    var receiver = Receiver.localRoot(zfs, recvRoot, job, ReceiverOptions.DEFAULTS);
    var all = new java.util.ArrayList<DatasetPath>();
    for (int i = 0; i < 4; i++) {
      var fs = parent.child("f" + i);
      zfs.create(fs, Map.of());
      all.add(fs);
    }
    zfs.snapshot(List.of(parent), "s1");
    zfs.snapshot(all, "s1");
    zfs.snapshot(List.of(parent), "s2");
    zfs.snapshot(all, "s2");
    all.addFirst(parent);
    var second = new java.util.ArrayList<SendCompleted>();
    for (var fs : all) {
      var s1 = version(sender, fs, "s1");
      var s2 = version(sender, fs, "s2");
      for (var pair : List.of(List.of(s1), List.of(s1, s2))) {
        var from = pair.size() == 2 ? pair.get(0) : null;
        var to = pair.getLast();
        var spec =
            new SendSpec(fs.toString(), from, to, "", false, Protection.GUARANTEE_RESUMABILITY);
        try (var stream = sender.send(spec)) {
          receiver.receive(new ReceiveSpec(fs.toString(), from, to, false), stream);
        }
        if (from != null) {
          second.add(new SendCompleted(fs.toString(), from, to));
        }
      }
    }
    return new TwoSteps(sender, List.copyOf(all), List.copyOf(second));
  }

  @Test
  void completingSeveralFilesystemsInOneCallCostsOneCommandPerTagAndARefusalChangesNothing()
      throws IOException {
    var t = twoStepsEach("many", "jobm");
    var sender = t.sender();
    var all = t.all();
    var second = t.second();
    var parent = all.getFirst();
    // the steps' holds are in place (one tag: s1's two steps share it)
    assertThat(userrefs(parent.child("f3") + "@s1")).isEqualTo("1");
    assertThat(userrefs(parent.child("f3") + "@s2")).isEqualTo("1");
    // a call naming one version that is not there (a stale guid) is refused as a whole
    var bad = new java.util.ArrayList<>(second);
    var last = bad.removeLast();
    bad.add(new SendCompleted(last.filesystem(), last.from(), otherGuid(last.to())));
    assertThatThrownBy(() -> sender.sendCompletedAll(new SendCompletedBatch(bad)))
        .isInstanceOf(dev.zrepl4j.rpc.RemoteException.class);
    for (var fs : all) {
      assertThat(userrefs(fs + "@s2")).as("nothing changed on %s", fs).isEqualTo("1");
    }
    long before = zfs.invocations();
    sender.sendCompletedAll(new SendCompletedBatch(second));
    long commands = zfs.invocations() - before;
    // one listing, the cursor holds, the step holds' release, the older cursors' release
    assertThat(commands).as("zfs commands to complete 5 filesystems").isLessThanOrEqualTo(4);
    for (var fs : all) {
      assertThat(userrefs(fs + "@s1")).as("%s@s1: steps and cursor released", fs).isEqualTo("0");
      assertThat(userrefs(fs + "@s2")).as("%s@s2: the cursor alone", fs).isEqualTo("1");
      assertThat(sender.replicationCursor(new FsRequest(fs.toString())))
          .extracting(FsVersion::name)
          .containsExactly("s2");
    }
    // completing again changes nothing; a filesystem twice in one call is refused
    sender.sendCompletedAll(new SendCompletedBatch(second));
    assertThat(userrefs(parent + "@s2")).isEqualTo("1");
    assertThatThrownBy(
            () ->
                sender.sendCompletedAll(
                    new SendCompletedBatch(List.of(second.getFirst(), second.getFirst()))))
        .hasMessageContaining("completed twice in one call");
  }

  @Test
  void cursorsMovedAheadStandBesideTheOldOnesUntilTheCompletionWhichPlacesNoneAgain()
      throws IOException {
    var t = twoStepsEach("cursors", "jobc");
    var sender = t.sender();
    // a call naming one version that is not there is refused as a whole, nothing placed
    var bad = new java.util.ArrayList<>(t.second());
    var last = bad.removeLast();
    bad.add(new SendCompleted(last.filesystem(), last.from(), otherGuid(last.to())));
    assertThatThrownBy(() -> sender.holdCursorsAll(new SendCompletedBatch(bad)))
        .isInstanceOf(dev.zrepl4j.rpc.RemoteException.class);
    for (var fs : t.all()) {
      assertThat(userrefs(fs + "@s2")).as("only the step hold on %s", fs).isEqualTo("1");
    }
    sender.holdCursorsAll(new SendCompletedBatch(t.second()));
    for (var fs : t.all()) {
      assertThat(userrefs(fs + "@s1")).as("%s@s1: its step hold stays", fs).isEqualTo("1");
      assertThat(userrefs(fs + "@s2")).as("%s@s2: step hold and cursor", fs).isEqualTo("2");
    }
    long before = zfs.invocations();
    sender.sendCompletedAll(new SendCompletedBatch(t.second()));
    // one listing, the step holds' release, the older cursors' release: no cursor hold
    assertThat(zfs.invocations() - before)
        .as("zfs commands to complete 5 filesystems after their cursors")
        .isLessThanOrEqualTo(3);
    for (var fs : t.all()) {
      assertThat(userrefs(fs + "@s1")).as("%s@s1", fs).isEqualTo("0");
      assertThat(userrefs(fs + "@s2")).as("%s@s2: the cursor alone", fs).isEqualTo("1");
      assertThat(sender.replicationCursor(new FsRequest(fs.toString())))
          .extracting(FsVersion::name)
          .containsExactly("s2");
    }
  }

  /** Four filesystems received at s1 (held) and then at s2 with holdLater (s2 not held yet). */
  private record HeldLater(
      Sender sender,
      Receiver receiver,
      DatasetPath recvRoot,
      List<DatasetPath> all,
      List<ReceivedBase> bases) {}

  private HeldLater receivedWithHoldLater(String name, String job) throws IOException {
    var parent = src.path(name);
    zfs.create(parent, Map.of());
    var recvRoot = dst.path(name + "-root");
    zfs.create(recvRoot, Map.of("mountpoint", "none"));
    var sender = new Sender(zfs, p -> p.hasPrefix(parent), job, SenderOptions.PLAIN);
    var receiver = Receiver.localRoot(zfs, recvRoot, job, ReceiverOptions.DEFAULTS);
    var all = new java.util.ArrayList<DatasetPath>(List.of(parent));
    for (int i = 0; i < 3; i++) {
      all.add(parent.child("f" + i));
      zfs.create(all.getLast(), Map.of());
    }
    zfs.snapshot(all, "s1");
    zfs.snapshot(all, "s2");
    var bases = new java.util.ArrayList<ReceivedBase>();
    for (var fs : all) {
      var s1 = version(sender, fs, "s1");
      var s2 = version(sender, fs, "s2");
      step(sender, receiver, fs, null, s1); // holds as before: on s1
      var spec = new SendSpec(fs.toString(), s1, s2, "", false, Protection.GUARANTEE_NOTHING);
      try (var stream = sender.send(spec)) {
        receiver.receive(new ReceiveSpec(fs.toString(), s1, s2, false, true), stream);
      }
      bases.add(new ReceivedBase(fs.toString(), s2));
    }
    var copy = recvRoot.extend(parent);
    assertThat(userrefs(copy + "@s1")).as("the hold stayed").isEqualTo("1");
    assertThat(userrefs(copy + "@s2")).isEqualTo("0");
    return new HeldLater(sender, receiver, recvRoot, List.copyOf(all), List.copyOf(bases));
  }

  /** {@code bases} with the last one's snapshot replaced by one of another guid. */
  private static List<ReceivedBase> withAWrongGuid(List<ReceivedBase> bases) {
    var bad = new java.util.ArrayList<>(bases.subList(0, bases.size() - 1));
    bad.add(new ReceivedBase(bases.getLast().filesystem(), otherGuid(bases.getLast().snapshot())));
    return bad;
  }

  @Test
  void receivesThatHoldLaterLeaveTheLastReceivedHoldForOneBatchedConfirmation() throws IOException {
    var h = receivedWithHoldLater("later", "jobl");
    var receiver = h.receiver();
    var copy = h.recvRoot().extend(h.all().getFirst());
    // a base that is not there refuses the call; nothing moves
    var bad = withAWrongGuid(h.bases());
    assertThatThrownBy(() -> receiver.confirmReceivedAll(new ReceivedBaseBatch(bad)))
        .isInstanceOf(dev.zrepl4j.rpc.RemoteException.class)
        .hasMessageContaining("no snapshot of guid");
    assertThat(userrefs(copy + "@s2")).isEqualTo("0");
    long before = zfs.invocations();
    receiver.confirmReceivedAll(new ReceivedBaseBatch(h.bases()));
    assertThat(zfs.invocations() - before)
        .as("zfs commands to confirm 4 filesystems: a listing, a hold, a release")
        .isLessThanOrEqualTo(3);
    for (var fs : h.all()) {
      var target = h.recvRoot().extend(fs);
      assertThat(userrefs(target + "@s1")).as("%s@s1", target).isEqualTo("0");
      assertThat(userrefs(target + "@s2")).as("%s@s2", target).isEqualTo("1");
    }
  }

  @Test
  void receivedSnapshotsHeldAheadKeepTheirBaseHeldUntilTheConfirmationReleasesIt()
      throws IOException {
    var h = receivedWithHoldLater("heldahead", "jobh");
    var receiver = h.receiver();
    // a base that is not there refuses the call; nothing is held
    var bad = withAWrongGuid(h.bases());
    assertThatThrownBy(() -> receiver.holdReceivedAll(new ReceivedBaseBatch(bad)))
        .isInstanceOf(dev.zrepl4j.rpc.RemoteException.class)
        .hasMessageContaining("no snapshot of guid");
    for (var fs : h.all()) {
      assertThat(userrefs(h.recvRoot().extend(fs) + "@s2")).as("%s@s2", fs).isEqualTo("0");
    }
    // held ahead (while the sender completes): the new snapshot held, the base still held too, so
    // a step the sender refuses keeps its base on both sides
    receiver.holdReceivedAll(new ReceivedBaseBatch(h.bases()));
    for (var fs : h.all()) {
      var target = h.recvRoot().extend(fs);
      assertThat(userrefs(target + "@s1")).as("%s@s1 still held", target).isEqualTo("1");
      assertThat(userrefs(target + "@s2")).as("%s@s2 held ahead", target).isEqualTo("1");
    }
    // the confirmation after it only releases
    long before = zfs.invocations();
    receiver.confirmReceivedAll(new ReceivedBaseBatch(h.bases()));
    assertThat(zfs.invocations() - before).as("zfs commands: the release").isEqualTo(1);
    for (var fs : h.all()) {
      var target = h.recvRoot().extend(fs);
      assertThat(userrefs(target + "@s1")).as("%s@s1", target).isEqualTo("0");
      assertThat(userrefs(target + "@s2")).as("%s@s2", target).isEqualTo("1");
    }
    // held ahead at s2 but then confirmed at s1 (the sender refused s2; a later run found both
    // sides in sync at s1): the confirmation checks s1 itself and moves the hold back there
    var first = h.bases().getFirst();
    var s1 = version(h.sender(), h.all().getFirst(), "s1");
    receiver.holdReceivedAll(new ReceivedBaseBatch(List.of(first)));
    receiver.confirmReceivedAll(
        new ReceivedBaseBatch(List.of(new ReceivedBase(first.filesystem(), s1))));
    var target = h.recvRoot().extend(h.all().getFirst());
    assertThat(userrefs(target + "@s1")).isEqualTo("1");
    assertThat(userrefs(target + "@s2")).isEqualTo("0");
  }

  @Test
  void aStepSentFromThePlansListingCostsNoListingAndTheStreamsBeginRecordCatchesAStaleName()
      throws IOException {
    var e = ends("begun", "jobb");
    Trees.write(src.mounted("begun/f.bin"), 4, 200_000);
    zfs.snapshot(List.of(e.fs()), "s1");
    var s1 = version(e.sender(), e.fs(), "s1");
    step(e.sender(), e.receiver(), e.fs(), null, s1);
    Trees.write(src.mounted("begun/f.bin"), 5, 200_000);
    zfs.snapshot(List.of(e.fs()), "s2");
    var s2 = version(e.sender(), e.fs(), "s2");
    e.sender().listVersionsOf(new FsListRequest(List.of(e.fs().toString())));
    long before = zfs.invocations();
    var spec = new SendSpec(e.fs().toString(), s1, s2, "", false, Protection.GUARANTEE_NOTHING);
    try (var stream = e.sender().send(spec)) {
      // the receiver proves the stream by its BEGIN record too: no listing after the receive
      e.receiver().receive(new ReceiveSpec(e.fs().toString(), s1, s2, false, true), stream);
    }
    assertThat(zfs.invocations() - before)
        .as("an incremental step: the send, the receiver's get of its chain, the receive")
        .isEqualTo(3);
    assertThat(dst.versions(e.root().extend(e.fs())))
        .extracting(v -> v.guid())
        .containsExactly(s1.guid(), s2.guid());
    // s3 planned, then destroyed and made again: the same name, another snapshot
    zfs.snapshot(List.of(e.fs()), "s3");
    var s3 = version(e.sender(), e.fs(), "s3");
    e.sender().listVersionsOf(new FsListRequest(List.of(e.fs().toString())));
    FuseFixture.run("zfs", "destroy", e.fs() + "@s3");
    zfs.snapshot(List.of(e.fs()), "s3");
    assertThat(version(e.sender(), e.fs(), "s3").guid()).isNotEqualTo(s3.guid());
    // the plan's listing has the old one: the stream's BEGIN shows the other guid, the sender
    // lists again and refuses the stale name
    var stale = new SendSpec(e.fs().toString(), s2, s3, "", false, Protection.GUARANTEE_NOTHING);
    assertThatThrownBy(() -> e.sender().send(stale).close())
        .isInstanceOf(dev.zrepl4j.rpc.RemoteException.class)
        .hasMessageContaining("s3");
  }

  @Test
  void stepHoldsPlacedAheadCostOneCommandAndTheirSendsPlaceNone() throws IOException {
    var parent = src.path("ahead");
    zfs.create(parent, Map.of());
    var sender = new Sender(zfs, p -> p.hasPrefix(parent), "joba", SenderOptions.PLAIN);
    var all = new java.util.ArrayList<DatasetPath>(List.of(parent));
    for (int i = 0; i < 3; i++) {
      all.add(parent.child("f" + i));
      zfs.create(all.getLast(), Map.of());
    }
    zfs.snapshot(all, "s1");
    zfs.snapshot(all, "s2");
    var names = all.stream().map(DatasetPath::toString).toList();
    sender.listVersionsOf(new FsListRequest(names));
    var specs = new java.util.ArrayList<SendSpec>();
    for (var fs : all) {
      specs.add(
          new SendSpec(
              fs.toString(),
              version(sender, fs, "s1"),
              version(sender, fs, "s2"),
              "",
              false,
              Protection.GUARANTEE_RESUMABILITY));
    }
    // one stale version refuses the call: nothing is held
    var last = specs.getLast();
    var bad = new java.util.ArrayList<>(specs.subList(0, 3));
    bad.add(
        new SendSpec(
            last.filesystem(),
            last.from(),
            otherGuid(last.to()),
            "",
            false,
            Protection.GUARANTEE_RESUMABILITY));
    assertThatThrownBy(() -> sender.protectAll(new SendSpecBatch(bad)))
        .isInstanceOf(dev.zrepl4j.rpc.RemoteException.class);
    assertThat(userrefs(parent + "@s1")).isEqualTo("0");
    long before = zfs.invocations();
    sender.protectAll(new SendSpecBatch(specs));
    assertThat(zfs.invocations() - before).as("one zfs hold for 4 steps").isEqualTo(1);
    for (var fs : all) {
      assertThat(userrefs(fs + "@s1")).isEqualTo("1");
      assertThat(userrefs(fs + "@s2")).isEqualTo("1");
    }
    before = zfs.invocations();
    for (var spec : specs) {
      sender.send(spec).close();
    }
    assertThat(zfs.invocations() - before).as("the sends alone").isEqualTo(4);
    // the completion releases them, and the next send protects itself again
    sender.sendCompletedAll(
        new SendCompletedBatch(
            specs.stream()
                .map(sp -> new SendCompleted(sp.filesystem(), sp.from(), sp.to()))
                .toList()));
    assertThat(userrefs(parent + "@s1")).isEqualTo("0");
    assertThat(userrefs(parent + "@s2")).as("the cursor").isEqualTo("1");
    before = zfs.invocations();
    sender.send(specs.getFirst()).close();
    assertThat(zfs.invocations() - before).as("a hold and the send").isEqualTo(2);
  }

  @Test
  void aSizeEstimateUsesTheListingThePlanWasMadeFromAndStillRefusesAnUnknownVersion()
      throws IOException {
    var e = ends("estimated", "jobe");
    zfs.snapshot(List.of(e.fs()), "s1");
    var s1 = version(e.sender(), e.fs(), "s1");
    e.sender().listVersionsOf(new FsListRequest(List.of(e.fs().toString())));
    long before = zfs.invocations();
    var spec = new SendSpec(e.fs().toString(), null, s1, "", false, Protection.GUARANTEE_NOTHING);
    var estimate = e.sender().sendDry(spec);
    // zfs-fuse cannot estimate: no zfs command at all, the names checked against the plan's listing
    assertThat(estimate.bytes()).isEqualTo(-1);
    assertThat(zfs.invocations() - before).isZero();
    var stale = otherGuid(s1);
    assertThatThrownBy(
            () ->
                e.sender()
                    .sendDry(
                        new SendSpec(
                            e.fs().toString(),
                            null,
                            stale,
                            "",
                            false,
                            Protection.GUARANTEE_NOTHING)))
        .isInstanceOf(dev.zrepl4j.rpc.RemoteException.class);
    // a version made after the plan's listing is not in it: refused, as it was not planned from
    zfs.snapshot(List.of(e.fs()), "s2");
    var s2 = version(e.sender(), e.fs(), "s2");
    assertThatThrownBy(
            () ->
                e.sender()
                    .sendDry(
                        new SendSpec(
                            e.fs().toString(), s1, s2, "", false, Protection.GUARANTEE_NOTHING)))
        .isInstanceOf(dev.zrepl4j.rpc.RemoteException.class);
  }

  /** {@code v} with another guid: a version the sender or receiver does not have. */
  private static FsVersion otherGuid(FsVersion v) {
    return new FsVersion(v.type(), v.name(), v.guid() + 1, v.createTxg(), v.creation());
  }

  static String userrefs(String snapshot) throws IOException {
    return FuseFixture.run("zfs", "get", "-H", "-o", "value", "userrefs", snapshot).strip();
  }

  @Test
  void aReceiverWhoseRootFsIsMissingRefusesAndCreatesNothing() throws IOException {
    var fs = src.path("norootdata");
    zfs.create(fs, Map.of());
    zfs.snapshot(List.of(fs), "s1");
    var missingRoot = dst.path("missing/root");
    var sender = new Sender(zfs, p -> p.equals(fs), "job2", SenderOptions.PLAIN);
    var receiver = Receiver.localRoot(zfs, missingRoot, "job2", ReceiverOptions.DEFAULTS);
    var s1 = version(sender, fs, "s1");
    var spec = new SendSpec(fs.toString(), null, s1, "", false, Protection.GUARANTEE_NOTHING);
    try (var stream = sender.send(spec)) {
      assertThatThrownBy(
              () -> receiver.receive(new ReceiveSpec(fs.toString(), null, s1, false), stream))
          .isInstanceOfSatisfying(
              dev.zrepl4j.rpc.RemoteException.class,
              e -> assertThat(e.code()).isEqualTo(dev.zrepl4j.rpc.ErrorCode.FAILED_PRECONDITION))
          .hasMessageContaining("root_fs " + missingRoot + " does not exist");
    }
    assertThat(dst.exists(dst.path("missing"))).isFalse();
  }

  @Test
  void fullThenIncrementalArriveByteForByteWithPlaceholdersHoldsAndCursor() throws IOException {
    var data = src.path("data");
    var a = src.path("data/a");
    zfs.create(data, Map.of());
    zfs.create(a, Map.of());
    Trees.write(src.mounted("data/a/one.bin"), 1, 1 << 20);
    Trees.write(src.mounted("data/a/dir/two.bin"), 2, 300_000);
    zfs.snapshot(List.of(a), "s1");
    var recvRoot = dst.path("pull");
    zfs.create(recvRoot, Map.of("mountpoint", "none"));

    var sender = new Sender(zfs, p -> p.hasPrefix(a), "job1", SenderOptions.PLAIN);
    var receiver = Receiver.localRoot(zfs, recvRoot, "job1", ReceiverOptions.DEFAULTS);
    var s1 = version(sender, a, "s1");
    var r1 = step(sender, receiver, a, null, s1);

    var target = recvRoot.extend(a);
    assertThat(r1.target()).isEqualTo(target.toString());
    assertThat(r1.bytes()).isGreaterThan(1 << 20);
    assertThat(r1.replacedPlaceholder()).isFalse();
    // the gap (pool and data) became placeholders, mapped back into the sender's namespace
    assertThat(receiver.listFilesystems())
        .containsExactly(
            new FsInfo(src.name, true, ""),
            new FsInfo(data.toString(), true, ""),
            new FsInfo(a.toString(), false, ""));
    assertThat(FuseFixture.prop(recvRoot.extend(data).toString(), "mountpoint")).isEqualTo("none");
    var mnt = dst.mountReadOnly(target);
    Trees.assertSameFiles(src.mounted("data/a"), mnt);
    FuseFixture.unmount(target);
    // receiver: last-received hold; sender: cursor hold, step holds released
    assertThat(dst.userRefs(target, "s1")).isEqualTo(1);
    assertThat(src.userRefs(a, "s1")).isEqualTo(1);
    assertThat(sender.replicationCursor(new FsRequest(a.toString()))).containsExactly(s1);

    Trees.write(src.mounted("data/a/one.bin"), 3, 1 << 20);
    Files.delete(src.mounted("data/a/dir/two.bin"));
    Trees.write(src.mounted("data/a/three.bin"), 4, 70_000);
    zfs.snapshot(List.of(a), "s2");
    var s2 = version(sender, a, "s2");
    var r2 = step(sender, receiver, a, s1, s2);
    assertThat(r2.bytes()).isGreaterThan(1 << 20);
    FuseFixture.run("zfs", "mount", target.toString());
    Trees.assertSameFiles(src.mounted("data/a"), mnt);
    FuseFixture.unmount(target);

    assertThat(dst.userRefs(target, "s1")).isZero();
    assertThat(dst.userRefs(target, "s2")).isEqualTo(1);
    assertThat(src.userRefs(a, "s1")).isZero();
    assertThat(src.userRefs(a, "s2")).isEqualTo(1);
    assertThat(sender.replicationCursor(new FsRequest(a.toString()))).containsExactly(s2);

    // a receiver stopped between zfs recv and moving its hold: s2 unheld, s1 still held. A listing
    // leaves that alone; the active side's confirmation of the base (s2) moves the hold there
    FuseFixture.run("zfs", "release", "zrepl_last_received_J_job1", target + "@s2");
    FuseFixture.run("zfs", "hold", "zrepl_last_received_J_job1", target + "@s1");
    receiver.listVersionsOf(new FsListRequest(List.of(a.toString())));
    assertThat(dst.userRefs(target, "s1")).isEqualTo(1);
    assertThat(dst.userRefs(target, "s2")).isZero();
    // a base the receiver does not have (a guid that does not fit) changes nothing
    var wrong = otherGuid(s2);
    assertThatThrownBy(() -> receiver.confirmReceived(new ReceivedBase(a.toString(), wrong)))
        .isInstanceOfSatisfying(
            dev.zrepl4j.rpc.RemoteException.class,
            e -> assertThat(e.code()).isEqualTo(dev.zrepl4j.rpc.ErrorCode.FAILED_PRECONDITION));
    assertThat(dst.userRefs(target, "s1")).isEqualTo(1);
    assertThat(dst.userRefs(target, "s2")).isZero();
    receiver.confirmReceived(new ReceivedBase(a.toString(), s2));
    assertThat(dst.userRefs(target, "s1")).isZero();
    assertThat(dst.userRefs(target, "s2")).isEqualTo(1);
    receiver.confirmReceived(new ReceivedBase(a.toString(), s2)); // again: nothing changes
    assertThat(dst.userRefs(target, "s2")).isEqualTo(1);

    var listed = receiver.listVersionsOf(new FsListRequest(List.of(a.toString(), "nope/x")));
    assertThat(listed)
        .extracting(FsVersionList::filesystem)
        .containsExactly(a.toString(), "nope/x");
    // received snapshots have the sender's guids (their creation time is the receive's)
    assertThat(listed.get(0).versions())
        .extracting(FsVersion::name, FsVersion::guid)
        .containsExactly(tuple("s1", s1.guid()), tuple("s2", s2.guid()));
    assertThat(listed.get(1).versions()).isEmpty();
  }

  /**
   * A snapshot the administrator took on the receiver is not a received one: the listing neither
   * puts the last-received hold on it (it could not be destroyed then: "dataset is busy") nor takes
   * the hold off the snapshot that was received last.
   */
  @Test
  void aSnapshotTakenOnTheReceiverKeepsNoHoldAndTheReceivedOneKeepsItsHold() throws IOException {
    var e = ends("ownsnap", "job5");
    zfs.snapshot(List.of(e.fs()), "s1");
    var s1 = version(e.sender(), e.fs(), "s1");
    step(e.sender(), e.receiver(), e.fs(), null, s1);
    var target = e.root().extend(e.fs());
    assertThat(dst.userRefs(target, "s1")).isEqualTo(1);

    FuseFixture.run("zfs", "snapshot", target + "@mine");
    e.receiver().listVersionsOf(new FsListRequest(List.of(e.fs().toString())));
    assertThat(dst.userRefs(target, "mine")).isZero();
    assertThat(dst.userRefs(target, "s1")).isEqualTo(1);
    FuseFixture.run("zfs", "destroy", target + "@mine");
  }

  @Test
  void aStreamThatIsNotTheAnnouncedSnapshotIsReportedAndLeavesNoLastReceivedHold()
      throws IOException {
    var pair = ends("liar", "job3");
    var fs = pair.fs();
    var sender = pair.sender();
    var receiver = pair.receiver();
    zfs.snapshot(List.of(fs), "l1");
    var l1 = version(sender, fs, "l1");
    // the hold goes on while the listing checks the guid: a mismatch takes it off again
    var announced =
        new FsVersion(FsVersion.SNAPSHOT, "l1", l1.guid() ^ 1, l1.createTxg(), l1.creation());
    var spec = new SendSpec(fs.toString(), null, l1, "", false, Protection.GUARANTEE_NOTHING);
    try (var stream = sender.send(spec)) {
      assertThatThrownBy(
              () ->
                  receiver.receive(new ReceiveSpec(fs.toString(), null, announced, false), stream))
          .isInstanceOfSatisfying(
              dev.zrepl4j.rpc.RemoteException.class,
              e -> assertThat(e.code()).isEqualTo(dev.zrepl4j.rpc.ErrorCode.INTERNAL))
          .hasMessageContaining("has guid " + Long.toUnsignedString(l1.guid()));
    }
    var target = pair.root().extend(fs);
    assertThat(dst.userRefs(target, "l1")).isZero(); // received, kept, not held
  }

  @Test
  void aRefusedCompletionLeavesThePoolAsItWas() throws IOException {
    var pair = ends("regone", "job4");
    var fs = pair.fs();
    var sender = pair.sender();
    var receiver = pair.receiver();
    zfs.snapshot(List.of(fs), "r1");
    var r1 = version(sender, fs, "r1");
    step(sender, receiver, fs, null, r1);
    zfs.snapshot(List.of(fs), "r2");
    var r2 = version(sender, fs, "r2");
    var spec = new SendSpec(fs.toString(), r1, r2, "", false, Protection.GUARANTEE_RESUMABILITY);
    try (var stream = sender.send(spec)) {
      receiver.receive(new ReceiveSpec(fs.toString(), r1, r2, false), stream);
    }
    // the request is checked before anything is placed: a completion at another guid, or from a
    // snapshot that is not there, is refused and leaves every hold as it was (on zfs-fuse the
    // cursor is a hold: AccessEnumerationIT once saw a refused completion leave one)
    var other =
        new FsVersion(FsVersion.SNAPSHOT, "r2", r2.guid() ^ 1, r2.createTxg(), r2.creation());
    assertThatThrownBy(() -> sender.sendCompleted(new SendCompleted(fs.toString(), r1, other)))
        .isInstanceOfSatisfying(
            dev.zrepl4j.rpc.RemoteException.class,
            e -> assertThat(e.code()).isEqualTo(dev.zrepl4j.rpc.ErrorCode.FAILED_PRECONDITION))
        .hasMessageContaining("has guid " + Long.toUnsignedString(r2.guid()));
    var missing =
        new FsVersion(FsVersion.SNAPSHOT, "nope", r1.guid() ^ 1, r1.createTxg(), r1.creation());
    assertThatThrownBy(() -> sender.sendCompleted(new SendCompleted(fs.toString(), missing, r2)))
        .isInstanceOf(dev.zrepl4j.rpc.RemoteException.class);
    assertThat(src.userRefs(fs, "r1")).isEqualTo(2); // the cursor and the step hold, still
    assertThat(src.userRefs(fs, "r2")).isEqualTo(1); // the step hold only
    // the right completion leaves exactly the cursor on r2, step holds gone
    sender.sendCompleted(new SendCompleted(fs.toString(), r1, r2));
    assertThat(src.userRefs(fs, "r1")).isZero();
    assertThat(src.userRefs(fs, "r2")).isEqualTo(1);
    assertThat(sender.replicationCursor(new FsRequest(fs.toString()))).containsExactly(r2);
  }

  @Test
  void aStepWhoseProtectionFailsHandsOutNoStreamAndKillsItsZfsSend() throws Exception {
    var pair = ends("unheld", "job5");
    var fs = pair.fs();
    // more than the 1 MiB pipe: a zfs send left alone would block on it for ever
    Trees.write(src.mounted("unheld/big.bin"), 8, 3 << 20);
    zfs.snapshot(List.of(fs), "u1");
    // the real zfs, except that holds fail (the protection goes on beside the start of zfs send)
    var failingHolds =
        (Zfs)
            java.lang.reflect.Proxy.newProxyInstance(
                Zfs.class.getClassLoader(),
                new Class<?>[] {Zfs.class},
                (proxy, method, args) -> {
                  if (method.getName().equals("hold")) {
                    throw new ZfsException(List.of("zfs", "hold"), 1, "cannot hold: injected");
                  }
                  try {
                    return method.invoke(zfs, args);
                  } catch (java.lang.reflect.InvocationTargetException e) {
                    throw e.getCause();
                  }
                });
    var sender = new Sender(failingHolds, p -> p.equals(fs), "job5", SenderOptions.PLAIN);
    var u1 = version(sender, fs, "u1");
    var spec = new SendSpec(fs.toString(), null, u1, "", false, Protection.GUARANTEE_RESUMABILITY);
    assertThatThrownBy(() -> sender.send(spec)).hasMessageContaining("injected");
    assertThat(
            ProcessHandle.allProcesses()
                .map(p -> p.info().commandLine().orElse(""))
                // zfs rewrites its own argv: "zfs send <fs> u1", without the @
                .filter(c -> c.contains("send") && c.contains(fs.toString())))
        .isEmpty();
    assertThat(src.userRefs(fs, "u1")).isZero();
  }

  @Test
  void aTruncatedStreamFailsWithZfsStderrAndLeavesNoTarget() throws Exception {
    var pair = ends("trunc", "job2");
    var fs = pair.fs();
    var root = pair.root();
    var sender = pair.sender();
    var receiver = pair.receiver();
    Trees.write(src.mounted("trunc/big.bin"), 5, 2 << 20);
    zfs.snapshot(List.of(fs), "t1");
    var t1 = version(sender, fs, "t1");
    byte[] head;
    try (var in =
        sender.send(
            new SendSpec(fs.toString(), null, t1, "", false, Protection.GUARANTEE_NOTHING))) {
      head = in.readNBytes(300_000);
    }
    var target = root.extend(fs);
    assertThatThrownBy(
            () ->
                receiver.receive(
                    new ReceiveSpec(fs.toString(), null, t1, false),
                    new java.io.ByteArrayInputStream(head)))
        .isInstanceOf(dev.zrepl4j.rpc.RemoteException.class)
        .hasMessageContaining("receive into " + target + " failed")
        .hasCauseInstanceOf(dev.zrepl4j.zfs.ZfsException.class);
    // zfs-fuse removes the partial dataset asynchronously
    for (int i = 0; i < 100 && dst.exists(target); i++) {
      Thread.sleep(100);
    }
    assertThat(dst.exists(target)).isFalse();
    assertThat(receiver.listFilesystems()).noneMatch(f -> f.path().equals(fs.toString()));
    // the full step then succeeds
    try (var in =
        sender.send(
            new SendSpec(fs.toString(), null, t1, "", false, Protection.GUARANTEE_NOTHING))) {
      receiver.receive(new ReceiveSpec(fs.toString(), null, t1, false), in);
    }
    assertThat(dst.versions(target)).extracting(v -> v.guid()).containsExactly(t1.guid());
  }

  /**
   * A source job's clients each keep their own cursor hold (zfs-fuse: the cursor is a hold) and
   * step holds; the job's own cursor and step holds, from before it kept them per client, are the
   * first client's cursor until its first completion adopts them (released), and no other client
   * ever sees or moves them.
   */
  @Test
  void aSourcesFirstClientAdoptsTheJobsCursorAndEachClientKeepsItsOwn() throws IOException {
    var e = ends("fan", "src");
    var fs = e.fs();
    Trees.write(src.mounted("fan").resolve("f.bin"), 5, 200_000);
    zfs.snapshot(List.of(fs), "s1");
    var s1 = version(e.sender(), fs, "s1");
    // the job's own sender (one cursor for all clients, as zrepl keeps it) replicated s1, and a
    // step cut short left its step hold on s1
    step(e.sender(), e.receiver(), fs, null, s1);
    FuseFixture.run("zfs", "hold", "zrepl_STEP_J_src", fs + "@s1");
    assertThat(src.userRefs(fs, "s1")).isEqualTo(2);

    var one =
        Sender.forClient(
            zfs,
            p -> p.equals(fs),
            "src",
            "one",
            SenderOptions.PLAIN,
            n -> {},
            BandwidthLimiter.none());
    var two =
        Sender.forClient(
            zfs,
            p -> p.equals(fs),
            "src",
            "two",
            SenderOptions.PLAIN,
            n -> {},
            BandwidthLimiter.none());
    var request = new FsRequest(fs.toString());
    assertThat(one.replicationCursor(request))
        .as("the job's cursor, not adopted yet")
        .containsExactly(s1);

    zfs.snapshot(List.of(fs), "s2");
    var s2 = version(one, fs, "s2");
    step(one, e.receiver(), fs, s1, s2);
    // one adopted: the job's cursor hold and its step hold went, one's own cursor is on s2
    assertThat(src.userRefs(fs, "s1")).isZero();
    assertThat(src.userRefs(fs, "s2")).isEqualTo(1);
    assertThat(one.replicationCursor(request)).containsExactly(s2);
    assertThat(two.replicationCursor(request)).as("two has none of its own").isEmpty();
    assertThat(e.sender().replicationCursor(request)).as("the job's own is gone").isEmpty();

    // two replicates into a receiver of its own (full, then incremental) beside one
    var root2 = dst.path("fan-two");
    zfs.create(root2, Map.of("mountpoint", "none"));
    var receiver2 = Receiver.localRoot(zfs, root2, "two", ReceiverOptions.DEFAULTS);
    step(two, receiver2, fs, null, s2);
    assertThat(src.userRefs(fs, "s2")).as("one's and two's cursor holds").isEqualTo(2);
    zfs.snapshot(List.of(fs), "s3");
    var s3 = version(one, fs, "s3");
    step(one, e.receiver(), fs, s2, s3);
    // one's cursor moved on, two's stays where two left it
    assertThat(src.userRefs(fs, "s2")).isEqualTo(1);
    assertThat(src.userRefs(fs, "s3")).isEqualTo(1);
    assertThat(two.replicationCursor(request)).containsExactly(s2);
    assertThat(one.replicationCursor(request)).containsExactly(s3);
    step(two, receiver2, fs, s2, s3);
    assertThat(src.userRefs(fs, "s2")).isZero();
    assertThat(src.userRefs(fs, "s3")).isEqualTo(2);
  }
}
