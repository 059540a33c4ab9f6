package dev.zrepl4j.daemon;

import java.time.Duration;
import java.util.Locale;

/**
 * Where a transfer is, as the status view and the progress log show it: bytes so far, the expected
 * size where the sender estimated one, the time spent; and from these the rate, the fraction done
 * and the time left. Pure arithmetic and formatting.
 *
 * @param bytes bytes so far (at least 0)
 * @param expectedBytes the estimated size, -1 when unknown
 * @param elapsed time since the transfer started (not negative)
 */
public record Transfer(long bytes, long expectedBytes, Duration elapsed) {
  public Transfer {
    if (bytes < 0) {
      throw new IllegalArgumentException("negative bytes " + bytes);
    }
    if (expectedBytes < -1) {
      throw new IllegalArgumentException("expectedBytes " + expectedBytes + " < -1");
    }
    if (elapsed.isNegative()) {
      elapsed = Duration.ZERO; // a clock step back between the daemon's start time and now
    }
  }

  /** Whether the size of the whole transfer is known. */
  public boolean estimated() {
    return expectedBytes >= 0;
  }

  /** Bytes per second since the start; 0 before any time passed. */
  public double rate() {
    long nanos = elapsed.toNanos();
    return nanos <= 0 ? 0 : bytes * 1e9 / nanos;
  }

  /** The fraction done in [0, 1], or -1 without an estimate (an estimate of 0 is done). */
  public double fraction() {
    if (!estimated()) {
      return -1;
    }
    if (expectedBytes == 0) {
      return 1;
    }
    return Math.min(1.0, (double) bytes / expectedBytes);
  }

  /**
   * Seconds left at the rate so far, rounded up; -1 when unknown (no estimate, or nothing sent
   * yet). An estimate that was too small gives 0, not a negative time.
   */
  public long etaSeconds() {
    double r = rate();
    if (!estimated() || r <= 0) {
      return -1;
    }
    long left = Math.max(0, expectedBytes - bytes);
    return (long) Math.ceil(left / r);
  }

  /** {@code 12.3 MiB}: binary units, one decimal from KiB on. */
  public static String bytes(long n) {
    if (n < 1024) {
      return n + " B";
    }
    String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = n;
    int u = -1;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    // 1023.96 KiB would print as 1024.0 KiB
    if (Math.round(v * 10) >= 10240 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
  }

  /** {@code 45s}, {@code 3m05s}, {@code 2h07m}, {@code 3d04h}; {@code -} for a negative one. */
  public static String duration(long seconds) {
    if (seconds < 0) {
      return "-";
    }
    if (seconds < 60) {
      return seconds + "s";
    }
    if (seconds < 3600) {
      return String.format(Locale.ROOT, "%dm%02ds", seconds / 60, seconds % 60);
    }
    if (seconds < 86400) {
      return String.format(Locale.ROOT, "%dh%02dm", seconds / 3600, seconds % 3600 / 60);
    }
    return String.format(Locale.ROOT, "%dd%02dh", seconds / 86400, seconds % 86400 / 3600);
  }

  /**
   * The progress as one log line's tail: {@code 40.0 MiB of 100.0 MiB (40%), 2.0 MiB/s, ETA 30s},
   * or without an estimate {@code 40.0 MiB, 2.0 MiB/s}.
   */
  public String describe() {
    var rate = bytes(Math.round(rate())) + "/s";
    if (!estimated()) {
      return bytes(bytes) + ", " + rate;
    }
    return String.format(
        Locale.ROOT,
        "%s of %s (%d%%), %s, ETA %s",
        bytes(bytes),
        bytes(expectedBytes),
        (int) Math.floor(fraction() * 100),
        rate,
        duration(etaSeconds()));
  }
}
