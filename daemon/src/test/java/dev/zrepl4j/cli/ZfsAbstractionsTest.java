package dev.zrepl4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.cli.ZfsAbstractions.Abstraction;
import dev.zrepl4j.cli.ZfsAbstractions.Type;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.FilesystemVersion;
import dev.zrepl4j.zfs.FilesystemVersion.VersionType;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Recognizing zrepl's names exactly, and zrepl's staleness rule. */
class ZfsAbstractionsTest {
  static final DatasetPath FS = DatasetPath.parse("pool/data");

  static FilesystemVersion bm(String name, long guid, long txg) {
    return new FilesystemVersion(FS, VersionType.BOOKMARK, name, guid, txg, Instant.EPOCH, -1);
  }

  static FilesystemVersion snap(String name, long guid, long txg) {
    return new FilesystemVersion(FS, VersionType.SNAPSHOT, name, guid, txg, Instant.EPOCH, 1);
  }

  @Test
  void onlyExactNamesWithTheirOwnGuidAreOurs() {
    long guid = 0x1234_5678_9abc_def0L;
    assertThat(ZfsAbstractions.bookmark(bm("zrepl_CURSOR_G_123456789abcdef0_J_push", guid, 5)))
        .hasValueSatisfying(
            a -> {
              assertThat(a.type()).isEqualTo(Type.REPLICATION_CURSOR_BOOKMARK_V2);
              assertThat(a.job()).isEqualTo("push");
              assertThat(a)
                  .hasToString(
                      "replication-cursor-bookmark-v2 pool/data#zrepl_CURSOR_G_123456789abcdef0_J_push");
            });
    assertThat(ZfsAbstractions.bookmark(bm("zrepl_STEP_G_123456789abcdef0_J_push", guid, 5)))
        .map(Abstraction::type)
        .hasValue(Type.STEP_BOOKMARK);
    assertThat(
            ZfsAbstractions.bookmark(bm("zrepl_CURSORTENTATIVE_G_123456789abcdef0_J_p", guid, 5)))
        .map(Abstraction::type)
        .hasValue(Type.TENTATIVE_REPLICATION_CURSOR_BOOKMARK);
    assertThat(ZfsAbstractions.bookmark(bm("zrepl_replication_cursor", guid, 5)))
        .map(Abstraction::type)
        .hasValue(Type.REPLICATION_CURSOR_BOOKMARK_V1);
    // a guid that does not fit the bookmark's own, another prefix, a bad job, a user's bookmark
    for (var name :
        List.of(
            "zrepl_CURSOR_G_0000000000000001_J_push",
            "zrepl_CURSORX_G_123456789abcdef0_J_push",
            "zrepl_CURSOR_G_123456789abcdef0_J_",
            "zrepl_CURSOR_G_123456789abcdef0_J_a b",
            "zrepl_CURSOR_G_123456789ABCDEF0_J_push",
            "my_zrepl_CURSOR_G_123456789abcdef0_J_push",
            "backup")) {
      assertThat(ZfsAbstractions.bookmark(bm(name, guid, 5))).as(name).isEmpty();
    }
    var s = snap("s1", 1, 2);
    assertThat(ZfsAbstractions.hold(s, "zrepl_last_received_J_sink"))
        .hasValueSatisfying(
            a -> {
              assertThat(a.type()).isEqualTo(Type.LAST_RECEIVED_HOLD);
              assertThat(a.job()).isEqualTo("sink");
              assertThat(a)
                  .hasToString("last-received-hold \"zrepl_last_received_J_sink\" on pool/data@s1");
            });
    assertThat(ZfsAbstractions.hold(s, "zrepl_STEP_J_push"))
        .map(Abstraction::type)
        .hasValue(Type.STEP_HOLD);
    assertThat(ZfsAbstractions.hold(s, "zrepl_CURSOR_J_push"))
        .map(Abstraction::type)
        .hasValue(Type.REPLICATION_CURSOR_HOLD);
    for (var tag :
        List.of("keep", "zrepl_STEP_J_", "zrepl_STEP_Jpush", "x_zrepl_STEP_J_push", ".send-1-2")) {
      assertThat(ZfsAbstractions.hold(s, tag)).as(tag).isEmpty();
    }
  }

  @Test
  void staleAsZreplDecidesIt() {
    var c1 = ZfsAbstractions.bookmark(bm("zrepl_CURSOR_G_0000000000000001_J_push", 1, 10)).get();
    var c2 = ZfsAbstractions.bookmark(bm("zrepl_CURSOR_G_0000000000000002_J_push", 2, 20)).get();
    var step10 = ZfsAbstractions.hold(snap("s1", 1, 10), "zrepl_STEP_J_push").get();
    var step20 = ZfsAbstractions.hold(snap("s2", 2, 20), "zrepl_STEP_J_push").get();
    var step30 = ZfsAbstractions.hold(snap("s3", 3, 30), "zrepl_STEP_J_push").get();
    // another job on the same filesystem: its own decision
    var other =
        ZfsAbstractions.bookmark(bm("zrepl_CURSOR_G_0000000000000001_J_other", 1, 10)).get();
    var otherStep5 = ZfsAbstractions.hold(snap("s0", 9, 5), "zrepl_STEP_J_other").get();
    var last1 = ZfsAbstractions.hold(snap("s1", 1, 10), "zrepl_last_received_J_sink").get();
    var last2 = ZfsAbstractions.hold(snap("s2", 2, 20), "zrepl_last_received_J_sink").get();
    var v1 = ZfsAbstractions.bookmark(bm("zrepl_replication_cursor", 1, 10)).get();
    var cursorHold = ZfsAbstractions.hold(snap("s1", 1, 10), "zrepl_CURSOR_J_push").get();
    var all =
        List.of(c1, c2, step10, step20, step30, other, otherStep5, last1, last2, v1, cursorHold);
    assertThat(ZfsAbstractions.stale(all)).containsExactly(c1, step10, step20, otherStep5, last1);

    // no cursor (an initial replication): all but the newest step
    assertThat(ZfsAbstractions.stale(List.of(step10, step20, step30)))
        .containsExactly(step10, step20);
    assertThat(ZfsAbstractions.stale(List.of(step30))).isEmpty();
  }

  @Test
  void badFiltersAreRefused() {
    assertThatThrownBy(() -> Type.parse("cursor"))
        .hasMessageContaining("unknown abstraction type 'cursor'");
    var f = new ZfsAbstractionCommand.Filter();
    f.job = "a b";
    assertThatThrownBy(f::query).hasMessageContaining("--job 'a b'");
    var g = new ZfsAbstractionCommand.Filter();
    g.concurrency = 0;
    assertThatThrownBy(g::query).hasMessageContaining("--concurrency 0");
  }
}
