package dev.zrepl4j.config;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;

/**
 * A parsed database DSN: the JDBC URL and driver properties to connect with, and a description for
 * logs and messages. The password is only in {@link #properties}; {@link #toString} and {@link
 * #display} never show it.
 *
 * @param url the JDBC URL, without credentials
 * @param properties driver properties (user, password, timeouts, TLS)
 * @param display e.g. {@code postgres@127.0.0.1:5432/app}, for logs
 */
record JdbcTarget(String url, Map<String, String> properties, String display) {
  JdbcTarget {
    properties = Map.copyOf(properties);
  }

  Properties driverProperties() {
    var p = new Properties();
    p.putAll(properties);
    return p;
  }

  /**
   * {@code s} with the password (if any and at least 4 characters long) replaced by {@code ***}.
   */
  String redact(String s) {
    var pw = properties.getOrDefault("password", "");
    return pw.length() >= 4 ? s.replace(pw, "***") : s;
  }

  @Override
  public String toString() {
    return display;
  }

  /** {@code d} in whole seconds for JDBC, rounded up, at least 1. */
  static int seconds(Duration d) {
    long ms = d.toMillis();
    return (int) Math.clamp((ms + 999) / 1000, 1, Integer.MAX_VALUE);
  }

  /** The driver's message, with the SQLSTATE if it has one. */
  static String describe(SQLException e) {
    var msg = String.valueOf(e.getMessage());
    return e.getSQLState() == null ? msg : msg + " (SQLSTATE " + e.getSQLState() + ")";
  }

  /**
   * RFC 3986 percent-decoding into UTF-8 ({@code +} stays {@code +}).
   *
   * @throws IllegalArgumentException on a bad escape
   */
  static String percentDecode(String s) {
    if (s.indexOf('%') < 0) {
      return s;
    }
    var out = new ByteArrayOutputStream();
    int i = 0;
    while (i < s.length()) {
      int pct = s.indexOf('%', i);
      int end = pct < 0 ? s.length() : pct;
      out.writeBytes(s.substring(i, end).getBytes(StandardCharsets.UTF_8));
      if (pct < 0) {
        break;
      }
      int hi = pct + 2 < s.length() ? Character.digit(s.charAt(pct + 1), 16) : -1;
      int lo = pct + 2 < s.length() ? Character.digit(s.charAt(pct + 2), 16) : -1;
      if (hi < 0 || lo < 0) {
        throw new IllegalArgumentException("invalid %-escape at character " + (pct + 1));
      }
      out.write(hi * 16 + lo);
      i = pct + 3;
    }
    return out.toString(StandardCharsets.UTF_8);
  }
}
