package dev.zrepl4j.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
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
  void eachWithChangesOnlyItsOwnComponents() throws Exception {
    var c = base();
    assertThat(c).isEqualTo(Replication.Config.defaults("job"));
    assertThat(changes(c, c.withBatchIntermediates(true)))
        .isEqualTo(Map.of("batchIntermediates", true));
    assertThat(
            changes(
                c,
                c.withProtection(Protection.GUARANTEE_NOTHING, Protection.GUARANTEE_INCREMENTAL)))
        .isEqualTo(
            Map.of(
                "initialProtection", Protection.GUARANTEE_NOTHING,
                "incrementalProtection", Protection.GUARANTEE_INCREMENTAL));
    assertThat(changes(c, c.withInitialPolicy(InitialPolicy.ALL)))
        .isEqualTo(Map.of("initialPolicy", InitialPolicy.ALL));
    assertThat(changes(c, c.withRetries(7, Duration.ofMillis(250))))
        .isEqualTo(Map.of("maxAttempts", 7, "retryBackoff", Duration.ofMillis(250)));
    assertThat(changes(c, c.withStepConcurrency(4))).isEqualTo(Map.of("stepConcurrency", 4));
    assertThat(changes(c, c.withSizeEstimates(2))).isEqualTo(Map.of("sizeEstimates", 2));
    assertThat(changes(c, c.withFollowRenames(true))).isEqualTo(Map.of("followRenames", true));
  }

  /** The components of {@code b} that differ from {@code a}'s, by name. */
  private static Map<String, Object> changes(Replication.Config a, Replication.Config b)
      throws ReflectiveOperationException {
    var out = new HashMap<String, Object>();
    for (var rc : Replication.Config.class.getRecordComponents()) {
      var before = rc.getAccessor().invoke(a);
      var after = rc.getAccessor().invoke(b);
      if (!Objects.equals(before, after)) {
        out.put(rc.getName(), after);
      }
    }
    assertThat(Replication.Config.class.getRecordComponents()).hasSize(11);
    return out;
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
