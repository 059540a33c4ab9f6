package dev.zrepl4j.cli;

import dev.zrepl4j.config.Job;
import dev.zrepl4j.replication.filter.DatasetFilter;
import dev.zrepl4j.zfs.DatasetPath;
import dev.zrepl4j.zfs.ResumeToken;
import dev.zrepl4j.zfs.Zfs;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code zrepl4j test filesystems|placeholder|decoderesumetoken}. */
@Command(
    name = "test",
    description = "Try a job's filter, show placeholders, decode a resume token.",
    subcommands = {
      TestCommand.Filesystems.class,
      TestCommand.Placeholder.class,
      TestCommand.DecodeResumeToken.class
    })
final class TestCommand implements Callable<Integer> {
  @Override
  public Integer call() {
    System.err.println("usage: zrepl4j test filesystems|placeholder|decoderesumetoken ...");
    return 2;
  }

  /** Which datasets: one, or all. */
  static final class Which {
    @Option(names = "--input", paramLabel = "DS", description = "One dataset.")
    @Nullable String input;

    @Option(names = "--all", description = "Every filesystem of every pool.")
    boolean all;
  }

  @Command(
      name = "filesystems",
      description = "Which filesystems the job's 'filesystems' filter selects (+) or not (-).")
  static final class Filesystems implements Callable<Integer> {
    @Mixin ConfigOption config = new ConfigOption();

    @Option(names = "--job", required = true, paramLabel = "JOB")
    String job = "";

    @ArgGroup(multiplicity = "1")
    Which which = new Which();

    @Override
    public Integer call() throws Exception {
      var cfg = config.load();
      var j = cfg.job(job);
      if (j.isEmpty()) {
        System.err.println("no job '" + job + "' in " + cfg.file());
        return 1;
      }
      DatasetFilter filter =
          switch (j.get()) {
            case Job.Push p -> p.filesystems();
            case Job.Source s -> s.filesystems();
            case Job.Snap s -> s.filesystems();
            default -> null;
          };
      if (filter == null) {
        System.err.println(
            "job '" + job + "' is a " + j.get().type() + " job: it has no filesystems filter");
        return 1;
      }
      List<DatasetPath> candidates = new ArrayList<>();
      if (which.input != null) {
        candidates.add(DatasetPath.parse(which.input));
      } else {
        candidates.addAll(HostZfs.open().listFilesystems(List.of(), d -> true));
      }
      int n = 0;
      for (var d : candidates) {
        boolean in = filter.test(d);
        n += in ? 1 : 0;
        System.out.println((in ? "+\t" : "-\t") + d);
      }
      System.out.println("# " + n + " of " + candidates.size() + " selected by job " + job);
      return 0;
    }
  }

  @Command(
      name = "placeholder",
      description = "Whether datasets are zrepl placeholders (zrepl:placeholder).")
  static final class Placeholder implements Callable<Integer> {
    @Option(names = "--dataset", paramLabel = "DS", description = "One dataset.")
    @Nullable String dataset;

    @Option(names = "--all", description = "Every filesystem of every pool.")
    boolean all;

    @Override
    public Integer call() throws Exception {
      if ((dataset == null) == !all) {
        System.err.println("give exactly one of --dataset DS and --all");
        return 2;
      }
      var zfs = HostZfs.open();
      List<DatasetPath> ds =
          dataset != null
              ? List.of(DatasetPath.parse(dataset))
              : zfs.listFilesystems(List.of(), d -> true);
      var names = ds.stream().map(DatasetPath::toString).toList();
      var props = zfs.getProperties(names, List.of(Zfs.PLACEHOLDER_PROPERTY));
      System.out.println("IS_PLACEHOLDER\tDATASET\tzrepl:placeholder");
      for (var d : ds) {
        var p = props.get(d.toString());
        var prop = p == null ? null : p.get(Zfs.PLACEHOLDER_PROPERTY);
        var v = prop == null ? "-" : prop.value();
        boolean placeholder = prop != null && Zfs.isPlaceholder(d, prop);
        System.out.println((placeholder ? "yes" : "no") + "\t" + d + "\t" + v);
      }
      return 0;
    }
  }

  @Command(name = "decoderesumetoken", description = "Decode a zfs receive_resume_token.")
  static final class DecodeResumeToken implements Callable<Integer> {
    @Option(names = "--token", required = true, paramLabel = "TOKEN")
    String token = "";

    @Override
    public Integer call() {
      try {
        System.out.println(ResumeToken.decode(token.strip()));
        return 0;
      } catch (IllegalArgumentException e) {
        System.err.println("not a valid resume token: " + e.getMessage());
        return 1;
      }
    }
  }
}
