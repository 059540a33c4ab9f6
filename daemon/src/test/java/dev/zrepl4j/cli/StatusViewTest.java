package dev.zrepl4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zrepl4j.daemon.Control;
import dev.zrepl4j.daemon.JobStatus;
import java.time.Instant;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.DoubleRange;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.constraints.StringLength;
import org.junit.jupiter.api.Test;

/** The status view's text: lines, bars, truncation, the live screen's layout. */
class StatusViewTest {
  static final Instant NOW = Instant.parse("2026-12-06T14:00:30Z");

  static JobStatus.Fs stepping(String fs, long bytes, long expected) {
    return new JobStatus.Fs(
        fs, "STEPPING", 0, 1, bytes, "full " + fs + "@zrepl_1", expected, "2026-12-06T14:00:10Z");
  }

  static Control.StatusResponse status(JobStatus.Fs... current) {
    var push =
        new JobStatus(
            "push",
            "push",
            "replicating",
            "2026-12-06T15:00:00Z",
            1,
            new JobStatus.Run(
                "2026-12-06T13:00:00Z",
                2.5,
                "zrepl_0",
                List.of(
                    new JobStatus.Fs("pool/data", "REPLICATED", 1, 1, 624, ""),
                    new JobStatus.Fs("pool/other", "FAILED", 0, 1, 0, "zfs send: boom")),
                3,
                List.of("pool/other: FAILED: zfs send: boom")),
            List.of(current),
            null,
            List.of("pulled by 2 clients"),
            null,
            new dev.zrepl4j.replication.VerifyReport(
                "push",
                "2026-12-06T14:00:00Z",
                "2026-12-06T14:01:00Z",
                2,
                9,
                0,
                2,
                1 << 20,
                List.of(
                    new dev.zrepl4j.replication.VerifyReport.Problem(
                        "pool/data", "missing", "@zrepl_3 was received and is gone")),
                List.of()));
    var sink =
        new JobStatus(
            "sink", "sink", "serving", null, 0, null, List.of(), "refused", List.of(), null, null);
    return new Control.StatusResponse("0.1.0", "2026-12-06T12:00:00Z", List.of(push, sink));
  }

  @Test
  void aStepWithAnEstimateShowsBarBytesRateAndEta() {
    // 40 MiB of 100 MiB in 20 s: 2 MiB/s, 30 s left
    var line = StatusView.progressLine(stepping("pool/data", 40L << 20, 100L << 20), NOW, 120, 0);
    assertThat(line)
        .contains("[================>")
        .contains("40.0 MiB / 100.0 MiB")
        .contains("40%")
        .contains("2.0 MiB/s")
        .contains("ETA 30s");
    assertThat(line.length()).isLessThanOrEqualTo(120);
  }

  @Test
  void aStepWithoutAnEstimateShowsBytesAndRateAndAMovingMarker() {
    var f = stepping("pool/data", 10L << 20, -1);
    var a = StatusView.progressLine(f, NOW, 120, 0);
    var b = StatusView.progressLine(f, NOW, 120, 5);
    assertThat(a).contains("<=>").contains("10.0 MiB").contains("512.0 KiB/s");
    assertThat(a).contains("no size estimate").doesNotContain("ETA");
    assertThat(a).isNotEqualTo(b);
  }

  @Test
  void aNarrowLineDropsTheBarButKeepsTheNumbers() {
    var line = StatusView.progressLine(stepping("p", 40L << 20, 100L << 20), NOW, 50, 0);
    assertThat(line).doesNotContain("[").contains("40.0 MiB / 100.0 MiB");
  }

  @Test
  void dumpShowsEveryJobWithItsRunsErrorsAndWarnings() {
    var text =
        String.join("\n", StatusView.dump(status(stepping("pool/data", 1 << 20, -1)), "", NOW));
    assertThat(text)
        .contains("push (push): replicating")
        .contains("next run: 2026-12-06T15:00:00Z")
        .contains("* pool/data  step 1/1  full pool/data@zrepl_1")
        .contains("pool/data   REPLICATED  1/1 steps 624 B")
        .contains("problem: pool/other: FAILED: zfs send: boom")
        .contains("warning: pulled by 2 clients")
        .contains(
            "verify: 1 PROBLEM(S) at 2026-12-06T14:01:00Z (9 snapshots compared, 2 by content)")
        .contains("missing: pool/data: @zrepl_3 was received and is gone")
        .contains("sink (sink): serving")
        .contains("error: refused");
    assertThat(StatusView.dump(status(), "sink", NOW)).noneMatch(l -> l.contains("push"));
  }

  @Test
  void theScreenShowsTheSelectedJobAndTheFilterNarrowsFilesystems() {
    var s = status(stepping("pool/data", 1 << 20, 4 << 20), stepping("pool/zzz", 1 << 20, -1));
    var first = StatusView.screen(s, null, StatusView.ViewState.START, NOW, 120, 40, 0);
    assertThat(first).anyMatch(l -> l.contains("[push]")).anyMatch(l -> l.contains("pool/zzz"));
    var second = StatusView.ViewState.START.next(2);
    assertThat(StatusView.screen(s, null, second, NOW, 120, 40, 0))
        .anyMatch(l -> l.contains("[sink]"))
        .anyMatch(l -> l.startsWith("sink (sink)"))
        .noneMatch(l -> l.contains("pool/data"));
    assertThat(second.next(2)).isEqualTo(StatusView.ViewState.START);
    assertThat(StatusView.ViewState.START.previous(2).selected()).isEqualTo(1);
    var filtered = new StatusView.ViewState(0, "ZZ", false);
    assertThat(StatusView.screen(s, null, filtered, NOW, 120, 40, 0))
        .anyMatch(l -> l.equals("filter: ZZ"))
        .anyMatch(l -> l.contains("pool/zzz"))
        .noneMatch(l -> l.contains("pool/data"))
        .anyMatch(l -> l.contains("(2 filtered out)"));
  }

  @Test
  void aFetchErrorIsShownAboveTheLastStatus() {
    var lines =
        StatusView.screen(
            status(), "connection refused", StatusView.ViewState.START, NOW, 80, 24, 0);
    assertThat(lines.get(1)).isEqualTo("daemon not reachable: connection refused");
    assertThat(lines).anyMatch(l -> l.startsWith("push (push)"));
  }

  @Test
  void aTinyTerminalGetsCutLinesAndACountOfTheRest() {
    var lines =
        StatusView.screen(
            status(stepping("pool/data", 1 << 20, 4 << 20)),
            null,
            StatusView.ViewState.START,
            NOW,
            20,
            5,
            0);
    assertThat(lines).hasSize(5);
    assertThat(lines).allMatch(l -> l.length() <= 20);
    assertThat(lines.getFirst()).isEqualTo("zrepl4j status  tab…");
    assertThat(lines.getLast()).startsWith("… ").contains("more");
    assertThat(StatusView.screen(status(), null, StatusView.ViewState.START, NOW, 0, 0, 0))
        .isEmpty();
    assertThat(StatusView.screen(status(), null, StatusView.ViewState.START, NOW, 1, 1, 0))
        .containsExactly("…");
  }

  @Property
  void aBarIsExactlyAsWideAsAsked(
      @ForAll @DoubleRange(min = -1, max = 2) double fraction,
      @ForAll @IntRange(min = 2, max = 300) int width,
      @ForAll @LongRange(min = 0, max = Long.MAX_VALUE) long tick) {
    var bar = StatusView.bar(fraction, width, tick);
    assertThat(bar).hasSize(width).startsWith("[").endsWith("]");
    if (fraction >= 0) {
      long filled = bar.chars().filter(c -> c == '=').count();
      assertThat(filled).isEqualTo((long) Math.floor(Math.min(1, fraction) * (width - 2)));
    } else if (width >= 5) {
      assertThat(bar).contains("<=>");
    }
  }

  @Property
  void fittedLinesNeverExceedTheScreen(
      @ForAll List<@StringLength(max = 300) String> lines,
      @ForAll @IntRange(min = -2, max = 200) int width,
      @ForAll @IntRange(min = -2, max = 60) int height) {
    var out = StatusView.fit(lines, width, height);
    assertThat(out.size()).isLessThanOrEqualTo(Math.max(0, height));
    for (var l : out) {
      assertThat(l.codePointCount(0, l.length())).isLessThanOrEqualTo(width);
      assertThat(l).doesNotContain("\n").doesNotContain("\r").doesNotContain("\u001b");
    }
    if (width > 0 && height > 0 && !lines.isEmpty()) {
      assertThat(out).isNotEmpty();
    }
  }

  @Property
  void theScreenFitsAnyTerminal(
      @ForAll @IntRange(min = 0, max = 300) int width,
      @ForAll @IntRange(min = 0, max = 80) int height,
      @ForAll @LongRange(min = 0, max = 1L << 40) long bytes,
      @ForAll @LongRange(min = -1, max = 1L << 40) long expected) {
    var lines =
        StatusView.screen(
            status(stepping("pool/a/very/long/filesystem/name/that/goes/on", bytes, expected)),
            null,
            StatusView.ViewState.START,
            NOW,
            width,
            height,
            7);
    assertThat(lines.size()).isLessThanOrEqualTo(height);
    assertThat(lines).allMatch(l -> l.length() <= width);
  }
}
