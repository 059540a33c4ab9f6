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
}
