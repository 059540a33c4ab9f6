package dev.zrepl4j.replication.filter;

import dev.zrepl4j.zfs.DatasetPath;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * The seed's mapping ({@code pattern: target}, seed §2.4): the most specific pattern (exact beats
 * subtree, longer subtree beats shorter) maps a dataset. An exact pattern maps to its target; a
 * subtree pattern {@code P<} maps {@code P/rest} to {@code target/rest}; the root pattern {@code <}
 * drops the dataset's first component (the pool name) instead. Targets are validated when the
 * mapping is built (the seed parsed them only when used). Immutable, thread-safe.
 *
 * <p>A receiver needs the way back too (its datasets, named as the sender names them): {@link
 * #inverse()} reverses every rule ({@code P<: T} becomes {@code T<: P}, {@code P: T} becomes {@code
 * T: P}) and refuses a mapping whose reversal is not an exact inverse, i.e. one that maps two
 * datasets onto the same target.
 */
public final class DatasetMapping {

  private final DatasetPatterns<DatasetPath> rules;

  /** For an inverse: the mapping it reverses, whose targets are its only datasets. */
  private final @Nullable DatasetMapping reversed;

  private DatasetMapping(DatasetPatterns<DatasetPath> rules, @Nullable DatasetMapping reversed) {
    this.rules = rules;
    this.reversed = reversed;
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
            }),
        null);
  }

  /** The target of {@code dataset}, or empty if no pattern matches it (the seed's NoMatch). */
  public Optional<DatasetPath> map(DatasetPath dataset) {
    var target = apply(dataset);
    var forward = reversed;
    if (forward == null) {
      return target;
    }
    // an inverse maps exactly the targets of its forward mapping
    return target.filter(d -> forward.apply(d).equals(Optional.of(dataset)));
  }

  private Optional<DatasetPath> apply(DatasetPath dataset) {
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

  /**
   * The inverse: maps every target of this mapping back to the one dataset that maps onto it, and
   * nothing else ({@code inverse().map(map(d).get()) == Optional.of(d)} whenever {@code map(d)} is
   * present; {@code inverse().inverse()} is this mapping).
   *
   * @throws IllegalArgumentException naming the mapping and the rules involved if it is not
   *     invertible: it has the root pattern {@code <} (which drops the pool name), or two datasets
   *     map onto one target (two rules onto the same target, or a subtree rule's target inside
   *     another's where no more specific rule takes the overlap)
   */
  public DatasetMapping inverse() {
    var forward = reversed;
    if (forward != null) {
      return forward;
    }
    for (var r : rules.rules()) {
      if (r.pattern().subtree() && r.pattern().path().isEmpty()) {
        throw notInvertible(
            "rule '<' drops the pool name, so its targets cannot be mapped back; use 'POOL<'");
      }
    }
    var back = new LinkedHashMap<String, String>();
    var byTarget = new HashMap<String, DatasetPatterns.Rule<DatasetPath>>();
    for (var r : rules.rules()) {
      var p = r.pattern();
      var key = r.value() + (p.subtree() ? "<" : "");
      var other = byTarget.put(key, r);
      if (other != null) {
        throw notInvertible(
            "'"
                + other.pattern()
                + "' and '"
                + p
                + "' both map onto "
                + (p.subtree() ? "the subtree " : "")
                + r.value());
      }
      back.put(key, p.path().toString());
    }
    var inverse = new DatasetMapping(DatasetPatterns.of(back, DatasetPath::parse), this);
    for (var d : representatives()) {
      var t = apply(d);
      if (t.isEmpty()) {
        continue;
      }
      var again = inverse.apply(t.get());
      if (!again.equals(Optional.of(d))) {
        throw notInvertible(collision(d, t.get(), again.orElse(null)));
      }
    }
    return inverse;
  }

  /**
   * This mapping with its targets made relative to {@code root} (a pull job's absolute targets,
   * below its {@code root_fs}).
   *
   * @throws IllegalArgumentException naming the rule whose target is not strictly below {@code
   *     root}
   * @throws IllegalStateException on an inverse
   */
  public DatasetMapping relativeTo(DatasetPath root) {
    if (reversed != null) {
      throw new IllegalStateException("relativeTo of an inverse mapping");
    }
    var relative = new LinkedHashMap<String, String>();
    for (var r : rules.rules()) {
      if (!r.value().hasPrefix(root) || r.value().length() <= root.length()) {
        throw new IllegalArgumentException(
            "mapping rule '" + r.pattern() + "': target " + r.value() + " is not below " + root);
      }
      relative.put(r.pattern().toString(), r.value().trimPrefix(root).toString());
    }
    return of(relative);
  }

  /**
   * The datasets on which the reversed rules must give back what this mapping maps: a dataset's
   * target and its way back depend only on which pattern paths (forward) and target paths (back) it
   * and its target lie on or below, and a deeper dataset behaves like these, its tail carried
   * through unchanged. So for each rule: its pattern, its pattern extended by every path towards
   * another pattern or (on the target side) towards another target, and each of those extended by a
   * component that occurs nowhere.
   */
  private Set<DatasetPath> representatives() {
    var all = rules.rules();
    Set<String> used = new HashSet<>();
    for (var r : all) {
      used.addAll(r.pattern().path().components());
      used.addAll(r.value().components());
    }
    var fresh = "x";
    for (int i = 0; used.contains(fresh); i++) {
      fresh = "x" + i;
    }
    var out = new LinkedHashSet<DatasetPath>();
    for (var r : all) {
      var p = r.pattern().path();
      out.add(p);
      if (!r.pattern().subtree()) {
        continue;
      }
      var rests = new LinkedHashSet<DatasetPath>();
      rests.add(DatasetPath.ROOT);
      for (var o : all) {
        addPrefixesBelow(rests, o.pattern().path(), p);
        addPrefixesBelow(rests, o.value(), r.value());
      }
      for (var rest : rests) {
        out.add(p.extend(rest));
        out.add(p.extend(rest).child(fresh));
      }
    }
    return out;
  }

  /** Adds every prefix of {@code path} below {@code base}, relative to it. */
  private static void addPrefixesBelow(Set<DatasetPath> to, DatasetPath path, DatasetPath base) {
    if (!path.hasPrefix(base)) {
      return;
    }
    var rest = path.trimPrefix(base);
    for (int n = 0; n <= rest.length(); n++) {
      to.add(new DatasetPath(rest.components().subList(0, n)));
    }
  }

  private String collision(DatasetPath d, DatasetPath t, @Nullable DatasetPath again) {
    var rule = rules.mostSpecific(d).orElseThrow().pattern();
    var head = "'" + rule + "' maps " + d + " onto " + t;
    if (again != null) {
      var otherRule = rules.mostSpecific(again);
      if (otherRule.isPresent() && apply(again).equals(Optional.of(t))) {
        return head + ", and '" + otherRule.get().pattern() + "' maps " + again + " onto it too";
      }
      return head + ", which the reversed rules map back to " + again;
    }
    return head + ", which the reversed rules do not map back";
  }

  private IllegalArgumentException notInvertible(String why) {
    return new IllegalArgumentException(
        "mapping " + this + " cannot be inverted (received datasets must map back): " + why);
  }

  /** The rules, sorted by pattern: {@code {a<: x, a/b: y}}. */
  @Override
  public String toString() {
    var list = new ArrayList<>(rules.rules());
    list.sort((x, y) -> x.pattern().toString().compareTo(y.pattern().toString()));
    return list.stream()
        .map(r -> r.pattern() + ": " + r.value())
        .collect(Collectors.joining(", ", "{", "}"));
  }
}
