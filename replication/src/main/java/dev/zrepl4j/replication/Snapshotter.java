package dev.zrepl4j.replication;

import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.FilesystemVersion;
import dev.zrepl4j.zfs.Zfs;
import dev.zrepl4j.zfs.ZfsFeature;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Takes a job's snapshots: one atomic multi-dataset {@code zfs snapshot} per run where ZFS supports
 * it, one by one otherwise (logged), with zrepl's hooks ({@link CommandHook}, {@link BuiltinHook})
 * run per filesystem before and after. Not thread-safe: one run at a time per job.
 */
public final class Snapshotter {
  private static final Logger log = LoggerFactory.getLogger(Snapshotter.class);
  private static final int MAX_HOOK_LOG = 4096;
  // longest hook output line kept (bytes); the rest of the line is counted and dropped
  private static final int MAX_HOOK_LINE = 1024;
  // how long the hook's output may stay open after the hook ended (a background child of the
  // hook holding it): then the holders are killed and the output abandoned
  private static final Duration HOOK_OUTPUT_GRACE = Duration.ofSeconds(2);
  private static final Path SETSID = Path.of("/usr/bin/setsid");

  /**
   * A pre/post-snapshot hook of {@code snapshotting.hooks}: a {@link CommandHook} or a {@link
   * BuiltinHook}. Hooks run per filesystem, pre edges in list order, post edges in reverse.
   */
  public sealed interface Hook permits CommandHook, BuiltinHook {
    /** A failing pre edge skips the filesystem's snapshot and its later hooks. */
    boolean errIsFatal();

    /** Which filesystems the hook runs for. */
    Predicate<DatasetPath> filesystems();
  }

  /**
   * A zrepl {@code command} hook. Its post edge runs for every snapshotted filesystem it matches,
   * even if its pre edge failed (without being fatal).
   *
   * @param path absolute path of the executable (run without arguments)
   * @param timeout after which the process is killed and the hook fails
   * @param errIsFatal a failing pre-snapshot hook skips the filesystem's snapshot
   * @param filesystems which filesystems the hook runs for
   */
  public record CommandHook(
      Path path, Duration timeout, boolean errIsFatal, Predicate<DatasetPath> filesystems)
      implements Hook {
    public CommandHook {
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
   * A hook written in Java (zrepl's {@code postgres-checkpoint} and {@code mysql-lock-tables}). Its
   * post edge, returned by the pre edge, runs only if the pre edge succeeded: after the snapshot,
   * or at once if the filesystem is skipped or the snapshot fails, so a lock taken before is always
   * released.
   *
   * @param name names the hook in failures and logs (e.g. {@code postgres-checkpoint}); must not
   *     hold secrets
   * @param errIsFatal a failing pre edge skips the filesystem's snapshot
   * @param filesystems which filesystems the hook runs for
   * @param pre the pre edge
   */
  public record BuiltinHook(
      String name, boolean errIsFatal, Predicate<DatasetPath> filesystems, PreSnapshot pre)
      implements Hook {
    public BuiltinHook {
      if (name.isBlank()) {
        throw new IllegalArgumentException("builtin hook name must not be blank");
      }
      Objects.requireNonNull(filesystems, "filesystems");
      Objects.requireNonNull(pre, "pre");
    }
  }

  /** The pre edge of a {@link BuiltinHook}. Implementations bound their own running time. */
  @FunctionalInterface
  public interface PreSnapshot {
    /**
     * Runs before {@code fs@snapshot} is taken.
     *
     * @param dryRun no snapshot will be taken: check what can be checked, change nothing
     * @return the post edge, run exactly once after the snapshot (or instead of it)
     * @throws IOException the hook failed (message without secrets); no post edge runs
     * @throws InterruptedException while waiting
     */
    PostSnapshot run(DatasetPath fs, String snapshot, boolean dryRun)
        throws IOException, InterruptedException;
  }

  /** The post edge of a {@link BuiltinHook}: releases whatever its pre edge holds. */
  @FunctionalInterface
  public interface PostSnapshot {
    /** A post edge with nothing to do. */
    PostSnapshot NONE = () -> {};

    /**
     * Runs after the snapshot; releases what the pre edge holds even if it throws.
     *
     * @throws IOException the hook failed (message without secrets)
     * @throws InterruptedException while waiting
     */
    void run() throws IOException, InterruptedException;
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
   * @param roots where to look for filesystems (empty: below the filter's roots, see {@link
   *     DatasetFilter#roots()})
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

  /** The filesystems the job snapshots (no roots given: those the filter's own roots hold). */
  public List<DatasetPath> filesystems() throws IOException {
    return roots.isEmpty() ? DatasetFilter.list(zfs, filter) : zfs.listFilesystems(roots, filter);
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
   * Runs pre hooks, takes the snapshot, runs post hooks. The post edges of builtin hooks whose pre
   * edge succeeded always run, also when this throws.
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
    // post edges of builtin hooks whose pre edge succeeded, per filesystem, by hook index
    var held = new LinkedHashMap<DatasetPath, @Nullable PostSnapshot[]>();
    try {
      for (var fs : all) {
        var posts = new @Nullable PostSnapshot[hooks.size()];
        held.put(fs, posts);
        boolean ok = true;
        for (int i = 0; i < hooks.size(); i++) {
          var h = hooks.get(i);
          if (!h.filesystems().test(fs)) {
            continue;
          }
          var err =
              switch (h) {
                case CommandHook c -> runCommand(c, PRE, fs, name, dryRun);
                case BuiltinHook b -> {
                  try {
                    posts[i] = Objects.requireNonNull(b.pre().run(fs, name, dryRun), "post edge");
                    yield null;
                  } catch (IOException | RuntimeException e) {
                    yield failure(b, PRE, fs, e);
                  }
                }
              };
          if (err != null) {
            failures.add(err);
            if (h.errIsFatal()) {
              ok = false;
              break;
            }
          }
        }
        if (!ok) {
          release(fs, posts, failures);
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
        var posts = Objects.requireNonNull(held.get(fs));
        for (int i = hooks.size() - 1; i >= 0; i--) {
          var h = hooks.get(i);
          if (!h.filesystems().test(fs)) {
            continue;
          }
          switch (h) {
            case CommandHook c -> {
              var err = runCommand(c, POST, fs, name, dryRun);
              if (err != null) {
                failures.add(err);
              }
            }
            case BuiltinHook b -> runPost(b, fs, posts, i, failures);
          }
        }
      }
    } finally {
      // only after a throw above is anything still held: release it, log what fails
      var late = new ArrayList<String>();
      for (var e : held.entrySet()) {
        release(e.getKey(), e.getValue(), late);
      }
      late.forEach(f -> log.warn("snapshot {}: {}", name, f));
    }
    log.info(
        "snapshot {}: {} filesystems{}, {} skipped by hooks",
        name,
        go.size(),
        dryRun ? " (dry run)" : "",
        skipped.size());
    return new Result(name, go, skipped, failures);
  }

  private static final String PRE = "pre_snapshot";
  private static final String POST = "post_snapshot";

  /** Runs the post edges still held for {@code fs}, in reverse hook order. */
  private void release(DatasetPath fs, @Nullable PostSnapshot[] posts, List<String> failures)
      throws InterruptedException {
    for (int i = posts.length - 1; i >= 0; i--) {
      if (posts[i] != null && hooks.get(i) instanceof BuiltinHook b) {
        runPost(b, fs, posts, i, failures);
      }
    }
  }

  /** Runs and clears {@code posts[i]} if set; a failure is added to {@code failures}. */
  private static void runPost(
      BuiltinHook b, DatasetPath fs, @Nullable PostSnapshot[] posts, int i, List<String> failures)
      throws InterruptedException {
    var post = posts[i];
    posts[i] = null;
    if (post == null) {
      return; // its pre edge failed (zrepl: no post edge without a successful pre edge)
    }
    try {
      post.run();
    } catch (IOException | RuntimeException e) {
      failures.add(failure(b, POST, fs, e));
    }
  }

  private static String failure(BuiltinHook b, String type, DatasetPath fs, Exception e) {
    var msg = type + " hook " + b.name() + " for " + fs + " failed: " + e.getMessage();
    if (e instanceof RuntimeException) {
      log.warn("{}", msg, e);
    }
    return msg;
  }

  /** Runs one command hook; returns an error message or null. */
  private static @Nullable String runCommand(
      CommandHook h, String type, DatasetPath fs, String snap, boolean dryRun)
      throws InterruptedException {
    // in a session of its own where setsid(1) is there: whatever the hook leaves running, even
    // detached from it, is found by its session id when it holds the hook's output too long
    boolean ownSession = Files.isExecutable(SETSID);
    var pb =
        ownSession
            ? new ProcessBuilder(SETSID.toString(), h.path().toString())
            : new ProcessBuilder(h.path().toString());
    pb.environment().put("ZREPL_HOOKTYPE", type);
    pb.environment().put("ZREPL_FS", fs.toString());
    pb.environment().put("ZREPL_SNAPNAME", snap);
    pb.environment().put("ZREPL_DRYRUN", Boolean.toString(dryRun));
    if (ownSession && !Files.isExecutable(h.path())) {
      // as ProcessBuilder would say it, not as setsid's exit status
      return type + " hook " + h.path() + " for " + fs + " could not start: not an executable file";
    }
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      return type + " hook " + h.path() + " for " + fs + " could not start: " + e.getMessage();
    }
    // the hook's stdout and stderr pipes, to find whatever still holds them after it ended
    var pipes = outputPipes(p.pid());
    long session = ownSession ? p.pid() : -1; // setsid execs the hook: same pid, its session
    var stderr = new StringBuilder();
    var out = Thread.ofVirtual().start(() -> drain(p.getInputStream(), h, fs, null));
    var err = Thread.ofVirtual().start(() -> drain(p.getErrorStream(), h, fs, stderr));
    String timedOut = null;
    try {
      if (!p.waitFor(h.timeout().toMillis(), TimeUnit.MILLISECONDS)) {
        // the descendants are listed first (once the parent is dead they are re-parented and no
        // longer found) but killed after it: killed first, a shell would go on to its next command
        var children = p.descendants().toList();
        p.destroyForcibly();
        children.forEach(ProcessHandle::destroyForcibly);
        p.waitFor();
        timedOut = type + " hook " + h.path() + " for " + fs + " timed out after " + h.timeout();
      }
      // the output ends when the last process holding it ends: a background child of the hook
      // (`sleep 600 &`) keeps it open, and the job must not wait for that
      if (!out.join(HOOK_OUTPUT_GRACE) || !err.join(HOOK_OUTPUT_GRACE)) {
        var holders = holders(session, pipes);
        log.warn(
            "{} hook {} for {} ended, but processes {} still hold its output open {} later:"
                + " killing them",
            type,
            h.path(),
            fs,
            holders.stream().map(ProcessHandle::pid).toList(),
            HOOK_OUTPUT_GRACE);
        holders.forEach(ProcessHandle::destroyForcibly);
        if (!out.join(HOOK_OUTPUT_GRACE) || !err.join(HOOK_OUTPUT_GRACE)) {
          log.warn("{} hook {} for {}: output still open, no longer read", type, h.path(), fs);
          closeQuietly(p.getInputStream());
          closeQuietly(p.getErrorStream());
        }
      }
    } finally {
      p.destroyForcibly();
    }
    if (timedOut != null) {
      return timedOut;
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

  /**
   * Logs the stream (stdout at INFO, stderr at WARN), keeping stderr's start in {@code keep}. A
   * line longer than {@link #MAX_HOOK_LINE} bytes is cut there and marked; the rest of it is read
   * and dropped, so a hook writing without newlines costs no memory.
   */
  private static void drain(
      InputStream in, CommandHook h, DatasetPath fs, @Nullable StringBuilder keep) {
    int logged = 0;
    var line = new ByteArrayOutputStream(256);
    long dropped = 0;
    var buf = new byte[8192];
    try (in) {
      int n;
      while ((n = in.read(buf)) >= 0) {
        for (int i = 0; i < n; i++) {
          byte b = buf[i];
          if (b == '\n') {
            logged = emit(line, dropped, logged, h, fs, keep);
            line.reset();
            dropped = 0;
          } else if (line.size() < MAX_HOOK_LINE) {
            line.write(b);
          } else {
            dropped++;
          }
        }
      }
      if (line.size() > 0 || dropped > 0) {
        emit(line, dropped, logged, h, fs, keep);
      }
    } catch (IOException e) {
      log.debug("hook {} {}: output closed: {}", h.path(), fs, e.getMessage());
    }
  }

  /** Logs one output line (see {@link #drain}); returns the characters logged so far. */
  private static int emit(
      ByteArrayOutputStream bytes,
      long dropped,
      int logged,
      CommandHook h,
      DatasetPath fs,
      @Nullable StringBuilder keep) {
    if (logged >= MAX_HOOK_LOG) {
      return logged; // keep draining so the hook never blocks on a full pipe
    }
    var line = bytes.toString(StandardCharsets.UTF_8);
    if (line.endsWith("\r")) {
      line = line.substring(0, line.length() - 1);
    }
    if (dropped > 0) {
      line += " [line truncated: " + dropped + " more bytes]";
    }
    if (keep != null) {
      synchronized (keep) {
        keep.append(line).append('\n');
      }
      log.warn("hook {} {}: {}", h.path(), fs, line);
    } else {
      log.info("hook {} {}: {}", h.path(), fs, line);
    }
    return logged + line.length() + 1;
  }

  /** The pipes ({@code pipe:[inode]}) that are the stdout and stderr of process {@code pid}. */
  private static Set<String> outputPipes(long pid) {
    var pipes = new HashSet<String>();
    for (var fd : List.of("1", "2")) {
      try {
        var target = Files.readSymbolicLink(Path.of("/proc", Long.toString(pid), "fd", fd));
        if (target.toString().startsWith("pipe:")) {
          pipes.add(target.toString());
        }
      } catch (IOException | UnsupportedOperationException e) {
        // already gone (a hook that ended at once), or no /proc: nothing to find later
        log.debug("output pipes of hook process {}: {}", pid, e.toString());
      }
    }
    return pipes;
  }

  /**
   * The live processes, other than this one, in session {@code session} (-1: none) or that have one
   * of {@code pipes} open: what a hook left holding its output.
   */
  private static List<ProcessHandle> holders(long session, Set<String> pipes) {
    if (session < 0 && pipes.isEmpty()) {
      return List.of();
    }
    long self = ProcessHandle.current().pid();
    var out = new ArrayList<ProcessHandle>();
    try (var procs = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
      for (var proc : procs) {
        long pid = Long.parseLong(proc.getFileName().toString());
        if (pid != self
            && ((session >= 0 && sessionOf(proc) == session)
                || (!pipes.isEmpty() && holdsAny(proc.resolve("fd"), pipes)))) {
          ProcessHandle.of(pid).ifPresent(out::add);
        }
      }
    } catch (IOException | RuntimeException e) {
      log.debug("listing the holders of a hook's output: {}", e.toString());
    }
    return out;
  }

  /** The session id of the process {@code /proc/<pid>} (-1 if it is gone). */
  private static long sessionOf(Path proc) {
    try {
      var stat = Files.readString(proc.resolve("stat"));
      // pid (comm) state ppid pgrp session ...: comm may hold anything, so after its last ')'
      var fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ", 5);
      return Long.parseLong(fields[3]);
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  private static boolean holdsAny(Path fdDir, Set<String> pipes) {
    try (var fds = Files.newDirectoryStream(fdDir)) {
      for (var fd : fds) {
        try {
          if (pipes.contains(Files.readSymbolicLink(fd).toString())) {
            return true;
          }
        } catch (IOException e) {
          // closed meanwhile
        }
      }
    } catch (IOException e) {
      // gone meanwhile, or not ours to read
    }
    return false;
  }

  private static void closeQuietly(InputStream in) {
    try {
      in.close();
    } catch (IOException e) {
      log.debug("closing a hook's output: {}", e.toString());
    }
  }

  static boolean hasPrefix(FilesystemVersion v, String prefix) {
    return v.isSnapshot() && v.name().startsWith(prefix);
  }
}
