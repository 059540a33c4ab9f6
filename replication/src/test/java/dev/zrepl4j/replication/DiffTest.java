package dev.zrepl4j.replication;

import static dev.zrepl4j.replication.Versions.vs;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.replication.Diff.Conflict;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The seed's zfs/diff_test.go, ported exactly (left = receiver, right = sender). */
class DiffTest {

  @Test
  void makeFilesystemDiff_IncrementalSnapshots() {
    // basic functionality
    var d = Diff.of(vs("@a:1", "@b:2"), vs("@a:1", "@b:2", "@c:3", "@d:4"));
    assertThat(d.conflict()).isEqualTo(Conflict.INCREMENTAL);
    assertThat(d.incrementalPath()).isEqualTo(vs("@b:2", "@c:3", "@d:4"));

    // no common ancestor: an empty (not absent) receiver
    d = Diff.of(List.of(), vs("@a:1"));
    assertThat(d.conflict()).isEqualTo(Conflict.NO_COMMON_ANCESTOR);
    assertThat(d.incrementalPath()).isEmpty();
    assertThat(d.mrcaPathRight()).isEqualTo(vs("@a:1"));

    d = Diff.of(vs("@a:1", "@b:2"), vs("@c:3", "@d:4"));
    assertThat(d.conflict()).isEqualTo(Conflict.NO_COMMON_ANCESTOR);
    assertThat(d.incrementalPath()).isEmpty();
    assertThat(d.mrcaPathRight()).isEqualTo(vs("@c:3", "@d:4"));

    // divergence is detected
    d = Diff.of(vs("@a:1", "@b1:2"), vs("@a:1", "@b2:3"));
    assertThat(d.conflict()).isEqualTo(Conflict.DIVERGED);
    assertThat(d.incrementalPath()).isEmpty();
    assertThat(d.mrcaPathLeft()).isEqualTo(vs("@a:1", "@b1:2"));
    assertThat(d.mrcaPathRight()).isEqualTo(vs("@a:1", "@b2:3"));

    // gaps before the most recent common ancestor do not matter
    d = Diff.of(vs("@a:1", "@b:2", "@c:3"), vs("@a:1", "@c:3", "@d:4"));
    assertThat(d.conflict()).isEqualTo(Conflict.INCREMENTAL);
    assertThat(d.incrementalPath()).isEqualTo(vs("@c:3", "@d:4"));
  }

  @Test
  void makeFilesystemDiff_BookmarksSupport() {
    // bookmarks are used as the incremental source
    var d = Diff.of(vs("@a:1"), vs("#a:1", "@b:2"));
    assertThat(d.conflict()).isEqualTo(Conflict.INCREMENTAL);
    assertThat(d.incrementalPath()).isEqualTo(vs("#a:1", "@b:2"));

    // boomarks are stripped from the incremental path (the seed's own typo kept in spirit)
    d = Diff.of(vs("@a:1"), vs("#a:1", "#b:2", "@c:3"));
    assertThat(d.incrementalPath()).isEqualTo(vs("#a:1", "@c:3"));

    // test that snapshots are preferred over bookmarks in the incremental path
    d = Diff.of(vs("@a:1"), vs("#a:1", "@a:1", "@b:2"));
    assertThat(d.incrementalPath()).isEqualTo(vs("@a:1", "@b:2"));

    d = Diff.of(vs("@a:1"), vs("@a:1", "#a:1", "@b:2"));
    assertThat(d.incrementalPath()).isEqualTo(vs("@a:1", "@b:2"));
  }

  @Test
  void absentReceiverIsAllRight() {
    var d = Diff.of(null, vs("@a:1", "@b:2"));
    assertThat(d.conflict()).isEqualTo(Conflict.ALL_RIGHT);
    assertThat(d.incrementalPath()).isEmpty();
    assertThat(d.mrcaPathRight()).isEqualTo(vs("@a:1", "@b:2"));
    assertThat(d).hasToString("ConflictAllRight, 2 versions, most recent is @b(guid 2)");
  }

  @Test
  void receiverWithNewerSnapshotsHasDiverged() {
    var d = Diff.of(vs("@a:1", "@b:2"), vs("@a:1"));
    assertThat(d.conflict()).isEqualTo(Conflict.DIVERGED);
    assertThat(d.mrcaPathLeft()).isEqualTo(vs("@a:1", "@b:2"));
    assertThat(d.mrcaPathRight()).isEqualTo(vs("@a:1"));
    assertThat(d).hasToString("ConflictDiverged, diverged at @a(guid 1)");
  }

  @Test
  void inSyncIsAPathOfLengthOne() {
    var d = Diff.of(vs("@a:1", "@b:2"), vs("@a:1", "@b:2"));
    assertThat(d.incrementalPath()).isEqualTo(vs("@b:2"));
    assertThat(d)
        .hasToString(
            "ConflictIncremental, incremental path length 1, common ancestor at @b(guid 2)");
  }

  @Test
  void rejectsListsNotOrderedByCreateTxg() {
    assertThatThrownBy(() -> Diff.of(vs("@a:1"), vs("@b:2", "@a:1")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("right versions are not ordered by createtxg");
    assertThatThrownBy(() -> Diff.of(vs("@b:2", "@a:1"), vs("@a:1")))
        .hasMessageContaining("left versions are not ordered");
  }

  @Test
  void guidsAreComparedAsUnsigned64BitValues() {
    long big = Long.parseUnsignedLong("18446744073709551615");
    var a = new FsVersion(FsVersion.SNAPSHOT, "a", big, 1, java.time.Instant.EPOCH);
    var b = new FsVersion(FsVersion.SNAPSHOT, "b", 7, -2L, java.time.Instant.EPOCH);
    var d = Diff.of(List.of(a), List.of(a, b));
    assertThat(d.incrementalPath()).containsExactly(a, b);
  }

  @Test
  @org.junit.jupiter.api.Timeout(5)
  void largeListsWithoutACommonSnapshotAreDiffedInLinearTime() {
    var left = new java.util.ArrayList<FsVersion>();
    var right = new java.util.ArrayList<FsVersion>();
    for (int i = 0; i < 65_000; i++) {
      left.add(new FsVersion(FsVersion.SNAPSHOT, "l" + i, i, i, java.time.Instant.EPOCH));
      right.add(
          new FsVersion(FsVersion.SNAPSHOT, "r" + i, 100_000 + i, i, java.time.Instant.EPOCH));
    }
    assertThat(Diff.of(left, right).conflict()).isEqualTo(Conflict.NO_COMMON_ANCESTOR);
  }
}
