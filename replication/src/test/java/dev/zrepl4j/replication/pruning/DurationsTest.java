package dev.zrepl4j.replication.pruning;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class DurationsTest {
  @Test
  void parsesZreplUnits() {
    assertThat(Durations.parse("10m")).isEqualTo(Duration.ofMinutes(10));
    assertThat(Durations.parse(" 2 h ")).isEqualTo(Duration.ofHours(2));
    assertThat(Durations.parse("1d")).isEqualTo(Duration.ofDays(1));
    assertThat(Durations.parse("1w")).isEqualTo(Duration.ofDays(7));
    assertThat(Durations.parse("30")).isEqualTo(Duration.ofSeconds(30));
    assertThat(Durations.parse("-5s")).isEqualTo(Duration.ofSeconds(-5));
    assertThat(Durations.parse("0s")).isZero();
  }

  @Test
  void rejectsCompoundAndUnknownUnitsNamingTheValue() {
    assertThatThrownBy(() -> Durations.parse("1m30s")).hasMessageContaining("'1m30s'");
    assertThatThrownBy(() -> Durations.parse("1y")).hasMessageContaining("'1y'");
    assertThatThrownBy(() -> Durations.parse("")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Durations.parse("99999999999999999999w"))
        .hasMessageContaining("out of range");
    assertThatThrownBy(() -> Durations.parsePositive("0s")).hasMessageContaining("positive");
  }
}
