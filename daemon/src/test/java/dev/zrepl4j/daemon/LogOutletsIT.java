package dev.zrepl4j.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.LoggerContext;
import dev.zrepl4j.config.DaemonConfig.LogOutlet;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The syslog outlet against a real rsyslogd started by the test on its own socket. */
class LogOutletsIT {
  @TempDir Path dir;

  @Test
  void syslogOutletReachesARealRsyslogdWithFacilitySeverityAndFields() throws Exception {
    var stdout = new ByteArrayOutputStream();
    var ctx = new LoggerContext();
    ctx.start();
    try (var rsyslogd = TestRsyslogd.start(dir);
        var o =
            LogOutlets.install(
                List.of(
                    new LogOutlet.Stdout("error", "human", false, false),
                    new LogOutlet.Syslog("info", "logfmt", "local3", Duration.ofMillis(200))),
                ctx,
                new LogOutlets.Options(
                    new PrintStream(stdout, true, StandardCharsets.UTF_8),
                    false,
                    List.of(dir.resolve("nothing-here"), rsyslogd.socket),
                    ZoneOffset.UTC,
                    OutletAppender.BUFFER))) {
      try (var _ = LogContext.job("prod_to_backup")) {
        var log = ctx.getLogger("dev.zrepl4j.replication.pruning.Pruner");
        log.debug("not for syslog");
        log.info("pruned {} snapshots", 3);
        log.warn("a \"quoted\" warning");
        log.error("failed");
      }
      LogOutletsTest.await(
          () -> lines(rsyslogd).size() >= 3, Duration.ofSeconds(10), "3 messages in rsyslog");
      var got = lines(rsyslogd);
      assertThat(got).hasSize(3);
      assertThat(got)
          .extracting(l -> l.substring(0, l.indexOf(' ')))
          .containsExactly("local3.info", "local3.warning", "local3.err");
      for (var l : got) {
        assertThat(l.split(" ", 3)[1]).isEqualTo("zrepl");
        var m = Logfmt.parse(l.split(" ", 3)[2].strip());
        // syslog carries time and level itself: zrepl leaves them out of the message
        assertThat(m).doesNotContainKeys("time", "level");
        assertThat(m).containsEntry("job", "prod_to_backup").containsEntry("subsystem", "pruning");
      }
      assertThat(Logfmt.parse(got.get(0).split(" ", 3)[2].strip()))
          .containsEntry("msg", "pruned 3 snapshots");
      assertThat(Logfmt.parse(got.get(1).split(" ", 3)[2].strip()))
          .containsEntry("msg", "a \"quoted\" warning");
      assertThat(o.stats().dropped()).isZero();
      assertThat(stdout.toString(StandardCharsets.UTF_8)).contains("failed");
    } finally {
      ctx.stop();
    }
  }

  @Test
  void syslogOutletThatIsDownReportsOnceAndComesBackAfterRetryInterval() throws Exception {
    var stdout = new ByteArrayOutputStream();
    var ctx = new LoggerContext();
    ctx.start();
    var sockDir = Files.createDirectories(dir.resolve("later"));
    try (var o =
        LogOutlets.install(
            List.of(
                new LogOutlet.Stdout("warn", "logfmt", false, false),
                new LogOutlet.Syslog("info", "json", "daemon", Duration.ofMillis(300))),
            ctx,
            new LogOutlets.Options(
                new PrintStream(stdout, true, StandardCharsets.UTF_8),
                false,
                List.of(sockDir.resolve("log.sock")),
                ZoneOffset.UTC,
                OutletAppender.BUFFER))) {
      var log = ctx.getLogger("dev.zrepl4j.daemon.Daemon");
      String reports;
      for (int i = 0; i < 10; i++) {
        log.info("lost {}", i);
      }
      LogOutletsTest.await(
          () -> o.stats().outlets().get(1).dropped() == 10, Duration.ofSeconds(10), "10 drops");
      try (var rsyslogd = TestRsyslogd.start(sockDir)) {
        // entries keep coming; once retry_interval has passed the outlet reconnects
        LogOutletsTest.await(
            () -> {
              log.info("again");
              return !lines(rsyslogd).isEmpty();
            },
            Duration.ofSeconds(10),
            "rsyslogd to receive after the outlet reconnects");
        assertThat(lines(rsyslogd).getFirst()).startsWith("daemon.info zrepl ");
        assertThat(lines(rsyslogd).getFirst()).contains("\"msg\":\"again\"");
        // read while rsyslogd is still up: "again" entries still queued fail once it is stopped
        reports = stdout.toString(StandardCharsets.UTF_8);
      }
      var out = reports.lines().map(Logfmt::parse).toList();
      assertThat(out).extracting(m -> m.get("msg")).anyMatch(m -> m.startsWith("cannot write"));
      assertThat(out)
          .filteredOn(m -> m.get("msg").startsWith("cannot write"))
          .hasSize(1)
          .first()
          .satisfies(m -> assertThat(m.get("outlet")).startsWith("#1 syslog"));
      assertThat(out)
          .extracting(m -> m.get("msg"))
          .anyMatch(m -> m.contains("entries were dropped while it was down"));
    } finally {
      ctx.stop();
    }
  }

  @Test
  void aRestartedRsyslogdLosesNothingAndIsNoOutage() throws Exception {
    var stdout = new ByteArrayOutputStream();
    var ctx = new LoggerContext();
    ctx.start();
    var sockDir = Files.createDirectories(dir.resolve("restarted"));
    var first = TestRsyslogd.start(sockDir);
    // a retry interval of an hour: only an immediate reconnect can bring the second entry
    try (var o =
        LogOutlets.install(
            List.of(
                new LogOutlet.Stdout("warn", "logfmt", false, false),
                new LogOutlet.Syslog("info", "logfmt", "daemon", Duration.ofHours(1))),
            ctx,
            new LogOutlets.Options(
                new PrintStream(stdout, true, StandardCharsets.UTF_8),
                false,
                List.of(first.socket),
                ZoneOffset.UTC,
                OutletAppender.BUFFER))) {
      var log = ctx.getLogger("dev.zrepl4j.daemon.Daemon");
      log.info("before the restart");
      LogOutletsTest.await(
          () -> lines(first).size() == 1, Duration.ofSeconds(10), "the first entry in rsyslog");
      first.close();
      try (var second = TestRsyslogd.start(sockDir)) {
        log.info("after the restart");
        LogOutletsTest.await(
            () -> lines(second).size() == 2, Duration.ofSeconds(10), "the second entry in rsyslog");
        assertThat(lines(second).get(1)).contains("after the restart");
      }
      assertThat(o.stats().outlets().get(1).dropped()).isZero();
      assertThat(stdout.toString(StandardCharsets.UTF_8)).doesNotContain("cannot write");
    } finally {
      first.close();
      ctx.stop();
    }
  }

  private static List<String> lines(TestRsyslogd r) {
    try {
      return r.output();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
