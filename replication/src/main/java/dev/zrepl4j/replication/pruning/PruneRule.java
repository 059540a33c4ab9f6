package dev.zrepl4j.replication.pruning;

import dev.zrepl4j.zfs.FilesystemVersion;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A keep rule of zrepl's {@code pruning:} section (ZREPL-MODERN.md §1.6). A snapshot is destroyed
 * unless at least one rule keeps it; rules only ever look at snapshots (bookmarks are never
 * pruned). Regexes match anywhere in the snapshot name (Go's {@code MatchString}); an empty regex
 * matches everything. Immutable, thread-safe.
 */
public sealed interface PruneRule {

  /** How the rule appears in reports, e.g. {@code last_n(count=3)}. */
  String describe();

  /**
   * This rule as data, for a {@link PruneRequest}: {@code spec().toRule()} is a rule that keeps
   * exactly what this one keeps, and {@code spec().toRule().spec()} equals {@code spec()}. Regexes
   * travel as their pattern string (flags given to {@link Pattern#compile(String, int)} are not
   * kept); a grid travels as {@link RetentionGrid#format()}.
   */
  default PruneRuleSpec spec() {
    return switch (this) {
      case NotReplicated r -> PruneRuleSpec.notReplicated(r.keepSnapshotAtCursor());
      case LastN r -> PruneRuleSpec.lastN(r.count(), r.regex().pattern());
      case Grid r -> PruneRuleSpec.grid(r.grid().format(), r.regex().pattern());
      case Regex r -> PruneRuleSpec.regex(r.regex().pattern(), r.negate());
    };
  }

  /**
   * {@code not_replicated}: keeps every snapshot newer (by createtxg) than the replication cursor,
   * and the cursor's own snapshot if {@code keepSnapshotAtCursor}. Without a cursor (nothing
   * replicated yet) it keeps every snapshot; zrepl refuses to prune then, which keeps them too.
   */
  record NotReplicated(boolean keepSnapshotAtCursor) implements PruneRule {
    @Override
    public String describe() {
      return "not_replicated(keep_snapshot_at_cursor=" + keepSnapshotAtCursor + ")";
    }
  }

  /**
   * {@code last_n}: keeps the {@code count} youngest snapshots whose name matches {@code regex}.
   */
  record LastN(int count, Pattern regex) implements PruneRule {
    public LastN {
      if (count < 0) {
        throw new IllegalArgumentException("last_n count must be >= 0, got " + count);
      }
      Objects.requireNonNull(regex, "regex");
    }

    @Override
    public String describe() {
      return "last_n(count=" + count + (regex.pattern().isEmpty() ? "" : ",regex=" + regex) + ")";
    }
  }

  /**
   * {@code grid}: fits the snapshots whose name matches {@code regex} into the grid, left-aligned
   * at the youngest of them; within an interval the oldest are kept. Non-matching snapshots are not
   * kept by this rule.
   */
  record Grid(RetentionGrid grid, Pattern regex) implements PruneRule {
    public Grid {
      Objects.requireNonNull(grid, "grid");
      Objects.requireNonNull(regex, "regex");
    }

    @Override
    public String describe() {
      return "grid(" + grid.format() + (regex.pattern().isEmpty() ? "" : ",regex=" + regex) + ")";
    }
  }

  /** {@code regex}: keeps snapshots whose name matches (or, with {@code negate}, does not). */
  record Regex(Pattern regex, boolean negate) implements PruneRule {
    public Regex {
      Objects.requireNonNull(regex, "regex");
    }

    @Override
    public String describe() {
      return "regex(" + (negate ? "not " : "") + regex + ")";
    }
  }

  /**
   * The snapshots this rule keeps among {@code snapshots} (snapshots only, ordered by createtxg).
   */
  default Set<FilesystemVersion> keep(List<FilesystemVersion> snapshots, PruneContext context) {
    var out = new LinkedHashSet<FilesystemVersion>();
    switch (this) {
      case NotReplicated r -> {
        var cursor =
            snapshots.stream()
                .filter(s -> context.cursorGuids().contains(s.guid()))
                .max(Comparator.comparing(FilesystemVersion::createTxg, Long::compareUnsigned));
        long cursorTxg;
        if (cursor.isPresent()) {
          cursorTxg = cursor.get().createTxg();
          if (r.keepSnapshotAtCursor()) {
            out.add(cursor.get());
          }
        } else if (context.cursorTxg() != PruneContext.NO_CURSOR) {
          cursorTxg = context.cursorTxg(); // the snapshot is gone, the bookmark remains
        } else {
          out.addAll(snapshots);
          return out;
        }
        for (var s : snapshots) {
          if (Long.compareUnsigned(s.createTxg(), cursorTxg) > 0) {
            out.add(s);
          }
        }
      }
      case LastN r -> {
        var matching = new ArrayList<FilesystemVersion>();
        for (var s : snapshots.reversed()) {
          if (matching.size() < r.count() && r.regex().matcher(s.name()).find()) {
            matching.add(s);
          }
        }
        out.addAll(matching);
      }
      case Grid r -> {
        var matching = snapshots.stream().filter(s -> r.regex().matcher(s.name()).find()).toList();
        if (!matching.isEmpty()) {
          var now =
              matching.stream()
                  .map(FilesystemVersion::creation)
                  .max(Comparator.naturalOrder())
                  .orElseThrow();
          out.addAll(r.grid().fit(now, matching, FilesystemVersion::creation).keep());
        }
      }
      case Regex r -> {
        for (var s : snapshots) {
          if (r.regex().matcher(s.name()).find() != r.negate()) {
            out.add(s);
          }
        }
      }
    }
    return out;
  }
}
