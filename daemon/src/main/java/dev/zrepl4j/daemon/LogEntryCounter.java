package dev.zrepl4j.daemon;

import io.prometheus.metrics.model.registry.Collector;

/**
 * Counts log entries for zrepl's {@code zrepl_daemon_log_entries{zrepl_job,level}} (exposed under
 * that exact name, see {@link Metrics}): the logging backend calls {@link #entry} once per entry it
 * writes. Made before the daemon (so that entries logged while it starts count too) and given to
 * {@link Daemon#start(dev.zrepl4j.config.DaemonConfig, dev.zrepl4j.zfs.Zfs, java.time.Clock,
 * String, LogEntryCounter)}. Thread-safe; an entry costs a map lookup and an add.
 */
public final class LogEntryCounter {
  /** zrepl's label value for an entry outside any job. */
  public static final String NO_JOB = "_nojobid";

  private final Monotonic entries =
      new Monotonic(
          "zrepl_daemon_log_entries",
          "number of log entries per job task and level",
          "zrepl_job",
          "level");

  /**
   * Counts one entry.
   *
   * @param job the job the entry is about, or empty for none (counted as {@value #NO_JOB})
   * @param level zrepl's level names: {@code debug}, {@code info}, {@code warn}, {@code error}
   */
  public void entry(String job, String level) {
    entries.add(1, job.isEmpty() ? NO_JOB : job, level);
  }

  Collector collector() {
    return entries;
  }
}
