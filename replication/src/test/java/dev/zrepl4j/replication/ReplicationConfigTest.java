package dev.zrepl4j.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.api.Test;

/** {@link Replication.Config}: its copies and its one retry rule. */
class ReplicationConfigTest {
  private static final Clock CLOCK = Clock.systemUTC();

  private static Replication.Config base() {
    return new Replication.Config(
        "job",
        InitialPolicy.MOST_RECENT,
        Protection.GUARANTEE_RESUMABILITY,
        Protection.GUARANTEE_RESUMABILITY,
        false,
        1,
        3,
        Duration.ofSeconds(5),
        CLOCK);
  }

  @Test
  void eachWithChangesOnlyItsOwnComponents() {
    var c = base();
    assertThat(c).isEqualTo(Replication.Config.defaults("job"));
    assertThat(c.withBatchIntermediates(true))
        .isEqualTo(
            new Replication.Config(
                "job",
                InitialPolicy.MOST_RECENT,
                Protection.GUARANTEE_RESUMABILITY,
                Protection.GUARANTEE_RESUMABILITY,
                true,
                1,
                3,
                Duration.ofSeconds(5),
                CLOCK));
    assertThat(c.withProtection(Protection.GUARANTEE_NOTHING, Protection.GUARANTEE_INCREMENTAL))
        .isEqualTo(
            new Replication.Config(
                "job",
                InitialPolicy.MOST_RECENT,
                Protection.GUARANTEE_NOTHING,
                Protection.GUARANTEE_INCREMENTAL,
                false,
                1,
                3,
                Duration.ofSeconds(5),
                CLOCK));
    assertThat(c.withInitialPolicy(InitialPolicy.ALL))
        .isEqualTo(
            new Replication.Config(
                "job",
                InitialPolicy.ALL,
                Protection.GUARANTEE_RESUMABILITY,
                Protection.GUARANTEE_RESUMABILITY,
                false,
                1,
                3,
                Duration.ofSeconds(5),
                CLOCK));
    assertThat(c.withRetries(7, Duration.ofMillis(250)))
        .isEqualTo(
            new Replication.Config(
                "job",
                InitialPolicy.MOST_RECENT,
                Protection.GUARANTEE_RESUMABILITY,
                Protection.GUARANTEE_RESUMABILITY,
                false,
                1,
                7,
                Duration.ofMillis(250),
                CLOCK));
    assertThat(c.withStepConcurrency(4))
        .isEqualTo(
            new Replication.Config(
                "job",
                InitialPolicy.MOST_RECENT,
                Protection.GUARANTEE_RESUMABILITY,
                Protection.GUARANTEE_RESUMABILITY,
                false,
                4,
                3,
                Duration.ofSeconds(5),
                CLOCK));
  }

  @Test
  void copiesAreValidatedLikeTheOriginal() {
    assertThatThrownBy(() -> base().withRetries(1, Duration.ofSeconds(-1)))
        .hasMessage("negative retryBackoff PT-1S");
    assertThatThrownBy(() -> base().withStepConcurrency(0)).hasMessage("stepConcurrency 0 < 1");
  }

  @Test
  void retryWaitStartsAtTheBackoffAndDoublesUpToOneMinute() {
    var c = base();
    var waits = new ArrayList<Duration>();
    for (int n = 1; n <= 7; n++) {
      waits.add(c.retryWait(n));
    }
    assertThat(waits)
        .containsExactly(
            Duration.ofSeconds(5),
            Duration.ofSeconds(10),
            Duration.ofSeconds(20),
            Duration.ofSeconds(40),
            Duration.ofMinutes(1),
            Duration.ofMinutes(1),
            Duration.ofMinutes(1));
    assertThat(c.retryWait(Integer.MAX_VALUE)).isEqualTo(Duration.ofMinutes(1));
    assertThat(c.withRetries(3, Duration.ZERO).retryWait(9)).isZero();
    var slow = c.withRetries(3, Duration.ofMinutes(3));
    assertThat(slow.retryWait(1)).isEqualTo(Duration.ofMinutes(3));
    assertThat(slow.retryWait(2)).isEqualTo(Duration.ofMinutes(3));
    assertThatThrownBy(() -> c.retryWait(0)).hasMessage("failedAttempts 0 < 1");
  }

  @Property
  void retryWaitBeginsAtTheBackoffNeverShrinksAndStaysUnderTheCap(
      @ForAll @LongRange(min = 0, max = 600_000) long backoffMillis,
      @ForAll @IntRange(min = 1, max = 500) int failed) {
    var backoff = Duration.ofMillis(backoffMillis);
    var c = base().withRetries(3, backoff);
    var cap = backoff.compareTo(Duration.ofMinutes(1)) > 0 ? backoff : Duration.ofMinutes(1);
    assertThat(c.retryWait(1)).isEqualTo(backoff);
    assertThat(c.retryWait(failed)).isLessThanOrEqualTo(cap);
    assertThat(c.retryWait(failed + 1)).isGreaterThanOrEqualTo(c.retryWait(failed));
    var doubled = c.retryWait(failed).multipliedBy(2);
    assertThat(c.retryWait(failed + 1)).isEqualTo(doubled.compareTo(cap) > 0 ? cap : doubled);
  }
}
