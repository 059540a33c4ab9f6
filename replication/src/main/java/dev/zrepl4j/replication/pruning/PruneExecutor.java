package dev.zrepl4j.replication.pruning;

import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.FilesystemVersion;
import dev.zrepl4j.zfs.FilesystemVersion.FullName;
import dev.zrepl4j.zfs.Zfs;
import dev.zrepl4j.zfs.ZfsException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Prunes snapshots on a ZFS: lists the versions of all filesystems in one call, plans each with
 * {@link Pruner}, then (unless dry-run) re-lists and re-applies {@link PruneGuard} to fresh
 * versions and a fresh replication context right before destroying, and destroys in batches of at
 * most {@code maxBatch} snapshots (comma syntax where ZFS supports it). A snapshot ZFS refuses to
 * destroy because it is held or busy is reported as kept (held); any other destroy error is
 * reported for that snapshot and the others go on. Thread-safe if {@code zfs} is.
 *
 * <p>Implementation notes: between the re-check and {@code zfs destroy} a sender may still place a
 * step hold; ZFS then refuses the destroy ("dataset is busy"), which is exactly the outcome the
 * invariant wants, so that error is not a failure.
 */
public final class PruneExecutor {
  private static final Logger log = LoggerFactory.getLogger(PruneExecutor.class);

  /** Where the replication state of a filesystem comes from (e.g. the job's sender). */
  @FunctionalInterface
  public interface Contexts {
    PruneContext context(DatasetPath filesystem, List<FilesystemVersion> versions)
        throws IOException;

    /** No replication: only holds and cursor bookmarks on the filesystem protect. */
    static Contexts none() {
      return (fs, vs) -> PruneContext.NONE;
    }
  }

  /**
   * The outcome of one {@link #prune} call.
   *
   * @param plans what the rules and the invariant decided, per filesystem
   * @param destroyed snapshots actually destroyed (empty on dry run)
   * @param keptAtDestroy snapshots planned for destruction but kept, with why (protected on
   *     re-check, held or busy in ZFS, gone)
   * @param failed snapshots whose destroy failed otherwise, with the error
   */
  public record Report(
      List<PrunePlan> plans,
      List<FullName> destroyed,
      Map<FullName, String> keptAtDestroy,
      Map<FullName, String> failed) {
    public Report {
      plans = List.copyOf(plans);
      destroyed = List.copyOf(destroyed);
      // insertion order (the destroy order), so that lines() is deterministic
      keptAtDestroy = Collections.unmodifiableMap(new LinkedHashMap<>(keptAtDestroy));
      failed = Collections.unmodifiableMap(new LinkedHashMap<>(failed));
    }

    /** The dry-run listing: one line per snapshot, then the destroy-time outcomes. */
    public List<String> lines() {
      var out = new ArrayList<String>();
      for (var p : plans) {
        out.addAll(p.report());
      }
      keptAtDestroy.forEach((k, v) -> out.add("kept at destroy time " + k + ": " + v));
      failed.forEach((k, v) -> out.add("destroy failed " + k + ": " + v));
      return out;
    }
  }

  private final Zfs zfs;
  private final int maxBatch;

  /**
   * @param maxBatch at most this many snapshots per {@code zfs destroy}; 0 = no limit
   */
  public PruneExecutor(Zfs zfs, int maxBatch) {
    if (maxBatch < 0) {
      throw new IllegalArgumentException("destroy batch size must be >= 0, got " + maxBatch);
    }
    this.zfs = zfs;
    this.maxBatch = maxBatch;
  }

  /**
   * zrepl's {@code ZREPL_DESTROY_MAX_BATCH_SIZE} from the environment, 0 (no limit) if unset.
   *
   * @throws IllegalArgumentException naming the value if it is not a non-negative integer
   */
  public static int maxBatchFromEnvironment() {
    var v = System.getenv("ZREPL_DESTROY_MAX_BATCH_SIZE");
    if (v == null || v.isBlank()) {
      return 0;
    }
    try {
      int n = Integer.parseInt(v.strip());
      if (n < 0) {
        throw new NumberFormatException();
      }
      return n;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "ZREPL_DESTROY_MAX_BATCH_SIZE must be a non-negative integer, got '" + v + "'", e);
    }
  }

  /**
   * Prunes {@code filesystems} with {@code rules}.
   *
   * @param dryRun only plan; nothing is destroyed
   * @throws IOException if listing versions or getting a context fails (destroy errors are in the
   *     report instead)
   */
  public Report prune(
      Collection<DatasetPath> filesystems, List<PruneRule> rules, Contexts contexts, boolean dryRun)
      throws IOException {
    return prune(filesystems, rules, contexts, dryRun, fs -> null);
  }

  /**
   * Prunes {@code filesystems} with {@code rules}, planning from the listings {@code known} gives
   * (a recent listing of a filesystem nothing changed since, see {@code Recent}) and listing only
   * the others. What is about to be destroyed is listed again either way: a snapshot is destroyed
   * only if it is still there with the planned guid and nothing protects it now.
   *
   * @param known a filesystem's listing to plan from, or null to list it
   */
  public Report prune(
      Collection<DatasetPath> filesystems,
      List<PruneRule> rules,
      Contexts contexts,
      boolean dryRun,
      Function<DatasetPath, @Nullable List<FilesystemVersion>> known)
      throws IOException {
    if (filesystems.isEmpty()) {
      return new Report(List.of(), List.of(), Map.of(), Map.of());
    }
    var versions = new HashMap<DatasetPath, List<FilesystemVersion>>();
    var unknown = new ArrayList<DatasetPath>();
    for (var fs : filesystems) {
      var k = known.apply(fs);
      if (k != null) {
        versions.put(fs, k);
      } else {
        unknown.add(fs);
      }
    }
    if (!unknown.isEmpty()) {
      versions.putAll(zfs.listVersions(unknown));
    }
    if (unknown.size() < filesystems.size()) {
      log.debug(
          "pruning {} filesystems from their listings of this run, listing {}",
          filesystems.size() - unknown.size(),
          unknown.size());
    }
    var plans = new ArrayList<PrunePlan>();
    var wanted = new LinkedHashMap<DatasetPath, List<FilesystemVersion>>();
    var plannedBy = new LinkedHashMap<DatasetPath, PrunePlan>();
    for (var fs : filesystems) {
      var vs = versions.getOrDefault(fs, List.of());
      plannedBy.put(fs, Pruner.plan(fs, vs, rules, contexts.context(fs, vs)));
    }
    for (var fs : rereadHolds(plannedBy, new HashSet<>(unknown), versions)) {
      var vs = versions.getOrDefault(fs, List.of());
      plannedBy.put(fs, Pruner.plan(fs, vs, rules, contexts.context(fs, vs)));
    }
    for (var plan : plannedBy.values()) {
      var fs = plan.filesystem();
      plans.add(plan);
      for (var d : plan.decisions()) {
        if (d.outcome() instanceof PrunePlan.Protected p) {
          log.warn(
              "{}: rules would destroy {} but it is kept: {}",
              fs,
              d.snapshot().fullName(),
              p.reason());
        }
      }
      if (!plan.toDestroy().isEmpty()) {
        wanted.put(fs, plan.toDestroy());
      }
    }
    var destroyed = new ArrayList<FullName>();
    var kept = new LinkedHashMap<FullName, String>();
    var failed = new LinkedHashMap<FullName, String>();
    if (dryRun || wanted.isEmpty()) {
      return new Report(plans, destroyed, kept, failed);
    }
    var fresh = zfs.listVersions(wanted.keySet());
    for (var e : wanted.entrySet()) {
      var fs = e.getKey();
      var now = fresh.getOrDefault(fs, List.of());
      var protectedGuids = PruneGuard.protectedGuids(now, contexts.context(fs, now));
      var byName = new LinkedHashMap<String, FilesystemVersion>();
      for (var v : now) {
        if (v.isSnapshot()) {
          byName.put(v.name(), v);
        }
      }
      var go = new ArrayList<FullName>();
      for (var planned : e.getValue()) {
        var full = name(planned);
        var current = byName.get(planned.name());
        if (current == null || current.guid() != planned.guid()) {
          kept.put(full, "gone or replaced since listing");
          continue;
        }
        var p = PruneGuard.protection(current, protectedGuids);
        if (p.isPresent()) {
          log.warn("{}: not destroying {}: became protected: {}", fs, full, p.get());
          kept.put(full, "protected, " + p.get());
          continue;
        }
        go.add(full);
      }
      int step = maxBatch == 0 ? Math.max(1, go.size()) : maxBatch;
      for (int i = 0; i < go.size(); i += step) {
        destroyBatch(go.subList(i, Math.min(go.size(), i + step)), destroyed, kept, failed);
      }
    }
    log.info(
        "pruned {} filesystems: destroyed {}, kept at destroy time {}, failed {}",
        filesystems.size(),
        destroyed.size(),
        kept.size(),
        failed.size());
    return new Report(plans, destroyed, kept, failed);
  }

  /**
   * A known listing may be older than the holds this process placed and released since (the run's
   * step, cursor and last-received holds): a snapshot that the rules would destroy and that only
   * such a listing shows held is read again ({@code userrefs}, one command for all), so that a hold
   * released since does not keep it for another run. Those gone since leave the listing.
   *
   * @return the filesystems whose listings changed in {@code versions} (to plan again)
   */
  private List<DatasetPath> rereadHolds(
      Map<DatasetPath, PrunePlan> planned,
      Set<DatasetPath> listedNow,
      Map<DatasetPath, List<FilesystemVersion>> versions)
      throws IOException {
    var names = new HashSet<String>();
    for (var e : planned.entrySet()) {
      if (listedNow.contains(e.getKey())) {
        continue;
      }
      for (var d : e.getValue().decisions()) {
        if (d.outcome() instanceof PrunePlan.Protected && d.snapshot().userRefs() > 0) {
          names.add(d.snapshot().fullName());
        }
      }
    }
    if (names.isEmpty()) {
      return List.of();
    }
    var got = zfs.getPropertiesOfExisting(names, List.of("userrefs"));
    var changed = new ArrayList<DatasetPath>();
    for (var e : versions.entrySet()) {
      var vs = e.getValue();
      if (listedNow.contains(e.getKey())
          || vs.stream().noneMatch(v -> names.contains(v.fullName()))) {
        continue;
      }
      var out = new ArrayList<FilesystemVersion>(vs.size());
      for (var v : vs) {
        var name = v.fullName();
        var p = got.get(name);
        if (!names.contains(name)) {
          out.add(v);
        } else if (p != null) {
          var refs = p.get("userrefs");
          out.add(
              refs == null || !refs.value().matches("[0-9]{1,18}")
                  ? v // unreadable: as listed (kept)
                  : v.withUserRefs(Long.parseLong(refs.value())));
        }
        // else gone since the listing
      }
      e.setValue(List.copyOf(out));
      changed.add(e.getKey());
    }
    log.debug("read the holds of {} snapshots again for the pruning", names.size());
    return changed;
  }

  private void destroyBatch(
      List<FullName> batch,
      List<FullName> destroyed,
      Map<FullName, String> kept,
      Map<FullName, String> failed)
      throws IOException {
    try {
      zfs.destroyVersions(batch);
      destroyed.addAll(batch);
      log.debug("destroyed {}", batch);
      return;
    } catch (ZfsException e) {
      if (batch.size() == 1) {
        classify(batch.getFirst(), e, kept, failed);
        return;
      }
      log.debug("batch destroy of {} failed ({}), retrying one by one", batch, e.getMessage());
    }
    // which of the batch are gone? a failed comma destroy may have destroyed some (zfs-fuse)
    var fs = batch.getFirst().filesystem();
    var left = new HashSet<String>();
    for (var v : zfs.listVersions(List.of(fs)).getOrDefault(fs, List.of())) {
      if (v.isSnapshot()) {
        left.add(v.name());
      }
    }
    for (var s : batch) {
      if (!left.contains(s.name())) {
        destroyed.add(s);
        continue;
      }
      try {
        zfs.destroyVersions(List.of(s));
        destroyed.add(s);
      } catch (ZfsException e) {
        classify(s, e, kept, failed);
      }
    }
  }

  private static void classify(
      FullName s, ZfsException e, Map<FullName, String> kept, Map<FullName, String> failed) {
    var err = e.stderr().toLowerCase(Locale.ROOT);
    if (err.contains("busy") || err.contains("hold")) {
      log.info("{}: kept, ZFS refused to destroy it (held): {}", s, e.stderr().strip());
      kept.put(s, "held (" + e.stderr().strip() + ")");
    } else {
      log.warn("{}: destroy failed: {}", s, e.getMessage());
      failed.put(s, e.getMessage());
    }
  }

  private static FullName name(FilesystemVersion v) {
    return new FullName(v.filesystem(), v.type(), v.name());
  }
}
