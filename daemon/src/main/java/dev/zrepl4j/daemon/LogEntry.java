package dev.zrepl4j.daemon;

import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SequencedMap;

/**
 * One log entry as zrepl's outlets see it: a level, a message, a time and fields; {@code job} and
 * {@code subsystem} first when present (zrepl's {@code logger.Entry}).
 *
 * @param fields in the order they are printed; unmodifiable
 */
record LogEntry(Instant time, Level level, String message, SequencedMap<String, String> fields) {
  /** zrepl's field naming the job. */
  static final String JOB = "job";

  /** zrepl's field naming the subsystem (repl, endpoint, pruning, snapshot, transport, rpc...). */
  static final String SUBSYSTEM = "subsystem";

  /** zrepl's field of an error. */
  static final String ERR = "err";

  LogEntry {
    fields = Collections.unmodifiableSequencedMap(new LinkedHashMap<>(fields));
  }

  /** The value of {@code field}, or "" when absent. */
  String field(String field) {
    return fields.getOrDefault(field, "");
  }

  /** Fields other than job and subsystem, in order. */
  Map<String, String> otherFields() {
    var m = new LinkedHashMap<>(fields);
    m.remove(JOB);
    m.remove(SUBSYSTEM);
    return m;
  }

  /** zrepl's four levels, least severe first. */
  enum Level {
    DEBUG("debug", "DEBG", 7, "\u001b[94m"),
    INFO("info", "INFO", 6, "\u001b[92m"),
    WARN("warn", "WARN", 4, "\u001b[93m"),
    ERROR("error", "ERRO", 3, "\u001b[91m");

    private final String text;
    private final String shortText;
    private final int syslogSeverity;
    private final String ansi;

    Level(String text, String shortText, int syslogSeverity, String ansi) {
      this.text = text;
      this.shortText = shortText;
      this.syslogSeverity = syslogSeverity;
      this.ansi = ansi;
    }

    /** As in the config and in logfmt/json: debug, info, warn, error. */
    String text() {
      return text;
    }

    /** As in the human format: DEBG, INFO, WARN, ERRO. */
    String shortText() {
      return shortText;
    }

    /** The RFC 5424 severity: debug 7, info 6, warning 4, err 3 (as Go's log/syslog). */
    int syslogSeverity() {
      return syslogSeverity;
    }

    /** The ANSI colour zrepl gives the level (bright blue, green, yellow, red). */
    String ansi() {
      return ansi;
    }

    /** The level named {@code text} in the config. */
    static Level of(String text) {
      for (var l : values()) {
        if (l.text.equals(text)) {
          return l;
        }
      }
      throw new IllegalArgumentException("unknown log level '" + text + "'");
    }
  }
}
