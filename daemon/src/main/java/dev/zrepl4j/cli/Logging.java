package dev.zrepl4j.cli;

import dev.zrepl4j.config.DaemonConfig;
import java.util.List;

/**
 * Applies {@code global.logging} to the logging backend (slf4j-simple, on stderr). Must run before
 * the first logger is created, i.e. before the daemon starts.
 */
final class Logging {
  private Logging() {}

  static void configure(List<DaemonConfig.LogOutlet> outlets) {
    var level = outlets.isEmpty() ? "warn" : outlets.getFirst().level();
    boolean time = outlets.isEmpty() || outlets.getFirst().time();
    setIfAbsent("org.slf4j.simpleLogger.defaultLogLevel", level);
    setIfAbsent("org.slf4j.simpleLogger.showDateTime", Boolean.toString(time));
    setIfAbsent("org.slf4j.simpleLogger.dateTimeFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX");
    setIfAbsent("org.slf4j.simpleLogger.showShortLogName", "true");
  }

  private static void setIfAbsent(String key, String value) {
    if (System.getProperty(key) == null) {
      System.setProperty(key, value);
    }
  }
}
