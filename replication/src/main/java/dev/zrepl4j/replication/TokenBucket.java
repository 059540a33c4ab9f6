package dev.zrepl4j.replication;

import java.math.BigInteger;
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
 */
final class TokenBucket {
  private static final long NANOS_PER_SECOND = 1_000_000_000L;
  // the longest burst time kept (about 31 years): beyond it, "capacity" means "never wait"
  private static final long MAX_BURST_NANOS = 1_000_000_000_000_000_000L;

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
   * Takes {@code n} tokens now.
   *
   * @return how many nanoseconds the taker must wait until they are paid for (0: at once)
   * @throws IllegalArgumentException if {@code n} is negative
   */
  long take(long n) {
    if (n < 0) {
      throw new IllegalArgumentException("negative take " + n);
    }
    synchronized (this) {
      long now = nanoTime.getAsLong() - origin;
      long full = now - burstNanos;
      if (paid < full) {
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
      return Math.max(0, paid - now);
    }
  }

  @Override
  public String toString() {
    return "TokenBucket[rate=" + rate + " B/s, capacity=" + capacity + " B]";
  }
}
