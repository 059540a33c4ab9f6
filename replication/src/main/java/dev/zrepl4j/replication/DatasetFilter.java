package dev.zrepl4j.replication;

import dev.zrepl4j.zfs.DatasetPath;
import java.util.Locale;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Which datasets a job touches: zrepl's {@code filesystems} map ({@code {"tank<": true,
 * "tank/tmp<": false, "tank/x": true}}) or the seed's {@code ok}/{@code omit} form. An exact
 * pattern beats a subtree pattern ({@code <}), the subtree pattern with the most components beats
 * the others, and a dataset no pattern matches is excluded. Patterns and values are validated when
 * the filter is built (the seed validated values only when they were used). Immutable, thread-safe.
 */
public final class DatasetFilter implements Predicate<DatasetPath> {

  private final DatasetPatterns<Boolean> rules;

  private DatasetFilter(DatasetPatterns<Boolean> rules) {
    this.rules = rules;
  }

  /**
   * zrepl's {@code filesystems} syntax: pattern → include.
   *
   * @throws IllegalArgumentException naming the pattern if one is invalid
   */
  public static DatasetFilter of(Map<String, Boolean> rules) {
    return new DatasetFilter(DatasetPatterns.of(rules, b -> b));
  }

  /**
   * The seed's filter syntax: pattern → {@code ok} or {@code omit} (case-insensitive).
   *
   * @throws IllegalArgumentException naming the pattern if a pattern or a value is invalid
   */
  public static DatasetFilter seed(Map<String, String> rules) {
    return new DatasetFilter(
        DatasetPatterns.of(
            rules,
            v ->
                switch (v.toLowerCase(Locale.ROOT)) {
                  case "ok" -> true;
                  case "omit" -> false;
                  default ->
                      throw new IllegalArgumentException(
                          "filter value must be 'ok' or 'omit', got '" + v + "'");
                }));
  }

  /** A filter that includes every dataset ({@code <: true}). */
  public static DatasetFilter all() {
    return of(Map.of("<", true));
  }

  /** Whether {@code dataset} is included. */
  @Override
  public boolean test(DatasetPath dataset) {
    return rules.mostSpecific(dataset).map(DatasetPatterns.Rule::value).orElse(false);
  }

  @Override
  public String toString() {
    var sb = new StringBuilder("DatasetFilter{");
    for (var r : rules.rules()) {
      sb.append(r.pattern()).append(": ").append(r.value()).append(", ");
    }
    return sb.append('}').toString();
  }
}
