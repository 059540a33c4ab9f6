package dev.zrepl4j.daemon;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import java.util.TreeMap;

/**
 * zrepl's three line formats ({@code daemon/logging/logging_formatters.go}), one entry per line
 * without the line end. Stateless and thread-safe.
 *
 * <ul>
 *   <li>{@code human}: {@code 2026-12-06T12:00:00Z [INFO][job][subsystem]: message key="value"}
 *   <li>{@code logfmt}: {@code time=... level=info job=... subsystem=... msg=... key=value}, values
 *       quoted as go-logfmt does (when they hold a space, {@code =}, {@code "} or a control char)
 *   <li>{@code json}: one object with the fields and {@code msg}, {@code time}, {@code level}, keys
 *       sorted as Go's encoding/json writes a map
 * </ul>
 */
enum LogFormat {
  HUMAN,
  LOGFMT,
  JSON;

  private static final String RESET = "\u001b[0m";

  /** What an outlet adds to each entry besides the message and fields (zrepl's MetadataFlags). */
  record Metadata(boolean time, boolean level, boolean color) {
    static final Metadata ALL_NO_COLOR = new Metadata(true, true, false);
    static final Metadata NONE = new Metadata(false, false, false);
  }

  /** The format named {@code name} in the config (human, logfmt, json). */
  static LogFormat of(String name) {
    return switch (name) {
      case "human" -> HUMAN;
      case "logfmt" -> LOGFMT;
      case "json" -> JSON;
      default -> throw new IllegalArgumentException("unknown log format '" + name + "'");
    };
  }

  String format(LogEntry e, Metadata m) {
    return switch (this) {
      case HUMAN -> human(e, m);
      case LOGFMT -> logfmt(e, m);
      case JSON -> json(e);
    };
  }

  /** Go's time.RFC3339: seconds, {@code Z} or an offset. */
  static String rfc3339(Instant t) {
    return DateTimeFormatter.ISO_OFFSET_DATE_TIME.format(
        t.truncatedTo(ChronoUnit.SECONDS).atOffset(ZoneOffset.UTC));
  }

  /** Go's time.RFC3339Nano, as go-logfmt writes a time (trailing zeros of the fraction dropped). */
  static String rfc3339Nano(Instant t) {
    // ISO_OFFSET_DATE_TIME prints the fraction only as far as it is non-zero, like Go
    return DateTimeFormatter.ISO_OFFSET_DATE_TIME.format(t.atOffset(ZoneOffset.UTC));
  }

  private static String human(LogEntry e, Metadata m) {
    var b = new StringBuilder();
    String on = m.color() ? e.level().ansi() : "";
    String off = m.color() ? RESET : "";
    if (m.time()) {
      b.append(rfc3339(e.time())).append(' ');
    }
    if (m.level()) {
      b.append('[').append(on).append(e.level().shortText()).append(off).append(']');
    }
    for (var f : new String[] {LogEntry.JOB, LogEntry.SUBSYSTEM}) {
      var v = e.fields().get(f);
      if (v != null) {
        b.append('[').append(on).append(v).append(off).append(']');
      }
    }
    if (!b.isEmpty()) {
      b.append(": ");
    }
    b.append(e.message());
    for (var f : e.otherFields().entrySet()) {
      b.append(' ').append(on).append(f.getKey()).append(off).append('=');
      goQuote(b, f.getValue());
    }
    return b.toString();
  }

  private static String logfmt(LogEntry e, Metadata m) {
    var b = new StringBuilder();
    if (m.time()) {
      keyval(b, "time", rfc3339Nano(e.time()));
    }
    if (m.level()) {
      keyval(b, "level", e.level().text());
    }
    for (var f : new String[] {LogEntry.JOB, LogEntry.SUBSYSTEM}) {
      var v = e.fields().get(f);
      if (v != null) {
        keyval(b, f, v);
      }
    }
    keyval(b, "msg", e.message());
    for (var f : e.otherFields().entrySet()) {
      keyval(b, f.getKey(), f.getValue());
    }
    return b.toString();
  }

  private static void keyval(StringBuilder b, String key, String value) {
    if (!b.isEmpty()) {
      b.append(' ');
    }
    b.append(key).append('=');
    if (needsQuotes(value)) {
      goQuote(b, value);
    } else {
      b.append(value);
    }
  }

  /** go-logfmt quotes a value holding a space, '=', '"', a control character, or invalid text. */
  static boolean needsQuotes(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c <= ' ' || c == '=' || c == '"' || c == 0x7f || Character.isSurrogate(c)) {
        return true;
      }
    }
    return false;
  }

  /** A Go-style double-quoted string: \" \\ \n \r \t escaped, other control chars as \\u00XX. */
  static void goQuote(StringBuilder b, String s) {
    b.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < ' ' || c == 0x7f) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    b.append('"');
  }

  private static String json(LogEntry e) {
    Map<String, String> data = new TreeMap<>(e.fields());
    data.put("msg", e.message());
    data.put("time", rfc3339(e.time()));
    data.put("level", e.level().text());
    var b = new StringBuilder("{");
    for (var f : data.entrySet()) {
      if (b.length() > 1) {
        b.append(',');
      }
      jsonString(b, f.getKey());
      b.append(':');
      jsonString(b, f.getValue());
    }
    return b.append('}').toString();
  }

  /** A JSON string as Go's encoding/json writes it (HTML-safe: <, >, & escaped too). */
  static void jsonString(StringBuilder b, String s) {
    b.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        case '<', '>', '&', '\u2028', '\u2029' -> b.append(String.format("\\u%04x", (int) c));
        default -> {
          if (c < ' ') {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    b.append('"');
  }
}
