package dev.zrepl4j.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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

  /** Kills the processes whose pids the files in {@code dir} named {@code prefix*} hold. */
  private static void killRecorded(Path dir, String prefix) throws Exception {
    try (var files = Files.newDirectoryStream(dir, prefix + "*")) {
      for (var f : files) {
        ProcessHandle.of(Long.parseLong(Files.readString(f).strip()))
            .ifPresent(ProcessHandle::destroyForcibly);
      }
    }
  }

  private static long recordedPid(Path file) throws Exception {
    return Long.parseLong(Files.readString(file).strip());
  }

  /**
   * A hook that leaves a background child holding its stdout open (`sleep 600 &`), whether it exits
   * at once or is killed at its timeout (the child detached by a subshell, no longer its
   * descendant): the job goes on after a bounded wait, and the child holding the output is killed.
   */
  @Test
  @Timeout(90)
  void aHookLeavingABackgroundChildHoldingItsOutputDoesNotHangTheJob() throws Exception {
    var dir = Files.createTempDirectory("hooks");
    try (var fx = FuseFixture.create("hookbg", 64)) {
      var a = fx.path("a");
      var b = fx.path("b");
      for (var fs : List.of(a, b)) {
        fx.zfs.create(fs, Map.of());
      }
      var exits =
          script(
              dir,
              "exits.sh",
              // it exits while its output is being read (a reader that is between two reads when
              // a process exits gets EOF from the JDK, which drains and closes the pipe then)
              "sleep 600 &\necho $! > " + dir + "/bg-exits-$ZREPL_HOOKTYPE\nsleep 0.5\nexit 0");
      var hangs =
          script(
              dir,
              "hangs.sh",
              "(sleep 600 & echo $! > " + dir + "/bg-hangs-$ZREPL_HOOKTYPE)\nsleep 30");
      var snapper =
          new Snapshotter(
              fx.zfs,
              List.of(fx.root()),
              fs -> !fs.equals(fx.root()),
              SnapshotNameFormat.dense("zrepl_"),
              List.of(
                  new Snapshotter.CommandHook(
                      exits, Duration.ofSeconds(10), true, fs -> fs.equals(a)),
                  new Snapshotter.CommandHook(
                      hangs, Duration.ofMillis(500), false, fs -> fs.equals(b))),
              () -> T);
      long start = System.nanoTime();
      var r = snapper.snapshot(false);
      var took = Duration.ofNanos(System.nanoTime() - start);

      var name = "zrepl_20260101_000000_000";
      assertThat(r.snapshotted()).containsExactlyInAnyOrder(a, b);
      assertThat(snaps(fx, a)).containsExactly(name);
      assertThat(r.hookFailures())
          .containsExactlyInAnyOrder(
              "pre_snapshot hook " + hangs + " for " + b + " timed out after PT0.5S",
              "post_snapshot hook " + hangs + " for " + b + " timed out after PT0.5S");
      // four hook runs, each at most its timeout plus the bounded waits for its output
      assertThat(took).isLessThan(Duration.ofSeconds(40));
      // the children that held the output open are gone
      for (var f :
          List.of(
              "bg-exits-pre_snapshot",
              "bg-exits-post_snapshot",
              "bg-hangs-pre_snapshot",
              "bg-hangs-post_snapshot")) {
        var pid = recordedPid(dir.resolve(f));
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)
            && System.nanoTime() < deadline) {
          Thread.sleep(50);
        }
        assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false))
            .as("background child %s (%s) killed", pid, f)
            .isFalse();
      }
    } finally {
      killRecorded(dir, "bg-");
    }
  }

  /**
   * A hook writing 64 MiB without a newline: the job completes in bounded time, the kept line is
   * truncated with a marker, and reading it allocates far less than the line.
   */
  @Test
  @Timeout(90)
  void aHookLineWithoutNewlineIsTruncatedAndCostsBoundedMemory() throws Exception {
    var dir = Files.createTempDirectory("hooks");
    try (var fx = FuseFixture.create("hookline", 64)) {
      var a = fx.path("a");
      fx.zfs.create(a, Map.of());
      var noisy =
          script(
              dir,
              "noisy.sh",
              "if [ \"$ZREPL_HOOKTYPE\" = pre_snapshot ]; then"
                  + " head -c 67108864 /dev/zero | tr '\\000' x >&2; exit 1; fi");
      var snapper =
          new Snapshotter(
              fx.zfs,
              List.of(fx.root()),
              fs -> !fs.equals(fx.root()),
              SnapshotNameFormat.dense("zrepl_"),
              List.of(
                  new Snapshotter.CommandHook(
                      noisy, Duration.ofSeconds(60), false, fs -> fs.equals(a))),
              () -> T);
      var threads =
          (com.sun.management.ThreadMXBean)
              java.lang.management.ManagementFactory.getThreadMXBean();
      long allocated = threads.getTotalThreadAllocatedBytes();
      long start = System.nanoTime();
      var r = snapper.snapshot(false);
      var took = Duration.ofNanos(System.nanoTime() - start);
      allocated = threads.getTotalThreadAllocatedBytes() - allocated;

      assertThat(r.snapshotted()).containsExactly(a);
      assertThat(took).isLessThan(Duration.ofSeconds(60));
      assertThat(r.hookFailures()).hasSize(1);
      var failure = r.hookFailures().getFirst();
      // the length first: a failing assertion on the text would print all of it
      assertThat(failure.length()).as("length of the hook's failure").isLessThan(8 * 1024);
      assertThat(failure)
          .startsWith("pre_snapshot hook " + noisy + " for " + a + " exited 1: xxxx")
          .contains("[line truncated: ");
      assertThat(allocated).as("bytes allocated reading 64 MiB").isLessThan(24L << 20);
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
