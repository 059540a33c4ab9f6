package dev.zrepl4j.replication.pruning;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** The seed's retention-grid tests (SEED-SPEC.md §3), ported exactly, plus parse edge cases. */
class RetentionGridTest {

  /** The seed test notation {@code dur[,keep]|…} (util/retentiongrid_test.go). */
  static RetentionGrid testGrid(String spec) {
    var out = new ArrayList<RetentionGrid.Interval>();
    for (var term : spec.split("\\|")) {
      var parts = term.split(",");
      int keep = parts.length > 1 ? Integer.parseInt(parts[1]) : 1;
      out.add(new RetentionGrid.Interval(Durations.parse(parts[0]), keep));
    }
    return new RetentionGrid(out);
  }

  record Entry(String name, Instant date) {}

  static Entry e(String name, int minutes) {
    return new Entry(name, Instant.EPOCH.plus(Duration.ofMinutes(minutes)));
  }

  static final Function<Entry, Instant> DATE = Entry::date;

  static List<String> names(List<Entry> es) {
    return es.stream().map(Entry::name).toList();
  }

  @Test
  void parseRetentionGridStringParsing() {
    var g = RetentionGrid.parse("2x10m(keep=2) | 1x1h | 3x1w");
    assertThat(g.intervals())
        .containsExactly(
            new RetentionGrid.Interval(Duration.ofMinutes(10), 2),
            new RetentionGrid.Interval(Duration.ofMinutes(10), 2),
            new RetentionGrid.Interval(Duration.ofHours(1), 1),
            new RetentionGrid.Interval(Duration.ofDays(7), 1),
            new RetentionGrid.Interval(Duration.ofDays(7), 1),
            new RetentionGrid.Interval(Duration.ofDays(7), 1));
    assertThatThrownBy(() -> RetentionGrid.parse("|")).isInstanceOf(IllegalArgumentException.class);
    assertThat(RetentionGrid.parse("2x10m").intervals()).hasSize(2);
    assertThat(RetentionGrid.parse("1x10m(keep=all)").intervals())
        .containsExactly(new RetentionGrid.Interval(Duration.ofMinutes(10), -1));
  }

  @Test
  void parsesSampleGridsWithSpaces() {
    assertThat(RetentionGrid.parse("6x10m | 24x1h | 7x1d | 5 x 1w | 4 x 5w").intervals())
        .hasSize(46);
    assertThat(RetentionGrid.parse("1x1h(keep=all) | 24x1h | 14x1d").intervals()).hasSize(39);
    assertThat(RetentionGrid.parse(" 1 x 10m ( keep = 0 ) ").intervals().getFirst().keep())
        .isZero();
  }

  @Test
  void rejectsDecreasingLengthsAndBadTermsNamingThem() {
    assertThatThrownBy(() -> RetentionGrid.parse("1x1h | 1x10m"))
        .hasMessageContaining("monotonically increasing");
    assertThatThrownBy(() -> RetentionGrid.parse("1x1h(foo=2)"))
        .hasMessageContaining("1x1h(foo=2)");
    assertThatThrownBy(() -> RetentionGrid.parse("0x1h")).hasMessageContaining("0x1h");
    assertThatThrownBy(() -> RetentionGrid.parse("1x1y")).hasMessageContaining("1y");
    assertThatThrownBy(() -> RetentionGrid.parse("1x0s")).hasMessageContaining("positive");
  }

  @Test
  void retentionGridFitEntriesEmptyInput() {
    var fit = testGrid("10m|10m|10m|1h").fit(Instant.EPOCH, List.<Entry>of(), DATE);
    assertThat(fit.keep()).isEmpty();
    assertThat(fit.remove()).isEmpty();
  }

  @Test
  void retentionGridFitEntriesIntervalBoundariesAndAlignment() {
    var entries =
        List.of(e("1", 1), e("0", 0), e("-10", -10), e("-20", -20), e("-30", -30), e("-40", -40));
    var fit = testGrid("10m|10m|10m").fit(Instant.EPOCH, entries, DATE);
    assertThat(names(fit.keep())).containsExactly("1", "0", "-10", "-20", "-30");
    assertThat(names(fit.remove())).containsExactly("-40");
  }

  @Test
  void retentionGridFitEntries() {
    var entries =
        List.of(
            e("+3", 3),
            e("-6", -6),
            e("-8", -8),
            e("-9", -9),
            e("-11", -11),
            e("-19", -19),
            e("-25", -25),
            e("-26", -26),
            e("-30", -30),
            e("-75", -75),
            e("-91", -91),
            e("-120", -120));
    var fit = testGrid("10m,-1|10m|10m,2|1h").fit(Instant.EPOCH, entries, DATE);
    assertThat(fit.keep())
        .extracting(Entry::name)
        .containsExactlyInAnyOrder("+3", "-6", "-8", "-9", "-19", "-26", "-30", "-75");
    assertThat(fit.remove())
        .extracting(Entry::name)
        .containsExactlyInAnyOrder("-11", "-25", "-91", "-120");
    // seed output order: future first, too-old first
    assertThat(fit.keep().getFirst().name()).isEqualTo("+3");
    assertThat(names(fit.remove()).subList(0, 2)).containsExactly("-91", "-120");
  }
}
