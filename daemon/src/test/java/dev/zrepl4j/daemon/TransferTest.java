package dev.zrepl4j.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.api.Test;

/** The arithmetic and formatting of a transfer's progress. */
class TransferTest {

  @Test
  void rateFractionAndEtaOfAnEstimatedTransfer() {
    var t = new Transfer(40L << 20, 100L << 20, Duration.ofSeconds(20));
    assertThat(t.rate()).isEqualTo((40L << 20) / 20.0);
    assertThat(t.fraction()).isEqualTo(0.4);
    assertThat(t.etaSeconds()).isEqualTo(30);
    assertThat(t.describe()).isEqualTo("40.0 MiB of 100.0 MiB (40%), 2.0 MiB/s, ETA 30s");
  }

  @Test
  void withoutAnEstimateThereIsNoFractionNorEta() {
    var t = new Transfer(3 << 20, -1, Duration.ofSeconds(3));
    assertThat(t.estimated()).isFalse();
    assertThat(t.fraction()).isEqualTo(-1);
    assertThat(t.etaSeconds()).isEqualTo(-1);
    assertThat(t.describe()).isEqualTo("3.0 MiB, 1.0 MiB/s");
  }

  @Test
  void nothingSentYetHasNoEtaAndAnEstimateTooSmallEndsAtZero() {
    assertThat(new Transfer(0, 1000, Duration.ofSeconds(5)).etaSeconds()).isEqualTo(-1);
    assertThat(new Transfer(0, 1000, Duration.ZERO).rate()).isZero();
    var over = new Transfer(2000, 1000, Duration.ofSeconds(1));
    assertThat(over.fraction()).isEqualTo(1.0);
    assertThat(over.etaSeconds()).isZero();
    assertThat(new Transfer(0, 0, Duration.ZERO).fraction()).isEqualTo(1.0);
  }

  @Test
  void badValuesAreRefusedAndAClockStepBackIsNoTime() {
    assertThatThrownBy(() -> new Transfer(-1, 5, Duration.ZERO))
        .hasMessageContaining("negative bytes");
    assertThatThrownBy(() -> new Transfer(1, -2, Duration.ZERO)).hasMessageContaining("< -1");
    assertThat(new Transfer(1, 5, Duration.ofSeconds(-3)).elapsed()).isZero();
  }

  @Test
  void humanUnits() {
    assertThat(Transfer.bytes(0)).isEqualTo("0 B");
    assertThat(Transfer.bytes(1023)).isEqualTo("1023 B");
    assertThat(Transfer.bytes(1024)).isEqualTo("1.0 KiB");
    assertThat(Transfer.bytes((1L << 20) - 1)).isEqualTo("1.0 MiB");
    assertThat(Transfer.bytes(Long.MAX_VALUE)).isEqualTo("8.0 EiB");
    assertThat(Transfer.duration(-1)).isEqualTo("-");
    assertThat(Transfer.duration(59)).isEqualTo("59s");
    assertThat(Transfer.duration(185)).isEqualTo("3m05s");
    assertThat(Transfer.duration(7620)).isEqualTo("2h07m");
    assertThat(Transfer.duration(273600)).isEqualTo("3d04h");
  }

  /** At the rate so far, the ETA is the time the rest takes: never early by a second. */
  @Property
  void etaTimesRateCoversWhatIsLeft(
      @ForAll @LongRange(min = 1, max = 1L << 40) long bytes,
      @ForAll @LongRange(min = 0, max = 1L << 41) long expected,
      @ForAll @LongRange(min = 1, max = 1_000_000) long millis) {
    var t = new Transfer(bytes, expected, Duration.ofMillis(millis));
    long eta = t.etaSeconds();
    assertThat(eta).isNotNegative();
    long left = Math.max(0, expected - bytes);
    assertThat(eta * t.rate()).isGreaterThanOrEqualTo(left * (1 - 1e-9));
    assertThat(Math.max(0, eta - 1) * t.rate()).isLessThan(left + 1.0);
    assertThat(t.fraction()).isBetween(0.0, 1.0);
  }

  @Property
  void humanBytesAreShortAndNeverRoundUpToTheNextUnitsThousand(
      @ForAll @LongRange(min = 0, max = Long.MAX_VALUE) long n) {
    var s = Transfer.bytes(n);
    assertThat(s.length()).isLessThanOrEqualTo(10);
    assertThat(s).doesNotStartWith("1024.0");
  }
}
