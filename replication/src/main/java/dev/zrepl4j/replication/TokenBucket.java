package dev.zrepl4j.replication;

import java.math.BigInteger;
import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * A token bucket of bytes: {@code rate} tokens a second flow in, up to {@code capacity} are saved
 * up, and it starts full. A {@link #take} never fails and never blocks: it reserves the tokens at
 * once, running the bucket into debt if need be, and says how long the taker must wait until they
 * are paid for. This is the bucket of juju/ratelimit's {@code Take}, which zrepl's {@code
 * bandwidth_limit} uses (read first, then wait for what was read), without its rate rounding.
 * Thread-safe: {@link #take} is a short critical section; the waiting is the caller's, outside any
 * lock, so that takers of one bucket (the concurrent transfers of a job) never block each other.
 *
 * <p>Implementation notes: the state is one instant, {@code paid} (GCRA's "theoretical arrival
 * time"): the time by which every token taken so far has flowed in. At time {@code t} the bucket
 * holds {@code min(capacity, (t - paid) * rate)} tokens, or owes {@code (paid - t) * rate} when
 * {@code paid} is later than {@code t}. A take of {@code n} first raises {@code paid} to {@code t -
 * burst} (a full bucket; {@code burst} is the time {@code capacity} takes to flow in), then adds
 * {@code n / rate}; the taker waits {@code paid - t}. Times are nanoseconds since the bucket was
 * made, and {@code n / rate} is carried exactly (whole nanoseconds plus a remainder in units of
 * {@code 1 / rate} ns), so that a long stream of small takes does not drift. In closed form, the
 * k-th take is paid at {@code max over j <= k of (t_j - burst + sum_{i=j..k} n_i / rate)}.
 *
 * <p>A transfer takes, waits, then spends some time writing what it read and being scheduled again
 * before its next take. With a plain bucket, whatever of that time exceeds {@code burst} (6.25 ms
 * for zrepl's default 128 KiB at 20 MiB/s) is lost to the rate: a push at 20 MiB/s on this loaded
 * 2-core machine ran at 93-95 % of its limit. So a taker that resumes (passes the {@code paidAt} of
 * its previous take) within {@link #LATENESS} keeps that time: {@code paid} is not raised for it.
 * Its credit is at most {@code LATENESS} worth of bytes, so any window of {@code T} seconds carries
 * at most {@code capacity + rate * (T + LATENESS)} bytes, and a transfer of {@code N} bytes from
 * its first take still cannot end before {@code (N - capacity) / rate}.
 */
final class TokenBucket {
  private static final long NANOS_PER_SECOND = 1_000_000_000L;
  // the longest burst time kept (about 31 years): beyond it, "capacity" means "never wait"
  private static final long MAX_BURST_NANOS = 1_000_000_000_000_000_000L;

  /** How late a resuming taker may come back and still keep what flowed in meanwhile. */
  static final Duration LATENESS = Duration.ofMillis(100);

  private static final long LATENESS_NANOS = LATENESS.toNanos();

  private final long rate;
  private final long capacity;
  private final LongSupplier nanoTime;
  private final long origin;
  private final long burstNanos;
  // guarded by this: when everything taken so far is paid for (ns since origin) ...
  private long paid;
  // ... plus paidRemainder / rate ns (0 <= paidRemainder < rate)
  private long paidRemainder;

  /**
   * @param rate bytes a second, positive
   * @param capacity bytes saved up at most, positive
   * @param nanoTime a monotonic clock in nanoseconds ({@code System::nanoTime})
   * @throws IllegalArgumentException if {@code rate} or {@code capacity} is not positive
   */
  TokenBucket(long rate, long capacity, LongSupplier nanoTime) {
    if (rate <= 0) {
      throw new IllegalArgumentException("rate " + rate + " must be positive");
    }
    if (capacity <= 0) {
      throw new IllegalArgumentException("capacity " + capacity + " must be positive");
    }
    this.rate = rate;
    this.capacity = capacity;
    this.nanoTime = nanoTime;
    this.origin = nanoTime.getAsLong();
    this.burstNanos =
        BigInteger.valueOf(capacity)
            .multiply(BigInteger.valueOf(NANOS_PER_SECOND))
            .divide(BigInteger.valueOf(rate))
            .min(BigInteger.valueOf(MAX_BURST_NANOS))
            .longValueExact();
    this.paid = -burstNanos; // full
  }

  /** Bytes a second. */
  long rate() {
    return rate;
  }

  /** Bytes saved up at most. */
  long capacity() {
    return capacity;
  }

  /**
   * Takes {@code n} tokens now, as a new taker.
   *
   * @return how many nanoseconds the taker must wait until they are paid for (0: at once)
   * @throws IllegalArgumentException if {@code n} is negative
   */
  long take(long n) {
    return take(n, NO_RESUME).waitNanos();
  }

  /** The {@code resumeAt} of a taker that has not taken before. */
  static final long NO_RESUME = Long.MIN_VALUE;

  /**
   * What a take gives its taker.
   *
   * @param waitNanos how long to wait until the tokens are paid for (0: at once)
   * @param paidAt when they are paid for, on the bucket's clock: the taker's {@code resumeAt} for
   *     its next take
   */
  record Taken(long waitNanos, long paidAt) {}

  /**
   * Takes {@code n} tokens now, for a taker whose previous take was paid for at {@code resumeAt}
   * (its {@link Taken#paidAt}; {@link #NO_RESUME} for a new taker). Such a taker, coming back at
   * most {@link #LATENESS} after that, keeps what flowed in meanwhile even beyond the capacity: the
   * time it spent between its takes (writing what it read, waiting to be scheduled) is not lost to
   * the rate. A taker that comes back later is treated as a new one.
   *
   * @throws IllegalArgumentException if {@code n} is negative
   */
  Taken take(long n, long resumeAt) {
    if (n < 0) {
      throw new IllegalArgumentException("negative take " + n);
    }
    synchronized (this) {
      long clock = nanoTime.getAsLong();
      long now = clock - origin;
      // paid >= resumeAt - origin (paid never goes back), so a resuming taker's credit is the
      // time since paid, at most LATENESS
      boolean resuming = resumeAt != NO_RESUME && clock - resumeAt <= LATENESS_NANOS;
      long full = now - burstNanos;
      if (paid < full && !resuming) {
        paid = full;
        paidRemainder = 0;
      }
      // paid += (n * 1e9 + paidRemainder) / rate, the remainder carried
      long q = n / rate;
      long r = n % rate;
      long whole = Math.multiplyExact(q, NANOS_PER_SECOND);
      long hi = Math.multiplyHigh(r, NANOS_PER_SECOND);
      long lo = r * NANOS_PER_SECOND;
      if (hi == 0 && lo >= 0 && lo <= Long.MAX_VALUE - paidRemainder) {
        long num = lo + paidRemainder;
        whole += num / rate;
        paidRemainder = num % rate;
      } else { // rates above 9.2 GB/s
        var num =
            BigInteger.valueOf(r)
                .multiply(BigInteger.valueOf(NANOS_PER_SECOND))
                .add(BigInteger.valueOf(paidRemainder));
        var qr = num.divideAndRemainder(BigInteger.valueOf(rate));
        whole += qr[0].longValueExact();
        paidRemainder = qr[1].longValueExact();
      }
      paid = Math.addExact(paid, whole);
      return new Taken(Math.max(0, paid - now), paid + origin);
    }
  }

  @Override
  public String toString() {
    return "TokenBucket[rate=" + rate + " B/s, capacity=" + capacity + " B]";
  }
}
