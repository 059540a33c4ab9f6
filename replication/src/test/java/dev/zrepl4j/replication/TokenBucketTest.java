package dev.zrepl4j.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.api.Test;

/** The token bucket on a clock the test moves: no sleeps. */
class TokenBucketTest {
  private static final long S = 1_000_000_000L;

  /** A clock the test sets. */
  private static final class FakeClock {
    long now = 123_456_789L; // not zero: the bucket counts from its own origin

    long nanos() {
      return now;
    }
  }

  @Test
  void startsFullAndThenPaysAtTheRate() {
    var clock = new FakeClock();
    var b = new TokenBucket(100, 1000, clock::nanos);
    assertThat(b.take(1000)).isZero();
    assertThat(b.take(1)).isEqualTo(S / 100);
    assertThat(b.take(99)).isEqualTo(S);
  }

  @Test
  void refillsAtTheRateButSavesNoMoreThanItsCapacity() {
    var clock = new FakeClock();
    var b = new TokenBucket(100, 1000, clock::nanos);
    assertThat(b.take(1000)).isZero();
    clock.now += 5 * S; // 500 flowed in
    assertThat(b.take(500)).isZero();
    assertThat(b.take(1)).isEqualTo(S / 100);
    clock.now += 3600 * S; // an hour idle: full, not 360000
    assertThat(b.take(1000)).isZero();
    assertThat(b.take(100)).isEqualTo(S);
  }

  @Test
  void aTakeLargerThanTheCapacityRunsIntoDebtThatLaterTakersPayToo() {
    var clock = new FakeClock();
    var b = new TokenBucket(1000, 10, clock::nanos);
    assertThat(b.take(2010)).isEqualTo(2 * S);
    clock.now += S; // half the debt paid
    assertThat(b.take(1000)).isEqualTo(2 * S);
  }

  @Test
  void manySmallTakesDoNotDrift() {
    var clock = new FakeClock();
    var b = new TokenBucket(3, 1, clock::nanos); // 1/3 s a byte: no whole number of nanoseconds
    long wait = 0;
    for (int i = 0; i < 3001; i++) {
      wait = b.take(1);
    }
    assertThat(wait).isEqualTo(1000 * S);
  }

  @Test
  void rateAboveWhatALongOfNanosecondTimesBytesHolds() {
    var clock = new FakeClock();
    long rate = 40_000_000_000L; // 40 GB/s: remainder * 1e9 overflows a long
    var b = new TokenBucket(rate, 1, clock::nanos);
    assertThat(b.take(1)).isZero();
    // the capacity's 1/40 ns of burst rounds to 0 ns: rate bytes are paid 1 s after the start
    assertThat(b.take(rate - 1)).isEqualTo(S);
    assertThat(b.take(rate)).isEqualTo(2 * S);
    assertThat(b.take(39)).isEqualTo(2 * S); // 39/40 ns carried, not lost
    assertThat(b.take(1)).isEqualTo(2 * S + 1);
  }

  @Test
  void aResumingTakerKeepsWhatFlowedInWhileItWasLate() {
    var clock = new FakeClock();
    var b = new TokenBucket(1000, 10, clock::nanos); // 10 ms of burst
    var first = b.take(1010, TokenBucket.NO_RESUME);
    assertThat(first.waitNanos()).isEqualTo(S);
    assertThat(first.paidAt()).isEqualTo(clock.now + S);
    clock.now = first.paidAt() + 50_000_000L; // back 50 ms late: more than the burst
    assertThat(b.take(1000, first.paidAt()).waitNanos()).isEqualTo(S - 50_000_000L);
  }

  @Test
  void aTakerLaterThanTheLatenessIsANewOne() {
    for (boolean resuming : new boolean[] {true, false}) {
      var clock = new FakeClock();
      var b = new TokenBucket(1000, 10, clock::nanos);
      var first = b.take(1010, TokenBucket.NO_RESUME);
      clock.now = first.paidAt() + TokenBucket.LATENESS.toNanos() + 1;
      var second = b.take(1000, resuming ? first.paidAt() : TokenBucket.NO_RESUME);
      assertThat(second.waitNanos()).as("resuming %s", resuming).isEqualTo(S - 10_000_000L);
    }
  }

  @Test
  void refusesWhatIsNotPositive() {
    var clock = new FakeClock();
    assertThatThrownBy(() -> new TokenBucket(0, 1, clock::nanos)).hasMessageContaining("rate 0");
    assertThatThrownBy(() -> new TokenBucket(-1, 1, clock::nanos)).hasMessageContaining("rate -1");
    assertThatThrownBy(() -> new TokenBucket(1, 0, clock::nanos))
        .hasMessageContaining("capacity 0");
    var b = new TokenBucket(1, 1, clock::nanos);
    assertThatThrownBy(() -> b.take(-1)).hasMessageContaining("negative take -1");
  }

  // ---------------------------------------------------------------------------------- properties

  /** One take: the clock moves {@code dt} ns, then {@code n} bytes are taken. */
  record Take(long dt, long n) {}

  @Provide
  Arbitrary<List<Take>> takes() {
    var dt =
        Arbitraries.oneOf(
            Arbitraries.just(0L),
            Arbitraries.longs().between(0, 1_000_000L),
            Arbitraries.longs().between(0, 3 * S));
    var n =
        Arbitraries.oneOf(
            Arbitraries.longs().between(0, 100),
            Arbitraries.longs().between(0, 1 << 20),
            Arbitraries.longs().between(0, 50_000_000L));
    return Combinators.combine(dt, n).as(Take::new).list().ofMaxSize(60);
  }

  @Provide
  Arbitrary<Long> rates() {
    return Arbitraries.oneOf(
        Arbitraries.longs().between(1, 1000),
        Arbitraries.longs().between(1, 100_000_000L),
        Arbitraries.longs().between(1, 100_000_000_000L));
  }

  /**
   * Each wait is the closed form of a full bucket that pays {@code n / rate} per take: the k-th
   * take is paid at {@code max over j <= k of (t_j - capacity/rate + sum_{i=j..k} n_i / rate)},
   * computed here in exact rationals; the bucket's whole nanoseconds are within 2 ns of it.
   */
  @Property(tries = 400)
  void everyWaitIsTheClosedFormOfAFullBucket(
      @ForAll("rates") long rate,
      @ForAll @LongRange(min = 1, max = 1_000_000_000L) long capacity,
      @ForAll("takes") List<Take> takes) {
    var clock = new FakeClock();
    long origin = clock.now;
    var b = new TokenBucket(rate, capacity, clock::nanos);
    var times = new ArrayList<Long>();
    for (int k = 0; k < takes.size(); k++) {
      clock.now += takes.get(k).dt();
      times.add(clock.now - origin);
      long wait = b.take(takes.get(k).n());
      // in units of 1/rate ns: paid_k * rate = max_j (t_j * rate - capacity * 1e9 + 1e9 * sum)
      BigInteger best = null;
      var sum = BigInteger.ZERO;
      for (int j = k; j >= 0; j--) {
        sum = sum.add(BigInteger.valueOf(takes.get(j).n()));
        var candidate =
            BigInteger.valueOf(times.get(j))
                .multiply(BigInteger.valueOf(rate))
                .subtract(BigInteger.valueOf(capacity).multiply(BigInteger.valueOf(S)))
                .add(sum.multiply(BigInteger.valueOf(S)));
        best = best == null ? candidate : best.max(candidate);
      }
      var tRate = BigInteger.valueOf(times.get(k)).multiply(BigInteger.valueOf(rate));
      var exactWaitTimesRate = best.subtract(tRate).max(BigInteger.ZERO);
      // wait*rate within 2 ns (times rate) of the exact one
      var diff =
          BigInteger.valueOf(wait).multiply(BigInteger.valueOf(rate)).subtract(exactWaitTimesRate);
      assertThat(diff.abs())
          .as("take %d of %s at rate %d, capacity %d: wait %d", k, takes, rate, capacity, wait)
          .isLessThanOrEqualTo(BigInteger.valueOf(2 * rate));
    }
  }

  /**
   * The limit as a user sees it: when each taker goes on after its wait, the bytes of any run of
   * takes, from the j-th one's start to the k-th one's end, are at most the capacity plus the rate
   * times that time (slack for the nanosecond rounding: one byte, and 2 ns at the rate).
   */
  @Property(tries = 400)
  void noRunOfTakesGetsMoreThanCapacityPlusRateTimesItsTime(
      @ForAll("rates") long rate,
      @ForAll @LongRange(min = 1, max = 1_000_000_000L) long capacity,
      @ForAll("takes") List<Take> takes) {
    var clock = new FakeClock();
    var b = new TokenBucket(rate, capacity, clock::nanos);
    int k = takes.size();
    long[] start = new long[k];
    long[] end = new long[k];
    for (int i = 0; i < k; i++) {
      clock.now += takes.get(i).dt();
      start[i] = clock.now;
      end[i] = clock.now + b.take(takes.get(i).n());
    }
    for (int j = 0; j < k; j++) {
      var sum = BigInteger.ZERO;
      for (int i = j; i < k; i++) {
        sum = sum.add(BigInteger.valueOf(takes.get(i).n()));
        // sum <= capacity + 1 + rate * (end_i - start_j + 2) / 1e9
        var allowedTimesS =
            BigInteger.valueOf(capacity + 1)
                .multiply(BigInteger.valueOf(S))
                .add(BigInteger.valueOf(rate).multiply(BigInteger.valueOf(end[i] - start[j] + 2)));
        assertThat(sum.multiply(BigInteger.valueOf(S)))
            .as("takes %d..%d of %s", j, i, takes)
            .isLessThanOrEqualTo(allowedTimesS);
      }
    }
  }

  /** One take of the resuming property: a taker, the clock's move before it, its size. */
  record TakerTake(int taker, long dt, long n, boolean resume) {}

  @Provide
  Arbitrary<List<TakerTake>> takerTakes() {
    var dt =
        Arbitraries.oneOf(
            Arbitraries.just(0L),
            Arbitraries.longs().between(0, 2 * TokenBucket.LATENESS.toNanos()),
            Arbitraries.longs().between(0, 3 * S));
    var n =
        Arbitraries.oneOf(
            Arbitraries.longs().between(0, 100),
            Arbitraries.longs().between(0, 1 << 20),
            Arbitraries.longs().between(0, 50_000_000L));
    return Combinators.combine(
            Arbitraries.integers().between(0, 2), dt, n, Arbitraries.of(true, false))
        .as(TakerTake::new)
        .list()
        .ofMaxSize(60);
  }

  /**
   * With takers resuming (or not) as they please, any run of takes carries at most the capacity
   * plus the rate times (its time + LATENESS): a resuming taker's credit is bounded.
   */
  @Property(tries = 400)
  void resumingTakersGetAtMostCapacityPlusRateTimesTimeAndLateness(
      @ForAll("rates") long rate,
      @ForAll @LongRange(min = 1, max = 1_000_000_000L) long capacity,
      @ForAll("takerTakes") List<TakerTake> takes) {
    var clock = new FakeClock();
    var b = new TokenBucket(rate, capacity, clock::nanos);
    long[] resumeAt = {TokenBucket.NO_RESUME, TokenBucket.NO_RESUME, TokenBucket.NO_RESUME};
    int k = takes.size();
    long[] start = new long[k];
    long[] end = new long[k];
    for (int i = 0; i < k; i++) {
      var t = takes.get(i);
      clock.now += t.dt();
      start[i] = clock.now;
      var taken = b.take(t.n(), t.resume() ? resumeAt[t.taker()] : TokenBucket.NO_RESUME);
      resumeAt[t.taker()] = taken.paidAt();
      end[i] = clock.now + taken.waitNanos();
    }
    long lateness = TokenBucket.LATENESS.toNanos();
    for (int j = 0; j < k; j++) {
      var sum = BigInteger.ZERO;
      for (int i = j; i < k; i++) {
        sum = sum.add(BigInteger.valueOf(takes.get(i).n()));
        var allowedTimesS =
            BigInteger.valueOf(capacity + 1)
                .multiply(BigInteger.valueOf(S))
                .add(
                    BigInteger.valueOf(rate)
                        .multiply(BigInteger.valueOf(end[i] - start[j] + lateness + 2)));
        assertThat(sum.multiply(BigInteger.valueOf(S)))
            .as("takes %d..%d of %s", j, i, takes)
            .isLessThanOrEqualTo(allowedTimesS);
      }
    }
  }

  /**
   * A throttled taker that comes back at most LATENESS after each wait loses nothing: its last take
   * is paid exactly (to the nanosecond) when a full bucket and the rate pay for all of them.
   */
  @Property(tries = 300)
  void aThrottledTakerResumingWithinTheLatenessLosesNothing(
      @ForAll @LongRange(min = 1000, max = 1_000_000_000L) long rate,
      @ForAll @LongRange(min = 1, max = 1000) long capacity,
      @ForAll("latenesses") List<Long> late) {
    var clock = new FakeClock();
    long origin = clock.now;
    var b = new TokenBucket(rate, capacity, clock::nanos);
    long resumeAt = TokenBucket.NO_RESUME;
    long n = rate / 2 + capacity; // half a second's worth: every take waits
    for (long d : late) {
      var taken = b.take(n, resumeAt);
      assertThat(taken.waitNanos()).isPositive();
      resumeAt = taken.paidAt();
      clock.now = taken.paidAt() + d;
    }
    // paid = -burst + total / rate, in units of 1/rate ns
    var total = BigInteger.valueOf(n).multiply(BigInteger.valueOf(late.size()));
    var exact =
        total
            .subtract(BigInteger.valueOf(capacity))
            .multiply(BigInteger.valueOf(S))
            .divide(BigInteger.valueOf(rate));
    assertThat(BigInteger.valueOf(resumeAt - origin).subtract(exact).abs())
        .isLessThanOrEqualTo(BigInteger.TWO);
  }

  @Provide
  Arbitrary<List<Long>> latenesses() {
    return Arbitraries.longs()
        .between(0, TokenBucket.LATENESS.toNanos())
        .list()
        .ofMinSize(1)
        .ofMaxSize(100);
  }

  /** A bucket idle for its capacity's worth of time never makes a take within capacity wait. */
  @Property(tries = 300)
  void aRefilledBucketLetsATakeWithinItsCapacityGoAtOnce(
      @ForAll("rates") long rate,
      @ForAll @LongRange(min = 1, max = 1_000_000_000L) long capacity,
      @ForAll("takes") List<Take> takes,
      @ForAll @LongRange(min = 0, max = 1_000_000_000L) long last) {
    var clock = new FakeClock();
    var b = new TokenBucket(rate, capacity, clock::nanos);
    long paidBy = clock.now;
    for (var t : takes) {
      clock.now += t.dt();
      paidBy = Math.max(paidBy, clock.now + b.take(t.n()));
    }
    // refill: every debt paid, then capacity / rate (rounded up) more
    clock.now =
        Math.max(clock.now, paidBy)
            + BigInteger.valueOf(capacity)
                .multiply(BigInteger.valueOf(S))
                .add(BigInteger.valueOf(rate - 1))
                .divide(BigInteger.valueOf(rate))
                .longValueExact();
    assertThat(b.take(Math.min(last, capacity))).isZero();
  }
}
