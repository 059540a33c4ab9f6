package dev.zrepl4j.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.config.ConfigParser;
import dev.zrepl4j.replication.FuseFixture;
import dev.zrepl4j.replication.GuestFixture;
import dev.zrepl4j.rpc.Caller;
import dev.zrepl4j.zfs.RealZfs;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A {@code zfs} that hangs (zrepl#791: a hung pool) in a daemon with {@code
 * global.zrepl4j_zfs_command_timeout}: the command is killed at its deadline, the run fails naming
 * it in the status, {@code zrepl4j_zfscmd_timeouts_total} counts it, and the next run (the pool
 * well again) succeeds. The hang is a wrapper around zfs-fuse's {@code zfs} ({@code
 * ZREPL4J_ZFS}-style) that sleeps on {@code zfs list} while a marker file exists; on the OpenZFS
 * guest, the sleep is a process in the guest behind the ssh client that stands for {@code zfs}.
 */
@Timeout(240)
class ZfsDeadlineIT {
  @TempDir Path dir;

  @Test
  void aHungZfsIsKilledAtItsDeadlineReportedAndTheNextRunGoesOn() throws Exception {
    try (var fx = FuseFixture.create("ddead", 128)) {
      FuseFixture.run("zfs", "create", fx.path("a").toString());
      FuseFixture.run("zfs", "snapshot", fx.path("a") + "@one");
      hungListIsKilled(
          fx.name,
          "zfs",
          "zpool",
          "sleep 3596",
          "sleep 3596",
          Duration.ofSeconds(2),
          () -> fx.versions(fx.path("a")).stream().map(v -> v.name()).toList());
    }
  }

  /**
   * The same on the OpenZFS guest, where every {@code zfs} is an ssh client multiplexed into the
   * guest: the hung command is a real process in the guest ({@code sleep} run there through the
   * guest's exec wrapper in place of {@code zfs list}); the watchdog kills the ssh client on this
   * side with its children, the run fails, the next goes on. (The guest's own command, which reads
   * and writes nothing, runs on there until the wrapper's backstop; the test ends it.)
   */
  @Test
  void aHungZfsInTheGuestIsKilledAtItsDeadlineAndTheNextRunGoesOn() throws Exception {
    var guest = GuestFixture.fromEnvironment();
    var pool = "ddeadg";
    guest.createPool(pool);
    try {
      guest.zfs("create", pool + "/a").ok();
      guest.zfs("snapshot", pool + "/a@one").ok();
      hungListIsKilled(
          pool,
          System.getenv("ZREPL4J_GUEST_ZFS"),
          System.getenv("ZREPL4J_GUEST_ZPOOL"),
          System.getenv("ZREPL4J_GUEST_EXEC") + " sleep 3597",
          "sleep 3597",
          // a guest command takes 0.1-0.5 s (more on a loaded machine): room for the good run
          Duration.ofSeconds(10),
          () ->
              guest.versions(pool + "/a").stream()
                  .filter(v -> v.startsWith("@"))
                  .map(v -> v.substring(1))
                  .toList());
    } finally {
      guest.exec("pkill", "-f", "sleep 3597");
      guest.destroyPoolIfExists(pool);
    }
  }

  /** The snapshots of {@code pool/a}, by name. */
  @FunctionalInterface
  interface Snapshots {
    List<String> names() throws Exception;
  }

  /**
   * A snap job on {@code pool/a} whose {@code zfs} is a wrapper around {@code zfsCommand} that runs
   * {@code hang} in place of {@code zfs list} while a marker file exists: the hung listing is
   * killed at {@code limit}, the run fails naming it, the metric counts it, no process whose
   * command line holds {@code hangSeen} is left on this side; without the marker the next run
   * succeeds and nothing was destroyed.
   */
  private void hungListIsKilled(
      String pool,
      String zfsCommand,
      String zpoolCommand,
      String hang,
      String hangSeen,
      Duration limit,
      Snapshots snapshots)
      throws Exception {
    var marker = dir.resolve("hang");
    var wrapper = dir.resolve("zfs");
    Files.writeString(
        wrapper,
        """
        #!/bin/sh
        if [ -e %s ] && [ "$1" = list ]; then exec %s; fi
        exec %s "$@"
        """
            .formatted(marker, hang, zfsCommand));
    Files.setPosixFilePermissions(wrapper, PosixFilePermissions.fromString("rwxr-xr-x"));
    int port = TwoPoolsTest.freePort();
    var yaml =
        """
        global:
          control: {sockpath: %s}
          monitoring: [{type: prometheus, listen: "127.0.0.1:%d"}]
          zrepl4j_zfs_command_timeout: %ds
        jobs:
          - name: snaps
            type: snap
            filesystems: {"%s/a": true}
            snapshotting: {type: manual}
            pruning:
              keep: [{type: last_n, count: 10}]
        """
            .formatted(dir.resolve("run/control"), port, limit.toSeconds(), pool);
    var config = ConfigParser.parse(yaml, dir.resolve("zrepl.yml"));
    var zfs =
        RealZfs.start(List.of(wrapper.toString()), List.of(zpoolCommand))
            .withCommandTimeout(config.global().zfsCommandTimeout());
    try (var daemon = Daemon.start(config, zfs, Clock.systemUTC(), "test")) {
      var endpoints = daemon.new Endpoints();
      var caller = new Caller("test", "local");
      long before = daemon.status("snaps").jobs().getFirst().runs();

      Files.createFile(marker);
      endpoints.signal(new Control.SignalRequest("snaps", "wakeup"), caller);
      var failed = awaitRuns(daemon, before + 1);
      assertThat(failed.problems())
          .as("%s", failed)
          .anyMatch(p -> p.contains("did not finish within " + limit + " and was killed"));
      awaitNoDescendant(hangSeen);
      var metrics = scrape(port);
      assertThat(metrics)
          .containsPattern(
              "zrepl4j_zfscmd_timeouts_total\\{jobid=\"snaps\",zfsbinary=\"[^\"]*\","
                  + "zfsverb=\"list\"\\} [1-9]");

      Files.delete(marker);
      endpoints.signal(new Control.SignalRequest("snaps", "wakeup"), caller);
      var ok = awaitRuns(daemon, before + 2);
      assertThat(ok.problems()).as("%s", ok).isEmpty();
      assertThat(snapshots.names()).containsExactly("one");
    }
  }

  private static JobStatus.Run awaitRuns(Daemon d, long n) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
    while (true) {
      var j = d.status("snaps").jobs().getFirst();
      var last = j.lastRun();
      if (j.runs() >= n && last != null) {
        return last;
      }
      assertThat(System.nanoTime()).as("run %d: %s", n, j).isLessThan(deadline);
      Thread.sleep(50);
    }
  }

  private static String scrape(int port) throws Exception {
    try (var http = HttpClient.newHttpClient()) {
      return http.send(
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
              HttpResponse.BodyHandlers.ofString())
          .body();
    }
  }

  private static void awaitNoDescendant(String commandLine) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (ProcessHandle.current()
        .descendants()
        .anyMatch(h -> h.info().commandLine().orElse("").contains(commandLine))) {
      assertThat(System.nanoTime())
          .as("'%s' still runs after its command was killed", commandLine)
          .isLessThan(deadline);
      Thread.sleep(50);
    }
  }
}
