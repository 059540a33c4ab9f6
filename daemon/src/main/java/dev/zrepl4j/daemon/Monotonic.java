package dev.zrepl4j.daemon;

import io.prometheus.metrics.model.registry.Collector;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.UnknownSnapshot;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.DoubleAdder;

/**
 * A monotonic sum per label set, exposed under its exact name (see {@link Metrics}'s implementation
 * notes). Thread-safe.
 */
final class Monotonic implements Collector {
  private final String name;
  private final String help;
  private final String[] labelNames;
  private final Map<List<String>, DoubleAdder> values = new ConcurrentHashMap<>();

  Monotonic(String name, String help, String... labelNames) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames.clone();
  }

  void add(double amount, String... labelValues) {
    if (amount < 0) {
      throw new IllegalArgumentException(name + ": negative increment " + amount);
    }
    if (labelValues.length != labelNames.length) {
      throw new IllegalArgumentException(name + ": expected labels " + List.of(labelNames));
    }
    values.computeIfAbsent(List.of(labelValues), k -> new DoubleAdder()).add(amount);
  }

  @Override
  public MetricSnapshot collect() {
    var b = UnknownSnapshot.builder().name(name).help(help);
    values.forEach(
        (labels, v) ->
            b.dataPoint(
                UnknownSnapshot.UnknownDataPointSnapshot.builder()
                    .labels(Labels.of(labelNames, labels.toArray(String[]::new)))
                    .value(v.sum())
                    .build()));
    return b.build();
  }

  @Override
  public String getPrometheusName() {
    return name;
  }
}
