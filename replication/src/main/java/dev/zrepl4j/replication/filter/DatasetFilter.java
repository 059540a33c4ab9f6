package dev.zrepl4j.replication.filter;

import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.Zfs;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntConsumer;
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

  /**
   * The datasets below which (themselves included) every dataset this filter includes lies: the
   * paths of the including patterns, none below another, sorted. Empty if a pattern includes every
   * dataset ({@code <: true}): then only a listing of all pools finds them. Listing just these
   * subtrees spares a host with thousands of unrelated datasets a listing of all of them on every
   * run (zrepl#870).
   */
  public Optional<List<DatasetPath>> roots() {
    var including = new ArrayList<DatasetPath>();
    for (var r : rules.rules()) {
      if (r.value()) {
        if (r.pattern().path().isEmpty()) {
          return Optional.empty();
        }
        including.add(r.pattern().path());
      }
    }
    including.sort(Comparator.comparing(DatasetPath::toString));
    var out = new ArrayList<DatasetPath>();
    for (var p : including) {
      if (out.stream().noneMatch(p::hasPrefix)) {
        out.add(p);
      }
    }
    return Optional.of(List.copyOf(out));
  }

  /**
   * The filesystems and volumes {@code filter} includes, in one {@code zfs list}: of its {@link
   * #roots()} where it is a {@code DatasetFilter} that has them, else of all pools.
   */
  public static List<DatasetPath> list(Zfs zfs, Predicate<DatasetPath> filter) throws IOException {
    return list(zfs, filter, n -> {});
  }

  /**
   * As {@link #list(Zfs, Predicate)}, and tells {@code unmatched} how many of the filter's patterns
   * name a dataset that the listing did not find (zrepl's {@code
   * zrepl_zfs_list_unmatched_user_specified_dataset_count}: a rule with no effect, often a typo).
   * The pattern {@code <} (every dataset) names none and is never counted; a filter that is not a
   * {@code DatasetFilter} has no patterns (0).
   */
  public static List<DatasetPath> list(
      Zfs zfs, Predicate<DatasetPath> filter, IntConsumer unmatched) throws IOException {
    if (!(filter instanceof DatasetFilter f)) {
      var out = zfs.listFilesystems(List.of(), filter);
      unmatched.accept(0);
      return out;
    }
    // the zfs layer tests every dataset it lists against the filter: that is what it found
    var seen = ConcurrentHashMap.<DatasetPath>newKeySet();
    Predicate<DatasetPath> recording =
        p -> {
          seen.add(p);
          return f.test(p);
        };
    var out = listOf(zfs, f, recording);
    int n = 0;
    for (var r : f.rules.rules()) {
      var path = r.pattern().path();
      if (!path.isEmpty() && !seen.contains(path)) {
        n++;
      }
    }
    unmatched.accept(n);
    return out;
  }

  private static List<DatasetPath> listOf(Zfs zfs, DatasetFilter f, Predicate<DatasetPath> filter)
      throws IOException {
    var roots = f.roots();
    return roots.isPresent()
        ? zfs.listFilesystemsBelow(roots.get(), filter)
        : zfs.listFilesystems(List.of(), filter);
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
