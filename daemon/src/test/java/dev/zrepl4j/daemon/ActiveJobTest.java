package dev.zrepl4j.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.replication.FsVersion;
import dev.zrepl4j.replication.Step;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** How an active job shows a step in its status and log. */
class ActiveJobTest {
  static FsVersion v(String type, String name, long guid) {
    return new FsVersion(type, name, guid, guid, Instant.EPOCH);
  }

  @Test
  void aStepIsShownWithoutItsGuids() {
    var a = v(FsVersion.SNAPSHOT, "zrepl_a", -2);
    var b = v(FsVersion.SNAPSHOT, "zrepl_b", 77);
    var c = v(FsVersion.BOOKMARK, "zrepl_CURSOR", 5);
    assertThat(ActiveJob.describe(new Step.Full(a))).isEqualTo("full @zrepl_a");
    assertThat(ActiveJob.describe(new Step.Incremental(c, b, false)))
        .isEqualTo("-i #zrepl_CURSOR -> @zrepl_b");
    assertThat(ActiveJob.describe(new Step.Resume("1-abc", a, b)))
        .isEqualTo("resume @zrepl_a -> @zrepl_b");
  }
}
