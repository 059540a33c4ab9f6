package dev.zrepl4j.replication.snapshotting;

import java.time.DateTimeException;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.Objects;

/**
 * zrepl's snapshot names: {@code <prefix><timestamp>} (ZREPL-MODERN.md §1.5, seed §2.13), with
 * {@code timestamp_format} {@code dense} ({@code 20060102_150405_000}, the {@code _000} literal),
 * {@code human}, {@code iso-8601}, {@code unix-seconds} or a Go layout (the tokens 2006 01 02 15 04
 * 05 .000 Jan Mon MST Z07:00 -0700), and a {@code +} in the output replaced by {@code _}.
 * Immutable, thread-safe.
 *
 * @param prefix e.g. {@code zrepl_}
 * @param format one of the named formats or a Go layout
 * @param location {@code UTC} (default), {@code Local} or an IANA zone; anything but {@code UTC}
 *     only with a format that carries a zone ({@link #carriesZone})
 */
public record SnapshotNameFormat(String prefix, String format, String location) {

  public SnapshotNameFormat {
    Objects.requireNonNull(prefix, "prefix");
    if (prefix.isEmpty() || !prefix.matches("[A-Za-z0-9_.:\\-]+")) {
      throw new IllegalArgumentException(
          "snapshot prefix '" + prefix + "' must be non-empty and use only A-Za-z0-9_.:-");
    }
    formatter(format, zone(location)); // validates both
    if (!location.equals("UTC") && !location.isEmpty() && !carriesZone(format)) {
      throw new IllegalArgumentException(
          "timestamp_location '"
              + location
              + "' is only allowed with a timestamp_format that carries a zone (iso-8601 or a Go"
              + " layout with Z07:00, -0700 or MST), not with '"
              + format
              + "'");
    }
  }

  /** Whether names in {@code format} show their zone (zrepl: timestamp_location needs that). */
  static boolean carriesZone(String format) {
    return switch (format) {
      case "iso-8601" -> true;
      case "dense", "human", "unix-seconds" -> false;
      default -> format.contains("Z07:00") || format.contains("-0700") || format.contains("MST");
    };
  }

  /** zrepl's default: dense, UTC. */
  public static SnapshotNameFormat dense(String prefix) {
    return new SnapshotNameFormat(prefix, "dense", "UTC");
  }

  /** The snapshot name for {@code t}. */
  public String name(Instant t) {
    var zone = zone(location);
    var ts =
        format.equals("unix-seconds")
            ? Long.toString(t.getEpochSecond())
            : formatter(format, zone).format(t.atZone(zone));
    return (prefix + ts).replace('+', '_');
  }

  private static ZoneId zone(String location) {
    return switch (location) {
      case "UTC", "" -> ZoneOffset.UTC;
      case "Local" -> ZoneId.systemDefault();
      default -> {
        try {
          yield ZoneId.of(location);
        } catch (DateTimeException e) {
          throw new IllegalArgumentException(
              "invalid timestamp_location '" + location + "': use UTC, Local or an IANA zone", e);
        }
      }
    };
  }

  private static DateTimeFormatter formatter(String format, ZoneId zone) {
    var pattern =
        switch (format) {
          case "dense" -> "yyyyMMdd_HHmmss'_000'";
          case "human" -> "yyyy-MM-dd_HH:mm:ss";
          case "iso-8601" -> "yyyy-MM-dd'T'HH:mm:ss.SSSXXX";
          case "unix-seconds" -> "'x'";
          default -> goLayout(format);
        };
    return DateTimeFormatter.ofPattern(pattern, Locale.ROOT).withZone(zone);
  }

  /** Translates the supported subset of Go's reference-time layout. */
  static String goLayout(String layout) {
    String[][] tokens = {
      {"2006", "yyyy"},
      {"Z07:00", "XXX"},
      {"-0700", "xx"},
      {".000", ".SSS"},
      {"Jan", "MMM"},
      {"Mon", "EEE"},
      {"MST", "zzz"},
      {"01", "MM"},
      {"02", "dd"},
      {"15", "HH"},
      {"04", "mm"},
      {"05", "ss"}
    };
    var out = new StringBuilder();
    var literal = new StringBuilder();
    boolean any = false;
    int i = 0;
    outer:
    while (i < layout.length()) {
      for (var t : tokens) {
        if (layout.startsWith(t[0], i)) {
          flush(out, literal);
          out.append(t[1]);
          i += t[0].length();
          any = true;
          continue outer;
        }
      }
      literal.append(layout.charAt(i++));
    }
    flush(out, literal);
    if (!any) {
      throw new IllegalArgumentException(
          "invalid timestamp_format '"
              + layout
              + "': use dense, human, iso-8601, unix-seconds or a Go layout such as 20060102_1504");
    }
    return out.toString();
  }

  private static void flush(StringBuilder out, StringBuilder literal) {
    if (!literal.isEmpty()) {
      out.append('\'').append(literal.toString().replace("'", "''")).append('\'');
      literal.setLength(0);
    }
  }
}
