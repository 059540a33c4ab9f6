package dev.zrepl4j.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The fault harness's pure parts: zfs-fuse's human sizes, the kinds a campaign draws from. */
class FaultHarnessTest {
  @Test
  void humanSizesOfZfsFuseAreReadAsBytesRoundedDown() {
    assertThat(FaultHarness.bytes("512")).isEqualTo(512);
    assertThat(FaultHarness.bytes("980K")).isEqualTo(980L << 10);
    assertThat(FaultHarness.bytes("412M")).isEqualTo(412L << 20);
    assertThat(FaultHarness.bytes("1.5G")).isEqualTo(3L << 29);
    assertThat(FaultHarness.bytes(" 2.25T\n")).isEqualTo(9L << 38);
  }

  @Test
  void aCampaignDrawsFromEveryKindOrOnlyTheChosenOnes() {
    var all = settings(Set.of());
    assertThat(all.kinds()).containsExactly(FaultHarness.Kind.values());
    var two = settings(Set.of(FaultHarness.Kind.CUT, FaultHarness.Kind.STALL));
    assertThat(two.kinds()).containsExactly(FaultHarness.Kind.CUT, FaultHarness.Kind.STALL);
  }

  private static FaultHarness.Settings settings(Set<FaultHarness.Kind> only) {
    return new FaultHarness.Settings(
        1, 10, false, 4, Duration.ofSeconds(1), only, Duration.ofMinutes(1));
  }
}
