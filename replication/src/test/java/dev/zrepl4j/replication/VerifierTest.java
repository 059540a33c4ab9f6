package dev.zrepl4j.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.replication.pruning.PruneRule;
import dev.zrepl4j.replication.pruning.PruneRuleSpec;
import java.io.IOException;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link Verifier}'s comparison, on the in-memory sides ({@link MemoryPools}): which differences
 * are problems and which are not. The digests on real ZFS: {@code GuestVerifyIT}.
 */
class VerifierTest {
  private static final Clock CLOCK =
      Clock.fixed(Instant.parse("2026-12-07T00:00:00Z"), ZoneOffset.UTC);

  private final MemoryPools pools = new MemoryPools();

  /** {@code n} snapshots s1..sn of {@code fs} on the sender, one hour apart; all received. */
  private List<FsVersion> replicated(String fs, int n) {
    pools.filesystem(fs);
    var r = pools.receiver.computeIfAbsent(fs, k -> new MemoryPools.RecvFs());
    var out = new java.util.ArrayList<FsVersion>();
    for (int i = 1; i <= n; i++) {
      var v = pools.snapshot(fs, "s" + i, 1_700_000_000L + 3600L * i);
      r.versions.add(v);
      out.add(v);
    }
    return out;
  }

  private static List<PruneRule> lastN(int n) {
    return List.of(PruneRuleSpec.lastN(n, "").toRule());
  }

  private VerifyReport verify(int sample, List<PruneRule> keep) throws IOException {
    try (var c = pools.connector().connect()) {
      return Verifier.run("job", c, new Verifier.Options(sample, 42, keep), CLOCK);
    }
  }

  @Test
  void anIntactCopyHasNoProblemsAndTheNewestIsAlwaysInTheSample() throws IOException {
    var v = replicated("p/a", 5);
    replicated("p/b", 2);
    var r = verify(2, lastN(10));
    assertThat(r.problems()).isEmpty();
    assertThat(r.ok()).isTrue();
    assertThat(r.filesystems()).isEqualTo(2);
    assertThat(r.snapshots()).isEqualTo(7);
    assertThat(r.contentChecked()).isEqualTo(4);
    assertThat(pools.verifyLog)
        .filteredOn(l -> l.startsWith("receiver p/a "))
        .singleElement()
        .asString()
        .contains(v.getLast().name());
    // sizes: the in-memory sides have none (as zfs-fuse), and the report says so
    assertThat(r.notes()).anyMatch(n -> n.contains("sizes not compared"));
  }

  @Test
  void aSnapshotWithTheSenderNameButAnotherGuidIsAProblem() throws IOException {
    replicated("p/a", 3);
    var r = pools.receiver.get("p/a");
    r.versions.remove(1);
    r.versions.add(1, new FsVersion(FsVersion.SNAPSHOT, "s2", 4242, 9999, Instant.EPOCH));
    var report = verify(0, lastN(10));
    assertThat(report.problems())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.kind()).isEqualTo("guid");
              assertThat(p.filesystem()).isEqualTo("p/a");
              assertThat(p.message()).contains("@s2").contains("4242");
            });
  }

  @Test
  void alteredContentIsFoundInTheSampleAndOnlyThere() throws IOException {
    replicated("p/a", 3);
    pools.alteredContent.put("p/a@s3", "tampered");
    var report = verify(1, lastN(10));
    assertThat(report.problems())
        .singleElement()
        .satisfies(p -> assertThat(p.kind()).isEqualTo("content"));
    // not sampled: no content read, no problem found (a sample is a sample)
    pools.alteredContent.clear();
    pools.alteredContent.put("p/a@s1", "tampered");
    assertThat(verify(1, lastN(10)).problems()).isEmpty();
    assertThat(verify(3, lastN(10)).problems())
        .singleElement()
        .satisfies(p -> assertThat(p.message()).contains("@s1"));
  }

  @Test
  void aSnapshotGoneFromTheMiddleIsMissingOnlyIfKeepReceiverKeepsIt() throws IOException {
    replicated("p/a", 5);
    pools.receiver.get("p/a").versions.remove(2); // s3
    var kept = verify(0, lastN(10));
    assertThat(kept.problems())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.kind()).isEqualTo("missing");
              assertThat(p.message()).contains("@s3");
            });
    // keep_receiver last_n 2 would have pruned s3 itself (with s4 and s5 newer): no problem
    assertThat(verify(0, lastN(2)).problems()).isEmpty();
    // only a grid keeps it now: a note, not a problem
    var grid = List.of(PruneRuleSpec.grid("10x1h(keep=all)", "").toRule());
    var byGrid = verify(0, grid);
    assertThat(byGrid.problems()).isEmpty();
    assertThat(byGrid.notes()).anyMatch(n -> n.contains("p/a@s3") && n.contains("grid"));
  }

  @Test
  void snapshotsTheSenderNoLongerHasAreUncheckedAndNewerOnesAreNotMissing() throws IOException {
    replicated("p/a", 4);
    pools.sender.get("p/a").removeFirst(); // pruned on the sender
    pools.snapshot("p/a", "s5", 1_800_000_000L); // not replicated yet
    var r = verify(1, lastN(10));
    assertThat(r.problems()).isEmpty();
    assertThat(r.unchecked()).isEqualTo(1);
    assertThat(r.snapshots()).isEqualTo(3);
  }

  @Test
  void aFilesystemNotReplicatedYetIsNotCounted() throws IOException {
    replicated("p/a", 2);
    pools.filesystem("p/new");
    pools.snapshot("p/new", "s1", 1_700_000_000L);
    var r = verify(1, lastN(10));
    assertThat(r.filesystems()).isEqualTo(1);
    assertThat(r.problems()).isEmpty();
  }

  @Test
  void sizesWithinWhatMetadataExplainsAreTheSameAndBeyondAreNot() {
    assertThat(Verifier.sameSize(3_240_960, 3_239_424)).isTrue();
    assertThat(Verifier.sameSize(100, 100 + Verifier.SIZE_SLACK)).isTrue();
    assertThat(Verifier.sameSize(100, 101 + Verifier.SIZE_SLACK)).isFalse();
    // 0.5 % of a large filesystem
    assertThat(Verifier.sameSize(1_000_000_000L, 995_000_000L)).isTrue();
    assertThat(Verifier.sameSize(1_000_000_000L, 994_000_000L)).isFalse();
  }

  @Test
  void aReceiverWithoutVerifyFailsTheWholeVerifySayingSo() {
    replicated("p/a", 2);
    pools.receiverWithoutVerify = true;
    assertThatThrownBy(() -> verify(1, lastN(10)))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("does not know verify (an older zrepl4j, or zrepl)");
  }
}
