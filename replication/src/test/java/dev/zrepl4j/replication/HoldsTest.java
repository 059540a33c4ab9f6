package dev.zrepl4j.replication;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.zfs.ZfsException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which failures of a several-snapshot hold or release are only "already"/"not" held. */
class HoldsTest {
  private static ZfsException failure(String stderr) {
    return new ZfsException(List.of("zfs", "release"), 1, stderr);
  }

  @Test
  void toleratesOnlyFailuresWhoseEveryLineIsTheExpectedOne() {
    // zfs-fuse and OpenZFS 2.3 wording, one line per snapshot
    assertThat(
            Holds.noSuchTag(
                failure(
                    "cannot release 'T' from 'p/a@1': no such tag on this dataset\n"
                        + "cannot release hold from snapshot 'p/a@2': no such tag on this dataset\n")))
        .isTrue();
    assertThat(Holds.tagExists(failure("cannot hold 'p/a@1': tag already exists on this dataset")))
        .isTrue();
    // one other failure among them is a failure
    assertThat(
            Holds.noSuchTag(
                failure(
                    "cannot release 'T' from 'p/a@1': no such tag on this dataset\n"
                        + "cannot open 'p/a@2': dataset does not exist")))
        .isFalse();
    assertThat(Holds.tagExists(failure("cannot release 'T' from 'p/a@1': no such tag"))).isFalse();
    assertThat(Holds.noSuchTag(failure(""))).isFalse();
    assertThat(Holds.noSuchTag(failure("[... 900 bytes cut ...]\ncannot release: no such tag")))
        .isFalse();
  }

  @Test
  void manySnapshotsGoInAFewCommandsSideBySideOfAtMost512Each() throws Exception {
    var zfs = new FakeZfs();
    var snaps = new java.util.ArrayList<dev.zrepl4j.zfs.FilesystemVersion.FullName>();
    for (int i = 0; i < 3000; i++) {
      snaps.add(dev.zrepl4j.zfs.FilesystemVersion.parseFullName("p/f" + i + "@s"));
    }
    Holds.hold(zfs, "T", snaps); // 3000 / 512: six parts of 500
    assertThat(zfs.calls).hasSize(6).allMatch(c -> c.equals("hold T 500"));
    zfs.calls.clear();
    Holds.release(zfs, "T", snaps.subList(0, 202)); // four parts side by side
    assertThat(zfs.calls)
        .containsExactlyInAnyOrder("release T 51", "release T 51", "release T 50", "release T 50");
    zfs.calls.clear();
    Holds.release(zfs, "T", snaps.subList(0, 20)); // too few to share: one command
    Holds.release(zfs, "T", List.of());
    assertThat(zfs.calls).containsExactly("release T 20");
  }
}
