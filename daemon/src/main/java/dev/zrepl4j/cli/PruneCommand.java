package dev.zrepl4j.cli;

import dev.zrepl4j.daemon.Control;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code zrepl4j prune --job J --dry-run}: what the job's pruning would destroy now, on each side,
 * and which rule keeps each survivor (asks the running daemon, which reaches both sides).
 */
@Command(
    name = "prune",
    description = "Show what a job's pruning would destroy now and why the rest is kept.")
final class PruneCommand implements Callable<Integer> {
  @Mixin ConfigOption config = new ConfigOption();

  @Option(names = "--job", required = true, paramLabel = "JOB")
  String job = "";

  @Option(
      names = "--dry-run",
      required = true,
      description = "Required: only list, destroy nothing.")
  boolean dryRun;

  @Override
  public Integer call() throws Exception {
    var r =
        ControlClient.call(
            config.load(), "prune", new Control.PruneRequest(job, dryRun), Control.Lines.class);
    r.lines().forEach(System.out::println);
    return 0;
  }
}
