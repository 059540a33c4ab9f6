package dev.zrepl4j.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.zrepl4j.replication.pruning.Durations;
import java.time.Duration;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.api.Test;

/** The size parser of the config, and the duration parser it reuses from replication. */
class DataSizesTest {

  @Test
  void parsesZreplExamples() {
    assertThat(DataSizes.parseBytes("23.5 MiB")).isEqualTo((long) (23.5 * 1024 * 1024));
    assertThat(DataSizes.parseBytes("12345 B")).isEqualTo(12345);
    assertThat(DataSizes.parseBytes("-1 B")).isEqualTo(-1);
    assertThat(DataSizes.parseBytes("128 KiB")).isEqualTo(128 * 1024);
    assertThat(DataSizes.parseBytes("1KB")).isEqualTo(1000);
    assertThat(DataSizes.parseBytes("8 Kib")).isEqualTo(1024);
    assertThat(DataSizes.parseBytes("800 bit")).isEqualTo(100);
    assertThat(DataSizes.parseBytes("100 Mb")).isEqualTo(12_500_000);
    assertThat(DataSizes.parseBytes("2 GiB")).isEqualTo(2L << 30);
    assertThat(DataSizes.parseBytes("1 TB")).isEqualTo(1_000_000_000_000L);
    assertThat(DataSizes.parseBytes("1 Ti" + "B")).isEqualTo(1L << 40);
    assertThat(DataSizes.parseBytes(".5 KiB")).isEqualTo(512);
  }

  @Test
  void rejectsWhatZreplRejects() {
    for (var bad :
        new String[] {
          "",
          "10",
          "10 MiBps",
          "10 kB",
          "B",
          "1.2.3 B",
          " 10 B",
          "10 B ",
          "1e3 B",
          "10 PiB",
          "1--1 B",
          "99999999999 TiB"
        }) {
      assertThatThrownBy(() -> DataSizes.parseBytes(bad))
          .as("'%s'", bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("'" + bad + "'");
    }
  }

  @Provide
  Arbitrary<String> binaryUnits() {
    return Arbitraries.of("B", "KiB", "MiB", "GiB");
  }

  @Property
  void binaryUnitsArePowersOf1024(
      @ForAll @IntRange(min = 0, max = 1_000_000) int n,
      @ForAll("binaryUnits") String unit,
      @ForAll boolean space) {
    long mult =
        switch (unit) {
          case "B" -> 1;
          case "KiB" -> 1L << 10;
          case "MiB" -> 1L << 20;
          default -> 1L << 30;
        };
    assertThat(DataSizes.parseBytes(n + (space ? " " : "") + unit)).isEqualTo(n * mult);
  }

  @Property
  void bitsAreAnEighthOfBytes(@ForAll @LongRange(min = 0, max = 1L << 40) long n) {
    assertThat(DataSizes.parseBytes(n * 8 + " bit")).isEqualTo(DataSizes.parseBytes(n + " B"));
    assertThat(DataSizes.parseBytes(n + " B")).isEqualTo(n);
  }

  @Provide
  Arbitrary<String> units() {
    return Arbitraries.of("", "s", "m", "h", "d", "w");
  }

  @Property
  void durationsAreAnIntegerAndOneUnit(
      @ForAll @IntRange(min = -100_000, max = 100_000) int n,
      @ForAll("units") String unit,
      @ForAll boolean spaces) {
    long seconds =
        switch (unit) {
          case "", "s" -> 1;
          case "m" -> 60;
          case "h" -> 3600;
          case "d" -> 86_400;
          default -> 7 * 86_400;
        };
    var s = spaces ? "  " + n + " " + unit + " " : n + unit;
    assertThat(Durations.parse(s)).isEqualTo(Duration.ofSeconds(n * seconds));
  }

  @Test
  void durationSyntaxIsZreplsRegex() {
    assertThat(Durations.parse("600")).isEqualTo(Duration.ofMinutes(10));
    assertThat(Durations.parse("+5m")).isEqualTo(Duration.ofMinutes(5));
    assertThat(Durations.parse("1w")).isEqualTo(Duration.ofDays(7));
    for (var bad : new String[] {"", "1m30s", "1y", "10 minutes", "1.5h", "m", "1 0s"}) {
      assertThatThrownBy(() -> Durations.parse(bad))
          .as("'%s'", bad)
          .isInstanceOf(IllegalArgumentException.class);
    }
  }
}
