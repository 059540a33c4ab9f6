package dev.zrepl4j.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.config.ConfigParser;
import dev.zrepl4j.replication.FuseFixture;
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
 * ZREPL4J_ZFS}-style) that sleeps on {@code zfs list} while a marker file exists.
 */
@Timeout(240)
class ZfsDeadlineIT {
  @TempDir Path dir;

  @Test
  void aHungZfsIsKilledAtItsDeadlineReportedAndTheNextRunGoesOn() throws Exception {
    var marker = dir.resolve("hang");
    var wrapper = dir.resolve("zfs");
    Files.writeString(
        wrapper,
        """
        #!/bin/sh
        if [ -e %s ] && [ "$1" = list ]; then sleep 3596; fi
        exec zfs "$@"
        """
            .formatted(marker));
    Files.setPosixFilePermissions(wrapper, PosixFilePermissions.fromString("rwxr-xr-x"));
    int port = TwoPoolsTest.freePort();
    try (var fx = FuseFixture.create("ddead", 128)) {
      FuseFixture.run("zfs", "create", fx.path("a").toString());
      FuseFixture.run("zfs", "snapshot", fx.path("a") + "@one");
      var yaml =
          """
          global:
            control: {sockpath: %s}
            monitoring: [{type: prometheus, listen: "127.0.0.1:%d"}]
            zrepl4j_zfs_command_timeout: 2s
          jobs:
            - name: snaps
              type: snap
              filesystems: {"%s/a": true}
              snapshotting: {type: manual}
              pruning:
                keep: [{type: last_n, count: 10}]
          """
              .formatted(dir.resolve("run/control"), port, fx.name);
      var config = ConfigParser.parse(yaml, dir.resolve("zrepl.yml"));
      var zfs =
          RealZfs.start(List.of(wrapper.toString()), List.of("zpool"))
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
            .anyMatch(p -> p.contains("did not finish within PT2S and was killed"));
        awaitNoDescendant("sleep 3596");
        var metrics = scrape(port);
        assertThat(metrics)
            .containsPattern(
                "zrepl4j_zfscmd_timeouts_total\\{jobid=\"snaps\",zfsbinary=\"[^\"]*\","
                    + "zfsverb=\"list\"\\} [1-9]");

        Files.delete(marker);
        endpoints.signal(new Control.SignalRequest("snaps", "wakeup"), caller);
        var ok = awaitRuns(daemon, before + 2);
        assertThat(ok.problems()).as("%s", ok).isEmpty();
        assertThat(fx.versions(fx.path("a"))).extracting(v -> v.name()).containsExactly("one");
      }
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
