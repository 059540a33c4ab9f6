package dev.zrepl4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.zrepl4j.cli.ZfsAbstractions.Abstraction;
import dev.zrepl4j.cli.ZfsAbstractions.Type;
import dev.zrepl4j.config.ConfigException;
import dev.zrepl4j.config.ConfigParser;
import dev.zrepl4j.config.Job;
import dev.zrepl4j.replication.ZreplNames;
import dev.zrepl4j.replication.filter.DatasetFilter;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.FilesystemVersion;
import dev.zrepl4j.zfs.FilesystemVersion.FullName;
import dev.zrepl4j.zfs.Zfs;
import dev.zrepl4j.zfs.ZfsException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code zrepl4j zfs-abstraction list|release-all|release-stale|create step}, as zrepl's: the holds
 * and bookmarks zrepl and zrepl4j put on ZFS, recognized by their exact names (anything else is
 * never listed nor touched). Runs {@code zfs} on this host, needs no daemon.
 */
@Command(
    name = "zfs-abstraction",
    description = "Manage the holds and bookmarks that zrepl4j (and zrepl) build on top of ZFS.",
    subcommands = {
      ZfsAbstractionCommand.ListCommand.class,
      ZfsAbstractionCommand.ReleaseAllCommand.class,
      ZfsAbstractionCommand.ReleaseStaleCommand.class,
      ZfsAbstractionCommand.CreateCommand.class
    })
final class ZfsAbstractionCommand implements Callable<Integer> {
  @Override
  public Integer call() {
    throw new IllegalArgumentException("use list, release-all, release-stale or create step");
  }

  /** zrepl's filter flags. */
  static final class Filter {
    @Option(
        names = "--fs",
        paramLabel = "FILTER",
        description =
            "Only this filesystem, or those a comma-separated list of <dataset-pattern>:<ok|!>"
                + " selects (default: all filesystems).")
    @Nullable String fs;

    @Option(names = "--job", paramLabel = "JOB", description = "Only this job's (default: any).")
    @Nullable String job;

    @Option(
        names = "--type",
        paramLabel = "TYPES",
        split = ",",
        description =
            "Only these types (comma-separated; default all): step-bookmark, step-hold,"
                + " last-received-hold, replication-cursor-bookmark-v1,"
                + " replication-cursor-bookmark-v2, tentative-replication-cursor-bookmark-v2,"
                + " replication-cursor-hold (zrepl4j's cursor on ZFS without bookmarks).")
    List<String> types = new ArrayList<>();

    @Option(
        names = {"-p", "--concurrency"},
        paramLabel = "N",
        description = "At most N `zfs holds` commands at once (one per filesystem; default 1).")
    int concurrency = 1;

    ZfsAbstractions.Query query() {
      var set = EnumSet.noneOf(Type.class);
      for (var t : types) {
        set.add(Type.parse(t.strip()));
      }
      return new ZfsAbstractions.Query(set, Optional.ofNullable(job), filesystems(), concurrency);
    }

    private Predicate<DatasetPath> filesystems() {
      if (fs == null) {
        return d -> true;
      }
      if (!fs.contains(":")) {
        var only = DatasetPath.parse(fs);
        return d -> d.equals(only);
      }
      var rules = new LinkedHashMap<String, Boolean>();
      for (var part : fs.split(",")) {
        int i = part.lastIndexOf(':');
        var value = part.substring(i + 1);
        if (i < 1 || !(value.equals("ok") || value.equals("!"))) {
          throw new IllegalArgumentException(
              "--fs: expecting comma-separated <dataset-pattern>:<ok|!> pairs, got '" + part + "'");
        }
        rules.put(part.substring(0, i), value.equals("ok"));
      }
      return DatasetFilter.of(rules);
    }
  }

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /** Where ZFS cannot list hold tags: what is held, and which tags of ours may be among them. */
  static void reportUnlisted(List<FilesystemVersion> held, List<String> jobs) {
    if (held.isEmpty()) {
      return;
    }
    System.err.println(
        "cannot list hold tags: this zfs has no `zfs holds` (zfs-fuse); "
            + held.size()
            + " snapshots carry holds whose tags are unknown:");
    for (var v : held) {
      System.err.println("  " + v.fullName() + " (" + v.userRefs() + " holds)");
    }
    if (jobs.isEmpty()) {
      System.err.println(
          "zrepl4j's tags are zrepl_last_received_J_<job>, zrepl_STEP_J_<job>,"
              + " zrepl_CURSOR_J_<job>: release-all --job JOB tries to release them");
    } else {
      for (var j : jobs) {
        System.err.println(
            "  job "
                + j
                + ": "
                + ZreplNames.lastReceivedHoldTag(j)
                + ", "
                + ZreplNames.stepHoldTag(j)
                + ", "
                + ZreplNames.cursorHoldTag(j)
                + " (release-all --job "
                + j
                + " tries them)");
      }
    }
  }

  /** The config's job names, if there is a config (none needed otherwise). */
  static List<String> configJobs(ConfigOption config) {
    try {
      var path = config.given().or(ConfigParser::defaultPath);
      if (path.isEmpty()) {
        return List.of();
      }
      return ConfigParser.parse(path.get(), false).jobs().stream().map(Job::name).toList();
    } catch (ConfigException e) {
      System.err.println("(the config's job names are unknown: " + e.getMessage() + ")");
      return List.of();
    }
  }

  @Command(name = "list", description = "List the holds and bookmarks of zrepl4j and zrepl.")
  static final class ListCommand implements Callable<Integer> {
    @Mixin Filter filter = new Filter();
    @Mixin ConfigOption config = new ConfigOption();

    @Option(names = "--json", description = "Emit JSON.")
    boolean json;

    @Override
    public Integer call() throws Exception {
      var q = filter.query();
      var zfs = HostZfs.open();
      var l = ZfsAbstractions.list(zfs, q);
      for (var a : l.found()) {
        System.out.println(json ? JSON.writeValueAsString(a.json()) + "\n" : a.toString());
      }
      reportUnlisted(
          l.heldUnlisted(), filter.job != null ? List.of(filter.job) : configJobs(config));
      return 0;
    }
  }

  /** release-all and release-stale. */
  abstract static class Release implements Callable<Integer> {
    @Mixin Filter filter = new Filter();
    @Mixin ConfigOption config = new ConfigOption();

    @Option(names = "--json", description = "Emit JSON instead of text.")
    boolean json;

    @Option(names = "--dry-run", description = "Only print what would be released.")
    boolean dryRun;

    abstract List<Abstraction> choose(List<Abstraction> listed);

    /** Where hold tags cannot be listed: what to do with the held snapshots (0: done). */
    abstract int unlisted(Zfs zfs, ZfsAbstractions.Query q, List<FilesystemVersion> held)
        throws IOException;

    @Override
    public Integer call() throws Exception {
      var q = filter.query();
      var zfs = HostZfs.open();
      var l = ZfsAbstractions.list(zfs, q);
      var go = choose(l.found());
      int status = 0;
      if (dryRun) {
        if (json) {
          System.out.println(JSON.writeValueAsString(go.stream().map(Abstraction::json).toList()));
        } else {
          go.forEach(a -> System.out.println("would destroy " + a));
        }
      } else {
        // what will go, before it goes
        go.forEach(a -> System.out.println("will destroy " + a));
        for (var a : go) {
          String error = null;
          try {
            a.destroy(zfs);
          } catch (IOException e) {
            error = e.getMessage();
            status = 1;
          }
          if (json) {
            var m = new LinkedHashMap<String, Object>();
            m.put("Abstraction", a.json());
            m.put("DestroyErr", error == null ? "" : error);
            System.out.println(JSON.writeValueAsString(m));
          } else {
            System.out.println(
                "destroy " + a + " ..." + (error == null ? " OK" : " failed:\n" + error));
          }
        }
      }
      if (!l.heldUnlisted().isEmpty()) {
        status = Math.max(status, unlisted(zfs, q, l.heldUnlisted()));
      }
      if (status != 0) {
        System.err.println("there were errors in destroying the abstractions");
      }
      return status;
    }
  }

  @Command(
      name = "release-all",
      description =
          "(DANGEROUS) release ALL holds and bookmarks of zrepl4j and zrepl that the filters"
              + " select (e.g. to uninstall, or to free a filesystem of them).")
  static final class ReleaseAllCommand extends Release {
    @Override
    List<Abstraction> choose(List<Abstraction> listed) {
      return listed;
    }

    /**
     * zfs-fuse: tries to release the job's tags of the requested hold types on each held snapshot;
     * a tag that is not there is no error (ZFS cannot say which are).
     */
    @Override
    int unlisted(Zfs zfs, ZfsAbstractions.Query q, List<FilesystemVersion> held)
        throws IOException {
      if (q.job().isEmpty()) {
        reportUnlisted(held, configJobs(config));
        System.err.println("give --job JOB to release that job's tags from these snapshots");
        return 1;
      }
      var job = q.job().get();
      var tags = new LinkedHashSet<String>();
      for (var t : q.types()) {
        if (t.hold) {
          tags.add(t.tag(job));
        }
      }
      int status = 0;
      for (var v : held) {
        for (var tag : tags) {
          var line = "\"" + tag + "\" on " + v.fullName();
          if (dryRun) {
            System.out.println(
                "would try to release "
                    + line
                    + " (this zfs cannot list hold tags: it may not be there)");
            continue;
          }
          System.out.print("try to release " + line + " ...");
          try {
            zfs.release(tag, List.of(new FullName(v.filesystem(), v.type(), v.name())));
            System.out.println(" OK");
          } catch (ZfsException e) {
            var err = e.stderr().toLowerCase(Locale.ROOT);
            if (err.contains("no such tag")) {
              System.out.println(" not there");
            } else {
              System.out.println(" failed:\n" + e.getMessage());
              status = 1;
            }
          }
        }
      }
      return status;
    }
  }

  @Command(
      name = "release-stale",
      description =
          "release stale holds and bookmarks of zrepl4j and zrepl (zrepl's rule, per filesystem"
              + " and job: all but the newest cursor and last-received hold; steps at or before"
              + " the newest cursor, or all but the newest step when there is no cursor).")
  static final class ReleaseStaleCommand extends Release {
    @Override
    List<Abstraction> choose(List<Abstraction> listed) {
      return ZfsAbstractions.stale(listed);
    }

    @Override
    int unlisted(Zfs zfs, ZfsAbstractions.Query q, List<FilesystemVersion> held) {
      reportUnlisted(held, q.job().map(List::of).orElseGet(() -> configJobs(config)));
      System.err.println(
          "cannot tell stale holds here (their places are unknown): release-all --job JOB --fs FS"
              + " releases a job's tags on a filesystem");
      return 1;
    }
  }

  @Command(
      name = "create",
      description = "Create zrepl abstractions by hand.",
      subcommands = {ZfsAbstractionCommand.CreateStepCommand.class})
  static final class CreateCommand implements Callable<Integer> {
    @Override
    public Integer call() {
      throw new IllegalArgumentException("use create step");
    }
  }

  @Command(
      name = "step",
      description = "Create a step hold (on a snapshot) or a step bookmark (of a bookmark).")
  static final class CreateStepCommand implements Callable<Integer> {
    @Option(
        names = {"-t", "--target"},
        required = true,
        paramLabel = "FS@SNAP|FS#BOOKMARK",
        description = "The snapshot to hold or the bookmark to step-bookmark.")
    String target = "";

    @Option(
        names = {"-j", "--jobid"},
        required = true,
        paramLabel = "JOB",
        description = "The job for which the hold or bookmark is made.")
    String job = "";

    @Override
    public Integer call() throws Exception {
      ZreplNames.jobProblem(job)
          .ifPresent(
              p -> {
                throw new IllegalArgumentException("--jobid '" + job + "': " + p);
              });
      FullName name;
      try {
        name = FilesystemVersion.parseFullName(target);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "--target '" + target + "': not fs@snapshot nor fs#bookmark: " + e.getMessage(), e);
      }
      var zfs = HostZfs.open();
      var v =
          zfs
              .listVersions(List.of(name.filesystem()))
              .getOrDefault(name.filesystem(), List.of())
              .stream()
              .filter(x -> x.type() == name.type() && x.name().equals(name.name()))
              .findFirst()
              .orElseThrow(
                  () ->
                      new IllegalArgumentException(
                          "--target " + target + ": no such snapshot or bookmark"));
      Abstraction a;
      if (v.isSnapshot()) {
        var tag = ZreplNames.stepHoldTag(job);
        zfs.hold(tag, List.of(name));
        a = new Abstraction(Type.STEP_HOLD, v, job, tag);
      } else {
        throw new IllegalArgumentException(
            "--target "
                + target
                + ": step bookmarks of bookmarks: not supported yet (hold a snapshot)");
      }
      System.out.println(a);
      return 0;
    }
  }
}
