package dev.zrepl4j.zfs;

import java.util.List;

/**
 * The output of a {@code zfs} command could not be parsed; the message names the offending line.
 */
public final class ZfsParseException extends ZfsException {
  private static final long serialVersionUID = 1L;

  ZfsParseException(String message) {
    this(message, List.of());
  }

  private final String detail;

  ZfsParseException(String message, List<String> argv) {
    super(argv.isEmpty() ? message : message + " (output of " + argv + ")", argv, 0, "");
    this.detail = message;
  }

  /** The same problem, now knowing which command printed the output. */
  ZfsParseException withArgv(List<String> argv) {
    var e = new ZfsParseException(detail, argv);
    e.initCause(this);
    return e;
  }
}
