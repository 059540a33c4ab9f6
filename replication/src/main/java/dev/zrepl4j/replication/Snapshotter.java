package dev.zrepl4j.replication;

import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.FilesystemVersion;
import dev.zrepl4j.zfs.Zfs;
import dev.zrepl4j.zfs.ZfsFeature;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Takes a job's snapshots: one atomic multi-dataset {@code zfs snapshot} per run where ZFS supports
 * it, one by one otherwise (logged), with zrepl's {@code command} hooks run per filesystem before
 * and after. Not thread-safe: one run at a time per job.
 */
public final class Snapshotter {
  private static final Logger log = LoggerFactory.getLogger(Snapshotter.class);
  private static final int MAX_HOOK_LOG = 4096;

  /**
   * A zrepl {@code command} hook.
   *
   * @param path absolute path of the executable (run without arguments)
   * @param timeout after which the process is killed and the hook fails
   * @param errIsFatal a failing pre-snapshot hook skips the filesystem's snapshot
   * @param filesystems which filesystems the hook runs for
   */
  public record Hook(
      Path path, Duration timeout, boolean errIsFatal, Predicate<DatasetPath> filesystems) {
    public Hook {
      if (!path.isAbsolute()) {
        throw new IllegalArgumentException("hook path must be absolute: '" + path + "'");
      }
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("hook timeout must be positive: " + timeout);
      }
      Objects.requireNonNull(filesystems, "filesystems");
    }
  }

  /**
   * One run's outcome.
   *
   * @param name the snapshot name
   * @param snapshotted filesystems that got {@code fs@name}
   * @param skipped filesystems skipped by a fatal pre-hook failure
   * @param hookFailures every hook failure (pre, post, fatal or not), as messages; a hook that
   *     exited non-zero has the start of its stderr appended
   */
  public record Result(
      String name,
      List<DatasetPath> snapshotted,
      List<DatasetPath> skipped,
      List<String> hookFailures) {
    public Result {
      snapshotted = List.copyOf(snapshotted);
      skipped = List.copyOf(skipped);
      hookFailures = List.copyOf(hookFailures);
    }
  }

  private final Zfs zfs;
  private final Collection<DatasetPath> roots;
  private final Predicate<DatasetPath> filter;
  private final SnapshotNameFormat names;
  private final List<Hook> hooks;
  private final InstantSource clock;

  /**
   * @param roots where to look for filesystems (empty = all pools)
   * @param filter the job's {@code filesystems} filter
   */
  public Snapshotter(
      Zfs zfs,
      Collection<DatasetPath> roots,
      Predicate<DatasetPath> filter,
      SnapshotNameFormat names,
      List<Hook> hooks,
      InstantSource clock) {
    this.zfs = zfs;
    this.roots = List.copyOf(roots);
    this.filter = filter;
    this.names = names;
    this.hooks = List.copyOf(hooks);
    this.clock = clock;
  }

  /** The filesystems the job snapshots. */
  public List<DatasetPath> filesystems() throws IOException {
    return zfs.listFilesystems(roots, filter);
  }

  /**
   * Creation times of the existing snapshots with the job's prefix on all its filesystems (one
   * listing), for {@link PeriodicSchedule#next}.
   */
  public List<Instant> existing() throws IOException {
    var out = new ArrayList<Instant>();
    for (var vs : zfs.listVersions(filesystems()).values()) {
      for (var v : vs) {
        if (v.isSnapshot() && v.name().startsWith(names.prefix())) {
          out.add(v.creation());
        }
      }
    }
    return out;
  }

  /**
   * Runs pre hooks, takes the snapshot, runs post hooks.
   *
   * @param dryRun hooks run with {@code ZREPL_DRYRUN=true}; no snapshot is taken
   * @throws IOException if listing or {@code zfs snapshot} fails
   * @throws InterruptedException while waiting for a hook
   */
  public Result snapshot(boolean dryRun) throws IOException, InterruptedException {
    var name = names.name(clock.instant());
    var all = filesystems();
    var go = new ArrayList<DatasetPath>();
    var skipped = new ArrayList<DatasetPath>();
    var failures = new ArrayList<String>();
    for (var fs : all) {
      boolean ok = true;
      for (var h : hooks) {
        if (h.filesystems().test(fs)) {
          var err = runHook(h, "pre_snapshot", fs, name, dryRun);
          if (err != null) {
            failures.add(err);
            if (h.errIsFatal()) {
              ok = false;
              break;
            }
          }
        }
      }
      (ok ? go : skipped).add(fs);
    }
    if (!dryRun && !go.isEmpty()) {
      if (!zfs.capabilities().has(ZfsFeature.MULTI_SNAPSHOT)) {
        log.info(
            "snapshot {}: this ZFS cannot snapshot several datasets atomically: {} snapshots"
                + " one by one",
            name,
            go.size());
      }
      zfs.snapshot(go, name);
    }
    for (var fs : go) {
      for (var h : hooks.reversed()) {
        if (h.filesystems().test(fs)) {
          var err = runHook(h, "post_snapshot", fs, name, dryRun);
          if (err != null) {
            failures.add(err);
          }
        }
      }
    }
    log.info(
        "snapshot {}: {} filesystems{}, {} skipped by hooks",
        name,
        go.size(),
        dryRun ? " (dry run)" : "",
        skipped.size());
    return new Result(name, go, skipped, failures);
  }

  /** Runs one hook; returns an error message or null. */
  private static @org.jspecify.annotations.Nullable String runHook(
      Hook h, String type, DatasetPath fs, String snap, boolean dryRun)
      throws InterruptedException {
    var pb = new ProcessBuilder(h.path().toString());
    pb.environment().put("ZREPL_HOOKTYPE", type);
    pb.environment().put("ZREPL_FS", fs.toString());
    pb.environment().put("ZREPL_SNAPNAME", snap);
    pb.environment().put("ZREPL_DRYRUN", Boolean.toString(dryRun));
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      return type + " hook " + h.path() + " for " + fs + " could not start: " + e.getMessage();
    }
    var stderr = new StringBuilder();
    var out = Thread.ofVirtual().start(() -> drain(p.getInputStream(), h, fs, null));
    var err = Thread.ofVirtual().start(() -> drain(p.getErrorStream(), h, fs, stderr));
    try {
      if (!p.waitFor(h.timeout().toMillis(), TimeUnit.MILLISECONDS)) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        p.waitFor();
        return type + " hook " + h.path() + " for " + fs + " timed out after " + h.timeout();
      }
      out.join();
      err.join();
    } finally {
      p.destroyForcibly();
    }
    int rc = p.exitValue();
    if (rc == 0) {
      return null;
    }
    var msg = type + " hook " + h.path() + " for " + fs + " exited " + rc;
    synchronized (stderr) {
      return stderr.isEmpty() ? msg : msg + ": " + stderr.toString().strip();
    }
  }

  /** Logs the stream (stdout at INFO, stderr at WARN), keeping stderr's start in {@code keep}. */
  private static void drain(
      InputStream in,
      Hook h,
      DatasetPath fs,
      @org.jspecify.annotations.Nullable StringBuilder keep) {
    int logged = 0;
    try (var r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
      String line;
      while ((line = r.readLine()) != null) {
        if (logged >= MAX_HOOK_LOG) {
          continue; // keep draining so the hook never blocks on a full pipe
        }
        logged += line.length() + 1;
        if (keep != null) {
          synchronized (keep) {
            keep.append(line).append('\n');
          }
          log.warn("hook {} {}: {}", h.path(), fs, line);
        } else {
          log.info("hook {} {}: {}", h.path(), fs, line);
        }
      }
    } catch (IOException e) {
      log.debug("hook {} {}: output closed: {}", h.path(), fs, e.getMessage());
    }
  }

  static boolean hasPrefix(FilesystemVersion v, String prefix) {
    return v.isSnapshot() && v.name().startsWith(prefix);
  }
}
