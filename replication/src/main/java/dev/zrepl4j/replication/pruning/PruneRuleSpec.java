package dev.zrepl4j.replication.pruning;

import java.util.Objects;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * A {@link PruneRule} as data: what travels in a {@link PruneRequest} (JSON over the RPC) and what
 * {@link PruneRule#spec()} gives back. Only the fields of its {@code type} may be set; the others
 * stay at their zero value ({@code false}, {@code 0}, {@code ""}), which {@link #toRule()} checks
 * so that {@code spec → rule → spec} is the identity. Build one with the static factories.
 * Immutable.
 *
 * <ul>
 *   <li>{@code not_replicated}: {@code keepSnapshotAtCursor}
 *   <li>{@code last_n}: {@code count}, {@code regex} ("" matches every snapshot)
 *   <li>{@code grid}: {@code grid} (e.g. {@code "1x1h(keep=all) | 24x1h | 14x1d"}), {@code regex}
 *   <li>{@code regex}: {@code regex}, {@code negate}
 * </ul>
 *
 * @param type {@code not_replicated}, {@code last_n}, {@code grid} or {@code regex}
 */
public record PruneRuleSpec(
    String type,
    boolean keepSnapshotAtCursor,
    int count,
    String regex,
    String grid,
    boolean negate) {
  public static final String NOT_REPLICATED = "not_replicated";
  public static final String LAST_N = "last_n";
  public static final String GRID = "grid";
  public static final String REGEX = "regex";

  public PruneRuleSpec {
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(regex, "regex");
    Objects.requireNonNull(grid, "grid");
  }

  /** {@code not_replicated{keep_snapshot_at_cursor}}. */
  public static PruneRuleSpec notReplicated(boolean keepSnapshotAtCursor) {
    return new PruneRuleSpec(NOT_REPLICATED, keepSnapshotAtCursor, 0, "", "", false);
  }

  /** {@code last_n{count, regex}}. */
  public static PruneRuleSpec lastN(int count, String regex) {
    return new PruneRuleSpec(LAST_N, false, count, regex, "", false);
  }

  /** {@code grid{grid, regex}}. */
  public static PruneRuleSpec grid(String grid, String regex) {
    return new PruneRuleSpec(GRID, false, 0, regex, grid, false);
  }

  /** {@code regex{regex, negate}}. */
  public static PruneRuleSpec regex(String regex, boolean negate) {
    return new PruneRuleSpec(REGEX, false, 0, regex, "", negate);
  }

  /**
   * The rule this spec describes.
   *
   * @throws IllegalArgumentException naming the rule type and the bad field: unknown type, a field
   *     the type does not have, a negative count, an invalid regex or grid
   */
  public PruneRule toRule() {
    return switch (type) {
      case NOT_REPLICATED -> {
        unused(count != 0, "count");
        unused(!regex.isEmpty(), "regex");
        unused(!grid.isEmpty(), "grid");
        unused(negate, "negate");
        yield new PruneRule.NotReplicated(keepSnapshotAtCursor);
      }
      case LAST_N -> {
        unused(keepSnapshotAtCursor, "keep_snapshot_at_cursor");
        unused(!grid.isEmpty(), "grid");
        unused(negate, "negate");
        if (count < 0) {
          throw bad("count must be >= 0, got " + count);
        }
        yield new PruneRule.LastN(count, pattern());
      }
      case GRID -> {
        unused(keepSnapshotAtCursor, "keep_snapshot_at_cursor");
        unused(count != 0, "count");
        unused(negate, "negate");
        if (grid.isBlank()) {
          throw bad("grid is required");
        }
        RetentionGrid g;
        try {
          g = RetentionGrid.parse(grid);
        } catch (IllegalArgumentException e) {
          throw bad(String.valueOf(e.getMessage()), e);
        }
        yield new PruneRule.Grid(g, pattern());
      }
      case REGEX -> {
        unused(keepSnapshotAtCursor, "keep_snapshot_at_cursor");
        unused(count != 0, "count");
        unused(!grid.isEmpty(), "grid");
        yield new PruneRule.Regex(pattern(), negate);
      }
      default ->
          throw new IllegalArgumentException(
              "unknown prune rule type '"
                  + type
                  + "': expected not_replicated, last_n, grid or regex");
    };
  }

  private Pattern pattern() {
    try {
      return Pattern.compile(regex);
    } catch (PatternSyntaxException e) {
      throw bad("invalid regex '" + regex + "': " + e.getDescription(), e);
    }
  }

  private void unused(boolean set, String field) {
    if (set) {
      throw bad(field + " is not a field of this rule");
    }
  }

  private IllegalArgumentException bad(String message) {
    return new IllegalArgumentException("prune rule " + type + ": " + message);
  }

  private IllegalArgumentException bad(String message, Exception cause) {
    return new IllegalArgumentException("prune rule " + type + ": " + message, cause);
  }
}
