package dev.zrepl4j.config;

import dev.zrepl4j.config.ConfigException.Problem;
import dev.zrepl4j.replication.pruning.Durations;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;
import org.snakeyaml.engine.v2.nodes.Tag;

/**
 * Typed reading of a snakeyaml-engine node tree that records every problem (with file, line, column
 * and YAML path) instead of stopping at the first. A value that is wrong is reported and read as
 * empty; the caller builds its result only if no problem was recorded. Not thread-safe.
 */
final class Yaml {

  /** The message of a key zrepl has and zrepl4j does not act on yet (with a non-default value). */
  static final String NOT_SUPPORTED = "not supported yet";

  /** The problems of one parse, shared by all files of it. */
  static final class Problems {
    private final List<Problem> list = new ArrayList<>();

    void add(Path file, Node at, String path, String message) {
      add(file, at.getStartMark().orElse(null), path, message);
    }

    /** A problem at {@code mark}, or at no line (0:0) for a file-wide one. */
    void add(Path file, @Nullable Mark mark, String path, String message) {
      int line = mark == null ? 0 : mark.getLine() + 1;
      int column = mark == null ? 0 : mark.getColumn() + 1;
      list.add(new Problem(file, line, column, path, message));
    }

    int count() {
      return list.size();
    }

    List<Problem> list() {
      return list;
    }
  }

  /** A node and its YAML path, in a file. */
  record Value(Path file, Problems problems, String path, Node node) {

    void error(String message) {
      problems.add(file, node, path, message);
    }

    boolean isNull() {
      return node instanceof ScalarNode s && s.getTag().equals(Tag.NULL);
    }

    /** The scalar's text, or empty after reporting "expected a string". */
    Optional<String> string() {
      if (node instanceof ScalarNode s && !isNull()) {
        return Optional.of(s.getValue());
      }
      error("expected a string, got " + kind());
      return Optional.empty();
    }

    Optional<Boolean> bool() {
      if (node instanceof ScalarNode s) {
        switch (s.getValue().toLowerCase(Locale.ROOT)) {
          case "true", "yes", "on" -> {
            return Optional.of(true);
          }
          case "false", "no", "off" -> {
            return Optional.of(false);
          }
          default -> {}
        }
      }
      error("expected a bool (true or false), got " + describe());
      return Optional.empty();
    }

    Optional<Integer> integer() {
      if (node instanceof ScalarNode s) {
        try {
          return Optional.of(Integer.parseInt(s.getValue().strip()));
        } catch (NumberFormatException e) {
          // fall through
        }
      }
      error("expected an integer, got " + describe());
      return Optional.empty();
    }

    Optional<YMap> map() {
      if (node instanceof MappingNode m) {
        return Optional.of(new YMap(this, m));
      }
      error("expected a map, got " + kind());
      return Optional.empty();
    }

    Optional<List<Value>> list() {
      if (node instanceof SequenceNode s) {
        var out = new ArrayList<Value>();
        var items = s.getValue();
        for (int i = 0; i < items.size(); i++) {
          out.add(new Value(file, problems, path + "[" + i + "]", items.get(i)));
        }
        return Optional.of(out);
      }
      error("expected a list, got " + kind());
      return Optional.empty();
    }

    /** A list of strings. */
    Optional<List<String>> strings() {
      return list()
          .flatMap(
              l -> {
                var out = new ArrayList<String>();
                boolean ok = true;
                for (var v : l) {
                  var s = v.string();
                  ok &= s.isPresent();
                  s.ifPresent(out::add);
                }
                return ok ? Optional.of(out) : Optional.empty();
              });
    }

    /** Converts the string with {@code parse}, reporting its IllegalArgumentException. */
    <T> Optional<T> parse(Function<String, T> parse) {
      return string().flatMap(s -> attempt(() -> parse.apply(s)));
    }

    /** Runs {@code f}, reporting its IllegalArgumentException at this node. */
    <T> Optional<T> attempt(Supplier<T> f) {
      try {
        return Optional.of(f.get());
      } catch (IllegalArgumentException e) {
        error(String.valueOf(e.getMessage()));
        return Optional.empty();
      }
    }

    Optional<Duration> duration() {
      return parse(Durations::parse);
    }

    Optional<Duration> positiveDuration() {
      return parse(Durations::parsePositive);
    }

    /** An absolute path; reports anything else. */
    Optional<Path> absolutePath() {
      return string()
          .flatMap(
              s -> {
                if (!s.startsWith("/")) {
                  error("must be an absolute path, got '" + s + "'");
                  return Optional.empty();
                }
                return attempt(() -> Path.of(s));
              });
    }

    /** A path, relative or absolute, but not empty. */
    Optional<Path> nonEmptyPath() {
      return string()
          .flatMap(
              s -> {
                if (s.isEmpty()) {
                  error("must not be empty");
                  return Optional.empty();
                }
                return attempt(() -> Path.of(s));
              });
    }

    private String kind() {
      return switch (node) {
        case MappingNode m -> "a map";
        case SequenceNode s -> "a list";
        default -> isNull() ? "nothing" : "a scalar";
      };
    }

    private String describe() {
      return node instanceof ScalarNode s && !isNull() ? "'" + s.getValue() + "'" : kind();
    }
  }

  /** A mapping whose keys are read one by one; {@link #finish} reports the keys nobody read. */
  static final class YMap {
    private final Value self;
    private final Map<String, NodeTuple> entries = new LinkedHashMap<>();
    private final Set<String> known = new HashSet<>();

    YMap(Value self, MappingNode node) {
      this.self = self;
      for (var t : node.getValue()) {
        if (!(t.getKeyNode() instanceof ScalarNode k)) {
          self.problems.add(self.file, t.getKeyNode(), self.path, "map keys must be strings");
          continue;
        }
        if (entries.containsKey(k.getValue())) {
          self.problems.add(self.file, k, sub(k.getValue()), "duplicate key");
          continue;
        }
        entries.put(k.getValue(), t);
      }
    }

    Value self() {
      return self;
    }

    /** The problems of the parse this map is part of (to count them before and after a key). */
    Problems problems() {
      return self.problems;
    }

    String path() {
      return self.path;
    }

    String sub(String key) {
      return self.path.isEmpty() ? key : self.path + "." + key;
    }

    /** The keys present, in file order (for maps whose keys are data, like {@code clients}). */
    List<String> keys() {
      known.addAll(entries.keySet());
      return List.copyOf(entries.keySet());
    }

    /** The key's node (for marks), whether or not its value is null. */
    Optional<Value> keyNode(String key) {
      var t = entries.get(key);
      return t == null
          ? Optional.empty()
          : Optional.of(new Value(self.file, self.problems, sub(key), t.getKeyNode()));
    }

    /** The key's value; an explicit null counts as absent. */
    Optional<Value> get(String key) {
      known.add(key);
      var t = entries.get(key);
      if (t == null) {
        return Optional.empty();
      }
      var v = new Value(self.file, self.problems, sub(key), t.getValueNode());
      return v.isNull() ? Optional.empty() : Optional.of(v);
    }

    /** Like {@link #get} but reports a missing key. */
    Optional<Value> required(String key) {
      var v = get(key);
      if (v.isEmpty()) {
        var where = keyNode(key).map(Value::node).orElse(self.node);
        self.problems.add(self.file, where, sub(key), "required key is missing");
      }
      return v;
    }

    Optional<String> string(String key) {
      return get(key).flatMap(Value::string);
    }

    String string(String key, String dflt) {
      return get(key).flatMap(Value::string).orElse(dflt);
    }

    Optional<String> requiredString(String key) {
      return required(key).flatMap(Value::string);
    }

    boolean bool(String key, boolean dflt) {
      return get(key).flatMap(Value::bool).orElse(dflt);
    }

    Duration duration(String key, Duration dflt) {
      return get(key).flatMap(Value::positiveDuration).orElse(dflt);
    }

    Optional<YMap> map(String key) {
      return get(key).flatMap(Value::map);
    }

    Optional<YMap> requiredMap(String key) {
      return required(key).flatMap(Value::map);
    }

    Optional<List<Value>> list(String key) {
      return get(key).flatMap(Value::list);
    }

    /** The key's value if it is one of {@code allowed}; reports anything else. */
    Optional<String> oneOf(String key, List<String> allowed) {
      return get(key)
          .flatMap(
              v ->
                  v.string()
                      .filter(
                          s -> {
                            if (!allowed.contains(s)) {
                              v.error(
                                  "invalid value '"
                                      + s
                                      + "' (expected "
                                      + String.join(", ", allowed)
                                      + ")");
                              return false;
                            }
                            return true;
                          }));
    }

    /** The key's integer if it is at least 1; reports anything else. */
    Optional<Integer> positiveInt(String key) {
      return get(key)
          .flatMap(
              v ->
                  v.integer()
                      .filter(
                          i -> {
                            if (i < 1) {
                              v.error("must be at least 1, got " + i);
                            }
                            return i >= 1;
                          }));
    }

    /** A bool key whose only supported value is false (the default); true is reported. */
    boolean unsupportedTrue(String key) {
      var v = get(key);
      boolean b = v.flatMap(Value::bool).orElse(false);
      if (b) {
        v.orElseThrow().error(NOT_SUPPORTED + " (" + key + ": true)");
      }
      return b;
    }

    /** Whether {@code s}, the key's string, is non-empty; reports "must not be empty" if not. */
    boolean nonEmpty(String key, String s) {
      if (s.isEmpty()) {
        get(key).ifPresent(v -> v.error("must not be empty"));
        return false;
      }
      return true;
    }

    /** Reports every key not asked for, with a suggestion among those asked for. */
    void finish() {
      for (var e : entries.entrySet()) {
        if (!known.contains(e.getKey())) {
          var msg = "unknown key";
          var hint = suggest(e.getKey(), known);
          if (hint.isPresent()) {
            msg += " (did you mean " + hint.get() + "?)";
          }
          self.problems.add(self.file, e.getValue().getKeyNode(), sub(e.getKey()), msg);
        }
      }
    }

    /** Reports every key present other than {@code allowed}, as {@code reason}. */
    void refuseOthers(Set<String> allowed, String reason) {
      for (var e : entries.entrySet()) {
        if (!allowed.contains(e.getKey())) {
          known.add(e.getKey());
          self.problems.add(self.file, e.getValue().getKeyNode(), sub(e.getKey()), reason);
        }
      }
    }
  }

  /** The closest of {@code candidates} to {@code key}, if close enough to be a typo. */
  static Optional<String> suggest(String key, Set<String> candidates) {
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    for (var c : candidates.stream().sorted().toList()) {
      int d = distance(key, c);
      if (d < bestDistance) {
        best = c;
        bestDistance = d;
      }
    }
    if (best == null || bestDistance > Math.max(2, key.length() / 3)) {
      return Optional.empty();
    }
    return Optional.of(best);
  }

  /** Levenshtein distance. */
  static int distance(String a, String b) {
    var prev = new int[b.length() + 1];
    var cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
      }
      var t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }

  private Yaml() {}
}
