package dev.zrepl4j.daemon;

import io.prometheus.metrics.model.registry.Collector;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.UnknownSnapshot;
import java.util.HashMap;
import java.util.List;
import java.util.function.Supplier;

/**
 * zrepl's {@code zrepl_daemon_log_entries{zrepl_job,level}} (exposed under that exact name, see
 * {@link Metrics}) and zrepl4j's {@code zrepl4j_log_outlet_dropped{outlet,type}}, read at each
 * scrape from the {@link LogStats} the log outlets count into: entries are summed over zrepl4j's
 * subsystem label, which zrepl's metric does not have. Thread-safe (it only reads).
 */
public final class LogEntryCounter {
  private final LogStats stats;

  /** Reads {@code stats} (the daemon's outlets' counts: {@link LogOutlets#stats()}). */
  public LogEntryCounter(LogStats stats) {
    this.stats = stats;
  }

  /** Counts nothing: for a daemon whose logging is not set up by {@link LogOutlets}. */
  public LogEntryCounter() {
    this(new LogStats());
  }

  Collector entries() {
    return new View(
        "zrepl_daemon_log_entries",
        () -> {
          var b =
              UnknownSnapshot.builder()
                  .name("zrepl_daemon_log_entries")
                  .help("number of log entries per job task and level");
          var sums = new HashMap<List<String>, Long>();
          stats.entries().forEach((k, n) -> sums.merge(List.of(k.job(), k.level()), n, Long::sum));
          sums.forEach(
              (labels, n) ->
                  b.dataPoint(
                      UnknownSnapshot.UnknownDataPointSnapshot.builder()
                          .labels(Labels.of("zrepl_job", labels.get(0), "level", labels.get(1)))
                          .value(n)
                          .build()));
          return b.build();
        });
  }

  Collector dropped() {
    return new View(
        "zrepl4j_log_outlet_dropped",
        () -> {
          var b =
              UnknownSnapshot.builder()
                  .name("zrepl4j_log_outlet_dropped")
                  .help(
                      "log entries an outlet dropped because it was down or too slow (its bounded"
                          + " buffer was full); outlet is its position in global.logging");
          for (var o : stats.outlets()) {
            b.dataPoint(
                UnknownSnapshot.UnknownDataPointSnapshot.builder()
                    .labels(Labels.of("outlet", String.valueOf(o.index()), "type", o.type()))
                    .value(o.dropped())
                    .build());
          }
          return b.build();
        });
  }

  /** A collector computed at scrape time under its exact name. */
  private record View(String name, Supplier<MetricSnapshot> snapshot) implements Collector {
    @Override
    public MetricSnapshot collect() {
      return snapshot.get();
    }

    @Override
    public String getPrometheusName() {
      return name;
    }
  }
}
