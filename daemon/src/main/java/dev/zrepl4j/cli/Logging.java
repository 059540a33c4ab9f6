package dev.zrepl4j.cli;

import ch.qos.logback.classic.LoggerContext;
import dev.zrepl4j.config.DaemonConfig;
import dev.zrepl4j.daemon.LogOutlets;
import java.io.IOException;
import java.util.List;
import org.slf4j.LoggerFactory;

/** Installs log outlets into the logging backend (logback). */
final class Logging {
  private Logging() {}

  /**
   * For every command: warnings and errors to stderr in zrepl's human format, so that a command's
   * own output (status --json...) stays clean.
   */
  static LogOutlets defaults() {
    var system = LogOutlets.Options.system();
    var stderr =
        new LogOutlets.Options(
            System.err, false, system.syslogSockets(), system.zone(), system.buffer());
    try {
      return LogOutlets.install(
          List.of(new DaemonConfig.LogOutlet.Stdout("warn", "human", true, false)),
          context(),
          stderr);
    } catch (IOException e) {
      throw new IllegalStateException("a stderr outlet has no files to load", e);
    }
  }

  /**
   * The daemon's {@code global.logging}, replacing {@link #defaults()}.
   *
   * @throws IOException if a tcp outlet's TLS files cannot be loaded
   */
  static LogOutlets configure(List<DaemonConfig.LogOutlet> outlets) throws IOException {
    return LogOutlets.install(outlets, context(), LogOutlets.Options.system());
  }

  private static LoggerContext context() {
    if (LoggerFactory.getILoggerFactory() instanceof LoggerContext c) {
      return c;
    }
    throw new IllegalStateException(
        "the logging backend is not logback but " + LoggerFactory.getILoggerFactory());
  }
}
