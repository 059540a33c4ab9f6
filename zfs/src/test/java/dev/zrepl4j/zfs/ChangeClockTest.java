package dev.zrepl4j.zfs;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class ChangeClockTest {

  private static DatasetPath p(String s) {
    return DatasetPath.parse(s);
  }

  @Test
  void aListingBegunBeforeAChangingCommandIsNotUnchangedAndOneBegunAfterItIs() {
    var clock = new ChangeClock();
    long before = clock.stamp();
    clock.mark(List.of("hold", "zrepl_STEP_J_push", "pool/a@s1"));
    assertThat(clock.unchangedSince(p("pool/a"), before)).isFalse();
    assertThat(clock.unchangedSince(p("pool/b"), before)).as("another filesystem").isTrue();
    long after = clock.stamp();
    assertThat(clock.unchangedSince(p("pool/a"), after)).isTrue();
  }

  @Test
  void readingCommandsMarkNothing() {
    var clock = new ChangeClock();
    long stamp = clock.stamp();
    for (var verb : List.of("list", "get", "send", "version")) {
      clock.mark(List.of(verb, "-H", "pool/a", "pool/a@s1"));
    }
    clock.mark(List.of());
    assertThat(clock.unchangedSince(p("pool/a"), stamp)).isTrue();
    assertThat(ChangeClock.changes(List.of("get", "guid", "pool/a"))).isFalse();
    assertThat(ChangeClock.changes(List.of("recv", "-u", "pool/a"))).isTrue();
  }

  @Test
  void theFilesystemOfEverySnapshotBookmarkAndCommaListIsMarkedButNotOptionsOrAssignments() {
    var clock = new ChangeClock();
    long stamp = clock.stamp();
    clock.mark(List.of("destroy", "pool/a@s1,s2,s3"));
    clock.mark(List.of("bookmark", "pool/b@s1", "pool/b#c"));
    clock.mark(List.of("set", "zrepl:placeholder=on", "pool/c"));
    clock.mark(List.of("receive", "-s", "-u", "-o", "mountpoint=none", "pool/d/e"));
    for (var fs : List.of("pool/a", "pool/b", "pool/c", "pool/d/e")) {
      assertThat(clock.unchangedSince(p(fs), stamp)).as(fs).isFalse();
    }
    // the later names of a destroy's list are snapshot names, not filesystems
    assertThat(clock.unchangedSince(p("s2"), stamp)).isTrue();
    assertThat(clock.unchangedSince(p("pool/d"), stamp)).as("only the named one").isTrue();
  }

  @Test
  void holdsReleasesBookmarksAndBookmarkDestroysLeaveTheSnapshotsUnchanged() {
    var clock = new ChangeClock();
    long stamp = clock.stamp();
    clock.mark(List.of("hold", "zrepl_STEP_J_push", "pool/a@s1"));
    clock.mark(List.of("release", "zrepl_STEP_J_push", "pool/a@s1"));
    clock.mark(List.of("bookmark", "pool/a@s1", "pool/a#zrepl_CURSOR"));
    clock.mark(List.of("destroy", "pool/a#old_cursor"));
    assertThat(clock.unchangedSince(p("pool/a"), stamp)).as("changed at all").isFalse();
    assertThat(clock.snapshotsUnchangedSince(p("pool/a"), stamp)).as("its snapshots").isTrue();
    for (var args :
        List.of(
            List.of("destroy", "pool/b@s1"),
            List.of("destroy", "-r", "pool/g"),
            List.of("snapshot", "pool/c@s2"),
            List.of("receive", "-u", "pool/d"),
            List.of("rename", "pool/e", "pool/f"))) {
      clock.mark(args);
    }
    for (var fs : List.of("pool/b", "pool/c", "pool/d", "pool/e", "pool/f", "pool/g")) {
      assertThat(clock.snapshotsUnchangedSince(p(fs), stamp)).as(fs).isFalse();
    }
  }
}
