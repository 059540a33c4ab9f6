package dev.zrepl4j.replication.filter;

import dev.zrepl4j.zfs.DatasetPath;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * The rule table shared by {@link DatasetFilter} and {@link DatasetMapping} (seed §2.4): {@code
 * PATH} matches exactly that dataset, {@code PATH<} matches PATH and every descendant, {@code <}
 * alone matches every dataset. For a dataset, an exact rule wins over any subtree rule; else the
 * subtree rule with the most components wins; else nothing matches. Immutable, thread-safe.
 */
final class DatasetPatterns<V> {

  /**
   * A parsed pattern.
   *
   * @param path the dataset path of the pattern (the root path for {@code <})
   * @param subtree whether it ends with {@code <}
   */
  record Pattern(DatasetPath path, boolean subtree) {
    /**
     * Parses a pattern.
     *
     * @throws IllegalArgumentException naming the pattern
     */
    static Pattern parse(String s) {
      boolean subtree = s.endsWith("<");
      var p = subtree ? s.substring(0, s.length() - 1) : s;
      if (!subtree && p.contains("<")) {
        throw new IllegalArgumentException(
            "pattern '" + s + "' invalid: only one '<' at end of string allowed");
      }
      if (!subtree && p.isEmpty()) {
        throw new IllegalArgumentException("pattern '' invalid: empty (use '<' for every dataset)");
      }
      try {
        return new Pattern(DatasetPath.parse(p), subtree);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "pattern '" + s + "' is not a dataset path: " + e.getMessage(), e);
      }
    }

    @Override
    public String toString() {
      return path + (subtree ? "<" : "");
    }
  }

  /** A matching rule and its value. */
  record Rule<V>(Pattern pattern, V value) {}

  private final Map<DatasetPath, Rule<V>> exact = new HashMap<>();
  private final Map<DatasetPath, Rule<V>> subtrees = new HashMap<>();

  /**
   * Builds the table; {@code value} converts (and validates) each rule's raw value.
   *
   * @throws IllegalArgumentException naming the pattern for an invalid pattern, a duplicate or a
   *     value {@code value} refuses
   */
  static <R, V> DatasetPatterns<V> of(Map<String, R> rules, Function<R, V> value) {
    var t = new DatasetPatterns<V>();
    for (var e : rules.entrySet()) {
      var p = Pattern.parse(e.getKey());
      V v;
      try {
        v = value.apply(e.getValue());
      } catch (IllegalArgumentException ex) {
        throw new IllegalArgumentException("pattern '" + e.getKey() + "': " + ex.getMessage(), ex);
      }
      var table = p.subtree() ? t.subtrees : t.exact;
      if (table.put(p.path(), new Rule<>(p, v)) != null) {
        throw new IllegalArgumentException("pattern '" + e.getKey() + "' given twice");
      }
    }
    return t;
  }

  /** The most specific rule for {@code dataset}, if any. */
  Optional<Rule<V>> mostSpecific(DatasetPath dataset) {
    var r = exact.get(dataset);
    if (r != null) {
      return Optional.of(r);
    }
    for (int n = dataset.length(); n >= 0; n--) {
      var s = subtrees.get(new DatasetPath(dataset.components().subList(0, n)));
      if (s != null) {
        return Optional.of(s);
      }
    }
    return Optional.empty();
  }

  /** All rules, for display. */
  List<Rule<V>> rules() {
    var all = new ArrayList<Rule<V>>(exact.values());
    all.addAll(subtrees.values());
    return all;
  }
}
