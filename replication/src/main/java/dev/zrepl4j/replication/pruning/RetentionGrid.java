package dev.zrepl4j.replication.pruning;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * A retention grid (seed §2.12, zrepl's {@code grid} rule): intervals laid back to back into the
 * past from "now", each keeping the oldest {@code keep} entries that fall into it. Immutable,
 * thread-safe.
 *
 * <p>Syntax: {@code 1x1h(keep=all) | 24x1h | 14x1d}; each term {@code N x DURATION} optionally
 * followed by {@code (keep=K)} or {@code (keep=all)}, whitespace tolerated around tokens, {@code N
 * > 0}, keep defaults to 1 ({@code 0} allowed, {@code all} = {@link #KEEP_ALL}); lengths must be
 * non-decreasing.
 *
 * @param intervals the expanded intervals, youngest first
 */
public record RetentionGrid(List<Interval> intervals) {

  /** The keep count meaning "keep every entry of the interval". */
  public static final int KEEP_ALL = -1;

  private static final Pattern TERM =
      Pattern.compile(
          "^\\s*(\\d+)\\s*x\\s*([^(]+?)\\s*(?:\\(\\s*keep\\s*=\\s*(all|\\d+)\\s*\\))?\\s*$");

  /**
   * One interval of the grid.
   *
   * @param length its length, positive
   * @param keep how many of its entries to keep, oldest first; {@link #KEEP_ALL} for all
   */
  public record Interval(Duration length, int keep) {
    public Interval {
      if (length.isZero() || length.isNegative()) {
        throw new IllegalArgumentException("retention grid interval length must be positive");
      }
      if (length.getNano() != 0) {
        throw new IllegalArgumentException(
            "retention grid interval length must be whole seconds, got " + length);
      }
      if (keep < KEEP_ALL) {
        throw new IllegalArgumentException("retention grid keep count must be >= 0 or all");
      }
    }
  }

  public RetentionGrid {
    intervals = List.copyOf(intervals);
    if (intervals.isEmpty()) {
      throw new IllegalArgumentException("retention grid has no intervals");
    }
    for (int i = 1; i < intervals.size(); i++) {
      if (intervals.get(i).length().compareTo(intervals.get(i - 1).length()) < 0) {
        throw new IllegalArgumentException(
            "retention grid interval length must be monotonically increasing");
      }
    }
  }

  /**
   * Parses the grid syntax.
   *
   * @throws IllegalArgumentException naming the bad term
   */
  public static RetentionGrid parse(String spec) {
    var out = new ArrayList<Interval>();
    for (var term : spec.split("\\|", -1)) {
      var m = TERM.matcher(term);
      if (!m.matches()) {
        throw new IllegalArgumentException(
            "invalid retention grid term '"
                + term.strip()
                + "' in '"
                + spec
                + "': expected N x DURATION[(keep=K|all)]");
      }
      int n;
      try {
        n = Integer.parseInt(m.group(1));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("repetition count too large in '" + term + "'", e);
      }
      if (n <= 0 || n > 100_000) {
        throw new IllegalArgumentException(
            "repetition count must be between 1 and 100000 in '" + term.strip() + "'");
      }
      var length = Durations.parsePositive(m.group(2));
      int keep = 1;
      if (m.group(3) != null) {
        keep = m.group(3).equals("all") ? KEEP_ALL : Integer.parseInt(m.group(3));
      }
      for (int i = 0; i < n; i++) {
        out.add(new Interval(length, keep));
      }
    }
    return new RetentionGrid(out);
  }

  /**
   * The grid in its canonical syntax: runs of equal intervals as one term {@code NxDURATION}, each
   * length in the largest unit of {@code w d h m s} that divides it, {@code (keep=K)} unless K is
   * 1, terms joined by {@code " | "}. {@code parse(format())} equals this grid, and {@code
   * format()} of a parsed canonical string is that string.
   */
  public String format() {
    var out = new StringBuilder();
    int i = 0;
    while (i < intervals.size()) {
      var first = intervals.get(i);
      int n = 1;
      while (i + n < intervals.size() && intervals.get(i + n).equals(first)) {
        n++;
      }
      if (!out.isEmpty()) {
        out.append(" | ");
      }
      out.append(n).append('x').append(Durations.format(first.length()));
      if (first.keep() == KEEP_ALL) {
        out.append("(keep=all)");
      } else if (first.keep() != 1) {
        out.append("(keep=").append(first.keep()).append(')');
      }
      i += n;
    }
    return out.toString();
  }

  /**
   * The result of {@link #fit}.
   *
   * @param keep entries kept: those not older than now in input order, then per interval the kept
   * @param remove entries removed: those older than the grid in input order, then per interval
   */
  public record Fit<E>(List<E> keep, List<E> remove) {
    public Fit {
      keep = List.copyOf(keep);
      remove = List.copyOf(remove);
    }
  }

  /**
   * Fits entries into the grid (seed {@code FitEntries}): interval {@code i} covers {@code [now −
   * L0 − … − Li, now − L0 − … − Li−1)}, closed at its older end; entries at or after {@code now}
   * are kept; entries older than the whole grid are removed; within an interval the oldest {@code
   * keep} are kept (stable for equal dates, so sort the input by createtxg first).
   */
  public <E> Fit<E> fit(Instant now, List<E> entries, Function<E, Instant> date) {
    var keep = new ArrayList<E>();
    var remove = new ArrayList<E>();
    var buckets = new ArrayList<List<E>>();
    for (int i = 0; i < intervals.size(); i++) {
      buckets.add(new ArrayList<>());
    }
    // interval starts (older end), computed once
    var starts = new Instant[intervals.size()];
    var t = now;
    for (int i = 0; i < intervals.size(); i++) {
      t = t.minus(intervals.get(i).length());
      starts[i] = t;
    }
    for (var e : entries) {
      var d = date.apply(e);
      if (!d.isBefore(now)) {
        keep.add(e);
        continue;
      }
      int bucket = -1;
      for (int i = 0; i < starts.length; i++) {
        if (!d.isBefore(starts[i])) {
          bucket = i;
          break;
        }
      }
      if (bucket < 0) {
        remove.add(e);
      } else {
        buckets.get(bucket).add(e);
      }
    }
    for (int i = 0; i < buckets.size(); i++) {
      var b = new ArrayList<>(buckets.get(i));
      b.sort(Comparator.comparing(date));
      int k = intervals.get(i).keep();
      for (int j = 0; j < b.size(); j++) {
        if (k == KEEP_ALL || j < k) {
          keep.add(b.get(j));
        } else {
          remove.add(b.get(j));
        }
      }
    }
    return new Fit<>(keep, remove);
  }
}
