package dev.zrepl4j.replication;

import dev.zrepl4j.zfs.DatasetPath;
import java.util.Map;
import java.util.Optional;

/**
 * The seed's mapping ({@code pattern: target}, seed §2.4): the most specific pattern (exact beats
 * subtree, longer subtree beats shorter) maps a dataset. An exact pattern maps to its target; a
 * subtree pattern {@code P<} maps {@code P/rest} to {@code target/rest}; the root pattern {@code <}
 * drops the dataset's first component (the pool name) instead. Targets are validated when the
 * mapping is built (the seed parsed them only when used). Immutable, thread-safe.
 */
public final class DatasetMapping {

  private final DatasetPatterns<DatasetPath> rules;

  private DatasetMapping(DatasetPatterns<DatasetPath> rules) {
    this.rules = rules;
  }

  /**
   * Builds a mapping from pattern → target dataset.
   *
   * @throws IllegalArgumentException naming the pattern for an invalid pattern or target
   */
  public static DatasetMapping of(Map<String, String> rules) {
    return new DatasetMapping(
        DatasetPatterns.of(
            rules,
            t -> {
              if (t.isEmpty()) {
                throw new IllegalArgumentException("empty target");
              }
              return DatasetPath.parse(t);
            }));
  }

  /** The target of {@code dataset}, or empty if no pattern matches it (the seed's NoMatch). */
  public Optional<DatasetPath> map(DatasetPath dataset) {
    return rules
        .mostSpecific(dataset)
        .map(
            r -> {
              var p = r.pattern();
              if (!p.subtree()) {
                return r.value();
              }
              var rest = p.path().isEmpty() ? dataset.trimFirst(1) : dataset.trimPrefix(p.path());
              return r.value().extend(rest);
            });
  }
}
