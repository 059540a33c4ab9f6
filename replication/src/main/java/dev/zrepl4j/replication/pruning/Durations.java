package dev.zrepl4j.replication.pruning;

import java.time.Duration;
import java.util.regex.Pattern;

/**
 * zrepl's duration syntax (ZREPL-MODERN.md §1.1): {@code ^\s*([+-]?\d+)\s*(|s|m|h|d|w)\s*$}, one
 * integer and one unit; {@code d} = 24 h, {@code w} = 7 d, no unit = seconds. {@code 1m30s} and
 * {@code 1y} are rejected. Stateless.
 */
public final class Durations {
  private static final Pattern DURATION = Pattern.compile("^\\s*([+-]?\\d+)\\s*(|s|m|h|d|w)\\s*$");

  private Durations() {}

  /**
   * Parses a duration such as {@code 10m}, {@code 1w} or {@code -5s}.
   *
   * @throws IllegalArgumentException naming the value if it does not match the syntax or overflows
   */
  public static Duration parse(String s) {
    var m = DURATION.matcher(s);
    if (!m.matches()) {
      throw new IllegalArgumentException(
          "invalid duration '" + s + "': expected an integer and one of s, m, h, d, w (e.g. 10m)");
    }
    long n;
    try {
      n = Long.parseLong(m.group(1));
      long unitSeconds =
          switch (m.group(2)) {
            case "", "s" -> 1;
            case "m" -> 60;
            case "h" -> 3600;
            case "d" -> 86_400;
            case "w" -> 7 * 86_400;
            default -> throw new IllegalStateException(m.group(2));
          };
      return Duration.ofSeconds(Math.multiplyExact(n, unitSeconds));
    } catch (NumberFormatException | ArithmeticException e) {
      throw new IllegalArgumentException("duration '" + s + "' is out of range", e);
    }
  }

  /**
   * Parses a duration that must be positive (intervals, timeouts).
   *
   * @throws IllegalArgumentException naming the value if it is invalid, zero or negative
   */
  public static Duration parsePositive(String s) {
    var d = parse(s);
    if (d.isZero() || d.isNegative()) {
      throw new IllegalArgumentException("duration '" + s + "' must be positive");
    }
    return d;
  }

  /**
   * Writes a whole-second duration in the largest unit of {@code w d h m s} that divides it, e.g.
   * {@code 90m} → {@code 90m}, {@code 7d} → {@code 1w}; {@code parse(format(d))} equals {@code d}.
   *
   * @throws IllegalArgumentException if {@code d} is not a whole number of seconds
   */
  public static String format(Duration d) {
    if (d.getNano() != 0) {
      throw new IllegalArgumentException("duration " + d + " is not a whole number of seconds");
    }
    long s = d.getSeconds();
    if (s == 0) {
      return "0s";
    }
    if (s % (7 * 86_400) == 0) {
      return s / (7 * 86_400) + "w";
    }
    if (s % 86_400 == 0) {
      return s / 86_400 + "d";
    }
    if (s % 3600 == 0) {
      return s / 3600 + "h";
    }
    if (s % 60 == 0) {
      return s / 60 + "m";
    }
    return s + "s";
  }
}
