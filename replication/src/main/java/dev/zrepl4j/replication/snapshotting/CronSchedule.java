package dev.zrepl4j.replication.snapshotting;

import java.time.Instant;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.util.BitSet;
import java.util.List;
import java.util.Locale;

/**
 * zrepl's {@code cron} snapshotting (robfig/cron v3 syntax): {@code [sec] min hour dom mon dow}
 * with {@code *}, {@code ?}, ranges {@code a-b}, lists {@code a,b}, steps {@code * /n} and {@code
 * a-b/n}, names {@code JAN}…{@code DEC} and {@code SUN}…{@code SAT}, and {@code @yearly},
 * {@code @monthly}, {@code @weekly}, {@code @daily}, {@code @hourly}. As in robfig/cron, if either
 * day field is unrestricted ({@code *}/{@code ?}) both must match, else either. Times are
 * wall-clock times in {@code zone}: a time skipped by a DST gap is skipped, one repeated in an
 * overlap fires once. Immutable, thread-safe.
 */
public final class CronSchedule {
  private static final List<String> MONTHS =
      List.of("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC");
  private static final List<String> DAYS = List.of("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT");

  private final String spec;
  private final ZoneId zone;
  private final BitSet second;
  private final BitSet minute;
  private final BitSet hour;
  private final BitSet dom;
  private final BitSet month;
  private final BitSet dow;
  private final boolean domStar;
  private final boolean dowStar;

  private CronSchedule(String spec, ZoneId zone, String[] f) {
    this.spec = spec;
    this.zone = zone;
    second = field(spec, f[0], 0, 59, List.of(), 0);
    minute = field(spec, f[1], 0, 59, List.of(), 0);
    hour = field(spec, f[2], 0, 23, List.of(), 0);
    dom = field(spec, f[3], 1, 31, List.of(), 1);
    month = field(spec, f[4], 1, 12, MONTHS, 1);
    var d = field(spec, f[5], 0, 7, DAYS, 0);
    if (d.get(7)) {
      d.set(0);
    }
    dow = d;
    domStar = f[3].startsWith("*") || f[3].equals("?");
    dowStar = f[5].startsWith("*") || f[5].equals("?");
  }

  /**
   * Parses a cron expression of 5 or 6 fields (or a descriptor) evaluated in {@code zone}.
   *
   * @throws IllegalArgumentException naming the expression and the bad field
   */
  public static CronSchedule parse(String spec, ZoneId zone) {
    var s = spec.strip();
    s =
        switch (s) {
          case "@yearly", "@annually" -> "0 0 0 1 1 *";
          case "@monthly" -> "0 0 0 1 * *";
          case "@weekly" -> "0 0 0 * * 0";
          case "@daily", "@midnight" -> "0 0 0 * * *";
          case "@hourly" -> "0 0 * * * *";
          default -> s;
        };
    var f = s.split("\\s+");
    if (f.length == 5) {
      f = new String[] {"0", f[0], f[1], f[2], f[3], f[4]};
    } else if (f.length != 6) {
      throw new IllegalArgumentException(
          "invalid cron expression '" + spec + "': expected 5 or 6 fields, got " + f.length);
    }
    return new CronSchedule(spec, zone, f);
  }

  private static BitSet field(
      String spec, String field, int min, int max, List<String> names, int nameBase) {
    var bits = new BitSet(max + 1);
    for (var part : field.split(",", -1)) {
      try {
        int step = 1;
        var range = part;
        int slash = part.indexOf('/');
        if (slash >= 0) {
          step = Integer.parseInt(part.substring(slash + 1));
          range = part.substring(0, slash);
          if (step <= 0) {
            throw new IllegalArgumentException("step must be positive");
          }
        }
        int lo;
        int hi;
        if (range.equals("*") || range.equals("?")) {
          lo = min;
          hi = max == 7 ? 6 : max;
        } else {
          int dash = range.indexOf('-');
          lo = value(range.substring(0, dash < 0 ? range.length() : dash), names, nameBase);
          hi =
              dash < 0
                  ? (slash >= 0 ? max : lo)
                  : value(range.substring(dash + 1), names, nameBase);
        }
        if (lo < min || hi > max || lo > hi) {
          throw new IllegalArgumentException("out of range " + min + "-" + max);
        }
        for (int v = lo; v <= hi; v += step) {
          bits.set(v);
        }
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "invalid cron expression '" + spec + "': field '" + field + "': " + e.getMessage(), e);
      }
    }
    return bits;
  }

  private static int value(String s, List<String> names, int nameBase) {
    int i = names.indexOf(s.toUpperCase(Locale.ROOT));
    if (i >= 0) {
      return i + nameBase;
    }
    return Integer.parseInt(s);
  }

  /** The first fire time strictly after {@code after}. */
  public Instant next(Instant after) {
    var afterLocal = after.atZone(zone).toLocalDateTime();
    var t = after.atZone(zone).truncatedTo(ChronoUnit.SECONDS).plusSeconds(1);
    int limit = t.getYear() + 5;
    while (t.getYear() <= limit) {
      if (!month.get(t.getMonthValue())) {
        t = t.toLocalDate().withDayOfMonth(1).plusMonths(1).atStartOfDay(zone);
        continue;
      }
      if (!dayMatches(t)) {
        t = t.toLocalDate().plusDays(1).atStartOfDay(zone);
        continue;
      }
      if (!hour.get(t.getHour())) {
        t = nextHour(t);
        continue;
      }
      if (!minute.get(t.getMinute())) {
        t = t.truncatedTo(ChronoUnit.MINUTES).plusMinutes(1);
        continue;
      }
      if (!second.get(t.getSecond())) {
        t = t.plusSeconds(1);
        continue;
      }
      if (!t.toLocalDateTime().isAfter(afterLocal)) {
        t = t.plusSeconds(1); // a wall time repeated by a DST overlap fires once
        continue;
      }
      return t.toInstant();
    }
    throw new IllegalStateException("cron expression '" + spec + "' never fires");
  }

  private static ZonedDateTime nextHour(ZonedDateTime t) {
    var n = t.truncatedTo(ChronoUnit.HOURS).plusHours(1);
    return n;
  }

  private boolean dayMatches(ZonedDateTime t) {
    boolean d = dom.get(t.getDayOfMonth());
    boolean w = dow.get(t.getDayOfWeek().getValue() % 7);
    return domStar || dowStar ? d && w : d || w;
  }

  @Override
  public String toString() {
    return "cron(" + spec + " " + zone + ")";
  }
}
