package dev.zrepl4j.replication.snapshotting;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.replication.FuseFixture;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.FilesystemVersion;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link Snapshotter} command hooks as real processes on a zfs-fuse pool: timeout, err_is_fatal.
 */
@Timeout(120)
class SnapshotterHooksIT {
  private static final Instant T = Instant.parse("2026-01-01T00:00:00Z");

  private static Path script(Path dir, String name, String body) throws Exception {
    var p = dir.resolve(name);
    Files.writeString(p, "#!/bin/sh\n" + body + "\n");
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwx------"));
    return p;
  }

  private static List<String> snaps(FuseFixture fx, DatasetPath fs) throws Exception {
    return fx.zfs.listVersions(List.of(fs)).get(fs).stream()
        .filter(FilesystemVersion::isSnapshot)
        .map(FilesystemVersion::name)
        .toList();
  }

  @Test
  void hookTimeoutKillsFailingPreHookSkipsOnlyWhenFatalStderrInResult() throws Exception {
    try (var fx = FuseFixture.create("hooks", 64)) {
      var a = fx.path("a");
      var b = fx.path("b");
      var c = fx.path("c");
      for (var fs : List.of(a, b, c)) {
        fx.zfs.create(fs, Map.of());
      }
      var dir = Files.createTempDirectory("hooks");
      var marker = dir.resolve("slept-through");
      // sleeps past its timeout; would leave a marker if it were not killed
      var slow = script(dir, "slow.sh", "sleep 20\ntouch " + marker);
      // fails on pre_snapshot with a message on stderr
      var failing =
          script(
              dir,
              "fail.sh",
              "if [ \"$ZREPL_HOOKTYPE\" = pre_snapshot ]; then echo \"cannot quiesce $ZREPL_FS\" >&2;"
                  + " exit 3; fi");
      var snapper =
          new Snapshotter(
              fx.zfs,
              List.of(fx.root()),
              fs -> !fs.equals(fx.root()),
              SnapshotNameFormat.dense("zrepl_"),
              List.of(
                  new Snapshotter.CommandHook(
                      slow, Duration.ofMillis(500), false, fs -> fs.equals(c)),
                  new Snapshotter.CommandHook(
                      failing, Duration.ofSeconds(10), true, fs -> fs.equals(a)),
                  new Snapshotter.CommandHook(
                      failing, Duration.ofSeconds(10), false, fs -> fs.equals(b))),
              () -> T);
      long start = System.nanoTime();
      var r = snapper.snapshot(false);
      var took = Duration.ofNanos(System.nanoTime() - start);

      var name = "zrepl_20260101_000000_000";
      assertThat(r.name()).isEqualTo(name);
      // fatal failure on a: skipped; non-fatal on b and the timed-out hook on c: snapshotted
      assertThat(r.skipped()).containsExactly(a);
      assertThat(r.snapshotted()).containsExactlyInAnyOrder(b, c);
      assertThat(snaps(fx, a)).isEmpty();
      assertThat(snaps(fx, b)).containsExactly(name);
      assertThat(snaps(fx, c)).containsExactly(name);
      // pre and post of the slow hook on c each killed after 500 ms, not 20 s
      assertThat(took).isLessThan(Duration.ofSeconds(15));
      assertThat(r.hookFailures())
          .anySatisfy(
              f ->
                  assertThat(f)
                      .startsWith("pre_snapshot hook " + failing + " for " + a + " exited 3")
                      .contains("cannot quiesce " + a))
          .anySatisfy(
              f ->
                  assertThat(f)
                      .startsWith("pre_snapshot hook " + failing + " for " + b + " exited 3")
                      .contains("cannot quiesce " + b))
          .anySatisfy(
              f ->
                  assertThat(f)
                      .isEqualTo(
                          "pre_snapshot hook " + slow + " for " + c + " timed out after PT0.5S"))
          .anySatisfy(
              f ->
                  assertThat(f)
                      .isEqualTo(
                          "post_snapshot hook " + slow + " for " + c + " timed out after PT0.5S"))
          .hasSize(4);
      Thread.sleep(1000);
      assertThat(marker).doesNotExist();
    }
  }

  /** A builtin hook that records its edges in {@code events} and fails its pre edge if asked. */
  private static Snapshotter.BuiltinHook recorder(
      String name, boolean fatal, DatasetPath only, boolean failPre, List<String> events) {
    return new Snapshotter.BuiltinHook(
        name,
        fatal,
        only::equals,
        (fs, snap, dry) -> {
          events.add("pre " + name + " " + fs.toString().replaceAll(".*/", ""));
          if (failPre) {
            throw new java.io.IOException("cannot lock");
          }
          return () -> events.add("post " + name + " " + fs.toString().replaceAll(".*/", ""));
        });
  }

  @Test
  void builtinPostEdgesRunOnlyAfterTheirPreEdgeSucceededAndAlwaysThen() throws Exception {
    try (var fx = FuseFixture.create("builtin", 64)) {
      var a = fx.path("a");
      var b = fx.path("b");
      var c = fx.path("c");
      for (var fs : List.of(a, b, c)) {
        fx.zfs.create(fs, Map.of());
      }
      var events = new java.util.concurrent.CopyOnWriteArrayList<String>();
      var snapper =
          new Snapshotter(
              fx.zfs,
              List.of(fx.root()),
              fs -> !fs.equals(fx.root()),
              SnapshotNameFormat.dense("zrepl_"),
              List.of(
                  // a: lock, then a fatal failure: skipped, the lock released at once
                  recorder("lock", false, a, false, events),
                  recorder("fatal", true, a, true, events),
                  // b: a non-fatal failure: snapshotted, no post edge for the failed hook
                  recorder("lock", false, b, false, events),
                  recorder("flaky", false, b, true, events),
                  // c: lock held across the snapshot
                  recorder("lock", false, c, false, events)),
              () -> T);
      var r = snapper.snapshot(false);
      assertThat(r.skipped()).containsExactly(a);
      assertThat(r.snapshotted()).containsExactlyInAnyOrder(b, c);
      assertThat(r.hookFailures())
          .containsExactlyInAnyOrder(
              "pre_snapshot hook fatal for " + a + " failed: cannot lock",
              "pre_snapshot hook flaky for " + b + " failed: cannot lock");
      assertThat(events)
          .containsExactly(
              "pre lock a",
              "pre fatal a",
              "post lock a",
              "pre lock b",
              "pre flaky b",
              "pre lock c",
              "post lock b",
              "post lock c");

      // the same name again: zfs snapshot fails, and every held lock is still released
      events.clear();
      assertThatThrownBy(() -> snapper.snapshot(false)).isInstanceOf(java.io.IOException.class);
      assertThat(events)
          .containsExactlyInAnyOrder(
              "pre lock a",
              "pre fatal a",
              "post lock a",
              "pre lock b",
              "pre flaky b",
              "pre lock c",
              "post lock b",
              "post lock c");
    }
  }
}
