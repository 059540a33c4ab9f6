package dev.zrepl4j.replication.snapshotting;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;

class SnapshottingTest {
  static final Instant T = Instant.parse("2017-08-19T12:34:56Z");

  @Test
  void formatsZreplTimestamps() {
    assertThat(SnapshotNameFormat.dense("zrepl_hfbak_").name(T))
        .isEqualTo("zrepl_hfbak_20170819_123456_000");
    assertThat(new SnapshotNameFormat("z_", "human", "UTC").name(T))
        .isEqualTo("z_2017-08-19_12:34:56");
    assertThat(new SnapshotNameFormat("z_", "iso-8601", "UTC").name(T))
        .isEqualTo("z_2017-08-19T12:34:56.000Z");
    assertThat(new SnapshotNameFormat("z_", "iso-8601", "Europe/Berlin").name(T))
        .isEqualTo("z_2017-08-19T14:34:56.000_02:00");
    assertThat(new SnapshotNameFormat("z_", "unix-seconds", "UTC").name(T))
        .isEqualTo("z_1503146096");
    assertThat(new SnapshotNameFormat("z_", "2006-01-02_1504", "UTC").name(T))
        .isEqualTo("z_2017-08-19_1234");
  }

  @Test
  void rejectsBadFormatLocationAndPrefixNamingThem() {
    assertThatThrownBy(() -> new SnapshotNameFormat("z_", "nonsense", "UTC"))
        .hasMessageContaining("'nonsense'");
    assertThatThrownBy(() -> new SnapshotNameFormat("z_", "dense", "Mars/Olympus"))
        .hasMessageContaining("'Mars/Olympus'");
    assertThatThrownBy(() -> SnapshotNameFormat.dense("a@b")).hasMessageContaining("'a@b'");
  }

  @Test
  void timestampLocationOnlyWithAFormatThatCarriesAZone() {
    for (var f : List.of("dense", "human", "unix-seconds", "2006-01-02_1504")) {
      assertThatThrownBy(() -> new SnapshotNameFormat("z_", f, "Europe/Berlin"))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("timestamp_location 'Europe/Berlin'")
          .hasMessageContaining("'" + f + "'")
          .hasMessageContaining("carries a zone");
      assertThatThrownBy(() -> new SnapshotNameFormat("z_", f, "Local"))
          .hasMessageContaining("'Local'");
      // UTC, the default, goes with every format
      assertThat(new SnapshotNameFormat("z_", f, "UTC").name(T)).startsWith("z_");
    }
    assertThat(new SnapshotNameFormat("z_", "2006-01-02_1504-0700", "Europe/Berlin").name(T))
        .isEqualTo("z_2017-08-19_1434_0200");
    assertThat(new SnapshotNameFormat("z_", "2006-01-02_1504Z07:00", "Local").name(T))
        .startsWith("z_2017-08-19_");
    assertThat(new SnapshotNameFormat("z_", "2006-01-02_1504_MST", "America/New_York").name(T))
        .startsWith("z_2017-08-19_0834_");
  }

  @Test
  void periodicFollowsTheNewestSnapshotOfAnyFilesystem() {
    var p = new PeriodicSchedule(Duration.ofMinutes(10));
    assertThat(p.next(T, List.of())).isEqualTo(T);
    assertThat(p.next(T, List.of(T.minusSeconds(60), T.minusSeconds(500))))
        .isEqualTo(T.plusSeconds(540));
    assertThat(p.next(T, List.of(T.minusSeconds(3600)))).isEqualTo(T);
  }

  @Test
  void cronFiveAndSixFieldsRangesListsStepsNames() {
    var utc = ZoneOffset.UTC;
    assertThat(CronSchedule.parse("*/15 * * * *", utc).next(T))
        .isEqualTo(Instant.parse("2017-08-19T12:45:00Z"));
    assertThat(CronSchedule.parse("30 */15 * * * *", utc).next(T))
        .isEqualTo(Instant.parse("2017-08-19T12:45:30Z"));
    // 2017-08-19 is a Saturday
    assertThat(CronSchedule.parse("0 9-17/4 * * MON-FRI", utc).next(T))
        .isEqualTo(Instant.parse("2017-08-21T09:00:00Z"));
    assertThat(CronSchedule.parse("0 0 1 JAN,jul *", utc).next(T))
        .isEqualTo(Instant.parse("2018-01-01T00:00:00Z"));
    // dom and dow both restricted: either matches
    assertThat(CronSchedule.parse("0 0 20 * MON", utc).next(T))
        .isEqualTo(Instant.parse("2017-08-20T00:00:00Z"));
    assertThat(CronSchedule.parse("@hourly", utc).next(T))
        .isEqualTo(Instant.parse("2017-08-19T13:00:00Z"));
    assertThatThrownBy(() -> CronSchedule.parse("61 * * * *", utc)).hasMessageContaining("'61'");
    assertThatThrownBy(() -> CronSchedule.parse("* * *", utc)).hasMessageContaining("5 or 6");
  }

  @Test
  void cronSkipsTheDstGapAndFiresOnceInTheOverlap() {
    var berlin = ZoneId.of("Europe/Berlin");
    // 2024-03-31 02:30 does not exist in Berlin: next 02:30 is on April 1st
    var c = CronSchedule.parse("30 2 * * *", berlin);
    assertThat(c.next(Instant.parse("2024-03-30T23:00:00Z")))
        .isEqualTo(Instant.parse("2024-04-01T00:30:00Z"));
    // 2024-10-27 02:30 happens twice; fires at the first, then the next day
    var first = c.next(Instant.parse("2024-10-26T22:00:00Z"));
    assertThat(first).isEqualTo(Instant.parse("2024-10-27T00:30:00Z"));
    assertThat(c.next(first)).isEqualTo(Instant.parse("2024-10-28T01:30:00Z"));
  }
}
