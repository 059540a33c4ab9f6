package dev.zrepl4j.config;

import dev.zrepl4j.config.Yaml.Value;
import dev.zrepl4j.config.Yaml.YMap;
import dev.zrepl4j.replication.pruning.PruneRule;
import dev.zrepl4j.replication.pruning.RetentionGrid;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Reads {@code pruning:} ({@code keep_sender}/{@code keep_receiver} of an active job, {@code keep}
 * of a snap job) and its rules: not_replicated, last_n, grid, regex. Stateless.
 */
final class PruningParser {
  private PruningParser() {}

  /** {@code pruning:} of a push or pull job. */
  static Optional<Job.Pruning> pruning(YMap m) {
    var sender = m.required("keep_sender").flatMap(PruningParser::rules);
    var receiver = m.required("keep_receiver").flatMap(PruningParser::rules);
    m.finish();
    if (sender.isEmpty() || receiver.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(new Job.Pruning(sender.get(), receiver.get()));
  }

  /** {@code pruning:} of a snap job: its {@code keep} rules. */
  static Optional<List<PruneRule>> keep(YMap m) {
    var keep = m.required("keep").flatMap(PruningParser::rules);
    m.finish();
    return keep;
  }

  /** A list of rules; empty if any of them is bad. */
  static Optional<List<PruneRule>> rules(Value v) {
    return v.list()
        .flatMap(
            l -> {
              var out = new ArrayList<PruneRule>();
              boolean ok = true;
              for (var item : l) {
                var r = item.map().flatMap(PruningParser::rule);
                ok &= r.isPresent();
                r.ifPresent(out::add);
              }
              return ok ? Optional.of(out) : Optional.empty();
            });
  }

  private static Optional<PruneRule> rule(YMap m) {
    var type = m.requiredString("type");
    if (type.isEmpty()) {
      return Optional.empty();
    }
    int before = m.problems().count();
    Optional<PruneRule> out;
    switch (type.get()) {
      case "not_replicated" ->
          out = Optional.of(new PruneRule.NotReplicated(m.bool("keep_snapshot_at_cursor", true)));
      case "last_n" -> {
        var count =
            m.required("count")
                .flatMap(
                    v ->
                        v.integer()
                            .filter(
                                c -> {
                                  if (c < 0) {
                                    v.error("must be >= 0, got " + c);
                                  }
                                  return c >= 0;
                                }));
        var regex = regex(m, false);
        out =
            count.isEmpty() || regex.isEmpty()
                ? Optional.empty()
                : Optional.of(new PruneRule.LastN(count.get(), regex.get()));
      }
      case "grid" -> {
        var grid = m.required("grid").flatMap(v -> v.parse(RetentionGrid::parse));
        var regex = regex(m, false);
        out =
            grid.isEmpty() || regex.isEmpty()
                ? Optional.empty()
                : Optional.of(new PruneRule.Grid(grid.get(), regex.get()));
      }
      case "regex" -> {
        var regex = regex(m, true);
        var negate = m.bool("negate", false);
        out = regex.map(r -> new PruneRule.Regex(r, negate));
      }
      default -> {
        m.get("type")
            .ifPresent(
                v ->
                    v.error(
                        "unknown pruning rule type '"
                            + type.get()
                            + "' (expected not_replicated, last_n, grid or regex)"));
        return Optional.empty();
      }
    }
    m.finish();
    return m.problems().count() > before ? Optional.empty() : out;
  }

  private static Optional<Pattern> regex(YMap m, boolean required) {
    var v = required ? m.required("regex") : m.get("regex");
    if (v.isEmpty()) {
      return required ? Optional.empty() : Optional.of(Pattern.compile(""));
    }
    return v.get()
        .string()
        .flatMap(
            s -> {
              try {
                return Optional.of(Pattern.compile(s));
              } catch (PatternSyntaxException e) {
                v.get().error("invalid regex '" + s + "': " + e.getDescription());
                return Optional.empty();
              }
            });
  }
}
